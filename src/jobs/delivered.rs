//! Delivered callbacks recorded together.
//!
//! Recording one delivered callback alone is a transaction of its own: BEGIN, the callback's
//! new state, the job done, its attempt row, COMMIT. Callbacks are the most frequent job (one
//! per status change), and under load those round trips and commits, not the rows, were
//! much of the database's work. So a job whose callback was delivered hands its record here;
//! a writer takes every record waiting and commits them as one batch
//! (`ledger::callbacks::record_delivered`), and each job finishes once its batch has
//! committed (`batching`, as for the creates' group commit): nobody waits for a batch to fill,
//! a record that finds the writer free is written at once.
//!
//! Nothing changes for a crash: a delivery whose record was not committed is delivered again
//! (at least once, SPEC §7), exactly as when its own transaction failed.

use crate::batching::Batcher;
use crate::ledger::outbox::Attempt;
use crate::ledger::{Pool, callbacks};
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
    batcher: Batcher<(Uuid, Attempt), Result<Recorded, String>>,
}

impl DeliveredBatches {
    /// One writer (one connection of `pool` while it writes). Must be called inside a Tokio
    /// runtime.
    pub fn new(pool: Pool) -> DeliveredBatches {
        DeliveredBatches {
            batcher: Batcher::new(1, MAX_BATCH, move |batch| {
                Box::pin(commit(pool.clone(), batch))
            }),
        }
    }

    /// Records that `callback` was delivered by the job attempt `attempt` (which names the job,
    /// its worker and claim), and answers once that has committed. An error means nothing of
    /// it was written (the job stays claimed and runs again).
    pub async fn record(&self, callback: Uuid, attempt: Attempt) -> anyhow::Result<Recorded> {
        match self.batcher.submit((callback, attempt)).await {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => anyhow::bail!("recording delivered callbacks: {e}"),
            // The writer panicked: nothing of its batch was committed.
            None => anyhow::bail!("recording delivered callbacks: the writer stopped"),
        }
    }
}

/// Commits a batch in one transaction; one answer per record, in order.
async fn commit(pool: Pool, items: Vec<(Uuid, Attempt)>) -> Vec<Result<Recorded, String>> {
    use diesel_async::AsyncConnection;
    ::metrics::histogram!("bcci_delivered_batch_size").record(items.len() as f64);
    let written = async {
        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
        conn.transaction::<_, diesel::result::Error, _>(async |c| {
            callbacks::record_delivered(c, &items).await
        })
        .await
        .map_err(|e| e.to_string())
    }
    .await;
    match written {
        Ok(ours) => items
            .iter()
            .map(|(_, attempt)| {
                Ok(if ours.contains(&attempt.job_id) {
                    Recorded::Done
                } else {
                    Recorded::NotOurs
                })
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, callbacks = items.len(), "recording delivered callbacks failed");
            items.iter().map(|_| Err(e.clone())).collect()
        }
    }
}
