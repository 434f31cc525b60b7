//! The citizens' tracking page (issue 10 §1) against the real gateway and PostgreSQL: over
//! plain HTTP (no enumeration oracle, nothing personal shown, links, limits, logs) and in
//! headless Chromium (320 px wide, the QR code read back and followed, axe-core). With
//! `BCCI_SCREENSHOTS=<dir>` the browser test saves `tra-cuu-*.png` there.

use crate::support::browser::{Browser, Driver};
use crate::support::process::{Logging, lines_with};
use crate::support::*;
use bcci_gateway::domain::Source;
use bcci_gateway::ledger::carrier_reports::{self, CarrierReport};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

/// What the two test citizens gave; none of it may reach the page.
const PERSONAL: [&str; 10] = [
    "Nguyễn Văn An",
    "0912345678",
    "912345678",
    "008090001234",
    "Số 12, tổ 5",
    "Gọi trước",
    "Trần Thị Bình",
    "0987654321",
    "binh@example.vn",
    "Thôn Nà Mèo",
];

struct Dossier {
    code: String,
    pickup: Uuid,
    delivery: Uuid,
    /// When the carrier reported each step of the delivery.
    steps: Vec<DateTime<Utc>>,
}

/// One dossier with a pickup (citizen's phone …5678) and a delivery (recipient's …4321) the
/// carrier has picked up, carried and taken out for delivery.
async fn dossier_with_both(app: &TestApp, n: u32) -> Dossier {
    let code = dossier(n);
    let token = app.client_token();
    let mut ids = Vec::new();
    for (kind, body) in [
        ("pickups", pickup_body(&code)),
        ("deliveries", delivery_body(&code)),
    ] {
        let resp = app
            .create(kind, &token, &format!("{kind}-{n}"), &body)
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        ids.push(json(resp).await["id"].as_str().unwrap().parse().unwrap());
    }
    // After the request (its event is dated now, and events cannot be backdated).
    let now = Utc::now();
    let steps = vec![
        now + Duration::minutes(20),
        now + Duration::hours(5),
        now + Duration::hours(20),
    ];
    let reps: Vec<CarrierReport> = [
        (6, "Đã nhận hàng"),
        (10, "Đang vận chuyển"),
        (12, "Đang phát"),
    ]
    .iter()
    .zip(&steps)
    .map(|((code, text), at)| CarrierReport {
        code: *code,
        text: (*text).into(),
        at: *at,
        note: Some("Bưu tá Lò Văn Sáng gọi 0911000111".into()),
    })
    .collect();
    let mut conn = app.db.conn().await;
    carrier_reports::apply(
        &mut conn,
        &Default::default(),
        ids[1],
        &reps,
        Source::CarrierPush,
        Some("EB123456789VN"),
        Duration::minutes(10),
    )
    .await
    .unwrap();
    Dossier {
        code,
        pickup: ids[0],
        delivery: ids[1],
        steps,
    }
}

async fn post_lookup(app: &TestApp, code: &str, digits: &str) -> reqwest::Response {
    app.http
        .post(app.url("/tra-cuu"))
        .form(&[("code", code), ("digits", digits)])
        .send()
        .await
        .unwrap()
}

async fn page(resp: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

fn vn(t: DateTime<Utc>) -> String {
    t.with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap())
        .format("%H:%M, %d/%m/%Y")
        .to_string()
}

fn assert_nothing_personal(body: &str) {
    for p in PERSONAL {
        assert!(!body.contains(p), "`{p}` is on the citizen's page");
    }
    assert!(
        !body.contains("Lò Văn Sáng") && !body.contains("0911000111"),
        "a carrier note is on the page"
    );
}

