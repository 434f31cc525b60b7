//! One shipment: its data (masked unless `staff:pii`), the whole timeline (every event, every
//! attempt at its carrier jobs and callbacks), the audit log, and the staff actions its
//! status allows, each with a reason, through the ledger's audited functions.

use super::session::Staff;
use super::{ConsoleError, Layout, format, html_status, see_other};
use crate::domain::admin_units::AdminUnits;
use crate::domain::outbox::{JobKind, JobState};
use crate::domain::request::{
    Address, CorrectionsIn, Invalid, corrections as validate_corrections, reason as check_reason,
};
use crate::domain::status::Outcome;
use crate::domain::{Action, AuditAction, Status, mask, phone};
use crate::ledger::attention::{self as ledger, AttemptRow, JobRow};
use crate::ledger::callbacks::{self, Callback};
use crate::ledger::models::{AuditEntry, CancelState, Event, Shipment};
use crate::ledger::shipments::{self, ActionError, CancelOutcome, RetryError};
use crate::ledger::{audit, events};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

/// Attempts shown on the page (a callback retried for 72 h makes a few dozen).
const MAX_ATTEMPTS: i64 = 500;

pub fn parse_id(raw: &str) -> Result<Uuid, ConsoleError> {
    Uuid::parse_str(raw).map_err(|_| ConsoleError::NotFound)
}

struct Summary {
    id: Uuid,
    dossier_code: String,
    kind: &'static str,
    is_delivery: bool,
    status: &'static str,
    status_class: &'static str,
    late: bool,
    office: String,
    office_name: String,
    client: String,
    tracking: String,
    sale_order_code: String,
    carrier_status: String,
    created: String,
    updated: String,
    due: String,
    picked_up: String,
    delivered: String,
    reason: String,
    /// The stored reason as it is, behind "chi tiết kỹ thuật".
    reason_technical: String,
    /// The carrier refused the office's data: the fix is in the configuration.
    office_side: bool,
    procedure: String,
    name: String,
    phone: String,
    email: String,
    id_number: String,
    address_line: String,
    place: String,
    documents: Vec<String>,
    result: String,
    note: String,
    fees: String,
    /// What VNPost reports it charges and collects.
    carrier_fees: String,
    /// A cancellation asked of VNPost and not carried out, in words.
    cancellation: String,
}

