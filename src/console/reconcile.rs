//! "Đối soát": the month's money with VNPost (issue 10 §3), per month and office. Staff with
//! `staff:act` pull VNPost's list for the month (POST, then a redirect); everyone signed in
//! reads the figures side by side, the differences per shipment, and downloads the workbook
//! and CSV files.

use super::search::{Choice, office_choices};
use super::session::Staff;
use super::{ConsoleError, Layout, format, forms, html, see_other};
use crate::domain::reconcile::{Month, OfficeSummary, Report};
use crate::reconcile::export::{self, NO_OFFICE, Section};
use crate::reconcile::{PullError, Starter, office_names};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/doi-soat", web::get().to(page))
        .route("/doi-soat", web::post().to(run))
        .route("/doi-soat.xlsx", web::get().to(workbook))
        .route("/doi-soat.csv", web::get().to(csv));
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct Params {
    #[serde(default)]
    month: String,
    #[serde(default)]
    office: String,
    /// After a pull: `ok`, or why it failed (see [`outcome_words`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pulled: String,
    /// CSV: which section.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    section: String,
}

/// The month asked for, or this month in Vietnam.
fn month_of(p: &Params) -> Result<Month, ConsoleError> {
    if p.month.trim().is_empty() {
        return Ok(Month::of(chrono::Utc::now()));
    }
    forms::month(&p.month)
}

/// The offices this staff member may see, and the one chosen (empty: all of them).
fn visible(staff: &Staff, chosen: &str) -> impl Fn(Option<&str>) -> bool {
    let mine = staff.who.offices.clone();
    let chosen = chosen.to_owned();
    move |office: Option<&str>| {
        let allowed = match (&mine, office) {
            (None, _) => true,
            (Some(list), Some(o)) => list.iter().any(|m| m == o),
            // Orders of no known office are for staff of every office.
            (Some(_), None) => false,
        };
        allowed && (chosen.is_empty() || office == Some(chosen.as_str()))
    }
}

/// 1234567 → "1.234.567 ₫".
fn vnd(amount: i64) -> String {
    format!("{} ₫", format::vnd(amount).trim_end_matches(" đ"))
}

/// How the last pull went, shown after the redirect.
struct Notice {
    ok: bool,
    words: &'static str,
}

fn outcome_words(code: &str) -> Option<Notice> {
    let (ok, words) = match code {
        "ok" => (
            true,
            "Đã lấy danh sách đơn của VNPost và cập nhật số liệu đối soát.",
        ),
        "not_begun" => (false, "Tháng này chưa bắt đầu: chưa có gì để đối soát."),
        "refused" => (
            false,
            "VNPost từ chối trả danh sách đơn. Xin thử lại sau; nếu vẫn lỗi, báo bộ phận kỹ thuật.",
        ),
        "auth" => (
            false,
            "VNPost không chấp nhận tài khoản kết nối của cổng. Cần kiểm tra cấu hình kết nối VNPost.",
        ),
        "protocol" => (
            false,
            "VNPost trả về danh sách đơn không đọc được. Xin thử lại sau; nếu vẫn lỗi, báo bộ phận kỹ thuật.",
        ),
        "carrier" => (
            false,
            "Không kết nối được VNPost để lấy danh sách đơn. Xin thử lại sau ít phút.",
        ),
        "ledger" => (
            false,
            "Không ghi được số liệu vào sổ của cổng. Xin thử lại sau ít phút.",
        ),
        _ => return None,
    };
    Some(Notice { ok, words })
}

struct SummaryRow {
    office: String,
    ledger_shipments: i64,
    ledger_fee: String,
    carrier_shipments: i64,
    carrier_fee: String,
    fee_gap: String,
    gap: bool,
    cod_to_collect: String,
    cod_collected: String,
    cod_paid: String,
    cod_outstanding: String,
    owed: bool,
    cancel_fees: i64,
    cancel_fees_vnd: String,
}

impl SummaryRow {
    fn new(name: String, o: &OfficeSummary) -> SummaryRow {
        SummaryRow {
            office: name,
            ledger_shipments: o.ledger_shipments,
            ledger_fee: vnd(o.ledger_fee_vnd),
            carrier_shipments: o.carrier_shipments,
            carrier_fee: vnd(o.carrier_fee_vnd),
            fee_gap: vnd(o.carrier_fee_vnd - o.ledger_fee_vnd),
            gap: o.carrier_fee_vnd != o.ledger_fee_vnd || o.carrier_shipments != o.ledger_shipments,
            cod_to_collect: vnd(o.cod_to_collect_vnd),
            cod_collected: vnd(o.cod_collected_vnd),
            cod_paid: vnd(o.cod_paid_vnd),
            cod_outstanding: vnd(o.cod_outstanding_vnd),
            owed: o.cod_outstanding_vnd > 0,
            cancel_fees: o.cancel_fees,
            cancel_fees_vnd: vnd(o.cancel_fees_vnd),
        }
    }
}

