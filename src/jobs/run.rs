//! Runs one claimed job: hands it to its kind, then records what came of it (the effect on
//! the shipment or the callback, the job's new state, the attempt row) in one transaction, or
//! schedules its retry, or gives it up once it has failed for longer than its window.

use super::delivered::Recorded;
use super::preload::{Preloaded, Read};
use super::{Context, Failure, callback, cancel, cancel_case, confirm, submit};
use crate::callbacks::deliver::Delivery;
use crate::carrier::{Carrier, CarrierError};
use crate::domain::Source;
use crate::domain::Status;
use crate::domain::outbox::{AttemptOutcome, JobKind, excerpt};
use crate::ledger::models::{NewEvent, Shipment};
use crate::ledger::outbox::{self, Attempt, Job};
use crate::ledger::shipments::{self, Visibility, find, find_for_update};
use crate::ledger::{Conn, callbacks as stored, pushes};
use chrono::Utc;
use diesel_async::AsyncConnection;
use std::time::Instant;

/// The effect of a successful call (or of finding nothing to do).
#[derive(Debug)]
pub enum Completion {
    /// Nothing to do any more (the shipment moved on); the reason is kept on the attempt.
    Noop(String),
    /// The carrier's answer to a submission, applied to the shipment under its row lock.
    Submit(submit::Answer),
    /// The carrier's answer to a cancellation (or about its case), applied likewise.
    Cancel(cancel::Answer),
    /// VNPost has still not decided the case: ask again later (the job is snoozed).
    CancelStillWaiting,
    /// The carrier's tracking was read and applied (`new` reports not seen before), in the
    /// poll's own transaction.
    Confirmed { new: usize },
    /// A callback's delivery, recorded on the callback (not the shipment).
    Callback(Delivery),
}

impl Completion {
    fn outcome(&self) -> AttemptOutcome {
        match self {
            Completion::Submit(submit::Answer::Rejected(_))
            | Completion::Callback(Delivery::Dropped(_)) => AttemptOutcome::Permanent,
            Completion::Callback(Delivery::Gone) => AttemptOutcome::Gone,
            _ => AttemptOutcome::Ok,
        }
    }

    /// What the attempt row says of it.
    fn note(&self) -> String {
        match self {
            Completion::Noop(why) => why.clone(),
            Completion::Confirmed { new } => {
                format!("tracking read and applied: {new} new report(s)")
            }
            Completion::Submit(answer) => format!("{answer:?}"),
            Completion::Cancel(answer) => format!("{answer:?}"),
            Completion::CancelStillWaiting => "CancelStillWaiting".into(),
            Completion::Callback(d) => format!("Callback{d:?}"),
        }
    }
}

/// The shipment a carrier job is about, if it still exists (as its claim read it, if it did).
pub(super) async fn shipment_of<C>(
    ctx: &Context<C>,
    job: &Job,
    read: Read<Shipment>,
) -> anyhow::Result<Option<Shipment>> {
    Ok(match (read, job.shipment_id) {
        (Read::Read(found), _) => found,
        (Read::NotRead, Some(id)) => {
            find(&mut *ctx.conn().await?, id, &Visibility::default()).await?
        }
        (Read::NotRead, None) => None,
    })
}

/// Does a job's work on its shipment; a job whose shipment is gone has nothing left to do.
pub(super) async fn on_shipment<C, W>(
    ctx: &Context<C>,
    job: &Job,
    read: Read<Shipment>,
    work: impl FnOnce(Shipment) -> W,
) -> anyhow::Result<Result<Completion, Failure>>
where
    W: Future<Output = Result<Completion, CarrierError>>,
{
    Ok(match shipment_of(ctx, job, read).await? {
        None => Ok(Completion::Noop("no shipment".into())),
        Some(s) => work(s).await.map_err(Failure::from),
    })
}

