//! Job `callback`: deliver one callback to its dossier system (the HTTP attempt is
//! `callbacks::deliver`) and record what came of it on the callback: delivered, held (its
//! client's callbacks are stopped), pending (retried) or dead.

use super::preload::Read;
use super::run::Completion;
use super::{Context, Failure};
use crate::callbacks::deliver::{self, Delivery};
use crate::domain::callback::CallbackState;
use crate::ledger::outbox::Job;
use crate::ledger::{Conn, callbacks as stored};
use uuid::Uuid;

/// One delivery attempt (SPEC §7). The outer `Result` is for database errors; the inner one
/// is the attempt's outcome.
pub(super) async fn run<C>(
    ctx: &Context<C>,
    job: &Job,
    read: Read<(stored::Callback, bool)>,
) -> anyhow::Result<Result<Completion, Failure>> {
    let done = |d: Delivery| Ok(Ok(Completion::Callback(d)));
    let Some(id) = job.callback_id() else {
        return done(Delivery::Dropped("the job names no callback".into()));
    };
    let found = match read {
        Read::Read(found) => found,
        Read::NotRead => stored::find_for_delivery(&mut *ctx.conn().await?, id).await?,
    };
    let Some((cb, client_enabled)) = found else {
        return done(Delivery::Dropped("no such callback".into()));
    };
    if cb.state == CallbackState::Delivered {
        return Ok(Ok(Completion::Noop("already delivered".into())));
    }
    let Some(client) = ctx.config.client(&cb.client_id) else {
        return done(Delivery::Dropped(format!(
            "client {} is no longer configured",
            cb.client_id
        )));
    };
    if !client_enabled {
        return done(Delivery::Held);
    }
    let sent = deliver::send(
        &ctx.http,
        client,
        &cb.webhook_id(),
        &cb.body,
        ctx.config.callbacks.timeout,
    )
    .await;
    Ok(sent.map(Completion::Callback).map_err(Failure::from))
}

/// Records a delivery's outcome on the callback, in the job's transaction.
pub(super) async fn record(c: &mut Conn, id: Uuid, delivery: &Delivery) -> anyhow::Result<()> {
    match delivery {
        Delivery::Delivered => stored::set_state(c, id, CallbackState::Delivered, None).await?,
        Delivery::Held => {
            stored::set_state(
                c,
                id,
                CallbackState::Held,
                Some("callbacks to this client are stopped"),
            )
            .await?
        }
        Delivery::Gone => {
            let cb = stored::find(c, id).await?.expect("callback exists");
            stored::disable_client(c, &cb.client_id, "the callback URL answered 410 Gone").await?;
            stored::set_state(
                c,
                id,
                CallbackState::Held,
                Some("410 Gone: callbacks to this client stopped"),
            )
            .await?;
        }
        Delivery::Dropped(why) => stored::set_state(c, id, CallbackState::Dead, Some(why)).await?,
    }
    Ok(())
}

/// Delivery failed for longer than `callbacks.give_up_after`: dead-lettered, for staff.
pub(super) async fn give_up(c: &mut Conn, id: Uuid, reason: &str) -> anyhow::Result<()> {
    stored::set_state(c, id, CallbackState::Dead, Some(reason)).await?;
    Ok(())
}
