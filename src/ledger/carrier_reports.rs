//! Carrier status reports into the ledger: the same path for pushed and polled reports.
//! Each report is stored once (per shipment, code and carrier time) whatever it says; the
//! domain rule (`domain::report`) decides whether it moves the status.

use super::models::{NewEvent, Shipment};
use super::schema::shipment_events;
use super::shipments::{self, Change, write_reported};
use super::{Conn, events};
use crate::domain::carrier_codes::{CodeMeaning, CodeTable};
use crate::domain::report::{Current, Decision, Report, decide};
use crate::domain::{Source, Status};
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

/// A report as the carrier gave it.
#[derive(Debug, Clone)]
pub struct CarrierReport {
    pub code: i32,
    pub text: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Reports not seen before.
    pub new: usize,
    /// Reports that changed the status.
    pub changed: usize,
    /// Reports with a code the table does not know (flagged for staff).
    pub unknown: usize,
}

/// Applies `reports` to a shipment in one transaction. Reports already stored are skipped,
/// so pushes and polls may repeat and overlap freely. `tracking_number` fills in the
/// carrier's item code if the shipment does not have it yet (a push can arrive before the
/// CreateOrder answer is processed). `quiet` sets when tracking should poll next. `codes` reads
/// the carrier's codes (SPEC §5's table with the configured overrides).
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    conn: &mut Conn,
    codes: &CodeTable,
    shipment_id: Uuid,
    reports: &[CarrierReport],
    source: Source,
    tracking_number: Option<&str>,
    quiet: chrono::Duration,
) -> QueryResult<Applied> {
    conn.transaction(async move |c| {
        apply_in_transaction(
            c,
            codes,
            shipment_id,
            reports,
            source,
            tracking_number,
            quiet,
        )
        .await
        .map(|(applied, _)| applied)
    })
    .await
}

/// A shipment's row, locked for the rest of the transaction, with the carrier reports already
/// stored for it.
#[derive(Debug)]
pub struct Locked {
    pub shipment: Shipment,
    /// The code and carrier time of every stored report, as PostgreSQL keeps them.
    seen: Vec<(i32, DateTime<Utc>)>,
}

/// Locks the shipment's row and reads its stored reports, in one round trip. PostgreSQL runs
/// the read once the lock is granted, with a snapshot of its own, so it sees every report a
/// previous holder of the lock committed. `None` if there is no such shipment. A shared
/// reference: the caller may pipeline it with statements of its own.
pub async fn lock(c: &Conn, shipment_id: Uuid) -> QueryResult<Option<Locked>> {
    let mut conn = c;
    let stored = shipment_events::table
        .filter(shipment_events::shipment_id.eq(shipment_id))
        .filter(shipment_events::carrier_code.is_not_null())
        .select((
            shipment_events::carrier_code.assume_not_null(),
            shipment_events::occurred_at,
        ))
        .load::<(i32, DateTime<Utc>)>(&mut conn);
    let (shipment, seen) = futures_util::try_join!(shipments::lock(c, shipment_id), stored)?;
    Ok(shipment.map(|shipment| Locked { shipment, seen }))
}

/// [`apply`] inside the caller's transaction (no savepoint of its own: an error fails the
/// caller's transaction, as it must); also returns the shipment as it now is.
#[allow(clippy::too_many_arguments)]
pub async fn apply_in_transaction(
    c: &mut Conn,
    codes: &CodeTable,
    shipment_id: Uuid,
    reports: &[CarrierReport],
    source: Source,
    tracking_number: Option<&str>,
    quiet: chrono::Duration,
) -> QueryResult<(Applied, Shipment)> {
    let Some(locked) = lock(c, shipment_id).await? else {
        return Err(diesel::result::Error::NotFound);
    };
    apply_locked(c, codes, locked, reports, source, tracking_number, quiet).await
}

