//! Response bodies of the dossier-system API (SPEC §3). The request bodies and their
//! validation are the domain's (`domain::request`).

use crate::config::Config;
use crate::domain::request::{Address, Procedure};
use crate::domain::{Kind, Source, Status, mask};
use crate::ledger::models::{CancelState, Event, Shipment};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonView {
    pub full_name: String,
    pub phone: String,
    pub email: Option<String>,
    pub id_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CarrierStatus {
    pub code: i32,
    pub text: Option<String>,
    pub at: DateTime<Utc>,
}

/// A shipment as the API shows it (SPEC §3).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentView {
    pub id: Uuid,
    pub kind: Kind,
    pub status: Status,
    pub dossier_code: String,
    pub office_code: String,
    pub client_id: String,
    pub tracking_number: Option<String>,
    pub carrier: String,
    pub carrier_status: Option<CarrierStatus>,
    /// Pickups: the citizen who sends the dossier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citizen: Option<PersonView>,
    /// Deliveries: the citizen who receives the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<PersonView>,
    pub address: Address,
    pub procedure: Procedure,
    #[schema(value_type = Vec<crate::domain::request::Document>)]
    pub documents: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::domain::request::ResultInfo>)]
    pub result: Option<serde_json::Value>,
    pub collect_fees_vnd: i64,
    pub cod_vnd: i64,
    pub note: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub late: bool,
    pub sequence: i32,
    /// Why the shipment was rejected or cancelled.
    pub status_reason: Option<String>,
    /// Postage VNPost reports for this shipment (`totalFee`), in đồng; null until it says.
    pub carrier_fee_vnd: Option<i64>,
    /// Cash on delivery VNPost reports (`codAmount`), in đồng; null until it says.
    pub carrier_cod_vnd: Option<i64>,
    /// A cancellation asked of VNPost that it has not carried out: still being asked,
    /// awaiting VNPost's approval, or refused. Null otherwise (and once the shipment has
    /// ended).
    pub cancellation: Option<CancellationView>,
    /// The citizens' tracking page for this shipment, `<server.public_url>/tra-cuu/<token>`
    /// (no sign-in; shows no personal data): print it on the appointment slip, or its QR
    /// code from `<tracking_url>/qr.svg`.
    pub tracking_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a cancellation asked of VNPost stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CancellationView {
    pub state: CancelState,
    /// VNPost's case number while it decides.
    pub case_id: Option<String>,
    /// VNPost's reason when it refused.
    pub reason: Option<String>,
}

impl ShipmentView {
    /// `pii`: show names, phones, e-mail, identity numbers and the address line in clear.
    /// `config`: for the `tracking_url`.
    pub fn new(s: &Shipment, pii: bool, config: &Config) -> ShipmentView {
        let person = PersonView {
            full_name: if pii {
                s.person_name.clone()
            } else {
                mask::name(&s.person_name)
            },
            phone: if pii {
                s.person_phone.clone()
            } else {
                mask::phone(&s.person_phone)
            },
            email: s
                .person_email
                .as_deref()
                .map(|e| if pii { e.to_owned() } else { mask::email(e) }),
            id_number: s.person_id_number.as_deref().map(|i| {
                if pii {
                    i.to_owned()
                } else {
                    mask::id_number(i)
                }
            }),
        };
        let kind = s.kind();
        ShipmentView {
            id: s.id,
            kind,
            status: s.status(),
            dossier_code: s.dossier_code.clone(),
            office_code: s.office_code.clone(),
            client_id: s.client_id.clone(),
            tracking_number: s.tracking_number.clone(),
            carrier: s.carrier.clone(),
            carrier_status: match (s.carrier_code, s.carrier_at) {
                (Some(code), Some(at)) => Some(CarrierStatus {
                    code,
                    text: s.carrier_text.clone(),
                    at,
                }),
                _ => None,
            },
            citizen: (kind == Kind::Pickup).then(|| person.clone()),
            recipient: (kind == Kind::Delivery).then_some(person),
            address: Address {
                line: if pii {
                    s.address_line.clone()
                } else {
                    mask::address_line(&s.address_line)
                },
                province_code: s.province_code.clone(),
                commune_code: s.commune_code.clone(),
            },
            procedure: Procedure {
                code: s.procedure_code.clone(),
                name: s.procedure_name.clone(),
            },
            documents: s.documents.clone(),
            result: s.result.clone(),
            collect_fees_vnd: s.collect_fees_vnd,
            cod_vnd: s.cod_vnd,
            carrier_fee_vnd: s.carrier_fee_vnd,
            carrier_cod_vnd: s.carrier_cod_vnd,
            cancellation: s.cancel_state().map(|state| CancellationView {
                state,
                case_id: s.cancel_case_id.clone(),
                reason: s.cancel_note.clone(),
            }),
            note: s.note.clone(),
            due_at: s.due_at,
            late: s.late,
            sequence: s.sequence,
            status_reason: s.status_reason.clone(),
            tracking_url: crate::citizen::token::tracking_url(config, s.id),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentPage {
    pub items: Vec<ShipmentView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub seq: i32,
    /// The status after this event; null when the event changed nothing.
    pub status: Option<Status>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub source: Source,
    pub carrier_code: Option<i32>,
    pub carrier_text: Option<String>,
    pub note: Option<String>,
    pub actor: Option<String>,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        EventView {
            seq: e.seq,
            status: e.status,
            occurred_at: e.occurred_at,
            recorded_at: e.recorded_at,
            source: e.source,
            carrier_code: e.carrier_code,
            carrier_text: e.carrier_text,
            note: e.note,
            actor: e.actor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub items: Vec<EventView>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CancelRequest {
    pub reason: String,
}
