//! Job `carrier_cancel`: ask the carrier to cancel a shipment's order, and record its answer
//! (done, awaiting VNPost's approval, refused) on the shipment. `cancel_case` asks again
//! about a cancellation VNPost must approve; its answers are recorded here too.

use super::preload::Read;
use super::run::{Completion, gateway_event, on_shipment};
use super::submit::find_order;
use super::{Context, Failure};
use crate::carrier::{CancelResult, Carrier, CarrierError, timed};
use crate::domain::Action;
use crate::domain::note::GatewayNote;
use crate::domain::outbox::JobKind;
use crate::domain::status::Outcome;
use crate::ledger::models::{CancelState, Shipment};
use crate::ledger::outbox::{self, Job};
use crate::ledger::shipments::{change_status, set_cancel_state};
use crate::ledger::{Conn, events};
use chrono::Utc;

/// The carrier's answer to a cancellation, as it changes the shipment.
#[derive(Debug)]
pub enum Answer {
    CancelDone,
    /// VNPost must approve the cancellation: ask about `case_id` later.
    CancelWaiting {
        case_id: Option<String>,
    },
    CancelRefused(String),
}

pub(super) async fn run<C: Carrier>(
    ctx: &Context<C>,
    job: &Job,
    read: Read<Shipment>,
) -> anyhow::Result<Result<Completion, Failure>> {
    on_shipment(ctx, job, read, |s| cancel(ctx, s)).await
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
    let answer = timed("orderCancel", ctx.carrier.cancel_order(&original_id)).await;
    Ok(Completion::Cancel(match answer? {
        CancelResult::Done => Answer::CancelDone,
        CancelResult::Waiting { case_id } => Answer::CancelWaiting { case_id },
        CancelResult::Refused(m) => Answer::CancelRefused(m),
    }))
}

/// Records the carrier's answer on the locked shipment.
pub(super) async fn apply(
    c: &mut Conn,
    s: &mut Shipment,
    answer: &Answer,
    cancel_case_interval: chrono::Duration,
) -> anyhow::Result<()> {
    match answer {
        Answer::CancelDone => {
            set_cancel_state(c, s.id, None, None, None).await?;
            match Action::CarrierCancelled.apply(s.status()) {
                Ok(Outcome::MoveTo(to)) => {
                    let ev = gateway_event(s, Some(to), GatewayNote::CarrierCancelled.to_string());
                    change_status(c, s, to, ev, Some("cancelled at the carrier".into())).await?;
                }
                Ok(_) => {}
                Err(_) => {
                    let ev = gateway_event(s, None, GatewayNote::CarrierCancelled.to_string());
                    events::append(c, ev).await?;
                }
            }
        }
        Answer::CancelWaiting { case_id } => {
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
                    outbox::enqueue_at(
                        c,
                        JobKind::CarrierCancelCase,
                        Some(s.id),
                        serde_json::json!({ "case_id": case }),
                        Utc::now() + cancel_case_interval,
                    )
                    .await?;
                    Some(case.clone())
                }
                None => None,
            };
            let note = GatewayNote::CancelAwaitingApproval { case_id: note }.to_string();
            events::append(c, gateway_event(s, None, note)).await?;
        }
        Answer::CancelRefused(m) => {
            set_cancel_state(c, s.id, Some(CancelState::Refused), None, Some(m)).await?;
            events::append(
                c,
                gateway_event(
                    s,
                    None,
                    GatewayNote::CancelRefused { message: m.clone() }.to_string(),
                ),
            )
            .await?;
        }
    }
    Ok(())
}

/// Asking the carrier to cancel (or about its case) failed for longer than
/// `jobs.give_up_after`: said in the shipment's history, which changes nothing else.
pub(super) async fn give_up(c: &mut Conn, s: &Shipment, reason: &str) -> anyhow::Result<()> {
    events::append(
        c,
        gateway_event(
            s,
            None,
            GatewayNote::GaveUpCancelling {
                reason: reason.to_owned(),
            }
            .to_string(),
        ),
    )
    .await?;
    Ok(())
}
