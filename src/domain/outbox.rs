//! The vocabularies of the outbox (tables `jobs` and `job_attempts`): what a job does, where
//! it stands, and how an attempt at it ended. Plain enums; their SQL mapping is in
//! `ledger::vocab`, their queue in `ledger::outbox`, and running them in `jobs`.

/// What a job does (column `jobs.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Create the carrier order for a shipment (exactly once).
    CarrierSubmit,
    /// Ask the carrier to cancel a shipment's order.
    CarrierCancel,
    /// Ask VNPost, until it decides, about a cancellation it must approve (`"02"`).
    CarrierCancelCase,
    /// Deliver a callback to a dossier system.
    Callback,
    /// Confirm what a push said without authenticating it (a hint, SPEC §6) by asking the
    /// carrier's own tracking (`jobs::tracking::poll_one`).
    CarrierConfirm,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 5] = [
        JobKind::CarrierSubmit,
        JobKind::CarrierCancel,
        JobKind::CarrierCancelCase,
        JobKind::Callback,
        JobKind::CarrierConfirm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::CarrierSubmit => "carrier_submit",
            JobKind::CarrierCancel => "carrier_cancel",
            JobKind::CarrierCancelCase => "carrier_cancel_case",
            JobKind::Callback => "callback",
            JobKind::CarrierConfirm => "carrier_confirm",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        s.parse().ok()
    }
}

/// Where a job stands (column `jobs.state`, CHECK-constrained).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for `run_at`, or for a worker.
    Queued,
    /// Claimed by a worker (`locked_by`) until its lease (`locked_until`).
    Running,
    Done,
    /// Given up for good; staff may queue it again.
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        s.parse().ok()
    }

    /// A job in this state will not run again by itself (`jobs.finished_at` is set).
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Done | JobState::Dead)
    }
}

/// How one attempt at a job ended (column `job_attempts.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The work is done (or there was nothing left to do).
    Ok,
    /// Failed; it will be tried again.
    Transient,
    /// Refused for good (the carrier rejected the order, the callback cannot be delivered).
    Permanent,
    /// The callback receiver answered 410 Gone: its client's callbacks stop.
    Gone,
    /// Failed for longer than the give-up window: the job is dead.
    GaveUp,
}

impl AttemptOutcome {
    pub const ALL: [AttemptOutcome; 5] = [
        AttemptOutcome::Ok,
        AttemptOutcome::Transient,
        AttemptOutcome::Permanent,
        AttemptOutcome::Gone,
        AttemptOutcome::GaveUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Ok => "ok",
            AttemptOutcome::Transient => "transient",
            AttemptOutcome::Permanent => "permanent",
            AttemptOutcome::Gone => "gone",
            AttemptOutcome::GaveUp => "gave_up",
        }
    }

    pub fn parse(s: &str) -> Option<AttemptOutcome> {
        s.parse().ok()
    }
}

super::status::text_names!(JobKind, JobState, AttemptOutcome);

/// Longest excerpt of an answer or error kept in an attempt or callback row.
pub const EXCERPT_CHARS: usize = 500;

/// The first [`EXCERPT_CHARS`] characters of `text`.
pub fn excerpt(text: &str) -> String {
    text.chars().take(EXCERPT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        for o in AttemptOutcome::ALL {
            assert_eq!(AttemptOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(JobState::parse("Queued"), None);
    }

    #[test]
    fn only_done_and_dead_are_finished() {
        let finished: Vec<_> = JobState::ALL
            .into_iter()
            .filter(|s| s.is_finished())
            .collect();
        assert_eq!(finished, [JobState::Done, JobState::Dead]);
    }

    #[test]
    fn an_excerpt_counts_characters_not_bytes() {
        let long = "đ".repeat(EXCERPT_CHARS + 10);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS);
        assert_eq!(excerpt("ngắn"), "ngắn");
    }
}
