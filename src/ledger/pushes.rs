//! The carrier's pushes as received (SPEC §6, revised), tables `carrier_push_envelopes` (one row
//! per authenticated push: `data` and `sendDate` as received, and what became of each record)
//! and `carrier_pushes` (one row per readable record).
//!
//! Only the first record's `itemCode` and `status` are authenticated. So:
//! - the first record may change its shipment's status at once (`carrier_reports::apply`, source
//!   `carrier_push`), its shipment found by `itemCode` alone (an unsigned `saleOrderCode` must
//!   not steer an authentic status to another shipment);
//! - every other record, and the unsigned parts of the first (`saleOrderCode`, a `totalFee` or
//!   `codAmount` other than the shipment holds, a missing time), only schedule a confirming
//!   tracking query: a
//!   `carrier_confirm` job, in the same transaction, at most one queued per shipment. The first
//!   record's `statusName` is kept as the report's text, for display only (the status follows
//!   the signed code); its own time of the change is unsigned too, but a replay of an authentic
//!   push is bounded by the 10-minute `sendDate` window and repeats are deduplicated.
//!
//! Everything happens in one transaction, so a push answered 200 is durably in the ledger with
//! its confirming jobs, and a failed one leaves nothing behind.
//!
//! A push often overtakes the CreateOrder answer (the carrier pushes as it creates the order):
//! its shipment is then found by the unsigned `saleOrderCode` only. Its confirming query is
//! queued [`ORDER_ANSWER_GRACE`] later, and when the answer is recorded with the same itemCode
//! the authenticated record is applied from the ledger ([`adopt_waiting`]) and the query that
//! nothing needs any more is dropped: the carrier is not asked what it has just said.
//!
//! Repeats: an authentic report is stored once per (itemCode, code, time), so the same push
//! twice is one event. A record without a time of its own is dated by `sendDate`, which a
//! re-sent push renews; such a report is therefore a duplicate when the shipment already has a
//! report with that code, is not applied when it would move the shipment back (a late push),
//! and always asks for confirmation: the carrier's history, with its own times, settles it.

use super::carrier_reports::{self, CarrierReport};
use super::models::Shipment;
use super::prepared::KeepPrepared;
use super::schema::{carrier_push_envelopes, carrier_pushes, shipment_events, shipments};
use super::{Conn, outbox};
use crate::domain::carrier_codes::{CodeMeaning, CodeTable};
use crate::domain::outbox::{JobKind, JobState};
use crate::domain::push::PushedRecord;
use crate::domain::{Source, Status};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

/// How long a push that overtook the CreateOrder answer waits for it before its confirming
/// query runs. The answer comes within the carrier timeout, or the submission's next attempt
/// finds the order by `saleOrderCode` a few seconds later; a minute covers both.
pub const ORDER_ANSWER_GRACE: chrono::Duration = chrono::Duration::minutes(1);

/// An authenticated push, NUL characters already removed (PostgreSQL text cannot hold them).
#[derive(Debug, Clone)]
pub struct NewPush<'a> {
    /// `signature` or `encryption`: how it was authenticated.
    pub mode: &'a str,
    pub send_date: DateTime<Utc>,
    /// `sendDate` as written.
    pub send_date_text: &'a str,
    /// `data` as received.
    pub data: &'a Value,
    /// The first record (its `itemCode` and `status` authenticated).
    pub first: &'a PushedRecord,
    /// The other records, hints; one that could not be read is its reason.
    pub rest: &'a [Result<PushedRecord, String>],
}

/// What became of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new report, now in the shipment's history (whether or not it moved the status: the
    /// domain rule decides, and the event says).
    Applied,
    /// Nothing new: the same push again, or a report that tracking had already polled.
    Duplicate,
    /// A new report with a code the table does not know: stored, flagged for staff, no status
    /// change.
    UnknownCode,
    /// No shipment has this itemCode (or saleOrderCode): kept for staff.
    UnknownShipment,
    /// Not applied from the push: a confirming tracking query is queued (or already was) and
    /// the carrier's own answer will decide.
    Confirming,
    /// A record that is not one (no itemCode or status): kept in the envelope only.
    Unreadable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::UnknownCode => "unknown_code",
            Outcome::UnknownShipment => "unknown_shipment",
            Outcome::Confirming => "confirming",
            Outcome::Unreadable => "unreadable",
        }
    }
}

