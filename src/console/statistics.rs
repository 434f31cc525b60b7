//! "Báo cáo": how the postal service performed for the shipments requested in a period, for
//! one office or all of them: counts, on-time share, median times, failed attempts and their
//! reasons, returns. Tables, SVG charts drawn here, and the same figures as CSV.

use super::chart::{self, Series};
use super::search::{Choice, office_choices};
use super::session::Staff;
use super::{ConsoleError, Layout, format, forms, html};
use crate::domain::Kind;
use crate::ledger::stats::{self as ledger, Cohort, KindFigures};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Longest period of one report.
const MAX_DAYS: i64 = 366;
/// Up to this many days the chart has a bar per day, beyond it a bar per month.
const DAILY_UP_TO: i64 = 62;

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct Params {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    office: String,
}

/// One line of the summary table: a figure for pickups, deliveries and both.
struct Line {
    label: &'static str,
    pickup: String,
    delivery: String,
    total: String,
    /// The same figures for CSV (numbers without units).
    raw: [String; 3],
}

struct Failure {
    code: i32,
    what: &'static str,
    reason: String,
    n: i64,
}

struct Report {
    from: NaiveDate,
    to: NaiveDate,
    office: String,
    lines: Vec<Line>,
    /// Bucket label, pickups, deliveries.
    buckets: Vec<(String, i64, i64)>,
    failures: Vec<Failure>,
    on_time: [(i64, i64); 2],
}

fn count_line(label: &'static str, f: impl Fn(&KindFigures) -> i64, k: &[KindFigures; 2]) -> Line {
    let (p, d) = (f(&k[0]), f(&k[1]));
    Line {
        label,
        pickup: p.to_string(),
        delivery: d.to_string(),
        total: (p + d).to_string(),
        raw: [p.to_string(), d.to_string(), (p + d).to_string()],
    }
}

/// An amount in đồng: "1.234.000 đ" on the page, the plain number in the CSV.
fn money_line(label: &'static str, f: impl Fn(&KindFigures) -> i64, k: &[KindFigures; 2]) -> Line {
    let (p, d) = (f(&k[0]), f(&k[1]));
    Line {
        label,
        pickup: format::vnd(p),
        delivery: format::vnd(d),
        total: format::vnd(p + d),
        raw: [p.to_string(), d.to_string(), (p + d).to_string()],
    }
}

fn share_line(k: &[KindFigures; 2]) -> Line {
    let share = |on: i64, all: i64| (all > 0).then(|| on as f64 / all as f64);
    let shares = [
        share(k[0].on_time, k[0].delivered),
        share(k[1].on_time, k[1].delivered),
        share(k[0].on_time + k[1].on_time, k[0].delivered + k[1].delivered),
    ];
    let text = |s: Option<f64>| s.map(format::percent).unwrap_or_else(|| "–".into());
    let raw = |s: Option<f64>| s.map(|s| format!("{:.1}", s * 100.0)).unwrap_or_default();
    Line {
        label: "Tỷ lệ đúng hạn (%)",
        pickup: text(shares[0]),
        delivery: text(shares[1]),
        total: text(shares[2]),
        raw: shares.map(raw),
    }
}

fn median_line(
    label: &'static str,
    f: impl Fn(&KindFigures) -> Option<f64>,
    k: &[KindFigures; 2],
) -> Line {
    let (p, d) = (f(&k[0]), f(&k[1]));
    let text = |s: Option<f64>| s.map(format::duration).unwrap_or_else(|| "–".into());
    let hours = |s: Option<f64>| s.map(|s| format!("{:.1}", s / 3600.0)).unwrap_or_default();
    Line {
        label,
        pickup: text(p),
        delivery: text(d),
        total: String::new(),
        raw: [hours(p), hours(d), String::new()],
    }
}

