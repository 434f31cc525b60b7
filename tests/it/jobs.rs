//! The job queue's claiming, release and take-over rules, on the real PostgreSQL.

use crate::support::*;
use bcci_gateway::domain::outbox::JobKind;
use bcci_gateway::ledger::outbox::{self as jobs, WORKER_LOCK_NS};
use diesel_async::RunQueryDsl;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_releases_and_takes_over_only_from_dead_workers() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    for _ in 0..3 {
        jobs::enqueue(&conn, JobKind::Callback, None, serde_json::json!({}))
            .await
            .unwrap();
    }
    // a live worker: it holds its liveness lock on another connection
    let live = db.conn().await;
    diesel::sql_query(format!("SELECT pg_advisory_lock({WORKER_LOCK_NS}, 44)"))
        .execute(&mut &live)
        .await
        .unwrap();

    let a = jobs::claim(&mut conn, 44, 2, LEASE).await.unwrap();
    assert_eq!(a.len(), 2);
    assert!(a.iter().all(|j| j.attempts == 1 && j.locked_by == Some(44)));
    // SKIP LOCKED / state: the third job only
    let b = jobs::claim(&mut conn, 45, 10, LEASE).await.unwrap();
    assert_eq!(b.len(), 1);

    // worker 45 holds no liveness lock: its job is taken back; worker 44's are left alone
    assert_eq!(jobs::reap(&mut conn).await.unwrap(), 1);
    assert_eq!(
        db.count("SELECT count(*) FROM jobs WHERE state = 'running' AND locked_by = 44")
            .await,
        2
    );
    assert_eq!(
        db.count("SELECT count(*) FROM jobs WHERE state = 'queued' AND last_error = 'worker lost'")
            .await,
        1
    );

    // a graceful release puts the jobs back but keeps the attempt: it may have reached the carrier
    assert_eq!(jobs::release(&mut conn, 44).await.unwrap(), 2);
    assert_eq!(
        db.count("SELECT count(*) FROM jobs WHERE state = 'queued' AND attempts = 1")
            .await,
        3
    );
    let again = jobs::claim(&mut conn, 44, 10, LEASE).await.unwrap();
    assert!(again.iter().all(|j| j.attempts == 2), "{again:?}");

    // once the live worker's connection is gone, PostgreSQL frees its lock and its jobs return
    drop(live);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(jobs::reap(&mut conn).await.unwrap(), 3);
}

/// Issue 12 §1: requests have their own connections. With every connection of the background
/// pool held (a queue keeping the database busy), a create and a read are still answered, not
/// 503 after `database.acquire_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_get_connections_while_background_work_holds_all_of_its_own() {
    let app =
        TestApp::spawn_with("[database]\nacquire_timeout = \"1s\"\n[jobs]\npool_size = 2\n").await;
    let pool = app.gateway.as_ref().unwrap().background_pool.clone();
    let held = [pool.get().await.unwrap(), pool.get().await.unwrap()];
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), pool.get())
            .await
            .map_or(true, |r| r.is_err()),
        "the background pool is exhausted"
    );
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(app.create_pickup(n).await);
    }
    let token = app.client_token();
    for id in &ids {
        let resp = app.get(&format!("/v1/shipments/{id}"), &token).await;
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(app.db.count("SELECT count(*) FROM shipments").await, 10);
    drop(held);
}

/// Issue 12 §2: the transaction that queues a job sends no notification (it would serialise
/// commits); the process that committed it tells the others. A gateway serving requests only
/// queues a submission; another process on the same database, whose fallback poll is an hour
/// away, runs it at once because of that notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_queued_by_one_process_wakes_the_workers_of_another() {
    let app = TestApp::spawn().await;
    let mut config = bcci_gateway::config::Config::from_overlays(&[
        TEST_OVERLAY,
        "[jobs]\nenabled = true\npoll_interval = \"1h\"\n",
    ])
    .unwrap();
    config.database.url = bcci_gateway::config::Secret::new(app.db.url.clone());
    config.database.create_if_missing = false;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let worker = bcci_gateway::server::Gateway::start(config, listener)
        .await
        .unwrap();
    // The worker's first claim (at start) has found nothing; the next wake-up must come from
    // the other process.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = app.create_pickup(1).await;
    wait_for(&app, &id, "submitted", Duration::from_secs(20)).await;
    worker.stop().await.unwrap();
    app.stop().await;
}

