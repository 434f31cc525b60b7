//! Job `carrier_submit`: create a shipment's carrier order exactly once, and record it (or the
//! carrier's refusal) on the shipment.

use super::preload::Read;
use super::run::{Completion, gateway_event, on_shipment};
use super::{Context, Failure};
use crate::carrier::order::{ShipmentOrder, order_request};
use crate::carrier::{Carrier, CarrierError, FoundOrder, Party, timed};
use crate::domain::carrier_codes::CodeTable;
use crate::domain::note::GatewayNote;
use crate::domain::outbox::JobKind;
use crate::domain::status::Outcome;
use crate::domain::{Action, Status};
use crate::ledger::models::Shipment;
use crate::ledger::outbox::{self, Job};
use crate::ledger::shipments::{
    CarrierOrder, change_status, record_carrier_order, record_carrier_order_and_status,
};
use crate::ledger::{Conn, events, pushes};
use chrono::Utc;

/// The carrier's answer, as it changes the shipment.
#[derive(Debug)]
pub enum Answer {
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
}

pub(super) async fn run<C: Carrier>(
    ctx: &Context<C>,
    job: &Job,
    read: Read<Shipment>,
) -> anyhow::Result<Result<Completion, Failure>> {
    on_shipment(ctx, job, read, |s| submit(ctx, job, s)).await
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
            return Ok(Completion::Submit(Answer::Submitted {
                item_code: order.item_code,
                original_id: order.original_id,
                adopted: true,
                total_fee: order.total_fee,
                cod_amount: order.cod_amount,
            }));
        }
        if moved_on {
            return Ok(Completion::Noop(format!(
                "shipment is {} and the carrier has no order for it",
                s.status
            )));
        }
    }
    let Some(office) = ctx.config.office(&s.office_code) else {
        return Ok(Completion::Submit(Answer::Rejected(
            GatewayNote::OfficeUnconfigured {
                office: s.office_code.clone(),
            }
            .to_string(),
        )));
    };
    let order = order_request(&shipment_order(&s), office, &ctx.config);
    let created = timed("CreateOrder", ctx.carrier.create_order(&order)).await;
    match created {
        Ok(c) => Ok(Completion::Submit(Answer::Submitted {
            item_code: c.item_code,
            original_id: c.original_id,
            adopted: false,
            total_fee: c.total_fee,
            cod_amount: None,
        })),
        Err(e) if e.is_permanent() => Ok(Completion::Submit(Answer::Rejected(
            GatewayNote::CarrierRefused { message: e.message }.to_string(),
        ))),
        Err(e) => Err(e),
    }
}

/// What the order mapping needs of the shipment.
fn shipment_order(s: &Shipment) -> ShipmentOrder<'_> {
    ShipmentOrder {
        kind: s.kind(),
        sale_order_code: &s.sale_order_code,
        dossier_code: &s.dossier_code,
        procedure_name: &s.procedure_name,
        citizen: Party {
            name: s.person_name.clone(),
            phone: s.person_phone.clone(),
            email: s.person_email.clone(),
            address_line: s.address_line.clone(),
            province_code: s.province_code.clone(),
            commune_code: s.commune_code.clone(),
        },
        collect_fees_vnd: s.collect_fees_vnd,
        cod_vnd: s.cod_vnd,
        note: s.note.as_deref(),
    }
}

/// Looks an order up by its `saleOrderCode` (timed, like every carrier call).
pub(super) async fn find_order<C: Carrier>(
    ctx: &Context<C>,
    sale_order_code: &str,
) -> Result<Option<FoundOrder>, CarrierError> {
    timed("getOrder", ctx.carrier.find_order(sale_order_code)).await
}

/// Records the order (or the refusal) on the locked shipment, then applies the pushes about
/// the order that arrived before this answer (`pushes::adopt_waiting`; `waiting`: those
/// pushes, if the caller read them with the row lock).
pub async fn apply(
    c: &mut Conn,
    codes: &CodeTable,
    s: &mut Shipment,
    answer: &Answer,
    quiet: chrono::Duration,
    waiting: Option<pushes::Waiting>,
) -> anyhow::Result<()> {
    match answer {
        Answer::Submitted {
            item_code,
            original_id,
            adopted,
            total_fee,
            cod_amount,
        } => {
            let order = CarrierOrder {
                item_code,
                original_id,
                next_poll_at: Utc::now() + quiet,
                fee_vnd: *total_fee,
                cod_vnd: *cod_amount,
            };
            match Action::CarrierAccepted.apply(s.status()) {
                Ok(Outcome::MoveTo(to)) => {
                    let note = GatewayNote::OrderPlaced {
                        adopted: *adopted,
                        item_code: item_code.clone(),
                    };
                    let ev = gateway_event(s, Some(to), note.to_string());
                    record_carrier_order_and_status(c, s, &order, to, ev).await?;
                }
                Ok(_) => record_carrier_order(c, s, &order).await?,
                Err(_) => {
                    record_carrier_order(c, s, &order).await?;
                    // Cancelled or rejected while the order was being created: the carrier
                    // holds an order nobody wants any more; ask it to cancel.
                    let note = GatewayNote::OrderAfterEnd {
                        adopted: *adopted,
                        item_code: item_code.clone(),
                        status: s.status.to_string(),
                    };
                    events::append(c, gateway_event(s, None, note.to_string())).await?;
                    outbox::enqueue(
                        c,
                        JobKind::CarrierCancel,
                        Some(s.id),
                        serde_json::json!({ "reason": "orphan order" }),
                    )
                    .await?;
                }
            }
            pushes::adopt_waiting(c, codes, s.id, item_code, quiet, waiting).await?;
        }
        Answer::Rejected(reason) => {
            if let Ok(Outcome::MoveTo(to)) = Action::Reject.apply(s.status()) {
                let ev = gateway_event(s, Some(to), reason.clone());
                change_status(c, s, to, ev, Some(reason.clone())).await?;
            }
        }
    }
    Ok(())
}

/// Submission failed for longer than `jobs.give_up_after`: the shipment becomes `rejected`
/// (needs staff).
pub(super) async fn give_up(c: &mut Conn, s: &mut Shipment, reason: &str) -> anyhow::Result<()> {
    if let Ok(Outcome::MoveTo(to)) = Action::Reject.apply(s.status()) {
        let ev = gateway_event(s, Some(to), reason.to_owned());
        change_status(c, s, to, ev, Some(reason.to_owned())).await?;
    }
    Ok(())
}
