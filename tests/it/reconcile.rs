//! The month's reconciliation with VNPost (issue 10 §3, "Đối soát"): shipments go through the
//! sandbox carrier, the sandbox is told to differ (a fee changed, an order left out of its
//! list, an order the gateway never made, COD paid out on some, a cancellation fee), and the
//! pull finds each difference and nothing else; through the library, the command line, and the
//! console page in a real browser, with the workbook read back.

use crate::carrier_loop::LOOP;
use crate::support::browser::{Browser, Driver};
use crate::support::*;
use bcci_gateway::domain::reconcile::{DifferenceKind, Month, Report};
use bcci_gateway::reconcile::{self, Starter};
use calamine::{Data, Reader, Xlsx};
use std::collections::BTreeSet;
use std::io::Cursor;
use std::time::{Duration, Instant};

/// The carrier loop, and COD due for payout at once, so that a COD collected today and not
/// paid out is already a difference.
fn overlay() -> String {
    format!("{LOOP}\n[reconcile]\ncod_payout_days = 0\n")
}

/// The shipments of the scenario, by role.
struct Scenario {
    month: Month,
    /// Deliveries with COD 30 000 ₫: `fee` gets a new fee at VNPost and is paid out; `paid`
    /// is paid out; `unpaid` is not.
    fee: (String, String),
    paid: (String, String),
    unpaid: (String, String),
    /// Pickups: `hidden` is left out of VNPost's list; `cancel_fee` gets a 29.
    hidden: (String, String),
    cancel_fee: (String, String),
}

fn item(s: &serde_json::Value) -> String {
    s["tracking_number"].as_str().unwrap().to_owned()
}

/// Five shipments, accepted by the sandbox carrier.
async fn submitted(app: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (kind, n) in [
        ("deliveries", 1),
        ("deliveries", 2),
        ("deliveries", 3),
        ("pickups", 4),
        ("pickups", 5),
    ] {
        let id = app.create_numbered(kind, n).await;
        let s = wait_for(app, &id, "submitted", Duration::from_secs(15)).await;
        out.push((id, item(&s)));
    }
    out
}

/// Walks every order to delivered; the tracking poller brings each step back.
async fn delivered(app: &TestApp, ids: &[(String, String)]) {
    let token = app.client_token();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        app.sandbox().advance();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut done = true;
        for (id, _) in ids {
            let s = json(app.get(&format!("/v1/shipments/{id}"), &token).await).await;
            done &= s["status"] == "delivered";
        }
        if done {
            return;
        }
        assert!(Instant::now() < until, "the journeys did not end");
    }
}

async fn pull(app: &TestApp, month: Month) -> reconcile::Pulled {
    let state = &app.gateway.as_ref().unwrap().state;
    reconcile::pull(
        &state.pool,
        &state.carrier,
        month,
        &Starter::command_line(),
        chrono::Utc::now(),
    )
    .await
    .expect("the pull")
}

async fn report(app: &TestApp, month: Month) -> Report {
    let state = &app.gateway.as_ref().unwrap().state;
    let mut conn = state.pool.get().await.unwrap();
    reconcile::report(&mut conn, &app.config, month, chrono::Utc::now())
        .await
        .unwrap()
        .expect("a pulled month")
        .1
}

fn differences(r: &Report) -> BTreeSet<(DifferenceKind, String)> {
    r.differences
        .iter()
        .map(|d| (d.kind, d.item_code.clone().unwrap_or_default()))
        .collect()
}

