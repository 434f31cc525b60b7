//! Creates committed together (group commit, issue 12 §2).
//!
//! Alone, a create is one transaction: BEGIN, three reads, four inserts, COMMIT and its WAL
//! flush. Under load those fixed costs, not the rows, are most of PostgreSQL's work. So a
//! create is queued (`batching`), and a writer takes everything queued and commits it as one
//! group (`ledger::shipments::create_many`): each create keeps the outcome it would have had
//! alone, and is answered only once its group has committed. Nobody waits for a group to
//! fill: a create that finds a writer free is written at once, alone; creates that arrive
//! while every writer is busy form the next group.

use crate::batching::Batcher;
use crate::error::{ApiError, NO_CONNECTION};
use crate::ledger::Pool;
use crate::ledger::shipments::{self, CreateError, Created, NewCreate};

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
    batcher: Batcher<NewCreate, Result<Outcome, Unavailable>>,
}

impl GroupCommit {
    /// `writers` transactions at most at once (each takes a connection of `pool`).
    /// Must be called inside a Tokio runtime.
    pub fn new(pool: Pool, writers: usize) -> GroupCommit {
        GroupCommit {
            batcher: Batcher::new(writers, MAX_GROUP, move |group| {
                Box::pin(commit(pool.clone(), group))
            }),
        }
    }

    /// Writes one create, alone or in a group, and answers once it has committed (or not).
    pub async fn create(&self, item: NewCreate) -> Result<Outcome, Unavailable> {
        // A writer that panicked answered nobody: nothing of its group was committed.
        self.batcher.submit(item).await.unwrap_or(Err(Unavailable))
    }
}

/// Commits a group: together if it has several creates, else (or if the group fails) one by
/// one, each create in a transaction of its own. One answer per create, in order.
async fn commit(pool: Pool, mut items: Vec<NewCreate>) -> Vec<Result<Outcome, Unavailable>> {
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(error = %e, creates = items.len(), "no database connection for a group of creates");
            return items.iter().map(|_| Err(Unavailable)).collect();
        }
    };
    ::metrics::histogram!("bcci_create_group_size").record(items.len() as f64);
    if items.len() > 1 {
        match shipments::create_many(&mut conn, items).await {
            Ok(outcomes) => return outcomes.into_iter().map(Ok).collect(),
            // A dossier or a key taken by a concurrent request, or a failure: nothing of the
            // group was written. One by one below, each gets its own outcome.
            Err((e, back)) => {
                ::metrics::counter!("bcci_create_groups_failed_total").increment(1);
                tracing::debug!(error = %e, creates = back.len(), "a group of creates failed; writing them one by one");
                items = back;
            }
        }
    }
    let mut answers = Vec::with_capacity(items.len());
    for item in items {
        answers.push(Ok(shipments::create(&mut conn, item).await));
    }
    answers
}
