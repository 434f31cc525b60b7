//! The sandbox's pushes (SPEC §6): the envelope `{"data":[record…],"sendDate","signature"}`
//! built with the carrier side of `carrier::push`, authenticated over the first record as
//! `push_mode` says (signed, or encrypted with the gateway's public key), `sendDate` in the
//! configured format, and the configured faults:
//! dropped, duplicated, delayed, reordered, several records in one push. A push that fails
//! is only logged, as a real carrier would do: the gateway's polling has to cover it.

use super::journey::Change;
use super::{Counters, Faults, PushDateFormat, PushMode, bump};
use crate::carrier::push::{PushEncryptor, PushEnvelope, PushRecord, PushSigner, SendDateFormat};
use crate::carrier::vntime;
use anyhow::Context;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// With `push_reorder`, a report is held until the next one is sent before it; if no other
/// report comes within this time, it is sent anyway.
const REORDER_HOLD: Duration = Duration::from_secs(1);

/// Most records one push carries.
const MOST_RECORDS: usize = 20;

/// One report and the faults drawn for it.
struct Item {
    change: Change,
    /// Reports of other changes that ride along after this one (`push_batch`).
    also: Vec<Change>,
    delay: Duration,
    /// A second delivery, after its own delay.
    duplicate: Option<Duration>,
    reorder: bool,
    batch: bool,
    mode: PushMode,
    date_format: SendDateFormat,
}

/// The keys the sandbox authenticates pushes with: its signing key, and the gateway's public
/// key for encryption mode (`None` when none is configured).
#[derive(Debug, Clone)]
pub(super) struct PushKeys {
    signer: PushSigner,
    encryptor: Option<PushEncryptor>,
}

impl PushKeys {
    pub(super) fn from_pem(
        private_pem: &str,
        gateway_public_pem: Option<&str>,
    ) -> anyhow::Result<Self> {
        Ok(PushKeys {
            signer: PushSigner::from_pem(private_pem)
                .context("carrier.sandbox.push_signing_key")?,
            encryptor: gateway_public_pem
                .map(PushEncryptor::from_pem)
                .transpose()
                .context("carrier.sandbox.push_encryption_key")?,
        })
    }

    pub(super) fn can_encrypt(&self) -> bool {
        self.encryptor.is_some()
    }
}

pub(super) struct Queue {
    tx: mpsc::UnboundedSender<Item>,
    counters: Arc<Counters>,
    can_encrypt: bool,
}

impl Queue {
    /// Queues a report, drawing its faults now.
    pub(super) fn send(&self, change: Change, faults: &Faults) {
        let mut rng = rand::rng();
        if faults.push_drop_rate.roll(&mut rng) {
            bump(&self.counters.pushes_dropped);
            tracing::debug!(item_code = %change.item_code, code = change.status, "sandbox push dropped");
            return;
        }
        let mut delay = || {
            if faults.push_delay.is_zero() {
                Duration::ZERO
            } else {
                rng.random_range(Duration::ZERO..=faults.push_delay)
            }
        };
        let (first, second) = (delay(), delay());
        let duplicate = faults.push_duplicate_rate.roll(&mut rng).then_some(second);
        let date_format = match faults.push_date_format {
            PushDateFormat::Rfc3339 => SendDateFormat::Rfc3339,
            PushDateFormat::Vietnam => SendDateFormat::Vietnam,
            PushDateFormat::Random if rng.random_bool(0.5) => SendDateFormat::Vietnam,
            PushDateFormat::Random => SendDateFormat::Rfc3339,
        };
        // The dispatcher is gone only when the sandbox stops.
        let _ = self.tx.send(Item {
            change,
            also: Vec::new(),
            delay: first,
            duplicate,
            reorder: faults.push_reorder,
            batch: faults.push_batch.roll(&mut rng),
            mode: faults.push_mode,
            date_format,
        });
    }

    pub(super) fn can_encrypt(&self) -> bool {
        self.can_encrypt
    }
}

/// Starts the dispatcher that posts to `url`.
pub(super) fn spawn(
    url: url::Url,
    keys: PushKeys,
    sender_code: String,
    counters: Arc<Counters>,
) -> anyhow::Result<(Queue, JoinHandle<()>)> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent("bcci-gateway-sandbox-carrier")
        .build()
        .context("carrier sandbox: push client")?;
    let (tx, rx) = mpsc::unbounded_channel();
    let can_encrypt = keys.can_encrypt();
    let pusher = Arc::new(Pusher {
        client,
        url,
        keys,
        sender_code,
        counters,
    });
    Ok((
        Queue {
            tx,
            counters: pusher.counters.clone(),
            can_encrypt,
        },
        tokio::spawn(dispatch(pusher, rx)),
    ))
}

