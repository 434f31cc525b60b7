//! "Trễ hạn": late deliveries and pickups, and for each a printable apology letter
//! (*thư xin lỗi*) made from `[console] apology_template`. Issuing a letter is a staff action:
//! it is written to the audit log, and the letter can be printed again from there.

use super::letter::{self, Block};
use super::search::{Choice, Row, kind_choices, next_page, office_choices};
use super::session::Staff;
use super::shipment::parse_id;
use super::{ConsoleError, Layout, assets, format, forms, html, html_status, see_other};
use crate::auth::Scope;
use crate::domain::lateness::deadline;
use crate::domain::request::reason as check_reason;
use crate::domain::{AuditAction, Kind};
use crate::ledger::models::Shipment;
use crate::ledger::search::{self, Search};
use crate::ledger::shipments;
use crate::ledger::{audit, letters};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// The appointment the shipment missed: a delivery's `due_at`, a pickup's window end.
fn due(s: &Shipment, window: chrono::Duration) -> Option<DateTime<Utc>> {
    deadline(&s.timeline(), window)
}

struct LateRow {
    row: Row,
    deadline: String,
    done_at: String,
    letters: i64,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct Params {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    office: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    before: String,
}

#[derive(Template)]
#[template(path = "console/late.html")]
struct LatePage {
    layout: Layout,
    kinds: Vec<Choice>,
    offices: Vec<Choice>,
    rows: Vec<LateRow>,
    can_letter: bool,
    next_href: Option<String>,
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let p = params.into_inner();
    let config = &state.config;
    let limit = config.console.page_size as i64;
    let search = Search {
        late: Some(true),
        kind: p.kind.parse::<Kind>().ok(),
        office: (!p.office.is_empty()).then(|| p.office.clone()),
        before: Uuid::parse_str(&p.before).ok(),
        limit,
        ..Default::default()
    };
    let mut conn = state.pool.get().await?;
    let mut hits = search::search(&mut conn, &staff.who.visibility(), &search).await?;
    let next_before = next_page(&mut hits, limit);
    let ids: Vec<Uuid> = hits.iter().map(|h| h.id).collect();
    let letters: HashMap<Uuid, i64> = letters::issued(&mut conn, &ids)
        .await?
        .into_iter()
        .collect();
    drop(conn);
    let window = forms::pickup_window(&state.config);
    let pii = staff.sees_pii();
    let next_href = next_before.map(|before| {
        let next = Params {
            before,
            ..p.clone()
        };
        super::with_query("/console/late", &next)
    });
    html(&LatePage {
        layout: Layout::staff("Trễ hạn", &staff, "late"),
        kinds: kind_choices(&p.kind),
        offices: office_choices(config, &staff, &p.office),
        rows: hits
            .iter()
            .map(|h| {
                let deadline = match h.kind() {
                    Kind::Delivery => h.due_at,
                    Kind::Pickup => Some(h.created_at + window),
                };
                let done_at = match h.kind() {
                    Kind::Delivery => h.delivered_at,
                    Kind::Pickup => h.picked_up_at,
                };
                LateRow {
                    row: Row::new(h, pii, config),
                    deadline: format::opt_datetime(deadline),
                    done_at: format::opt_datetime(done_at),
                    letters: letters.get(&h.id).copied().unwrap_or(0),
                }
            })
            .collect(),
        can_letter: staff.can_act() && pii,
        next_href,
    })
}

/// Letters carry the citizen's name in clear, and issuing one is an action.
fn require_letters(staff: &Staff) -> Result<(), ConsoleError> {
    staff.require_act()?;
    if staff.who.has(Scope::StaffPii) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(
            "Thư xin lỗi ghi rõ họ tên công dân: cần quyền xem dữ liệu cá nhân (staff:pii).",
        ))
    }
}

#[derive(Template)]
#[template(path = "console/letter_form.html")]
struct LetterForm {
    layout: Layout,
    id: Uuid,
    dossier_code: String,
    name: String,
    kind: &'static str,
    procedure: String,
    due: String,
    csrf: String,
    new_date: String,
    reason: String,
    errors: Vec<String>,
    issued: Vec<(i64, String)>,
}