/// Runs one claimed job to its next state (`pre`: what its claim read for it). Errors are
/// database errors only: the job then stays claimed and is retried once its lease runs out or
/// its worker is gone.
pub async fn run<C: Carrier>(ctx: &Context<C>, job: Job, pre: Preloaded) -> anyhow::Result<()> {
    let started_at = Utc::now();
    let t = Instant::now();
    let kind = job.kind();
    let result: Result<Completion, Failure> = match kind {
        Some(JobKind::Callback) => callback::run(ctx, &job, pre.callback).await?,
        Some(JobKind::CarrierConfirm) => confirm::run(ctx, &job, pre.shipment).await?,
        Some(JobKind::CarrierSubmit) => submit::run(ctx, &job, pre.shipment).await?,
        Some(JobKind::CarrierCancel) => cancel::run(ctx, &job, pre.shipment).await?,
        Some(JobKind::CarrierCancelCase) => cancel_case::run(ctx, &job, pre.shipment).await?,
        None => Ok(Completion::Noop(format!("unknown job kind {}", job.kind))),
    };
    let attempt = |outcome: AttemptOutcome, err: Option<&Failure>, note: Option<String>| Attempt {
        job_id: job.id,
        attempt: job.attempts,
        worker: ctx.worker,
        started_at,
        duration_ms: t.elapsed().as_millis().min(i32::MAX as u128) as i32,
        outcome,
        error_class: err.map(|e| e.class.to_owned()),
        http_status: err.and_then(|e| e.http_status).map(i32::from),
        excerpt: err
            .map(|e| excerpt(e.excerpt.as_deref().unwrap_or(&e.message)))
            .or(note),
    };
    match result {
        Ok(completion) => {
            let outcome = completion.outcome();
            metrics::counter!("bcci_job_attempts_total", "kind" => job.kind.clone(), "outcome" => outcome.as_str()).increment(1);
            let a = attempt(outcome, None, Some(completion.note()));
            // The most frequent outcome of all, recorded with others in one transaction.
            if let (Completion::Callback(Delivery::Delivered), Some(callback)) =
                (&completion, job.callback_id())
            {
                return match ctx.delivered.record(callback, a).await? {
                    Recorded::Done => Ok(()),
                    Recorded::NotOurs => anyhow::bail!("job {} is no longer ours", job.id),
                };
            }
            let mut conn = ctx.conn().await?;
            complete(ctx, &mut conn, &job, completion, a).await?;
        }
        Err(e) => {
            let (schedule, window) = ctx.retry_policy(kind);
            let give_up = Utc::now() - job.created_at >= chrono::Duration::from_std(window)?;
            let outcome = if give_up {
                AttemptOutcome::GaveUp
            } else {
                AttemptOutcome::Transient
            };
            metrics::counter!("bcci_job_attempts_total", "kind" => job.kind.clone(), "outcome" => outcome.as_str()).increment(1);
            let a = attempt(outcome, Some(&e), None);
            let mut conn = ctx.conn().await?;
            // The message may quote what was sent; it stays in the attempt row, not the log.
            tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, class = e.class, status = e.http_status, "job attempt failed");
            let error = format!("{}: {}", e.class, e.message);
            if give_up {
                let reason = format!(
                    "gave up after {} attempts over {}: {error}",
                    job.attempts,
                    humantime::format_duration(window),
                );
                give_up_job(ctx, &mut conn, &job, kind, &reason, a).await?;
            } else {
                let delay = schedule.delay(job.attempts as u32, e.retry_after);
                let at = Utc::now() + chrono::Duration::from_std(delay)?;
                let worker = ctx.worker;
                conn.transaction::<_, anyhow::Error, _>(async move |c| {
                    if let Some(id) = job.callback_id() {
                        stored::note_failure(c, id, &error).await?;
                    }
                    if !outbox::retry_at(c, &job, worker, at, &error, a).await? {
                        anyhow::bail!("job {} is no longer ours", job.id);
                    }
                    Ok(())
                })
                .await?;
            }
        }
    }
    Ok(())
}

