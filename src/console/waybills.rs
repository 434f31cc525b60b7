//! "In vận đơn": staff choose an office's deliveries that VNPost has accepted and print their
//! waybills (*vận đơn*) as one PDF, fetched from VNPost (`exportListReport`, 100 items a
//! call) and joined (issue 8).

use super::search::{Choice, Row, office_choices};
use super::session::Staff;
use super::{ConsoleError, Layout, html};
use crate::api::AppState;
use crate::carrier::{CarrierError, ErrorClass, waybill};
use crate::domain::Kind;
use crate::ledger::search::{self as ledger, Search};
use crate::ledger::shipments;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

/// Shipments listed (and printed at once) at most: five calls to VNPost.
const MAX_PRINT: usize = 500;

#[derive(Template)]
#[template(path = "console/waybills.html")]
struct WaybillsPage {
    layout: Layout,
    offices: Vec<Choice>,
    office: String,
    rows: Vec<Row>,
    csrf: String,
    error: String,
    more: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    #[serde(default)]
    office: String,
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    render(&state, &staff, &q.office, String::new()).await
}

async fn render(
    state: &AppState,
    staff: &Staff,
    office: &str,
    error: String,
) -> Result<HttpResponse, ConsoleError> {
    let offices = office_choices(&state.config, staff, office);
    // The chosen office if the staff member may see it, else their first one.
    let office = offices
        .iter()
        .find(|c| c.value == office)
        .or(offices.first())
        .map(|c| c.value.clone())
        .unwrap_or_default();
    let offices = office_choices(&state.config, staff, &office);
    let hits = {
        let mut conn = state.pool.get().await?;
        ledger::search(
            &mut conn,
            &staff.who.visibility(),
            &Search {
                kind: Some(Kind::Delivery),
                office: Some(office.clone()),
                in_progress: true,
                has_tracking_number: true,
                limit: MAX_PRINT as i64,
                ..Default::default()
            },
        )
        .await?
    };
    let more = hits.len() > MAX_PRINT;
    let pii = staff.sees_pii();
    html(&WaybillsPage {
        layout: Layout::staff("In vận đơn", staff, "waybills"),
        offices,
        office,
        rows: hits
            .iter()
            .take(MAX_PRINT)
            .map(|h| Row::new(h, pii, &state.config))
            .collect(),
        csrf: staff.csrf.clone(),
        error,
        more,
    })
}

/// The chosen shipments' waybills, one PDF. The form repeats `id` once per shipment, which a
/// struct cannot hold: read with the url crate's form decoder.
pub async fn print(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let mut csrf = String::new();
    let mut office = String::new();
    let mut ids = Vec::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "csrf" => csrf = v.into_owned(),
            "office" => office = v.into_owned(),
            "id" => ids.push(Uuid::parse_str(&v).map_err(|_| ConsoleError::BadRequest)?),
            _ => {}
        }
    }
    staff.check_csrf(&csrf)?;
    if ids.is_empty() || ids.len() > MAX_PRINT {
        let why = format!("Hãy chọn từ 1 đến {MAX_PRINT} đơn để in vận đơn.");
        return render(&state, &staff, &office, why).await;
    }
    let items = {
        let mut conn = state.pool.get().await?;
        shipments::tracking_numbers(&mut conn, &staff.who.visibility(), &ids).await?
    };
    if items.is_empty() {
        let why = "Các đơn đã chọn chưa có số hiệu bưu gửi: chưa có vận đơn để in.".to_owned();
        return render(&state, &staff, &office, why).await;
    }
    let codes: Vec<String> = items.into_iter().map(|(_, code)| code).collect();
    match waybill::fetch(&*state.carrier, &codes).await {
        Ok(pdf) => Ok(HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header((
                "Content-Disposition",
                format!(
                    "inline; filename=\"van-don-{}-{}.pdf\"",
                    office.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', ""),
                    crate::carrier::vntime::local(chrono::Utc::now()).format("%Y%m%d-%H%M")
                ),
            ))
            .body(pdf)),
        Err(e) => {
            tracing::warn!(class = %e.class, http_status = e.http_status, items = codes.len(), "waybills not printed");
            render(&state, &staff, &office, words(&e)).await
        }
    }
}

/// Why VNPost gave no waybill, for the officer.
fn words(e: &CarrierError) -> String {
    match e.class {
        ErrorClass::Refused => format!("VNPost từ chối in vận đơn: {}", e.message),
        ErrorClass::Protocol => "VNPost trả về tệp không phải vận đơn PDF. Xin thử lại sau; nếu vẫn lỗi, báo bộ phận kỹ thuật.".into(),
        _ => "Không kết nối được VNPost để lấy vận đơn. Xin thử lại sau ít phút.".into(),
    }
}
