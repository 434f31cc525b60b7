//! Tracking: shipments the carrier has not reported on for `tracking.quiet_after` are polled
//! (`getOrder`, then `GetStatusHistoryOrder`), at most `tracking.batch` per
//! `tracking.interval` per process. Every report goes through the same rules as a push
//! (`ledger::carrier_reports`, source `carrier_poll`), so repeated and late reports change nothing.

use crate::carrier::{Carrier, CarrierError, ErrorClass};
use crate::domain::Source;
use crate::jobs::handlers::Context;
use crate::ledger::carrier_reports::{self, CarrierReport};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Interval};
use diesel_async::RunQueryDsl;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use uuid::Uuid;

#[derive(QueryableByName, Debug)]
struct Due {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    sale_order_code: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    tracking_number: Option<String>,
}

/// Claims the shipments due for a poll, pushing their next poll forward so that another
/// process does not poll them too.
async fn claim_due(
    conn: &mut crate::ledger::Conn,
    batch: i64,
    quiet: std::time::Duration,
) -> QueryResult<Vec<Due>> {
    diesel::sql_query(
        "UPDATE shipments SET next_poll_at = now() + $1 \
         WHERE id IN (SELECT id FROM shipments WHERE next_poll_at <= now() \
                      ORDER BY next_poll_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING id, sale_order_code, tracking_number",
    )
    .bind::<Interval, _>(diesel::pg::data_types::PgInterval::from_microseconds(
        quiet.as_micros() as i64,
    ))
    .bind::<BigInt, _>(batch)
    .load(conn)
    .await
}

/// Polls one shipment; returns how many reports were new.
pub async fn poll_one<C: Carrier>(
    ctx: &Context<C>,
    id: Uuid,
    sale_order_code: &str,
    tracking_number: Option<&str>,
) -> anyhow::Result<usize> {
    let t = Instant::now();
    let found = ctx.carrier.find_order(sale_order_code).await;
    metrics::histogram!("bcci_carrier_request_seconds", "call" => "getOrder").record(t.elapsed());
    let found = found.map_err(err)?;
    let fees = found.as_ref().map(|o| (o.total_fee, o.cod_amount));
    let item_code = match (found, tracking_number) {
        (Some(order), _) => order.item_code,
        (None, Some(known)) => known.to_owned(),
        (None, None) => return Ok(0),
    };
    let t = Instant::now();
    let history = ctx.carrier.status_history(&item_code).await;
    metrics::histogram!("bcci_carrier_request_seconds", "call" => "GetStatusHistoryOrder")
        .record(t.elapsed());
    let reports: Vec<CarrierReport> = history
        .map_err(err)?
        .into_iter()
        .map(|r| CarrierReport {
            code: r.code,
            text: r.text,
            at: r.at,
            note: None,
        })
        .collect();
    let quiet = chrono::Duration::from_std(ctx.config.tracking.quiet_after)?;
    let mut conn = ctx.pool.get().await?;
    let applied = carrier_reports::apply(
        &mut conn,
        &ctx.config.carrier.status_codes,
        id,
        &reports,
        Source::CarrierPoll,
        Some(&item_code),
        quiet,
    )
    .await?;
    if let Some((fee, cod)) = fees {
        crate::ledger::shipments::record_carrier_fees(&mut conn, id, fee, cod).await?;
    }
    metrics::counter!("bcci_carrier_reports_total", "source" => "carrier_poll")
        .increment(applied.new as u64);
    Ok(applied.new)
}

/// Keeps the carrier's error whole, so that a job running `poll_one` can record its class and
/// excerpt on the attempt (`jobs::handlers::confirm`).
fn err(e: CarrierError) -> anyhow::Error {
    anyhow::Error::new(e)
}

/// An answer in no known shape is not "no news": the poll is handed to a confirming job
/// (`carrier_confirm`), whose attempts record the error with an excerpt, retry it with
/// backoff, and list it for staff (Cần xử lý → answers that cannot be read).
async fn confirm_later<C>(ctx: &Context<C>, shipment: Uuid) -> anyhow::Result<()> {
    use crate::jobs::{self, JobKind};
    let mut conn = ctx.pool.get().await?;
    if !jobs::queued_for(&mut conn, JobKind::CarrierConfirm, shipment).await? {
        jobs::enqueue(
            &conn,
            JobKind::CarrierConfirm,
            Some(shipment),
            serde_json::json!({ "reason": "a tracking answer could not be read" }),
        )
        .await?;
    }
    Ok(())
}

/// One round: claim the due shipments and poll them concurrently.
pub async fn round<C: Carrier>(ctx: &Arc<Context<C>>) -> anyhow::Result<usize> {
    let cfg = &ctx.config.tracking;
    let due = {
        let mut conn = ctx.pool.get().await?;
        claim_due(&mut conn, cfg.batch as i64, cfg.quiet_after).await?
    };
    let n = due.len();
    let polls = due.into_iter().map(|d| {
        let ctx = ctx.clone();
        async move {
            if let Err(e) = poll_one(&ctx, d.id, &d.sale_order_code, d.tracking_number.as_deref()).await {
                tracing::warn!(shipment = %d.id, error = %format!("{e:#}"), "tracking poll failed; will poll again");
                let unreadable = e
                    .downcast_ref::<CarrierError>()
                    .is_some_and(|e| e.class == ErrorClass::Protocol);
                if unreadable && let Err(e) = confirm_later(&ctx, d.id).await {
                    tracing::warn!(shipment = %d.id, error = %format!("{e:#}"), "cannot queue a confirming query");
                }
            }
        }
    });
    futures_util::future::join_all(polls).await;
    Ok(n)
}

/// Marks late shipments (with their callbacks), forgets expired idempotency keys, and erases
/// the personal data of shipments finished longer ago than `retention.personal_data_days`
/// (a bounded batch per run).
pub async fn housekeeping<C>(ctx: &Context<C>) -> anyhow::Result<()> {
    let mut conn = ctx.pool.get().await?;
    let window = chrono::Duration::from_std(ctx.config.shipments.pickup_window)?;
    let late = crate::ledger::lateness::sweep(&mut conn, window, 200).await?;
    if late > 0 {
        tracing::info!(shipments = late, "marked late");
    }
    crate::ledger::idempotency::purge_expired(&mut conn).await?;
    let retention = &ctx.config.retention;
    let erased = crate::ledger::retention::erase_due(
        &mut conn,
        retention.personal_data_days,
        retention.batch,
    )
    .await?;
    if erased > 0 {
        tracing::info!(
            shipments = erased,
            days = retention.personal_data_days,
            "retention: personal data erased"
        );
    }
    Ok(())
}

/// Polls (when `tracking.enabled`) until `shutdown` turns true, and keeps house on the same
/// beat.
pub async fn run<C: Carrier>(ctx: Arc<Context<C>>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(ctx.config.tracking.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tick.tick() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        if ctx.config.tracking.enabled
            && let Err(e) = round(&ctx).await
        {
            tracing::warn!(error = %format!("{e:#}"), "tracking round failed");
        }
        if let Err(e) = housekeeping(&ctx).await {
            tracing::warn!(error = %format!("{e:#}"), "housekeeping failed");
        }
    }
}
