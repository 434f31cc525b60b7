//! The staff console (issue 5) driven in a real browser: headless Chromium through
//! chromedriver (Debian's `chromium` and `chromium-driver`, installed by `.ci/run`) with
//! fantoccini, against the real gateway and PostgreSQL.
//!
//! Each test starts its own gateway (with the same small ledger) and its own browser, and walks
//! through one part of the console as staff would, so that one failure does not hide the rest.
//! A few checks that a browser cannot make (a form posted without its anti-forgery token, a
//! signed-out cookie used again) use plain HTTP with the browser's cookie. With
//! `BCCI_SCREENSHOTS=<dir>` the tests save screenshots there (the README's come from
//! `BCCI_SCREENSHOTS=docs/screenshots`).

use crate::support::browser::{Browser, Driver};
use crate::support::*;
use bcci_gateway::domain::Source;
use bcci_gateway::ledger::carrier_reports::{self, CarrierReport};
use bcci_gateway::ledger::lateness;
use chrono::{Duration, FixedOffset, Utc};
use diesel_async::RunQueryDsl;
use fantoccini::Locator;
use serde_json::json;
use uuid::Uuid;

fn report(code: i32, text: &str, note: Option<&str>, ago_minutes: i64) -> CarrierReport {
    CarrierReport {
        code,
        text: text.into(),
        at: Utc::now() - Duration::minutes(ago_minutes),
        note: note.map(str::to_owned),
    }
}

async fn sql(app: &TestApp, q: &str) {
    let mut conn = app.db.conn().await;
    diesel::sql_query(q).execute(&mut conn).await.unwrap();
}

/// Five shipments, requested six hours ago: a pickup the carrier refused (`rejected`), a
/// delivery delivered after its appointment (`late`), one delivered in time, a pickup whose
/// submission gave up (`waiting`, with a carrier code nobody knows) and a late delivery the
/// carrier has gone quiet about; besides, a report for a parcel the ledger does not know and
/// a dossier system that stopped taking callbacks.
struct Ledger {
    rejected: Uuid,
    late: Uuid,
    on_time: Uuid,
    waiting: Uuid,
}

async fn created(app: &TestApp, kind: &str, key: &str, body: &serde_json::Value) -> Uuid {
    app.create_ok(kind, key, body).await.parse().unwrap()
}

