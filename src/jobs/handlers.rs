//! What each kind of job does: submit a shipment's order to the carrier exactly once, or ask
//! the carrier to cancel it. A handler makes the carrier call, then records its effect on the
//! shipment, the job's new state and the attempt row in one transaction.

use super::retry::Schedule;
use super::{Attempt, Job, JobKind, bury, enqueue, finish, retry_at};
use crate::carrier::{CancelResult, Carrier, CarrierError, OrderRequest, Party};
use crate::config::{Config, Office};
use crate::domain::status::Outcome;
use crate::domain::{Action, Kind, Source, Status};
use crate::ledger::models::{NewEvent, Shipment};
use crate::ledger::schema::shipments::dsl;
use crate::ledger::shipments::{Visibility, change_status, find, find_for_update};
use crate::ledger::{Conn, Pool, events};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use std::sync::Arc;
use std::time::Instant;

/// What a worker needs to run jobs.
pub struct Context<C> {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub carrier: Arc<C>,
    pub worker: i32,
}

impl<C> Context<C> {
    fn schedule(&self) -> Schedule {
        let j = &self.config.jobs;
        Schedule {
            min: j.retry_min,
            max: j.retry_max,
            retry_after_cap: j.retry_after_cap,
        }
    }

    fn quiet(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.tracking.quiet_after)
            .unwrap_or(chrono::Duration::hours(1))
    }
}

/// The effect of a successful call (or of finding nothing to do).
#[derive(Debug)]
enum Completion {
    /// Nothing to do any more (the shipment moved on); the reason is kept on the attempt.
    Noop(String),
    /// The carrier holds an order for the shipment; `adopted` when it was found by
    /// `saleOrderCode` rather than created by this attempt.
    Submitted {
        item_code: String,
        original_id: String,
        adopted: bool,
    },
    /// The carrier refuses the order: the shipment needs staff.
    Rejected(String),
    CancelDone,
    CancelWaiting,
    CancelRefused(String),
}