/// A clean month first (no difference at all), then the seeded one.
async fn scenario(app: &TestApp) -> Scenario {
    let month = Month::of(chrono::Utc::now());
    let s = submitted(app).await;
    let pulled = pull(app, month).await;
    assert_eq!(pulled.kept, 5, "{pulled:?}");
    let r = report(app, month).await;
    assert_eq!(differences(&r), BTreeSet::new(), "a clean month");
    assert_eq!(r.total.ledger_shipments, 5);
    assert_eq!(r.total.carrier_shipments, 5);
    assert!(r.total.ledger_fee_vnd > 0);
    assert_eq!(r.total.ledger_fee_vnd, r.total.carrier_fee_vnd);
    assert_eq!(r.total.cod_to_collect_vnd, 90_000);
    assert_eq!(r.total.cod_collected_vnd, 0);

    delivered(app, &s).await;
    let sb = app.sandbox();
    assert!(sb.seed_fee(&s[0].1, 99_000));
    assert!(sb.seed_report(&s[0].1, 21));
    assert!(sb.seed_report(&s[1].1, 21));
    assert!(sb.seed_hidden(&s[3].1));
    assert!(sb.seed_report(&s[4].1, 29));
    sb.seed_foreign_order("CONG-THONG-TIN-0001");
    // The sandbox's accelerated journey stamps each step a second after the last, so its
    // delivery times can run a few seconds ahead of the clock: wait until they are past, so
    // that "COD not paid out 0 days after delivery" is due.
    let until = Instant::now() + Duration::from_secs(30);
    while app
        .db
        .count("SELECT count(*) FROM shipments WHERE delivered_at > now()")
        .await
        > 0
    {
        assert!(Instant::now() < until, "delivery times stay in the future");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Scenario {
        month,
        fee: s[0].clone(),
        paid: s[1].clone(),
        unpaid: s[2].clone(),
        hidden: s[3].clone(),
        cancel_fee: s[4].clone(),
    }
}

fn foreign_item(app: &TestApp) -> String {
    app.sandbox()
        .orders()
        .into_iter()
        .find(|o| o.sale_order_code == "CONG-THONG-TIN-0001")
        .unwrap()
        .item_code
}

fn expected(app: &TestApp, sc: &Scenario) -> BTreeSet<(DifferenceKind, String)> {
    BTreeSet::from([
        (DifferenceKind::FeeDiffers, sc.fee.1.clone()),
        (DifferenceKind::MissingAtCarrier, sc.hidden.1.clone()),
        (DifferenceKind::MissingInLedger, foreign_item(app)),
        (DifferenceKind::CodNotPaidOut, sc.unpaid.1.clone()),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_seeded_difference_is_found_and_nothing_else_also_by_the_command() {
    let app = TestApp::spawn_with(&overlay()).await;
    let sc = scenario(&app).await;
    let pulled = pull(&app, sc.month).await;
    // The hidden pickup is not listed; the foreign order is.
    assert_eq!(pulled.kept, 5, "{pulled:?}");
    let r = report(&app, sc.month).await;
    assert_eq!(differences(&r), expected(&app, &sc));
    let fee = r
        .differences
        .iter()
        .find(|d| d.kind == DifferenceKind::FeeDiffers)
        .unwrap();
    assert_eq!(fee.carrier_vnd, Some(99_000));
    assert_ne!(fee.ledger_vnd, Some(99_000));
    assert_eq!(fee.shipment_id.unwrap().to_string(), sc.fee.0);
    // COD: three deliveries of 30 000 ₫ delivered, two paid out (21).
    assert_eq!(r.total.cod_collected_vnd, 90_000);
    assert_eq!(r.total.cod_paid_vnd, 60_000);
    assert_eq!(r.total.cod_outstanding_vnd, 30_000);
    let paid: BTreeSet<String> = r
        .cod
        .iter()
        .filter(|c| c.paid)
        .filter_map(|c| c.item_code.clone())
        .collect();
    assert_eq!(paid, BTreeSet::from([sc.fee.1.clone(), sc.paid.1.clone()]));
    // The cancellation fee (29).
    assert_eq!(r.cancel_fees.len(), 1);
    assert_eq!(r.cancel_fees[0].item_code, sc.cancel_fee.1);
    assert!(r.cancel_fees[0].fee_vnd > 0);
    assert_eq!(r.total.cancel_fees, 1);
    // The month's figures were replaced, not added to: one row per listed order.
    let rows = app
        .db
        .count(&format!(
            "SELECT count(*) FROM reconcile_carrier_orders WHERE month = '{}'",
            sc.month.first_day()
        ))
        .await;
    assert_eq!(rows, 5);
    assert_eq!(app.db.count("SELECT count(*) FROM reconcile_runs").await, 2);

    // The command line, against the same database and sandbox.
    let dir = std::env::temp_dir().join(format!("bcci-reconcile-{}", app.db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\ncreate_if_missing = false\n[carrier]\nbase_url = \"{}\"\n[reconcile]\ncod_payout_days = 0\n",
            app.db.url,
            app.sandbox().base_url()
        ),
    )
    .unwrap();
    let (xlsx, csv) = (dir.join("doi-soat.xlsx"), dir.join("doi-soat.csv"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bcci-gateway"))
        .args(["reconcile", "--month", &sc.month.to_string(), "--config"])
        .arg(&config)
        .arg("--xlsx")
        .arg(&xlsx)
        .arg("--csv")
        .arg(&csv)
        .env("BCCI_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("5 of "), "{stdout}");
    for (kind, item) in expected(&app, &sc) {
        assert!(
            stdout.contains(&format!("{} ", kind.as_str())) && stdout.contains(&item),
            "{kind:?} {item} not in:\n{stdout}"
        );
    }
    assert_eq!(stdout.matches("fee_differs ").count(), 1, "{stdout}");
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM reconcile_runs WHERE source = 'cli'")
            .await,
        3
    );
    // the staff's audit log records console pulls only
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE action = 'reconcile'")
            .await,
        0
    );
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(
        csv.starts_with("\u{feff}Chênh lệch,Đơn vị,Mã hồ sơ,Số hiệu bưu gửi"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.contains("Cước phí khác nhau,"), "{csv}");
    assert!(csv.contains(",99000,"), "{csv}");
    check_workbook(&std::fs::read(&xlsx).unwrap(), &app, &sc);
    let _ = std::fs::remove_dir_all(&dir);
}

fn cell(sheet: &calamine::Range<Data>, row: u32, col: u32) -> Data {
    sheet.get_value((row, col)).cloned().unwrap_or(Data::Empty)
}

/// The workbook, read back: four sheets in Vietnamese, amounts as numbers.
fn check_workbook(bytes: &[u8], app: &TestApp, sc: &Scenario) {
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).expect("an .xlsx workbook");
    assert_eq!(
        wb.sheet_names(),
        ["Tổng hợp", "COD", "Phí hủy", "Chênh lệch"]
    );
    let summary = wb.worksheet_range("Tổng hợp").unwrap();
    assert_eq!(cell(&summary, 0, 0), Data::String("Đơn vị".into()));
    assert_eq!(
        cell(&summary, 0, 2),
        Data::String("Cước theo sổ cổng".into())
    );
    assert_eq!(
        cell(&summary, 0, 8),
        Data::String("COD đã trả (mã 21)".into())
    );
    let last = summary.height() as u32 - 1;
    assert_eq!(cell(&summary, last, 0), Data::String("Tổng cộng".into()));
    // shipments: 5 in the ledger, 5 at VNPost (one hidden, one foreign)
    assert_eq!(cell(&summary, last, 1), Data::Float(5.0));
    assert_eq!(cell(&summary, last, 3), Data::Float(5.0));
    assert_eq!(cell(&summary, last, 7), Data::Float(90_000.0));
    assert_eq!(cell(&summary, last, 8), Data::Float(60_000.0));
    assert_eq!(cell(&summary, last, 9), Data::Float(30_000.0));
    assert_eq!(cell(&summary, last, 12), Data::Float(4.0));
    let cod = wb.worksheet_range("COD").unwrap();
    assert_eq!(cod.height(), 4);
    assert_eq!(cell(&cod, 0, 3), Data::String("Tiền thu hộ".into()));
    let fees = wb.worksheet_range("Phí hủy").unwrap();
    assert_eq!(fees.height(), 2);
    assert_eq!(cell(&fees, 1, 2), Data::String(sc.cancel_fee.1.clone()));
    let diffs = wb.worksheet_range("Chênh lệch").unwrap();
    assert_eq!(diffs.height(), 5);
    let rows: BTreeSet<(String, String)> = (1..5)
        .map(|r| {
            (
                cell(&diffs, r, 0).to_string(),
                cell(&diffs, r, 3).to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        BTreeSet::from([
            ("Cước phí khác nhau".into(), sc.fee.1.clone()),
            (
                "Không có trong danh sách của VNPost".into(),
                sc.hidden.1.clone()
            ),
            ("Không có trong sổ của cổng".into(), foreign_item(app)),
            ("Tiền thu hộ chưa được trả".into(), sc.unpaid.1.clone()),
        ])
    );
    let fee_row = (1..5)
        .find(|r| cell(&diffs, *r, 3) == Data::String(sc.fee.1.clone()))
        .unwrap();
    assert_eq!(cell(&diffs, fee_row, 6), Data::Float(99_000.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_runs_the_pull_and_shows_the_differences_and_the_downloads() {
    let app = TestApp::spawn_with(&overlay()).await;
    let sc = scenario(&app).await;
    let (_driver, client) = Driver::start().await;
    let b = Browser {
        c: client,
        app: &app,
        shots: std::env::var_os("BCCI_SCREENSHOTS").map(Into::into),
    };
    // Reading only: no button.
    b.sign_in(&app.staff_token("ke-toan", &["staff:read"], None))
        .await;
    b.goto(&format!("/console/doi-soat?month={}", sc.month))
        .await;
    assert!(b.text("h1").await.starts_with("Đối soát tháng"));
    assert_eq!(b.count("#pull").await, 0);
    // The figures of the clean pull are there already, with the download links.
    assert!(
        b.text("#pull-info")
            .await
            .starts_with("Lấy lần gần nhất lúc")
    );
    assert_eq!(b.count("#download-xlsx").await, 1);

    b.sign_in(&app.staff_token("ke-toan-2", &["staff:read", "staff:act"], None))
        .await;
    b.goto(&format!("/console/doi-soat?month={}", sc.month))
        .await;
    b.click("#pull").await;
    b.wait_path("/console/doi-soat").await;
    assert_eq!(
        b.text("#pull-notice").await,
        "Đã lấy danh sách đơn của VNPost và cập nhật số liệu đối soát."
    );
    // F5 after the redirect re-posts nothing: the URL is a GET.
    let url = b.c.current_url().await.unwrap();
    assert!(url.query().unwrap().contains("pulled=ok"), "{url}");
    assert_eq!(b.count("#reconcile-differences tbody tr").await, 4);
    for kind in [
        "fee_differs",
        "missing_at_carrier",
        "missing_in_ledger",
        "cod_not_paid_out",
    ] {
        assert_eq!(
            b.count(&format!("#reconcile-differences tr[data-kind='{kind}']"))
                .await,
            1,
            "{kind}"
        );
    }
    let fee_row = b
        .text("#reconcile-differences tr[data-kind='fee_differs']")
        .await;
    assert!(fee_row.contains("99.000 ₫"), "{fee_row}");
    assert!(fee_row.contains(&sc.fee.1), "{fee_row}");
    // Each difference of a known shipment links to its page.
    assert_eq!(
        b.count(&format!(
            "#reconcile-differences a[href='/console/shipments/{}']",
            sc.fee.0
        ))
        .await,
        1
    );
    let total = b.text("#cod-total").await;
    assert!(
        total.contains("90.000 ₫") && total.contains("60.000 ₫") && total.contains("30.000 ₫"),
        "{total}"
    );
    assert!(
        b.text("#reconcile-cancel-fees")
            .await
            .contains(&sc.cancel_fee.1)
    );
    assert_eq!(app.db.count("SELECT count(*) FROM audit_log WHERE action = 'reconcile' AND actor_id = 'ke-toan-2'").await, 1);
    b.shot("doi-soat").await;

    // The download links, fetched with the browser's session.
    let cookie = b.cookie().await.unwrap();
    let get = |href: String| {
        let http = app.http.clone();
        let url = app.url(&href);
        let cookie = cookie.clone();
        async move {
            http.get(url)
                .header("Cookie", format!("bcci_console={cookie}"))
                .send()
                .await
                .unwrap()
        }
    };
    let xlsx_href = b.href("#download-xlsx").await;
    let resp = get(xlsx_href).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("doi-soat-{}.xlsx", sc.month))
    );
    check_workbook(&resp.bytes().await.unwrap(), &app, &sc);
    let csv_href = b.href("#download-csv").await;
    let resp = get(csv_href).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");

    // One office: the other office's and the unknown orders' rows are left out.
    b.goto(&format!(
        "/console/doi-soat?month={}&office=VPDKDD-TQ",
        sc.month
    ))
    .await;
    assert_eq!(b.count("#reconcile-differences tbody tr").await, 3);
    let _ = b.c.close().await;
}
