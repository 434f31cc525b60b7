//! "Cần xử lý": everything that waits for staff, each item with the action that resolves it.

use super::search::Row;
use super::session::Staff;
use super::{ConsoleError, Layout, format, html, see_other};
use crate::domain::request::reason as check_reason;
use crate::domain::{AuditAction, Status};
use crate::ledger::attention::{self as ledger, DeadJob};
use crate::ledger::audit;
use crate::ledger::search::{self, Hit, Search};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

/// Items shown per section; the rest are reached through search.
const PER_SECTION: i64 = 20;

struct DeadJobView {
    shipment_id: Uuid,
    dossier_code: String,
    kind: &'static str,
    status: &'static str,
    last_error: String,
    at: String,
}

struct DeadCallbackView {
    shipment_id: Uuid,
    dossier_code: String,
    client: String,
    kind: &'static str,
    attempts: i32,
    last_error: String,
    at: String,
}

struct ClientView {
    id: String,
    name: String,
    since: String,
    why: String,
}

struct PushView {
    item: String,
    item_code: String,
    sale_order_code: String,
    status: String,
    status_at: String,
    received: String,
}

struct UnknownCodeView {
    item: String,
    shipment_id: Uuid,
    dossier_code: String,
    code: String,
    text: String,
    at: String,
}

#[derive(Template)]
#[template(path = "console/attention.html")]
struct AttentionPage {
    layout: Layout,
    can_act: bool,
    csrf: String,
    done: bool,
    /// The section whose form was refused (its reason missing), after the redirect.
    refused: &'static str,
    rejected: Vec<Row>,
    dead_jobs: Vec<DeadJobView>,
    /// Jobs still retried whose last carrier answer could not be read.
    unreadable: Vec<DeadJobView>,
    dead_callbacks: Vec<DeadCallbackView>,
    clients: Vec<ClientView>,
    /// `None`: not shown to staff limited to some offices (such reports belong to no office).
    unknown_shipments: Option<Vec<PushView>>,
    unknown_codes: Vec<UnknownCodeView>,
    quiet: Vec<Row>,
    quiet_after: String,
    late: Vec<Row>,
}

fn job_view(j: DeadJob, pii: bool) -> DeadJobView {
    DeadJobView {
        shipment_id: j.shipment_id,
        dossier_code: j.dossier_code,
        kind: format::job_kind(j.kind),
        status: format::status(j.status),
        // The carrier's words may quote the citizen's data.
        last_error: if pii {
            j.last_error.unwrap_or_default()
        } else {
            String::new()
        },
        at: format::datetime(j.updated_at),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
    #[serde(default)]
    refused: String,
}

/// A refused form of this page: POST-redirect-GET, to the message in its own section.
fn refused(section: &'static str) -> HttpResponse {
    see_other(&format!("/console/attention?refused={section}#refused"))
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<Done>,
) -> Result<HttpResponse, ConsoleError> {
    let config = &state.config;
    let v = staff.who.visibility();
    let pii = staff.sees_pii();
    let list = |s: Search| Search {
        limit: PER_SECTION,
        ..s
    };
    let quiet_after =
        chrono::Duration::from_std(config.console.quiet_after).unwrap_or(chrono::Duration::days(3));
    let mut conn = state.pool.get().await?;
    let rejected = search::search(
        &mut conn,
        &v,
        &list(Search {
            status: Some(Status::Rejected),
            ..Default::default()
        }),
    )
    .await?;
    let quiet = search::search(
        &mut conn,
        &v,
        &list(Search {
            silent_since: Some(Utc::now() - quiet_after),
            ..Default::default()
        }),
    )
    .await?;
    let late = search::search(
        &mut conn,
        &v,
        &list(Search {
            late: Some(true),
            in_progress: true,
            ..Default::default()
        }),
    )
    .await?;
    let dead_jobs = ledger::dead_jobs(&mut conn, &v, PER_SECTION).await?;
    let unreadable = ledger::unreadable_answers(&mut conn, &v, PER_SECTION).await?;
    let dead_callbacks = ledger::dead_callbacks(&mut conn, &v, PER_SECTION).await?;
    let clients = crate::ledger::callbacks::disabled_clients(&mut conn).await?;
    let unknown_shipments = match v.offices {
        None => Some(ledger::unknown_shipment_reports(&mut conn, PER_SECTION).await?),
        Some(_) => None,
    };
    let unknown_codes = ledger::unknown_codes(&mut conn, &v, PER_SECTION).await?;
    drop(conn);
    let rows = |hits: Vec<Hit>| -> Vec<Row> {
        hits.iter()
            .take(PER_SECTION as usize)
            .map(|h| Row::new(h, pii, config))
            .collect()
    };
    html(&AttentionPage {
        layout: Layout::staff("Cần xử lý", &staff, "attention"),
        can_act: staff.can_act(),
        csrf: staff.csrf.clone(),
        done: !q.done.is_empty(),
        refused: match q.refused.as_str() {
            "clients" => "clients",
            "unknown-shipments" => "unknown-shipments",
            "unknown-codes" => "unknown-codes",
            _ => "",
        },
        rejected: rows(rejected),
        dead_jobs: dead_jobs.into_iter().map(|j| job_view(j, pii)).collect(),
        unreadable: unreadable.into_iter().map(|j| job_view(j, pii)).collect(),
        dead_callbacks: dead_callbacks
            .into_iter()
            .map(|c| DeadCallbackView {
                shipment_id: c.shipment_id,
                dossier_code: c.dossier_code,
                client: c.client_id,
                kind: format::callback_type(c.type_),
                attempts: c.attempts,
                last_error: c.last_error.unwrap_or_default(),
                at: format::datetime(c.updated_at),
            })
            .collect(),
        clients: clients
            .into_iter()
            .map(|(id, since, why)| ClientView {
                name: config
                    .client(&id)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                id,
                since: format::opt_datetime(since),
                why: why.unwrap_or_default(),
            })
            .collect(),
        unknown_shipments: unknown_shipments.map(|list| {
            list.into_iter()
                .map(|p| PushView {
                    item: ledger::item_key("push", p.id),
                    item_code: p.item_code,
                    sale_order_code: p.sale_order_code.unwrap_or_default(),
                    status: format!("{}: {}", p.status_code, p.status_text),
                    status_at: format::datetime(p.status_at),
                    received: format::datetime(p.received_at),
                })
                .collect()
        }),
        unknown_codes: unknown_codes
            .into_iter()
            .map(|u| UnknownCodeView {
                item: ledger::item_key("event", u.event_id),
                shipment_id: u.shipment_id,
                dossier_code: u.dossier_code,
                code: u.carrier_code.map(|c| c.to_string()).unwrap_or_default(),
                text: u.carrier_text.unwrap_or_default(),
                at: format::datetime(u.occurred_at),
            })
            .collect(),
        quiet: rows(quiet),
        quiet_after: format::duration(config.console.quiet_after.as_secs_f64()),
        late: rows(late),
    })
}

#[derive(Debug, Deserialize)]
pub struct AckForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    reason: String,
}

