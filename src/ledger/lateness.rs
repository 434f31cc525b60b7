//! The lateness sweep (SPEC §4): a delivery not delivered by its `due_at`, or a pickup not
//! picked up within the pickup window, becomes `late` once, with a `shipment.late` callback.
//! The SQL finds the candidates through partial indexes; the domain rule has the last word.

use super::models::{NewEvent, Shipment};
use super::schema::shipments::dsl;
use super::{Conn, callbacks, events};
use crate::domain::callback::CallbackType;
use crate::domain::lateness::{deadline, is_late};
use crate::domain::note::GatewayNote;
use crate::domain::{Kind, Source, Status};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

/// Marks up to `batch` shipments late; returns how many. Safe to run from several processes.
pub async fn sweep(
    conn: &mut Conn,
    pickup_window: chrono::Duration,
    batch: i64,
) -> QueryResult<usize> {
    conn.transaction(async move |c| {
        let now = Utc::now();
        let deliveries: Vec<Shipment> = dsl::shipments
            .filter(dsl::late.eq(false))
            .filter(dsl::due_at.lt(now))
            .filter(dsl::status.ne(Status::Cancelled))
            .filter(
                dsl::delivered_at
                    .is_null()
                    .or(dsl::delivered_at.nullable().gt(dsl::due_at)),
            )
            .order(dsl::due_at)
            .limit(batch)
            .select(Shipment::as_select())
            .for_update()
            .skip_locked()
            .load(c)
            .await?;
        let pickups: Vec<Shipment> = dsl::shipments
            .filter(dsl::late.eq(false))
            .filter(dsl::kind.eq(Kind::Pickup))
            .filter(dsl::picked_up_at.is_null())
            .filter(dsl::created_at.lt(now - pickup_window))
            .filter(dsl::status.ne(Status::Cancelled))
            .order(dsl::created_at)
            .limit(batch)
            .select(Shipment::as_select())
            .for_update()
            .skip_locked()
            .load(c)
            .await?;
        let mut marked = 0;
        for mut s in deliveries.into_iter().chain(pickups) {
            let t = s.timeline();
            if !is_late(&t, now, pickup_window) {
                continue;
            }
            let due = deadline(&t, pickup_window).unwrap_or(now);
            s.late = true;
            s.sequence += 1;
            s.updated_at = now;
            diesel::update(dsl::shipments.find(s.id))
                .set((
                    dsl::late.eq(true),
                    dsl::sequence.eq(s.sequence),
                    dsl::updated_at.eq(now),
                ))
                .execute(c)
                .await?;
            let mut ev = NewEvent::status_change(
                s.id,
                s.status(),
                Source::Gateway,
                "gateway",
                Some(GatewayNote::Late { due }.to_string()),
                now,
            );
            ev.status = None;
            ev.applied = false;
            events::append(c, ev).await?;
            callbacks::enqueue(
                c,
                &s,
                CallbackType::Late,
                Some(s.status()),
                now,
                Some(format!("due {}", due.to_rfc3339())),
            )
            .await?;
            marked += 1;
        }
        Ok(marked)
    })
    .await
}
