//! Request and response bodies of the dossier-system API (SPEC §3), and the validation of
//! every request field. Validation collects every problem, each naming its field.

use crate::config::Config;
use crate::domain::admin_units::{AddressError, AdminUnits};
use crate::domain::{Kind, Source, Status, dossier, mask, phone, text};
use crate::error::FieldError;
use crate::ledger::models::{CancelState, Event, Shipment};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub const MAX_FEE_VND: i64 = 100_000_000;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Procedure {
    /// Code of the administrative procedure, e.g. `1.004227`.
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PersonIn {
    pub full_name: String,
    /// Vietnamese number: `0` + 9 digits or `+84` + 9 digits.
    pub phone: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Citizen identity number (12 digits) or old identity card (9 digits).
    #[serde(default)]
    pub id_number: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Address {
    /// House number, street, hamlet.
    pub line: String,
    /// 2-digit province code (2025 units).
    pub province_code: String,
    /// 5-digit commune code (2025 units).
    pub commune_code: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Document {
    pub name: String,
    #[serde(default = "one")]
    pub copies: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ResultInfo {
    pub description: String,
    #[serde(default)]
    pub documents: Vec<Document>,
}

/// `POST /v1/pickups`: a postal worker collects the citizen's dossier and brings it to the office.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(example = json!({
    "dossier_code": "000.00.14.H61-230512-0001", "office_code": "VPDKDD-TQ",
    "procedure": {"code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất"},
    "citizen": {"full_name": "Nguyễn Văn An", "phone": "0912345678", "email": null, "id_number": "008090001234"},
    "address": {"line": "Số 12, tổ 5", "province_code": "08", "commune_code": "02215"},
    "documents": [{"name": "Đơn đăng ký biến động", "copies": 1}], "collect_fees_vnd": 0, "note": "Gọi trước khi đến"}))]