struct DiffRow {
    kind: &'static str,
    kind_code: &'static str,
    office: String,
    shipment_href: Option<String>,
    dossier_code: String,
    item_code: String,
    sale_order_code: String,
    ledger: String,
    carrier: String,
    days: String,
}

struct FeeRow {
    office: String,
    shipment_href: Option<String>,
    dossier_code: String,
    item_code: String,
    fee: String,
    at: String,
}

#[derive(Template)]
#[template(path = "console/reconcile.html")]
struct ReconcilePage {
    layout: Layout,
    month: String,
    month_label: String,
    office: String,
    offices: Vec<Choice>,
    can_run: bool,
    csrf: String,
    notice: Option<Notice>,
    pulled_at: String,
    pulled_by: String,
    pulled_counts: String,
    pulled: bool,
    summary: Vec<SummaryRow>,
    total: Option<SummaryRow>,
    cancel_fees: Vec<FeeRow>,
    differences: Vec<DiffRow>,
    payout_days: u32,
    xlsx_href: String,
    csv_href: String,
}

fn href(base: &str, month: Month, office: &str, section: Option<Section>) -> String {
    let mut q = vec![("month", month.to_string())];
    if !office.is_empty() {
        q.push(("office", office.to_owned()));
    }
    if let Some(s) = section {
        q.push(("section", s.as_str().to_owned()));
    }
    super::with_query(base, &q)
}

/// The month's report as this staff member may see it.
async fn load(
    state: &AppState,
    staff: &Staff,
    month: Month,
    office: &str,
) -> Result<Option<(crate::ledger::reconcile::Run, Report)>, ConsoleError> {
    let mut conn = state.pool.get().await?;
    let found = crate::reconcile::report(&mut conn, &state.config, month, chrono::Utc::now())
        .await
        .map_err(|e| ConsoleError::Internal(e.into()))?;
    Ok(found.map(|(run, r)| {
        let r = r.only(visible(staff, office));
        (run, r)
    }))
}

/// An office this staff member may not see (not among `offices`) shows nothing rather than
/// everything.
fn check_office(offices: &[Choice], office: &str) -> Result<(), ConsoleError> {
    if office.is_empty() || offices.iter().any(|c| c.value == office) {
        Ok(())
    } else {
        Err(ConsoleError::NotFound)
    }
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let p = params.into_inner();
    let month = month_of(&p)?;
    let offices = office_choices(&state.config, &staff, &p.office);
    check_office(&offices, &p.office)?;
    let office = p.office.clone();
    let names = office_names(&state.config);
    let name = |code: Option<&str>| match code {
        Some(c) => names.get(c).cloned().unwrap_or_else(|| c.to_owned()),
        None => NO_OFFICE.to_owned(),
    };
    let found = load(&state, &staff, month, &office).await?;
    let shipment_href = |id: Option<uuid::Uuid>| id.map(|id| format!("/console/shipments/{id}"));
    let mut page = ReconcilePage {
        layout: Layout::staff("Đối soát", &staff, "reconcile"),
        month: month.to_string(),
        month_label: month.label(),
        office: office.clone(),
        offices,
        can_run: staff.can_act(),
        csrf: staff.csrf.clone(),
        notice: outcome_words(&p.pulled),
        pulled_at: String::new(),
        pulled_by: String::new(),
        pulled_counts: String::new(),
        pulled: false,
        summary: Vec::new(),
        total: None,
        cancel_fees: Vec::new(),
        differences: Vec::new(),
        payout_days: state.config.reconcile.cod_payout_days,
        xlsx_href: href("/console/doi-soat.xlsx", month, &office, None),
        csv_href: href(
            "/console/doi-soat.csv",
            month,
            &office,
            Some(Section::Differences),
        ),
    };
    if let Some((run, r)) = found {
        page.pulled = true;
        page.pulled_at = format::datetime(run.finished_at);
        page.pulled_by = run
            .started_by_name
            .clone()
            .unwrap_or(run.started_by.clone());
        page.pulled_counts = format!(
            "VNPost liệt kê {} đơn thay đổi từ {} đến {}; {} đơn thuộc tháng {}.",
            run.listed,
            run.date_from.format("%d/%m/%Y"),
            run.date_to.format("%d/%m/%Y"),
            run.kept,
            month.label()
        );
        page.summary = r
            .offices
            .iter()
            .map(|o| SummaryRow::new(name(o.office.as_deref()), o))
            .collect();
        page.total = Some(SummaryRow::new("Tổng cộng".into(), &r.total));
        page.cancel_fees = r
            .cancel_fees
            .iter()
            .map(|c| FeeRow {
                office: name(c.office.as_deref()),
                shipment_href: shipment_href(c.shipment_id),
                dossier_code: c.dossier_code.clone().unwrap_or_default(),
                item_code: c.item_code.clone(),
                fee: vnd(c.fee_vnd),
                at: format::opt_date(c.at),
            })
            .collect();
        page.differences = r
            .differences
            .iter()
            .map(|d| DiffRow {
                kind: d.kind.label(),
                kind_code: d.kind.as_str(),
                office: name(d.office.as_deref()),
                shipment_href: shipment_href(d.shipment_id),
                dossier_code: d.dossier_code.clone().unwrap_or_default(),
                item_code: d.item_code.clone().unwrap_or_default(),
                sale_order_code: d.sale_order_code.clone().unwrap_or_default(),
                ledger: d.ledger_vnd.map(vnd).unwrap_or_default(),
                carrier: d.carrier_vnd.map(vnd).unwrap_or_default(),
                days: d.days.map(|n| format!("{n} ngày")).unwrap_or_default(),
            })
            .collect();
    }
    html(&page)
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    csrf: String,
    month: String,
    #[serde(default)]
    office: String,
}