async fn ledger(app: &TestApp) -> Ledger {
    let rejected = created(app, "pickups", "c-501", &pickup_body(&dossier(501))).await;
    let mut late_body = delivery_body(&dossier(502));
    late_body["recipient"]["phone"] = json!("0987654321");
    let late = created(app, "deliveries", "c-502", &late_body).await;
    let mut on_time_body = delivery_body(&dossier(503));
    on_time_body["recipient"] = json!({"full_name": "Lê Văn Cường", "phone": "0901112233"});
    let on_time = created(app, "deliveries", "c-503", &on_time_body).await;
    let mut waiting_body = pickup_body(&dossier(504));
    waiting_body["citizen"] = json!({"full_name": "Phạm Thị Dung", "phone": "0977000111"});
    let waiting = created(app, "pickups", "c-504", &waiting_body).await;
    let mut quiet_body = delivery_body(&dossier(505));
    quiet_body["recipient"] = json!({"full_name": "Hoàng Văn Em", "phone": "0966555444"});
    let quiet = created(app, "deliveries", "c-505", &quiet_body).await;
    sql(
        app,
        "UPDATE shipments SET created_at = created_at - interval '6 hours'",
    )
    .await;
    sql(
        app,
        &format!("UPDATE shipments SET due_at = now() - interval '2 hours' WHERE id = '{late}'"),
    )
    .await;
    sql(
        app,
        &format!("UPDATE shipments SET due_at = now() + interval '2 days' WHERE id = '{on_time}'"),
    )
    .await;
    sql(
        app,
        &format!("UPDATE shipments SET due_at = now() - interval '1 hour' WHERE id = '{quiet}'"),
    )
    .await;
    let mut conn = app.db.conn().await;
    let poll_after = Duration::minutes(10);
    let journeys: [(Uuid, &str, Vec<CarrierReport>); 5] = [
        (
            rejected,
            "EB000000501VN",
            vec![
                report(
                    5,
                    "Thu gom không thành công",
                    Some("Không liên lạc được người gửi"),
                    240,
                ),
                report(8, "Thu gom không thành công, hủy đơn", None, 180),
            ],
        ),
        (
            late,
            "EB000000502VN",
            vec![
                report(6, "Đã nhận hàng", None, 300),
                report(12, "Đang phát", None, 200),
                report(
                    15,
                    "Phát không thành công",
                    Some("Người nhận vắng nhà"),
                    150,
                ),
                report(12, "Đang phát", None, 100),
                report(14, "Phát thành công", None, 30),
            ],
        ),
        (
            on_time,
            "EB000000503VN",
            vec![
                report(6, "Đã nhận hàng", None, 240),
                report(12, "Đang phát", None, 120),
                report(14, "Phát thành công", None, 10),
            ],
        ),
        (
            quiet,
            "EB000000505VN",
            vec![
                report(6, "Đã nhận hàng", None, 300),
                report(10, "Đang vận chuyển", None, 280),
            ],
        ),
        // a code the gateway does not know
        (
            waiting,
            "EB000000504VN",
            vec![report(99, "Trạng thái thử nghiệm", None, 60)],
        ),
    ];
    for (id, tracking, reps) in journeys {
        carrier_reports::apply(
            &mut conn,
            &Default::default(),
            id,
            &reps,
            Source::CarrierPush,
            Some(tracking),
            poll_after,
        )
        .await
        .unwrap();
    }
    lateness::sweep(&mut conn, Duration::hours(48), 100)
        .await
        .unwrap();
    // the carrier has said nothing about `quiet` for four hours
    sql(
        app,
        &format!(
            "UPDATE shipments SET last_report_at = now() - interval '4 hours' WHERE id = '{quiet}'"
        ),
    )
    .await;
    // the carrier submission of `waiting` gave up; the carrier reported a parcel nobody knows;
    // the dossier system's endpoint answered 410
    sql(
        app,
        &format!(
            "UPDATE jobs SET state = 'dead', last_error = 'gave up after 24h: the carrier is unavailable' \
             WHERE shipment_id = '{waiting}' AND kind = 'carrier_submit'"
        ),
    )
    .await;
    sql(
        app,
        "INSERT INTO carrier_pushes (item_code, sale_order_code, status_code, status_text, status_at, outcome, data, send_date) \
         VALUES ('EB999999999VN', NULL, 6, 'Đã nhận hàng', now(), 'unknown_shipment', '{}', now())",
    )
    .await;
    sql(
        app,
        "INSERT INTO client_callbacks (client_id, enabled, disabled_at, disabled_reason) \
         VALUES ('motcua-tq', false, now(), 'the endpoint answered 410 Gone')",
    )
    .await;
    Ledger {
        rejected,
        late,
        on_time,
        waiting,
    }
}

fn vn_date(d: chrono::DateTime<Utc>) -> String {
    d.with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap())
        .format("%d/%m/%Y")
        .to_string()
}

/// One test's gateway, ledger and browser.
struct Console<'a> {
    app: &'a TestApp,
    l: &'a Ledger,
    b: Browser<'a>,
    http: reqwest::Client,
    _driver: Driver,
}

/// A gateway with the ledger above.
async fn start() -> (TestApp, Ledger) {
    let app = TestApp::spawn_with("[console]\nquiet_after = \"2h\"\n").await;
    let l = ledger(&app).await;
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) FROM shipments WHERE late AND id = '{}'",
                l.late
            ))
            .await,
        1
    );
    (app, l)
}

impl<'a> Console<'a> {
    async fn open(app: &'a TestApp, l: &'a Ledger) -> Console<'a> {
        let (_driver, client) = Driver::start().await;
        let b = Browser {
            c: client,
            app,
            shots: std::env::var_os("BCCI_SCREENSHOTS").map(Into::into),
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Console {
            app,
            l,
            b,
            http,
            _driver,
        }
    }

    /// Signs in as the officer (every staff scope), landing on the search page.
    async fn sign_in_officer(&self) {
        self.b.sign_in(&officer(self.app)).await;
        self.b.wait_path("/console/search").await;
    }

    async fn close(self) {
        self.b.c.close().await.unwrap();
    }
}

