//! The carrier push endpoint (SPEC §6, revised) over real HTTP against the real PostgreSQL:
//! MyVNPost's envelope `{data, sendDate, signature}` in both modes (signature, encryption),
//! both sendDate formats and key rotation; anything unsigned, tampered or stale is refused with
//! nothing written; the first record moves its shipment, every other record only schedules a
//! confirming tracking query, which the carrier's own tracking answers; duplicated, shuffled,
//! concurrent or dropped pushes leave every shipment where its latest report says.

use crate::carrier_loop::LOOP;
use crate::support::*;
use bcci_gateway::api::webhook::PATH;
use bcci_gateway::carrier::push::{
    CarrierPushKey, PushEncryptor, PushEnvelope, PushRecord, PushSigner,
    SANDBOX_GATEWAY_PUBLIC_KEY_PEM, SendDateFormat, authenticated_text,
};
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

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// Signature mode: the sandbox carrier's development key.
fn sandbox_signer() -> CarrierPushKey {
    CarrierPushKey::Signature(PushSigner::from_pem(SANDBOX_PRIVATE_KEY_PEM).unwrap())
}

/// Signature mode: the second key pair of `tests/fixtures`, the carrier's "next" key.
fn next_signer() -> CarrierPushKey {
    CarrierPushKey::Signature(
        PushSigner::from_pem(&read("tests/fixtures/carrier-push-next-private.pem")).unwrap(),
    )
}

/// Signature mode: an RSA key nobody trusts.
fn stranger_signer() -> CarrierPushKey {
    CarrierPushKey::Signature(
        PushSigner::from_pem(&read("tests/fixtures/client-rs256-private.pem")).unwrap(),
    )
}

/// Encryption mode: the public half of the gateway's development key.
fn sandbox_encryptor() -> CarrierPushKey {
    CarrierPushKey::Encryption(PushEncryptor::from_pem(SANDBOX_GATEWAY_PUBLIC_KEY_PEM).unwrap())
}

/// Encryption mode: the public half of another key pair (the gateway's "next" key).
fn next_encryptor() -> CarrierPushKey {
    CarrierPushKey::Encryption(
        PushEncryptor::from_pem(&read("tests/fixtures/carrier-push-next-public.pem")).unwrap(),
    )
}

/// A record with its own time of the change (`statusDate`).
fn record(
    item_code: &str,
    sale_order_code: Option<&str>,
    code: i32,
    at: DateTime<Utc>,
) -> PushRecord {
    PushRecord {
        sale_order_code: sale_order_code.map(Into::into),
        status_name: Some(format!("trạng thái {code}")),
        status_date: Some(vntime::format_date_time(at)),
        ..PushRecord::new(item_code, code)
    }
}

fn envelope(key: &CarrierPushKey, records: &[PushRecord]) -> PushEnvelope {
    key.envelope(records, Utc::now(), SendDateFormat::Rfc3339)
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

/// A recorded push's answer: 200, `{"success": true, …}`; returns the first record's outcome.
async fn accepted(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["success"], true, "{body}");
    assert!(body["message"].is_string(), "{body}");
    body["outcome"].as_str().unwrap().to_owned()
}

/// A refused push's answer: `status`, `{"success": false, "message", "code"}`.
async fn refused(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status(), status);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body = json(resp).await;
    assert_eq!(body["success"], false, "{body}");
    assert!(body["message"].is_string(), "{body}");
    body
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
    let id = app
        .create_ok("pickups", &format!("wh-{n}"), &pickup_body(&dossier(n)))
        .await;
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

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db.count(sql).await
}