pub struct PickupRequest {
    pub dossier_code: String,
    pub office_code: String,
    pub procedure: Procedure,
    pub citizen: PersonIn,
    pub address: Address,
    #[serde(default)]
    pub documents: Vec<Document>,
    #[serde(default)]
    pub collect_fees_vnd: i64,
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /v1/deliveries`: a postal worker takes a procedure's result from the office to the citizen.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DeliveryRequest {
    pub dossier_code: String,
    pub office_code: String,
    pub procedure: Procedure,
    pub recipient: PersonIn,
    pub address: Address,
    pub result: ResultInfo,
    #[serde(default)]
    pub documents: Vec<Document>,
    /// The appointment date on the receipt (giấy hẹn trả kết quả).
    #[serde(default)]
    pub due_at: Option<DateTime<FixedOffset>>,
    /// Cash to collect from the recipient.
    #[serde(default)]
    pub cod_vnd: i64,
    #[serde(default)]
    pub collect_fees_vnd: i64,
    #[serde(default)]
    pub note: Option<String>,
}

/// The parts common to both kinds, after parsing.
struct Common<'a> {
    kind: Kind,
    dossier_code: &'a str,
    office_code: &'a str,
    procedure: &'a Procedure,
    person_field: &'static str,
    person: &'a PersonIn,
    address: &'a Address,
    documents: &'a [Document],
    collect_fees_vnd: i64,
    note: Option<&'a String>,
}

struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn err(&mut self, field: impl Into<String>, msg: impl Into<String>) {
        self.errors.push(FieldError::new(field, msg));
    }

    /// Non-blank text of at most `max` characters, without control, bidi or zero-width
    /// characters.
    fn text(&mut self, field: &str, value: &str, max: usize) {
        let n = value.chars().count();
        if value.trim().is_empty() {
            self.err(field, "must not be empty");
        } else if n > max {
            self.err(field, format!("must be at most {max} characters (got {n})"));
        } else if let Some(problem) = text::line_problem(value) {
            self.err(field, problem);
        }
    }

    /// Free text (bidi and zero-width characters already stripped by `strip_free_text`).
    fn optional_text(&mut self, field: &str, value: Option<&String>, max: usize) {
        if let Some(v) = value {
            let n = v.chars().count();
            if n > max {
                self.err(field, format!("must be at most {max} characters (got {n})"));
            } else if let Some(problem) = text::free_text_problem(v) {
                self.err(field, problem);
            }
        }
    }

    fn amount(&mut self, field: &str, v: i64) {
        if !(0..=MAX_FEE_VND).contains(&v) {
            self.err(field, format!("must be between 0 and {MAX_FEE_VND} VND"));
        }
    }

    fn documents(&mut self, field: &str, docs: &[Document]) {
        if docs.len() > 50 {
            self.err(field, "at most 50 documents");
        }
        for (i, d) in docs.iter().enumerate() {
            self.text(&format!("{field}[{i}].name"), &d.name, 255);
            if !(1..=100).contains(&d.copies) {
                self.err(format!("{field}[{i}].copies"), "must be between 1 and 100");
            }
        }
    }

    fn common(&mut self, c: &Common<'_>, config: &Config) -> Option<String> {
        if c.dossier_code.chars().count() > 64 {
            self.err("dossier_code", "must be at most 64 characters");
        } else if let Err(e) = dossier::validate(c.dossier_code) {
            self.err("dossier_code", e.to_string());
        }
        if config.office(c.office_code).is_none() {
            self.err("office_code", "is not a configured office");
        }
        self.text("procedure.code", &c.procedure.code, 32);
        self.text("procedure.name", &c.procedure.name, 255);
        let p = c.person_field;
        self.text(&format!("{p}.full_name"), &c.person.full_name, 100);
        let phone = phone::normalise(&c.person.phone);
        if phone.is_none() {
            self.err(
                format!("{p}.phone"),
                "must be a Vietnamese phone number: 0 + 9 digits, or +84 + 9 digits",
            );
        }
        if let Some(email) = &c.person.email {
            let ok = email.len() <= 254
                && !email.chars().any(char::is_whitespace)
                && matches!(email.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains('@'));
            if let Some(problem) = text::line_problem(email) {
                self.err(format!("{p}.email"), problem);
            } else if !ok {
                self.err(format!("{p}.email"), "is not an e-mail address");
            }
        }
        if let Some(id) = &c.person.id_number
            && (!(id.len() == 12 || id.len() == 9) || !id.bytes().all(|b| b.is_ascii_digit()))
        {
            self.err(
                format!("{p}.id_number"),
                "must be 12 digits (citizen identity) or 9 digits (old identity card)",
            );
        }
        self.text("address.line", &c.address.line, 255);
        self.errors.extend(address_code_errors(
            &c.address.province_code,
            &c.address.commune_code,
        ));
        self.documents("documents", c.documents);
        self.amount("collect_fees_vnd", c.collect_fees_vnd);
        self.optional_text("note", c.note, 500);
        phone
    }
}

fn new_row(c: &Common<'_>, client_id: &str, phone: String, now: DateTime<Utc>) -> Shipment {
    // PostgreSQL keeps microseconds: the response is rendered from this row, so it must be
    // what a later read returns.
    let now = chrono::SubsecRound::trunc_subsecs(now, 6);
    let id = Uuid::now_v7();
    Shipment {
        id,
        kind: c.kind.as_str().into(),
        status: Status::Requested.as_str().into(),
        sequence: 1,
        client_id: client_id.into(),
        office_code: c.office_code.into(),
        dossier_code: c.dossier_code.into(),
        procedure_code: c.procedure.code.trim().into(),
        procedure_name: c.procedure.name.trim().into(),
        person_name: c
            .person
            .full_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        person_phone: phone,
        person_email: c.person.email.clone(),
        person_id_number: c.person.id_number.clone(),
        address_line: c.address.line.trim().into(),
        province_code: c.address.province_code.clone(),
        commune_code: c.address.commune_code.clone(),
        documents: serde_json::to_value(c.documents).expect("documents serialise"),
        result: None,
        collect_fees_vnd: c.collect_fees_vnd,
        cod_vnd: 0,
        note: c.note.cloned(),
        due_at: None,
        late: false,
        sale_order_code: sale_order_code(id),
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
        created_at: now,
        updated_at: now,
        carrier_fee_vnd: None,
        carrier_cod_vnd: None,
        cancel_state: None,
        cancel_case_id: None,
        cancel_note: None,
    }
}

/// What is wrong with a 2025 province and commune code pair, as `address.*` field errors.
pub fn address_code_errors(province_code: &str, commune_code: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (province_shape, commune_shape) = (digits(province_code, 2), digits(commune_code, 5));
    if !province_shape {
        errors.push(FieldError::new("address.province_code", "must be 2 digits"));
    }
    if !commune_shape {
        errors.push(FieldError::new("address.commune_code", "must be 5 digits"));
    }
    if province_shape && commune_shape {
        let (field, message) = match AdminUnits::get().check(province_code, commune_code) {
            Ok(()) => return errors,
            Err(AddressError::UnknownProvince) => (
                "address.province_code",
                "is not a province of the 2025 administrative units".to_owned(),
            ),
            Err(AddressError::UnknownCommune) => (
                "address.commune_code",
                "is not a commune of the 2025 administrative units".to_owned(),
            ),
            Err(AddressError::CommuneOutsideProvince) => (
                "address.commune_code",
                format!("is not in province {province_code}"),
            ),
        };
        errors.push(FieldError::new(field, message));
    }
    errors
}

/// The shipment's own reference at the carrier (`saleOrderCode`): unique, derived from its id.
pub fn sale_order_code(id: Uuid) -> String {
    format!("BCCI{}", id.simple()).to_uppercase()
}

/// Strips bidi and zero-width characters from free text (see `domain::text`).
fn strip_free_text(note: &mut Option<String>, documents: &mut [Document]) {
    if let Some(n) = note {
        *n = text::strip_invisible(n);
    }
    for d in documents {
        d.name = text::strip_invisible(&d.name);
    }
}

impl PickupRequest {
    /// Removes what free text may not keep; names and codes are checked by `validate`.
    pub fn strip_free_text(mut self) -> Self {
        strip_free_text(&mut self.note, &mut self.documents);
        self
    }

    pub fn validate(
        &self,
        config: &Config,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Shipment, Vec<FieldError>> {
        let c = Common {
            kind: Kind::Pickup,
            dossier_code: &self.dossier_code,
            office_code: &self.office_code,
            procedure: &self.procedure,
            person_field: "citizen",
            person: &self.citizen,
            address: &self.address,
            documents: &self.documents,
            collect_fees_vnd: self.collect_fees_vnd,
            note: self.note.as_ref(),
        };
        let mut ck = Checker { errors: vec![] };
        let phone = ck.common(&c, config);
        match phone {
            Some(p) if ck.errors.is_empty() => Ok(new_row(&c, client_id, p, now)),
            _ => Err(ck.errors),
        }
    }
}

impl DeliveryRequest {
    /// Removes what free text may not keep; names and codes are checked by `validate`.
    pub fn strip_free_text(mut self) -> Self {
        strip_free_text(&mut self.note, &mut self.documents);
        strip_free_text(&mut None, &mut self.result.documents);
        self.result.description = text::strip_invisible(&self.result.description);
        self
    }

    pub fn validate(
        &self,
        config: &Config,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Shipment, Vec<FieldError>> {
        let c = Common {
            kind: Kind::Delivery,
            dossier_code: &self.dossier_code,
            office_code: &self.office_code,
            procedure: &self.procedure,
            person_field: "recipient",
            person: &self.recipient,
            address: &self.address,
            documents: &self.documents,
            collect_fees_vnd: self.collect_fees_vnd,
            note: self.note.as_ref(),
        };
        let mut ck = Checker { errors: vec![] };
        let phone = ck.common(&c, config);
        ck.text("result.description", &self.result.description, 500);
        ck.documents("result.documents", &self.result.documents);
        ck.amount("cod_vnd", self.cod_vnd);
        match phone {
            Some(p) if ck.errors.is_empty() => {
                let mut row = new_row(&c, client_id, p, now);
                row.result = Some(serde_json::to_value(&self.result).expect("result serialises"));
                row.cod_vnd = self.cod_vnd;
                row.due_at = self.due_at.map(|d| d.with_timezone(&Utc));
                Ok(row)
            }
            _ => Err(ck.errors),
        }
    }
}

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
    #[schema(value_type = Vec<Document>)]
    pub documents: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ResultInfo>)]
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
            status: e.status.and_then(|s| s.parse().ok()),
            occurred_at: e.occurred_at,
            recorded_at: e.recorded_at,
            source: e.source.parse().unwrap_or(Source::Gateway),
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