/// One scenario in a fresh gateway and browser (signed in as the officer if `officer`), so
/// that one failing scenario does not hide the others.
async fn in_console(officer: bool, scenario: impl AsyncFnOnce(&Console<'_>)) {
    let (app, l) = start().await;
    let c = Console::open(&app, &l).await;
    if officer {
        c.sign_in_officer().await;
    }
    scenario(&c).await;
    c.close().await;
    app.stop().await;
}

/// The anti-forgery token of the form on the page at `url`, as the session sees it.
async fn csrf_of(http: &reqwest::Client, url: &str, session: &str) -> String {
    let page = send_text(
        http.get(url)
            .header("Cookie", format!("bcci_console={session}")),
    )
    .await;
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned()
}

fn officer(app: &TestApp) -> String {
    app.staff_token("can-bo-1", &["staff:read", "staff:pii", "staff:act"], None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_speaks_plain_vietnamese() {
    in_console(true, async |c| reading_the_timeline(c).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_takes_a_staff_token() {
    in_console(false, async |c| signing_in(c).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_by_dossier_phone_and_name() {
    in_console(true, async |c| {
        searching(c).await;
        phone_screen(c).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attention_lists_each_problem_with_its_action() {
    in_console(true, async |c| needing_attention(c).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_pickup_is_retried_with_a_corrected_address() {
    in_console(true, async |c| retrying_the_rejected_pickup(c).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_result_gets_an_apology_letter() {
    in_console(true, async |c| writing_the_apology_letter(c).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_counts_the_week() {
    let (app, l) = start().await;
    let mut c = Console::open(&app, &l).await;
    c.sign_in_officer().await;
    // the report counts what is rejected now: the retry first (its screenshots are the retry
    // test's)
    let shots = c.b.shots.take();
    retrying_the_rejected_pickup(&c).await;
    c.b.shots = shots;
    reading_the_report(&c).await;
    c.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_the_anti_forgery_token_is_refused() {
    in_console(true, async |c| forging_a_form(c).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session() {
    in_console(true, async |c| signing_out(c).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_read_sees_masked_data_and_no_action() {
    in_console(false, async |c| reading_only(c).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_expired_sessions_are_refused() {
    in_console(false, async |c| forging_or_expiring_the_cookie(c).await).await;
}

/// Sign-in: a dossier system's token is refused; staff land on the page first asked for.
async fn signing_in(c: &Console<'_>) {
    let Console { app, l, b, .. } = c;
    let officer = officer(app);
    // Not signed in: the console sends the browser to the sign-in page, and back afterwards.
    b.goto(&format!("/console/shipments/{}", l.waiting)).await;
    b.wait_path("/console/sign-in").await;
    b.shot("01-dang-nhap").await;
    // A dossier system's token does not open the console.
    b.fill(
        "form[action='/console/sign-in']",
        "token",
        &app.client_token(),
    )
    .await;
    b.click("#sign-in").await;
    assert!(
        b.text("[role=alert]")
            .await
            .contains("không dành cho cán bộ"),
        "a client token must be refused"
    );
    assert!(b.cookie().await.is_none());

    // Sign in (on the same page): back to the page first asked for, with an HttpOnly,
    // SameSite=Strict session cookie that expires.
    b.fill("form[action='/console/sign-in']", "token", &officer)
        .await;
    b.click("#sign-in").await;
    b.wait_path(&format!("/console/shipments/{}", l.waiting))
        .await;
    let cookie = b.c.get_named_cookie("bcci_console").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    assert_eq!(cookie.path(), Some("/console"));
    assert!(
        cookie.expires().is_some(),
        "the session cookie has an expiry"
    );
    assert!(b.text("header .user").await.contains("Nguyễn Thị Cán Bộ"));
    b.goto("/console/search").await;
    assert_eq!(b.count("table.list tbody tr").await, 5);
}

/// Search by dossier code, by the last digits of a phone, by a name without diacritics.
async fn searching(c: &Console<'_>) {
    let Console { b, .. } = c;
    // Search by dossier code: exactly that dossier.
    b.fill("form[role=search]", "q", &dossier(502)).await;
    b.click("#search-submit").await;
    b.wait_path("/console/search").await;
    let rows = b.text("table.list tbody").await;
    assert!(rows.contains(&dossier(502)), "{rows}");
    assert_eq!(b.count("table.list tbody tr").await, 1, "{rows}");
    assert!(
        rows.contains("Trần Thị Bình"),
        "staff:pii sees names: {rows}"
    );
    // By the last digits of the phone: only the citizen whose number ends so.
    b.goto("/console/search?q=5678").await;
    let rows = b.text("table.list tbody").await;
    assert_eq!(b.count("table.list tbody tr").await, 1, "{rows}");
    assert!(
        rows.contains(&dossier(501)) && rows.contains("0912345678"),
        "{rows}"
    );
    // By name, typed without diacritics.
    b.goto("/console/search?q=tran+binh").await;
    assert!(b.text("table.list tbody").await.contains(&dossier(502)));
    b.shot("02-tim-kiem").await;
}

/// A phone-sized screen (only for the screenshots).
async fn phone_screen(c: &Console<'_>) {
    let Console { b, .. } = c;
    // A phone-sized screen: the same pages, tables as cards.
    if b.shots.is_some() {
        b.c.set_window_size(390, 844).await.unwrap();
        b.goto("/console/search?q=5678").await;
        b.shot("09-dien-thoai").await;
        b.c.set_window_size(1280, 1000).await.unwrap();
    }
}

/// Needs attention: each item, with the action that resolves it.
async fn needing_attention(c: &Console<'_>) {
    let Console { app, l, b, .. } = c;
    // Needs attention: each item, with the action that resolves it.
    b.goto("/console/attention").await;
    let section = |id: &'static str| b.text(id);
    assert!(section("#rejected").await.contains(&dossier(501)));
    assert!(section("#dead-jobs").await.contains(&dossier(504)));
    assert!(
        section("#unknown-codes")
            .await
            .contains("Trạng thái thử nghiệm")
    );
    assert!(
        section("#unknown-shipments")
            .await
            .contains("EB999999999VN")
    );
    assert!(section("#clients").await.contains("motcua-tq"));
    let quiet = section("#quiet").await;
    assert!(
        quiet.contains(&dossier(505)) && !quiet.contains(&dossier(504)),
        "{quiet}"
    );
    assert!(section("#late").await.contains(&dossier(505)));
    // worklists name the citizen, with the phone to call
    let late = section("#late").await;
    assert!(
        late.contains("Hoàng Văn Em") && late.contains("0966555444"),
        "{late}"
    );
    assert_eq!(b.count("#late a[href='tel:0966555444']").await, 1);
    assert_eq!(b.count("#quiet a[href='tel:0966555444']").await, 1);
    assert_eq!(b.count("#rejected a[href='tel:0912345678']").await, 1);
    assert!(
        section("#quiet h2")
            .await
            .contains("Không có tin mới quá 2 giờ")
    );
    assert_eq!(
        b.count(&format!(
            "#rejected a[href='/console/shipments/{}#retry-form']",
            l.rejected
        ))
        .await,
        1
    );
    b.shot("05-can-xu-ly").await;
    b.fill(
        "#unknown-shipments form",
        "reason",
        "Đơn của đơn vị khác, đã báo bưu điện",
    )
    .await;
    b.click("#unknown-shipments form button").await;
    assert!(section("#unknown-shipments").await.contains("Không có."));
    b.fill(
        "#clients form",
        "reason",
        "Hệ thống một cửa đã hoạt động lại",
    )
    .await;
    b.click("#clients form button").await;
    assert!(section("#clients").await.contains("Không có."));
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE action IN ('acknowledge', 'enable_client_callbacks') AND actor_id = 'can-bo-1'")
            .await,
        2
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM client_callbacks WHERE enabled")
            .await,
        1
    );
}

/// The rejected pickup: a wrong commune refused on the form, then retried.
async fn retrying_the_rejected_pickup(c: &Console<'_>) {
    let Console { app, l, b, .. } = c;
    // The rejected pickup: its timeline, then a retry with a corrected address.
    b.goto(&format!("/console/search?q={}", dossier(501))).await;
    b.click("a.dossier").await;
    b.wait_path(&format!("/console/shipments/{}", l.rejected))
        .await;
    assert_eq!(b.text("#status").await, "Bị từ chối");
    let timeline = b.text("#timeline").await;
    assert!(
        timeline.contains("Bưu điện báo mã 5: Thu gom không thành công."),
        "{timeline}"
    );
    assert!(
        timeline.contains("Không liên lạc được người gửi"),
        "{timeline}"
    );
    assert!(timeline.contains("→ Bị từ chối"), "{timeline}");
    assert_eq!(b.count("#audit-log").await, 0);
    // a commune of another province is refused, in Vietnamese, on the form
    b.fill("#retry-form", "commune_code", "00004").await;
    b.fill("#retry-form", "reason", "Công dân báo lại địa chỉ")
        .await;
    b.click("#retry-submit").await;
    let error = b.text("#commune-error").await;
    assert!(error.contains("không thuộc"), "{error}");
    assert_eq!(b.text("#status").await, "Bị từ chối");
    // POST-redirect-GET: the browser is back on the page (F5 re-posts nothing), scrolled to
    // the message, which is in the refused form itself
    let url = b.c.current_url().await.unwrap();
    assert_eq!(url.path(), format!("/console/shipments/{}", l.rejected));
    assert_eq!(url.fragment(), Some("refused"), "{url}");
    assert_eq!(b.count("#retry-form #refused").await, 1);
    b.shot("04-sua-dia-chi-loi").await;
    b.fill("#retry-form", "address_line", "Số 45, tổ 7").await;
    b.fill("#retry-form", "commune_code", "00691").await;
    b.fill(
        "#retry-form",
        "reason",
        "Công dân xác nhận lại địa chỉ qua điện thoại",
    )
    .await;
    b.click("#retry-submit").await;
    assert!(b.text("#done").await.contains("Đã gửi lại"));
    assert_eq!(b.text("#status").await, "Chờ bưu điện nhận đơn");
    let audit = b.text("#audit-log").await;
    assert!(audit.contains("Gửi lại đơn"), "{audit}");
    assert!(
        audit.contains("Công dân xác nhận lại địa chỉ qua điện thoại"),
        "{audit}"
    );
    assert!(audit.contains("Nguyễn Thị Cán Bộ (can-bo-1)"), "{audit}");
    assert!(
        audit.contains("sửa tỉnh/xã: 08/02215 → 08/00691"),
        "{audit}"
    );
    assert_eq!(b.text("#person-address").await, "Số 45, tổ 7");
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) FROM shipments WHERE id = '{}' AND commune_code = '00691' AND status = 'requested'",
                l.rejected
            ))
            .await,
        1
    );
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) FROM audit_log WHERE action = 'retry' AND actor_id = 'can-bo-1'"
            )
            .await,
        1
    );
    b.shot("03-ho-so").await;

    // Nothing is rejected any more.
    b.goto("/console/attention").await;
    assert!(b.text("#rejected").await.contains("Không có."));
}

/// Late results and the apology letter.
async fn writing_the_apology_letter(c: &Console<'_>) {
    let Console { app, l, b, .. } = c;
    // Late results: the late delivery, and its apology letter.
    b.goto("/console/late").await;
    let late = b.text("#late-list").await;
    assert!(late.contains(&dossier(502)), "{late}");
    assert!(!late.contains(&dossier(503)), "on time is not late: {late}");
    b.shot("06-tre-han").await;
    b.click(&format!("a[href='/console/shipments/{}/letter']", l.late))
        .await;
    b.wait_path(&format!("/console/shipments/{}/letter", l.late))
        .await;
    let new_date = Utc::now() + Duration::days(5);
    b.fill(
        "#letter-form",
        "new_date",
        &new_date
            .with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap())
            .format("%d/%m/%Y")
            .to_string(),
    )
    .await;
    b.fill(
        "#letter-form",
        "reason",
        "người nhận vắng nhà khi bưu tá đến phát",
    )
    .await;
    b.click("#letter-submit").await;
    let letter = b.text("#letter").await;
    assert!(b.path().await.starts_with("/console/letters/"));
    for expected in [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "SỞ NÔNG NGHIỆP VÀ MÔI TRƯỜNG TỈNH TUYÊN QUANG",
        "THƯ XIN LỖI",
        "Kính gửi: Ông/Bà Trần Thị Bình",
        &dossier(502),
        "Đăng ký biến động quyền sử dụng đất",
        "người nhận vắng nhà khi bưu tá đến phát",
        "Văn phòng Đăng ký đất đai tỉnh Tuyên Quang thành thật xin lỗi",
    ] {
        assert!(
            letter.contains(expected),
            "the letter lacks {expected:?}:\n{letter}"
        );
    }
    let shipment = json(
        app.get(&format!("/v1/shipments/{}", l.late), &app.client_token())
            .await,
    )
    .await;
    let due_at: chrono::DateTime<Utc> = shipment["due_at"].as_str().unwrap().parse().unwrap();
    let due = vn_date(due_at);
    assert!(letter.contains(&format!("vào ngày {due}")), "{letter}");
    assert!(
        letter.contains(&format!("là ngày {}", vn_date(new_date))),
        "{letter}"
    );
    // the print button appears (the page's own script), and the letter prints
    assert!(
        b.c.find(Locator::Css("[data-print]"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );
    let pdf = b.c.print(Default::default()).await.unwrap();
    assert!(pdf.starts_with(b"%PDF") && pdf.len() > 1000);
    b.shot("07-thu-xin-loi").await;
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE action = 'apology_letter'")
            .await,
        1
    );
}

/// The last week's report, its charts and its CSV.
async fn reading_the_report(c: &Console<'_>) {
    let Console { app, b, http, .. } = c;
    // The report for the last week: numbers, charts and the CSV.
    let today = Utc::now().with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap());
    b.goto(&format!(
        "/console/reports?from={}&to={}",
        (today - Duration::days(6)).format("%d/%m/%Y"),
        today.format("%d/%m/%Y")
    ))
    .await;
    assert_eq!(b.count("svg.chart").await, 3);
    let summary = b.text("#summary").await;
    for line in [
        "Số yêu cầu 2 3 5",
        // a pickup is collected, not delivered
        "Đã nhận hồ sơ / Đã giao 0 2 2",
        "Nhận đúng hạn / Giao đúng hạn 0 1 1",
        "Tỷ lệ đúng hạn (%) – 50,0% 50,0%",
        "Bị từ chối 0 0 0",
    ] {
        assert!(summary.contains(line), "{line:?} not in\n{summary}");
    }
    let failures = b.text("#failures").await;
    assert!(failures.contains("Người nhận vắng nhà"), "{failures}");
    assert!(
        failures.contains("Không liên lạc được người gửi"),
        "{failures}"
    );
    b.shot("08-bao-cao").await;
    let csv_href = b.href("#csv-link").await;
    let session = b.cookie().await.unwrap();
    let resp = http
        .get(app.url(&csv_href))
        .header("Cookie", format!("bcci_console={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = resp.text().await.unwrap();
    for row in [
        "Mục,Chỉ tiêu,Thu gom hồ sơ,Trả kết quả,Tổng",
        "Tổng hợp,Số yêu cầu,2,3,5",
        "Tổng hợp,Tỷ lệ đúng hạn (%),,50.0,50.0",
        "Không thành công,Mã 15 – Phát không thành công: Người nhận vắng nhà,,,1",
        "Không thành công,Mã 5 – Thu gom không thành công: Không liên lạc được người gửi,,,1",
    ] {
        assert!(csv.contains(row), "{row:?} not in\n{csv}");
    }
}

/// Forms without the anti-forgery token.
async fn forging_a_form(c: &Console<'_>) {
    let Console {
        app, l, b, http, ..
    } = c;
    let session = b.cookie().await.unwrap();
    // A form without the session's anti-forgery token is refused, and changes nothing.
    let cancel = app.url(&format!("/console/shipments/{}/cancel", l.waiting));
    for form in [
        vec![("reason", "thử")],
        vec![("reason", "thử"), ("csrf", "not-the-token")],
    ] {
        let resp = http
            .post(&cancel)
            .header("Cookie", format!("bcci_console={session}"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert!(resp.text().await.unwrap().contains("chống giả mạo"));
    }
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) FROM shipments WHERE id = '{}' AND status = 'requested'",
                l.waiting
            ))
            .await,
        1
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE action = 'cancel'")
            .await,
        0
    );
}

/// Sign-out ends the session.
async fn signing_out(c: &Console<'_>) {
    let Console { app, b, http, .. } = c;
    let session = b.cookie().await.unwrap();
    // Sign-out ends the session: the old cookie opens nothing.
    b.click("#sign-out").await;
    b.wait_path("/console/sign-in").await;
    assert!(b.text(".notice.ok").await.contains("đã đăng xuất"));
    let resp = http
        .get(app.url("/console/search"))
        .header("Cookie", format!("bcci_console={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/console/sign-in")
    );
    assert_eq!(
        app.db.count("SELECT count(*) FROM console_sessions").await,
        0
    );
}

/// staff:read: masked, no action.
async fn reading_only(c: &Console<'_>) {
    let Console {
        app, l, b, http, ..
    } = c;
    let cancel = app.url(&format!("/console/shipments/{}/cancel", l.waiting));
    // staff:read: names and phones masked, no action anywhere.
    let reader = app.staff_token("can-bo-2", &["staff:read"], None);
    b.sign_in(&reader).await;
    b.wait_path("/console/search").await;
    b.goto(&format!("/console/shipments/{}", l.late)).await;
    assert_eq!(b.text("#person-name").await, "Trần T** B***");
    assert_eq!(b.text("#person-phone").await, "098****321");
    assert!(!b.text("#person-address").await.contains("Thôn"));
    assert_eq!(
        b.count(
            "#actions, form[action*='/retry'], form[action*='/cancel'], form[action*='/replay']"
        )
        .await,
        0
    );
    b.shot("10-chi-xem").await;
    b.goto("/console/search?q=0987654321").await;
    let rows = b.text("table.list tbody").await;
    assert!(
        rows.contains("098****321") && !rows.contains("0987654321"),
        "{rows}"
    );
    b.goto("/console/late").await;
    assert_eq!(b.count("a[href$='/letter']").await, 0);
    // worklists mask the phone for staff:read, and offer no number to call
    let late = b.text("#late-list").await;
    assert!(
        late.contains("096****444") && !late.contains("0966555444"),
        "{late}"
    );
    b.goto("/console/attention").await;
    assert_eq!(b.count("a[href^='tel:']").await, 0);
    assert!(!b.text("#late").await.contains("0966555444"));
    b.goto(&format!("/console/shipments/{}", l.waiting)).await;
    assert_eq!(b.count("#cancel-form").await, 0);
    // and the action itself is refused, even with the right token
    let reader_session = b.cookie().await.unwrap();
    let csrf = csrf_of(
        http,
        &app.url(&format!("/console/shipments/{}", l.waiting)),
        &reader_session,
    )
    .await;
    let resp = http
        .post(&cancel)
        .header("Cookie", format!("bcci_console={reader_session}"))
        .form(&[("reason", "thử"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

/// A forged cookie and an expired session.
async fn forging_or_expiring_the_cookie(c: &Console<'_>) {
    let Console { app, l, b, .. } = c;
    let reader = app.staff_token("can-bo-2", &["staff:read"], None);
    // A forged cookie is refused… (a cookie is set for the page's own host: be on one first)
    b.goto("/console/sign-in").await;
    b.c.delete_cookie("bcci_console").await.unwrap();
    let forged = fantoccini::cookies::Cookie::parse(
        "bcci_console=Zm9yZ2VkLXNlc3Npb24taWQ; Domain=127.0.0.1; Path=/console; SameSite=Strict; HttpOnly",
    )
    .unwrap();
    b.c.add_cookie(forged).await.unwrap();
    assert_eq!(b.cookie().await.as_deref(), Some("Zm9yZ2VkLXNlc3Npb24taWQ"));
    b.goto("/console/search").await;
    b.wait_path("/console/sign-in").await;
    assert!(b.cookie().await.is_none(), "the refused cookie is removed");
    // …and so is an expired session.
    b.sign_in(&reader).await;
    b.wait_path("/console/search").await;
    sql(
        app,
        "UPDATE console_sessions SET expires_at = now() - interval '1 second'",
    )
    .await;
    b.goto(&format!("/console/shipments/{}", l.on_time)).await;
    b.wait_path("/console/sign-in").await;
}

/// The timeline in words (issue 10 §2): typed sentences, no English or Rust debug text, Vietnam
/// time, a job's retries as one row with a count; a refusal of the office's data points to
/// the configuration; dates typed dd/mm/yyyy.
async fn reading_the_timeline(c: &Console<'_>) {
    let Console {
        app, l, b, http, ..
    } = c;
    // the submission of `waiting` failed 30 times before it gave up, and once it succeeded
    // the answer was kept as Rust debug text
    sql(
        app,
        &format!(
            "INSERT INTO job_attempts (job_id, attempt, worker, started_at, duration_ms, outcome, error_class, excerpt) \
             SELECT j.id, g, 1, now() - interval '5 hours' + g * interval '20 seconds', 5, 'transient', 'connect', \
                    'cannot connect: error sending request for url' \
             FROM jobs j, generate_series(1, 30) g \
             WHERE j.shipment_id = '{}' AND j.kind = 'carrier_submit'",
            l.waiting
        ),
    )
    .await;
    b.goto(&format!("/console/shipments/{}", l.waiting)).await;
    let timeline = b.text("#timeline").await;
    for english in [
        "Submitted {",
        "order created",
        "cannot connect",
        "error sending",
        "late: due",
        "+00:00",
        "Cổng gateway",
        "(tự báo)",
    ] {
        assert!(!timeline.contains(english), "{english:?} in\n{timeline}");
    }
    assert_eq!(b.count("#timeline tr.grouped").await, 1, "{timeline}");
    let grouped = b.text("#timeline tr.grouped").await;
    assert!(grouped.contains("30 lần"), "{grouped}");
    assert!(
        grouped.contains("không kết nối được tới bưu điện"),
        "{grouped}"
    );
    // seconds where attempts share a minute
    assert!(
        regex_lite_seconds(&grouped),
        "times to the second: {grouped}"
    );
    assert!(
        b.count("#timeline tbody tr").await <= 6,
        "the retries do not bury the reports: {timeline}"
    );
    assert!(timeline.contains("Bưu điện báo (tự động)"), "{timeline}");
    assert!(
        timeline.contains("Bưu điện báo mã 99: Trạng thái thử nghiệm."),
        "{timeline}"
    );
    // the technical text is behind a disclosure
    assert_eq!(
        b.count("#timeline tr.grouped details.technical summary")
            .await,
        1
    );

    // the late delivery: lateness in Vietnam time, never a UTC timestamp
    b.goto(&format!("/console/shipments/{}", l.late)).await;
    let timeline = b.text("#timeline").await;
    assert!(
        timeline.contains("Quá ngày hẹn trả kết quả (hạn"),
        "{timeline}"
    );
    assert!(
        !timeline.contains("+00:00") && !timeline.contains("late:"),
        "{timeline}"
    );
    assert!(timeline.contains("Cổng kết nối"), "{timeline}");

    // the carrier refuses the office's own data (the sender of a delivery): no citizen form,
    // the configuration named instead
    sql(
        app,
        &format!(
            "UPDATE shipments SET status = 'rejected', status_reason = \
             'the carrier refused the order: Số điện thoại người gửi không hợp lệ (informationOrder.senderPhone)' \
             WHERE id = '{}'",
            l.on_time
        ),
    )
    .await;
    b.goto(&format!("/console/shipments/{}", l.on_time)).await;
    let reason = b.text("#status-reason").await;
    assert!(
        reason.contains("Số điện thoại người gửi không hợp lệ") && !reason.contains("the carrier"),
        "{reason}"
    );
    assert!(b.text("#office-config").await.contains("[[offices]]"));
    assert_eq!(b.count("#retry-form").await, 0);
    assert_eq!(b.count("#retry-office-form").await, 1);
    b.shot("11-tu-choi-don-vi").await;

    // a refused POST answers with a redirect (F5 then re-posts nothing)
    let session = b.cookie().await.unwrap();
    let csrf = csrf_of(
        http,
        &app.url(&format!("/console/shipments/{}", l.waiting)),
        &session,
    )
    .await;
    let resp = http
        .post(app.url(&format!("/console/shipments/{}/cancel", l.waiting)))
        .header("Cookie", format!("bcci_console={session}"))
        .form(&[("reason", "   "), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let to = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.ends_with("form=cancel&err=reason#refused"), "{to}");
    b.goto(&to).await;
    assert!(
        b.text("#cancel-form #refused")
            .await
            .contains("Chưa gửi được")
    );

    // dates typed dd/mm/yyyy, whatever the browser's language
    // every shipment was created six hours ago: that Vietnamese day finds them all, the next
    // day none
    let created = Utc::now() - Duration::hours(6);
    let vn = FixedOffset::east_opt(7 * 3600).unwrap();
    let day = created.with_timezone(&vn).format("%d/%m/%Y").to_string();
    let next = (created + Duration::days(1))
        .with_timezone(&vn)
        .format("%d/%m/%Y")
        .to_string();
    b.goto("/console/search").await;
    b.fill("form[role=search]", "from", &day).await;
    b.fill("form[role=search]", "to", &day).await;
    b.click("#search-submit").await;
    assert_eq!(b.count("p.notice.bad").await, 0);
    assert_eq!(b.count("table.list tbody tr").await, 5);
    let from = b.c.find(Locator::Css("#from")).await.unwrap();
    assert_eq!(from.attr("type").await.unwrap().as_deref(), Some("text"));
    assert_eq!(
        from.prop("value").await.unwrap().as_deref(),
        Some(day.as_str())
    );
    b.goto(&format!("/console/search?from={next}")).await;
    assert_eq!(b.count("table.list tbody tr").await, 0);
    b.goto("/console/search?from=31/02/2026").await;
    assert!(b.text("p.notice.bad").await.contains("dd/mm/yyyy"));
}

/// `dd/mm/yyyy HH:MM:SS` somewhere in `text`.
fn regex_lite_seconds(text: &str) -> bool {
    text.split_whitespace().any(|w| {
        let p: Vec<&str> = w.trim_end_matches([',', '.', ')']).split(':').collect();
        p.len() == 3
            && p.iter()
                .all(|x| x.len() == 2 && x.chars().all(|c| c.is_ascii_digit()))
    })
}