/// Delivered callbacks are recorded in batches (`jobs::delivered`): several recorded at once
/// each get their callback delivered, their job done and one attempt row; a job taken from its
/// worker meanwhile (lease ran out) is left to its new owner, untouched, and its worker is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_callbacks_are_recorded_together_and_only_for_jobs_still_ours() {
    use bcci_gateway::domain::callback::CallbackType;
    use bcci_gateway::jobs::delivered::{DeliveredBatches, Recorded};
    use bcci_gateway::ledger::callbacks;
    use bcci_gateway::ledger::outbox::Attempt;
    use bcci_gateway::ledger::shipments::{Visibility, find};

    let app = TestApp::spawn().await;
    let id: uuid::Uuid = app.create_pickup(1).await.parse().unwrap();
    let mut conn = app.db.conn().await;
    let s = find(&mut conn, id, &Visibility::default())
        .await
        .unwrap()
        .unwrap();
    for _ in 0..5 {
        callbacks::enqueue(
            &conn,
            &s,
            CallbackType::StatusChanged,
            None,
            chrono::Utc::now(),
            None,
        )
        .await
        .unwrap();
    }
    // The pickup's submission is queued too: claim only the callbacks.
    app.db
        .exec("UPDATE jobs SET run_at = now() + interval '1 hour' WHERE kind <> 'callback'")
        .await;
    let claimed = jobs::claim(&mut conn, 44, 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 5);
    // One job was reaped and claimed again by another worker.
    let stolen = claimed[0].id;
    app.db
        .exec(&format!(
            "UPDATE jobs SET locked_by = 45, attempts = attempts + 1 WHERE id = {stolen}"
        ))
        .await;

    let batches = std::sync::Arc::new(DeliveredBatches::new(
        app.gateway.as_ref().unwrap().background_pool.clone(),
    ));
    let mut recording = tokio::task::JoinSet::new();
    for job in claimed {
        let callback = job.callback_id().unwrap();
        let batches = batches.clone();
        recording.spawn(async move {
            let attempt = Attempt {
                job_id: job.id,
                attempt: job.attempts,
                worker: 44,
                started_at: chrono::Utc::now(),
                duration_ms: 3,
                outcome: bcci_gateway::domain::outbox::AttemptOutcome::Ok,
                error_class: None,
                http_status: None,
                excerpt: Some("CallbackDelivered".into()),
            };
            (job.id, batches.record(callback, attempt).await.unwrap())
        });
    }
    for (job, recorded) in recording.join_all().await {
        match recorded {
            Recorded::Done => assert_ne!(job, stolen),
            Recorded::NotOurs => assert_eq!(job, stolen),
        }
    }
    let count = |sql: String| {
        let db = &app.db;
        async move { db.count(&sql).await }
    };
    assert_eq!(
        count("SELECT count(*) FROM callbacks WHERE state = 'delivered' AND attempts = 1 AND delivered_at IS NOT NULL AND last_error IS NULL".into()).await,
        4
    );
    assert_eq!(
        count(format!("SELECT count(*) FROM callbacks c JOIN jobs j ON j.payload->>'callback_id' = c.id::text WHERE j.id = {stolen} AND c.state = 'pending' AND c.attempts = 0")).await,
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM jobs WHERE kind = 'callback' AND state = 'done' AND locked_by IS NULL AND finished_at IS NOT NULL".into()).await,
        4
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM jobs WHERE id = {stolen} AND state = 'running' AND locked_by = 45"
        ))
        .await,
        1
    );
    assert_eq!(
        count(format!("SELECT count(*) FROM job_attempts WHERE worker = 44 AND outcome = 'ok' AND job_id <> {stolen}")).await,
        4
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM job_attempts WHERE job_id = {stolen}"
        ))
        .await,
        0
    );
}