/// The tracking link of shipment `id`, as the API gives it.
async fn tracking_url(app: &TestApp, id: Uuid) -> String {
    let s = json(
        app.get(&format!("/v1/shipments/{id}"), &app.client_token())
            .await,
    )
    .await;
    s["tracking_url"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizens_look_up_their_dossier_without_an_oracle() {
    let app = TestApp::spawn_public("[citizen]\nlookups_per_minute = 1000\n").await;
    let d = dossier_with_both(&app, 1).await;

    // The form.
    let (status, headers, form) =
        page(app.http.get(app.url("/tra-cuu")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("<form method=\"post\" action=\"/tra-cuu\""));
    assert!(form.contains("4 số cuối số điện thoại"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("style-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        !csp.contains("script-src"),
        "the page runs no script: {csp}"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let css = form
        .split("href=\"")
        .find_map(|s| s.strip_prefix("/tra-cuu/static/"))
        .and_then(|s| s.split('"').next())
        .expect("a stylesheet link");
    let resp = app
        .http
        .get(app.url(&format!("/tra-cuu/static/{css}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    // The citizen who sent the dossier sees the pickup; the recipient of the result sees the
    // delivery, with its steps in Vietnam time, tracking number, VNPost's link and the office.
    let (status, _, pickup) = page(post_lookup(&app, &d.code, "5678").await).await;
    assert_eq!(status, StatusCode::OK, "{pickup}");
    assert!(pickup.contains("Nộp hồ sơ qua bưu điện"), "{pickup}");
    assert!(!pickup.contains("Nhận kết quả qua bưu điện"));
    assert!(pickup.contains("Đã đăng ký nộp hồ sơ qua bưu điện"));
    assert_nothing_personal(&pickup);
    // typed in small letters, with spaces around
    let (status, _, lower) =
        page(post_lookup(&app, &format!(" {} ", d.code.to_lowercase()), " 4321").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(lower.contains("Nhận kết quả qua bưu điện"), "{lower}");
    assert!(!lower.contains("Nộp hồ sơ qua bưu điện"));
    for words in [
        "Bưu tá đang mang kết quả đến ông/bà",
        "Bưu điện đã nhận kết quả từ cơ quan",
        "Kết quả đang được vận chuyển",
        "Cơ quan đã đăng ký gửi kết quả qua bưu điện",
        "EB123456789VN",
        "https://www.vnpost.vn/tra-cuu-hanh-trinh/buu-pham?key=EB123456789VN",
        "Văn phòng Đăng ký đất đai tỉnh Tuyên Quang",
        "href=\"tel:02073822345\"",
        "Ngày hẹn trả kết quả",
        // due_at 2099-12-01T17:00:00+07:00 in the request
        "17:00, 01/12/2099",
    ] {
        assert!(lower.contains(words), "`{words}` missing:\n{lower}");
    }
    for t in &d.steps {
        assert!(lower.contains(&vn(*t)), "step at {} missing", vn(*t));
    }
    assert_nothing_personal(&lower);

    // Not found: a well-formed code nobody has, and the right code with wrong digits, get the
    // same page, byte for byte.
    let (s1, h1, wrong_code) = page(post_lookup(&app, &dossier(9999), "5678").await).await;
    let (s2, h2, wrong_digits) = page(post_lookup(&app, &d.code, "5679").await).await;
    assert_eq!(s1, StatusCode::NOT_FOUND);
    assert_eq!(s2, StatusCode::NOT_FOUND);
    assert!(wrong_code.contains("Không tìm thấy hồ sơ"), "{wrong_code}");
    assert_eq!(wrong_code, wrong_digits);
    assert_eq!(h1["content-length"], h2["content-length"]);
    assert!(!wrong_code.contains(&d.code) && !wrong_code.contains("5679"));

    // A malformed entry is shown again to be corrected, naming the field.
    let (status, _, invalid) = page(post_lookup(&app, &d.code, "12a4").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.contains("id=\"digits-error\""), "{invalid}");
    assert!(!invalid.contains("id=\"code-error\""));
    let (status, _, invalid) = page(post_lookup(&app, "abc", "1234").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.contains("id=\"code-error\""), "{invalid}");
    let resp = app
        .http
        .post(app.url("/tra-cuu"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("code=%00%01&digits=%FF%FE")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Every shipment in the API has its link; it opens the same answer without the form,
    // and draws as a QR code.
    let pickup_url = tracking_url(&app, d.pickup).await;
    let delivery_url = tracking_url(&app, d.delivery).await;
    let prefix = format!("{}/tra-cuu/", app.base);
    assert!(pickup_url.starts_with(&prefix), "{pickup_url}");
    assert_ne!(pickup_url, delivery_url);
    let list = json(app.get("/v1/shipments", &app.client_token()).await).await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["tracking_url"].as_str().unwrap().starts_with(&prefix))
    );
    let (status, _, by_link) = page(app.http.get(&delivery_url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(by_link.contains("Bưu tá đang mang kết quả đến ông/bà"));
    assert!(!by_link.contains("<form"), "the link's page has no form");
    assert!(
        !by_link.contains("Nộp hồ sơ qua bưu điện"),
        "only this shipment"
    );
    assert_nothing_personal(&by_link);
    let qr = app
        .http
        .get(format!("{delivery_url}/qr.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(qr.status(), StatusCode::OK);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.unwrap().contains("<svg"));

    // A forged link (one character changed, or another key) is not found, like a wrong code.
    let token = delivery_url.strip_prefix(&prefix).unwrap();
    let mut forged = token.as_bytes().to_vec();
    forged[30] = if forged[30] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let other_key = bcci_gateway::citizen::token::token(
        b"somebody else's key, thirty-two bytes or more",
        d.delivery,
    );
    for t in [forged.as_str(), other_key.as_str(), "x", "AAAA"] {
        let (status, _, body) =
            page(app.http.get(format!("{prefix}{t}")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{t}");
        assert_eq!(body, wrong_code, "{t}");
        let qr = app
            .http
            .get(format!("{prefix}{t}/qr.svg"))
            .send()
            .await
            .unwrap();
        assert_eq!(qr.status(), StatusCode::NOT_FOUND);
    }

    // Once retention has erased the pickup's personal data, its link is stale and the form no
    // longer finds it; the delivery is still found.
    let mut conn = app.db.conn().await;
    diesel::sql_query(format!(
        "UPDATE shipments SET status = 'delivered', person_name = '***', person_phone = '***', \
         address_line = '***', personal_data_erased_at = now() WHERE id = '{}'",
        d.pickup
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let (status, _, body) = page(app.http.get(&pickup_url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, wrong_code);
    let (status, _, body) = page(post_lookup(&app, &d.code, "5678").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, wrong_code);
    assert_eq!(
        post_lookup(&app, &d.code, "4321").await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_lookups_from_one_address_get_429() {
    let app = TestApp::spawn_with("[citizen]\nlookups_per_minute = 3\n").await;
    for _ in 0..3 {
        assert_eq!(
            post_lookup(&app, &dossier(1), "1234").await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let resp = post_lookup(&app, &dossier(1), "1234").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    let body = resp.text().await.unwrap();
    assert!(body.contains("Xin thử lại sau"), "{body}");
    assert!(body.contains(&format!("đợi {wait} giây")), "{body}");
    assert!(body.contains("3 lần trong một phút"), "{body}");
    // The header of a client is not trusted unless configured: same bucket.
    let resp = app
        .http
        .post(app.url("/tra-cuu"))
        .header("X-Forwarded-For", "203.0.113.9")
        .form(&[("code", dossier(1).as_str()), ("digits", "1234")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // The form itself and links are not limited.
    assert_eq!(
        app.http
            .get(app.url("/tra-cuu"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.stop().await;

    // Behind a trusted proxy, each client (the proxy's last hop) has its own bucket.
    let app =
        TestApp::spawn_with("[citizen]\nlookups_per_minute = 2\ntrust_forwarded_for = true\n")
            .await;
    let from = async |xff: &str| {
        app.http
            .post(app.url("/tra-cuu"))
            .header("X-Forwarded-For", xff)
            .form(&[("code", dossier(1).as_str()), ("digits", "1234")])
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(from("10.0.0.1, 203.0.113.1").await, StatusCode::NOT_FOUND);
    assert_eq!(from("10.0.0.2, 203.0.113.1").await, StatusCode::NOT_FOUND);
    // a client cannot escape its bucket by writing hops of its own in front
    assert_eq!(
        from("10.0.0.3, 203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(from("203.0.113.2").await, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// True when `needle` stands alone in `text`: not inside a longer run of letters, digits,
/// dots or dashes (a UUID, a timestamp, a duration).
fn stands_alone(text: &str, needle: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_citizens_type_stays_out_of_the_logs() {
    let db = TestDb::new().await;
    let mut gw = Logging::start(
        &db,
        "citizen",
        "[carrier.sandbox]\nlisten = \"127.0.0.1:0\"\n[jobs]\nenabled = false\n",
        "trace",
    )
    .await;
    let base = gw.base.clone();
    let http = reqwest::Client::new();
    let client = default_token("motcua-tq", &["shipments:write", "shipments:read"]);
    // A code and digits unlike anything else in a log.
    let code = "000.00.14.H61-261201-4827";
    let mut body = pickup_body(code);
    body["citizen"]["phone"] = json!("0977316592");
    let resp = gw.create_pickup(&client, "log-1", &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let lookup = async |code: &str, digits: &str| {
        http.post(format!("{base}/tra-cuu"))
            .form(&[("code", code), ("digits", digits)])
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(lookup(code, "6592").await, StatusCode::OK);
    assert_eq!(lookup(code, "8305").await, StatusCode::NOT_FOUND);
    assert_eq!(
        lookup("000.00.14.H61-261201-7713", "6592").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(lookup(code, "83x5").await, StatusCode::UNPROCESSABLE_ENTITY);
    let text = gw.stop();
    // It can fail: the look-ups were logged, by outcome and field.
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("citizen lookup"))
        .collect();
    assert_eq!(
        lines.len(),
        4,
        "one line per look-up:\n{}",
        lines.join("\n")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("found") && !l.contains("not_found"))
    );
    assert_eq!(lines.iter().filter(|l| l.contains("not_found")).count(), 2);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("invalid") && l.contains("digits"))
    );
    assert!(text.contains("/tra-cuu"), "the request spans are logged");
    for typed in [code, "261201-4827", "261201-7713", "6592", "8305", "83x5"] {
        assert!(
            !text.contains(typed) || (typed.len() == 4 && !stands_alone(&text, typed)),
            "`{typed}` is in the log:\n{}",
            lines_with(&text, typed)
        );
    }
}

// ---- in the browser ----

/// axe-core (npm, `tests/browser`; `.ci/run` installs it) run on the page: the serious and
/// critical violations, after checking that axe did run.
async fn axe(b: &Browser<'_>, what: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing ({}: {e}): run `npm ci --prefix tests/browser` (.ci/run does)",
            path.display()
        )
    });
    fantoccini::Client::execute(&b.c, &source, vec![])
        .await
        .expect("inject axe-core");
    let result =
        b.c.execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document).then(r => done({
               passes: r.passes.length,
               bad: r.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' +
                      v.nodes.map(n => n.target.join(' ')).join(', '))
             })).catch(e => done({error: String(e)}));",
            vec![],
        )
        .await
        .expect("run axe-core");
    assert!(
        result.get("error").is_none(),
        "axe-core failed on {what}: {result}"
    );
    assert!(
        result["passes"].as_u64().unwrap_or(0) > 0,
        "axe-core checked nothing on {what}: {result}"
    );
    let bad = result["bad"].as_array().unwrap();
    assert!(bad.is_empty(), "axe-core on {what}: {bad:#?}");
}

/// The page is no wider than the window: nothing to scroll sideways.
async fn fits(b: &Browser<'_>, what: &str) {
    let v = fantoccini::Client::execute(
        &b.c,
        "return [document.documentElement.scrollWidth, window.innerWidth]",
        vec![],
    )
    .await
    .unwrap();
    let (scroll, inner) = (v[0].as_u64().unwrap(), v[1].as_u64().unwrap());
    assert!(inner <= 330, "the window is {inner} px wide, not 320");
    assert!(
        scroll <= inner,
        "{what}: {scroll} px wide in a {inner} px window"
    );
}

/// The QR code on the screen, read back: the screenshot decoded (png) and scanned (rqrr).
async fn scan_qr(b: &Browser<'_>) -> String {
    let shot = b.c.screenshot().await.unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(shot));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let grey = |x: usize, y: usize| {
        let i = (y * w + x) * channels;
        if channels >= 3 {
            ((u16::from(buf[i]) + u16::from(buf[i + 1]) + u16::from(buf[i + 2])) / 3) as u8
        } else {
            buf[i]
        }
    };
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, grey);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the screen");
    grids[0].decode().expect("a readable QR code").1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizens_use_the_page_on_a_phone() {
    let app = TestApp::spawn_public("[citizen]\nlookups_per_minute = 6\n").await;
    let d = dossier_with_both(&app, 2).await;
    let (_driver, client) = Driver::start().await;
    let b = Browser {
        c: client,
        app: &app,
        shots: std::env::var_os("BCCI_SCREENSHOTS").map(Into::into),
    };
    b.c.set_window_size(320, 800).await.unwrap();

    // The form, on a 320 px phone.
    b.goto("/tra-cuu").await;
    fits(&b, "the form").await;
    axe(&b, "the form").await;
    b.shot("tra-cuu-1-bieu-mau").await;

    // The recipient of the result looks it up (1st look-up).
    b.fill("form.lookup", "code", &d.code).await;
    b.fill("form.lookup", "digits", "4321").await;
    b.click("#lookup").await;
    let answer = b.text("main").await;
    assert!(answer.contains("Nhận kết quả qua bưu điện"), "{answer}");
    assert!(
        answer.contains("Bưu tá đang mang kết quả đến ông/bà"),
        "{answer}"
    );
    assert!(answer.contains("EB123456789VN"), "{answer}");
    assert_eq!(b.count("ol.timeline li").await, 4, "{answer}");
    // oldest first: the request, then the carrier's steps
    assert!(
        b.text("ol.timeline li:first-child")
            .await
            .contains("Cơ quan đã đăng ký gửi kết quả qua bưu điện")
    );
    assert!(
        b.text("ol.timeline li:last-child")
            .await
            .contains("Bưu tá đang mang kết quả đến ông/bà")
    );
    assert_nothing_personal(&b.c.source().await.unwrap());
    fits(&b, "the answer").await;
    axe(&b, "the answer").await;
    b.shot("tra-cuu-2-ket-qua").await;

    // The QR code of the appointment slip, read from the screen, opens the same answer.
    b.click("a.qr").await;
    b.c.set_window_size(400, 500).await.unwrap();
    let scanned = scan_qr(&b).await;
    assert_eq!(scanned, tracking_url(&app, d.delivery).await);
    b.c.set_window_size(320, 800).await.unwrap();
    b.c.goto(&scanned).await.unwrap();
    let by_link = b.text("main").await;
    assert!(
        by_link.contains("Bưu tá đang mang kết quả đến ông/bà"),
        "{by_link}"
    );
    assert_eq!(b.count("form").await, 0, "no form on the link's page");
    assert_eq!(b.path().await, url::Url::parse(&scanned).unwrap().path());

    // Wrong digits (2nd look-up): not found, with the form to try again.
    b.click("#again").await;
    b.fill("form.lookup", "code", &d.code).await;
    b.fill("form.lookup", "digits", "0000").await;
    b.click("#lookup").await;
    assert!(
        b.text("[role=alert]")
            .await
            .contains("Không tìm thấy hồ sơ")
    );
    fits(&b, "not found").await;
    axe(&b, "not found").await;
    b.shot("tra-cuu-3-khong-tim-thay").await;

    // A mistyped entry: the field is marked and named.
    b.fill("form.lookup", "code", &d.code).await;
    b.fill("form.lookup", "digits", "43").await;
    b.click("#lookup").await;
    assert_eq!(b.count("#digits[aria-invalid=true]").await, 1);
    axe(&b, "a mistyped entry").await;

    // Past the limit (6 a minute from this address, 3 made here): more over HTTP until the
    // bucket is empty for a while yet, then the browser's look-up gets 429.
    let mut refused = false;
    for _ in 0..30 {
        let resp = post_lookup(&app, &dossier(9999), "1111").await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            if wait >= 5 {
                refused = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        }
    }
    assert!(refused, "the look-ups were never limited");
    b.fill("form.lookup", "code", &d.code).await;
    b.fill("form.lookup", "digits", "4321").await;
    b.click("#lookup").await;
    let limited = b.text("main").await;
    assert!(limited.contains("Xin thử lại sau"), "{limited}");
    assert!(limited.contains("6 lần trong một phút"), "{limited}");
    fits(&b, "the limit").await;
    axe(&b, "the limit").await;
    b.shot("tra-cuu-4-qua-gioi-han").await;
    drop(b);
    app.stop().await;
}

#[test]
fn alone_means_alone() {
    assert!(stands_alone("code=x digits 6592 end", "6592"));
    assert!(stands_alone("GET /tra-cuu 6592", "6592"));
    assert!(!stands_alone("id=0196592a-77", "6592"));
    assert!(!stands_alone("took 1.6592ms", "6592"));
}
