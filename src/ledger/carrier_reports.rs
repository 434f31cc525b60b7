//! Carrier status reports into the ledger: the same path for pushed and polled reports.
//! Each report is stored once (per shipment, code and carrier time) whatever it says; the
//! domain rule (`domain::report`) decides whether it moves the status.

use super::models::{NewEvent, Shipment};
use super::schema::shipment_events;
use super::shipments::{Visibility, change_status_by_report, find_for_update, write_reported};
use super::{Conn, events};
use crate::domain::carrier_codes::{CodeMeaning, CodeTable};
use crate::domain::report::{Current, Decision, Report, decide};
use crate::domain::{Source, Status};
use chrono::{DateTime, Utc};
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
    let mut sorted = reports.to_vec();
    sorted.sort_by_key(|r| (r.at, r.code));
    let Some(mut s) = find_for_update(c, shipment_id, &Visibility::default()).await? else {
        return Err(diesel::result::Error::NotFound);
    };
    let mut result = Applied::default();
    for r in &sorted {
        if let Some(outcome) = apply_one(c, codes, &mut s, r, source).await? {
            result.new += 1;
            result.changed += usize::from(outcome.changed);
            result.unknown += usize::from(outcome.unknown);
        }
    }
    let now = Utc::now();
    let track = !s.status().is_terminal();
    if s.tracking_number.is_none() {
        s.tracking_number = tracking_number.map(str::to_owned);
    }
    s.last_report_at = Some(now);
    s.next_poll_at = track.then(|| now + quiet);
    // The status change (if any) and the carrier's latest report: one row version for the
    // whole batch of reports (`apply_one` changed only `s`).
    write_reported(c, &s).await?;
    Ok((result, s))
}

struct OneOutcome {
    changed: bool,
    unknown: bool,
}

/// Stores one report and applies it; `None` when it was already stored. The event (and a
/// status change's callback) is written at once; the row's changes are made on `s` only, and
/// the caller writes them.
async fn apply_one(
    c: &mut Conn,
    codes: &CodeTable,
    s: &mut Shipment,
    r: &CarrierReport,
    source: Source,
) -> QueryResult<Option<OneOutcome>> {
    let already: bool = diesel::select(diesel::dsl::exists(
        shipment_events::table
            .filter(shipment_events::shipment_id.eq(s.id))
            .filter(shipment_events::carrier_code.eq(r.code))
            .filter(shipment_events::occurred_at.eq(r.at)),
    ))
    .get_result(c)
    .await?;
    if already {
        return Ok(None);
    }
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
        events::append(c, event).await?;
        return Ok(Some(OneOutcome {
            changed: false,
            unknown,
        }));
    };
    event.applied = true;
    event.status = Some(to);
    // The carrier clock and the displayed carrier status follow every applied report.
    s.carrier_code = Some(r.code);
    s.carrier_text = Some(r.text.clone());
    s.carrier_at = Some(r.at);
    let changed = to != s.status();
    if changed {
        // The carrier time the shipment was picked up / delivered (for lateness); written with
        // the status.
        match to {
            Status::PickedUp if s.picked_up_at.is_none() => s.picked_up_at = Some(r.at),
            Status::Delivered if s.delivered_at.is_none() => s.delivered_at = Some(r.at),
            _ => {}
        }
        let reason = matches!(to, Status::Rejected | Status::Cancelled).then(|| r.text.clone());
        change_status_by_report(c, s, to, event, reason).await?;
    } else {
        events::append(c, event).await?;
    }
    Ok(Some(OneOutcome { changed, unknown }))
}