/// Marks a report for an unknown shipment, or an unknown carrier code, as dealt with.
pub async fn acknowledge(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<AckForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check_csrf(&form.csrf)?;
    staff.require_act()?;
    let section = if form.item.starts_with("push:") {
        "unknown-shipments"
    } else {
        "unknown-codes"
    };
    let Ok(reason) = check_reason(&form.reason) else {
        return Ok(refused(section));
    };
    let (kind, id) = form
        .item
        .split_once(':')
        .and_then(|(k, id)| Some((k, id.parse::<i64>().ok()?)))
        .ok_or(ConsoleError::BadRequest)?;
    let mut conn = state.pool.get().await?;
    let v = staff.who.visibility();
    let shipment = match kind {
        "push" if v.offices.is_none() && ledger::push_exists(&mut conn, id).await? => None,
        "event" => {
            let s = ledger::event_shipment(&mut conn, id)
                .await?
                .ok_or(ConsoleError::NotFound)?;
            crate::ledger::shipments::find(&mut conn, s, &v)
                .await?
                .ok_or(ConsoleError::NotFound)?;
            Some(s)
        }
        _ => return Err(ConsoleError::NotFound),
    };
    audit::record(
        &mut conn,
        audit::entry(
            &staff.actor(),
            AuditAction::Acknowledge,
            shipment,
            &reason,
            serde_json::json!({ "item": ledger::item_key(kind, id) }),
        ),
    )
    .await?;
    Ok(see_other("/console/attention?done=ack"))
}

/// Re-enables the callbacks of a client whose endpoint answered 410.
pub async fn enable_client(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: web::Form<super::shipment::ReasonForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check_csrf(form.csrf())?;
    staff.require_act()?;
    let client = path.into_inner();
    if state.config.client(&client).is_none() {
        return Err(ConsoleError::NotFound);
    }
    let Ok(reason) = check_reason(form.reason()) else {
        return Ok(refused("clients"));
    };
    let mut conn = state.pool.get().await?;
    ledger::enable_client(&mut conn, &client, &staff.actor(), &reason).await?;
    Ok(see_other("/console/attention?done=enabled"))
}