/// A claim's rows are read together (`jobs::preload`): each job gets exactly what it would have
/// read itself (its shipment; its callback and whether the client's callbacks are on), a job
/// with nothing to read gets nothing, and a job whose claim did not read (the read failed)
/// reads for itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claims_rows_are_read_together_as_each_job_would_read_them() {
    use bcci_gateway::domain::callback::CallbackType;
    use bcci_gateway::jobs::preload::{self, Read};
    use bcci_gateway::ledger::callbacks;
    use bcci_gateway::ledger::shipments::{Visibility, find};

    let app = TestApp::spawn().await;
    let a: uuid::Uuid = app.create_pickup(1).await.parse().unwrap();
    let b: uuid::Uuid = app.create_pickup(2).await.parse().unwrap();
    let mut conn = app.db.conn().await;
    // A callback about shipment `id`, to `client`.
    let mut callback_for = async |id: uuid::Uuid, client: &str| {
        let mut s = find(&mut conn, id, &Visibility::default())
            .await
            .unwrap()
            .unwrap();
        s.client_id = client.into();
        let now = chrono::Utc::now();
        callbacks::enqueue(&conn, &s, CallbackType::StatusChanged, None, now, None)
            .await
            .unwrap()
    };
    let on = callback_for(a, "motcua-tq").await;
    // The other client's callbacks are stopped (its endpoint answered 410).
    let off = callback_for(b, "other-client").await;
    callbacks::disable_client(&mut conn, "other-client", "410 Gone")
        .await
        .unwrap();
    // A confirming query on `a` too: two jobs of one shipment.
    jobs::enqueue(
        &conn,
        JobKind::CarrierConfirm,
        Some(a),
        serde_json::json!({}),
    )
    .await
    .unwrap();
    // A callback job that names no callback has nothing to read.
    jobs::enqueue(&conn, JobKind::Callback, None, serde_json::json!({}))
        .await
        .unwrap();

    let claimed = jobs::claim(&mut conn, 44, 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 6, "{claimed:?}");
    let rows = preload::read(&conn, &claimed).await.unwrap();
    let mut seen = (0, 0, 0);
    for job in &claimed {
        let pre = rows.for_job(job);
        match job.kind() {
            Some(JobKind::CarrierSubmit | JobKind::CarrierConfirm) => {
                let Read::Read(Some(s)) = pre.shipment else {
                    panic!("{job:?}: {:?}", pre.shipment)
                };
                let own = find(&mut conn, job.shipment_id.unwrap(), &Visibility::default())
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(format!("{s:?}"), format!("{own:?}"));
                assert!(matches!(pre.callback, Read::NotRead));
                seen.0 += 1;
            }
            Some(JobKind::Callback) if job.callback_id().is_some() => {
                let Read::Read(Some((cb, enabled))) = pre.callback else {
                    panic!("{job:?}: {:?}", pre.callback)
                };
                let own = callbacks::find_for_delivery(&mut conn, cb.id)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    format!("{:?}", (&cb, enabled)),
                    format!("{:?}", (&own.0, own.1))
                );
                assert_eq!(enabled, cb.id == on, "{}", cb.id);
                assert!(cb.id == on || cb.id == off);
                assert!(matches!(pre.shipment, Read::NotRead));
                seen.1 += 1;
            }
            _ => {
                assert!(matches!(pre.shipment, Read::NotRead));
                assert!(matches!(pre.callback, Read::NotRead));
                seen.2 += 1;
            }
        }
    }
    assert_eq!(seen, (3, 2, 1));
    // The shipments' look-up by a list of ids is not kept prepared on the connection: its
    // generic plan on a new ledger would be a sequential scan.
    #[derive(diesel::QueryableByName)]
    struct Kept {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let kept: Kept = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements \
         WHERE statement LIKE '%FROM \"shipments\" WHERE%= ANY%' \
           AND statement NOT LIKE '%pg_prepared_statements%'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(kept.n, 0);
    // Nothing read: every job reads for itself.
    let none = preload::Claimed::default();
    assert!(claimed.iter().all(|j| matches!(
        none.for_job(j),
        preload::Preloaded {
            shipment: Read::NotRead,
            callback: Read::NotRead
        }
    )));
}
