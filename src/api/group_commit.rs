//! Creates committed together (group commit, issue 12 §2).
//!
//! Alone, a create is one transaction: BEGIN, three reads, four inserts, COMMIT and its WAL
//! flush. Under load those fixed costs, not the rows, are most of PostgreSQL's work. So a
//! create is queued, and a writer takes everything queued and commits it as one group
//! (`ledger::shipments::create_many`): each create keeps the outcome it would have had alone,
//! and is answered only once its group has committed. Nobody waits for a group to fill: a
//! create that finds a writer free is written at once, alone; creates that arrive while every
//! writer is busy form the next group.

use crate::error::{ApiError, NO_CONNECTION};
use crate::ledger::Pool;
use crate::ledger::shipments::{self, CreateError, Created, NewCreate};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// At most this many creates in one transaction: past a few dozen the per-create saving is
/// small, and one group's latency is every create's latency.
const MAX_GROUP: usize = 64;

/// No database connection could be had for the create, or its writer stopped: nothing was
/// written (503, retry).
#[derive(Debug)]
pub struct Unavailable;

impl From<Unavailable> for ApiError {
    fn from(_: Unavailable) -> Self {
        // The writer has logged why.
        ApiError::Unavailable(NO_CONNECTION.into())
    }
}

pub type Outcome = Result<Created, CreateError>;

pub struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    queue: Mutex<VecDeque<Pending>>,
    /// One permit per writer; each writer holds a connection while it writes.
    writers: Arc<Semaphore>,
    /// Writers run on the runtime that built this (the main one, which lives as long as the
    /// process), not on an HTTP worker's: a worker's runtime ends in a graceful stop, and a
    /// writer carrying other workers' creates must not end with it.
    runtime: tokio::runtime::Handle,
}

struct Pending {
    item: NewCreate,
    reply: oneshot::Sender<Result<Outcome, Unavailable>>,
}

impl GroupCommit {
    /// `writers` transactions at most at once (each takes a connection of `pool`).
    /// Must be called inside a Tokio runtime.
    pub fn new(pool: Pool, writers: usize) -> GroupCommit {
        GroupCommit {
            inner: Arc::new(Inner {
                pool,
                queue: Mutex::new(VecDeque::new()),
                writers: Arc::new(Semaphore::new(writers.max(1))),
                runtime: tokio::runtime::Handle::current(),
            }),
        }
    }

    /// Writes one create, alone or in a group, and answers once it has committed (or not).
    pub async fn create(&self, item: NewCreate) -> Result<Outcome, Unavailable> {
        let (reply, answer) = oneshot::channel();
        self.inner.queue().push_back(Pending { item, reply });
        if let Ok(permit) = self.inner.writers.clone().try_acquire_owned() {
            let inner = self.inner.clone();
            self.inner.runtime.spawn(inner.write(permit));
        }
        // A writer that panicked dropped the reply: nothing of its group was committed.
        answer.await.unwrap_or(Err(Unavailable))
    }
}

impl Inner {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Pending>> {
        // The queue is only pushed to and drained, so a panic elsewhere cannot leave it
        // half-changed.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes groups while creates are queued, then gives its permit back.
    async fn write(self: Arc<Self>, mut permit: OwnedSemaphorePermit) {
        loop {
            let group: Vec<Pending> = {
                let mut queue = self.queue();
                let n = queue.len().min(MAX_GROUP);
                queue.drain(..n).collect()
            };
            if group.is_empty() {
                drop(permit);
                // A create queued after the drain above, while this writer still held its
                // permit, found no writer free and started none: take it.
                if self.queue().is_empty() {
                    return;
                }
                match self.writers.clone().try_acquire_owned() {
                    Ok(p) => permit = p,
                    // Another writer took the permit, and will see the create.
                    Err(_) => return,
                }
                continue;
            }
            self.commit(group).await;
        }
    }

    async fn commit(&self, group: Vec<Pending>) {
        let (mut items, replies): (Vec<_>, Vec<_>) =
            group.into_iter().map(|p| (p.item, p.reply)).unzip();
        let mut conn = match self.pool.get().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, creates = items.len(), "no database connection for a group of creates");
                for reply in replies {
                    let _ = reply.send(Err(Unavailable));
                }
                return;
            }
        };
        ::metrics::histogram!("bcci_create_group_size").record(items.len() as f64);
        if items.len() > 1 {
            match shipments::create_many(&mut conn, items).await {
                Ok(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(Ok(outcome));
                    }
                    return;
                }
                // A dossier or a key taken by a concurrent request, or a failure: nothing of
                // the group was written. One by one below, each gets its own outcome.
                Err((e, back)) => {
                    ::metrics::counter!("bcci_create_groups_failed_total").increment(1);
                    tracing::debug!(error = %e, creates = back.len(), "a group of creates failed; writing them one by one");
                    items = back;
                }
            }
        }
        // A create alone, or a failed group's creates, each in a transaction of its own.
        for (item, reply) in items.into_iter().zip(replies) {
            let _ = reply.send(Ok(shipments::create(&mut conn, item).await));
        }
    }
}
