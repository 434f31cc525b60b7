//! The carrier push endpoint (SPEC §6) over real HTTP against the real PostgreSQL: signed
//! pushes move shipments, anything unsigned, tampered or stale is refused with nothing written,
//! and duplicated, shuffled, concurrent or dropped pushes leave every shipment where its latest
//! report says.

use crate::carrier_loop::wait_for;
use crate::support::*;
use bcci_gateway::api::webhook::PATH;
use bcci_gateway::carrier::push::{PushData, PushEnvelope, PushSigner};
use bcci_gateway::carrier::sandbox::SANDBOX_PRIVATE_KEY_PEM;
use bcci_gateway::carrier::vntime;
use bcci_gateway::config::Config;
use bcci_gateway::domain::carrier_codes::{CodeMeaning, meaning};
use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn sandbox_signer() -> PushSigner {
    PushSigner::from_pem(SANDBOX_PRIVATE_KEY_PEM).unwrap()
}

/// The second key pair of `tests/fixtures`: the carrier's "next" key in rotation tests.
fn next_signer() -> PushSigner {
    let pem = std::fs::read_to_string(fixture("tests/fixtures/carrier-push-next-private.pem"));
    PushSigner::from_pem(&pem.unwrap()).unwrap()
}

/// An RSA key nobody trusts.
fn stranger_signer() -> PushSigner {
    let pem = std::fs::read_to_string(fixture("tests/fixtures/client-rs256-private.pem"));
    PushSigner::from_pem(&pem.unwrap()).unwrap()
}

fn report(
    item_code: &str,
    sale_order_code: Option<&str>,
    code: i32,
    at: DateTime<Utc>,
) -> PushData {
    PushData {
        item_code: item_code.into(),
        sale_order_code: sale_order_code.map(Into::into),
        status_code: code,
        status_name: Some(format!("trạng thái {code}")),
        status_date: vntime::format_date_time(at),
        note: Some(String::new()),
    }
}

async fn send(app: &TestApp, envelope: &PushEnvelope) -> reqwest::Response {
    app.http
        .post(app.url(PATH))
        .json(envelope)
        .send()
        .await
        .unwrap()
}