/// Whether a confirming tracking query was asked for a record's shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// A `carrier_confirm` job was queued.
    Queued,
    /// One was waiting already (or queued for an earlier record of this push).
    AlreadyQueued,
}

impl Confirm {
    pub fn as_str(self) -> &'static str {
        match self {
            Confirm::Queued => "queued",
            Confirm::AlreadyQueued => "already_queued",
        }
    }
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOutcome {
    pub outcome: Outcome,
    pub shipment_id: Option<Uuid>,
    pub confirm: Option<Confirm>,
    pub error: Option<String>,
}

impl RecordOutcome {
    fn new(outcome: Outcome, shipment_id: Option<Uuid>) -> Self {
        RecordOutcome {
            outcome,
            shipment_id,
            confirm: None,
            error: None,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "outcome": self.outcome.as_str(),
            "shipment_id": self.shipment_id,
            "confirm": self.confirm.map(Confirm::as_str),
            "error": self.error,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub envelope_id: i64,
    /// One per record of `data`, in order; the first is the authenticated one.
    pub records: Vec<RecordOutcome>,
}

impl Recorded {
    /// The first (authenticated) record's outcome.
    pub fn outcome(&self) -> Outcome {
        self.records[0].outcome
    }

    /// How many confirming tracking queries this push queued.
    pub fn confirms_queued(&self) -> usize {
        self.records
            .iter()
            .filter(|r| r.confirm == Some(Confirm::Queued))
            .count()
    }
}

/// Records `push`, applies its first record and schedules the confirmations, in one
/// transaction. `quiet` is when tracking should poll a shipment next (`tracking.quiet_after`).
///
/// A concurrent repeat of the same push waits on the unique index until the first one commits,
/// then finds it: the report is applied once however the repeats interleave.
pub async fn record(
    conn: &mut Conn,
    codes: &CodeTable,
    push: &NewPush<'_>,
    quiet: chrono::Duration,
) -> QueryResult<Recorded> {
    conn.transaction(async move |c| {
        // Which shipments the records concern. An itemCode names a shipment; a saleOrderCode
        // (unsigned) only names one whose itemCode is not known yet (a push that overtook the
        // CreateOrder answer), and then only for a confirmation.
        let first = push.first;
        // The envelope and the first look-up in one round trip.
        let (mut first_by_item, envelope_id) =
            futures_util::try_join!(by_item_code(c, &first.item_code), insert_envelope(c, push))?;
        let mut first_by_reference = match (first_by_item, &first.sale_order_code) {
            (None, Some(reference)) => by_reference_awaiting_item_code(c, reference).await?,
            _ => None,
        };
        if first_by_item.is_none() && first_by_reference.is_none() {
            // The CreateOrder answer may have been recorded between the two reads (each sees
            // what had committed when it ran): the itemCode is known now.
            first_by_item = by_item_code(c, &first.item_code).await?;
        }
        let mut rest: Vec<Result<(&PushedRecord, Option<Uuid>), String>> = Vec::new();
        for r in push.rest {
            rest.push(match r {
                Ok(r) => {
                    let id = match by_item_code(c, &r.item_code).await? {
                        Some(id) => Some(id),
                        None => match &r.sale_order_code {
                            Some(reference) => {
                                by_reference_awaiting_item_code(c, reference).await?
                            }
                            None => None,
                        },
                    };
                    Ok((r, id))
                }
                Err(why) => Err(why.clone()),
            });
        }
        // A push about several shipments locks them all first, in one order: the first
        // record's report locks its shipment FOR UPDATE and a confirming job's foreign key
        // takes KEY SHARE on another, so two pushes naming the same shipments in opposite
        // orders would otherwise deadlock.
        let mut touched: Vec<Uuid> = first_by_item
            .into_iter()
            .chain(first_by_reference)
            .chain(
                rest.iter()
                    .filter_map(|r| r.as_ref().ok().and_then(|(_, id)| *id)),
            )
            .collect();
        touched.sort();
        touched.dedup();
        // A shipment found by reference is locked too: a CreateOrder answer being recorded for
        // it (under the same row lock) has then committed, and is read again below.
        if touched.len() > 1 || first_by_reference.is_some() {
            shipments::table
                .filter(shipments::id.eq_any(&touched))
                .order(shipments::id)
                .select(shipments::id)
                .for_update()
                .load::<Uuid>(c)
                .await?;
        }
        if let Some(id) = first_by_reference
            && by_item_code(c, &first.item_code).await? == Some(id)
        {
            // The answer gave this itemCode meanwhile: the record is about the shipment by its
            // signed itemCode after all.
            (first_by_item, first_by_reference) = (Some(id), None);
        }

        let mut confirmed: Vec<Uuid> = Vec::new();
        let mut outcomes = Vec::with_capacity(1 + rest.len());

        // The first record.
        let (at, from_send_date) = match first.changed_at {
            Some(at) => (at, false),
            None => (push.send_date, true),
        };
        let shipment_id = first_by_item.or(first_by_reference);
        let shared: &Conn = c;
        let insert = async {
            diesel::insert_into(carrier_pushes::table)
                .values((
                    record_columns(first, at, from_send_date, push, envelope_id, 0),
                    carrier_pushes::shipment_id.eq(shipment_id),
                    carrier_pushes::outcome.eq(Outcome::Applied.as_str()),
                ))
                .on_conflict_do_nothing()
                .returning(carrier_pushes::id)
                .get_result::<i64>(&mut &*shared)
                .await
                .optional()
        };
        // A record with a time of its own is applied by its shipment's row lock and stored
        // reports: read in the same round trip as the record's row (a repeat, found by the
        // insert, then only held the lock until the commit).
        let (inserted, locked): (Option<i64>, Option<carrier_reports::Locked>) = match first_by_item
        {
            Some(id) if !from_send_date => {
                futures_util::try_join!(insert, carrier_reports::lock(shared, id))?
            }
            _ => (insert.await?, None),
        };
        let out = match (inserted, first_by_item, first_by_reference) {
            (None, _, _) => RecordOutcome::new(Outcome::Duplicate, shipment_id),
            (Some(_), None, None) => RecordOutcome::new(Outcome::UnknownShipment, None),
            (Some(_), None, Some(id)) => {
                let mut o = RecordOutcome::new(Outcome::Confirming, Some(id));
                let after_answer = Utc::now() + ORDER_ANSWER_GRACE;
                o.confirm =
                    Some(confirm(c, id, envelope_id, Some(after_answer), &mut confirmed).await?);
                o
            }
            (Some(_), Some(id), _) => {
                let (outcome, now) =
                    apply_first(c, codes, id, first, at, from_send_date, quiet, locked).await?;
                let mut o = RecordOutcome::new(outcome, Some(id));
                if needs_confirming(from_send_date, outcome, now.as_ref(), first) {
                    o.confirm = Some(confirm(c, id, envelope_id, None, &mut confirmed).await?);
                }
                o
            }
        };
        if let Some(push_id) = inserted
            && out.outcome != Outcome::Applied
        {
            set_outcome(c, push_id, out.outcome).await?;
        }
        outcomes.push(out);

        // The other records: hints only.
        for (i, r) in rest.into_iter().enumerate() {
            let (r, shipment_id) = match r {
                Ok(found) => found,
                Err(why) => {
                    let mut o = RecordOutcome::new(Outcome::Unreadable, None);
                    o.error = Some(why);
                    outcomes.push(o);
                    continue;
                }
            };
            let (at, from_send_date) = match r.changed_at {
                Some(at) => (at, false),
                None => (push.send_date, true),
            };
            let o = match shipment_id {
                Some(id) => {
                    let mut o = RecordOutcome::new(Outcome::Confirming, Some(id));
                    o.confirm = Some(confirm(c, id, envelope_id, None, &mut confirmed).await?);
                    o
                }
                None => RecordOutcome::new(Outcome::UnknownShipment, None),
            };
            diesel::insert_into(carrier_pushes::table)
                .values((
                    record_columns(r, at, from_send_date, push, envelope_id, i as i32 + 1),
                    carrier_pushes::shipment_id.eq(shipment_id),
                    carrier_pushes::outcome.eq(o.outcome.as_str()),
                ))
                .execute(c)
                .await?;
            outcomes.push(o);
        }

        diesel::update(carrier_push_envelopes::table.find(envelope_id))
            .set(carrier_push_envelopes::outcomes.eq(Value::Array(
                outcomes.iter().map(RecordOutcome::to_json).collect(),
            )))
            .prepared()
            .execute(c)
            .await?;
        Ok(Recorded {
            envelope_id,
            records: outcomes,
        })
    })
    .await
}

/// The columns of a record's row that come from the record itself.
#[allow(clippy::type_complexity)]
fn record_columns<'a>(
    r: &'a PushedRecord,
    at: DateTime<Utc>,
    from_send_date: bool,
    push: &NewPush<'_>,
    envelope_id: i64,
    index: i32,
) -> (
    diesel::dsl::Eq<carrier_pushes::item_code, &'a str>,
    diesel::dsl::Eq<carrier_pushes::sale_order_code, Option<&'a str>>,
    diesel::dsl::Eq<carrier_pushes::status_code, i32>,
    diesel::dsl::Eq<carrier_pushes::status_text, &'a str>,
    diesel::dsl::Eq<carrier_pushes::status_at, DateTime<Utc>>,
    diesel::dsl::Eq<carrier_pushes::status_at_from_send_date, bool>,
    diesel::dsl::Eq<carrier_pushes::send_date, DateTime<Utc>>,
    diesel::dsl::Eq<carrier_pushes::envelope_id, i64>,
    diesel::dsl::Eq<carrier_pushes::record_index, i32>,
    diesel::dsl::Eq<carrier_pushes::total_fee, Option<i64>>,
    diesel::dsl::Eq<carrier_pushes::cod_amount, Option<i64>>,
) {
    (
        carrier_pushes::item_code.eq(r.item_code.as_str()),
        carrier_pushes::sale_order_code.eq(r.sale_order_code.as_deref()),
        carrier_pushes::status_code.eq(r.status),
        carrier_pushes::status_text.eq(r.status_name.as_deref().unwrap_or_default()),
        carrier_pushes::status_at.eq(at),
        carrier_pushes::status_at_from_send_date.eq(from_send_date),
        carrier_pushes::send_date.eq(push.send_date),
        carrier_pushes::envelope_id.eq(envelope_id),
        carrier_pushes::record_index.eq(index),
        carrier_pushes::total_fee.eq(r.total_fee),
        carrier_pushes::cod_amount.eq(r.cod_amount),
    )
}

/// Whether the first record carries postage or COD amounts (unsigned) that differ from what
/// the shipment holds from the carrier: the carrier's own tracking must confirm them. The same
/// amounts again need no confirmation, so a carrier that sends them in every push does not
/// double its tracking queries. Before the carrier has reported a COD amount, the one the order
/// asked for is what is held (the CreateOrder answer does not repeat it): a push saying the
/// carrier collects what it was asked to is nothing new.
fn new_fees(s: &Shipment, r: &PushedRecord) -> bool {
    let asked = s.kind.cod_asked(s.cod_vnd);
    let differs = |pushed: Option<i64>, held: Option<i64>| pushed.is_some() && pushed != held;
    differs(r.total_fee, s.carrier_fee_vnd)
        || differs(r.cod_amount, s.carrier_cod_vnd.or(Some(asked)))
}

/// Whether an authenticated record, applied with `outcome`, still needs the carrier's tracking
/// to confirm it: its time was `sendDate`'s, it was not applied, or it brings new amounts
/// (`now`: the shipment after it was applied; unknown means they cannot be compared).
fn needs_confirming(
    from_send_date: bool,
    outcome: Outcome,
    now: Option<&Shipment>,
    r: &PushedRecord,
) -> bool {
    from_send_date || outcome == Outcome::Confirming || now.is_none_or(|s| new_fees(s, r))
}

async fn by_item_code(mut c: &Conn, item_code: &str) -> QueryResult<Option<Uuid>> {
    shipments::table
        .filter(shipments::tracking_number.eq(item_code))
        .select(shipments::id)
        .first(&mut c)
        .await
        .optional()
}

/// The push's envelope, its outcomes still empty (written once its records are applied).
async fn insert_envelope(mut c: &Conn, push: &NewPush<'_>) -> QueryResult<i64> {
    diesel::insert_into(carrier_push_envelopes::table)
        .values((
            carrier_push_envelopes::send_date.eq(push.send_date),
            carrier_push_envelopes::send_date_text.eq(push.send_date_text),
            carrier_push_envelopes::mode.eq(push.mode),
            carrier_push_envelopes::data.eq(push.data),
            carrier_push_envelopes::outcomes.eq(json!([])),
        ))
        .returning(carrier_push_envelopes::id)
        .get_result(&mut c)
        .await
}

async fn by_reference_awaiting_item_code(
    c: &mut Conn,
    sale_order_code: &str,
) -> QueryResult<Option<Uuid>> {
    shipments::table
        .filter(shipments::sale_order_code.eq(sale_order_code))
        .filter(shipments::tracking_number.is_null())
        .select(shipments::id)
        .first(c)
        .await
        .optional()
}

/// Applies the authenticated first record (see the module's rules on a record without time).
/// `locked`: the shipment's row, if the caller has locked it already.
#[allow(clippy::too_many_arguments)]
async fn apply_first(
    c: &mut Conn,
    codes: &CodeTable,
    shipment_id: Uuid,
    r: &PushedRecord,
    at: DateTime<Utc>,
    from_send_date: bool,
    quiet: chrono::Duration,
    locked: Option<carrier_reports::Locked>,
) -> QueryResult<(Outcome, Option<Shipment>)> {
    if from_send_date {
        let seen: bool = diesel::select(diesel::dsl::exists(
            shipment_events::table
                .filter(shipment_events::shipment_id.eq(shipment_id))
                .filter(shipment_events::carrier_code.eq(r.status)),
        ))
        .get_result(c)
        .await?;
        if seen {
            return Ok((Outcome::Duplicate, None));
        }
        let current: String = shipments::table
            .find(shipment_id)
            .select(shipments::status)
            .first(c)
            .await?;
        let current = current.parse::<Status>().ok();
        if let (CodeMeaning::Status(to), Some(current)) = (codes.meaning(r.status), current)
            && to.progress() < current.progress()
        {
            return Ok((Outcome::Confirming, None));
        }
    }
    let report = CarrierReport {
        code: r.status,
        text: r.status_name.clone().unwrap_or_default(),
        at,
        note: None,
    };
    // In the push's own transaction: no savepoint round trips.
    let reports = [report];
    let (applied, now) = match locked {
        Some(locked) => {
            carrier_reports::apply_locked(
                c,
                codes,
                locked,
                &reports,
                Source::CarrierPush,
                Some(&r.item_code),
                quiet,
            )
            .await?
        }
        None => {
            carrier_reports::apply_in_transaction(
                c,
                codes,
                shipment_id,
                &reports,
                Source::CarrierPush,
                Some(&r.item_code),
                quiet,
            )
            .await?
        }
    };
    let outcome = if applied.new == 0 {
        Outcome::Duplicate
    } else if applied.unknown > 0 {
        Outcome::UnknownCode
    } else {
        Outcome::Applied
    };
    Ok((outcome, Some(now)))
}

/// Queues a confirming tracking query for `shipment` (due `at`, or now) unless one is waiting
/// already.
async fn confirm(
    c: &mut Conn,
    shipment: Uuid,
    envelope_id: i64,
    at: Option<DateTime<Utc>>,
    done: &mut Vec<Uuid>,
) -> QueryResult<Confirm> {
    // Two concurrent pushes may both find none queued and queue two: harmless (two polls),
    // and cheaper than serialising every push on the shipment.
    if done.contains(&shipment) || outbox::queued_for(c, JobKind::CarrierConfirm, shipment).await? {
        return Ok(Confirm::AlreadyQueued);
    }
    let payload = json!({ "push_envelope_id": envelope_id });
    match at {
        Some(at) => {
            outbox::enqueue_at(c, JobKind::CarrierConfirm, Some(shipment), payload, at).await?
        }
        None => outbox::enqueue(c, JobKind::CarrierConfirm, Some(shipment), payload).await?,
    };
    done.push(shipment);
    Ok(Confirm::Queued)
}

type WaitingRow = (
    i64,
    Option<String>,
    i32,
    String,
    DateTime<Utc>,
    bool,
    Option<i64>,
    Option<i64>,
);

/// The authenticated first records of pushes that overtook a CreateOrder answer and carry its
/// itemCode ([`waiting_for`]), for [`adopt_waiting`].
#[derive(Debug)]
pub struct Waiting(Vec<WaitingRow>);

/// Reads what [`adopt_waiting`] applies. Run after the shipment's row lock is granted (the
/// caller may pipeline it behind the lock), it sees every push that locked the row before.
pub async fn waiting_for(mut c: &Conn, shipment_id: Uuid, item_code: &str) -> QueryResult<Waiting> {
    // The outcome as a literal, not a bound value: the statement is kept prepared, and only a
    // literal lets its generic plan use the partial index `carrier_pushes_confirming` (with a
    // bound value it scanned every push, once per submission).
    let confirming = format!(
        "carrier_pushes.outcome = '{}'",
        Outcome::Confirming.as_str()
    );
    carrier_pushes::table
        .filter(carrier_pushes::shipment_id.eq(shipment_id))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&confirming))
        .filter(carrier_pushes::item_code.eq(item_code))
        .filter(carrier_pushes::record_index.eq(0))
        .order(carrier_pushes::id)
        .select((
            carrier_pushes::id,
            carrier_pushes::sale_order_code,
            carrier_pushes::status_code,
            carrier_pushes::status_text,
            carrier_pushes::status_at,
            carrier_pushes::status_at_from_send_date,
            carrier_pushes::total_fee,
            carrier_pushes::cod_amount,
        ))
        .prepared()
        .load(&mut c)
        .await
        .map(Waiting)
}

