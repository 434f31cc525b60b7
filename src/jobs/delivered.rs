//! Delivered callbacks recorded together.
//!
//! Recording one delivered callback alone is a transaction of its own: BEGIN, the callback's
//! new state, the job done, its attempt row, COMMIT. Callbacks are the most frequent job (one
//! per status change), and under load those round trips and commits, not the rows, were
//! much of the database's work. So a job whose callback was delivered hands its record here;
//! a writer takes every record waiting and commits them as one batch
//! (`ledger::callbacks::record_delivered`), and each job finishes once its batch has
//! committed. As with the creates' group commit (`api::group_commit`), nobody waits for a
//! batch to fill: a record that finds the writer free is written at once.
//!
//! Nothing changes for a crash: a delivery whose record was not committed is delivered again
//! (at least once, SPEC §7), exactly as when its own transaction failed.

use crate::ledger::outbox::Attempt;
use crate::ledger::{Pool, callbacks};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use uuid::Uuid;

/// At most this many callbacks in one transaction.
const MAX_BATCH: usize = 128;

/// What became of a record.
#[derive(Debug)]
pub enum Recorded {
    Done,
    /// The job was taken from this worker (its lease ran out): its new owner records it.
    NotOurs,
}

pub struct DeliveredBatches {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    queue: Mutex<VecDeque<Pending>>,
    writer: Arc<Semaphore>,
    /// Writers run on the runtime that built this, which lives as long as the process.
    runtime: tokio::runtime::Handle,
}

struct Pending {
    callback: Uuid,
    attempt: Attempt,
    reply: oneshot::Sender<Result<Recorded, String>>,
}

impl DeliveredBatches {
    /// One writer (one connection of `pool` while it writes). Must be called inside a Tokio
    /// runtime.
    pub fn new(pool: Pool) -> DeliveredBatches {
        DeliveredBatches {
            inner: Arc::new(Inner {
                pool,
                queue: Mutex::new(VecDeque::new()),
                writer: Arc::new(Semaphore::new(1)),
                runtime: tokio::runtime::Handle::current(),
            }),
        }
    }

    /// Records that `callback` was delivered by the job attempt `attempt` (which names the job,
    /// its worker and claim), and answers once that has committed. An error means nothing of
    /// it was written (the job stays claimed and runs again).
    pub async fn record(&self, callback: Uuid, attempt: Attempt) -> anyhow::Result<Recorded> {
        let (reply, answer) = oneshot::channel();
        self.inner.queue().push_back(Pending {
            callback,
            attempt,
            reply,
        });
        if let Ok(permit) = self.inner.writer.clone().try_acquire_owned() {
            let inner = self.inner.clone();
            self.inner.runtime.spawn(inner.write(permit));
        }
        match answer.await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => anyhow::bail!("recording delivered callbacks: {e}"),
            // The writer panicked: nothing of its batch was committed.
            Err(_) => anyhow::bail!("recording delivered callbacks: the writer stopped"),
        }
    }
}

impl Inner {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Pending>> {
        // Only pushed to and drained: a panic elsewhere cannot leave it half-changed.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes batches while records are queued, then gives its permit back.
    async fn write(self: Arc<Self>, mut permit: OwnedSemaphorePermit) {
        loop {
            let batch: Vec<Pending> = {
                let mut queue = self.queue();
                let n = queue.len().min(MAX_BATCH);
                queue.drain(..n).collect()
            };
            if batch.is_empty() {
                drop(permit);
                // A record queued after the drain, while the permit was still held, started no
                // writer: take it.
                if self.queue().is_empty() {
                    return;
                }
                match self.writer.clone().try_acquire_owned() {
                    Ok(p) => permit = p,
                    Err(_) => return,
                }
                continue;
            }
            self.commit(batch).await;
        }
    }

    async fn commit(&self, batch: Vec<Pending>) {
        use diesel_async::AsyncConnection;
        let (items, replies): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|p| ((p.callback, p.attempt), p.reply))
            .unzip();
        ::metrics::histogram!("bcci_delivered_batch_size").record(items.len() as f64);
        let written = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            conn.transaction::<_, diesel::result::Error, _>(async |c| {
                callbacks::record_delivered(c, &items).await
            })
            .await
            .map_err(|e| e.to_string())
        }
        .await;
        match written {
            Ok(ours) => {
                for ((_, attempt), reply) in items.iter().zip(replies) {
                    let r = if ours.contains(&attempt.job_id) {
                        Recorded::Done
                    } else {
                        Recorded::NotOurs
                    };
                    let _ = reply.send(Ok(r));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, callbacks = items.len(), "recording delivered callbacks failed");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