struct Pusher {
    client: reqwest::Client,
    url: url::Url,
    keys: PushKeys,
    sender_code: String,
    counters: Arc<Counters>,
}

async fn dispatch(pusher: Arc<Pusher>, mut rx: mpsc::UnboundedReceiver<Item>) {
    let mut held: Option<Item> = None;
    loop {
        let next = if held.is_some() {
            tokio::select! {
                item = rx.recv() => item,
                () = tokio::time::sleep(REORDER_HOLD) => {
                    deliver(pusher.clone(), held.take().into_iter().collect());
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(mut item) = next else { break };
        if item.batch {
            // The reports already waiting ride along in this push.
            while item.also.len() + 1 < MOST_RECORDS {
                match rx.try_recv() {
                    Ok(more) => item.also.push(more.change),
                    Err(_) => break,
                }
            }
        }
        let batch = match (item.reorder, held.take()) {
            // The newer report goes first.
            (true, Some(older)) => vec![item, older],
            (true, None) => {
                held = Some(item);
                continue;
            }
            (false, older) => older.into_iter().chain([item]).collect(),
        };
        deliver(pusher.clone(), batch);
    }
}

/// Sends `batch` in order, each after its delay, in the background.
fn deliver(pusher: Arc<Pusher>, batch: Vec<Item>) {
    tokio::spawn(async move {
        for item in batch {
            tokio::time::sleep(item.delay).await;
            pusher.post(&item).await;
            if let Some(delay) = item.duplicate {
                bump(&pusher.counters.pushes_duplicated);
                tokio::time::sleep(delay).await;
                pusher.post(&item).await;
            }
        }
    });
}

/// A record of the push (camelCase, SPEC §6).
pub(super) fn record(c: &Change, sender_code: &str) -> PushRecord {
    PushRecord {
        original_id: Some(c.original_id.clone()),
        sale_order_code: Some(c.sale_order_code.clone()),
        status_name: Some(c.status_name.clone()),
        total_fee: Some(c.total_fee),
        cod_amount: Some(c.cod_amount),
        sender_code: Some(sender_code.to_owned()),
        status_date: Some(vntime::format_date_time(c.at)),
        ..PushRecord::new(c.item_code.clone(), c.status)
    }
}

/// The push body for `changes` (the first one authenticated), sent at `now`.
pub(super) fn envelope(
    keys: &PushKeys,
    mode: PushMode,
    date_format: SendDateFormat,
    changes: &[&Change],
    sender_code: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PushEnvelope, String> {
    let records: Vec<PushRecord> = changes.iter().map(|c| record(c, sender_code)).collect();
    match mode {
        PushMode::Signature => Ok(keys.signer.envelope(&records, now, date_format)),
        PushMode::Encryption => keys
            .encryptor
            .as_ref()
            .map(|e| e.envelope(&records, now, date_format))
            .ok_or_else(|| "encryption mode needs the gateway's public key".to_owned()),
    }
}

impl Pusher {
    async fn post(&self, item: &Item) {
        let c = &item.change;
        let changes: Vec<&Change> = [c].into_iter().chain(&item.also).collect();
        // Authenticated when sent, as a late push from a real carrier carries a fresh sendDate.
        let body = match envelope(
            &self.keys,
            item.mode,
            item.date_format,
            &changes,
            &self.sender_code,
            chrono::Utc::now(),
        ) {
            Ok(body) => body,
            Err(e) => {
                bump(&self.counters.pushes_failed);
                tracing::warn!(item_code = %c.item_code, error = %e, "sandbox push not authenticated");
                return;
            }
        };
        if changes.len() > 1 {
            bump(&self.counters.pushes_batched);
        }
        let outcome = self.client.post(self.url.clone()).json(&body).send().await;
        let records = changes.len();
        match outcome {
            Ok(r) if r.status().is_success() => {
                bump(&self.counters.pushes_sent);
                tracing::debug!(item_code = %c.item_code, code = c.status, records, "sandbox push delivered");
            }
            Ok(r) => {
                bump(&self.counters.pushes_failed);
                tracing::warn!(item_code = %c.item_code, code = c.status, records, status = r.status().as_u16(), "sandbox push refused");
            }
            Err(e) => {
                bump(&self.counters.pushes_failed);
                tracing::warn!(item_code = %c.item_code, code = c.status, records, error = %e, "sandbox push failed");
            }
        }
    }
}
