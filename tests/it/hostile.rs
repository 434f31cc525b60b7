//! Issue 11 §1–§2: hostile input never gives a 500 and names its field; personal data stays
//! out of answers it should not be in, out of the logs at every level, and is erased when its
//! time is up; every answer carries the security headers.

use crate::support::process::{Logging, lines_with};
use crate::support::*;
use bcci_gateway::jobs::Context;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Expects 422 naming `field`, and a body that does not echo `value`.
async fn refused(resp: reqwest::Response, field: &str, value: &str) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == field),
        "{field} not named: {text}"
    );
    assert!(
        !text.contains(value),
        "{field}: the answer echoes the value: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_refused_naming_the_field() {
    let app = TestApp::spawn_with("[jobs]\nenabled = false\n").await;
    let client = app.client_token();
    let staff = app.staff_token("can-bo-1", &["staff:read", "staff:pii", "staff:act"], None);

    // Query parameters: q (staff), dossier_code and office_code.
    for (path, token, field) in [
        ("/v1/shipments?q=ab%00cd", &staff, "q"),
        (
            "/v1/shipments?dossier_code=ab%00cd",
            &client,
            "dossier_code",
        ),
        (
            "/v1/shipments?office_code=VPDKDD%00",
            &client,
            "office_code",
        ),
        (
            "/v1/shipments?office_code=VPDKDD%1B%5B2J",
            &client,
            "office_code",
        ),
        ("/v1/shipments?q=ab%C2%85cd", &staff, "q"),
    ] {
        refused(app.get(path, token).await, field, "\u{0}").await;
    }

    // Bodies: every text field, wherever it is.
    let nul = |mut b: Value, set: &dyn Fn(&mut Value)| {
        set(&mut b);
        b
    };
    let p = pickup_body(&dossier(1));
    let cases: Vec<(&str, Value)> = vec![
        (
            "citizen.email",
            nul(p.clone(), &|b| {
                b["citizen"]["email"] = json!("an\u{0}@example.vn")
            }),
        ),
        (
            "citizen.full_name",
            nul(p.clone(), &|b| {
                b["citizen"]["full_name"] = json!("Nguyễn\u{0}An")
            }),
        ),
        (
            "address.line",
            nul(p.clone(), &|b| b["address"]["line"] = json!("Số 12\u{7}")),
        ),
        (
            "note",
            nul(p.clone(), &|b| b["note"] = json!("Gọi \u{1b}[31m trước")),
        ),
        (
            "documents[0].name",
            nul(p.clone(), &|b| {
                b["documents"][0]["name"] = json!("Đơn\u{0}")
            }),
        ),
        (
            "dossier_code",
            nul(p.clone(), &|b| {
                b["dossier_code"] = json!("000.00.14.H61-261127-0001\u{0}")
            }),
        ),
        (
            "office_code",
            nul(p.clone(), &|b| b["office_code"] = json!("VPDKDD-TQ\u{0}")),
        ),
    ];
    for (i, (field, body)) in cases.into_iter().enumerate() {
        let resp = app
            .create("pickups", &client, &format!("nul-{i}"), &body)
            .await;
        refused(resp, field, "\u{0}").await;
    }
    let mut d = delivery_body(&dossier(2));
    d["result"]["description"] = json!("Giấy\u{0}");
    refused(
        app.create("deliveries", &client, "nul-d", &d).await,
        "result.description",
        "\u{0}",
    )
    .await;
    assert_eq!(app.db.count("SELECT count(*) FROM shipments").await, 0);

    // A note may keep its line breaks.
    let mut ok = pickup_body(&dossier(3));
    ok["note"] = json!("Dòng 1\r\nDòng 2\tx");
    let resp = app.create("pickups", &client, "ok-1", &ok).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = json(resp).await["id"].as_str().unwrap().to_owned();

    // Cancel and retry reasons; quotes.
    refused(
        app.post(
            &format!("/v1/shipments/{id}/cancel"),
            &client,
            &json!({"reason": "vì\u{0}"}),
        )
        .await,
        "reason",
        "\u{0}",
    )
    .await;
    refused(
        app.post(
            &format!("/v1/shipments/{id}/retry"),
            &staff,
            &json!({"reason": "lại\u{0}"}),
        )
        .await,
        "reason",
        "\u{0}",
    )
    .await;
    refused(
        app.post(
            "/v1/quotes",
            &client,
            &json!({"kind": "delivery", "office_code": "VPDKDD\u{0}",
                    "address": {"province_code": "08", "commune_code": "00700"}}),
        )
        .await,
        "office_code",
        "\u{0}",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidi_and_zero_width_refused_in_names_stripped_from_free_text() {
    let app = TestApp::spawn_with("[jobs]\nenabled = false\n").await;
    let client = app.client_token();
    for (i, (field, set)) in [
        (
            "citizen.full_name",
            json!({"citizen": {"full_name": "Nguyễn \u{202E}nA nĂV"}}),
        ),
        (
            "citizen.full_name",
            json!({"citizen": {"full_name": "Nguyễn\u{200B} Văn An"}}),
        ),
        (
            "citizen.full_name",
            json!({"citizen": {"full_name": "\u{2066}Nguyễn Văn An\u{2069}"}}),
        ),
        (
            "citizen.email",
            json!({"citizen": {"email": "an\u{200D}@example.vn"}}),
        ),
        (
            "address.line",
            json!({"address": {"line": "Số 12\u{FEFF}, tổ 5"}}),
        ),
        (
            "procedure.name",
            json!({"procedure": {"name": "Đăng ký\u{061C}"}}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut b = pickup_body(&dossier(10 + i as u32));
        for (k, v) in set.as_object().unwrap() {
            for (k2, v2) in v.as_object().unwrap() {
                b[k][k2] = v2.clone();
            }
        }
        refused(
            app.create("pickups", &client, &format!("bidi-{i}"), &b)
                .await,
            field,
            "\u{202E}",
        )
        .await;
    }
    // Free text: stripped, kept otherwise.
    let mut b = pickup_body(&dossier(20));
    b["note"] = json!("Gọi\u{200B} trước \u{202E}khi đến\u{2069}");
    b["documents"][0]["name"] = json!("Đơn\u{FEFF} đăng ký");
    let resp = app.create("pickups", &client, "strip", &b).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let s = json(resp).await;
    assert_eq!(s["note"], "Gọi trước khi đến");
    assert_eq!(s["documents"][0]["name"], "Đơn đăng ký");
    let id = s["id"].as_str().unwrap();
    let resp = app
        .post(
            &format!("/v1/shipments/{id}/cancel"),
            &client,
            &json!({"reason": "Công dân\u{200E} đổi ý"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let events = json(
        app.get(&format!("/v1/shipments/{id}/events"), &client)
            .await,
    )
    .await;
    let notes: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["note"].as_str())
        .collect();
    assert!(notes.contains(&"Công dân đổi ý"), "{notes:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_field_is_named_without_its_value() {
    let app = TestApp::spawn_with("[jobs]\nenabled = false\n").await;
    let client = app.client_token();
    let mut b = pickup_body(&dossier(1));
    b["citizen"]["phone"] = json!(919465571);
    refused(
        app.create("pickups", &client, "t-1", &b).await,
        "citizen.phone",
        "919465571",
    )
    .await;
    let mut b = pickup_body(&dossier(1));
    b["documents"][0]["copies"] = json!("Trịnh Thị Xuyến");
    let resp = app.create("pickups", &client, "t-2", &b).await;
    let text = resp.text().await.unwrap();
    assert!(text.contains("documents[0].copies"), "{text}");
    assert!(
        text.contains("not string"),
        "the kind of error is said: {text}"
    );
    assert!(!text.contains("Trịnh"), "{text}");
    let resp = app
        .post(
            "/v1/quotes",
            &client,
            &json!({"kind": "Trịnh Thị Xuyến", "office_code": "VPDKDD-TQ",
            "address": {"province_code": "08", "commune_code": "00700"}}),
        )
        .await;
    refused(resp, "kind", "Trịnh").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_line_is_masked_without_staff_pii() {
    let app = TestApp::spawn_with("[jobs]\nenabled = false\n").await;
    let id = app
        .create_ok("pickups", "m-1", &pickup_body(&dossier(1)))
        .await;
    let reader = app.staff_token("xem", &["staff:read"], None);
    let pii = app.staff_token("pii", &["staff:read", "staff:pii"], None);
    let masked = json(app.get(&format!("/v1/shipments/{id}"), &reader).await).await;
    assert_eq!(masked["address"]["line"], "***");
    assert_eq!(masked["address"]["commune_code"], "02215");
    assert_eq!(masked["citizen"]["full_name"], "Nguyễn V** A*");
    let list = json(app.get("/v1/shipments", &reader).await).await;
    assert_eq!(list["items"][0]["address"]["line"], "***");
    let clear = json(app.get(&format!("/v1/shipments/{id}"), &pii).await).await;
    assert_eq!(clear["address"]["line"], "Số 12, tổ 5");
    // The dossier system sees its own shipments in clear.
    let own = json(
        app.get(&format!("/v1/shipments/{id}"), &app.client_token())
            .await,
    )
    .await;
    assert_eq!(own["address"]["line"], "Số 12, tổ 5");
    // The console masks it with the same function.
    assert_eq!(
        bcci_gateway::domain::mask::address_line("Số 12, tổ 5"),
        "***"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_on_every_answer() {
    let app = TestApp::spawn_with("[jobs]\nenabled = false\n").await;
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let token = app.client_token();
    for (path, auth, status) in [
        ("/v1/shipments", true, 200),
        ("/v1/shipments", false, 401),
        ("/v1/shipments/not-a-uuid", true, 404),
        ("/v1/shipments?limit=0", true, 422),
        ("/nowhere", false, 404),
        ("/openapi.json", false, 200),
        ("/healthz", false, 200),
        ("/docs/", false, 200),
        ("/console/sign-in", false, 200),
    ] {
        let mut req = http.get(app.url(path));
        if auth {
            req = req.bearer_auth(&token);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{path}");
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        let framing = h
            .get("x-frame-options")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(framing.as_deref(), Some("DENY"), "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        if path.starts_with("/v1") || path.starts_with("/console") {
            assert_eq!(h["cache-control"], "no-store", "{path}");
        }
        if path == "/docs/" {
            assert!(csp.contains("script-src 'self'"), "{csp}");
            let page = resp.text().await.unwrap();
            // Swagger UI loads its scripts from files, which the CSP allows; nothing inline.
            assert!(page.contains("swagger-initializer.js"), "{page}");
            assert!(
                !page.contains("<script>"),
                "an inline script the CSP would block"
            );
        }
    }
    app.stop().await;
}

/// All `Set-Cookie` of an answer, as `name=value`.
fn cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_next_and_console_inputs() {
    let app = TestApp::spawn_with("[jobs]\nenabled = false\n").await;
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let staff = app.staff_token("can-bo-1", &["staff:read", "staff:pii", "staff:act"], None);
    let session_cookie = app.config.console.cookie_name.clone();
    let sessions = || app.db.count("SELECT count(*) FROM console_sessions");

    // A CR/LF in `next` of the sign-in page's address: refused, nothing opened.
    let resp = http
        .get(app.url("/console/sign-in?next=/console/search%0D%0ASet-Cookie:%20evil=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(cookies(&resp).iter().all(|c| !c.starts_with("evil")));

    // A CR/LF in the posted `next`: signed in, sent to the search page, no header injected.
    let sign_in = async |token: &str, next: &str| {
        let page = http.get(app.url("/console/sign-in")).send().await.unwrap();
        let jar = cookies(&page).join("; ");
        let html = page.text().await.unwrap();
        let check = html
            .split("name=\"check\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        http.post(app.url("/console/sign-in"))
            .header("Cookie", jar)
            .form(&[("token", token), ("check", &check), ("next", next)])
            .send()
            .await
            .unwrap()
    };
    let resp = sign_in("not-a-token", "/console/search\r\nSet-Cookie: evil=1").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        cookies(&resp)
            .iter()
            .all(|c| !c.starts_with(&format!("{session_cookie}=")) && !c.starts_with("evil"))
    );
    assert_eq!(sessions().await, 0, "a refused sign-in opened a session");

    let resp = sign_in(&staff, "/console/search\r\nSet-Cookie: evil=1").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/console/search");
    let jar: Vec<String> = cookies(&resp);
    assert!(jar.iter().all(|c| !c.starts_with("evil")), "{jar:?}");
    let session = jar
        .iter()
        .find(|c| c.starts_with(&format!("{session_cookie}=")))
        .expect("a session")
        .clone();

    // Console search and forms: 400 naming the field in Vietnamese, never a 500.
    for (path, label) in [
        ("/console/search?q=ab%00cd", "Tìm kiếm"),
        ("/console/search?office=VPDKDD%00", "Văn phòng"),
        ("/console/late?kind=pickup%07", "kind"),
    ] {
        let resp = http
            .get(app.url(path))
            .header("Cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("ký tự điều khiển") && html.contains(label),
            "{path}: {html}"
        );
    }
    let id = uuid::Uuid::now_v7();
    let resp = http
        .post(app.url(&format!("/console/shipments/{id}/cancel")))
        .header("Cookie", &session)
        .form(&[("csrf", "x"), ("reason", "vì\u{0}sao")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("Lý do"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_erases_personal_data_of_long_finished_shipments() {
    let app = TestApp::spawn_with("[jobs]\nenabled = false\n[tracking]\ninterval = \"1h\"\n").await;
    let client = app.client_token();
    let mut ids = Vec::new();
    for (i, body) in [
        pickup_body(&dossier(1)),
        delivery_body(&dossier(2)),
        pickup_body(&dossier(3)),
        pickup_body(&dossier(4)),
    ]
    .iter()
    .enumerate()
    {
        let kind = if i == 1 { "deliveries" } else { "pickups" };
        let resp = app.create(kind, &client, &format!("r-{i}"), body).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        ids.push(json(resp).await["id"].as_str().unwrap().to_owned());
    }
    let mut conn = app.db.conn().await;
    use diesel_async::RunQueryDsl;
    // 0 and 1 finished 400 days ago; 2 finished 10 days ago; 3 is still in progress, old.
    for (id, status, days) in [
        (&ids[0], "delivered", 400),
        (&ids[1], "returned", 400),
        (&ids[2], "delivered", 10),
        (&ids[3], "requested", 400),
    ] {
        diesel::sql_query(format!(
            "UPDATE shipments SET status = '{status}', tracking_number = 'EB{days}{}VN', \
             carrier_fee_vnd = 25000, updated_at = now() - interval '{days} days' WHERE id = '{id}'",
            &id[id.len() - 8..]
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let gw = app.gateway.as_ref().unwrap();
    let ctx = Context {
        pool: gw.state.pool.clone(),
        config: app.config.clone(),
        carrier: gw.carrier.clone(),
        http: reqwest::Client::new(),
        worker: bcci_gateway::jobs::worker::new_worker_number(),
        pressure: std::sync::Arc::new(bcci_gateway::jobs::pressure::Pressure::new(
            8,
            std::time::Duration::from_millis(20),
        )),
        wakeup: gw.state.wakeup.clone(),
        delivered: std::sync::Arc::new(bcci_gateway::jobs::delivered::DeliveredBatches::new(
            gw.state.pool.clone(),
        )),
    };
    bcci_gateway::jobs::housekeeping::housekeeping(&ctx)
        .await
        .unwrap();
    // Idempotent: a second run finds nothing more, and records nothing.
    bcci_gateway::jobs::housekeeping::housekeeping(&ctx)
        .await
        .unwrap();

    let pii = app.staff_token("pii", &["staff:read", "staff:pii"], None);
    let read = async |id: &str| json(app.get(&format!("/v1/shipments/{id}"), &pii).await).await;
    let erased = read(&ids[0]).await;
    assert_eq!(erased["citizen"]["full_name"], "***");
    assert_eq!(erased["citizen"]["phone"], "***");
    assert_eq!(erased["citizen"]["id_number"], Value::Null);
    assert_eq!(erased["address"]["line"], "***");
    assert_eq!(erased["note"], Value::Null);
    assert_eq!(erased["documents"][0]["name"], "***");
    assert_eq!(erased["documents"][0]["copies"], 1);
    // Kept: codes, status, fees, times.
    assert_eq!(erased["dossier_code"], dossier(1));
    assert_eq!(erased["status"], "delivered");
    assert_eq!(erased["carrier_fee_vnd"], 25000);
    assert_eq!(erased["address"]["commune_code"], "02215");
    assert_eq!(erased["procedure"]["code"], "1.004227");
    let delivery = read(&ids[1]).await;
    assert_eq!(delivery["recipient"]["full_name"], "***");
    assert_eq!(delivery["recipient"]["email"], Value::Null);
    assert_eq!(delivery["result"]["description"], "***");
    assert_eq!(delivery["result"]["documents"][0]["name"], "***");
    assert_eq!(delivery["cod_vnd"], 30000);
    for kept in [&ids[2], &ids[3]] {
        assert_eq!(read(kept).await["citizen"]["full_name"], "Nguyễn Văn An");
    }
    // Nothing of it is left anywhere in the ledger.
    let everywhere = |needle: &str| {
        format!(
            "SELECT (SELECT count(*) FROM shipments s WHERE s::text LIKE '%{needle}%' AND id IN ('{}', '{}')) \
             + (SELECT count(*) FROM idempotency_keys k WHERE k::text LIKE '%{needle}%' AND shipment_id IN ('{}', '{}'))",
            ids[0], ids[1], ids[0], ids[1]
        )
    };
    for needle in [
        "Nguyễn Văn An",
        "Trần Thị Bình",
        "0912345678",
        "0987654321",
        "008090001234",
        "binh@example.vn",
        "Số 12",
        "Nà Mèo",
        "Gọi trước",
    ] {
        assert_eq!(app.db.count(&everywhere(needle)).await, 0, "{needle}");
    }
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM shipments WHERE personal_data_erased_at IS NOT NULL")
            .await,
        2
    );
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) FROM audit_log WHERE actor_id = 'gateway' AND action = 'retention' \
                 AND (details->>'count')::int = 2 AND (details->>'days')::int = 365"
            )
            .await,
        1,
        "one audit entry for the run that erased, none for the one that did not"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_in_the_logs_at_trace() {
    let db = TestDb::new().await;
    let mut gw = Logging::start(
        &db,
        "hostile",
        "[carrier.sandbox]\nlisten = \"127.0.0.1:0\"\nstep = \"0s\"\n[jobs]\npoll_interval = \"100ms\"\n",
        "trace,tokio_postgres=trace,diesel_async=trace",
    )
    .await;
    let base = gw.base.clone();
    let http = reqwest::Client::new();
    let client = default_token("motcua-tq", &["shipments:write", "shipments:read"]);
    let staff = default_token("can-bo-1", &["staff:read", "staff:pii"]);
    let secrets = [
        "Quàng Thị Xuyến",
        "0977123456",
        "038123456789",
        "xuyen.quang@example.vn",
        "Bản Khuổi Tâu",
    ];
    let mut body = pickup_body(&dossier(7));
    body["citizen"] = json!({"full_name": secrets[0], "phone": secrets[1], "id_number": secrets[2], "email": secrets[3]});
    body["address"]["line"] = json!(secrets[4]);
    let resp = gw.create_pickup(&client, "log-1", &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = json(resp).await["id"].as_str().unwrap().to_owned();
    // A refused one, with the name in a mistyped field, and a staff search by name and phone.
    let mut bad = body.clone();
    bad["documents"][0]["copies"] = json!(secrets[0]);
    let resp = gw.create_pickup(&client, "log-2", &bad).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for q in [secrets[0], secrets[1]] {
        let resp = http
            .get(format!("{base}/v1/shipments"))
            .query(&[("q", q)])
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // Submitted to the (sandbox) carrier: the order, with the citizen's data, went out.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let s: Value = json(
            http.get(format!("{base}/v1/shipments/{id}"))
                .bearer_auth(&client)
                .send()
                .await
                .unwrap(),
        )
        .await;
        if s["tracking_number"].is_string() {
            break;
        }
        assert!(Instant::now() < until, "not submitted: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = gw.stop();
    // The test can fail: it did log at trace, and it logged the refusal by field path.
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "nothing logged at trace"
    );
    assert!(
        text.contains("documents[0].copies"),
        "the refusal is logged by its path"
    );
    for s in secrets {
        assert!(
            !text.contains(s),
            "`{s}` is in the log:\n{}",
            lines_with(&text, s)
        );
    }
}