impl Summary {
    fn new(s: &Shipment, pii: bool, config: &crate::config::Config) -> Summary {
        let units = AdminUnits::get();
        let place = format!(
            "{}, {}",
            units
                .commune(&s.commune_code)
                .map_or(s.commune_code.as_str(), |c| c.name.as_str()),
            units
                .province(&s.province_code)
                .map_or(s.province_code.as_str(), |p| p.name.as_str())
        );
        let documents = s
            .documents
            .as_array()
            .map(|docs| {
                docs.iter()
                    .map(|d| {
                        format!(
                            "{} ({} bản)",
                            d["name"].as_str().unwrap_or(""),
                            d["copies"].as_u64().unwrap_or(1)
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let rejection = s
            .status_reason
            .as_deref()
            .map(|r| super::timeline::rejection(r, s.kind(), &s.office_code));
        Summary {
            id: s.id,
            dossier_code: s.dossier_code.clone(),
            kind: format::kind(s.kind()),
            is_delivery: s.kind() == crate::domain::Kind::Delivery,
            status: format::status_of(s.kind(), s.status()),
            status_class: format::status_class(s.status()),
            late: s.late,
            office: s.office_code.clone(),
            office_name: config
                .office(&s.office_code)
                .map(|o| o.name.clone())
                .unwrap_or_default(),
            client: config
                .client(&s.client_id)
                .map(|c| c.name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| s.client_id.clone()),
            tracking: s.tracking_number.clone().unwrap_or_default(),
            sale_order_code: s.sale_order_code.clone(),
            carrier_status: match (s.carrier_code, &s.carrier_text, s.carrier_at) {
                (Some(code), text, Some(at)) => format!(
                    "Mã {code}: {} ({})",
                    text.as_deref().unwrap_or(""),
                    format::datetime(at)
                ),
                _ => String::new(),
            },
            created: format::datetime(s.created_at),
            updated: format::datetime(s.updated_at),
            due: format::opt_datetime(s.due_at),
            picked_up: format::opt_datetime(s.picked_up_at),
            delivered: format::opt_datetime(s.delivered_at),
            reason: rejection
                .as_ref()
                .map(|r| r.text.clone())
                .unwrap_or_default(),
            reason_technical: rejection
                .as_ref()
                .map(|r| r.technical.clone())
                .unwrap_or_default(),
            office_side: rejection.as_ref().is_some_and(|r| r.office_side),
            procedure: format!("{} – {}", s.procedure_code, s.procedure_name),
            name: format::name(&s.person_name, pii),
            phone: format::phone(&s.person_phone, pii),
            email: s
                .person_email
                .as_deref()
                .map(|e| if pii { e.to_owned() } else { mask::email(e) })
                .unwrap_or_default(),
            id_number: s
                .person_id_number
                .as_deref()
                .map(|i| {
                    if pii {
                        i.to_owned()
                    } else {
                        mask::id_number(i)
                    }
                })
                .unwrap_or_default(),
            address_line: if pii {
                s.address_line.clone()
            } else {
                format!("{} (đã ẩn)", mask::address_line(&s.address_line))
            },
            place,
            documents,
            result: s
                .result
                .as_ref()
                .and_then(|r| r["description"].as_str())
                .unwrap_or("")
                .to_owned(),
            note: s.note.clone().unwrap_or_default(),
            fees: format!(
                "phí, lệ phí thu hộ: {}; thu tiền khi phát (COD): {}",
                format::vnd(s.collect_fees_vnd),
                format::vnd(s.cod_vnd)
            ),
            carrier_fees: match (s.carrier_fee_vnd, s.carrier_cod_vnd) {
                (None, None) => String::new(),
                (fee, cod) => {
                    let known = |v: Option<i64>| v.map_or("chưa báo".to_owned(), format::vnd);
                    format!("cước: {}; tiền thu hộ: {}", known(fee), known(cod))
                }
            },
            cancellation: match s.cancel_state() {
                None => String::new(),
                Some(CancelState::Requested) => "Đang gửi yêu cầu hủy đơn tới bưu điện".into(),
                Some(CancelState::AwaitingCarrier) => format!(
                    "Đang chờ VNPost duyệt yêu cầu hủy đơn{}",
                    s.cancel_case_id
                        .as_deref()
                        .map(|c| format!(" (hồ sơ yêu cầu số {c})"))
                        .unwrap_or_default()
                ),
                Some(CancelState::Refused) => format!(
                    "VNPost không đồng ý hủy đơn: {}",
                    s.cancel_note.as_deref().unwrap_or("không nêu lý do")
                ),
            },
        }
    }
}

struct JobView {
    kind: &'static str,
    state: &'static str,
    dead: bool,
    attempts: i32,
    last_error: String,
    updated: String,
}

struct CallbackView {
    kind: &'static str,
    sequence: i32,
    state: &'static str,
    stuck: bool,
    attempts: i32,
    last_error: String,
    created: String,
    delivered: String,
}

struct AuditView {
    at: String,
    actor: String,
    action: &'static str,
    reason: String,
    details: String,
    letter: Option<i64>,
}

fn audit_view(a: &AuditEntry) -> AuditView {
    AuditView {
        at: format::datetime(a.at),
        actor: match &a.actor_name {
            Some(n) => format!("{n} ({})", a.actor_id),
            None => a.actor_id.clone(),
        },
        action: format::audit_action(a.action),
        reason: a.reason.clone(),
        details: format::audit_details(&a.details),
        letter: (a.action == AuditAction::ApologyLetter).then_some(a.id),
    }
}

/// Values and errors of the action forms, kept when a form is shown again.
#[derive(Default)]
struct Forms {
    /// The form that failed: `retry`, `cancel` or `replay`.
    open: &'static str,
    errors: Vec<String>,
    reason: String,
    phone: String,
    address_line: String,
    province_code: String,
    commune_code: String,
    reason_error: String,
    phone_error: String,
    address_line_error: String,
    province_code_error: String,
    commune_code_error: String,
}

#[derive(Template)]
#[template(path = "console/shipment.html")]
struct ShipmentPage {
    layout: Layout,
    s: Summary,
    timeline: Vec<super::timeline::Row>,
    jobs: Vec<JobView>,
    callbacks: Vec<CallbackView>,
    audit: Vec<AuditView>,
    pii: bool,
    retry_rejected: bool,
    retry_dead: bool,
    cancel: bool,
    replay: bool,
    letter: bool,
    csrf: String,
    f: Forms,
    done: String,
}

struct Loaded {
    shipment: Shipment,
    events: Vec<Event>,
    attempts: Vec<AttemptRow>,
    jobs: Vec<JobRow>,
    callbacks: Vec<Callback>,
    audit: Vec<AuditEntry>,
}

async fn load(state: &AppState, staff: &Staff, id: Uuid) -> Result<Loaded, ConsoleError> {
    let mut conn = state.pool.get().await?;
    let shipment = shipments::find(&mut conn, id, &staff.who.visibility())
        .await?
        .ok_or(ConsoleError::NotFound)?;
    Ok(Loaded {
        events: events::list(&mut conn, id).await?,
        attempts: ledger::attempts(&mut conn, id, MAX_ATTEMPTS).await?,
        jobs: ledger::jobs_for(&mut conn, id).await?,
        callbacks: callbacks::for_shipment(&mut conn, id).await?,
        audit: audit::for_shipment(&mut conn, id).await?,
        shipment,
    })
}

fn view(
    state: &AppState,
    staff: &Staff,
    l: Loaded,
    mut f: Forms,
    done: String,
    status: StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    let pii = staff.sees_pii();
    let s = &l.shipment;
    if pii {
        // Prefilled so that only what changes needs typing (a refused form comes back
        // through a redirect that carries no personal data, so the same).
        f.phone = s.person_phone.clone();
        f.address_line = s.address_line.clone();
        f.province_code = s.province_code.clone();
        f.commune_code = s.commune_code.clone();
    }
    let can_act = staff.can_act();
    let dead_carrier_jobs = l
        .jobs
        .iter()
        .any(|j| j.state == JobState::Dead && j.kind != JobKind::Callback);
    let status_now = s.status();
    html_status(
        &ShipmentPage {
            layout: Layout::staff(&format!("Hồ sơ {}", s.dossier_code), staff, "search"),
            s: Summary::new(s, pii, &state.config),
            timeline: super::timeline::build(&l.events, &l.attempts, pii, s.kind(), &s.office_code),
            jobs: l
                .jobs
                .iter()
                .map(|j| JobView {
                    kind: format::job_kind(j.kind),
                    state: format::job_state(j.state),
                    dead: j.state == JobState::Dead,
                    attempts: j.attempts,
                    last_error: if pii {
                        j.last_error.clone().unwrap_or_default()
                    } else {
                        String::new()
                    },
                    updated: format::datetime(j.updated_at),
                })
                .collect(),
            callbacks: l
                .callbacks
                .iter()
                .map(|c| CallbackView {
                    kind: format::callback_type(c.type_),
                    sequence: c.sequence,
                    state: format::callback_state(c.state),
                    stuck: c.state.is_stuck(),
                    attempts: c.attempts,
                    last_error: c.last_error.clone().unwrap_or_default(),
                    created: format::datetime(c.created_at),
                    delivered: format::opt_datetime(c.delivered_at),
                })
                .collect(),
            audit: l.audit.iter().map(audit_view).collect(),
            pii,
            retry_rejected: can_act && status_now == Status::Rejected,
            retry_dead: can_act && status_now != Status::Rejected && dead_carrier_jobs,
            cancel: can_act
                && matches!(
                    Action::Cancel.apply(status_now),
                    Ok(Outcome::MoveTo(_) | Outcome::AskCarrierToCancel)
                ),
            replay: can_act && l.callbacks.iter().any(|c| c.state.is_stuck()),
            letter: can_act && pii && s.late,
            csrf: staff.csrf.clone(),
            f,
            done,
        },
        status,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
    #[serde(default)]
    n: Option<u32>,
    /// A refused form (`retry`, `cancel`, `replay`), after its POST was redirected here:
    /// the query holds codes only, never what was typed.
    #[serde(default)]
    form: String,
    /// Comma-separated codes of what was refused.
    #[serde(default)]
    err: String,
    /// The typed validation errors of a refused retry (JSON): field paths and kinds only.
    #[serde(default)]
    inv: String,
    /// The status that made a retry pointless.
    #[serde(default)]
    st: String,
    /// The other active shipment of the dossier.
    #[serde(default)]
    other: String,
}

fn done_message(d: &Done) -> String {
    match d.done.as_str() {
        "retry" => "Đã gửi lại: cổng sẽ gửi đơn sang bưu điện.".into(),
        "cancelled" => "Đã hủy đơn.".into(),
        "cancel_asked" => {
            "Đã đề nghị bưu điện hủy đơn; trạng thái sẽ đổi khi bưu điện đồng ý.".into()
        }
        "replay" => format!(
            "Đã xếp lại {} thông báo để gửi cho hệ thống một cửa.",
            d.n.unwrap_or(0)
        ),
        _ => String::new(),
    }
}

/// The refused form of a redirect, its messages in words.
fn refused_form(d: &Done) -> Forms {
    let open = match d.form.as_str() {
        "retry" => "retry",
        "cancel" => "cancel",
        "replay" => "replay",
        _ => return Forms::default(),
    };
    let mut f = Forms {
        open,
        ..Default::default()
    };
    for code in d.err.split(',').filter(|c| !c.is_empty()) {
        match code {
            "reason" => {
                f.reason_error = match open {
                    "cancel" => "Hãy ghi lý do hủy (1 đến 500 ký tự).",
                    _ => "Hãy ghi lý do (1 đến 500 ký tự).",
                }
                .into()
            }
            "invalid" => match serde_json::from_str::<Vec<Invalid>>(&d.inv) {
                Ok(errors) => field_errors(&mut f, &errors),
                Err(_) => f.errors.push("Dữ liệu sửa không hợp lệ.".into()),
            },
            "nothing" => f.errors.push(format!(
                "Không có gì để gửi lại: đơn đang ở trạng thái \"{}\" và không có công việc nào thất bại.",
                d.st.parse::<Status>().map(format::status).unwrap_or("?")
            )),
            "corrections" => f
                .errors
                .push("Chỉ sửa được thông tin của đơn bị từ chối.".into()),
            "duplicate" => f.errors.push(format!(
                "Hồ sơ này đã có một đơn khác cùng loại đang thực hiện (mã {}): hãy xử lý đơn đó.",
                Uuid::parse_str(&d.other).map(|u| u.to_string()).unwrap_or_default()
            )),
            "too_late" => f
                .errors
                .push("Không hủy được: bưu tá đã nhận hoặc đơn đã kết thúc.".into()),
            _ => f.errors.push("Dữ liệu sửa không hợp lệ.".into()),
        }
    }
    f
}

/// Where a refused form's POST sends the browser (POST-redirect-GET): the page, scrolled to
/// the message beside the form, so that F5 does not post again.
fn refused(id: Uuid, form: &str, codes: &[&str], extra: &[(&str, String)]) -> HttpResponse {
    let mut q: Vec<(&str, String)> = vec![("form", form.to_owned()), ("err", codes.join(","))];
    q.extend(extra.iter().cloned());
    see_other(&format!(
        "{}#refused",
        super::with_query(&format!("/console/shipments/{id}"), &q)
    ))
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    q: web::Query<Done>,
) -> Result<HttpResponse, ConsoleError> {
    let id = parse_id(&path)?;
    let loaded = load(&state, &staff, id).await?;
    view(
        &state,
        &staff,
        loaded,
        refused_form(&q),
        done_message(&q),
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    address_line: String,
    #[serde(default)]
    province_code: String,
    #[serde(default)]
    commune_code: String,
}

/// What the form changes: empty fields and unchanged values are no correction.
fn corrections(form: &RetryForm, s: &Shipment) -> Option<CorrectionsIn> {
    let phone_in = form.phone.trim();
    let phone = (!phone_in.is_empty()
        && phone::normalise(phone_in).as_deref() != Some(&s.person_phone))
    .then(|| phone_in.to_owned());
    let or = |v: &str, current: &str| {
        let v = v.trim();
        if v.is_empty() {
            current.to_owned()
        } else {
            v.to_owned()
        }
    };
    let address = Address {
        line: or(&form.address_line, &s.address_line),
        province_code: or(&form.province_code, &s.province_code),
        commune_code: or(&form.commune_code, &s.commune_code),
    };
    let address = (address.line != s.address_line
        || address.province_code != s.province_code
        || address.commune_code != s.commune_code)
        .then_some(address);
    (phone.is_some() || address.is_some()).then_some(CorrectionsIn {
        full_name: None,
        phone,
        address,
    })
}

/// The validation errors on their fields, in Vietnamese.
fn field_errors(f: &mut Forms, errors: &[Invalid]) {
    for e in errors {
        let slot = match e.field.as_str() {
            "reason" => &mut f.reason_error,
            "corrections.phone" => &mut f.phone_error,
            "corrections.address.line" => &mut f.address_line_error,
            "corrections.address.province_code" => &mut f.province_code_error,
            "corrections.address.commune_code" => &mut f.commune_code_error,
            _ => {
                f.errors.push(e.vi());
                continue;
            }
        };
        *slot = e.vi();
    }
}

pub async fn retry(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: web::Form<RetryForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check_csrf(&form.csrf)?;
    staff.require_act()?;
    let id = parse_id(&path)?;
    let shipment = {
        let mut conn = state.pool.get().await?;
        shipments::find(&mut conn, id, &staff.who.visibility())
            .await?
            .ok_or(ConsoleError::NotFound)?
    };
    let checked = match (
        check_reason(&form.reason),
        validate_corrections(corrections(&form, &shipment)),
    ) {
        (Ok(reason), Ok(fixes)) => Ok((reason, fixes)),
        (reason, fixes) => Err(reason
            .err()
            .into_iter()
            .chain(fixes.err().unwrap_or_default())
            .collect::<Vec<_>>()),
    };
    let (reason, fixes) = match checked {
        Ok(ok) => ok,
        Err(errors) => {
            // The typed errors travel in the redirect (no value typed is in them), to be
            // said in Vietnamese beside their fields.
            let typed = serde_json::to_string(&errors).unwrap_or_default();
            return Ok(refused(id, "retry", &["invalid"], &[("inv", typed)]));
        }
    };
    let mut conn = state.pool.get().await?;
    let outcome = shipments::retry(
        &mut conn,
        id,
        &staff.who.visibility(),
        &staff.actor(),
        &reason,
        fixes,
    )
    .await;
    drop(conn);
    Ok(match outcome {
        Ok(_) => see_other(&format!("/console/shipments/{id}?done=retry")),
        Err(RetryError::NotFound) => return Err(ConsoleError::NotFound),
        Err(RetryError::Db(e)) => return Err(e.into()),
        Err(RetryError::NothingToRetry(status)) => {
            refused(id, "retry", &["nothing"], &[("st", status.to_string())])
        }
        Err(RetryError::CorrectionsNeedRejected) => refused(id, "retry", &["corrections"], &[]),
        Err(RetryError::DuplicateActive(other)) => {
            refused(id, "retry", &["duplicate"], &[("other", other.to_string())])
        }
    })
}

#[derive(Debug, Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

impl ReasonForm {
    pub fn csrf(&self) -> &str {
        &self.csrf
    }
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// What an action with only a reason checks first: the form's token, the right to act, the
/// shipment's id, then the reason (`Ok(Err(_))`: the page again, `action`'s form refused).
fn reasoned_action(
    staff: &Staff,
    path: &str,
    form: &ReasonForm,
    action: &str,
) -> Result<Result<(Uuid, String), HttpResponse>, ConsoleError> {
    staff.check_csrf(&form.csrf)?;
    staff.require_act()?;
    let id = parse_id(path)?;
    Ok(check_reason(&form.reason)
        .map(|reason| (id, reason))
        .map_err(|_| refused(id, action, &["reason"], &[])))
}

pub async fn cancel(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: web::Form<ReasonForm>,
) -> Result<HttpResponse, ConsoleError> {
    let (id, reason) = match reasoned_action(&staff, &path, &form, "cancel")? {
        Ok(checked) => checked,
        Err(refusal) => return Ok(refusal),
    };
    let mut conn = state.pool.get().await?;
    let outcome = shipments::cancel(
        &mut conn,
        id,
        &staff.who.visibility(),
        &staff.actor(),
        &reason,
    )
    .await;
    drop(conn);
    match outcome {
        Ok(CancelOutcome::Cancelled(_)) => Ok(see_other(&format!(
            "/console/shipments/{id}?done=cancelled"
        ))),
        Ok(CancelOutcome::AskedCarrier(_)) => Ok(see_other(&format!(
            "/console/shipments/{id}?done=cancel_asked"
        ))),
        Err(ActionError::NotFound) => Err(ConsoleError::NotFound),
        Err(ActionError::Db(e)) => Err(e.into()),
        Err(ActionError::Transition(_)) => Ok(refused(id, "cancel", &["too_late"], &[])),
    }
}

pub async fn replay(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: web::Form<ReasonForm>,
) -> Result<HttpResponse, ConsoleError> {
    let (id, reason) = match reasoned_action(&staff, &path, &form, "replay")? {
        Ok(checked) => checked,
        Err(refusal) => return Ok(refusal),
    };
    let mut conn = state.pool.get().await?;
    match shipments::replay_callbacks(
        &mut conn,
        id,
        &staff.who.visibility(),
        &staff.actor(),
        &reason,
    )
    .await
    {
        Ok(n) => Ok(see_other(&format!(
            "/console/shipments/{id}?done=replay&n={n}"
        ))),
        Err(ActionError::NotFound | ActionError::Transition(_)) => Err(ConsoleError::NotFound),
        Err(ActionError::Db(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::InvalidKind;

    fn shipment() -> Shipment {
        Shipment::example()
    }

    fn form(phone: &str, line: &str, province: &str, commune: &str) -> RetryForm {
        RetryForm {
            csrf: String::new(),
            reason: "x".into(),
            phone: phone.into(),
            address_line: line.into(),
            province_code: province.into(),
            commune_code: commune.into(),
        }
    }

    #[test]
    fn only_what_changes_is_a_correction() {
        let s = shipment();
        assert!(corrections(&form("", "", "", ""), &s).is_none());
        assert!(corrections(&form("+84 912 345 678", "Số 12", "08", "02215"), &s).is_none());
        let c = corrections(&form("0987654321", "", "", ""), &s).unwrap();
        assert_eq!(c.phone.as_deref(), Some("0987654321"));
        assert!(c.address.is_none());
        let c = corrections(&form("", "", "", "00691"), &s).unwrap();
        let a = c.address.unwrap();
        assert_eq!(
            (
                a.line.as_str(),
                a.province_code.as_str(),
                a.commune_code.as_str()
            ),
            ("Số 12", "08", "00691")
        );
        assert!(c.phone.is_none());
    }

    #[test]
    fn refused_forms_come_back_from_codes() {
        let d = Done {
            form: "retry".into(),
            err: "invalid".into(),
            inv: serde_json::to_string(&[
                Invalid::new("corrections.phone", InvalidKind::Phone),
                Invalid::new(
                    "corrections.address.commune_code",
                    InvalidKind::UnknownCommune,
                ),
            ])
            .unwrap(),
            ..Default::default()
        };
        let f = refused_form(&d);
        assert_eq!(f.open, "retry");
        assert!(!f.phone_error.is_empty() && !f.commune_code_error.is_empty());
        assert!(f.errors.is_empty() && f.reason_error.is_empty());
        let d = Done {
            form: "retry".into(),
            err: "nothing".into(),
            st: "submitted".into(),
            ..Default::default()
        };
        assert!(refused_form(&d).errors[0].contains("Bưu điện đã nhận đơn"));
        let d = Done {
            form: "evil".into(),
            err: "reason".into(),
            ..Default::default()
        };
        assert_eq!(refused_form(&d).open, "");
        let r = refused(Uuid::nil(), "cancel", &["too_late"], &[]);
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let at = r.headers().get("Location").unwrap().to_str().unwrap();
        assert!(at.ends_with("?form=cancel&err=too_late#refused"), "{at}");
        // a forged or cut list of errors still says something
        let d = Done {
            form: "retry".into(),
            err: "invalid".into(),
            inv: "[{".into(),
            ..Default::default()
        };
        assert_eq!(refused_form(&d).errors, ["Dữ liệu sửa không hợp lệ."]);
    }
}
