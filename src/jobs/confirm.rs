//! Job `carrier_confirm`: a confirming tracking query after a push (SPEC §6), `getOrder` +
//! `GetStatusHistoryOrder` through `tracking::poll_one`, applied with source `carrier_poll`.

use super::preload::Read;
use super::run::{Completion, gateway_event, shipment_of};
use super::{Context, Failure, tracking};
use crate::carrier::{Carrier, CarrierError};
use crate::domain::note::GatewayNote;
use crate::ledger::models::Shipment;
use crate::ledger::outbox::Job;
use crate::ledger::{Conn, events};

/// The outer `Result` is for database errors; a carrier error is the attempt's outcome
/// (retried, kept on the attempt).
pub(super) async fn run<C: Carrier>(
    ctx: &Context<C>,
    job: &Job,
    read: Read<Shipment>,
) -> anyhow::Result<Result<Completion, Failure>> {
    let Some(s) = shipment_of(ctx, job, read).await? else {
        return Ok(Ok(Completion::Noop("no shipment".into())));
    };
    if s.status().is_terminal() {
        return Ok(Ok(Completion::Noop(format!("shipment is {}", s.status))));
    }
    match tracking::poll_one(ctx, s.id, &s.sale_order_code, s.tracking_number.as_deref()).await {
        Ok(new) => Ok(Ok(Completion::Confirmed { new })),
        Err(e) => match e.downcast::<CarrierError>() {
            Ok(carrier) => Ok(Err(carrier.into())),
            Err(other) => Err(other),
        },
    }
}

/// Confirming failed for longer than `jobs.give_up_after`: said in the shipment's history.
pub(super) async fn give_up(c: &mut Conn, s: &Shipment, reason: &str) -> anyhow::Result<()> {
    events::append(
        c,
        gateway_event(
            s,
            None,
            GatewayNote::GaveUpConfirming {
                reason: reason.to_owned(),
            }
            .to_string(),
        ),
    )
    .await?;
    Ok(())
}