async fn letter_form_page(
    state: &AppState,
    staff: &Staff,
    id: Uuid,
    new_date: String,
    reason: String,
    errors: Vec<String>,
) -> Result<HttpResponse, ConsoleError> {
    let mut conn = state.pool.get().await?;
    let s = shipments::find(&mut conn, id, &staff.who.visibility())
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let issued = audit::for_shipment(&mut conn, id)
        .await?
        .into_iter()
        .filter(|a| a.action == AuditAction::ApologyLetter)
        .map(|a| (a.id, format::datetime(a.at)))
        .collect();
    drop(conn);
    html_status(
        &LetterForm {
            layout: Layout::staff("Lập thư xin lỗi", staff, "late"),
            id,
            dossier_code: s.dossier_code.clone(),
            name: s.person_name.clone(),
            kind: format::kind(s.kind()),
            procedure: s.procedure_name.clone(),
            due: format::opt_datetime(due(&s, forms::pickup_window(&state.config))),
            csrf: staff.csrf.clone(),
            new_date,
            reason,
            errors,
            issued,
        },
        StatusCode::OK,
    )
}

/// A refused letter form, after its POST was redirected: codes and the date only (never the
/// reason typed, which may name the citizen).
#[derive(Debug, Default, Deserialize)]
pub struct LetterRefused {
    #[serde(default)]
    err: String,
    #[serde(default)]
    new_date: String,
}

pub async fn letter_form(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    q: web::Query<LetterRefused>,
) -> Result<HttpResponse, ConsoleError> {
    require_letters(&staff)?;
    let id = parse_id(&path)?;
    let suggested = format::today() + chrono::Duration::days(3);
    let errors = q
        .err
        .split(',')
        .filter_map(|code| match code {
            "past" => Some("Ngày hẹn mới không được trước ngày hôm nay."),
            "date" => Some("Hãy ghi ngày hẹn mới theo dạng dd/mm/yyyy."),
            "reason" => Some("Hãy ghi lý do chậm trễ (1 đến 500 ký tự)."),
            _ => None,
        })
        .map(str::to_owned)
        .collect();
    let new_date = if q.new_date.is_empty() {
        format::input_date(Some(suggested))
    } else {
        format::input_again(&q.new_date)
    };
    letter_form_page(&state, &staff, id, new_date, String::new(), errors).await
}

#[derive(Debug, Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    new_date: String,
    #[serde(default)]
    reason: String,
}

pub async fn issue_letter(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: web::Form<IssueForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check_csrf(&form.csrf)?;
    require_letters(&staff)?;
    let id = parse_id(&path)?;
    let mut errors = Vec::new();
    let new_date = match format::parse_date(&form.new_date) {
        Some(d) if d >= format::today() => Some(d),
        Some(_) => {
            errors.push("past");
            None
        }
        None => {
            errors.push("date");
            None
        }
    };
    let reason = check_reason(&form.reason);
    if reason.is_err() {
        errors.push("reason");
    }
    let (Some(new_date), Ok(reason), true) = (new_date, reason, errors.is_empty()) else {
        // POST-redirect-GET: F5 on the answer does not post again.
        let date = format::parse_date(&form.new_date)
            .map(|d| d.format("%d/%m/%Y").to_string())
            .unwrap_or_default();
        let q = serde_urlencoded::to_string([("err", errors.join(",")), ("new_date", date)])
            .unwrap_or_default();
        return Ok(see_other(&format!(
            "/console/shipments/{id}/letter?{q}#refused"
        )));
    };
    let mut conn = state.pool.get().await?;
    let s = shipments::find(&mut conn, id, &staff.who.visibility())
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let letter_id = audit::record(
        &mut conn,
        audit::entry(
            &staff.actor(),
            AuditAction::ApologyLetter,
            Some(s.id),
            &reason,
            serde_json::json!({
                "new_date": new_date.format("%d/%m/%Y").to_string(),
                "due_date": format::opt_date(due(&s, forms::pickup_window(&state.config))),
            }),
        ),
    )
    .await?;
    Ok(see_other(&format!("/console/letters/{letter_id}")))
}