/// The CreateOrder answer has just given `shipment_id` (locked by the caller, in its
/// transaction) its itemCode: the authenticated first records of pushes that overtook the
/// answer and carry that itemCode are now known to be about this shipment. Each is applied as
/// [`record`] would have applied it, had the itemCode been known then; and the confirming
/// queries they caused are dropped, unless one of them still needs it by [`record`]'s rule, or
/// a record of another push still waits for it. `waiting`: what [`waiting_for`] read, if the
/// caller has read it already.
pub async fn adopt_waiting(
    c: &mut Conn,
    codes: &CodeTable,
    shipment_id: Uuid,
    item_code: &str,
    quiet: chrono::Duration,
    waiting: Option<Waiting>,
) -> QueryResult<()> {
    let waiting = match waiting {
        Some(w) => w.0,
        None => waiting_for(c, shipment_id, item_code).await?.0,
    };
    let any_waiting = !waiting.is_empty();
    let mut still_confirming = false;
    for (id, sale_order_code, status, text, at, from_send_date, total_fee, cod_amount) in waiting {
        let r = PushedRecord {
            item_code: item_code.to_owned(),
            sale_order_code,
            status,
            status_name: Some(text),
            total_fee,
            cod_amount,
            changed_at: (!from_send_date).then_some(at),
        };
        let (outcome, now) =
            apply_first(c, codes, shipment_id, &r, at, from_send_date, quiet, None).await?;
        // The same rule as for a push whose itemCode was known when it came.
        still_confirming |= needs_confirming(from_send_date, outcome, now.as_ref(), &r);
        if outcome != Outcome::Confirming {
            set_outcome(c, id, outcome).await?;
        }
    }
    if any_waiting && !still_confirming {
        drop_unneeded_confirms(c, shipment_id).await?;
    }
    Ok(())
}

