//! Runs the outbox's jobs: the worker loop claims them from `ledger::outbox`, and each kind
//! has its own module saying what it does and what its outcome changes:
//!
//! - `submit`: create a shipment's carrier order, exactly once;
//! - `cancel`: ask the carrier to cancel an order; `cancel_case`: ask VNPost how it decided a
//!   cancellation it had to approve;
//! - `confirm`: confirm a push by the carrier's own tracking;
//! - `callback`: deliver a callback to a dossier system (the HTTP side is `callbacks`);
//!   `delivered` records the delivered ones in batches.
//!
//! `worker` claims jobs and reads, for the whole claim at once, the rows they need before they
//! call out (`preload`). `run` is the common part: it dispatches a claimed job to its kind,
//! then records its effect, the job's new state and the attempt row in one transaction, or
//! schedules a retry. The periodic work of a process (tracking polls, `tracking`; lateness,
//! retention, `housekeeping`) runs on one beat next to the worker. No SQL here: storage is
//! `ledger`'s.

pub mod callback;
pub mod cancel;
pub mod cancel_case;
pub mod confirm;
pub mod delivered;
pub mod housekeeping;
pub mod preload;
pub mod pressure;
pub mod retry;
pub mod run;
pub mod submit;
pub mod tracking;
pub mod wakeup;
pub mod worker;

use crate::callbacks::deliver::DeliveryError;
use crate::carrier::CarrierError;
use crate::config::Config;
use crate::domain::outbox::JobKind;
use crate::ledger::{Pool, PoolError, PooledConn};
use pressure::Pressure;
use retry::Schedule;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wakeup::Wakeup;

/// What a worker needs to run jobs.
pub struct Context<C> {
    /// The background pool (`jobs.pool_size`), apart from the requests' pool so that a busy
    /// queue never makes a request wait for a connection.
    pub pool: Pool,
    pub config: Arc<Config>,
    pub carrier: Arc<C>,
    /// For callbacks to the dossier systems.
    pub http: reqwest::Client,
    pub worker: i32,
    /// How long jobs wait for a connection, and the jobs in flight it allows.
    pub pressure: Arc<Pressure>,
    /// Wakes this process's worker (and the others) when jobs are committed.
    pub wakeup: Arc<Wakeup>,
    /// Records delivered callbacks in batches (`delivered`).
    pub delivered: Arc<delivered::DeliveredBatches>,
}

impl<C> Context<C> {
    /// A connection of the background pool; the wait for it is what [`Pressure`] reads.
    pub async fn conn(&self) -> Result<PooledConn, PoolError> {
        let asked = Instant::now();
        let conn = self.pool.get().await;
        self.pressure.observe(asked.elapsed());
        conn
    }

    /// The retry schedule and give-up window of a kind of job.
    fn retry_policy(&self, kind: Option<JobKind>) -> (Schedule, Duration) {
        let j = &self.config.jobs;
        match kind {
            Some(JobKind::Callback) => {
                let c = &self.config.callbacks;
                let s = Schedule {
                    min: c.retry_min,
                    max: c.retry_max,
                    retry_after_cap: j.retry_after_cap,
                };
                (s, c.give_up_after)
            }
            _ => {
                let s = Schedule {
                    min: j.retry_min,
                    max: j.retry_max,
                    retry_after_cap: j.retry_after_cap,
                };
                (s, j.give_up_after)
            }
        }
    }

    fn quiet(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.tracking.quiet_after)
            .unwrap_or(chrono::Duration::hours(1))
    }
}

/// A failed attempt, whoever was called (the carrier, a callback receiver): what the attempt
/// row, the retry schedule and the log need of it.
#[derive(Debug)]
pub struct Failure {
    /// A stable name (`connect`, `timeout`, `server`…), for attempt rows and logs.
    pub class: &'static str,
    /// May quote what was sent: kept on the attempt, never logged.
    pub message: String,
    pub http_status: Option<u16>,
    pub retry_after: Option<Duration>,
    pub excerpt: Option<String>,
}

impl From<CarrierError> for Failure {
    fn from(e: CarrierError) -> Self {
        Failure {
            class: e.class.as_str(),
            message: e.message,
            http_status: e.http_status,
            retry_after: e.retry_after,
            excerpt: e.excerpt,
        }
    }
}

impl From<DeliveryError> for Failure {
    fn from(e: DeliveryError) -> Self {
        Failure {
            class: e.class.as_str(),
            message: e.message,
            http_status: e.http_status,
            retry_after: e.retry_after,
            excerpt: e.excerpt,
        }
    }
}
