//! Callbacks to the dossier system (SPEC §7), checked by a receiver that verifies every
//! message with an independent implementation of Standard Webhooks (the `standardwebhooks`
//! crate); lateness and staff actions (SPEC §3, §4).

use crate::carrier_loop::LOOP;
use crate::support::*;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_dGVzdC1jYWxsYmFjay1zZWNyZXQtb25lLTAxMjM0NTY3";
const NEXT_SECRET: &str = "whsec_bmV4dC1jYWxsYmFjay1zZWNyZXQtcm90YXRpb24tMDk=";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Ok,
    Down,
    Gone,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub body: Value,
    /// Verified by every secret the receiver knows.
    pub verified: bool,
    pub answered: u16,
}

/// A dossier system's callback endpoint.
pub struct Receiver {
    pub url: String,
    pub mode: Arc<Mutex<Mode>>,
    pub log: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start(secrets: &[&str]) -> Receiver {
        let mode = Arc::new(Mutex::new(Mode::Ok));
        let log = Arc::new(Mutex::new(Vec::new()));
        let verifiers: Arc<Vec<standardwebhooks::Webhook>> = Arc::new(
            secrets
                .iter()
                .map(|s| standardwebhooks::Webhook::new(s).unwrap())
                .collect(),
        );
        let (m, l, v) = (mode.clone(), log.clone(), verifiers.clone());
        let (base, handle) = stand_in(move |routes| {
            let (m, l, v) = (m.clone(), l.clone(), v.clone());
            routes.route(
                "/callbacks",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let (m, l, v) = (m.clone(), l.clone(), v.clone());
                    async move {
                        let mut headers = http::HeaderMap::new();
                        for (k, val) in req.headers() {
                            headers.insert(
                                http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                                http::HeaderValue::from_bytes(val.as_bytes()).unwrap(),
                            );
                        }
                        let verified = v.iter().all(|w| w.verify(&body, &headers).is_ok());
                        let answer = match *m.lock().unwrap() {
                            Mode::Ok => 204,
                            Mode::Down => 503,
                            Mode::Gone => 410,
                        };
                        l.lock().unwrap().push(Received {
                            id: req
                                .headers()
                                .get("webhook-id")
                                .unwrap()
                                .to_str()
                                .unwrap()
                                .to_owned(),
                            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                            verified,
                            answered: answer,
                        });
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(answer).unwrap())
                            .finish()
                    }
                }),
            );
        });
        Receiver {
            url: format!("{base}/callbacks"),
            mode,
            log,
            handle,
        }
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn delivered(&self) -> Vec<Received> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.answered < 300)
            .cloned()
            .collect()
    }

    pub fn all(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    pub async fn wait_until(&self, what: &str, within: Duration, f: impl Fn(&[Received]) -> bool) {
        let until = Instant::now() + within;
        while !f(&self.all()) {
            assert!(
                Instant::now() < until,
                "receiver: {what} did not happen; got {:#?}",
                self.all()
                    .iter()
                    .map(|r| (
                        &r.id,
                        &r.body["type"],
                        &r.body["data"]["status"],
                        r.answered
                    ))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The carrier loop with fast callbacks to `url`, signed with `secrets`.
pub fn overlay(url: &str, next_secret: Option<&str>, extra: &str) -> String {
    let next = next_secret
        .map(|s| format!("callback_secret_next = \"{s}\""))
        .unwrap_or_default();
    format!(
        r#"{LOOP}
[callbacks]
timeout = "1s"
retry_min = "50ms"
retry_max = "300ms"
{extra}
[[clients]]
id = "motcua-tq"
callback_url = "{url}"
callback_secret = "{SECRET}"
{next}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_change_is_called_back_signed_and_in_sequence() {
    let rx = Receiver::start(&[SECRET]).await;
    let app = TestApp::spawn_with(&overlay(&rx.url, None, "")).await;
    let id = app.submitted_pickup(1).await;
    // one carrier step at a time, each seen by the ledger before the next
    for status in ["picked_up", "in_transit", "out_for_delivery", "delivered"] {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            app.sandbox().advance();
            let s = json(
                app.get(&format!("/v1/shipments/{id}"), &app.client_token())
                    .await,
            )
            .await;
            if s["status"] == status {
                break;
            }
            assert!(Instant::now() < until, "never {status}");
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    }
    rx.wait_until("the delivered callback", Duration::from_secs(10), |all| {
        all.iter().any(|r| r.body["data"]["status"] == "delivered")
    })
    .await;
    let got = rx.delivered();
    assert!(
        got.iter().all(|r| r.verified),
        "a callback failed verification"
    );
    // exactly one callback per status change recorded in the ledger, same sequence and status
    let events = json(
        app.get(&format!("/v1/shipments/{id}/events"), &app.client_token())
            .await,
    )
    .await;
    // an event shows the status after it; a change is where that differs from the one before
    let mut changes: Vec<String> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["status"].as_str())
        .map(str::to_owned)
        .collect();
    changes.dedup();
    changes.remove(0); // requested: the creation, answered synchronously
    let mut called: Vec<(i64, String)> = got
        .iter()
        .map(|r| {
            (
                r.body["data"]["sequence"].as_i64().unwrap(),
                r.body["data"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    called.sort();
    called.dedup();
    let expected: Vec<(i64, String)> = changes
        .iter()
        .enumerate()
        .map(|(i, s)| (i as i64 + 2, s.clone()))
        .collect();
    assert_eq!(called, expected);
    assert_eq!(changes.first().map(String::as_str), Some("submitted"));
    assert_eq!(changes.last().map(String::as_str), Some("delivered"));
    assert!(changes.len() >= 5, "{changes:?}");
    let last = got
        .iter()
        .find(|r| r.body["data"]["status"] == "delivered")
        .unwrap();
    assert_eq!(last.body["type"], "shipment.status_changed");
    assert_eq!(last.body["data"]["previous_status"], "out_for_delivery");
    assert_eq!(last.body["data"]["shipment_id"], id.as_str());
    assert_eq!(last.body["data"]["dossier_code"], dossier(1));
    assert_eq!(last.body["data"]["kind"], "pickup");
    assert!(last.body["data"]["tracking_number"].is_string());
    assert!(last.id.starts_with("msg_"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_signs_with_both_secrets() {
    // the receiver accepts only messages that verify with the old secret AND the new one
    let rx = Receiver::start(&[SECRET, NEXT_SECRET]).await;
    let app = TestApp::spawn_with(&overlay(&rx.url, Some(NEXT_SECRET), "")).await;
    app.create_pickup(2).await;
    rx.wait_until("a callback", Duration::from_secs(10), |all| !all.is_empty())
        .await;
    assert!(
        rx.all().iter().all(|r| r.verified),
        "each secret alone must verify the message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_gets_every_message_with_stable_ids() {
    let rx = Receiver::start(&[SECRET]).await;
    rx.set(Mode::Down);
    let app = TestApp::spawn_with(&overlay(&rx.url, None, "")).await;
    let ids: Vec<String> = futures::future::join_all((10..15).map(|n| app.create_pickup(n))).await;
    for id in &ids {
        wait_for(&app, id, "submitted", Duration::from_secs(10)).await;
    }
    rx.wait_until("several failed attempts", Duration::from_secs(10), |all| {
        all.len() >= 15
    })
    .await;
    rx.set(Mode::Ok);
    rx.wait_until("every submitted callback", Duration::from_secs(15), |all| {
        all.iter().filter(|r| r.answered < 300).count() >= 5
    })
    .await;
    let delivered = rx.delivered();
    let ids_ok: std::collections::HashSet<_> = delivered.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids_ok.len(), 5);
    // every failed attempt carried the id of a message that was delivered later
    for r in rx.all().iter().filter(|r| r.answered >= 300) {
        assert!(ids_ok.contains(&r.id), "{} retried under another id", r.id);
    }
    assert!(rx.all().iter().all(|r| r.verified));
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM callbacks WHERE state = 'delivered'")
            .await,
        5
    );
    assert!(app.db.count("SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.kind = 'callback' AND a.http_status = 503").await >= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_stops_callbacks_until_staff_re_enable_the_client() {
    let rx = Receiver::start(&[SECRET]).await;
    rx.set(Mode::Gone);
    let app = TestApp::spawn_with(&overlay(&rx.url, None, "")).await;
    app.submitted_pickup(20).await;
    rx.wait_until("the 410", Duration::from_secs(10), |all| !all.is_empty())
        .await;
    // more changes: no more attempts while the client is stopped
    app.sandbox().advance();
    app.sandbox().advance();
    app.sandbox().advance();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rx.all().len(), 1, "callbacks went on after 410");
    let held = app
        .db
        .count("SELECT count(*) FROM callbacks WHERE state = 'held'")
        .await;
    assert!(held >= 2, "held {held}");
    rx.set(Mode::Ok);
    let staff = app.staff_token("truong-phong", &["staff:read", "staff:act"], None);
    let resp = app
        .post(
            "/v1/clients/motcua-tq/callbacks/enable",
            &staff,
            &json!({"reason": "Hệ thống một cửa đã sửa địa chỉ nhận"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["replayed"], held);
    rx.wait_until("the held callbacks", Duration::from_secs(10), |all| {
        all.iter().filter(|r| r.answered < 300).count() as i64 >= held
    })
    .await;
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE action = 'enable_client_callbacks'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_callback_replays() {
    let rx = Receiver::start(&[SECRET]).await;
    rx.set(Mode::Down);
    let app = TestApp::spawn_with(&overlay(&rx.url, None, "give_up_after = \"1s\"")).await;
    let id = app.create_pickup(30).await;
    let until = Instant::now() + Duration::from_secs(15);
    while app
        .db
        .count("SELECT count(*) FROM callbacks WHERE state = 'dead'")
        .await
        == 0
    {
        assert!(Instant::now() < until, "nothing dead-lettered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rx.set(Mode::Ok);
    let staff = app.staff_token("can-bo", &["staff:read", "staff:act"], None);
    let resp = app
        .post(
            &format!("/v1/shipments/{id}/callbacks/replay"),
            &staff,
            &json!({"reason": "Hệ thống một cửa đã hoạt động lại"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(json(resp).await["replayed"].as_i64().unwrap() >= 1);
    rx.wait_until("the replayed callback", Duration::from_secs(10), |all| {
        all.iter().any(|r| r.answered < 300)
    })
    .await;
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE action = 'replay_callbacks'")
            .await,
        1
    );
    // replaying needs staff:act
    let reader = app.staff_token("xem", &["staff:read"], None);
    assert_eq!(
        app.post(
            &format!("/v1/shipments/{id}/callbacks/replay"),
            &reader,
            &json!({"reason": "x"})
        )
        .await
        .status(),
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_delivery_becomes_late_once_with_a_callback() {
    let rx = Receiver::start(&[SECRET]).await;
    let app = TestApp::spawn_with(&overlay(&rx.url, None, "")).await;
    let mut body = delivery_body(&dossier(40));
    body["due_at"] = json!((chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    let id = app.create_ok("deliveries", "late-1", &body).await;
    rx.wait_until("the late callback", Duration::from_secs(10), |all| {
        all.iter().any(|r| r.body["type"] == "shipment.late")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late: Vec<_> = rx
        .delivered()
        .into_iter()
        .filter(|r| r.body["type"] == "shipment.late")
        .collect();
    assert_eq!(late.len(), 1, "late once");
    assert_eq!(late[0].body["data"]["late"], true);
    let s = json(
        app.get(&format!("/v1/shipments/{id}"), &app.client_token())
            .await,
    )
    .await;
    assert_eq!(s["late"], true);
    let listed = json(
        app.get("/v1/shipments?late=true", &app.client_token())
            .await,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_then_retried_with_a_corrected_address() {
    let rx = Receiver::start(&[SECRET]).await;
    let app = TestApp::spawn_with(&overlay(&rx.url, None, "")).await;
    let id = app.pickup_with_bad_commune(50).await;
    app.carrier_down(false);
    wait_for(&app, &id, "rejected", Duration::from_secs(10)).await;
    rx.wait_until("the rejected callback", Duration::from_secs(10), |all| {
        all.iter().any(|r| r.body["type"] == "shipment.rejected")
    })
    .await;
    let rejected = rx
        .all()
        .into_iter()
        .find(|r| r.body["type"] == "shipment.rejected")
        .unwrap();
    assert!(
        rejected.body["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("refused")
    );

    let staff = app.staff_token("can-bo-mot-cua", &["staff:read", "staff:act"], None);
    // a bad correction is refused naming the field, and changes nothing
    let bad = json!({"reason": "Sửa địa chỉ", "corrections": {"address": {"line": "Số 3", "province_code": "08", "commune_code": "00004"}}});
    let resp = app
        .post(&format!("/v1/shipments/{id}/retry"), &staff, &bad)
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(
        json(resp).await["errors"][0]["field"],
        "corrections.address.commune_code"
    );
    let good = json!({"reason": "Công dân xác nhận lại địa chỉ qua điện thoại", "corrections": {"address": {"line": "Số 12, tổ 5", "province_code": "08", "commune_code": "02215"}}});
    let resp = app
        .post(&format!("/v1/shipments/{id}/retry"), &staff, &good)
        .await;
    assert_eq!(resp.status(), 200);
    let s = json(resp).await;
    assert_eq!(s["status"], "requested");
    assert_eq!(s["address"]["commune_code"], "02215");
    wait_for(&app, &id, "submitted", Duration::from_secs(10)).await;
    assert_eq!(app.db.count(&format!("SELECT count(*) FROM audit_log WHERE shipment_id = '{id}' AND action = 'retry' AND actor_id = 'can-bo-mot-cua'")).await, 1);
    // nothing left to retry now
    let resp = app
        .post(
            &format!("/v1/shipments/{id}/retry"),
            &staff,
            &json!({"reason": "lại"}),
        )
        .await;
    assert_eq!(resp.status(), 409);
    assert_eq!(app.sandbox().orders().len(), 1);
}
