//! Benchmark set-up through the library (issue 9): shipments are created by `ledger::create`
//! from the tests' example bodies (tests/it/support/bodies.rs), validated as the API validates
//! them, and moved on by the same functions the jobs use (`jobs::submit::apply`,
//! `ledger::outbox`, `ledger::callbacks`), so that a change of the schema or of what a
//! shipment carries cannot leave a benchmark's hand-written INSERTs behind.
//!
//! Each bench includes this file with `#[path]`; not every bench uses every function.
#![allow(dead_code)]

#[path = "../../tests/it/support/bodies.rs"]
#[allow(dead_code)]
mod bodies;

use bcci_gateway::api::extract::from_value;
use bcci_gateway::api::shipments::pickup_row;
use bcci_gateway::config::Config;
use bcci_gateway::domain::callback::CallbackState;
use bcci_gateway::domain::outbox::{AttemptOutcome, JobKind};
use bcci_gateway::domain::request::PickupRequest;
use bcci_gateway::jobs::submit::{self, Answer};
use bcci_gateway::ledger::outbox::{self, Attempt, Job};
use bcci_gateway::ledger::shipments::{self, Created, NewCreate, Visibility};
use bcci_gateway::ledger::{Conn, callbacks};
use diesel_async::AsyncConnection;
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// The worker number the set-up claims jobs as (no gateway runs while it does).
const SEED_WORKER: i32 = 9_999;

/// Creates `n` pickups for the configured client `client`, dossiers `bodies::dossier(first)`
/// onwards, as `POST /v1/pickups` would: each with its first event, its queued carrier
/// submission job and its idempotency key. Returns their ids, in dossier order.
pub async fn pickups(config: &Config, db_url: &str, client: &str, first: u32, n: u32) -> Vec<Uuid> {
    let pool = pool(db_url);
    let now = chrono::Utc::now();
    futures::stream::iter(first..first + n)
        .map(|i| {
            let pool = pool.clone();
            async move {
                let body = bodies::pickup_body(&bodies::dossier(i));
                let request = from_value::<PickupRequest>(body)
                    .expect("the example body parses")
                    .strip_free_text();
                let row =
                    pickup_row(&request, config, client, now).expect("the example body is valid");
                let key = format!("bench-{i}");
                let create = NewCreate::new(
                    row,
                    key.clone(),
                    key,
                    serde_json::json!({}),
                    chrono::Duration::hours(48),
                );
                let mut conn = pool.get().await.expect("a connection");
                match shipments::create(&mut conn, create).await {
                    Ok(Created::New { shipment, .. }) => shipment.id,
                    Ok(Created::Replayed { .. }) => panic!("dossier {i} was created twice"),
                    Err(e) => panic!("creating dossier {i}: {e:?}"),
                }
            }
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await
}

/// What becomes of the status-changed callback each submission writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SubmittedCallbacks {
    /// Left pending with its delivery job queued (the callbacks bench delivers them).
    Pending,
    /// Delivered already (as the callback job records it): no job is left queued.
    Delivered,
}

/// Creates `item_codes.len()` pickups as [`pickups`] does (dossiers from `first`), then runs
/// each one's queued submission as the `carrier_submit` job records a carrier's acceptance
/// (`jobs::submit::apply`: the order with its item code `item_codes[i]`, the move to
/// `submitted` with its event and callback; the job done with its attempt row). Returns the
/// shipments' ids in dossier order.
pub async fn submitted(
    config: &Config,
    db_url: &str,
    client: &str,
    first: u32,
    item_codes: &[String],
    callbacks_then: SubmittedCallbacks,
) -> Vec<Uuid> {
    let ids = pickups(config, db_url, client, first, item_codes.len() as u32).await;
    let items: HashMap<Uuid, &str> = ids
        .iter()
        .copied()
        .zip(item_codes.iter().map(String::as_str))
        .collect();
    let pool = pool(db_url);
    let quiet = chrono::Duration::from_std(config.tracking.quiet_after).expect("a duration");
    let codes = config.carrier.status_codes.clone();
    let jobs = claim_all(&pool, JobKind::CarrierSubmit, ids.len()).await;
    run_all(&pool, jobs, |c, job| {
        let id = job
            .shipment_id
            .expect("a submission job names its shipment");
        let item_code = items[&id].to_owned();
        let codes = codes.clone();
        Box::pin(async move {
            let mut s = shipments::find_for_update(c, id, &Visibility::default())
                .await?
                .expect("the shipment exists");
            let answer = Answer::Submitted {
                original_id: format!("orig-{item_code}"),
                item_code,
                adopted: false,
                total_fee: None,
                cod_amount: None,
            };
            submit::apply(c, &codes, &mut s, &answer, quiet, None).await?;
            Ok(())
        })
    })
    .await;
    if callbacks_then == SubmittedCallbacks::Delivered {
        let jobs = claim_all(&pool, JobKind::Callback, ids.len()).await;
        run_all(&pool, jobs, |c, job| {
            let id = job
                .callback_id()
                .expect("a callback job names its callback");
            Box::pin(async move {
                callbacks::set_state(c, id, CallbackState::Delivered, None).await?;
                Ok(())
            })
        })
        .await;
    }
    ids
}

/// Claims the `n` queued jobs of `kind` the set-up has just caused, and nothing else.
async fn claim_all(pool: &bcci_gateway::ledger::Pool, kind: JobKind, n: usize) -> Vec<Job> {
    let mut conn = pool.get().await.expect("a connection");
    let jobs = outbox::claim(&mut conn, SEED_WORKER, n as i64, Duration::from_secs(3600))
        .await
        .expect("claiming the seeded jobs");
    assert_eq!(jobs.len(), n, "queued {kind:?} jobs");
    for job in &jobs {
        assert_eq!(
            job.kind(),
            Some(kind),
            "job {} is not a {kind:?} job",
            job.id
        );
    }
    jobs
}

/// Runs `work` for each claimed job and marks it done with its attempt row, in one
/// transaction per job, as the job runner completes a job.
async fn run_all<F>(pool: &bcci_gateway::ledger::Pool, jobs: Vec<Job>, work: F)
where
    F: for<'c> Fn(
            &'c mut Conn,
            &Job,
        )
            -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'c>>
        + Sync,
{
    let work = &work;
    futures::stream::iter(jobs)
        .for_each_concurrent(16, |job| async move {
            let mut conn = pool.get().await.expect("a connection");
            let started_at = chrono::Utc::now();
            conn.transaction::<_, anyhow::Error, _>(async |c| {
                work(c, &job).await?;
                let attempt = Attempt {
                    job_id: job.id,
                    attempt: job.attempts,
                    worker: SEED_WORKER,
                    started_at,
                    duration_ms: 0,
                    outcome: AttemptOutcome::Ok,
                    error_class: None,
                    http_status: None,
                    excerpt: Some("done by the benchmark's set-up".into()),
                };
                anyhow::ensure!(
                    outbox::finish(c, &job, SEED_WORKER, attempt).await?,
                    "the job is no longer the set-up's"
                );
                Ok(())
            })
            .await
            .unwrap_or_else(|e| panic!("seeding job {}: {e:?}", job.id));
        })
        .await;
}

/// The set-up's own pool, on the main runtime as the background's.
fn pool(db_url: &str) -> bcci_gateway::ledger::Pool {
    bcci_gateway::ledger::pool(db_url, 16, Duration::from_secs(30)).expect("a pool")
}
