//! The carrier loop (SPEC §5, §8): jobs submit each shipment exactly once to the sandbox
//! carrier over real HTTP, tracking polls progress back, failures are retried or end in
//! `rejected`, cancellation goes through the carrier.

use crate::support::process::orders_per_reference;
use crate::support::*;
use bcci_gateway::carrier::sandbox::{Chance, FaultsPatch};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Jobs and tracking on, fast retries and polls; the sandbox moves orders only when told.
pub const LOOP: &str = r#"
[jobs]
enabled = true
poll_interval = "100ms"
retry_min = "50ms"
retry_max = "200ms"
lease = "20s"
reap_interval = "200ms"
[tracking]
enabled = true
quiet_after = "150ms"
interval = "100ms"
[carrier]
connect_timeout = "1s"
timeout = "2s"
[carrier.sandbox]
listen = "127.0.0.1:0"
step = "0s"
failed_attempt_chance = 0.0
return_chance = 0.0
# these tests are about polling: every push is dropped (tests/it/webhook.rs covers pushes)
push_drop_rate = 1.0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickup_and_delivery_reach_delivered_through_the_polled_journey() {
    let app = TestApp::spawn_with(LOOP).await;
    let pickup = app.create_numbered("pickups", 1).await;
    let delivery = app.create_numbered("deliveries", 2).await;
    let p = wait_for(&app, &pickup, "submitted", Duration::from_secs(10)).await;
    wait_for(&app, &delivery, "submitted", Duration::from_secs(10)).await;
    assert!(p["tracking_number"].as_str().unwrap().ends_with("VN"));
    // walk the sandbox through the whole journey; tracking polls each step back
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        app.sandbox().advance();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let token = app.client_token();
        let a = json(app.get(&format!("/v1/shipments/{pickup}"), &token).await).await;
        let b = json(app.get(&format!("/v1/shipments/{delivery}"), &token).await).await;
        if a["status"] == "delivered" && b["status"] == "delivered" {
            assert_eq!(a["carrier_status"]["code"], 14);
            break;
        }
        assert!(
            Instant::now() < until,
            "journey did not end: {} / {}",
            a["status"],
            b["status"]
        );
    }
    let events = json(
        app.get(
            &format!("/v1/shipments/{pickup}/events"),
            &app.client_token(),
        )
        .await,
    )
    .await;
    let statuses: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    for s in [
        "requested",
        "submitted",
        "picked_up",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ] {
        assert!(statuses.contains(&s), "{s} missing from {statuses:?}");
    }
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "carrier_poll")
    );
    // every carrier report is stored once, however often it was polled
    let dupes = app
        .db
        .count("SELECT count(*) FROM (SELECT 1 FROM shipment_events WHERE carrier_code IS NOT NULL GROUP BY shipment_id, carrier_code, occurred_at HAVING count(*) > 1) d")
        .await;
    assert_eq!(dupes, 0);
    assert_eq!(orders_per_reference(app.sandbox()).len(), 2);
    assert!(
        orders_per_reference(app.sandbox())
            .values()
            .all(|n| *n == 1)
    );
    // delivered shipments are no longer polled
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM shipments WHERE next_poll_at IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_carrier_is_retried_then_the_order_goes_through() {
    let app = TestApp::spawn_with(LOOP).await;
    app.carrier_down(true);
    let id = app.create_numbered("pickups", 3).await;
    let until = Instant::now() + Duration::from_secs(10);
    while app.db.count("SELECT count(*) FROM job_attempts WHERE outcome = 'transient' AND error_class = 'server'").await < 3 {
        assert!(Instant::now() < until, "no retries seen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = json(
        app.get(&format!("/v1/shipments/{id}"), &app.client_token())
            .await,
    )
    .await;
    assert_eq!(s["status"], "requested");
    app.carrier_down(false);
    wait_for(&app, &id, "submitted", Duration::from_secs(10)).await;
    assert_eq!(
        orders_per_reference(app.sandbox())
            .values()
            .copied()
            .collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM jobs WHERE state = 'done'")
            .await,
        1
    );
    // the attempts are on record, with their HTTP status
    assert!(
        app.db
            .count("SELECT count(*) FROM job_attempts WHERE http_status = 503")
            .await
            >= 3
    );
    let metrics = send_text(app.http.get(app.url("/metrics"))).await;
    assert!(metrics.contains("bcci_job_attempts_total"), "{metrics}");
    assert!(
        metrics.contains("bcci_carrier_request_seconds"),
        "{metrics}"
    );
    assert!(metrics.contains("bcci_jobs{state=\"done\"} 1"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_then_timed_out_a_hundred_times_makes_a_hundred_orders() {
    let app = TestApp::spawn_with(&LOOP.replace("timeout = \"2s\"", "timeout = \"500ms\"")).await;
    app.sandbox().set_faults(&FaultsPatch {
        timeout_after_create_rate: Some(Chance::ALWAYS),
        withhold_for: Some(Duration::from_secs(5)),
        ..Default::default()
    });
    let token = app.client_token();
    let bodies: Vec<(String, Value)> = (0..100)
        .map(|n| (format!("t-{n}"), pickup_body(&dossier(1000 + n))))
        .collect();
    for chunk in bodies.chunks(20) {
        let created = futures::future::join_all(
            chunk
                .iter()
                .map(|(k, b)| app.create("pickups", &token, k, b)),
        )
        .await;
        assert!(created.iter().all(|r| r.status() == 201));
    }
    let until = Instant::now() + Duration::from_secs(60);
    while app
        .db
        .count("SELECT count(*) FROM shipments WHERE status = 'submitted'")
        .await
        < 100
    {
        assert!(Instant::now() < until, "not all submitted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let orders = orders_per_reference(app.sandbox());
    assert_eq!(orders.len(), 100);
    assert!(
        orders.values().all(|n| *n == 1),
        "duplicate carrier orders: {orders:?}"
    );
    // every first attempt timed out, and the order was then found rather than created again
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.kind = 'carrier_submit' AND a.error_class = 'timeout'")
            .await,
        100
    );
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) FROM shipment_events WHERE note LIKE 'order found at the carrier%'"
            )
            .await,
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_rejects_the_shipment_with_the_reason() {
    let app = TestApp::spawn_with(LOOP).await;
    let id = app.pickup_with_bad_commune(4).await;
    app.carrier_down(false);
    let s = wait_for(&app, &id, "rejected", Duration::from_secs(10)).await;
    let reason = s["status_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the carrier refused the order"),
        "{reason}"
    );
    assert!(app.sandbox().orders().is_empty());
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM job_attempts WHERE outcome = 'permanent'")
            .await,
        1
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM jobs WHERE state = 'done'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giving_up_is_visible_and_rejects_the_shipment() {
    // a give-up window of one second, carrier always down
    let overlay = LOOP.replace(
        "retry_max = \"200ms\"",
        "retry_max = \"200ms\"\ngive_up_after = \"1s\"",
    );
    let app = TestApp::spawn_with(&overlay).await;
    app.carrier_down(true);
    let id = app.create_numbered("pickups", 5).await;
    let s = wait_for(&app, &id, "rejected", Duration::from_secs(10)).await;
    assert!(
        s["status_reason"]
            .as_str()
            .unwrap()
            .starts_with("gave up after"),
        "{}",
        s["status_reason"]
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM jobs WHERE state = 'dead' AND last_error IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM job_attempts WHERE outcome = 'gave_up'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_means_one_new_login() {
    let app = TestApp::spawn_with(LOOP).await;
    app.submitted_pickup(6).await;
    let logins = app.gateway.as_ref().unwrap().carrier.logins();
    assert_eq!(logins, 1);
    app.sandbox().expire_tokens();
    app.submitted_pickup(7).await;
    assert_eq!(app.gateway.as_ref().unwrap().carrier.logins(), 2);
    // no attempt failed: the re-login happened inside the call
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.kind = 'carrier_submit' AND a.outcome <> 'ok'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_pickup_goes_through_the_carrier_and_after_pickup_is_refused() {
    // tracking off: the test decides when the ledger hears of the carrier's progress
    let app = TestApp::spawn_with(
        &LOOP.replace("[tracking]\nenabled = true", "[tracking]\nenabled = false"),
    )
    .await;
    let token = app.client_token();
    let a = app.submitted_pickup(8).await;
    let resp = app
        .post(
            &format!("/v1/shipments/{a}/cancel"),
            &token,
            &json!({"reason": "Công dân đã tự nộp"}),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let s = wait_for(&app, &a, "cancelled", Duration::from_secs(10)).await;
    assert_eq!(s["status_reason"], "cancelled at the carrier");

    let b = app.submitted_pickup(9).await;
    // the postal worker collects it (codes 2, 4, 6) before the ledger knows
    for _ in 0..4 {
        app.sandbox().advance();
    }
    let resp = app
        .post(
            &format!("/v1/shipments/{b}/cancel"),
            &token,
            &json!({"reason": "Muộn"}),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let events = json(app.get(&format!("/v1/shipments/{b}/events"), &token).await).await;
        if events["items"].as_array().unwrap().iter().any(|e| {
            e["note"]
                .as_str()
                .unwrap_or("")
                .starts_with("the carrier refused to cancel")
        }) {
            break;
        }
        assert!(Instant::now() < until, "no refusal recorded: {events}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = json(app.get(&format!("/v1/shipments/{b}"), &token).await).await;
    assert_eq!(
        s["status"], "submitted",
        "a refusal leaves the status as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_confirmed_by_push_after_a_lost_answer_can_still_be_cancelled() {
    // pushes on: the carrier's "created" push arrives while the CreateOrder answer is lost
    let overlay = LOOP
        .replace("push_drop_rate = 1.0", "push_drop_rate = 0.0")
        .replace("timeout = \"2s\"", "timeout = \"500ms\"");
    let app = TestApp::spawn_with(&overlay).await;
    app.sandbox().set_faults(&FaultsPatch {
        timeout_after_create_rate: Some(Chance::ALWAYS),
        withhold_for: Some(Duration::from_secs(3)),
        ..Default::default()
    });
    let id = app.submitted_pickup(60).await;
    let until = Instant::now() + Duration::from_secs(10);
    while app
        .db
        .count(&format!(
            "SELECT count(*) FROM shipments WHERE id = '{id}' AND carrier_order_id IS NOT NULL"
        ))
        .await
        == 0
    {
        assert!(
            Instant::now() < until,
            "the carrier order id was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resp = app
        .post(
            &format!("/v1/shipments/{id}/cancel"),
            &app.client_token(),
            &json!({"reason": "Công dân tự nộp"}),
        )
        .await;
    assert_eq!(resp.status(), 202);
    wait_for(&app, &id, "cancelled", Duration::from_secs(10)).await;
    assert_eq!(
        orders_per_reference(app.sandbox())
            .values()
            .copied()
            .collect::<Vec<_>>(),
        vec![1]
    );
}