/// Drops the shipment's queued confirming queries that no record waits for: a query queued for
/// envelope E serves the records of E and of every later push that found it queued, so it is
/// unneeded once none of those is still `confirming`. A query already running (or tried before:
/// its attempts are history) is left alone.
async fn drop_unneeded_confirms(c: &mut Conn, shipment_id: Uuid) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM jobs j WHERE j.shipment_id = $1 AND j.kind = $2 AND j.state = $3 \
           AND j.attempts = 0 AND j.payload ? 'push_envelope_id' \
           AND NOT EXISTS (SELECT 1 FROM carrier_pushes p WHERE p.shipment_id = $1 \
               AND p.outcome = $4 \
               AND p.envelope_id >= (j.payload ->> 'push_envelope_id')::bigint)",
    )
    .bind::<diesel::sql_types::Uuid, _>(shipment_id)
    .bind::<diesel::sql_types::Text, _>(JobKind::CarrierConfirm.as_str())
    .bind::<diesel::sql_types::Text, _>(JobState::Queued)
    .bind::<diesel::sql_types::Text, _>(Outcome::Confirming.as_str())
    .execute(c)
    .await
}

async fn set_outcome(c: &mut Conn, id: i64, outcome: Outcome) -> QueryResult<usize> {
    diesel::update(carrier_pushes::table.find(id))
        .set(carrier_pushes::outcome.eq(outcome.as_str()))
        .prepared()
        .execute(c)
        .await
}

