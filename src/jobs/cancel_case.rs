//! Job `carrier_cancel_case`: ask VNPost how it decided a cancellation it had to approve
//! (`orderCorrection/updateCase`), again every `jobs.cancel_case_interval` until it decides.
//! Its answers are recorded like a cancellation's (`cancel::apply`).

use super::cancel::Answer;
use super::preload::Read;
use super::run::{Completion, on_shipment};
use super::{Context, Failure};
use crate::carrier::{CancelResult, Carrier, CarrierError, timed};
use crate::ledger::models::Shipment;
use crate::ledger::outbox::Job;

pub(super) async fn run<C: Carrier>(
    ctx: &Context<C>,
    job: &Job,
    read: Read<Shipment>,
) -> anyhow::Result<Result<Completion, Failure>> {
    on_shipment(ctx, job, read, |s| cancel_case(ctx, job, s)).await
}

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
    let answer = timed("updateCase", ctx.carrier.cancel_case(original_id, case_id)).await;
    Ok(match answer? {
        CancelResult::Done => Completion::Cancel(Answer::CancelDone),
        CancelResult::Waiting { .. } => Completion::CancelStillWaiting,
        CancelResult::Refused(m) => Completion::Cancel(Answer::CancelRefused(m)),
    })
}
