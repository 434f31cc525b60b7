//! The worker loop of one gateway process: listen, claim, run, and on shutdown stop claiming
//! and finish or release what it holds within a deadline.

use super::Context;
use super::preload;
use super::run::run as run_job;
use super::wakeup::Wakeup;
use crate::carrier::Carrier;
use crate::ledger::outbox::{claim, hold_worker_lock, reap, release};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::StreamExt;
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// A random positive worker number, the second key of its liveness lock.
pub fn new_worker_number() -> i32 {
    rand::rng().random_range(1..i32::MAX)
}

/// Holds the worker's liveness lock and listens for new jobs on one dedicated connection.
/// Returns when that connection is lost: the lock is then gone too, so the caller must stop
/// working on its jobs at once (another process may take them over).
async fn liveness(
    url: String,
    worker: i32,
    wake: Arc<Wakeup>,
    ready: tokio::sync::oneshot::Sender<()>,
) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(&url).await?;
    hold_worker_lock(&mut conn, worker).await?;
    let _ = ready.send(());
    let mut stream = std::pin::pin!(conn.notifications_stream());
    while let Some(n) = stream.next().await {
        n?;
        wake.heard();
    }
    anyhow::bail!("the listening connection closed")
}

/// Runs the worker until `shutdown` turns true, starting it again whenever it stops on a lost
/// database connection (a PostgreSQL restart or failover ends its liveness connection): without
/// this a process would serve requests but never run another job. Each run takes a new worker
/// number, so that the jobs the lost run held are seen as orphaned and reaped, whichever
/// process gets there first.
pub async fn supervise<C: Carrier>(ctx: Arc<Context<C>>, shutdown: watch::Receiver<bool>) {
    // Reconnecting is cheap and the database is usually back within seconds: retry soon,
    // backing off to a short cap while it stays away.
    const FIRST: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(2);
    let mut ctx = ctx;
    let mut pause = FIRST;
    loop {
        let started = Instant::now();
        match run(ctx.clone(), shutdown.clone()).await {
            Ok(()) => return,
            Err(e) => tracing::error!(
                error = %format!("{e:#}"),
                "the job worker stopped; starting it again"
            ),
        }
        if *shutdown.borrow() {
            return;
        }
        if started.elapsed() > CAP * 4 {
            pause = FIRST;
        }
        let mut stop = shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        pause = (pause * 2).min(CAP);
        ctx = Arc::new(Context {
            pool: ctx.pool.clone(),
            config: ctx.config.clone(),
            carrier: ctx.carrier.clone(),
            http: ctx.http.clone(),
            worker: new_worker_number(),
            pressure: ctx.pressure.clone(),
            wakeup: ctx.wakeup.clone(),
            delivered: ctx.delivered.clone(),
        });
    }
}

/// Runs jobs until `shutdown` turns true, then stops claiming, waits up to
/// `jobs.shutdown_grace` for the jobs in progress and releases the rest.
pub async fn run<C: Carrier>(
    ctx: Arc<Context<C>>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let cfg = ctx.config.jobs.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let mut live = tokio::spawn(liveness(
        ctx.config.database.url.expose().to_owned(),
        ctx.worker,
        ctx.wakeup.clone(),
        ready_tx,
    ));
    if ready_rx.await.is_err() {
        return Err(live.await?.expect_err("liveness ended before it was ready"));
    }
    tracing::info!(worker = ctx.worker, "job worker started");
    let slots = Arc::new(Semaphore::new(cfg.max_in_flight));
    let mut running = JoinSet::new();
    let mut last_reap = Instant::now() - cfg.reap_interval;
    let mut more = true;
    loop {
        if !more {
            tokio::select! {
                _ = shutdown.changed() => {}
                // Wake-ups coalesce (one is kept however many come), and with every slot
                // busy a wake-up claims nothing: it costs no query.
                _ = ctx.wakeup.wait() => {}
                _ = tokio::time::sleep(cfg.poll_interval) => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                r = &mut live => {
                    running.abort_all();
                    return Err(r?.expect_err("liveness only ends on error"));
                }
            }
        }
        if *shutdown.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        // The slots free now, within what the database's pressure allows (`pressure`).
        let limit = ctx.pressure.limit();
        let free = slots
            .available_permits()
            .min(limit.saturating_sub(running.len()));
        // Claim in batches: with most slots busy, wait for a few more to free up rather than
        // claiming one job per finished one.
        let claim_now = free > 0 && (free >= (limit / 4).max(1) || running.is_empty());
        let reap_now = last_reap.elapsed() >= cfg.reap_interval;
        if !claim_now && !reap_now {
            more = false;
            continue;
        }
        let mut conn = match ctx.conn().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "job worker: no database connection");
                more = false;
                continue;
            }
        };
        if reap_now {
            last_reap = Instant::now();
            match reap(&mut conn).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(jobs = n, "released the jobs of workers that are gone"),
                Err(e) => tracing::warn!(error = %e, "reaping jobs"),
            }
        }
        if !claim_now {
            more = false;
            continue;
        }
        let jobs = match claim(&mut conn, ctx.worker, free as i64, cfg.lease).await {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs");
                Vec::new()
            }
        };
        // What the jobs read before they call out, for all of them in one round trip; if
        // that fails, each job reads its own.
        let claimed = if jobs.is_empty() {
            preload::Claimed::default()
        } else {
            preload::read(&conn, &jobs).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reading the claimed jobs' rows");
                preload::Claimed::default()
            })
        };
        drop(conn);
        more = jobs.len() == free;
        for job in jobs {
            let permit = slots.clone().acquire_owned().await.expect("semaphore open");
            let ctx = ctx.clone();
            let pre = claimed.for_job(&job);
            running.spawn(async move {
                let id = job.id;
                if let Err(e) = run_job(&ctx, job, pre).await {
                    tracing::warn!(job = id, error = %format!("{e:#}"), "job left for retry");
                }
                drop(permit);
            });
        }
    }
    tracing::info!(in_progress = running.len(), "job worker stopping");
    let deadline = tokio::time::sleep(cfg.shutdown_grace);
    tokio::pin!(deadline);
    while !running.is_empty() {
        tokio::select! {
            _ = running.join_next() => {}
            _ = &mut deadline => {
                running.abort_all();
                while running.join_next().await.is_some() {}
            }
        }
    }
    let mut conn = ctx.pool.get().await?;
    let released = release(&mut conn, ctx.worker).await?;
    if released > 0 {
        tracing::info!(jobs = released, "released unfinished jobs");
    }
    live.abort();
    Ok(())
}