/// `value` with every NUL character removed from its strings and keys: PostgreSQL text and
/// jsonb cannot hold NUL (`\u0000`).
pub fn strip_nul(value: &Value) -> Value {
    let clean = |s: &str| s.replace('\0', "");
    match value {
        Value::String(s) => Value::String(clean(s)),
        Value::Array(a) => Value::Array(a.iter().map(strip_nul).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (clean(k), strip_nul(v))).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Kind;

    fn pushed(total_fee: Option<i64>, cod_amount: Option<i64>) -> PushedRecord {
        PushedRecord {
            item_code: "EB1VN".into(),
            status: 6,
            total_fee,
            cod_amount,
            ..PushedRecord::default()
        }
    }

    #[test]
    fn amounts_are_new_only_when_they_differ_from_what_the_shipment_holds_or_asked() {
        let mut s = Shipment::example();
        // nothing reported yet: no amounts pushed is nothing new; a fee is; a pickup asks no COD
        assert!(!new_fees(&s, &pushed(None, None)));
        assert!(new_fees(&s, &pushed(Some(16500), None)));
        assert!(!new_fees(&s, &pushed(None, Some(0))));
        assert!(new_fees(&s, &pushed(None, Some(5000))));
        // a delivery asks its COD, until the carrier reports its own figure
        s.kind = Kind::Delivery;
        s.cod_vnd = 5000;
        assert!(!new_fees(&s, &pushed(None, Some(5000))));
        assert!(new_fees(&s, &pushed(None, Some(0))));
        s.carrier_cod_vnd = Some(4000);
        assert!(!new_fees(&s, &pushed(None, Some(4000))));
        assert!(new_fees(&s, &pushed(None, Some(5000))));
        s.carrier_fee_vnd = Some(16500);
        assert!(!new_fees(&s, &pushed(Some(16500), Some(4000))));
        assert!(new_fees(&s, &pushed(Some(17000), Some(4000))));
    }

    #[test]
    fn a_record_needs_confirming_when_dated_by_send_date_not_applied_or_bringing_amounts() {
        let s = Shipment::example();
        let plain = pushed(None, None);
        assert!(!needs_confirming(false, Outcome::Applied, Some(&s), &plain));
        assert!(!needs_confirming(
            false,
            Outcome::Duplicate,
            Some(&s),
            &plain
        ));
        assert!(needs_confirming(true, Outcome::Applied, Some(&s), &plain));
        assert!(needs_confirming(
            false,
            Outcome::Confirming,
            Some(&s),
            &plain
        ));
        assert!(needs_confirming(
            false,
            Outcome::Applied,
            Some(&s),
            &pushed(Some(1), None)
        ));
        // amounts that cannot be compared are confirmed
        assert!(needs_confirming(false, Outcome::Applied, None, &plain));
    }

    #[test]
    fn nul_is_stripped_everywhere() {
        let v = json!({"a\u{0}b": ["x\u{0}", {"k": "\u{0}"}], "n": 1});
        assert_eq!(strip_nul(&v), json!({"ab": ["x", {"k": ""}], "n": 1}));
        assert!(!strip_nul(&v).to_string().contains("\\u0000"));
    }
}
