//! The periodic work of a process, on one beat (`tracking.interval`): a tracking round (when
//! `tracking.enabled`, see `tracking`), then housekeeping: marking late shipments (with their
//! callbacks), forgetting expired idempotency keys, and erasing the personal data of
//! shipments finished longer ago than `retention.personal_data_days`.

use super::{Context, tracking};
use crate::carrier::Carrier;
use crate::ledger::{idempotency, lateness, retention};
use std::sync::Arc;
use tokio::sync::watch;

/// One housekeeping pass (each step a bounded batch).
pub async fn housekeeping<C>(ctx: &Context<C>) -> anyhow::Result<()> {
    let mut conn = ctx.pool.get().await?;
    let window = chrono::Duration::from_std(ctx.config.shipments.pickup_window)?;
    let late = lateness::sweep(&mut conn, window, 200).await?;
    if late > 0 {
        tracing::info!(shipments = late, "marked late");
    }
    idempotency::purge_expired(&mut conn).await?;
    let policy = &ctx.config.retention;
    let erased = retention::erase_due(&mut conn, policy.personal_data_days, policy.batch).await?;
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