/// [`apply_in_transaction`] on a row the caller has locked with [`lock`]. The reports are
/// applied to the row in memory; then the row, and every new report's event (with its
/// callback, for a status change), are written in one round trip.
#[allow(clippy::too_many_arguments)]
pub async fn apply_locked(
    c: &Conn,
    codes: &CodeTable,
    locked: Locked,
    reports: &[CarrierReport],
    source: Source,
    tracking_number: Option<&str>,
    quiet: chrono::Duration,
) -> QueryResult<(Applied, Shipment)> {
    let mut sorted = reports.to_vec();
    sorted.sort_by_key(|r| (r.at, r.code));
    let Locked {
        shipment: mut s,
        mut seen,
    } = locked;
    let mut result = Applied::default();
    let mut history = Vec::new();
    for r in &sorted {
        // Stored once per code and carrier time, compared as PostgreSQL keeps the time
        // (microseconds); a report repeated within the batch is stored once too.
        let key = (r.code, r.at.trunc_subsecs(6));
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let one = stage_one(codes, &mut s, r, source);
        result.new += 1;
        result.changed += usize::from(one.changed);
        result.unknown += usize::from(one.unknown);
        history.push(one.history);
    }
    let now = Utc::now();
    let track = !s.status().is_terminal();
    if s.tracking_number.is_none() {
        s.tracking_number = tracking_number.map(str::to_owned);
    }
    s.last_report_at = Some(now);
    s.next_poll_at = track.then(|| now + quiet);
    // One row version for the whole batch, and the history in the same round trip, in the
    // reports' order (each event's `seq` follows the one before).
    let writes = futures_util::future::try_join_all(history.into_iter().map(|h| h.write(c)));
    futures_util::try_join!(write_reported(c, &s), writes)?;
    Ok((result, s))
}

/// What one new report writes.
enum History {
    /// An event that changes nothing (or only the carrier's latest word).
    Event(NewEvent),
    /// A status change: its event and callback.
    Change(Change),
}

impl History {
    async fn write(self, c: &Conn) -> QueryResult<()> {
        match self {
            History::Event(e) => events::append(c, e).await.map(|_| ()),
            History::Change(change) => change.write(c).await,
        }
    }
}

struct OneOutcome {
    changed: bool,
    unknown: bool,
    history: History,
}

/// Applies one report not stored before to `s`, in memory (the caller writes the row), and
/// says what it writes.
fn stage_one(codes: &CodeTable, s: &mut Shipment, r: &CarrierReport, source: Source) -> OneOutcome {
    let current = Current {
        status: s.status(),
        carrier_at: s.carrier_at,
    };
    let decision = decide(
        codes,
        current,
        Report {
            code: r.code,
            at: r.at,
        },
    );
    let unknown = codes.meaning(r.code) == CodeMeaning::Unknown;
    let mut event = NewEvent {
        shipment_id: s.id,
        seq: 0,
        status: None,
        applied: false,
        occurred_at: r.at,
        source,
        carrier_code: Some(r.code),
        carrier_text: Some(r.text.clone()),
        unknown_code: unknown,
        note: r.note.clone(),
        actor: Some("vnpost".to_owned()),
    };
    let Decision::Apply { to } = decision else {
        return OneOutcome {
            changed: false,
            unknown,
            history: History::Event(event),
        };
    };
    event.applied = true;
    event.status = Some(to);
    // The carrier clock and the displayed carrier status follow every applied report.
    s.carrier_code = Some(r.code);
    s.carrier_text = Some(r.text.clone());
    s.carrier_at = Some(r.at);
    let changed = to != s.status();
    let history = if changed {
        // The carrier time the shipment was picked up / delivered (for lateness); written with
        // the status.
        match to {
            Status::PickedUp if s.picked_up_at.is_none() => s.picked_up_at = Some(r.at),
            Status::Delivered if s.delivered_at.is_none() => s.delivered_at = Some(r.at),
            _ => {}
        }
        let reason = matches!(to, Status::Rejected | Status::Cancelled).then(|| r.text.clone());
        History::Change(Change::stage(s, to, event, reason))
    } else {
        History::Event(event)
    };
    OneOutcome {
        changed,
        unknown,
        history,
    }
}
