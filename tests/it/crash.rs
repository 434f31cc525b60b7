//! Crashes and several processes (issue: exactly one carrier order per shipment, whatever
//! fails). The real binary is started, killed with SIGKILL while shipments are being created
//! and submitted, and restarted; or two processes share one database.

use crate::support::process::{Gateway, Tuning, orders_per_reference, start_sandbox};
use crate::support::*;
use bcci_gateway::carrier::sandbox::SandboxHandle;
use std::time::Duration;

/// Creates `n` pickups through `bases` (round robin), each request retried with its key
/// until it gets its 201, whatever happens to the servers meanwhile.
async fn create_all(http: &reqwest::Client, bases: &[String], token: &str, n: u32, offset: u32) {
    let work = (0..n).map(|i| {
        let (http, token) = (http.clone(), token.to_owned());
        let base = bases[i as usize % bases.len()].clone();
        async move {
            let body = pickup_body(&dossier(offset + i));
            loop {
                let resp = http
                    .post(format!("{base}/v1/pickups"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("crash-{}", offset + i))
                    .json(&body)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == 201 => return,
                    Ok(r) if r.status().is_client_error() && r.status() != 409 => {
                        panic!("refused: {}", r.status())
                    }
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
    });
    futures::stream::iter(work)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

use futures::StreamExt;

async fn wait_all_submitted(db: &TestDb, n: i64, within: Duration) {
    poll(within, Duration::from_millis(200), async || {
        let done = db
            .count("SELECT count(*) FROM shipments WHERE status = 'submitted'")
            .await;
        (done == n)
            .then_some(())
            .ok_or(format!("{done} of {n} submitted"))
    })
    .await
}

fn assert_one_order_each(sandbox: &SandboxHandle, n: usize) {
    let per_reference = orders_per_reference(sandbox);
    let dupes: Vec<_> = per_reference.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dupes.is_empty(), "duplicate carrier orders: {dupes:?}");
    assert_eq!(per_reference.len(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_again_and_again_while_submitting_500_shipments() {
    let sandbox = start_sandbox().await;
    let db = TestDb::new().await;
    let http = reqwest::Client::new();
    let token = default_token("motcua-tq", &["shipments:write"]);

    let mut gw = Gateway::start(&db, &sandbox, &Tuning::default()).await;
    let creating = tokio::spawn({
        let (http, base, token) = (http.clone(), gw.base.clone(), token.clone());
        async move { create_all(&http, &[base], &token, 500, 5000).await }
    });
    // kill -9 five times while shipments are created and submitted, restarting each time
    for round in 0..5 {
        tokio::time::sleep(Duration::from_millis(600 + 150 * round)).await;
        gw.kill();
        gw.restart().await;
    }
    creating.await.unwrap();
    wait_all_submitted(&db, 500, Duration::from_secs(90)).await;

    assert_eq!(
        db.count("SELECT count(*) FROM shipments").await,
        500,
        "a retried create made a second shipment"
    );
    assert_one_order_each(&sandbox, 500);
    assert_eq!(
        db.count("SELECT count(*) FROM jobs WHERE kind = 'carrier_submit' AND state <> 'done'")
            .await,
        0,
        "a job is stuck"
    );
    // the crashes really interrupted work: some attempts were taken over from dead workers
    let workers = db
        .count("SELECT count(DISTINCT worker) FROM job_attempts")
        .await;
    assert!(workers >= 2, "only {workers} worker(s) ever ran jobs");
    let taken_over = db
        .count("SELECT count(*) FROM jobs WHERE last_error = 'worker lost'")
        .await;
    let looked_up = db
        .count("SELECT count(*) FROM shipment_events WHERE note LIKE 'order found at the carrier%'")
        .await;
    eprintln!(
        "crash test: {workers} workers, {taken_over} jobs taken over from killed workers, {looked_up} orders found by reference instead of created again"
    );
    assert!(
        taken_over > 0,
        "no kill interrupted a job: the test proved nothing"
    );

    // a graceful stop ends the process cleanly
    gw.terminate().await;
    assert_eq!(
        db.count("SELECT count(*) FROM jobs WHERE state = 'running'")
            .await,
        0,
        "SIGTERM left a job claimed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_1000_shipments_without_a_duplicate_order() {
    let sandbox = start_sandbox().await;
    let db = TestDb::new().await;
    let mut gateways = [
        Gateway::spawn(&db, &sandbox, &Tuning::default()),
        Gateway::spawn(&db, &sandbox, &Tuning::default()),
    ];
    for g in &gateways {
        g.wait_healthy().await;
    }
    let bases: Vec<String> = gateways.iter().map(|g| g.base.clone()).collect();
    let http = reqwest::Client::new();
    let token = default_token("motcua-tq", &["shipments:write"]);
    create_all(&http, &bases, &token, 1000, 7000).await;
    wait_all_submitted(&db, 1000, Duration::from_secs(90)).await;
    assert_one_order_each(&sandbox, 1000);
    let workers = db.count("SELECT count(DISTINCT worker) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.kind = 'carrier_submit'").await;
    assert_eq!(workers, 2, "both processes should have submitted orders");
    assert_eq!(db.count("SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.kind = 'carrier_submit'").await, 1000, "a job ran twice");
    for g in &gateways {
        g.sigterm();
    }
    for g in &mut gateways {
        g.exited().await;
    }
}
