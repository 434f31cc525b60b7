//! Rows of the ledger's tables.

use super::schema::*;
use crate::domain::status::UnknownValue;
use crate::domain::{AuditAction, Kind, Source, Status};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
// Option fields insert NULL, not DEFAULT: the statement text is then fixed and diesel
// caches it as a prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = shipments, check_for_backend(diesel::pg::Pg))]
pub struct Shipment {
    pub id: Uuid,
    pub kind: Kind,
    pub status: Status,
    pub sequence: i32,
    pub client_id: String,
    pub office_code: String,
    pub dossier_code: String,
    pub procedure_code: String,
    pub procedure_name: String,
    pub person_name: String,
    pub person_phone: String,
    pub person_email: Option<String>,
    pub person_id_number: Option<String>,
    pub address_line: String,
    pub province_code: String,
    pub commune_code: String,
    pub documents: serde_json::Value,
    pub result: Option<serde_json::Value>,
    pub collect_fees_vnd: i64,
    pub cod_vnd: i64,
    pub note: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub late: bool,
    pub sale_order_code: String,
    pub carrier: String,
    pub tracking_number: Option<String>,
    pub carrier_order_id: Option<String>,
    pub carrier_code: Option<i32>,
    pub carrier_text: Option<String>,
    pub carrier_at: Option<DateTime<Utc>>,
    pub status_reason: Option<String>,
    pub picked_up_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_report_at: Option<DateTime<Utc>>,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Postage VNPost reports (`totalFee`), in đồng.
    pub carrier_fee_vnd: Option<i64>,
    /// Cash on delivery VNPost reports (`codAmount`), in đồng.
    pub carrier_cod_vnd: Option<i64>,
    /// A cancellation asked of the carrier and not yet decided.
    pub cancel_state: Option<CancelState>,
    pub cancel_case_id: Option<String>,
    /// VNPost's reason when it refused to cancel.
    pub cancel_note: Option<String>,
}

/// Where a cancellation asked of the carrier stands (column `cancel_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelState {
    /// The gateway is asking the carrier.
    Requested,
    /// VNPost must approve the cancellation (its answer `"02"`); the gateway asks again until
    /// it decides.
    AwaitingCarrier,
    /// VNPost refused; the shipment goes on.
    Refused,
}

impl CancelState {
    pub fn as_str(self) -> &'static str {
        match self {
            CancelState::Requested => "requested",
            CancelState::AwaitingCarrier => "awaiting_carrier",
            CancelState::Refused => "refused",
        }
    }

    pub const ALL: [CancelState; 3] = [
        CancelState::Requested,
        CancelState::AwaitingCarrier,
        CancelState::Refused,
    ];
}

impl std::str::FromStr for CancelState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CancelState::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

impl Shipment {
    /// The cancellation asked of the carrier, while the shipment is still in progress.
    pub fn cancel_state(&self) -> Option<CancelState> {
        if self.status().is_terminal() {
            return None;
        }
        self.cancel_state
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// What lateness is judged on.
    pub fn timeline(&self) -> crate::domain::lateness::Timeline {
        crate::domain::lateness::Timeline {
            kind: self.kind(),
            status: self.status(),
            created_at: self.created_at,
            due_at: self.due_at,
            picked_up_at: self.picked_up_at,
            delivered_at: self.delivered_at,
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
}

#[cfg(test)]
impl Shipment {
    /// A rejected pickup with every column set, for unit tests.
    pub fn example() -> Shipment {
        Shipment {
            id: Uuid::now_v7(),
            kind: Kind::Pickup,
            status: Status::Rejected,
            sequence: 3,
            client_id: "c".into(),
            office_code: "O".into(),
            dossier_code: "d".into(),
            procedure_code: "p".into(),
            procedure_name: "p".into(),
            person_name: "Nguyễn Văn An".into(),
            person_phone: "0912345678".into(),
            person_email: None,
            person_id_number: None,
            address_line: "Số 12".into(),
            province_code: "08".into(),
            commune_code: "02215".into(),
            documents: serde_json::json!([]),
            result: None,
            collect_fees_vnd: 0,
            cod_vnd: 0,
            note: None,
            due_at: None,
            late: false,
            sale_order_code: "X".into(),
            carrier: "vnpost".into(),
            tracking_number: None,
            carrier_order_id: None,
            carrier_code: None,
            carrier_text: None,
            carrier_at: None,
            status_reason: None,
            picked_up_at: None,
            delivered_at: None,
            last_report_at: None,
            next_poll_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            carrier_fee_vnd: None,
            carrier_cod_vnd: None,
            cancel_state: None,
            cancel_case_id: None,
            cancel_note: None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shipment_events, check_for_backend(diesel::pg::Pg))]
pub struct Event {
    pub id: i64,
    pub shipment_id: Uuid,
    pub seq: i32,
    pub status: Option<Status>,
    pub applied: bool,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub source: Source,
    pub carrier_code: Option<i32>,
    pub carrier_text: Option<String>,
    pub unknown_code: bool,
    pub note: Option<String>,
    pub actor: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
// Option fields insert NULL, not DEFAULT: the statement text is then fixed and diesel
// caches it as a prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = shipment_events)]
pub struct NewEvent {
    pub shipment_id: Uuid,
    pub seq: i32,
    pub status: Option<Status>,
    pub applied: bool,
    pub occurred_at: DateTime<Utc>,
    pub source: Source,
    pub carrier_code: Option<i32>,
    pub carrier_text: Option<String>,
    pub unknown_code: bool,
    pub note: Option<String>,
    pub actor: Option<String>,
}

impl NewEvent {
    /// An event made by the gateway, a client or staff (not a carrier report).
    pub fn status_change(
        shipment_id: Uuid,
        status: Status,
        source: Source,
        actor: &str,
        note: Option<String>,
        at: DateTime<Utc>,
    ) -> Self {
        NewEvent {
            shipment_id,
            seq: 0,
            status: Some(status),
            applied: true,
            occurred_at: at,
            source,
            carrier_code: None,
            carrier_text: None,
            unknown_code: false,
            note,
            actor: Some(actor.to_owned()),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
// Option fields insert NULL, not DEFAULT: the statement text is then fixed and diesel
// caches it as a prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = idempotency_keys, check_for_backend(diesel::pg::Pg))]
pub struct IdempotencyKey {
    pub client_id: String,
    pub key: String,
    pub request_hash: String,
    pub response_status: i16,
    pub response_body: serde_json::Value,
    pub shipment_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub actor_name: Option<String>,
    pub action: AuditAction,
    pub shipment_id: Option<Uuid>,
    pub reason: String,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Insertable)]
// Option fields insert NULL, not DEFAULT: the statement text is then fixed and diesel
// caches it as a prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry {
    pub actor_id: String,
    pub actor_name: Option<String>,
    pub action: AuditAction,
    pub shipment_id: Option<Uuid>,
    pub reason: String,
    pub details: serde_json::Value,
}
