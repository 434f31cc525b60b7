//! What a claim's jobs read before they call out (the shipment a carrier job is about, the
//! callback a callback job delivers), read for the whole claim at once: two statements in one
//! round trip on the claim's connection, where each job read its own, on a connection of its
//! own. Read just after the claim, it is as fresh as a job's own read was; whatever decides
//! the outcome is read again under the row lock when the outcome is recorded.

use crate::domain::outbox::JobKind;
use crate::ledger::callbacks::{self, Callback};
use crate::ledger::models::Shipment;
use crate::ledger::outbox::Job;
use crate::ledger::{Conn, shipments};
use diesel::QueryResult;
use std::collections::HashMap;
use uuid::Uuid;

/// A row a job needs, if its claim read it.
#[derive(Debug, Clone)]
pub enum Read<T> {
    /// Not read with the claim: the job reads it itself.
    NotRead,
    /// Read with the claim; `None` if it does not exist.
    Read(Option<T>),
}

/// What a job got from its claim's read.
#[derive(Debug, Clone)]
pub struct Preloaded {
    pub shipment: Read<Shipment>,
    /// The callback, and whether its client's callbacks are enabled.
    pub callback: Read<(Callback, bool)>,
}

/// The rows a claim's jobs need.
#[derive(Debug, Default)]
pub struct Claimed {
    shipments: Option<HashMap<Uuid, Shipment>>,
    callbacks: Option<HashMap<Uuid, (Callback, bool)>>,
}

/// Whether a job of this kind reads its shipment before calling the carrier.
fn reads_shipment(kind: Option<JobKind>) -> bool {
    matches!(
        kind,
        Some(
            JobKind::CarrierSubmit
                | JobKind::CarrierCancel
                | JobKind::CarrierCancelCase
                | JobKind::CarrierConfirm
        )
    )
}

/// Reads the shipments and callbacks of `jobs`, pipelined: one round trip.
pub async fn read(conn: &Conn, jobs: &[Job]) -> QueryResult<Claimed> {
    let mut shipment_ids: Vec<Uuid> = jobs
        .iter()
        .filter(|j| reads_shipment(j.kind()))
        .filter_map(|j| j.shipment_id)
        .collect();
    shipment_ids.sort();
    shipment_ids.dedup();
    let callback_ids: Vec<Uuid> = jobs
        .iter()
        .filter(|j| j.kind() == Some(JobKind::Callback))
        .filter_map(Job::callback_id)
        .collect();
    let shipments = async {
        if shipment_ids.is_empty() {
            return Ok(None);
        }
        let found = shipments::find_many(conn, &shipment_ids).await?;
        Ok::<_, diesel::result::Error>(Some(found.into_iter().map(|s| (s.id, s)).collect()))
    };
    let callbacks = async {
        if callback_ids.is_empty() {
            return Ok(None);
        }
        let found = callbacks::find_many_for_delivery(conn, &callback_ids).await?;
        Ok(Some(found.into_iter().map(|c| (c.0.id, c)).collect()))
    };
    let (shipments, callbacks) = futures_util::try_join!(shipments, callbacks)?;
    Ok(Claimed {
        shipments,
        callbacks,
    })
}

impl Claimed {
    /// What `job` needs, as read (or not) with its claim.
    pub fn for_job(&self, job: &Job) -> Preloaded {
        let shipment = match (&self.shipments, job.shipment_id) {
            (Some(found), Some(id)) if reads_shipment(job.kind()) => {
                Read::Read(found.get(&id).cloned())
            }
            _ => Read::NotRead,
        };
        let callback = match (&self.callbacks, job.callback_id()) {
            (Some(found), Some(id)) if job.kind() == Some(JobKind::Callback) => {
                Read::Read(found.get(&id).cloned())
            }
            _ => Read::NotRead,
        };
        Preloaded { shipment, callback }
    }
}