#[derive(Template)]
#[template(path = "console/letter.html")]
struct LetterPage {
    layout: Layout,
    print_js: &'static str,
    shipment_id: Uuid,
    blocks: Vec<Block>,
}

/// Day and month as Vietnamese administrative documents write them: a leading zero for days
/// below 10 and for January and February (Decree 30/2020/NĐ-CP).
fn admin_day_month(d: NaiveDate) -> (String, String) {
    let day = format!("{:02}", d.day());
    let month = if d.month() <= 2 {
        format!("{:02}", d.month())
    } else {
        d.month().to_string()
    };
    (day, month)
}

pub async fn letter(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    if !staff.who.has(Scope::StaffPii) {
        return Err(ConsoleError::Forbidden(
            "Thư xin lỗi ghi rõ họ tên công dân: cần quyền xem dữ liệu cá nhân (staff:pii).",
        ));
    }
    let id: i64 = path.parse().map_err(|_| ConsoleError::NotFound)?;
    let mut conn = state.pool.get().await?;
    let entry = audit::by_id(&mut conn, id)
        .await?
        .filter(|a| a.action == AuditAction::ApologyLetter)
        .ok_or(ConsoleError::NotFound)?;
    let s = shipments::find(
        &mut conn,
        entry.shipment_id.ok_or(ConsoleError::NotFound)?,
        &staff.who.visibility(),
    )
    .await?
    .ok_or(ConsoleError::NotFound)?;
    drop(conn);
    let config = &state.config;
    let office = config.office(&s.office_code);
    let issued = entry.at.with_timezone(&format::vn()).date_naive();
    let (day, month) = admin_day_month(issued);
    let office_name = office.map_or(s.office_code.clone(), |o| o.name.clone());
    let values: HashMap<&str, String> = HashMap::from([
        ("department", config.console.department.clone()),
        ("department_upper", config.console.department.to_uppercase()),
        ("office_name_upper", office_name.to_uppercase()),
        ("office_name", office_name),
        (
            "office_address",
            office.map_or(String::new(), |o| o.address.line.clone()),
        ),
        (
            "office_phone",
            office.map_or(String::new(), |o| o.phone.clone()),
        ),
        ("place", config.console.place.clone()),
        ("day", day),
        ("month", month),
        ("year", issued.year().to_string()),
        ("citizen_name", s.person_name.clone()),
        ("dossier_code", s.dossier_code.clone()),
        ("procedure_name", s.procedure_name.clone()),
        (
            "tracking_number",
            s.tracking_number.clone().unwrap_or_default(),
        ),
        (
            "what",
            match s.kind() {
                Kind::Delivery => "trả kết quả",
                Kind::Pickup => "tiếp nhận hồ sơ",
            }
            .to_owned(),
        ),
        (
            "due_date",
            entry.details["due_date"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format::opt_date(due(&s, forms::pickup_window(&state.config)))),
        ),
        (
            "new_date",
            entry.details["new_date"].as_str().unwrap_or("").to_owned(),
        ),
        ("reason", entry.reason.clone()),
        (
            "officer_name",
            entry.actor_name.clone().unwrap_or(entry.actor_id.clone()),
        ),
    ]);
    html(&LetterPage {
        layout: Layout::staff("Thư xin lỗi", &staff, "late"),
        print_js: assets::print_href(),
        shipment_id: s.id,
        blocks: letter::render(&config.console.apology_template, &values),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrative_dates() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(admin_day_month(d(2026, 2, 5)), ("05".into(), "02".into()));
        assert_eq!(admin_day_month(d(2026, 12, 1)), ("01".into(), "12".into()));
        assert_eq!(admin_day_month(d(2026, 3, 15)), ("15".into(), "3".into()));
    }
}
