//! How hard the database pushes back on background work, and how many jobs a worker runs at
//! once because of it (issue 12 §1).
//!
//! The signal is the time a job waits for a connection of the background pool
//! (`jobs.pool_size`): when the database is the bottleneck, transactions hold their
//! connections longer and the next job queues for one. The number of jobs in flight says
//! nothing of that (they mostly wait on the carrier). While the smoothed wait stays above
//! `jobs.db_wait_target` the worker claims fewer jobs (the limit shrinks by a quarter, at most
//! once per `ADJUST_EVERY`); below it, the limit grows back by a sixteenth of the maximum.
//! The API has its own pool, so this only decides how much of the database the background
//! takes, never whether a request gets a connection.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limit moves at most this often, so that one slow transaction does not halve it
/// several times in a row.
const ADJUST_EVERY: Duration = Duration::from_millis(250);

/// Additive increase, multiplicative decrease of the jobs in flight, driven by the smoothed
/// connection wait. Pure: the caller gives the times.
#[derive(Debug, Clone)]
pub struct Aimd {
    min: usize,
    max: usize,
    target: Duration,
    limit: usize,
    /// Exponentially weighted mean of the waits (weight 1/8 for each new one).
    wait: Duration,
    last_adjust: Option<Instant>,
}

impl Aimd {
    pub fn new(max: usize, target: Duration) -> Aimd {
        let max = max.max(1);
        Aimd {
            min: (max / 16).clamp(1, 4),
            max,
            target,
            limit: max,
            wait: Duration::ZERO,
            last_adjust: None,
        }
    }

    /// Records one wait for a connection.
    pub fn observe(&mut self, wait: Duration) {
        self.wait = (self.wait * 7 + wait) / 8;
    }

    /// The smoothed wait.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// The current limit, adjusted first if the last adjustment is old enough.
    pub fn limit(&mut self, now: Instant) -> usize {
        let due = self
            .last_adjust
            .is_none_or(|t| now.duration_since(t) >= ADJUST_EVERY);
        if due {
            self.last_adjust = Some(now);
            self.limit = if self.wait > self.target {
                (self.limit * 3 / 4).max(self.min)
            } else {
                (self.limit + (self.max / 16).max(1)).min(self.max)
            };
        }
        self.limit
    }

    /// Whether the database is under pressure now (the limit was cut below half): deferrable
    /// batches (retention) wait for a calmer beat.
    pub fn busy(&self) -> bool {
        self.limit < self.max / 2
    }
}

/// The [`Aimd`] of one process, shared by its worker, its jobs and its housekeeping.
#[derive(Debug)]
pub struct Pressure(Mutex<Aimd>);

impl Pressure {
    pub fn new(max_in_flight: usize, target: Duration) -> Pressure {
        Pressure(Mutex::new(Aimd::new(max_in_flight, target)))
    }

    pub fn observe(&self, wait: Duration) {
        self.lock().observe(wait);
    }

    /// Jobs the worker may have in flight now.
    pub fn limit(&self) -> usize {
        let mut aimd = self.lock();
        let limit = aimd.limit(Instant::now());
        metrics::gauge!("bcci_jobs_in_flight_limit").set(limit as f64);
        metrics::gauge!("bcci_jobs_db_wait_seconds").set(aimd.wait().as_secs_f64());
        limit
    }

    pub fn busy(&self) -> bool {
        self.lock().busy()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Aimd> {
        // The state is a few numbers, valid after any panic.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn later(t: Instant, n: u32) -> Instant {
        t + ADJUST_EVERY * n
    }

    #[test]
    fn starts_at_the_maximum_and_stays_there_while_waits_are_short() {
        let mut a = Aimd::new(64, 20 * MS);
        let t = Instant::now();
        for i in 0..10 {
            a.observe(MS);
            assert_eq!(a.limit(later(t, i)), 64);
        }
        assert!(!a.busy());
    }

    #[test]
    fn long_waits_cut_the_limit_by_a_quarter_per_step_down_to_the_minimum() {
        let mut a = Aimd::new(64, 20 * MS);
        let t = Instant::now();
        for _ in 0..40 {
            a.observe(200 * MS);
        }
        assert_eq!(a.limit(t), 48);
        assert_eq!(a.limit(later(t, 1)), 36);
        assert_eq!(a.limit(later(t, 2)), 27);
        assert!(a.busy());
        for i in 3..40 {
            a.limit(later(t, i));
        }
        assert_eq!(a.limit(later(t, 40)), 4, "the floor is max/16, at most 4");
    }

    #[test]
    fn the_limit_moves_at_most_once_per_period() {
        let mut a = Aimd::new(64, 20 * MS);
        let t = Instant::now();
        for _ in 0..40 {
            a.observe(200 * MS);
        }
        assert_eq!(a.limit(t), 48);
        assert_eq!(a.limit(t + ADJUST_EVERY / 2), 48);
        assert_eq!(a.limit(t + ADJUST_EVERY), 36);
    }

    #[test]
    fn it_grows_back_by_a_sixteenth_once_waits_are_short_again() {
        let mut a = Aimd::new(64, 20 * MS);
        let t = Instant::now();
        for _ in 0..40 {
            a.observe(200 * MS);
        }
        for i in 0..20 {
            a.limit(later(t, i));
        }
        assert_eq!(a.limit(later(t, 20)), 4);
        for _ in 0..60 {
            a.observe(Duration::ZERO);
        }
        assert!(a.wait() < 20 * MS);
        assert_eq!(a.limit(later(t, 21)), 8);
        assert_eq!(a.limit(later(t, 22)), 12);
        for i in 23..60 {
            a.limit(later(t, i));
        }
        assert_eq!(a.limit(later(t, 60)), 64, "never above the maximum");
    }

    #[test]
    fn one_slow_wait_among_short_ones_does_not_cut_it() {
        let mut a = Aimd::new(64, 20 * MS);
        for _ in 0..20 {
            a.observe(2 * MS);
        }
        a.observe(100 * MS);
        assert!(a.wait() < 20 * MS, "smoothed: {:?}", a.wait());
        assert_eq!(a.limit(Instant::now()), 64);
    }

    #[test]
    fn a_single_slot_worker_keeps_one() {
        let mut a = Aimd::new(1, 20 * MS);
        a.observe(Duration::from_secs(1));
        assert_eq!(a.limit(Instant::now()), 1);
    }
}
