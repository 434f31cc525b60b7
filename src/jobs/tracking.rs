//! Tracking: shipments the carrier has not reported on for `tracking.quiet_after` are polled
//! (`getOrder`, then `GetStatusHistoryOrder`), at most `tracking.batch` per
//! `tracking.interval` per process. Every report goes through the same rules as a push
//! (`ledger::carrier_reports`, source `carrier_poll`), so repeated and late reports change nothing.

use super::Context;
use crate::carrier::{Carrier, CarrierError, ErrorClass, timed};
use crate::domain::Source;
use crate::domain::outbox::JobKind;
use crate::ledger::carrier_reports::{self, CarrierReport};
use crate::ledger::{outbox, shipments};
use std::sync::Arc;
use uuid::Uuid;

/// Polls one shipment; returns how many reports were new.
pub async fn poll_one<C: Carrier>(
    ctx: &Context<C>,
    id: Uuid,
    sale_order_code: &str,
    tracking_number: Option<&str>,
) -> anyhow::Result<usize> {
    let found = timed("getOrder", ctx.carrier.find_order(sale_order_code))
        .await
        .map_err(err)?;
    let fees = found.as_ref().map(|o| (o.total_fee, o.cod_amount));
    let item_code = match (found, tracking_number) {
        (Some(order), _) => order.item_code,
        (None, Some(known)) => known.to_owned(),
        (None, None) => return Ok(0),
    };
    let history = timed(
        "GetStatusHistoryOrder",
        ctx.carrier.status_history(&item_code),
    )
    .await;
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
    let mut conn = ctx.conn().await?;
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
        shipments::record_carrier_fees(&mut conn, id, fee, cod).await?;
    }
    metrics::counter!("bcci_carrier_reports_total", "source" => "carrier_poll")
        .increment(applied.new as u64);
    Ok(applied.new)
}

/// Keeps the carrier's error whole, so that a job running `poll_one` can record its class and
/// excerpt on the attempt (`jobs::confirm`).
fn err(e: CarrierError) -> anyhow::Error {
    anyhow::Error::new(e)
}

/// An answer in no known shape is not "no news": the poll is handed to a confirming job
/// (`carrier_confirm`), whose attempts record the error with an excerpt, retry it with
/// backoff, and list it for staff (Cần xử lý → answers that cannot be read).
/// One at a time: while a confirming job is queued or running (it retries until it can
/// read the answer), another unreadable poll adds nothing.
async fn confirm_later<C>(ctx: &Context<C>, shipment: Uuid) -> anyhow::Result<()> {
    let mut conn = ctx.conn().await?;
    if !outbox::pending_for(&mut conn, JobKind::CarrierConfirm, shipment).await? {
        outbox::enqueue(
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
        let mut conn = ctx.conn().await?;
        shipments::claim_due_polls(&mut conn, cfg.batch as i64, cfg.quiet_after).await?
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
    if n > 0 {
        // What the polls found queued callbacks (and confirming jobs).
        ctx.wakeup.enqueued();
    }
    Ok(n)
}
