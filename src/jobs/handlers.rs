//! What each kind of job does: submit a shipment's order to the carrier exactly once, or ask
//! the carrier to cancel it. A handler makes the carrier call, then records its effect on the
//! shipment, the job's new state and the attempt row in one transaction.

use super::retry::Schedule;
use super::{Attempt, Job, JobKind, bury, enqueue, enqueue_at, finish, retry_at, snooze};
use crate::callbacks;
use crate::carrier::{
    CancelResult, Carrier, CarrierError, ErrorClass, OrderRequest, Party, SendType,
};
use crate::config::{Config, Office};
use crate::domain::status::Outcome;
use crate::domain::{Action, Kind, Source, Status};
use crate::ledger::models::{CancelState, NewEvent, Shipment};
use crate::ledger::schema::shipments::dsl;
use crate::ledger::shipments::{
    Visibility, change_status, find, find_for_update, set_cancel_state,
};
use crate::ledger::{Conn, Pool, events};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// What a worker needs to run jobs.
pub struct Context<C> {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub carrier: Arc<C>,
    /// For callbacks to the dossier systems.
    pub http: reqwest::Client,
    pub worker: i32,
}

impl<C> Context<C> {
    /// The retry schedule and give-up window of a kind of job.
    fn retry_policy(&self, kind: Option<JobKind>) -> (Schedule, std::time::Duration) {
        let j = &self.config.jobs;
        match kind {
            Some(JobKind::Callback) => {
                let c = &self.config.callbacks;
                let s = Schedule {
                    min: c.retry_min,
                    max: c.retry_max,
                    retry_after_cap: j.retry_after_cap,
                };
                (s, c.give_up_after)
            }
            _ => {
                let s = Schedule {
                    min: j.retry_min,
                    max: j.retry_max,
                    retry_after_cap: j.retry_after_cap,
                };
                (s, j.give_up_after)
            }
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
        /// Postage and COD as the carrier reports them.
        total_fee: Option<i64>,
        cod_amount: Option<i64>,
    },
    /// The carrier refuses the order: the shipment needs staff.
    Rejected(String),
    CancelDone,
    /// VNPost must approve the cancellation: ask about `case_id` later.
    CancelWaiting {
        case_id: Option<String>,
    },
    /// VNPost has still not decided the case: ask again later (the job is snoozed).
    CancelStillWaiting,
    CancelRefused(String),
    /// The receiver answered 2xx.
    CallbackDelivered,
    /// The receiver answered 410: its client's callbacks stop until staff re-enable them.
    CallbackGone,
    /// The client's callbacks are stopped: the message waits.
    CallbackHeld,
    /// The message cannot be delivered at all (client removed from the configuration).
    CallbackDropped(String),
    /// The carrier's tracking was read and applied (`new` reports not seen before).
    Confirmed {
        new: usize,
    },
}

impl Completion {
    fn touches_shipment(&self) -> bool {
        !matches!(
            self,
            Completion::Noop(_)
                | Completion::CallbackDelivered
                | Completion::CallbackGone
                | Completion::CallbackHeld
                | Completion::CallbackDropped(_)
                // `tracking::poll_one` applied the reports in its own transaction.
                | Completion::Confirmed { .. }
        )
    }
}

/// Runs one claimed job to its next state. Errors are database errors only: the job then
/// stays claimed and is retried once its lease runs out or its worker is gone.
pub async fn run<C: Carrier>(ctx: &Context<C>, job: Job) -> anyhow::Result<()> {
    let started_at = Utc::now();
    let t = Instant::now();
    let kind = JobKind::parse(&job.kind);
    let result = match kind {
        Some(JobKind::Callback) => deliver_callback(ctx, &job).await?,
        Some(JobKind::CarrierConfirm) => confirm(ctx, &job).await?,
        Some(k) => {
            let shipment = match job.shipment_id {
                Some(id) => find(&mut *ctx.pool.get().await?, id, &Visibility::default()).await?,
                None => None,
            };
            match (k, shipment) {
                (_, None) => Ok(Completion::Noop("no shipment".into())),
                (JobKind::CarrierSubmit, Some(s)) => submit(ctx, &job, s).await,
                (JobKind::CarrierCancel, Some(s)) => cancel(ctx, s).await,
                (JobKind::CarrierCancelCase, Some(s)) => cancel_case(ctx, &job, s).await,
                (JobKind::Callback | JobKind::CarrierConfirm, Some(_)) => {
                    unreachable!("handled above")
                }
            }
        }
        None => Ok(Completion::Noop(format!("unknown job kind {}", job.kind))),
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
            let outcome = match completion {
                Completion::Rejected(_) | Completion::CallbackDropped(_) => "permanent",
                Completion::CallbackGone => "gone",
                _ => "ok",
            };
            metrics::counter!("bcci_job_attempts_total", "kind" => job.kind.clone(), "outcome" => outcome).increment(1);
            let note = match &completion {
                Completion::Noop(why) => why.clone(),
                Completion::Confirmed { new } => {
                    format!("tracking read and applied: {new} new report(s)")
                }
                other => format!("{other:?}"),
            };
            let a = attempt(outcome, None, Some(note));
            complete(ctx, &mut conn, &job, completion, a).await?;
        }
        Err(e) => {
            let (schedule, window) = ctx.retry_policy(kind);
            let give_up = Utc::now() - job.created_at >= chrono::Duration::from_std(window)?;
            let outcome = if give_up { "gave_up" } else { "transient" };
            metrics::counter!("bcci_job_attempts_total", "kind" => job.kind.clone(), "outcome" => outcome).increment(1);
            let a = attempt(outcome, Some(&e), None);
            // The message may quote what was sent; it stays in the attempt row, not the log.
            tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, class = %e.class, status = e.http_status, "job attempt failed");
            let error = format!("{}: {}", e.class, e.message);
            if give_up {
                let reason = format!(
                    "gave up after {} attempts over {}: {error}",
                    job.attempts,
                    humantime::format_duration(window),
                );
                give_up_job(ctx, &mut conn, &job, &reason, a).await?;
            } else {
                let delay = schedule.delay(job.attempts as u32, e.retry_after);
                let at = Utc::now() + chrono::Duration::from_std(delay)?;
                let worker = ctx.worker;
                conn.transaction::<_, anyhow::Error, _>(async move |c| {
                    if let Some(id) = callback_id(&job) {
                        callbacks::note_failure(c, id, &error).await?;
                    }
                    if !retry_at(c, &job, worker, at, &error, a).await? {
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

fn callback_id(job: &Job) -> Option<Uuid> {
    job.payload
        .get("callback_id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// One delivery attempt of a callback (SPEC §7). The outer `Result` is for database errors;
/// the inner one is the attempt's outcome.
async fn deliver_callback<C>(
    ctx: &Context<C>,
    job: &Job,
) -> anyhow::Result<Result<Completion, CarrierError>> {
    let Some(id) = callback_id(job) else {
        return Ok(Ok(Completion::CallbackDropped(
            "the job names no callback".into(),
        )));
    };
    let mut conn = ctx.pool.get().await?;
    let Some(cb) = callbacks::find(&mut conn, id).await? else {
        return Ok(Ok(Completion::CallbackDropped("no such callback".into())));
    };
    if cb.state == "delivered" {
        return Ok(Ok(Completion::Noop("already delivered".into())));
    }
    let Some(client) = ctx.config.client(&cb.client_id) else {
        return Ok(Ok(Completion::CallbackDropped(format!(
            "client {} is no longer configured",
            cb.client_id
        ))));
    };
    if !callbacks::client_enabled(&mut conn, &cb.client_id).await? {
        return Ok(Ok(Completion::CallbackHeld));
    }
    drop(conn);
    let mut keys = Vec::new();
    for secret in [
        Some(&client.callback_secret),
        client.callback_secret_next.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        match callbacks::sign::key(secret.expose()) {
            Ok(k) => keys.push(k),
            Err(e) => {
                return Ok(Ok(Completion::CallbackDropped(format!(
                    "client {}: {e}",
                    client.id
                ))));
            }
        }
    }
    let body = serde_json::to_vec(&cb.body)?;
    let msg_id = cb.webhook_id();
    let timestamp = Utc::now().timestamp();
    let t = Instant::now();
    let sent = ctx
        .http
        .post(client.callback_url.clone())
        .timeout(ctx.config.callbacks.timeout)
        .header("content-type", "application/json")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            callbacks::sign::header(&keys, &msg_id, timestamp, &body),
        )
        .body(body)
        .send()
        .await;
    metrics::histogram!("bcci_callback_request_seconds").record(t.elapsed());
    Ok(match sent {
        Ok(r) if r.status().is_success() => Ok(Completion::CallbackDelivered),
        Ok(r) if r.status() == reqwest::StatusCode::GONE => Ok(Completion::CallbackGone),
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(std::time::Duration::from_secs);
            let text = r.text().await.unwrap_or_default();
            let mut e = CarrierError::new(
                ErrorClass::Server,
                format!("the receiver answered {status}"),
            );
            e.http_status = Some(status);
            e.retry_after = retry_after;
            e.excerpt = Some(super::excerpt(&text));
            Err(e)
        }
        Err(e) if e.is_timeout() => Err(CarrierError::new(
            ErrorClass::Timeout,
            "no answer within callbacks.timeout",
        )),
        Err(e) if e.is_connect() => Err(CarrierError::new(
            ErrorClass::Connect,
            format!("cannot connect: {e}"),
        )),
        Err(e) => Err(CarrierError::new(ErrorClass::Protocol, e.to_string())),
    })
}

/// A confirming tracking query after a push (SPEC §6): `getOrder` + `GetStatusHistoryOrder`
/// through `tracking::poll_one`, applied with source `carrier_poll`. The outer `Result` is for
/// database errors; a carrier error is the attempt's outcome (retried, kept on the attempt).
async fn confirm<C: Carrier>(
    ctx: &Context<C>,
    job: &Job,
) -> anyhow::Result<Result<Completion, CarrierError>> {
    let s = match job.shipment_id {
        Some(id) => find(&mut *ctx.pool.get().await?, id, &Visibility::default()).await?,
        None => None,
    };
    let Some(s) = s else {
        return Ok(Ok(Completion::Noop("no shipment".into())));
    };
    if s.status().is_terminal() {
        return Ok(Ok(Completion::Noop(format!("shipment is {}", s.status))));
    }
    match crate::tracking::poll_one(ctx, s.id, &s.sale_order_code, s.tracking_number.as_deref())
        .await
    {
        Ok(new) => Ok(Ok(Completion::Confirmed { new })),
        Err(e) => match e.downcast::<CarrierError>() {
            Ok(carrier) => Ok(Err(carrier)),
            Err(other) => Err(other),
        },
    }
}

/// Exactly one carrier order per shipment: any attempt after the first looks the order up by
/// `saleOrderCode` before creating it, because an earlier attempt may have created it and
/// lost the answer (timeout, crash, lost connection).
async fn submit<C: Carrier>(
    ctx: &Context<C>,
    job: &Job,
    s: Shipment,
) -> Result<Completion, CarrierError> {
    if s.carrier_order_id.is_some() {
        return Ok(Completion::Noop(
            "the carrier order is already recorded".into(),
        ));
    }
    // A push (or poll) may have moved the shipment on while an earlier attempt's answer was
    // lost: the order exists, but its id (needed to cancel it) is known only to the carrier.
    let moved_on = s.status() != Status::Requested;
    if moved_on && s.status().is_terminal() && s.tracking_number.is_none() {
        return Ok(Completion::Noop(format!("shipment is {}", s.status)));
    }
    if job.attempts > 1 || moved_on {
        let found = find_order(ctx, &s.sale_order_code).await?;
        if let Some(order) = found {
            tracing::info!(sale_order_code = %s.sale_order_code, item_code = %order.item_code, "order found at the carrier; not creating it again");
            return Ok(Completion::Submitted {
                item_code: order.item_code,
                original_id: order.original_id,
                adopted: true,
                total_fee: order.total_fee,
                cod_amount: order.cod_amount,
            });
        }
        if moved_on {
            return Ok(Completion::Noop(format!(
                "shipment is {} and the carrier has no order for it",
                s.status
            )));
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
            total_fee: c.total_fee,
            cod_amount: None,
        }),
        Err(e) if e.is_permanent() => Ok(Completion::Rejected(format!(
            "the carrier refused the order: {}",
            e.message
        ))),
        Err(e) => Err(e),
    }
}

async fn find_order<C: Carrier>(
    ctx: &Context<C>,
    sale_order_code: &str,
) -> Result<Option<crate::carrier::FoundOrder>, CarrierError> {
    let t = Instant::now();
    let found = ctx.carrier.find_order(sale_order_code).await;
    metrics::histogram!("bcci_carrier_request_seconds", "call" => "getOrder").record(t.elapsed());
    found
}

async fn cancel<C: Carrier>(ctx: &Context<C>, s: Shipment) -> Result<Completion, CarrierError> {
    // The order's id may be unknown if its creation was learnt from a push: look it up.
    let original_id = match s.carrier_order_id.clone() {
        Some(id) => id,
        None => match find_order(ctx, &s.sale_order_code).await? {
            Some(order) => order.original_id,
            None => {
                return Ok(Completion::Noop(
                    "the carrier has no order for this shipment".into(),
                ));
            }
        },
    };
    let t = Instant::now();
    let answer = ctx.carrier.cancel_order(&original_id).await;
    metrics::histogram!("bcci_carrier_request_seconds", "call" => "orderCancel")
        .record(t.elapsed());
    Ok(match answer? {
        CancelResult::Done => Completion::CancelDone,
        CancelResult::Waiting { case_id } => Completion::CancelWaiting { case_id },
        CancelResult::Refused(m) => Completion::CancelRefused(m),
    })
}

/// Asks VNPost how it decided a cancellation it had to approve (`orderCorrection/updateCase`).
async fn cancel_case<C: Carrier>(
    ctx: &Context<C>,
    job: &Job,
    s: Shipment,
) -> Result<Completion, CarrierError> {
    if s.status().is_terminal() {
        return Ok(Completion::Noop(format!("shipment is {}", s.status)));
    }
    let case_id = job.payload.get("case_id").and_then(|v| v.as_str());
    let (Some(case_id), Some(original_id)) = (case_id, s.carrier_order_id.as_deref()) else {
        return Ok(Completion::Noop(
            "no case or carrier order to ask about; tracking will see the outcome".into(),
        ));
    };
    let t = Instant::now();
    let answer = ctx.carrier.cancel_case(original_id, case_id).await;
    metrics::histogram!("bcci_carrier_request_seconds", "call" => "updateCase").record(t.elapsed());
    Ok(match answer? {
        CancelResult::Done => Completion::CancelDone,
        CancelResult::Waiting { .. } => Completion::CancelStillWaiting,
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
        // A pickup is collected at the citizen's home; a delivery as the office chose.
        send_type: match s.kind() {
            Kind::Pickup => SendType::Collect,
            Kind::Delivery => office.send_type,
        },
        org_code_collect: office.org_code_collect.clone(),
        org_code_accept: office.org_code_accept.clone(),
        delivery_instruction: s.note.clone().filter(|n| !n.trim().is_empty()),
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
    let cancel_case_interval = chrono::Duration::from_std(ctx.config.jobs.cancel_case_interval)?;
    conn.transaction::<_, anyhow::Error, _>(async move |c| {
        if completion.touches_shipment()
            && let Some(id) = job.shipment_id
            && let Some(mut s) = find_for_update(c, id, &Visibility::default()).await?
        {
            apply_completion(c, &mut s, &completion, quiet, cancel_case_interval).await?;
        }
        if let Some(id) = callback_id(job) {
            match &completion {
                Completion::CallbackDelivered => {
                    callbacks::set_state(c, id, "delivered", None).await?
                }
                Completion::CallbackHeld => {
                    callbacks::set_state(
                        c,
                        id,
                        "held",
                        Some("callbacks to this client are stopped"),
                    )
                    .await?
                }
                Completion::CallbackGone => {
                    let cb = callbacks::find(c, id).await?.expect("callback exists");
                    callbacks::disable_client(
                        c,
                        &cb.client_id,
                        "the callback URL answered 410 Gone",
                    )
                    .await?;
                    callbacks::set_state(
                        c,
                        id,
                        "held",
                        Some("410 Gone: callbacks to this client stopped"),
                    )
                    .await?;
                }
                Completion::CallbackDropped(why) => {
                    callbacks::set_state(c, id, "dead", Some(why)).await?
                }
                _ => {}
            }
        }
        let ours = match &completion {
            Completion::CancelStillWaiting => {
                let at = Utc::now() + cancel_case_interval;
                snooze(c, job, worker, at, attempt).await?
            }
            _ => finish(c, job, worker, attempt).await?,
        };
        if !ours {
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
    cancel_case_interval: chrono::Duration,
) -> anyhow::Result<()> {
    match completion {
        // Callback outcomes are recorded on the callback, not the shipment; a case still
        // undecided changes nothing.
        Completion::Noop(_)
        | Completion::Confirmed { .. }
        | Completion::CancelStillWaiting
        | Completion::CallbackDelivered
        | Completion::CallbackGone
        | Completion::CallbackHeld
        | Completion::CallbackDropped(_) => {}
        Completion::Submitted {
            item_code,
            original_id,
            adopted,
            total_fee,
            cod_amount,
        } => {
            let now = Utc::now();
            diesel::update(dsl::shipments.find(s.id))
                .set((
                    dsl::tracking_number.eq(item_code),
                    dsl::carrier_order_id.eq(original_id),
                    dsl::next_poll_at.eq(Some(now + quiet)),
                    dsl::carrier_fee_vnd.eq(total_fee.or(s.carrier_fee_vnd)),
                    dsl::carrier_cod_vnd.eq(cod_amount.or(s.carrier_cod_vnd)),
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
        Completion::CancelDone => {
            set_cancel_state(c, s.id, None, None, None).await?;
            match Action::CarrierCancelled.apply(s.status()) {
                Ok(Outcome::MoveTo(to)) => {
                    let ev = gateway_event(s, Some(to), "the carrier cancelled the order".into());
                    change_status(c, s, to, ev, Some("cancelled at the carrier".into())).await?;
                }
                Ok(_) => {}
                Err(_) => {
                    let ev = gateway_event(s, None, "the carrier cancelled the order".into());
                    events::append(c, ev).await?;
                }
            }
        }
        Completion::CancelWaiting { case_id } => {
            set_cancel_state(
                c,
                s.id,
                Some(CancelState::AwaitingCarrier),
                case_id.as_deref(),
                None,
            )
            .await?;
            let note = match case_id {
                Some(case) => {
                    // A durable follow-up: asked again every `jobs.cancel_case_interval`
                    // until VNPost decides (pushes and tracking may also bring code 9).
                    enqueue_at(
                        c,
                        JobKind::CarrierCancelCase,
                        Some(s.id),
                        serde_json::json!({ "case_id": case }),
                        Utc::now() + cancel_case_interval,
                    )
                    .await?;
                    format!("the cancellation awaits VNPost's approval (case {case})")
                }
                None => "the cancellation awaits VNPost's approval (no case id given; tracking will see its decision)".into(),
            };
            events::append(c, gateway_event(s, None, note)).await?;
        }
        Completion::CancelRefused(m) => {
            set_cancel_state(c, s.id, Some(CancelState::Refused), None, Some(m)).await?;
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
        if JobKind::parse(&job.kind) != Some(JobKind::Callback)
            && let Some(id) = job.shipment_id
            && let Some(mut s) = find_for_update(c, id, &Visibility::default()).await?
        {
            match JobKind::parse(&job.kind) {
                Some(JobKind::CarrierConfirm) => {
                    events::append(
                        c,
                        gateway_event(
                            &s,
                            None,
                            format!("gave up confirming a carrier push by tracking: {reason}"),
                        ),
                    )
                    .await?;
                }
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
        if let Some(id) = callback_id(job) {
            callbacks::set_state(c, id, "dead", Some(reason)).await?;
        }
        if !bury(c, job, worker, reason, attempt).await? {
            anyhow::bail!("job {} is no longer ours", job.id);
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipment(kind: Kind) -> Shipment {
        let body = match kind {
            Kind::Pickup => serde_json::json!({
                "dossier_code": "000.00.14.H61-261127-0001", "office_code": "VPDKDD-TQ",
                "procedure": {"code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất"},
                "citizen": {"full_name": "Nguyễn Văn An", "phone": "0912345678"},
                "address": {"line": "Số 12, tổ 5", "province_code": "08", "commune_code": "02215"},
                "collect_fees_vnd": 50000
            }),
            Kind::Delivery => serde_json::json!({
                "dossier_code": "000.00.14.H61-261127-0002", "office_code": "VPDKDD-TQ",
                "procedure": {"code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất"},
                "recipient": {"full_name": "Trần Thị Bình", "phone": "0987654321"},
                "address": {"line": "Thôn Nà Mèo", "province_code": "08", "commune_code": "00700"},
                "result": {"description": "Giấy chứng nhận"}, "cod_vnd": 30000, "collect_fees_vnd": 50000
            }),
        };
        let config = Config::from_overlay("").unwrap();
        let now = Utc::now();
        match kind {
            Kind::Pickup => crate::api::shipments::pickup_row(
                &serde_json::from_value(body).unwrap(),
                &config,
                "motcua-tq",
                now,
            ),
            Kind::Delivery => crate::api::shipments::delivery_row(
                &serde_json::from_value(body).unwrap(),
                &config,
                "motcua-tq",
                now,
            ),
        }
        .unwrap()
    }

    #[test]
    fn a_pickup_goes_from_the_citizen_to_the_office() {
        let config = Config::from_overlay("").unwrap();
        let s = shipment(Kind::Pickup);
        let o = order_request(&s, config.office("VPDKDD-TQ").unwrap(), &config);
        assert_eq!(o.sender.name, "Nguyễn Văn An");
        assert_eq!(o.sender.commune_code, "02215");
        assert_eq!(
            o.receiver.name,
            "Văn phòng Đăng ký đất đai tỉnh Tuyên Quang"
        );
        assert_eq!(o.sale_order_code, s.sale_order_code);
        assert_eq!(o.cod_vnd, 0, "a pickup collects no cash on delivery");
        assert_eq!(
            o.content_note,
            "Hồ sơ 000.00.14.H61-261127-0001 - Đăng ký biến động quyền sử dụng đất - thu phí 50000 đ"
        );
        assert_eq!(o.service_code, "CTN001");
    }

    #[test]
    fn a_delivery_goes_from_the_office_to_the_citizen_with_cod() {
        let config = Config::from_overlay("").unwrap();
        let s = shipment(Kind::Delivery);
        let o = order_request(&s, config.office("VPDKDD-TQ").unwrap(), &config);
        assert_eq!(o.sender.name, "Văn phòng Đăng ký đất đai tỉnh Tuyên Quang");
        assert_eq!(o.receiver.name, "Trần Thị Bình");
        assert_eq!(o.receiver.phone, "0987654321");
        assert_eq!(o.cod_vnd, 30000);
        assert!(
            o.content_note
                .starts_with("Kết quả hồ sơ 000.00.14.H61-261127-0002")
        );
    }
}
