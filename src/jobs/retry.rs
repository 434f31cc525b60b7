//! The retry schedule of outbound calls.
//!
//! Exponential from `retry_min`, doubling, capped at `retry_max`, with jitter upwards only (up
//! to +100 %, so many jobs failing together spread out instead of retrying in step). With the
//! defaults (2 s, 10 min): 2 s, 4 s, 8 s, 16 s, 32 s, 64 s, 128 s, 256 s, 512 s, then every
//! 10 min (each plus jitter), until `give_up_after` has passed since the job was created.
//! A carrier's `Retry-After` is honoured when longer, but never beyond `retry_after_cap`.
//! The delays come from `backon`'s exponential backoff.

use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub min: Duration,
    pub max: Duration,
    pub retry_after_cap: Duration,
}

impl Schedule {
    /// The delay before attempt `attempts + 1`, after `attempts` failed ones.
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let computed = ExponentialBuilder::default()
            .with_min_delay(self.min)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(attempts.saturating_sub(1) as usize)
            .unwrap_or(self.max);
        match retry_after {
            Some(ra) => computed.max(ra.min(self.retry_after_cap)),
            None => computed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Schedule = Schedule {
        min: Duration::from_secs(2),
        max: Duration::from_secs(600),
        retry_after_cap: Duration::from_secs(300),
    };

    #[test]
    fn grows_exponentially_with_upward_jitter_and_a_cap() {
        for _ in 0..200 {
            for (attempt, base) in [
                (1u32, 2u64),
                (2, 4),
                (3, 8),
                (6, 64),
                (9, 512),
                (10, 600),
                (50, 600),
            ] {
                let d = S.delay(attempt, None);
                assert!(
                    d >= Duration::from_secs(base) && d < Duration::from_secs(base * 2),
                    "attempt {attempt}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_retries() {
        let delays: std::collections::HashSet<_> = (0..50).map(|_| S.delay(3, None)).collect();
        assert!(delays.len() > 10);
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        assert!(S.delay(1, Some(Duration::from_secs(120))) >= Duration::from_secs(120));
        assert!(S.delay(1, Some(Duration::from_secs(3600))) < Duration::from_secs(300 + 1));
        // a short Retry-After never shortens the schedule
        assert!(S.delay(6, Some(Duration::from_secs(1))) >= Duration::from_secs(64));
    }
}