/// Runs one claimed job to its next state. Errors are database errors only: the job then
/// stays claimed and is retried once its lease runs out.
pub async fn run<C: Carrier>(ctx: &Context<C>, job: Job) -> anyhow::Result<()> {
    let started_at = Utc::now();
    let t = Instant::now();
    let shipment = match job.shipment_id {
        Some(id) => find(&mut *ctx.pool.get().await?, id, &Visibility::default()).await?,
        None => None,
    };
    let result = match (JobKind::parse(&job.kind), shipment) {
        (_, None) => Ok(Completion::Noop("no shipment".into())),
        (Some(JobKind::CarrierSubmit), Some(s)) => submit(ctx, &job, s).await,
        (Some(JobKind::CarrierCancel), Some(s)) => cancel(ctx, s).await,
        (None, _) => Ok(Completion::Noop(format!("unknown job kind {}", job.kind))),
    };
    let attempt = |outcome: &str, err: Option<&CarrierError>, note: Option<String>| Attempt {
        job_id: job.id,
        attempt: job.attempts,
        worker: ctx.worker,
        started_at,
        duration_ms: t.elapsed().as_millis().min(i32::MAX as u128) as i32,
        outcome: outcome.to_owned(),
        error_class: err.map(|e| e.class.as_str().to_owned()),
        http_status: err.and_then(|e| e.http_status).map(i32::from),
        excerpt: err
            .map(|e| super::excerpt(e.excerpt.as_deref().unwrap_or(&e.message)))
            .or(note),
    };
    let mut conn = ctx.pool.get().await?;
    match result {
        Ok(completion) => {
            let outcome = if matches!(completion, Completion::Rejected(_)) {
                "permanent"
            } else {
                "ok"
            };
            metrics::counter!("bcci_job_attempts_total", "kind" => job.kind.clone(), "outcome" => outcome).increment(1);
            let note = match &completion {
                Completion::Noop(why) => why.clone(),
                other => format!("{other:?}"),
            };
            let a = attempt(outcome, None, Some(note));
            complete(ctx, &mut conn, &job, completion, a).await?;
        }
        Err(e) => {
            let give_up = Utc::now() - job.created_at
                >= chrono::Duration::from_std(ctx.config.jobs.give_up_after)?;
            let outcome = if give_up { "gave_up" } else { "transient" };
            metrics::counter!("bcci_job_attempts_total", "kind" => job.kind.clone(), "outcome" => outcome).increment(1);
            let a = attempt(outcome, Some(&e), None);
            tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, class = %e.class, error = %e.message, "job attempt failed");
            if give_up {
                let reason = format!(
                    "gave up after {} attempts over {}: {} ({})",
                    job.attempts,
                    humantime::format_duration(ctx.config.jobs.give_up_after),
                    e.message,
                    e.class
                );
                give_up_job(ctx, &mut conn, &job, &reason, a).await?;
            } else {
                let delay = ctx.schedule().delay(job.attempts as u32, e.retry_after);
                let at = Utc::now() + chrono::Duration::from_std(delay)?;
                retry_at(
                    &mut conn,
                    &job,
                    ctx.worker,
                    at,
                    &format!("{}: {}", e.class, e.message),
                    a,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Exactly one carrier order per shipment: any attempt after the first looks the order up by
/// `saleOrderCode` before creating it, because an earlier attempt may have created it and
/// lost the answer (timeout, crash, lost connection).
async fn submit<C: Carrier>(
    ctx: &Context<C>,
    job: &Job,
    s: Shipment,
) -> Result<Completion, CarrierError> {
    if s.status() != Status::Requested {
        return Ok(Completion::Noop(format!("shipment is {}", s.status)));
    }
    if job.attempts > 1 {
        let t = Instant::now();
        let found = ctx.carrier.find_order(&s.sale_order_code).await;
        metrics::histogram!("bcci_carrier_request_seconds", "call" => "getOrder")
            .record(t.elapsed());
        if let Some(order) = found? {
            tracing::info!(sale_order_code = %s.sale_order_code, item_code = %order.item_code, "order found at the carrier; not creating it again");
            return Ok(Completion::Submitted {
                item_code: order.item_code,
                original_id: order.original_id,
                adopted: true,
            });
        }
    }
    let Some(office) = ctx.config.office(&s.office_code) else {
        return Ok(Completion::Rejected(format!(
            "office {} is no longer configured",
            s.office_code
        )));
    };
    let order = order_request(&s, office, &ctx.config);
    let t = Instant::now();
    let created = ctx.carrier.create_order(&order).await;
    metrics::histogram!("bcci_carrier_request_seconds", "call" => "CreateOrder")
        .record(t.elapsed());
    match created {
        Ok(c) => Ok(Completion::Submitted {
            item_code: c.item_code,
            original_id: c.original_id,
            adopted: false,
        }),
        Err(e) if e.is_permanent() => Ok(Completion::Rejected(format!(
            "the carrier refused the order: {}",
            e.message
        ))),
        Err(e) => Err(e),
    }
}

async fn cancel<C: Carrier>(ctx: &Context<C>, s: Shipment) -> Result<Completion, CarrierError> {
    let Some(original_id) = s.carrier_order_id.clone() else {
        return Ok(Completion::Noop("the shipment has no carrier order".into()));
    };
    let t = Instant::now();
    let answer = ctx.carrier.cancel_order(&original_id).await;
    metrics::histogram!("bcci_carrier_request_seconds", "call" => "orderCancel")
        .record(t.elapsed());
    Ok(match answer? {
        CancelResult::Done => Completion::CancelDone,
        CancelResult::Waiting => Completion::CancelWaiting,
        CancelResult::Refused(m) => Completion::CancelRefused(m),
    })
}

/// The carrier order for a shipment: pickup = citizen → office, delivery = office → citizen.
pub fn order_request(s: &Shipment, office: &Office, config: &Config) -> OrderRequest {
    let citizen = Party {
        name: s.person_name.clone(),
        phone: s.person_phone.clone(),
        email: s.person_email.clone(),
        address_line: s.address_line.clone(),
        province_code: s.province_code.clone(),
        commune_code: s.commune_code.clone(),
    };
    let office_party = Party {
        name: office.name.clone(),
        phone: office.phone.clone(),
        email: None,
        address_line: office.address.line.clone(),
        province_code: office.address.province_code.clone(),
        commune_code: office.address.commune_code.clone(),
    };
    let (sender, receiver, what) = match s.kind() {
        Kind::Pickup => (citizen, office_party, "Hồ sơ"),
        Kind::Delivery => (office_party, citizen, "Kết quả hồ sơ"),
    };
    let mut note = format!("{what} {} - {}", s.dossier_code, s.procedure_name);
    if s.collect_fees_vnd > 0 {
        note.push_str(&format!(" - thu phí {} đ", s.collect_fees_vnd));
    }
    OrderRequest {
        sale_order_code: s.sale_order_code.clone(),
        sender,
        receiver,
        service_code: config.carrier.service_code.clone(),
        weight_grams: config.carrier.weight_grams,
        content_note: note.chars().take(250).collect(),
        cod_vnd: if s.kind() == Kind::Delivery {
            s.cod_vnd
        } else {
            0
        },
    }
}

fn gateway_event(s: &Shipment, status: Option<Status>, note: String) -> NewEvent {
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

async fn complete<C>(
    ctx: &Context<C>,
    conn: &mut Conn,
    job: &Job,
    completion: Completion,
    attempt: Attempt,
) -> anyhow::Result<()> {
    let worker = ctx.worker;
    let quiet = ctx.quiet();
    conn.transaction::<_, anyhow::Error, _>(async move |c| {
        if let Some(id) = job.shipment_id
            && let Some(mut s) = find_for_update(c, id, &Visibility::default()).await?
        {
            apply_completion(c, &mut s, &completion, quiet).await?;
        }
        if !finish(c, job, worker, attempt).await? {
            // The job was taken from us (lease ran out): leave everything to its new owner.
            anyhow::bail!("job {} is no longer ours", job.id);
        }
        Ok(())
    })
    .await
}

async fn apply_completion(
    c: &mut Conn,
    s: &mut Shipment,
    completion: &Completion,
    quiet: chrono::Duration,
) -> anyhow::Result<()> {
    match completion {
        Completion::Noop(_) => {}
        Completion::Submitted {
            item_code,
            original_id,
            adopted,
        } => {
            let now = Utc::now();
            diesel::update(dsl::shipments.find(s.id))
                .set((
                    dsl::tracking_number.eq(item_code),
                    dsl::carrier_order_id.eq(original_id),
                    dsl::next_poll_at.eq(Some(now + quiet)),
                ))
                .execute(c)
                .await?;
            s.tracking_number = Some(item_code.clone());
            s.carrier_order_id = Some(original_id.clone());
            let how = if *adopted {
                "found at the carrier by its reference"
            } else {
                "created at the carrier"
            };
            match Action::CarrierAccepted.apply(s.status()) {
                Ok(Outcome::MoveTo(to)) => {
                    let ev = gateway_event(s, Some(to), format!("order {how}: {item_code}"));
                    change_status(c, s, to, ev, None).await?;
                }
                Ok(_) => {}
                Err(_) => {
                    // Cancelled or rejected while the order was being created: the carrier
                    // holds an order nobody wants any more; ask it to cancel.
                    events::append(c, gateway_event(s, None, format!("order {how} ({item_code}) after the shipment became {}; asking the carrier to cancel it", s.status))).await?;
                    enqueue(
                        c,
                        JobKind::CarrierCancel,
                        Some(s.id),
                        serde_json::json!({ "reason": "orphan order" }),
                    )
                    .await?;
                }
            }
        }
        Completion::Rejected(reason) => {
            if let Ok(Outcome::MoveTo(to)) = Action::Reject.apply(s.status()) {
                let ev = gateway_event(s, Some(to), reason.clone());
                change_status(c, s, to, ev, Some(reason.clone())).await?;
            }
        }
        Completion::CancelDone => match Action::CarrierCancelled.apply(s.status()) {
            Ok(Outcome::MoveTo(to)) => {
                let ev = gateway_event(s, Some(to), "the carrier cancelled the order".into());
                change_status(c, s, to, ev, Some("cancelled at the carrier".into())).await?;
            }
            Ok(_) => {}
            Err(_) => events::append(
                c,
                gateway_event(s, None, "the carrier cancelled the order".into()),
            )
            .await
            .map(|_| ())?,
        },
        Completion::CancelWaiting => {
            events::append(
                c,
                gateway_event(
                    s,
                    None,
                    "the carrier must approve the cancellation; tracking will see its decision"
                        .into(),
                ),
            )
            .await?;
        }
        Completion::CancelRefused(m) => {
            events::append(
                c,
                gateway_event(s, None, format!("the carrier refused to cancel: {m}")),
            )
            .await?;
        }
    }
    Ok(())
}

/// A job that has failed for longer than `jobs.give_up_after`: dead, visibly, with its
/// reason; a shipment whose order could not be submitted becomes `rejected` (needs staff).
async fn give_up_job<C>(
    ctx: &Context<C>,
    conn: &mut Conn,
    job: &Job,
    reason: &str,
    attempt: Attempt,
) -> anyhow::Result<()> {
    let worker = ctx.worker;
    conn.transaction::<_, anyhow::Error, _>(async move |c| {
        if let Some(id) = job.shipment_id
            && let Some(mut s) = find_for_update(c, id, &Visibility::default()).await?
        {
            match JobKind::parse(&job.kind) {
                Some(JobKind::CarrierSubmit) => {
                    if let Ok(Outcome::MoveTo(to)) = Action::Reject.apply(s.status()) {
                        let ev = gateway_event(&s, Some(to), reason.to_owned());
                        change_status(c, &mut s, to, ev, Some(reason.to_owned())).await?;
                    }
                }
                _ => {
                    events::append(
                        c,
                        gateway_event(
                            &s,
                            None,
                            format!("gave up asking the carrier to cancel: {reason}"),
                        ),
                    )
                    .await?;
                }
            }
        }
        if !bury(c, job, worker, reason, attempt).await? {
            anyhow::bail!("job {} is no longer ours", job.id);
        }
        Ok(())
    })
    .await
}