/// A refused push left nothing behind: no push, no envelope, no confirmation job, and the
/// shipment `id` still as submitted.
async fn nothing_recorded(app: &TestApp, id: &str) {
    for table in [
        "carrier_pushes",
        "carrier_push_envelopes",
        "jobs WHERE kind = 'carrier_confirm'",
    ] {
        assert_eq!(
            count(app, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    assert_eq!(status_of(app, id).await, "submitted");
}

async fn confirms_for(app: &TestApp, id: &str) -> i64 {
    count(
        app,
        &format!(
            "SELECT count(*) FROM jobs WHERE kind = 'carrier_confirm' AND shipment_id = '{id}'"
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_in_either_mode_and_date_format_move_the_shipment_and_repeats_change_nothing() {
    for (mode, key) in [
        ("signature", sandbox_signer()),
        ("encryption", sandbox_encryptor()),
    ] {
        let app = TestApp::spawn_with(&format!("[carrier]\nwebhook_mode = \"{mode}\"\n")).await;
        let s = submitted(&app, 1).await;
        let at = Utc::now() - Span::minutes(3);
        let picked_up = key.envelope(
            &[record(&s.tracking_number, Some(&s.sale_order_code), 6, at)],
            Utc::now(),
            SendDateFormat::Rfc3339,
        );
        assert!(picked_up.send_date.ends_with("+07:00"));
        assert_eq!(
            accepted(send(&app, &picked_up).await).await,
            "applied",
            "{mode}"
        );
        assert_eq!(status_of(&app, &s.id).await, "picked_up", "{mode}");
        let in_transit = key.envelope(
            &[record(&s.tracking_number, None, 7, at + Span::minutes(1))],
            Utc::now(),
            SendDateFormat::Vietnam,
        );
        assert!(
            !in_transit.send_date.contains('T'),
            "{}",
            in_transit.send_date
        );
        assert_eq!(
            accepted(send(&app, &in_transit).await).await,
            "applied",
            "{mode}"
        );
        assert_eq!(status_of(&app, &s.id).await, "in_transit", "{mode}");
        let evs = events(&app, &s.id).await;
        let last = evs.last().unwrap();
        assert_eq!(
            (&last["source"], &last["status"], &last["carrier_code"]),
            (&json!("carrier_push"), &json!("in_transit"), &json!(7))
        );
        // what was received is kept: data and sendDate per push, a row per record
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT count(*) FROM carrier_push_envelopes WHERE mode = '{mode}' \
                     AND send_date_text = {} AND data = {}::jsonb \
                     AND outcomes -> 0 ->> 'outcome' = 'applied'",
                    sql_literal(&picked_up.send_date),
                    sql_literal(&serde_json::to_string(&picked_up.data).unwrap())
                )
            )
            .await,
            1,
            "{mode}"
        );
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT count(*) FROM carrier_pushes WHERE shipment_id = '{}' AND outcome = 'applied' \
                     AND record_index = 0 AND envelope_id IS NOT NULL AND NOT status_at_from_send_date",
                    s.id
                )
            )
            .await,
            2
        );
        // signed items only: no confirmation needed
        assert_eq!(confirms_for(&app, &s.id).await, 0);

        // the same push again, and the same report sent anew in the other format: 200, nothing
        // changes
        let sequence = text(
            &app,
            &format!("SELECT sequence FROM shipments WHERE id = '{}'", s.id),
        )
        .await;
        let again = key.envelope(
            &[record(&s.tracking_number, Some(&s.sale_order_code), 6, at)],
            Utc::now() + Span::seconds(1),
            SendDateFormat::Vietnam,
        );
        for p in [&picked_up, &again] {
            assert_eq!(accepted(send(&app, p).await).await, "duplicate", "{mode}");
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
        assert_eq!(count(&app, "SELECT count(*) FROM carrier_pushes").await, 2);
        assert_eq!(
            count(&app, "SELECT count(*) FROM carrier_push_envelopes").await,
            4
        );

        // an older report arriving late is recorded but does not move the status back
        let late = envelope(
            &key,
            &[record(&s.tracking_number, None, 2, at - Span::minutes(30))],
        );
        assert_eq!(accepted(send(&app, &late).await).await, "applied");
        assert_eq!(status_of(&app, &s.id).await, "in_transit");
        let evs = events(&app, &s.id).await;
        assert_eq!(evs.last().unwrap()["carrier_code"], 2);
        assert_eq!(evs.last().unwrap()["status"], Value::Null);

        // a newer report that leaves the status as it is: applied, and the carrier's latest
        // code and time are the shipment's, with its next poll
        let onward = envelope(
            &key,
            &[record(&s.tracking_number, None, 10, at + Span::minutes(2))],
        );
        assert_eq!(accepted(send(&app, &onward).await).await, "applied");
        assert_eq!(status_of(&app, &s.id).await, "in_transit");
        let row = format!(
            "SELECT carrier_code || ' ' || (carrier_at = (SELECT occurred_at FROM shipment_events e \
                 WHERE e.shipment_id = s.id AND e.carrier_code = 10)) || ' ' || (next_poll_at > now()) \
             FROM shipments s WHERE id = '{}'",
            s.id
        );
        assert_eq!(text(&app, &row).await, "10 true true");
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_without_its_own_time_is_dated_by_send_date_and_confirmed() {
    let app = TestApp::spawn().await;
    let s = submitted(&app, 9).await;
    let key = sandbox_signer();
    let untimed = |code| [PushRecord::new(s.tracking_number.clone(), code)];
    let sent = Utc::now() - Span::seconds(30);
    let first = key.envelope(&untimed(6), sent, SendDateFormat::Rfc3339);
    assert_eq!(accepted(send(&app, &first).await).await, "applied");
    assert_eq!(status_of(&app, &s.id).await, "picked_up");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM shipment_events WHERE shipment_id = '{}' AND carrier_code = 6 \
                 AND occurred_at = '{}'",
                s.id,
                sent.format("%Y-%m-%dT%H:%M:%SZ")
            )
        )
        .await,
        1
    );
    // its time is unsigned and unsure: the carrier's tracking is asked, once
    assert_eq!(confirms_for(&app, &s.id).await, 1);
    // re-sent with a fresh sendDate it would look new: it is a duplicate
    let resent = key.envelope(&untimed(6), Utc::now(), SendDateFormat::Vietnam);
    assert_eq!(accepted(send(&app, &resent).await).await, "duplicate");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM shipment_events WHERE shipment_id = '{}' AND carrier_code = 6",
                s.id
            )
        )
        .await,
        1
    );
    // a late, untimed push would look newest: it does not move the shipment back
    let late = key.envelope(&untimed(2), Utc::now(), SendDateFormat::Rfc3339);
    assert_eq!(accepted(send(&app, &late).await).await, "confirming");
    assert_eq!(status_of(&app, &s.id).await, "picked_up");
    // each as received: applied, then its duplicate, then the late one
    assert_eq!(
        text(
            &app,
            "SELECT string_agg(outcome, ',' ORDER BY id) FROM carrier_pushes \
             WHERE status_at_from_send_date AND record_index = 0"
        )
        .await,
        "applied,duplicate,confirming"
    );
    // one confirming query queued, however many pushes asked for it
    assert_eq!(confirms_for(&app, &s.id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthentic_pushes_are_401_and_change_nothing() {
    let app = TestApp::spawn().await;
    let s = submitted(&app, 2).await;
    let signer = sandbox_signer();
    let now = Utc::now();
    let records = [
        record(
            &s.tracking_number,
            Some(&s.sale_order_code),
            14,
            now - Span::minutes(1),
        ),
        record("EB000000002VN", None, 6, now),
    ];
    let good = envelope(&signer, &records);
    let mut cases: Vec<(&str, Value, &str)> = Vec::new();
    cases.push((
        "signed by an unknown key",
        json!(envelope(&stranger_signer(), &records)),
        "bad_signature",
    ));
    cases.push((
        "encrypted for a gateway in signature mode",
        json!(envelope(&sandbox_encryptor(), &records)),
        "bad_signature",
    ));
    let mut tampered = json!(good);
    tampered["data"][0]["status"] = json!(19);
    cases.push(("status changed after signing", tampered, "bad_signature"));
    let mut tampered = json!(good);
    tampered["data"][0]["itemCode"] = json!("EB000000003VN");
    cases.push(("itemCode changed after signing", tampered, "bad_signature"));
    let mut redated = json!(good);
    redated["sendDate"] = json!(vntime::rfc3339(now + Span::seconds(30)));
    cases.push(("sendDate changed after signing", redated, "bad_signature"));
    // a signature over another status than the record's
    let mut other_status = json!(good);
    let send_date = good.send_date.clone();
    other_status["signature"] = json!(match &signer {
        CarrierPushKey::Signature(k) =>
            k.sign(&authenticated_text(&send_date, &s.tracking_number, "6")),
        CarrierPushKey::Encryption(_) => unreachable!(),
    });
    cases.push((
        "signature over status 6 for a record saying 14",
        other_status,
        "bad_signature",
    ));
    for format in [SendDateFormat::Rfc3339, SendDateFormat::Vietnam] {
        cases.push((
            "sendDate 11 minutes old",
            json!(signer.envelope(&records, now - Span::minutes(11), format)),
            "stale_send_date",
        ));
        cases.push((
            "sendDate 11 minutes ahead",
            json!(signer.envelope(&records, now + Span::minutes(11), format)),
            "stale_send_date",
        ));
    }
    let unreadable = |send_date: &str| {
        let CarrierPushKey::Signature(k) = &signer else {
            unreachable!()
        };
        json!({"data": good.data, "sendDate": send_date,
               "signature": k.sign(&authenticated_text(send_date, &s.tracking_number, "14"))})
    };
    cases.push((
        "sendDate in no accepted format",
        unreadable("2026/11/27 10:00:00"),
        "stale_send_date",
    ));
    cases.push(("sendDate empty", unreadable(""), "stale_send_date"));
    cases.push((
        "sendDate missing",
        json!({"data": good.data, "signature": good.signature}),
        "stale_send_date",
    ));
    cases.push((
        "signature missing",
        json!({"data": good.data, "sendDate": good.send_date}),
        "unsigned",
    ));
    for (what, signature) in [
        ("null", json!(null)),
        ("empty", json!("")),
        ("a number", json!(42)),
    ] {
        cases.push((
            what,
            json!({"data": good.data, "sendDate": good.send_date, "signature": signature}),
            "unsigned",
        ));
    }
    cases.push((
        "signature not base64",
        json!({"data": good.data, "sendDate": good.send_date, "signature": "not base64!"}),
        "bad_signature",
    ));
    for (what, body, code) in cases {
        let answer = refused(send_raw(&app, body.to_string()).await, 401).await;
        assert_eq!(answer["code"], code, "{what}: {answer}");
    }
    nothing_recorded(&app, &s.id).await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM shipment_events WHERE carrier_code IS NOT NULL"
        )
        .await,
        0
    );
    // the genuine push still goes through
    assert_eq!(accepted(send(&app, &good).await).await, "applied");
    assert_eq!(status_of(&app, &s.id).await, "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_pushes_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let s = submitted(&app, 3).await;
    let CarrierPushKey::Signature(signer) = sandbox_signer() else {
        unreachable!()
    };
    let send_date = vntime::rfc3339(Utc::now());
    let good = json!({"itemCode": s.tracking_number, "status": 6});
    let body =
        |data: Value| json!({"data": data, "sendDate": send_date, "signature": "AAAA"}).to_string();
    let mut six = good.clone();
    six["status"] = json!("six");
    let signed_six = json!({"data": [six], "sendDate": send_date,
        "signature": signer.sign(&authenticated_text(&send_date, &s.tracking_number, "six"))})
    .to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", "{\"data\": ".into(), ""),
        ("an array", "[1, 2]".into(), "body"),
        (
            "the old envelope",
            json!({"Data": good.to_string(), "SendDate": send_date, "SignData": "AAAA"})
                .to_string(),
            "data",
        ),
        (
            "data missing",
            json!({"sendDate": send_date, "signature": "AAAA"}).to_string(),
            "data",
        ),
        ("data null", body(json!(null)), "data"),
        ("data a number", body(json!(6)), "data"),
        ("data an object", body(good.clone()), "data"),
        ("data empty", body(json!([])), "data"),
        ("a record that is text", body(json!(["EB1VN"])), "data[0]"),
        (
            "a second record that is a number",
            body(json!([good, 5])),
            "data[1]",
        ),
        (
            "first record without itemCode",
            body(json!([{"status": 6}])),
            "data[0].itemCode",
        ),
        (
            "first record with an empty itemCode",
            body(json!([{"itemCode": " ", "status": 6}])),
            "data[0].itemCode",
        ),
        (
            "first record without status",
            body(json!([{"itemCode": s.tracking_number}])),
            "data[0].status",
        ),
        (
            "first record with a null status",
            body(json!([{"itemCode": s.tracking_number, "status": null}])),
            "data[0].status",
        ),
        (
            "authentic, but a status that is no number",
            signed_six,
            "data[0]",
        ),
    ];
    for (what, body, field) in cases {
        let answer = refused(send_raw(&app, body).await, 400).await;
        if field.is_empty() {
            assert_eq!(answer["code"], "malformed_json", "{what}");
        } else {
            assert_eq!(answer["code"], "malformed_push", "{what}: {answer}");
            assert_eq!(answer["field"], field, "{what}: {answer}");
        }
    }
    nothing_recorded(&app, &s.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_push_is_413() {
    let app = TestApp::spawn_with("[carrier]\nwebhook_body_limit_bytes = 2048\n").await;
    let s = submitted(&app, 4).await;
    let mut r = record(&s.tracking_number, Some(&s.sale_order_code), 6, Utc::now());
    r.status_name = Some("x".repeat(2048));
    let answer = refused(
        send(&app, &envelope(&sandbox_signer(), &[r.clone()])).await,
        413,
    )
    .await;
    assert_eq!(answer["code"], "too_large");
    assert_eq!(
        count(&app, "SELECT count(*) FROM carrier_push_envelopes").await,
        0
    );
    // just under the limit is fine
    r.status_name = Some("x".repeat(1000));
    let fits = envelope(&sandbox_signer(), &[r]);
    assert!(serde_json::to_vec(&fits).unwrap().len() < 2048);
    assert_eq!(accepted(send(&app, &fits).await).await, "applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_are_stripped_not_a_500() {
    let app = TestApp::spawn().await;
    let s = submitted(&app, 10).await;
    let mut first = record(
        &s.tracking_number,
        Some(&s.sale_order_code),
        6,
        Utc::now() - Span::minutes(1),
    );
    first.status_name = Some("Đã\u{0}nhận".into());
    let mut push = envelope(&sandbox_signer(), &[first]);
    // unsigned parts: an extra field, and a second record, with NUL in keys and values
    push.data[0]["ghi\u{0}chu"] = json!("a\u{0}b");
    push.data
        .push(json!({"itemCode": "EB\u{0}404VN", "status": "1\u{0}4"}));
    assert_eq!(accepted(send(&app, &push).await).await, "applied");
    assert_eq!(status_of(&app, &s.id).await, "picked_up");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM carrier_pushes WHERE record_index = 0 AND status_text = 'Đãnhận'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM carrier_push_envelopes WHERE data -> 0 ->> 'ghichu' = 'ab' \
             AND data -> 1 ->> 'itemCode' = 'EB404VN' AND outcomes -> 1 ->> 'outcome' = 'unknown_shipment'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM carrier_pushes WHERE record_index = 1 AND item_code = 'EB404VN' AND status_code = 14").await,
        1
    );
    // an item code that is nothing but NUL: signed, but no item code once stored
    let nul_item = envelope(&sandbox_signer(), &[record("\u{0}", None, 6, Utc::now())]);
    let answer = refused(send(&app, &nul_item).await, 400).await;
    assert_eq!(answer["field"], "data[0].itemCode", "{answer}");
    // and NUL in sendDate is an unreadable sendDate
    let mut nul_date = json!(envelope(
        &sandbox_signer(),
        &[record(&s.tracking_number, None, 7, Utc::now())]
    ));
    nul_date["sendDate"] = json!(format!("{}\u{0}", nul_date["sendDate"].as_str().unwrap()));
    let answer = refused(send_raw(&app, nul_date.to_string()).await, 401).await;
    assert_eq!(answer["code"], "stale_send_date");
    assert_eq!(
        count(&app, "SELECT count(*) FROM carrier_push_envelopes").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_key_rotation_either_key_is_accepted_in_either_mode() {
    let t = Utc::now() - Span::minutes(5);
    let next_public = fixture("tests/fixtures/carrier-push-next-public.pem");
    let next_private = fixture("tests/fixtures/carrier-push-next-private.pem");
    let cases = [
        (
            format!(
                "[carrier]\nwebhook_public_key_pem = \"file:{}\"\nwebhook_public_key_pem_next = \"file:{next_public}\"\n",
                fixture("config/sandbox/carrier-push-public.pem"),
            ),
            format!("[carrier]\nwebhook_public_key_pem = \"file:{next_public}\"\n"),
            [sandbox_signer(), next_signer(), stranger_signer()],
        ),
        (
            format!(
                "[carrier]\nwebhook_mode = \"encryption\"\nwebhook_private_key_pem = \"file:{}\"\nwebhook_private_key_pem_next = \"file:{next_private}\"\n",
                fixture("config/sandbox/gateway-webhook-private.pem"),
            ),
            format!(
                "[carrier]\nwebhook_mode = \"encryption\"\nwebhook_private_key_pem = \"file:{next_private}\"\n"
            ),
            [
                sandbox_encryptor(),
                next_encryptor(),
                CarrierPushKey::Encryption(
                    PushEncryptor::from_pem(&read("tests/fixtures/client-rs256-public.pem"))
                        .unwrap(),
                ),
            ],
        ),
    ];
    for (n, (rotation, after, [current, next, stranger])) in cases.into_iter().enumerate() {
        let app = TestApp::spawn_with(&rotation).await;
        let s = submitted(&app, 5).await;
        for (i, (key, code, expected)) in
            [(&current, 6, 200), (&next, 7, 200), (&stranger, 12, 401)]
                .into_iter()
                .enumerate()
        {
            let r = record(&s.tracking_number, None, code, t + Span::seconds(i as i64));
            let resp = send(&app, &envelope(key, &[r])).await;
            assert_eq!(resp.status(), expected, "case {n}, code {code}");
        }
        assert_eq!(status_of(&app, &s.id).await, "in_transit");
        app.stop().await;

        // after the rotation only the new key is trusted, even on the sandbox
        let app = TestApp::spawn_with(&after).await;
        let s = submitted(&app, 6).await;
        let r = [record(&s.tracking_number, None, 6, t)];
        assert_eq!(
            send(&app, &envelope(&current, &r)).await.status(),
            401,
            "case {n}"
        );
        assert_eq!(
            accepted(send(&app, &envelope(&next, &r)).await).await,
            "applied"
        );
        assert_eq!(status_of(&app, &s.id).await, "picked_up");
        app.stop().await;
    }
}

#[test]
fn the_webhook_keys_are_checked_at_start_up() {
    use bcci_gateway::carrier::push::PushKeys;
    let err = |overlay: &str| Config::from_overlay(overlay).unwrap_err().to_string();
    let public = fixture("tests/fixtures/carrier-push-next-public.pem");
    let private = fixture("tests/fixtures/carrier-push-next-private.pem");
    // vnpost needs the key of the mode in use
    let e = err("[carrier]\nkind = \"vnpost\"\n");
    assert!(e.contains("carrier.webhook_public_key_pem"), "{e}");
    let e = err(&format!(
        "[carrier]\nkind = \"vnpost\"\nwebhook_mode = \"encryption\"\nwebhook_public_key_pem = \"file:{public}\"\n"
    ));
    assert!(e.contains("carrier.webhook_private_key_pem"), "{e}");
    let c = Config::from_overlay(&format!(
        "[carrier]\nkind = \"vnpost\"\nwebhook_public_key_pem = \"file:{public}\"\n"
    ))
    .unwrap();
    assert!(
        matches!(PushKeys::from_config(&c.carrier).unwrap(), PushKeys::Signature(k) if k.len() == 1)
    );
    let c = Config::from_overlay(&format!(
        "[carrier]\nkind = \"vnpost\"\nwebhook_mode = \"encryption\"\nwebhook_private_key_pem = \"file:{private}\"\n"
    ))
    .unwrap();
    assert!(
        matches!(PushKeys::from_config(&c.carrier).unwrap(), PushKeys::Encryption(k) if k.len() == 1)
    );
    // a next key without the current one
    let e = err(&format!(
        "[carrier]\nwebhook_public_key_pem_next = \"file:{public}\"\n"
    ));
    assert!(e.contains("carrier.webhook_public_key_pem_next"), "{e}");
    let e = err(&format!(
        "[carrier]\nwebhook_mode = \"encryption\"\nwebhook_private_key_pem_next = \"file:{private}\"\n"
    ));
    assert!(e.contains("carrier.webhook_private_key_pem_next"), "{e}");
    // keys that are not keys, named, whatever the mode
    let e = err("[carrier]\nwebhook_public_key_pem = \"not a key\"\n");
    assert!(e.contains("webhook_public_key_pem"), "{e}");
    let e = err(&format!(
        "[carrier]\nwebhook_public_key_pem = \"file:{private}\"\n"
    ));
    assert!(e.contains("webhook_public_key_pem"), "{e}");
    let e = err("[carrier]\nwebhook_private_key_pem = \"not a key\"\n");
    assert!(e.contains("carrier.webhook_private_key_pem"), "{e}");
    let e = err(&format!(
        "[carrier]\nwebhook_mode = \"encryption\"\nwebhook_private_key_pem = \"file:{public}\"\n"
    ));
    assert!(e.contains("carrier.webhook_private_key_pem"), "{e}");
    let e = err("[carrier]\nwebhook_mode = \"sealed\"\n");
    assert!(e.contains("webhook_mode"), "{e}");
    // the sandbox trusts its own development key of the mode when none is configured
    let c = Config::from_overlay("").unwrap();
    assert!(
        matches!(PushKeys::from_config(&c.carrier).unwrap(), PushKeys::Signature(k) if k.len() == 1)
    );
    let c = Config::from_overlay("[carrier]\nwebhook_mode = \"encryption\"\n").unwrap();
    assert!(
        matches!(PushKeys::from_config(&c.carrier).unwrap(), PushKeys::Encryption(k) if k.len() == 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_for_unknown_shipments_are_kept_for_staff_and_schedule_nothing() {
    let app = TestApp::spawn().await;
    let known = submitted(&app, 7).await;
    let records = [
        record("EB999999999VN", Some("SOMEONE-ELSE-1"), 6, Utc::now()),
        record("EB999999998VN", None, 14, Utc::now()),
    ];
    let push = envelope(&sandbox_signer(), &records);
    assert_eq!(accepted(send(&app, &push).await).await, "unknown_shipment");
    for (index, item) in [(0, "EB999999999VN"), (1, "EB999999998VN")] {
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT count(*) FROM carrier_pushes WHERE outcome = 'unknown_shipment' \
                     AND shipment_id IS NULL AND item_code = '{item}' AND record_index = {index}"
                )
            )
            .await,
            1
        );
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM jobs WHERE kind = 'carrier_confirm'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM shipment_events WHERE carrier_code IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(status_of(&app, &known.id).await, "submitted");
    // repeated, the authenticated record is still kept once
    assert_eq!(
        accepted(send(&app, &envelope(&sandbox_signer(), &records[..1])).await).await,
        "duplicate"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM carrier_pushes WHERE record_index = 0"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_code_is_flagged_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let s = submitted(&app, 8).await;
    let r = record(&s.tracking_number, None, 27, Utc::now() - Span::minutes(1));
    assert_eq!(
        accepted(send(&app, &envelope(&sandbox_signer(), &[r])).await).await,
        "unknown_code"
    );
    assert_eq!(status_of(&app, &s.id).await, "submitted");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM shipment_events WHERE shipment_id = '{}' AND carrier_code = 27 \
                 AND unknown_code AND NOT applied AND source = 'carrier_push'",
                s.id
            )
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM carrier_pushes WHERE outcome = 'unknown_code' AND shipment_id = '{}'",
                s.id
            )
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_in_the_first_record_and_other_records_only_queue_confirmations() {
    let app = TestApp::spawn().await;
    let a = submitted(&app, 11).await;
    let b = submitted(&app, 12).await;
    let at = Utc::now() - Span::minutes(2);
    // the first record carries a fee (unsigned), the second and third claim things about b
    let mut first = record(&a.tracking_number, Some(&a.sale_order_code), 6, at);
    first.total_fee = Some(1);
    let records = [
        first,
        record(&b.tracking_number, None, 14, at),
        record(&b.tracking_number, None, 19, at + Span::minutes(1)),
    ];
    let push = envelope(&sandbox_signer(), &records);
    assert_eq!(accepted(send(&app, &push).await).await, "applied");
    assert_eq!(status_of(&app, &a.id).await, "picked_up");
    assert_eq!(status_of(&app, &b.id).await, "submitted");
    assert_eq!(
        count(&app, &format!("SELECT count(*) FROM shipment_events WHERE shipment_id = '{}' AND carrier_code IS NOT NULL", b.id)).await,
        0
    );
    // one confirmation each, queued in the same transaction
    assert_eq!(confirms_for(&app, &a.id).await, 1);
    assert_eq!(confirms_for(&app, &b.id).await, 1);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM carrier_pushes WHERE shipment_id = '{}' AND outcome = 'confirming' AND record_index IN (1, 2)",
                b.id
            )
        )
        .await,
        2
    );
    let outcomes = text(&app, "SELECT outcomes FROM carrier_push_envelopes").await;
    let outcomes: Value = serde_json::from_str(&outcomes).unwrap();
    assert_eq!(outcomes[0]["confirm"], "queued", "{outcomes}");
    assert_eq!(outcomes[1]["confirm"], "queued", "{outcomes}");
    assert_eq!(outcomes[2]["confirm"], "already_queued", "{outcomes}");
    // again: no second confirmation while one waits
    let again = envelope(
        &sandbox_signer(),
        &[record(&b.tracking_number, None, 1, at), records[1].clone()],
    );
    assert_eq!(accepted(send(&app, &again).await).await, "applied");
    assert_eq!(confirms_for(&app, &b.id).await, 1);
    // amounts the shipment already holds from the carrier need no confirmation; others do
    let c = submitted(&app, 13).await;
    let mut conn = app.db.conn().await;
    diesel::sql_query(format!(
        "UPDATE shipments SET carrier_fee_vnd = 16500, carrier_cod_vnd = 0 WHERE id = '{}'",
        c.id
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let with_fees = |code, fee| PushRecord {
        total_fee: Some(fee),
        cod_amount: Some(0),
        ..record(
            &c.tracking_number,
            None,
            code,
            at + Span::seconds(code as i64),
        )
    };
    let same = envelope(&sandbox_signer(), &[with_fees(6, 16500)]);
    assert_eq!(accepted(send(&app, &same).await).await, "applied");
    assert_eq!(confirms_for(&app, &c.id).await, 0);
    let other = envelope(&sandbox_signer(), &[with_fees(7, 17000)]);
    assert_eq!(accepted(send(&app, &other).await).await, "applied");
    assert_eq!(confirms_for(&app, &c.id).await, 1);
    // before the carrier has reported a COD amount (the CreateOrder answer does not), the one
    // the order asked for is held: a pickup asks none, so 0 is nothing new, 5,000 is
    let d = submitted(&app, 14).await;
    let cod = |code, amount| PushRecord {
        cod_amount: Some(amount),
        ..record(
            &d.tracking_number,
            None,
            code,
            at + Span::seconds(code as i64),
        )
    };
    let asked = envelope(&sandbox_signer(), &[cod(6, 0)]);
    assert_eq!(accepted(send(&app, &asked).await).await, "applied");
    assert_eq!(confirms_for(&app, &d.id).await, 0);
    let unasked = envelope(&sandbox_signer(), &[cod(7, 5000)]);
    assert_eq!(accepted(send(&app, &unasked).await).await, "applied");
    assert_eq!(confirms_for(&app, &d.id).await, 1);
    // a saleOrderCode (unsigned) never steers a signed status to another shipment
    let steer = envelope(
        &sandbox_signer(),
        &[record("EB000000404VN", Some(&b.sale_order_code), 14, at)],
    );
    assert_eq!(accepted(send(&app, &steer).await).await, "unknown_shipment");
    assert_eq!(status_of(&app, &b.id).await, "submitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_second_record_changes_nothing_the_carriers_tracking_does_not_confirm() {
    // jobs and tracking on, pushes from the sandbox dropped: only the forged push speaks
    let app = TestApp::spawn_with(&push_loop(true, "push_drop_rate = 1.0")).await;
    let a = app.create_pickup(40).await;
    let b = app.create_pickup(41).await;
    wait_for(&app, &a, "submitted", Duration::from_secs(10)).await;
    wait_for(&app, &b, "submitted", Duration::from_secs(10)).await;
    let tracking = |id: String| {
        let app = &app;
        async move {
            text(
                app,
                &format!("SELECT tracking_number FROM shipments WHERE id = '{id}'"),
            )
            .await
        }
    };
    let (a_item, b_item) = (tracking(a.clone()).await, tracking(b.clone()).await);
    // validly signed: the first record is a's true state; the second claims b is delivered
    let push = envelope(
        &sandbox_signer(),
        &[
            record(&a_item, None, 1, Utc::now() - Span::seconds(5)),
            record(&b_item, None, 14, Utc::now()),
        ],
    );
    assert_eq!(accepted(send(&app, &push).await).await, "applied");
    // the confirmation runs: the carrier's tracking says b is only created
    let until = Instant::now() + Duration::from_secs(10);
    while count(&app, &format!("SELECT count(*) FROM jobs WHERE kind = 'carrier_confirm' AND shipment_id = '{b}' AND state = 'done'")).await == 0 {
        assert!(Instant::now() < until, "the confirmation did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status_of(&app, &b).await, "submitted");
    assert_eq!(
        count(&app, &format!("SELECT count(*) FROM shipment_events WHERE shipment_id = '{b}' AND carrier_code = 14")).await,
        0
    );
    assert!(
        count(&app, &format!("SELECT count(*) FROM shipment_events WHERE shipment_id = '{b}' AND source = 'carrier_poll'")).await
            >= 1
    );
    // until the carrier itself says so
    walk_to_delivered(&app, &b).await;
    let evs = events(&app, &b).await;
    let delivered = evs.iter().find(|e| e["status"] == "delivered").unwrap();
    assert_eq!(delivered["source"], "carrier_poll");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confirming_job_asks_the_carrier_and_applies_its_answer() {
    // jobs on, no polling round, no pushes from the sandbox
    let app = TestApp::spawn_with(&push_loop(false, "push_drop_rate = 1.0")).await;
    let id = app.submitted_pickup(42).await;
    let item = text(
        &app,
        &format!("SELECT tracking_number FROM shipments WHERE id = '{id}'"),
    )
    .await;
    // the carrier moves on (1 → 2 → 4 → 6) and the gateway hears nothing
    for _ in 0..3 {
        app.sandbox().advance();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status_of(&app, &id).await, "submitted");
    // a push about another item, with a hint about this one
    let push = envelope(
        &sandbox_signer(),
        &[
            record("EB000000777VN", None, 6, Utc::now()),
            PushRecord::new(item.clone(), 6),
        ],
    );
    assert_eq!(accepted(send(&app, &push).await).await, "unknown_shipment");
    let s = wait_for(&app, &id, "picked_up", Duration::from_secs(10)).await;
    assert_eq!(s["carrier_status"]["code"], 6, "{s}");
    let evs = events(&app, &id).await;
    assert_eq!(
        carrier_sources(&evs),
        HashSet::from(["carrier_poll".to_owned()])
    );
    let codes: Vec<i64> = evs
        .iter()
        .filter_map(|e| e["carrier_code"].as_i64())
        .collect();
    assert_eq!(codes, [1, 2, 4, 6]);
    // one job, done, its attempt recorded
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM jobs j JOIN job_attempts a ON a.job_id = j.id \
                 WHERE j.kind = 'carrier_confirm' AND j.shipment_id = '{id}' AND j.state = 'done' AND a.outcome = 'ok'"
            )
        )
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
            // half of them with our reference too
            let sale = rng.random_bool(0.5).then_some(s.sale_order_code.as_str());
            envelope(&signer, &[record(&s.tracking_number, sale, code, at)])
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
    // every push is logged as received; records with their own time need no confirmation
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM carrier_push_envelopes")
            .await,
        1000
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM jobs WHERE kind = 'carrier_confirm'")
            .await,
        0
    );
}

/// The carrier loop's configuration ([`LOOP`]: jobs on, the sandbox moving only when told) with
/// tracking on or off, and `sandbox` for the sandbox's pushes instead of dropping them all.
fn push_loop(tracking: bool, sandbox: &str) -> String {
    let (tracked, dropped) = ("[tracking]\nenabled = true\n", "push_drop_rate = 1.0\n");
    assert!(
        LOOP.contains(tracked) && LOOP.contains(dropped),
        "LOOP changed"
    );
    LOOP.replace(tracked, &format!("[tracking]\nenabled = {tracking}\n"))
        .replace(dropped, &format!("{sandbox}\n"))
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
    let id = app.submitted_pickup(20).await;
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
    let id = app.submitted_pickup(21).await;
    walk_to_delivered(&app, &id).await;
    // the last report may still be held back by the reordering: wait for all nine
    let until = Instant::now() + Duration::from_secs(10);
    while app
        .db
        .count("SELECT count(*) FROM carrier_pushes WHERE record_index = 0")
        .await
        < 9
    {
        assert!(Instant::now() < until, "not all pushes arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let evs = events(&app, &id).await;
    // the creation's push may overtake the CreateOrder answer: it is then applied when the
    // answer is recorded (still a carrier_push event), or, failing that, confirmed by a
    // tracking query (carrier_poll)
    let sources = carrier_sources(&evs);
    assert!(sources.contains("carrier_push"), "{sources:?}");
    assert!(
        sources.is_subset(&HashSet::from([
            "carrier_push".to_owned(),
            "carrier_poll".to_owned()
        ])),
        "{sources:?}"
    );
    let statuses: Vec<&str> = evs.iter().filter_map(|e| e["status"].as_str()).collect();
    for s in ["picked_up", "in_transit", "out_for_delivery", "delivered"] {
        assert!(statuses.contains(&s), "{s} missing from {statuses:?}");
    }
    // codes 1, 2, 4, 6, 7, 10, 11, 12, 14: one authenticated row each however often they were
    // pushed ('duplicate' when a confirming query had read it first); the sandbox may add
    // later changes to a push as further records (hints)
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM carrier_pushes WHERE record_index = 0")
            .await,
        9
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM carrier_pushes WHERE outcome NOT IN ('applied', 'duplicate', 'confirming') OR shipment_id IS NULL")
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
    let doc: Value = send_json(app.http.get(app.url("/openapi.json"))).await;
    let op = &doc["paths"][PATH]["post"];
    for status in ["200", "400", "401", "413"] {
        assert!(op["responses"][status].is_object(), "{status}: {op}");
    }
    let schemas = &doc["components"]["schemas"];
    let body = &schemas["PushBody"]["properties"];
    for field in ["data", "sendDate", "signature"] {
        assert!(body[field].is_object(), "{field}: {body}");
    }
    for old in ["Data", "SendDate", "SignData"] {
        assert!(body[old].is_null(), "{old}: {body}");
    }
    assert!(
        schemas["PushRecordDoc"]["properties"]["itemCode"].is_object(),
        "{schemas}"
    );
    let answer = &schemas["PushAnswer"]["properties"];
    assert!(
        answer["success"].is_object() && answer["message"].is_object(),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_before_the_order_answer_waits_for_it_then_for_tracking() {
    let app = TestApp::spawn().await;
    // requested, no tracking number yet: the CreateOrder answer has not been processed
    let id = app
        .create_ok("pickups", "early", &pickup_body(&dossier(30)))
        .await;
    let sale_order_code = text(
        &app,
        &format!("SELECT sale_order_code FROM shipments WHERE id = '{id}'"),
    )
    .await;
    // the item code is signed, but unknown; only the (unsigned) reference names the shipment:
    // nothing is applied, the carrier's tracking is asked
    let r = record("EB777777777VN", Some(&sale_order_code), 1, Utc::now());
    let push = envelope(&sandbox_signer(), &[r]);
    assert_eq!(accepted(send(&app, &push).await).await, "confirming");
    assert_eq!(status_of(&app, &id).await, "requested");
    assert_eq!(
        text(
            &app,
            &format!("SELECT coalesce(tracking_number, '-') FROM shipments WHERE id = '{id}'")
        )
        .await,
        "-"
    );
    assert_eq!(confirms_for(&app, &id).await, 1);
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM carrier_pushes WHERE outcome = 'confirming' AND shipment_id = '{id}'")
        )
        .await,
        1
    );
}

/// The CreateOrder answer for shipment `id`, recorded as the submission job records it
/// (`jobs::submit::apply`, on the shipment locked, in one transaction).
async fn answer_create_order(app: &TestApp, id: &str, item_code: &str) {
    use bcci_gateway::jobs::submit::{self, Answer};
    use bcci_gateway::ledger::shipments::{Visibility, find_for_update};
    use diesel_async::AsyncConnection;
    let mut conn = app.db.conn().await;
    let id = uuid::Uuid::parse_str(id).unwrap();
    let codes = app.config.carrier.status_codes.clone();
    let answer = Answer::Submitted {
        item_code: item_code.to_owned(),
        original_id: format!("orig-{item_code}"),
        adopted: false,
        total_fee: None,
        cod_amount: None,
    };
    conn.transaction::<_, anyhow::Error, _>(async move |c| {
        let mut s = find_for_update(c, id, &Visibility::default())
            .await?
            .expect("the shipment exists");
        submit::apply(c, &codes, &mut s, &answer, Span::minutes(10), None).await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_overtook_the_order_answer_is_applied_when_the_answer_comes() {
    let app = TestApp::spawn().await;
    let CodeMeaning::Status(picked_up) = meaning(6) else {
        panic!("6 is a status")
    };
    let (a, b, c) = (
        app.create_ok("pickups", "ov-a", &pickup_body(&dossier(31)))
            .await,
        app.create_ok("pickups", "ov-b", &pickup_body(&dossier(32)))
            .await,
        app.create_ok("pickups", "ov-c", &pickup_body(&dossier(33)))
            .await,
    );
    let reference = async |id: &str| {
        text(
            &app,
            &format!("SELECT sale_order_code FROM shipments WHERE id = '{id}'"),
        )
        .await
    };
    // a: an authenticated report with its own time; b: one without (dated by sendDate, which
    // the carrier's tracking must confirm); c: an item code the answer will not give
    let pushes = [
        record("EB310000001VN", Some(&reference(&a).await), 6, Utc::now()),
        PushRecord {
            sale_order_code: Some(reference(&b).await),
            ..PushRecord::new("EB320000002VN", 6)
        },
        record("EB330000003VN", Some(&reference(&c).await), 6, Utc::now()),
    ];
    for r in pushes {
        let push = envelope(&sandbox_signer(), &[r]);
        assert_eq!(accepted(send(&app, &push).await).await, "confirming");
    }
    // each confirming query waits a minute for the answer instead of asking at once
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM jobs WHERE kind = 'carrier_confirm' AND run_at > now() + interval '50 seconds'"
        )
        .await,
        3
    );
    for id in [&a, &b, &c] {
        assert_eq!(status_of(&app, id).await, "requested");
    }

    answer_create_order(&app, &a, "EB310000001VN").await;
    answer_create_order(&app, &b, "EB320000002VN").await;
    answer_create_order(&app, &c, "EB330000999VN").await;

    // a: applied from the ledger, as a push, and nothing left to ask the carrier
    assert_eq!(status_of(&app, &a).await, picked_up.as_str());
    assert_eq!(
        carrier_sources(&events(&app, &a).await),
        HashSet::from(["carrier_push".to_owned()])
    );
    let outcome_of = |id: &str| {
        format!("SELECT string_agg(outcome, ',') FROM carrier_pushes WHERE shipment_id = '{id}'")
    };
    assert_eq!(text(&app, &outcome_of(&a)).await, "applied");
    assert_eq!(confirms_for(&app, &a).await, 0);
    // b: applied too (the status follows the signed code), but its time needs the carrier's
    // tracking: the query stays
    assert_eq!(status_of(&app, &b).await, picked_up.as_str());
    assert_eq!(text(&app, &outcome_of(&b)).await, "applied");
    assert_eq!(confirms_for(&app, &b).await, 1);
    // c: the push named another order; it is left to the query
    assert_eq!(status_of(&app, &c).await, "submitted");
    assert_eq!(text(&app, &outcome_of(&c)).await, "confirming");
    assert_eq!(confirms_for(&app, &c).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_confirmation_is_an_attempt_kept_for_staff_and_retried() {
    let app = TestApp::spawn_with(&push_loop(false, "push_drop_rate = 1.0")).await;
    let id = app.submitted_pickup(43).await;
    let item = text(
        &app,
        &format!("SELECT tracking_number FROM shipments WHERE id = '{id}'"),
    )
    .await;
    // the carrier fails every call for a while
    app.carrier_down(true);
    let push = envelope(
        &sandbox_signer(),
        &[
            record("EB000000778VN", None, 6, Utc::now()),
            PushRecord::new(item, 6),
        ],
    );
    assert_eq!(accepted(send(&app, &push).await).await, "unknown_shipment");
    let failed = format!(
        "SELECT count(*) FROM jobs j JOIN job_attempts a ON a.job_id = j.id \
         WHERE j.kind = 'carrier_confirm' AND j.shipment_id = '{id}' AND a.outcome = 'transient' \
         AND a.error_class = 'server' AND a.excerpt IS NOT NULL"
    );
    let until = Instant::now() + Duration::from_secs(10);
    while count(&app, &failed).await < 2 {
        assert!(Instant::now() < until, "no failed, retried attempts");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count(&app, &format!("SELECT count(*) FROM jobs WHERE kind = 'carrier_confirm' AND shipment_id = '{id}' AND state IN ('queued', 'running') AND last_error LIKE '%server%'")).await,
        1
    );
    // the carrier recovers: the next attempt reads its tracking
    app.carrier_down(false);
    let done = format!(
        "SELECT count(*) FROM jobs WHERE kind = 'carrier_confirm' AND shipment_id = '{id}' AND state = 'done'"
    );
    let until = Instant::now() + Duration::from_secs(10);
    while count(&app, &done).await == 0 {
        assert!(Instant::now() < until, "the confirmation did not succeed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        carrier_sources(&events(&app, &id).await),
        HashSet::from(["carrier_poll".to_owned()])
    );
}

/// A batch of carrier reports that moves the shipment twice writes its row once: every status
/// change rewrites each index of `shipments`, so the status, the carrier's latest report and the
/// tracking columns go into one row version. Each change still has its event and its callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_that_move_the_shipment_write_its_row_once_with_an_event_and_callback_each() {
    use bcci_gateway::domain::Source;
    use bcci_gateway::ledger::carrier_reports::{CarrierReport, apply_in_transaction};
    use diesel::sql_types::BigInt;
    use diesel_async::AsyncConnection;

    #[derive(diesel::QueryableByName)]
    struct Counts {
        #[diesel(sql_type = BigInt)]
        row_versions: i64,
        #[diesel(sql_type = BigInt)]
        callbacks: i64,
    }

    let app = TestApp::spawn().await;
    let s = submitted(&app, 1).await;
    let id: uuid::Uuid = s.id.parse().unwrap();
    let at = Utc::now() - Span::minutes(3);
    let report = |code: i32, text: &str, at: DateTime<Utc>| CarrierReport {
        code,
        text: text.into(),
        at,
        note: None,
    };
    let reports = [
        report(6, "Đã nhận hàng", at),
        report(7, "Đang vận chuyển", at + Span::minutes(1)),
    ];
    let mut conn = app.db.conn().await;
    let (applied, counts) = conn
        .transaction::<_, diesel::result::Error, _>(async |c| {
            let (applied, _) = apply_in_transaction(
                c,
                &Default::default(),
                id,
                &reports,
                Source::CarrierPush,
                Some(&s.tracking_number),
                Span::minutes(30),
            )
            .await?;
            // This transaction's own writes, before it commits.
            let counts: Counts = diesel::sql_query(
                "SELECT pg_stat_get_xact_tuples_updated('shipments'::regclass) AS row_versions, \
                        (SELECT count(*) FROM callbacks WHERE shipment_id = $1 \
                         AND xmin::text = (txid_current() % 4294967296)::text) AS callbacks",
            )
            .bind::<diesel::sql_types::Uuid, _>(id)
            .get_result(c)
            .await?;
            Ok((applied, counts))
        })
        .await
        .unwrap();
    assert_eq!((applied.new, applied.changed), (2, 2));
    assert_eq!(counts.row_versions, 1, "one UPDATE of the shipment");
    assert_eq!(counts.callbacks, 2, "a callback for each change");
    assert_eq!(status_of(&app, &s.id).await, "in_transit");
    assert_eq!(
        text(
            &app,
            &format!(
                "SELECT concat_ws(' ', carrier_code, picked_up_at IS NOT NULL, \
                 last_report_at IS NOT NULL, next_poll_at > now()) FROM shipments WHERE id = '{}'",
                s.id
            )
        )
        .await,
        "7 t t t"
    );
    let evs = events(&app, &s.id).await;
    let statuses: Vec<&Value> = evs.iter().rev().take(2).map(|e| &e["status"]).collect();
    assert_eq!(statuses, [&json!("in_transit"), &json!("picked_up")]);
}

/// A report is stored once per shipment, code and carrier time, the time compared as PostgreSQL
/// keeps it (microseconds; `carrier_reports` compares in memory what it read with the row
/// lock): a report repeated within one batch, or in a later batch with a time that differs
/// only below the microsecond, is one event; another microsecond or another code is another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_stored_once_however_it_is_repeated_and_to_the_microsecond() {
    use bcci_gateway::domain::Source;
    use bcci_gateway::ledger::carrier_reports::{self, CarrierReport};
    let app = TestApp::spawn().await;
    let id = app.create_pickup(1).await;
    let shipment: uuid::Uuid = id.parse().unwrap();
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap() + Span::nanoseconds(123_456_789);
    let report = |code: i32, at: DateTime<Utc>| CarrierReport {
        code,
        text: format!("mã {code}"),
        at,
        note: None,
    };
    let mut conn = app.db.conn().await;
    let codes = app.config.carrier.status_codes.clone();
    let mut apply = async |reports: Vec<CarrierReport>| {
        carrier_reports::apply(
            &mut conn,
            &codes,
            shipment,
            &reports,
            Source::CarrierPoll,
            Some("EB000000901VN"),
            Span::minutes(10),
        )
        .await
        .unwrap()
        .new
    };
    assert_eq!(apply(vec![report(6, at), report(6, at)]).await, 1);
    assert_eq!(apply(vec![report(6, at + Span::nanoseconds(100))]).await, 0);
    assert_eq!(
        apply(vec![
            report(6, at),
            report(6, at + Span::microseconds(1)),
            report(10, at)
        ])
        .await,
        2
    );
    let stored = app
        .db
        .count(&format!(
            "SELECT count(*) FROM shipment_events WHERE shipment_id = '{id}' AND carrier_code IS NOT NULL"
        ))
        .await;
    assert_eq!(stored, 3);
}
