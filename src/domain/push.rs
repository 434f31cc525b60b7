//! One record of a carrier push as the ledger keeps and applies it (`ledger::pushes`): the
//! carrier's wire form (`carrier::push::PushRecord`) already read, its time already parsed.

use chrono::{DateTime, Utc};

/// A pushed record, read. Only the first record's `item_code` and `status` are authenticated
/// (SPEC §6); everything else is a hint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushedRecord {
    pub item_code: String,
    pub sale_order_code: Option<String>,
    /// The carrier's status code.
    pub status: i32,
    /// The carrier's words for the status (display only).
    pub status_name: Option<String>,
    /// Postage, VND.
    pub total_fee: Option<i64>,
    /// Cash on delivery, VND.
    pub cod_amount: Option<i64>,
    /// When the change happened, if the record says in a readable form.
    pub changed_at: Option<DateTime<Utc>>,
}