async fn send_raw(app: &TestApp, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.http
        .post(app.url(PATH))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A shipment as the carrier knows it.
#[derive(Debug, Clone)]
struct Known {
    id: String,
    sale_order_code: String,
    tracking_number: String,
}

#[derive(diesel::QueryableByName)]
struct OneText {
    #[diesel(sql_type = Text)]
    t: String,
}

async fn text(app: &TestApp, sql: &str) -> String {
    let mut conn = app.db.conn().await;
    diesel::sql_query(format!("SELECT ({sql})::text AS t"))
        .get_result::<OneText>(&mut conn)
        .await
        .unwrap()
        .t
}

/// A pickup created through the API, then accepted by the carrier (status `submitted`,
/// tracking number set) as the job worker would record it.
async fn submitted(app: &TestApp, n: u32) -> Known {
    let resp = app
        .create(
            "pickups",
            &app.client_token(),
            &format!("wh-{n}"),
            &pickup_body(&dossier(n)),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let id = json(resp).await["id"].as_str().unwrap().to_owned();
    let tracking_number = format!("EB{:09}VN", 500_000_000 + n);
    let mut conn = app.db.conn().await;
    let sale_order_code = diesel::sql_query(
        "UPDATE shipments SET status = 'submitted', sequence = sequence + 1, tracking_number = $2 \
         WHERE id = $1::uuid RETURNING sale_order_code AS t",
    )
    .bind::<Text, _>(&id)
    .bind::<Text, _>(&tracking_number)
    .get_result::<OneText>(&mut conn)
    .await
    .unwrap()
    .t;
    Known {
        id,
        sale_order_code,
        tracking_number,
    }
}

async fn status_of(app: &TestApp, id: &str) -> String {
    text(
        app,
        &format!("SELECT status FROM shipments WHERE id = '{id}'"),
    )
    .await
}

async fn events(app: &TestApp, id: &str) -> Vec<Value> {
    let body = json(
        app.get(&format!("/v1/shipments/{id}/events"), &app.client_token())
            .await,
    )
    .await;
    body["items"].as_array().unwrap().clone()
}

/// What a refused or malformed push answers: a problem document.
async fn problem(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status(), status);
    assert_eq!(
        resp.headers()["content-type"],
        "application/problem+json",
        "{status}"
    );
    let body = json(resp).await;
    assert_eq!(body["status"], status);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_push_moves_the_shipment_and_a_repeat_changes_nothing() {
    let app = TestApp::spawn().await;
    let s = submitted(&app, 1).await;
    let at = Utc::now() - Span::minutes(3);
    let push = sandbox_signer().envelope(
        &report(&s.tracking_number, Some(&s.sale_order_code), 6, at),
        Utc::now(),
    );
    let resp = send(&app, &push).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await, json!({"outcome": "applied"}));
    assert_eq!(status_of(&app, &s.id).await, "picked_up");
    let shipment = json(
        app.get(&format!("/v1/shipments/{}", s.id), &app.client_token())
            .await,
    )
    .await;
    assert_eq!(shipment["carrier_status"]["code"], 6);
    let evs = events(&app, &s.id).await;
    let last = evs.last().unwrap();
    assert_eq!(
        (&last["source"], &last["status"], &last["carrier_code"]),
        (&json!("carrier_push"), &json!("picked_up"), &json!(6))
    );
    // the raw push is kept, linked to the shipment
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) FROM carrier_pushes WHERE shipment_id = '{}' AND outcome = 'applied' \
                 AND item_code = '{}' AND status_code = 6 AND data = {}",
                s.id,
                s.tracking_number,
                sql_literal(&push.data)
            ))
            .await,
        1
    );

    // the same push again, and the same report signed anew: 200, nothing changes
    let sequence = text(
        &app,
        &format!("SELECT sequence FROM shipments WHERE id = '{}'", s.id),
    )
    .await;
    let again = sandbox_signer().envelope(
        &report(&s.tracking_number, Some(&s.sale_order_code), 6, at),
        Utc::now() + Span::seconds(1),
    );
    for p in [&push, &again] {
        let resp = send(&app, p).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(json(resp).await["outcome"], "duplicate");
    }
    assert_eq!(
        text(
            &app,
            &format!("SELECT sequence FROM shipments WHERE id = '{}'", s.id)
        )
        .await,
        sequence
    );
    assert_eq!(events(&app, &s.id).await.len(), evs.len());
    assert_eq!(app.db.count("SELECT count(*) FROM carrier_pushes").await, 1);

    // an older report arriving late is recorded but does not move the status back
    let late = sandbox_signer().envelope(
        &report(&s.tracking_number, None, 2, at - Span::minutes(30)),
        Utc::now(),
    );
    let resp = send(&app, &late).await;
    assert_eq!(json(resp).await["outcome"], "applied");
    assert_eq!(status_of(&app, &s.id).await, "picked_up");
    let evs = events(&app, &s.id).await;
    assert_eq!(evs.last().unwrap()["carrier_code"], 2);
    assert_eq!(evs.last().unwrap()["status"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_before_the_order_is_confirmed_finds_the_shipment_by_its_reference() {
    let app = TestApp::spawn().await;
    // requested, no tracking number yet: the CreateOrder answer has not been processed
    let resp = app
        .create(
            "pickups",
            &app.client_token(),
            "early",
            &pickup_body(&dossier(30)),
        )
        .await;
    let id = json(resp).await["id"].as_str().unwrap().to_owned();
    let sale_order_code = text(
        &app,
        &format!("SELECT sale_order_code FROM shipments WHERE id = '{id}'"),
    )
    .await;
    let data = report("EB777777777VN", Some(&sale_order_code), 1, Utc::now());
    let resp = send(&app, &sandbox_signer().envelope(&data, Utc::now())).await;
    assert_eq!(json(resp).await["outcome"], "applied");
    assert_eq!(status_of(&app, &id).await, "submitted");
    assert_eq!(
        text(
            &app,
            &format!("SELECT tracking_number FROM shipments WHERE id = '{id}'")
        )
        .await,
        "EB777777777VN"
    );
    // later pushes without the reference find it by the tracking number now kept
    let data = report("EB777777777VN", None, 6, Utc::now());
    let resp = send(&app, &sandbox_signer().envelope(&data, Utc::now())).await;
    assert_eq!(json(resp).await["outcome"], "applied");
    assert_eq!(status_of(&app, &id).await, "picked_up");
}

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_pushes_are_401_and_change_nothing() {
    let app = TestApp::spawn().await;
    let s = submitted(&app, 2).await;
    let signer = sandbox_signer();
    let now = Utc::now();
    let data = report(
        &s.tracking_number,
        Some(&s.sale_order_code),
        14,
        now - Span::minutes(1),
    );
    let good = signer.envelope(&data, now);

    let mut cases: Vec<(&str, Value)> = Vec::new();
    let by_stranger = stranger_signer().envelope(&data, now);
    cases.push(("signed by an unknown key", json!(by_stranger)));
    let mut tampered = good.clone();
    tampered.data = tampered
        .data
        .replace("\"StatusCode\":14", "\"StatusCode\":19");
    assert_ne!(tampered.data, good.data);
    cases.push(("Data changed after signing", json!(tampered)));
    let mut redated = good.clone();
    redated.send_date = vntime::rfc3339(now + Span::seconds(30));
    cases.push(("SendDate changed after signing", json!(redated)));
    cases.push((
        "SendDate 11 minutes old",
        json!(signer.envelope(&data, now - Span::minutes(11))),
    ));
    cases.push((
        "SendDate 11 minutes ahead",
        json!(signer.envelope(&data, now + Span::minutes(11))),
    ));
    let mut unreadable_date = good.clone();
    unreadable_date.send_date = "27/11/2026 10:00:00".into();
    unreadable_date.sign_data = signer.sign(&unreadable_date.data, &unreadable_date.send_date);
    cases.push(("SendDate not RFC 3339", json!(unreadable_date)));
    cases.push((
        "SignData missing",
        json!({"Data": good.data, "SendDate": good.send_date}),
    ));
    cases.push((
        "SignData null",
        json!({"Data": good.data, "SendDate": good.send_date, "SignData": null}),
    ));
    cases.push((
        "SignData empty",
        json!({"Data": good.data, "SendDate": good.send_date, "SignData": ""}),
    ));
    cases.push((
        "SignData not base64",
        json!({"Data": good.data, "SendDate": good.send_date, "SignData": "not base64!"}),
    ));
    cases.push((
        "SignData a number",
        json!({"Data": good.data, "SendDate": good.send_date, "SignData": 42}),
    ));
    for (what, body) in cases {
        let resp = send_raw(&app, body.to_string()).await;
        assert_eq!(resp.status(), 401, "{what}");
        let p = problem(resp, 401).await;
        assert_eq!(p["code"], "unauthorized", "{what}");
    }
    assert_eq!(app.db.count("SELECT count(*) FROM carrier_pushes").await, 0);
    assert_eq!(status_of(&app, &s.id).await, "submitted");
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM shipment_events WHERE carrier_code IS NOT NULL")
            .await,
        0
    );
    // the genuine push still goes through
    let resp = send(&app, &good).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(status_of(&app, &s.id).await, "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_pushes_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let s = submitted(&app, 3).await;
    let signer = sandbox_signer();
    let now = Utc::now();
    let send_date = vntime::rfc3339(now);
    let signed = |data: &str| json!({"Data": data, "SendDate": send_date, "SignData": signer.sign(data, &send_date)});
    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", "{\"Data\": ".into(), ""),
        ("an array", "[1, 2]".into(), "body"),
        (
            "Data missing",
            json!({"SendDate": send_date, "SignData": "AAAA"}).to_string(),
            "Data",
        ),
        (
            "Data a number",
            json!({"Data": 6, "SendDate": send_date, "SignData": "AAAA"}).to_string(),
            "Data",
        ),
        (
            "SendDate missing",
            json!({"Data": "{}", "SignData": "AAAA"}).to_string(),
            "SendDate",
        ),
        (
            "signed Data that is not JSON",
            signed("not json").to_string(),
            "Data",
        ),
        (
            "signed Data without ItemCode",
            signed(r#"{"StatusCode":6,"StatusDate":"27/11/2026 10:00:00"}"#).to_string(),
            "Data",
        ),
        (
            "signed Data with a bad StatusDate",
            signed(&format!(
                r#"{{"ItemCode":"{}","StatusCode":6,"StatusDate":"2026-13-45"}}"#,
                s.tracking_number
            ))
            .to_string(),
            "Data",
        ),
    ];
    for (what, body, field) in cases {
        let p = problem(send_raw(&app, body).await, 400).await;
        if field.is_empty() {
            assert_eq!(p["code"], "malformed_json", "{what}");
        } else {
            assert_eq!(p["code"], "malformed_push", "{what}");
            assert_eq!(p["errors"][0]["field"], field, "{what}: {p}");
        }
    }
    assert_eq!(app.db.count("SELECT count(*) FROM carrier_pushes").await, 0);
    assert_eq!(status_of(&app, &s.id).await, "submitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_push_is_413() {
    let app = TestApp::spawn_with("[carrier]\nwebhook_body_limit_bytes = 2048\n").await;
    let s = submitted(&app, 4).await;
    let mut data = report(&s.tracking_number, Some(&s.sale_order_code), 6, Utc::now());
    data.note = Some("x".repeat(2048));
    let big = sandbox_signer().envelope(&data, Utc::now());
    let p = problem(send(&app, &big).await, 413).await;
    assert_eq!(p["code"], "payload_too_large");
    assert_eq!(app.db.count("SELECT count(*) FROM carrier_pushes").await, 0);
    // just under the limit is fine
    data.note = Some("x".repeat(1000));
    let fits = sandbox_signer().envelope(&data, Utc::now());
    assert!(serde_json::to_vec(&fits).unwrap().len() < 2048);
    assert_eq!(send(&app, &fits).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_key_rotation_either_key_is_accepted() {
    let rotation = format!(
        "[carrier]\nwebhook_public_key_pem = \"file:{}\"\nwebhook_public_key_pem_next = \"file:{}\"\n",
        fixture("config/sandbox/carrier-push-public.pem"),
        fixture("tests/fixtures/carrier-push-next-public.pem"),
    );
    let app = TestApp::spawn_with(&rotation).await;
    let s = submitted(&app, 5).await;
    let t = Utc::now() - Span::minutes(5);
    let pushes = [
        (sandbox_signer(), 6, 200),
        (next_signer(), 7, 200),
        (stranger_signer(), 12, 401),
    ];
    for (i, (signer, code, expected)) in pushes.into_iter().enumerate() {
        let data = report(
            &s.tracking_number,
            Some(&s.sale_order_code),
            code,
            t + Span::seconds(i as i64),
        );
        let resp = send(&app, &signer.envelope(&data, Utc::now())).await;
        assert_eq!(resp.status(), expected, "code {code}");
    }
    assert_eq!(status_of(&app, &s.id).await, "in_transit");
    app.stop().await;

    // after the rotation only the new key is trusted, even on the sandbox
    let after = format!(
        "[carrier]\nwebhook_public_key_pem = \"file:{}\"\n",
        fixture("tests/fixtures/carrier-push-next-public.pem"),
    );
    let app = TestApp::spawn_with(&after).await;
    let s = submitted(&app, 6).await;
    let data = report(&s.tracking_number, Some(&s.sale_order_code), 6, t);
    let old = sandbox_signer().envelope(&data, Utc::now());
    assert_eq!(send(&app, &old).await.status(), 401);
    let new = next_signer().envelope(&data, Utc::now());
    assert_eq!(send(&app, &new).await.status(), 200);
    assert_eq!(status_of(&app, &s.id).await, "picked_up");
}

#[test]
fn the_webhook_keys_are_checked_at_start_up() {
    let e = Config::from_overlay("[carrier]\nkind = \"vnpost\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("carrier.webhook_public_key_pem"), "{e}");
    let key = fixture("tests/fixtures/carrier-push-next-public.pem");
    let c = Config::from_overlay(&format!(
        "[carrier]\nkind = \"vnpost\"\nwebhook_public_key_pem = \"file:{key}\"\n"
    ))
    .unwrap();
    assert_eq!(
        bcci_gateway::api::webhook::trusted_keys(&c.carrier).len(),
        1
    );
    let e = Config::from_overlay(&format!(
        "[carrier]\nwebhook_public_key_pem_next = \"file:{key}\"\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("carrier.webhook_public_key_pem_next"), "{e}");
    let e = Config::from_overlay("[carrier]\nwebhook_public_key_pem = \"not a key\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("webhook_public_key_pem"), "{e}");
    // a private key where the public one belongs is refused too
    let e = Config::from_overlay(&format!(
        "[carrier]\nwebhook_public_key_pem = \"file:{}\"\n",
        fixture("tests/fixtures/carrier-push-next-private.pem")
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("webhook_public_key_pem"), "{e}");
    // the sandbox trusts its own key when none is configured
    let c = Config::from_overlay("").unwrap();
    assert_eq!(
        bcci_gateway::api::webhook::trusted_keys(&c.carrier).len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_for_an_unknown_shipment_is_kept_for_staff() {
    let app = TestApp::spawn().await;
    let known = submitted(&app, 7).await;
    let data = report("EB999999999VN", Some("SOMEONE-ELSE-1"), 6, Utc::now());
    let resp = send(&app, &sandbox_signer().envelope(&data, Utc::now())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["outcome"], "unknown_shipment");
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) FROM carrier_pushes WHERE outcome = 'unknown_shipment' \
                 AND shipment_id IS NULL AND item_code = 'EB999999999VN' \
                 AND sale_order_code = 'SOMEONE-ELSE-1'"
            )
            .await,
        1
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM shipment_events WHERE carrier_code IS NOT NULL")
            .await,
        0
    );
    assert_eq!(status_of(&app, &known.id).await, "submitted");
    // repeated, it is still kept once
    let resp = send(&app, &sandbox_signer().envelope(&data, Utc::now())).await;
    assert_eq!(json(resp).await["outcome"], "duplicate");
    assert_eq!(app.db.count("SELECT count(*) FROM carrier_pushes").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_code_is_flagged_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let s = submitted(&app, 8).await;
    // found by ItemCode alone: no SaleOrderCode in this push
    let data = report(&s.tracking_number, None, 27, Utc::now() - Span::minutes(1));
    let resp = send(&app, &sandbox_signer().envelope(&data, Utc::now())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["outcome"], "unknown_code");
    assert_eq!(status_of(&app, &s.id).await, "submitted");
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) FROM shipment_events WHERE shipment_id = '{}' AND carrier_code = 27 \
                 AND unknown_code AND NOT applied AND source = 'carrier_push'",
                s.id
            ))
            .await,
        1
    );
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) FROM carrier_pushes WHERE outcome = 'unknown_code' AND shipment_id = '{}'",
                s.id
            ))
            .await,
        1
    );
}

/// A carrier journey: 1, 2, 4, (5,) 6, 7, 10, 11, 12, (15, 12,) then 14 or the return
/// 15, 16, 18, 19; cut short at a random point so that shipments end in various statuses.
fn journey(rng: &mut StdRng, start: DateTime<Utc>) -> Vec<(i32, DateTime<Utc>)> {
    let mut codes = vec![1, 2, 4];
    if rng.random_bool(0.2) {
        codes.push(5);
    }
    codes.extend([6, 7, 10, 11, 12]);
    if rng.random_bool(0.2) {
        codes.extend([15, 12]);
    }
    if rng.random_bool(0.2) {
        codes.extend([15, 16, 18, 19]);
    } else {
        codes.push(14);
    }
    codes.truncate(rng.random_range(1..=codes.len()));
    let mut at = start;
    codes
        .into_iter()
        .map(|c| {
            at += Span::seconds(rng.random_range(1..600));
            (c, at)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_duplicated_shuffled_pushes_leave_each_shipment_at_its_latest_report() {
    let app = TestApp::spawn().await;
    let seed: u64 = rand::random();
    let mut rng = StdRng::seed_from_u64(seed);
    let shipments: Vec<Known> = futures::stream::iter(0..100)
        .map(|n| submitted(&app, 100 + n))
        .buffer_unordered(8)
        .collect()
        .await;
    // carrier times in the recent past, so that the journeys are plausible
    let base = Utc
        .timestamp_opt(Utc::now().timestamp() - 3 * 86_400, 0)
        .unwrap();
    let journeys: Vec<Vec<(i32, DateTime<Utc>)>> =
        shipments.iter().map(|_| journey(&mut rng, base)).collect();
    let distinct: usize = journeys.iter().map(Vec::len).sum();
    assert!(distinct < 1000);

    // every report once, then repeats of random reports up to 1,000 pushes
    let mut reports: Vec<(usize, i32, DateTime<Utc>)> = journeys
        .iter()
        .enumerate()
        .flat_map(|(i, j)| j.iter().map(move |&(c, at)| (i, c, at)))
        .collect();
    while reports.len() < 1000 {
        let r = reports[rng.random_range(0..distinct)];
        reports.push(r);
    }
    reports.shuffle(&mut rng);
    let signer = sandbox_signer();
    let pushes: Vec<PushEnvelope> = reports
        .iter()
        .map(|&(i, code, at)| {
            let s = &shipments[i];
            // half of them found by ItemCode alone
            let sale = rng.random_bool(0.5).then_some(s.sale_order_code.as_str());
            signer.envelope(&report(&s.tracking_number, sale, code, at), Utc::now())
        })
        .collect();

    let answers: Vec<(u16, String)> = futures::stream::iter(&pushes)
        .map(|p| async {
            let resp = send(&app, p).await;
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "seed {seed}: {body}");
    }
    let applied = answers
        .iter()
        .filter(|(_, b)| b.contains("\"applied\""))
        .count();
    assert_eq!(applied, distinct, "seed {seed}");

    for (s, j) in shipments.iter().zip(&journeys) {
        let (last_code, _) = *j.iter().max_by_key(|(_, at)| *at).unwrap();
        let CodeMeaning::Status(expected) = meaning(last_code) else {
            unreachable!("journeys use status codes only")
        };
        assert_eq!(
            status_of(&app, &s.id).await,
            expected.as_str(),
            "seed {seed}: shipment {} with journey {j:?}",
            s.id
        );
        assert_eq!(
            app.db
                .count(&format!(
                    "SELECT count(*) FROM shipment_events WHERE shipment_id = '{}' AND source = 'carrier_push'",
                    s.id
                ))
                .await,
            j.len() as i64,
            "seed {seed}"
        );
    }
    // each (shipment, code, time) is stored once, and each push once
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) FROM (SELECT 1 FROM shipment_events WHERE carrier_code IS NOT NULL \
                 GROUP BY shipment_id, carrier_code, occurred_at HAVING count(*) > 1) d"
            )
            .await,
        0,
        "seed {seed}"
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM carrier_pushes WHERE outcome = 'applied'")
            .await,
        distinct as i64,
        "seed {seed}"
    );
    assert_eq!(
        app.db.count("SELECT count(*) FROM carrier_pushes").await,
        distinct as i64
    );
}

/// Jobs on (the sandbox creates the orders), the sandbox moving only when told.
fn push_loop(tracking: bool, sandbox: &str) -> String {
    format!(
        r#"
[jobs]
enabled = true
poll_interval = "100ms"
retry_min = "50ms"
retry_max = "200ms"
lease = "20s"
reap_interval = "200ms"
[tracking]
enabled = {tracking}
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
{sandbox}
"#
    )
}

async fn create_pickup(app: &TestApp, n: u32) -> String {
    let resp = app
        .create(
            "pickups",
            &app.client_token(),
            &format!("loop-{n}"),
            &pickup_body(&dossier(n)),
        )
        .await;
    assert_eq!(resp.status(), 201);
    json(resp).await["id"].as_str().unwrap().to_owned()
}

/// Advances the sandbox until the shipment is delivered.
async fn walk_to_delivered(app: &TestApp, id: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    while status_of(app, id).await != "delivered" {
        assert!(
            Instant::now() < until,
            "not delivered: {}",
            status_of(app, id).await
        );
        app.sandbox().advance();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn carrier_sources(evs: &[Value]) -> HashSet<String> {
    evs.iter()
        .filter(|e| !e["carrier_code"].is_null())
        .map(|e| e["source"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_pushes_are_caught_up_by_polling() {
    let app = TestApp::spawn_with(&push_loop(true, "push_drop_rate = 1.0")).await;
    let id = create_pickup(&app, 20).await;
    wait_for(&app, &id, "submitted", Duration::from_secs(10)).await;
    walk_to_delivered(&app, &id).await;
    let evs = events(&app, &id).await;
    assert_eq!(
        carrier_sources(&evs),
        HashSet::from(["carrier_poll".to_owned()])
    );
    let stats = app.sandbox().stats();
    assert!(stats.pushes_dropped >= 9, "{stats:?}");
    assert_eq!(stats.pushes_sent, 0);
    assert_eq!(app.db.count("SELECT count(*) FROM carrier_pushes").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_pushes_move_the_shipment_without_polling() {
    // no push_url: the gateway points the sandbox at its own webhook. Duplicated and
    // reordered pushes on top.
    let app = TestApp::spawn_with(&push_loop(
        false,
        "push_duplicate_rate = 0.5\npush_reorder = true",
    ))
    .await;
    let id = create_pickup(&app, 21).await;
    wait_for(&app, &id, "submitted", Duration::from_secs(10)).await;
    walk_to_delivered(&app, &id).await;
    // the last report may still be held back by the reordering: wait for all nine
    let until = Instant::now() + Duration::from_secs(10);
    while app.db.count("SELECT count(*) FROM carrier_pushes").await < 9 {
        assert!(Instant::now() < until, "not all pushes arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let evs = events(&app, &id).await;
    assert_eq!(
        carrier_sources(&evs),
        HashSet::from(["carrier_push".to_owned()])
    );
    let statuses: Vec<&str> = evs.iter().filter_map(|e| e["status"].as_str()).collect();
    for s in ["picked_up", "in_transit", "out_for_delivery", "delivered"] {
        assert!(statuses.contains(&s), "{s} missing from {statuses:?}");
    }
    // codes 1, 2, 4, 6, 7, 10, 11, 12, 14: one row each however often they were pushed
    assert_eq!(app.db.count("SELECT count(*) FROM carrier_pushes").await, 9);
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM carrier_pushes WHERE outcome <> 'applied' OR shipment_id IS NULL")
            .await,
        0
    );
    let stats = app.sandbox().stats();
    assert!(stats.pushes_sent >= 9, "{stats:?}");
    assert_eq!(stats.pushes_failed, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_is_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let op = &doc["paths"][PATH]["post"];
    assert!(op["responses"]["401"].is_object(), "{op}");
    assert!(
        doc["components"]["schemas"]["PushBody"]["properties"]["SignData"].is_object(),
        "{}",
        doc["components"]["schemas"]
    );
}
