//! The database connections cut under a running gateway (what a PostgreSQL restart or failover
//! does to it), without stopping the shared server: `pg_terminate_backend` on every session
//! of the test's database. The full outage, with PostgreSQL really stopped, is in
//! tests/faults.rs.

use crate::carrier_loop::LOOP;
use crate::support::*;
use diesel_async::RunQueryDsl;
use std::time::{Duration, Instant};

/// Terminates every session on `db` but the caller's own; returns how many.
async fn cut_connections(db: &TestDb) -> usize {
    let mut conn = db.conn().await;
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{}' AND pid <> pg_backend_pid()",
        db.name
    ))
    .execute(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_give_503_with_retry_after_and_the_job_worker_comes_back() {
    let app = TestApp::spawn_with(LOOP).await;
    let token = app.client_token();
    // warm the pool and let the worker take its liveness connection
    let first = app.create_numbered("pickups", 1).await;
    wait_for(&app, &first, "submitted", Duration::from_secs(20)).await;

    let cut = cut_connections(&app.db).await;
    assert!(
        cut >= 2,
        "only {cut} session(s) to cut: the pool and the worker's"
    );

    // Each request meets a dead pooled connection or a fresh one: 503 with Retry-After, or
    // success; never 500.
    let mut statuses = Vec::new();
    for n in 2..12 {
        let resp = app
            .create(
                "pickups",
                &token,
                &format!("cut-{n}"),
                &pickup_body(&dossier(n)),
            )
            .await;
        let status = resp.status().as_u16();
        if status == 503 {
            assert!(
                resp.headers().contains_key("retry-after"),
                "503 without Retry-After"
            );
        } else {
            assert_eq!(
                status,
                201,
                "after lost connections: {}",
                resp.text().await.unwrap()
            );
        }
        statuses.push(status);
    }
    assert!(
        statuses.contains(&201),
        "no create succeeded after the cut: {statuses:?}"
    );

    // The worker lost its liveness connection with the cut; it must start again and submit
    // what was created since (before the fix it stopped for good).
    let resp = app
        .create("pickups", &token, "after-cut", &pickup_body(&dossier(99)))
        .await;
    assert_eq!(resp.status(), 201);
    let id = json(resp).await["id"].as_str().unwrap().to_owned();
    wait_for(&app, &id, "submitted", Duration::from_secs(20)).await;
    let until = Instant::now() + Duration::from_secs(20);
    while app
        .db
        .count("SELECT count(*) FROM jobs WHERE kind = 'carrier_submit' AND state <> 'done'")
        .await
        > 0
    {
        assert!(
            Instant::now() < until,
            "submission jobs left undone after the cut"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
