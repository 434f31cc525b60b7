//! What the revised carrier contract (issue 8) gives the department, end to end through the
//! gateway and the sandbox carrier over real HTTP: postage quotes, waybills, the fees VNPost
//! reports, cancellations VNPost must approve, `sendType`, and `carrier check`.

use crate::carrier_loop::LOOP;
use crate::support::*;
use bcci_gateway::carrier::sandbox::{Chance, FaultsPatch, PendingOutcome};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_come_from_the_carrier_and_are_never_guessed() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let ask = |body: Value| {
        let app = &app;
        let token = token.clone();
        async move { app.post("/v1/quotes", &token, &body).await }
    };
    // Bad input first: 422 naming the field, and the carrier is not asked.
    for (body, field) in [
        (
            json!({"kind": "pickup", "office_code": "VPDKDD-TQ", "address": {"province_code": "01", "commune_code": "02215"}}),
            "address.commune_code",
        ),
        (
            json!({"kind": "pickup", "office_code": "NOWHERE", "address": {"province_code": "08", "commune_code": "02215"}}),
            "office_code",
        ),
        (
            json!({"kind": "pickup", "office_code": "VPDKDD-TQ", "cod_vnd": 1000, "address": {"province_code": "08", "commune_code": "02215"}}),
            "cod_vnd",
        ),
        (
            json!({"kind": "parcel", "office_code": "VPDKDD-TQ", "address": {"province_code": "08", "commune_code": "02215"}}),
            "kind",
        ),
    ] {
        let resp = ask(body).await;
        assert_eq!(resp.status(), 422);
        let p = json(resp).await;
        assert!(
            p["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{field}: {p}"
        );
    }
    assert_eq!(
        app.sandbox().stats().logins,
        0,
        "invalid quotes reached the carrier"
    );

    let delivery = json!({"kind": "delivery", "office_code": "VPDKDD-TQ",
        "address": {"province_code": "08", "commune_code": "00700", "line": "Thôn Nà Mèo"}});
    let resp = ask(delivery.clone()).await;
    assert_eq!(resp.status(), 200);
    let q = json(resp).await;
    let items = q["items"].as_array().unwrap();
    assert!(items.len() >= 2, "every service: {q}");
    for i in items {
        let (main, extra, total) = (
            i["main_fee_vnd"].as_i64().unwrap(),
            i["extra_fee_vnd"].as_i64().unwrap(),
            i["total_fee_vnd"].as_i64().unwrap(),
        );
        assert!(main > 0 && total >= main && extra >= 0, "{i}");
        assert!(i["service_code"].as_str().is_some_and(|s| !s.is_empty()));
    }
    assert_eq!(q["weight_grams"], 500);

    // One service, with cash on delivery: the COD service adds its fee.
    let mut with_cod = delivery.clone();
    with_cod["service_code"] = json!("CTN001");
    let plain = json(ask(with_cod.clone()).await).await;
    with_cod["cod_vnd"] = json!(500_000);
    let cod = json(ask(with_cod).await).await;
    assert_eq!(plain["items"].as_array().unwrap().len(), 1);
    assert_eq!(cod["items"][0]["service_code"], "CTN001");
    assert!(
        cod["items"][0]["extra_fee_vnd"].as_i64() > plain["items"][0]["extra_fee_vnd"].as_i64(),
        "{plain} / {cod}"
    );

    let resp = app
        .http
        .post(app.url("/v1/quotes"))
        .json(&delivery)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // The carrier down: 503 with Retry-After, never a guessed price.
    app.carrier_down(true);
    let resp = ask(delivery).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().get("retry-after").is_some());
    let p = json(resp).await;
    assert_eq!(p["code"], "carrier_unavailable");
    assert!(p.get("items").is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waybill_once_the_carrier_has_the_order() {
    let app = TestApp::spawn_with(LOOP).await;
    let token = app.client_token();
    let id = app.create_numbered("deliveries", 1).await;
    // Before VNPost has the order there is nothing to print: 409, or already a PDF.
    let resp = app
        .get(&format!("/v1/shipments/{id}/waybill"), &token)
        .await;
    if resp.status() == 409 {
        assert_eq!(json(resp).await["code"], "no_tracking_number");
    }
    let s = wait_for(&app, &id, "submitted", Duration::from_secs(10)).await;
    let resp = app
        .get(&format!("/v1/shipments/{id}/waybill"), &token)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let pdf = resp.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    assert!(
        s["tracking_number"].as_str().unwrap().ends_with("VN"),
        "{s}"
    );
    // Another dossier system does not see it.
    let other = app.token("other-client", &["shipments:read"]);
    let resp = app
        .get(&format!("/v1/shipments/{id}/waybill"), &other)
        .await;
    assert_eq!(resp.status(), 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_waybill_without_a_tracking_number() {
    // No jobs: the shipment stays `requested`.
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let id = app.create_numbered("deliveries", 2).await;
    let resp = app
        .get(&format!("/v1/shipments/{id}/waybill"), &token)
        .await;
    assert_eq!(resp.status(), 409);
    let p = json(resp).await;
    assert_eq!(p["code"], "no_tracking_number");
    assert!(p["detail"].as_str().unwrap().contains("tracking number"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fee_vnpost_reports_is_kept_and_send_type_follows_the_office() {
    let overlay = format!(
        "{LOOP}\n[[offices]]\ncode = \"VPDKDD-TQ\"\nname = \"Văn phòng Đăng ký đất đai tỉnh Tuyên Quang\"\n\
         phone = \"02073822345\"\nsend_type = \"2\"\norg_code_accept = \"BC080000\"\n\
         address = {{ line = \"Số 1, đường 17/8\", province_code = \"08\", commune_code = \"02215\" }}\n"
    );
    let app = TestApp::spawn_with(&overlay).await;
    let pickup = app.create_numbered("pickups", 3).await;
    let delivery = app.create_numbered("deliveries", 4).await;
    let p = wait_for(&app, &pickup, "submitted", Duration::from_secs(10)).await;
    let d = wait_for(&app, &delivery, "submitted", Duration::from_secs(10)).await;
    let orders = app.sandbox().orders();
    let order_of = |s: &Value| {
        orders
            .iter()
            .find(|o| Some(o.item_code.as_str()) == s["tracking_number"].as_str())
            .unwrap()
            .clone()
    };
    // A pickup is collected at the citizen's home whatever the office says; the delivery
    // follows the office's choice.
    assert_eq!(order_of(&p).send_type, "1");
    assert_eq!(order_of(&d).send_type, "2");
    for s in [&p, &d] {
        assert_eq!(
            s["carrier_fee_vnd"].as_i64(),
            Some(order_of(s).total_fee),
            "{s}"
        );
        assert!(order_of(s).total_fee > 0);
    }
    assert_eq!(order_of(&d).cod_amount, 30_000);
    app.stop().await;
}

async fn pending_cancel(outcome: PendingOutcome) -> (TestApp, String, Value) {
    let app = TestApp::spawn_with(
        &LOOP.replace("[jobs]\n", "[jobs]\ncancel_case_interval = \"200ms\"\n"),
    )
    .await;
    app.sandbox().set_faults(&FaultsPatch {
        cancel_pending: Some(Chance::new(1.0).unwrap()),
        cancel_pending_polls: Some(3),
        cancel_pending_outcome: Some(outcome),
        ..Default::default()
    });
    let token = app.client_token();
    let id = app.submitted_pickup(5).await;
    let resp = app
        .post(
            &format!("/v1/shipments/{id}/cancel"),
            &token,
            &json!({"reason": "Công dân tự nộp hồ sơ"}),
        )
        .await;
    assert_eq!(resp.status(), 202);
    // While VNPost decides, the shipment says so.
    let awaiting = wait_until(&app, &id, "awaiting VNPost", Duration::from_secs(15), |s| {
        s["cancellation"]["state"] == "awaiting_carrier"
    })
    .await;
    assert_eq!(awaiting["status"], "submitted");
    assert!(awaiting["cancellation"]["case_id"].as_str().is_some());
    (app, id, awaiting)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_vnpost_approves_later_ends_cancelled() {
    let (app, id, _) = pending_cancel(PendingOutcome::Approve).await;
    let s = wait_for(&app, &id, "cancelled", Duration::from_secs(15)).await;
    assert!(s["cancellation"].is_null(), "{s}");
    // The follow-up asked VNPost until it decided: several attempts, one job, done.
    let polls = app
        .db
        .count(
            "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id \
             WHERE j.kind = 'carrier_cancel_case'",
        )
        .await;
    assert!(polls >= 3, "{polls} updateCase calls");
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) FROM jobs WHERE kind = 'carrier_cancel_case' AND state <> 'done'"
            )
            .await,
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_vnpost_refuses_keeps_the_status_and_says_why() {
    let (app, id, _) = pending_cancel(PendingOutcome::Refuse).await;
    let token = app.client_token();
    let s = wait_until(&app, &id, "refused", Duration::from_secs(15), |s| {
        s["cancellation"]["state"] == "refused"
    })
    .await;
    assert_eq!(s["status"], "submitted");
    let reason = s["cancellation"]["reason"].as_str().unwrap().to_owned();
    assert!(!reason.is_empty());
    let events = json(app.get(&format!("/v1/shipments/{id}/events"), &token).await).await;
    assert!(
        events["items"].as_array().unwrap().iter().any(|e| e["note"]
            .as_str()
            .is_some_and(|n| n.contains("refused to cancel") && n.contains(&reason))),
        "{events}"
    );
    // The shipment goes on to the end.
    for _ in 0..12 {
        app.sandbox().advance();
    }
    wait_for(&app, &id, "delivered", Duration::from_secs(15)).await;
    app.stop().await;
}

fn run_carrier_check(overlay: &str) -> std::process::Output {
    let path = std::env::temp_dir().join(format!(
        "bcci-carrier-check-{}.toml",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::write(&path, overlay).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcci-gateway"))
        .args(["carrier", "check", "--config"])
        .arg(&path)
        .env("BCCI_LOG", "warn")
        .output()
        .expect("run bcci-gateway carrier check");
    let _ = std::fs::remove_file(&path);
    out
}

#[test]
fn carrier_check_reports_the_catalogue_and_fails_for_an_office_vnpost_does_not_know() {
    let ok = run_carrier_check("");
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(text.contains("34 provinces, 3321 communes"), "{text}");
    assert!(text.contains("ok       VPDKDD-TQ"), "{text}");
    assert!(text.contains("lacks or names differently: 0"), "{text}");

    // VNPost lacks the second office's commune and names another differently.
    let bad = run_carrier_check(
        "[carrier.sandbox]\ncatalogue_missing = [\"00691\"]\ncatalogue_renamed = { \"00004\" = \"Phường Khác\" }\n",
    );
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(2), "{text}");
    assert!(text.contains("UNKNOWN  CN-VPDKDD-HG"), "{text}");
    assert!(text.contains("ok       VPDKDD-TQ"), "{text}");
    assert!(text.contains("lacks or names differently: 2"), "{text}");
    assert!(
        text.contains("commune 00004") && text.contains("Phường Khác"),
        "{text}"
    );

    // The same code mapped to one VNPost knows: the office is found again.
    let mapped = run_carrier_check(
        "[carrier.sandbox]\ncatalogue_missing = [\"00691\"]\n[carrier.commune_codes]\n\"00691\" = \"00004\"\n",
    );
    let text = String::from_utf8_lossy(&mapped.stdout);
    assert!(mapped.status.success(), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_print_an_offices_waybills_as_one_pdf() {
    let app = TestApp::spawn_with(LOOP).await;
    let mut ids = Vec::new();
    for n in 10..13 {
        ids.push(app.create_numbered("deliveries", n).await);
    }
    for id in &ids {
        wait_for(&app, id, "submitted", Duration::from_secs(10)).await;
    }
    let token = app.staff_token("can-bo-in", &["staff:read"], Some(&["VPDKDD-TQ"]));
    let (http, cookie) = console_session(&app, &token).await;
    let page = http
        .get(app.url("/console/waybills?office=VPDKDD-TQ"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for id in &ids {
        assert!(html.contains(&format!("value=\"{id}\"")), "{id} not listed");
    }
    let csrf = input_value(&html, "csrf");
    let mut form = vec![
        ("csrf".to_owned(), csrf.clone()),
        ("office".to_owned(), "VPDKDD-TQ".to_owned()),
    ];
    form.extend(ids.iter().map(|id| ("id".to_owned(), id.clone())));
    let pdf = http
        .post(app.url("/console/waybills"))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    let doc = lopdf::Document::load_mem(&bytes).expect("one readable PDF");
    assert_eq!(doc.get_pages().len(), ids.len(), "a page per waybill");

    // Without the form's anti-forgery token, nothing is printed.
    let forged = http
        .post(app.url("/console/waybills"))
        .header("cookie", &cookie)
        .form(&[("csrf", "forged"), ("id", ids[0].as_str())])
        .send()
        .await
        .unwrap();
    assert_ne!(forged.status(), 200);
    // VNPost down: the page says so in Vietnamese, nothing half-printed.
    app.carrier_down(true);
    let down = http
        .post(app.url("/console/waybills"))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 200);
    assert!(
        down.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        down.text()
            .await
            .unwrap()
            .contains("Không kết nối được VNPost"),
        "no explanation"
    );
    app.stop().await;
}

/// A carrier that logs in (and, when `creates`, creates orders properly), then answers every
/// other call in a shape SPEC §5 does not list.
async fn strange_carrier(creates: bool) -> (String, actix_web::dev::ServerHandle) {
    use actix_web::{HttpResponse, web};
    stand_in(move |routes| {
        routes
            .route(
                "/GetAccessToken",
                web::post().to(|| async {
                    HttpResponse::Ok()
                        .json(json!({"success": true, "token": "t", "errorMessage": null}))
                }),
            )
            .route(
                "/CreateOrder",
                web::post().to(move || async move {
                    if creates {
                        HttpResponse::Ok().json(json!({"orderHdrID": 1, "originalID": "O-1",
                            "itemCode": "EB000000001VN", "status": 1, "totalFee": 16500}))
                    } else {
                        HttpResponse::Ok().json(json!({"result": {"unexpected": "shape"}}))
                    }
                }),
            )
            .default_service(web::to(|| async {
                HttpResponse::Ok().json(json!({"result": {"unexpected": "shape"}}))
            }));
    })
}

fn strange_loop(base: &str) -> String {
    LOOP.replace(
        "[carrier]\n",
        &format!(
            "[carrier]\nkind = \"vnpost\"\nbase_url = \"{base}\"\n\
             webhook_public_key_pem = \"file:config/sandbox/carrier-push-public.pem\"\n"
        ),
    )
}

/// Waits until `kind` jobs for `id` met an unreadable answer twice (with an excerpt kept): the
/// answer was recorded as a protocol error, and retried.
async fn unreadable_twice(app: &TestApp, id: &str, kind: &str) {
    poll(
        Duration::from_secs(15),
        Duration::from_millis(100),
        async || {
            let n = app
                .db
                .count(&format!(
                    "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id \
                     WHERE j.shipment_id = '{id}' AND j.kind = '{kind}' \
                       AND a.error_class = 'protocol' AND a.outcome = 'transient' \
                       AND a.excerpt LIKE '%unexpected%'"
                ))
                .await;
            (n >= 2)
                .then_some(())
                .ok_or(format!("{n} unreadable answer(s) to {kind}, not retried"))
        },
    )
    .await;
}

/// The dossier codes staff see under "Bưu điện trả lời không đọc được".
async fn listed_as_unreadable(app: &TestApp) -> String {
    let token = app.staff_token("can-bo", &["staff:read", "staff:pii"], None);
    let (http, cookie) = console_session(app, &token).await;
    let html = send_text(
        http.get(app.url("/console/attention"))
            .header("cookie", &cookie),
    )
    .await;
    let at = html.find("id=\"unreadable\"").expect("the section");
    let end = html[at..].find("</section>").unwrap() + at;
    html[at..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_answer_in_no_known_shape_is_a_visible_protocol_error_not_nothing() {
    let (base, carrier) = strange_carrier(false).await;
    let app = TestApp::spawn_with(&strange_loop(&base)).await;
    let id = app.create_numbered("pickups", 20).await;
    unreadable_twice(&app, &id, "carrier_submit").await;
    // Neither accepted nor refused: still waiting for an answer it can read.
    let s = json(
        app.get(&format!("/v1/shipments/{id}"), &app.client_token())
            .await,
    )
    .await;
    assert_eq!(s["status"], "requested");
    assert!(listed_as_unreadable(&app).await.contains(&dossier(20)));
    app.stop().await;
    carrier.stop(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracking_answer_in_no_known_shape_becomes_a_retried_visible_confirmation() {
    let (base, carrier) = strange_carrier(true).await;
    let app = TestApp::spawn_with(&strange_loop(&base)).await;
    let id = app.submitted_pickup(21).await;
    // Tracking polls the quiet shipment, cannot read the answer, and hands it to a job.
    unreadable_twice(&app, &id, "carrier_confirm").await;
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) FROM jobs WHERE shipment_id = '{id}' AND kind = 'carrier_confirm' \
                 AND state IN ('queued', 'running')"
            ))
            .await,
        1,
        "one confirmation at a time"
    );
    assert!(listed_as_unreadable(&app).await.contains(&dossier(21)));
    app.stop().await;
    carrier.stop(true).await;
}
