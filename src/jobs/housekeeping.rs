//! The periodic work of a process, on one beat (`tracking.interval`): a tracking round (when
//! `tracking.enabled`, see `tracking`), then housekeeping: marking late shipments (with their
//! callbacks), forgetting expired idempotency keys, and erasing the personal data of
//! shipments finished longer ago than `retention.personal_data_days`.

use super::{Context, tracking};
use crate::carrier::Carrier;
use crate::ledger::{idempotency, lateness, retention};
use std::sync::Arc;
use tokio::sync::watch;

/// Expired idempotency keys forgotten per statement, and statements per beat at most: 50,000
/// a beat keeps up with any create rate the gateway sustains.
const PURGE_BATCH: i64 = 5_000;
const PURGE_BATCHES: usize = 10;

/// One housekeeping pass, each step a bounded batch on its own connection, so that requests
/// and jobs get the database between them. Erasing personal data can wait a year's margin:
/// it waits for a beat when the database is not busy (`pressure`).
pub async fn housekeeping<C>(ctx: &Context<C>) -> anyhow::Result<()> {
    let window = chrono::Duration::from_std(ctx.config.shipments.pickup_window)?;
    let late = lateness::sweep(&mut *ctx.conn().await?, window, 200).await?;
    if late > 0 {
        // Their callbacks are queued.
        ctx.wakeup.enqueued();
        tracing::info!(shipments = late, "marked late");
    }
    tokio::task::yield_now().await;
    // Expired keys in batches, up to a few per beat while the database is not busy.
    for _ in 0..PURGE_BATCHES {
        let purged = idempotency::purge_expired(&mut *ctx.conn().await?, PURGE_BATCH).await?;
        if purged < PURGE_BATCH as usize || ctx.pressure.busy() {
            break;
        }
        tokio::task::yield_now().await;
    }
    if ctx.pressure.busy() {
        tracing::debug!("retention: the database is busy; erasing waits for a calmer beat");
        return Ok(());
    }
    tokio::task::yield_now().await;
    let policy = &ctx.config.retention;
    let erased = retention::erase_due(
        &mut *ctx.conn().await?,
        policy.personal_data_days,
        policy.batch,
    )
    .await?;
    if erased > 0 {
        tracing::info!(
            shipments = erased,
            days = policy.personal_data_days,
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
            && let Err(e) = tracking::round(&ctx).await
        {
            tracing::warn!(error = %format!("{e:#}"), "tracking round failed");
        }
        if let Err(e) = housekeeping(&ctx).await {
            tracing::warn!(error = %format!("{e:#}"), "housekeeping failed");
        }
    }
}
