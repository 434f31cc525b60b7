//! What staff and the gateway record in the audit log (`audit_log.action`). The list is the
//! one the migrations' CHECK constraint allows (a test in `tests/it/schema.rs` compares them).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// Staff cancelled a shipment.
    Cancel,
    /// Staff resubmitted a rejected shipment.
    Retry,
    /// Staff queued a shipment's callbacks again.
    ReplayCallbacks,
    /// Staff wrote an apology letter for a late shipment.
    ApologyLetter,
    /// Staff marked an item of "needs attention" as dealt with.
    Acknowledge,
    /// Staff re-enabled a client's callbacks after its endpoint answered 410.
    EnableClientCallbacks,
    /// Housekeeping erased personal data past its retention period.
    Retention,
    /// Staff pulled VNPost's list of a month's orders to reconcile it.
    Reconcile,
}

impl AuditAction {
    pub const ALL: [AuditAction; 8] = [
        AuditAction::Cancel,
        AuditAction::Retry,
        AuditAction::ReplayCallbacks,
        AuditAction::ApologyLetter,
        AuditAction::Acknowledge,
        AuditAction::EnableClientCallbacks,
        AuditAction::Retention,
        AuditAction::Reconcile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Cancel => "cancel",
            AuditAction::Retry => "retry",
            AuditAction::ReplayCallbacks => "replay_callbacks",
            AuditAction::ApologyLetter => "apology_letter",
            AuditAction::Acknowledge => "acknowledge",
            AuditAction::EnableClientCallbacks => "enable_client_callbacks",
            AuditAction::Retention => "retention",
            AuditAction::Reconcile => "reconcile",
        }
    }
}

super::status::text_names!(AuditAction);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), a);
        }
        assert!("delete".parse::<AuditAction>().is_err());
    }
}
