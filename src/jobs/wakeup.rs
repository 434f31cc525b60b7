//! Waking the workers once jobs are committed (issue 12 §2).
//!
//! A `NOTIFY` inside the transaction that enqueues (a trigger on `jobs`, until migration
//! 000090) makes PostgreSQL hold one cluster-wide lock through each such commit's WAL flush:
//! every create then committed one at a time, and the create rate was capped near one per
//! fsync. So the enqueuing transaction stays silent. After it commits, the process wakes its
//! own worker at once ([`Wakeup::enqueued`]) and tells the other processes with one `NOTIFY`
//! of its own at most every [`PUBLISH_EVERY`] ([`publish`]). A wake that never comes (a job
//! inserted by hand, a lost notification) costs at most `jobs.poll_interval`.

use crate::ledger::{Pool, outbox};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The other processes hear of new jobs at most this long after they are committed, and get
/// at most one notification a process this often, however many jobs it commits.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// The wake-up of one process: its worker's, and the notification it owes the others.
#[derive(Debug, Default)]
pub struct Wakeup {
    local: Notify,
    /// Jobs were committed since the last notification to the other processes.
    pending: AtomicBool,
    publisher: Notify,
}

impl Wakeup {
    pub fn new() -> Arc<Wakeup> {
        Arc::new(Wakeup::default())
    }

    /// Jobs were committed (or may have been: a request that changed something): wake this
    /// process's worker now, and the other processes' within [`PUBLISH_EVERY`].
    pub fn enqueued(&self) {
        self.local.notify_one();
        if !self.pending.swap(true, Ordering::AcqRel) {
            self.publisher.notify_one();
        }
    }

    /// Another process's notification arrived: wake this process's worker only.
    pub fn heard(&self) {
        self.local.notify_one();
    }

    /// Waits for a wake-up (one stored if it came while nobody waited).
    pub async fn wait(&self) {
        self.local.notified().await;
    }

    async fn wait_pending(&self) {
        self.publisher.notified().await;
    }

    fn take_pending(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }
}

/// Sends the other processes' notifications until `shutdown` turns true: one `NOTIFY` per
/// [`PUBLISH_EVERY`] at most, on a connection of the background pool, outside any
/// transaction that enqueues.
pub async fn publish(wakeup: Arc<Wakeup>, pool: Pool, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = wakeup.wait_pending() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        // Gather what the next moments commit into the same notification.
        tokio::time::sleep(PUBLISH_EVERY).await;
        if !wakeup.take_pending() {
            continue;
        }
        let sent = match pool.get().await {
            Ok(mut conn) => outbox::notify_workers(&mut conn)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            // The other processes find the jobs on their next poll.
            tracing::warn!(error = %e, "could not notify the other processes of new jobs");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_before_anyone_waits_is_kept() {
        let w = Wakeup::new();
        w.enqueued();
        tokio::time::timeout(Duration::from_secs(1), w.wait())
            .await
            .expect("the stored wake-up");
    }

    #[tokio::test]
    async fn many_enqueues_owe_the_others_one_notification() {
        let w = Wakeup::new();
        for _ in 0..100 {
            w.enqueued();
        }
        assert!(w.take_pending());
        assert!(!w.take_pending(), "one notification for the lot");
        w.enqueued();
        assert!(w.take_pending(), "and one again for what follows");
    }

    #[tokio::test]
    async fn hearing_another_process_wakes_this_worker_but_owes_nothing() {
        let w = Wakeup::new();
        w.heard();
        tokio::time::timeout(Duration::from_secs(1), w.wait())
            .await
            .expect("woken");
        assert!(!w.take_pending());
    }
}
