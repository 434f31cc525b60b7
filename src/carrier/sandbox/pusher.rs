//! The sandbox's pushes (SPEC §6), signed, with the configured faults: dropped, duplicated,
//! delayed, reordered. A push that fails is only logged, as a real carrier would do: the
//! gateway's polling has to cover it.

use super::{Counters, Faults, bump};
use crate::carrier::push::{PushRecord, PushSigner, SendDateFormat};
use anyhow::Context;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// With `push_reorder`, a report is held until the next one is sent before it; if no other
/// report comes within this time, it is sent anyway.
const REORDER_HOLD: Duration = Duration::from_secs(1);

/// One report and the faults drawn for it.
struct Item {
    data: PushRecord,
    delay: Duration,
    /// A second delivery, after its own delay.
    duplicate: Option<Duration>,
    reorder: bool,
}

pub(super) struct Queue {
    tx: mpsc::UnboundedSender<Item>,
    counters: Arc<Counters>,
}

impl Queue {
    /// Queues a report, drawing its faults now.
    pub(super) fn send(&self, data: PushRecord, faults: &Faults) {
        let mut rng = rand::rng();
        if faults.push_drop_rate.roll(&mut rng) {
            bump(&self.counters.pushes_dropped);
            tracing::debug!(item_code = %data.item_code, code = data.status, "sandbox push dropped");
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
        // The dispatcher is gone only when the sandbox stops.
        let _ = self.tx.send(Item {
            data,
            delay: first,
            duplicate,
            reorder: faults.push_reorder,
        });
    }
}

/// Starts the dispatcher that posts to `url`.
pub(super) fn spawn(
    url: url::Url,
    signer: PushSigner,
    counters: Arc<Counters>,
) -> anyhow::Result<(Queue, JoinHandle<()>)> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent("bcci-gateway-sandbox-carrier")
        .build()
        .context("carrier sandbox: push client")?;
    let (tx, rx) = mpsc::unbounded_channel();
    let pusher = Arc::new(Pusher {
        client,
        url,
        signer,
        counters,
    });
    Ok((
        Queue {
            tx,
            counters: pusher.counters.clone(),
        },
        tokio::spawn(dispatch(pusher, rx)),
    ))
}

struct Pusher {
    client: reqwest::Client,
    url: url::Url,
    signer: PushSigner,
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
        let Some(item) = next else { break };
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
            pusher.post(&item.data).await;
            if let Some(delay) = item.duplicate {
                bump(&pusher.counters.pushes_duplicated);
                tokio::time::sleep(delay).await;
                pusher.post(&item.data).await;
            }
        }
    });
}

impl Pusher {
    async fn post(&self, data: &PushRecord) {
        // Signed when sent, as a late push from a real carrier would carry a fresh SendDate.
        let envelope = self.signer.envelope(
            std::slice::from_ref(data),
            chrono::Utc::now(),
            SendDateFormat::Rfc3339,
        );
        let outcome = self
            .client
            .post(self.url.clone())
            .json(&envelope)
            .send()
            .await;
        match outcome {
            Ok(r) if r.status().is_success() => {
                bump(&self.counters.pushes_sent);
                tracing::debug!(item_code = %data.item_code, code = data.status, "sandbox push delivered");
            }
            Ok(r) => {
                bump(&self.counters.pushes_failed);
                tracing::warn!(item_code = %data.item_code, code = data.status, status = r.status().as_u16(), "sandbox push refused");
            }
            Err(e) => {
                bump(&self.counters.pushes_failed);
                tracing::warn!(item_code = %data.item_code, code = data.status, error = %e, "sandbox push failed");
            }
        }
    }
}