/// An event the gateway writes on a shipment: a status change, or (`status` None) a note in
/// its history that changes nothing.
pub(super) fn gateway_event(s: &Shipment, status: Option<Status>, note: String) -> NewEvent {
    let mut e = NewEvent::status_change(
        s.id,
        status.unwrap_or(s.status()),
        Source::Gateway,
        "gateway",
        Some(note),
        Utc::now(),
    );
    if status.is_none() {
        e.status = None;
        e.applied = false;
    }
    e
}

async fn locked_shipment(c: &mut Conn, job: &Job) -> anyhow::Result<Option<Shipment>> {
    Ok(match job.shipment_id {
        Some(id) => find_for_update(c, id, &Visibility::default()).await?,
        None => None,
    })
}

async fn complete<C>(
    ctx: &Context<C>,
    conn: &mut Conn,
    job: &Job,
    completion: Completion,
    attempt: Attempt,
) -> anyhow::Result<()> {
    let worker = ctx.worker;
    let quiet = ctx.quiet();
    let codes = &ctx.config.carrier.status_codes;
    let cancel_case_interval = chrono::Duration::from_std(ctx.config.jobs.cancel_case_interval)?;
    conn.transaction::<_, anyhow::Error, _>(async move |c| {
        match &completion {
            Completion::Submit(answer) => {
                // An order's answer: the row lock and the pushes that overtook the answer
                // (read once the lock is granted) in one round trip.
                let locked = match (job.shipment_id, answer) {
                    (Some(id), submit::Answer::Submitted { item_code, .. }) => {
                        let (s, waiting) = futures_util::try_join!(
                            shipments::lock(c, id),
                            pushes::waiting_for(c, id, item_code),
                        )?;
                        s.map(|s| (s, Some(waiting)))
                    }
                    _ => locked_shipment(c, job).await?.map(|s| (s, None)),
                };
                if let Some((mut s, waiting)) = locked {
                    submit::apply(c, codes, &mut s, answer, quiet, waiting).await?;
                }
            }
            Completion::Cancel(answer) => {
                if let Some(mut s) = locked_shipment(c, job).await? {
                    cancel::apply(c, &mut s, answer, cancel_case_interval).await?;
                }
            }
            Completion::Callback(delivery) => {
                if let Some(id) = job.callback_id() {
                    callback::record(c, id, delivery).await?;
                }
            }
            // A case still undecided changes nothing; a confirming poll applied its reports in
            // its own transaction.
            Completion::Noop(_) | Completion::CancelStillWaiting | Completion::Confirmed { .. } => {
            }
        }
        let ours = match &completion {
            Completion::CancelStillWaiting => {
                let at = Utc::now() + cancel_case_interval;
                outbox::snooze(c, job, worker, at, attempt).await?
            }
            _ => outbox::finish(c, job, worker, attempt).await?,
        };
        if !ours {
            // The job was taken from us (lease ran out): leave everything to its new owner.
            anyhow::bail!("job {} is no longer ours", job.id);
        }
        Ok(())
    })
    .await
}

/// A job that has failed for longer than its give-up window: dead, visibly, with its reason;
/// each kind says what that means for its shipment or callback.
async fn give_up_job<C>(
    ctx: &Context<C>,
    conn: &mut Conn,
    job: &Job,
    kind: Option<JobKind>,
    reason: &str,
    attempt: Attempt,
) -> anyhow::Result<()> {
    let worker = ctx.worker;
    conn.transaction::<_, anyhow::Error, _>(async move |c| {
        if kind != Some(JobKind::Callback)
            && let Some(id) = job.shipment_id
            && let Some(mut s) = find_for_update(c, id, &Visibility::default()).await?
        {
            match kind {
                Some(JobKind::CarrierConfirm) => confirm::give_up(c, &s, reason).await?,
                Some(JobKind::CarrierSubmit) => submit::give_up(c, &mut s, reason).await?,
                _ => cancel::give_up(c, &s, reason).await?,
            }
        }
        if let Some(id) = job.callback_id() {
            callback::give_up(c, id, reason).await?;
        }
        if !outbox::bury(c, job, worker, reason, attempt).await? {
            anyhow::bail!("job {} is no longer ours", job.id);
        }
        Ok(())
    })
    .await
}