async fn compute(
    state: &AppState,
    staff: &Staff,
    p: &Params,
) -> Result<Result<Report, Vec<String>>, ConsoleError> {
    let today = format::today();
    let mut errors = Vec::new();
    let mut day = |raw: &str, default: NaiveDate, what: &str| match forms::date(raw, what) {
        Ok(d) => d.unwrap_or(default),
        Err(e) => {
            errors.push(e);
            default
        }
    };
    let to = day(&p.to, today, "Đến ngày");
    let from = day(&p.from, to - chrono::Duration::days(29), "Từ ngày");
    let days = (to - from).num_days() + 1;
    if days < 1 {
        errors.push(forms::FROM_AFTER_TO.into());
    } else if days > MAX_DAYS {
        errors.push(format!("Kỳ báo cáo dài nhất {MAX_DAYS} ngày."));
    }
    let mine = staff.who.offices.clone();
    let offices = if p.office.is_empty() {
        mine
    } else if mine.as_ref().is_none_or(|m| m.contains(&p.office)) {
        Some(vec![p.office.clone()])
    } else {
        errors.push("Bạn không có quyền xem đơn vị này.".into());
        None
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let cohort = Cohort {
        from: format::start_of(from),
        before: format::start_of(to.succ_opt().unwrap_or(to)),
        offices,
    };
    let window = forms::pickup_window(&state.config);
    let monthly = days > DAILY_UP_TO;
    let mut conn = state.pool.get().await?;
    let figures = ledger::report_by_kind(&mut conn, &cohort, window).await?;
    let counts = ledger::report_buckets(&mut conn, &cohort, monthly).await?;
    let failures = ledger::report_failures(&mut conn, &cohort).await?;
    drop(conn);

    let of = |kind: Kind| {
        figures
            .iter()
            .find(|f| f.kind == kind)
            .cloned()
            .unwrap_or_else(|| KindFigures::none(kind))
    };
    let k = [of(Kind::Pickup), of(Kind::Delivery)];
    let lines = vec![
        count_line("Số yêu cầu", |f| f.requested, &k),
        count_line("Bưu tá đã nhận", |f| f.picked_up, &k),
        // Pickups end when the office receives the dossier: "X / Y" follows the columns.
        count_line("Đã nhận hồ sơ / Đã giao", |f| f.delivered, &k),
        count_line("Nhận đúng hạn / Giao đúng hạn", |f| f.on_time, &k),
        share_line(&k),
        median_line(
            "Thời gian trung vị: yêu cầu → bưu tá nhận",
            |f| f.median_to_pickup_s,
            &k,
        ),
        median_line(
            "Thời gian trung vị: bưu tá nhận → cơ quan nhận hồ sơ / giao",
            |f| f.median_to_delivery_s,
            &k,
        ),
        count_line("Hoàn trả (đang và đã hoàn)", |f| f.returned, &k),
        count_line("Đã hủy", |f| f.cancelled, &k),
        count_line("Bị từ chối", |f| f.rejected, &k),
        count_line("Đang thực hiện", |f| f.in_progress, &k),
        money_line("Cước bưu chính VNPost báo", |f| f.carrier_fee_vnd, &k),
        money_line("Tiền thu hộ (COD) VNPost báo", |f| f.carrier_cod_vnd, &k),
    ];

    // every bucket of the period, empty ones included
    let mut by_bucket: HashMap<NaiveDate, (i64, i64)> = HashMap::new();
    for c in counts {
        let e = by_bucket.entry(c.bucket).or_default();
        match c.kind {
            Kind::Pickup => e.0 += c.n,
            Kind::Delivery => e.1 += c.n,
        }
    }
    let mut buckets = Vec::new();
    let mut cursor = if monthly {
        from.with_day(1).unwrap_or(from)
    } else {
        from
    };
    while cursor <= to {
        let (p, d) = by_bucket.get(&cursor).copied().unwrap_or_default();
        let label = if monthly {
            cursor.format("%m/%Y").to_string()
        } else {
            cursor.format("%d/%m").to_string()
        };
        buckets.push((label, p, d));
        cursor = if monthly {
            cursor
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(to + chrono::Duration::days(1))
        } else {
            cursor + chrono::Duration::days(1)
        };
    }
    Ok(Ok(Report {
        from,
        to,
        office: p.office.clone(),
        on_time: [
            (k[0].on_time, k[0].delivered - k[0].on_time),
            (k[1].on_time, k[1].delivered - k[1].on_time),
        ],
        lines,
        buckets,
        failures: failures
            .into_iter()
            .map(|f| Failure {
                code: f.carrier_code,
                what: if f.carrier_code == 5 {
                    "Thu gom không thành công"
                } else {
                    "Phát không thành công"
                },
                reason: if f.reason.is_empty() {
                    "(không ghi lý do)".into()
                } else {
                    f.reason
                },
                n: f.n,
            })
            .collect(),
    }))
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct ReportsPage {
    layout: Layout,
    from: String,
    to: String,
    offices: Vec<Choice>,
    errors: Vec<String>,
    lines: Vec<Line>,
    failures: Vec<Failure>,
    chart_requests: String,
    chart_on_time: String,
    chart_failures: String,
    csv_href: String,
    period: String,
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let p = params.into_inner();
    let offices = office_choices(&state.config, &staff, &p.office);
    let layout = Layout::staff("Báo cáo", &staff, "reports");
    let report = match compute(&state, &staff, &p).await? {
        Ok(r) => r,
        Err(errors) => {
            return html(&ReportsPage {
                layout,
                from: format::input_again(&p.from),
                to: format::input_again(&p.to),
                offices,
                errors,
                lines: Vec::new(),
                failures: Vec::new(),
                chart_requests: String::new(),
                chart_on_time: String::new(),
                chart_failures: String::new(),
                csv_href: String::new(),
                period: String::new(),
            });
        }
    };
    let labels: Vec<String> = report.buckets.iter().map(|b| b.0.clone()).collect();
    let chart_requests = chart::columns(
        "Số yêu cầu theo thời gian",
        &labels,
        &[
            Series {
                name: "Thu gom hồ sơ",
                class: "s1",
                values: report.buckets.iter().map(|b| b.1 as f64).collect(),
            },
            Series {
                name: "Trả kết quả",
                class: "s2",
                values: report.buckets.iter().map(|b| b.2 as f64).collect(),
            },
        ],
    );
    let chart_on_time = chart::columns(
        "Đúng hạn và trễ hạn",
        &["Thu gom hồ sơ".to_owned(), "Trả kết quả".to_owned()],
        &[
            Series {
                name: "Đúng hạn",
                class: "s1",
                values: report.on_time.iter().map(|x| x.0 as f64).collect(),
            },
            Series {
                name: "Trễ hạn",
                class: "s3",
                values: report.on_time.iter().map(|x| x.1 as f64).collect(),
            },
        ],
    );
    let chart_failures = chart::bars(
        "Lý do phát/thu gom không thành công",
        &report
            .failures
            .iter()
            .map(|f| (format!("{} – {}", f.what, f.reason), f.n as f64))
            .collect::<Vec<_>>(),
        "s3",
    );
    let query = Params {
        from: report.from.format("%Y-%m-%d").to_string(),
        to: report.to.format("%Y-%m-%d").to_string(),
        office: report.office.clone(),
    };
    html(&ReportsPage {
        layout,
        from: format::input_date(Some(report.from)),
        to: format::input_date(Some(report.to)),
        offices,
        errors: Vec::new(),
        period: format!(
            "{} – {}",
            report.from.format("%d/%m/%Y"),
            report.to.format("%d/%m/%Y")
        ),
        csv_href: super::with_query("/console/reports.csv", &query),
        lines: report.lines,
        failures: report.failures,
        chart_requests,
        chart_on_time,
        chart_failures,
    })
}

/// The report's figures as CSV (UTF-8 with a byte-order mark, so that spreadsheet programs
/// read the Vietnamese text right).
pub async fn csv(
    state: web::Data<AppState>,
    staff: Staff,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let p = params.into_inner();
    let report = match compute(&state, &staff, &p).await? {
        Ok(r) => r,
        Err(errors) => return Err(ConsoleError::Invalid(errors.join(" "))),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut row = |r: [&str; 5]| w.write_record(r);
    let result: Result<(), csv::Error> = (|| {
        row(["Mục", "Chỉ tiêu", "Thu gom hồ sơ", "Trả kết quả", "Tổng"])?;
        for l in &report.lines {
            row(["Tổng hợp", l.label, &l.raw[0], &l.raw[1], &l.raw[2]])?;
        }
        for (label, pk, dl) in &report.buckets {
            row([
                "Số yêu cầu theo thời gian",
                label,
                &pk.to_string(),
                &dl.to_string(),
                &(pk + dl).to_string(),
            ])?;
        }
        for f in &report.failures {
            row([
                "Không thành công",
                &format!("Mã {} – {}: {}", f.code, f.what, f.reason),
                "",
                "",
                &f.n.to_string(),
            ])?;
        }
        Ok(())
    })();
    result.map_err(|e| ConsoleError::Internal(e.into()))?;
    let mut body = "\u{feff}".as_bytes().to_vec();
    body.extend(
        w.into_inner()
            .map_err(|e| ConsoleError::Internal(anyhow::anyhow!("CSV: {e}")))?,
    );
    let name = format!(
        "bao-cao-bcci-{}-{}{}.csv",
        report.from.format("%Y%m%d"),
        report.to.format("%Y%m%d"),
        if report.office.is_empty() {
            String::new()
        } else {
            format!("-{}", report.office)
        }
    );
    Ok(forms::attachment("text/csv; charset=utf-8", &name, body))
}