/// Pulls VNPost's list for the month, then back to the page (which says how it went).
pub async fn run(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<RunForm>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    staff.check_csrf(&f.csrf)?;
    staff.require_act()?;
    let month = forms::month(&f.month)?;
    let who = Starter {
        id: staff.who.sub.clone(),
        name: staff.who.name.clone(),
        staff: true,
    };
    let outcome =
        match crate::reconcile::pull(&state.pool, &state.carrier, month, &who, chrono::Utc::now())
            .await
        {
            Ok(_) => "ok",
            Err(e) => {
                tracing::warn!(month = %month, error = %e, "reconciliation pull failed");
                match &e {
                    PullError::NotBegun(_) => "not_begun",
                    PullError::Carrier(c) => match c.class {
                        crate::carrier::ErrorClass::Refused => "refused",
                        crate::carrier::ErrorClass::Auth => "auth",
                        crate::carrier::ErrorClass::Protocol => "protocol",
                        _ => "carrier",
                    },
                    PullError::Ledger(_) | PullError::Pool(_) => "ledger",
                }
            }
        };
    let mut q: Vec<(&str, String)> = vec![("month", month.to_string())];
    if !f.office.is_empty() {
        q.push(("office", f.office));
    }
    q.push(("pulled", outcome.to_owned()));
    Ok(see_other(&format!(
        "{}#ket-qua",
        super::with_query("/console/doi-soat", &q)
    )))
}

fn file_name(month: Month, office: &str, ext: &str) -> String {
    let office: String = office
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if office.is_empty() {
        format!("doi-soat-{month}.{ext}")
    } else {
        format!("doi-soat-{month}-{office}.{ext}")
    }
}

async fn report_for_download(
    state: &AppState,
    staff: &Staff,
    p: &Params,
) -> Result<(Month, Report, HashMap<String, String>), ConsoleError> {
    let month = month_of(p)?;
    check_office(&office_choices(&state.config, staff, &p.office), &p.office)?;
    let Some((_, r)) = load(state, staff, month, &p.office).await? else {
        return Err(ConsoleError::Invalid(format!(
            "Tháng {} chưa được đối soát: hãy bấm “Lấy số liệu VNPost” trên trang Đối soát trước.",
            month.label()
        )));
    };
    Ok((month, r, office_names(&state.config)))
}

pub async fn workbook(
    state: web::Data<AppState>,
    staff: Staff,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let p = params.into_inner();
    let (month, r, names) = report_for_download(&state, &staff, &p).await?;
    let bytes = export::xlsx(&r, &names).map_err(|e| ConsoleError::Internal(e.into()))?;
    Ok(forms::attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &file_name(month, &p.office, "xlsx"),
        bytes,
    ))
}

pub async fn csv(
    state: web::Data<AppState>,
    staff: Staff,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let p = params.into_inner();
    let section = Section::parse(&p.section).ok_or(ConsoleError::BadRequest)?;
    let (month, r, names) = report_for_download(&state, &staff, &p).await?;
    Ok(forms::attachment(
        "text/csv; charset=utf-8",
        &file_name(month, &p.office, &format!("{}.csv", section.as_str())),
        export::csv(&r, &names, section),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_vietnamese_dong() {
        assert_eq!(vnd(1_234_567), "1.234.567 ₫");
        assert_eq!(vnd(0), "0 ₫");
        assert_eq!(vnd(-2500), "-2.500 ₫");
    }

    #[test]
    fn every_outcome_has_words() {
        for code in [
            "ok",
            "not_begun",
            "refused",
            "auth",
            "protocol",
            "carrier",
            "ledger",
        ] {
            assert!(outcome_words(code).is_some(), "{code}");
        }
        assert!(outcome_words("<script>").is_none());
    }
}
