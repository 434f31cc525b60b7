//! The contract fixtures (tests/fixtures/vnpost/<call>/<expectation>[-<http status>]-<shape>.json)
//! run through the adapter's own parsers ([`super::vnpost::parse`]).
//!
//! The expectation is the file name's first word: `ok` (the call's canonical value below, the
//! same for every shape), `none`/`empty` (no order, no history), `done`/`waiting`/`declined`
//! (a cancel outcome), or an error class (`refused`, `server`, `auth`, `protocol`). Every
//! refusal carries the same carrier message, which must come out as the error's message.

use super::vnpost::{Answer, parse};
use super::*;
use chrono::{TimeZone, Utc};
use std::path::Path;

const REFUSAL: &str = "Mã phường/xã người nhận không hợp lệ";
const ITEM: &str = "EB123456785VN";
const SALE_ORDER_CODE: &str = "BCCI-0001";
const CASE_ID: &str = "CASE0001";
/// Every fixture file: the test fails if one is added, lost or not read.
const FIXTURES: usize = 86;

#[derive(Debug, PartialEq)]
enum Parsed {
    Token(String),
    Created(OrderCreated),
    Found(Option<FoundOrder>),
    History(Vec<StatusReport>),
    Cancel(CancelResult),
    Quotes(Vec<ServiceQuote>),
    /// The waybill files, each checked to be a PDF lopdf can read (by merging them).
    Pdfs(usize),
    Provinces(Vec<CatalogueProvince>),
    Communes(Vec<CatalogueCommune>),
}

fn op(call: &str) -> &'static str {
    match call {
        "GetAccessToken" => "GetAccessToken",
        "CreateOrder" => "CreateOrder",
        "getOrder" => "getOrder",
        "GetStatusHistoryOrder" => "GetStatusHistoryOrder",
        "orderCancel" => "orderCancel",
        "updateCase" => "orderCorrection/updateCase",
        "ServicesCharge" => "ServicesCharge",
        "exportListReport" => "exportListReport",
        "getNewProvinceAll" => "getNewProvinceAll",
        "getNewCommuneAll" => "getNewCommuneAll",
        other => panic!("a fixture directory for no known call: {other}"),
    }
}

fn run(call: &str, a: &Answer) -> Result<Parsed, CarrierError> {
    Ok(match call {
        "GetAccessToken" => Parsed::Token(parse::login(a)?),
        "CreateOrder" => Parsed::Created(parse::create_order(a)?),
        "getOrder" => Parsed::Found(parse::find_order(a, SALE_ORDER_CODE)?.0),
        "GetStatusHistoryOrder" => Parsed::History(parse::status_history(a, ITEM)?),
        "orderCancel" => Parsed::Cancel(parse::cancel(a)?),
        "updateCase" => Parsed::Cancel(parse::cancel_case(a, CASE_ID)?),
        "ServicesCharge" => Parsed::Quotes(parse::quote(a)?),
        "exportListReport" => {
            let pdfs = parse::waybills(a)?;
            let n = pdfs.len();
            waybill::merge(pdfs).expect("the fixture's waybills are readable PDFs");
            Parsed::Pdfs(n)
        }
        "getNewProvinceAll" => Parsed::Provinces(parse::provinces(a)?),
        "getNewCommuneAll" => Parsed::Communes(parse::communes(a)?),
        other => panic!("{other}"),
    })
}

fn vn(d: u32, h: u32, m: u32) -> chrono::DateTime<Utc> {
    // Vietnam time (UTC+7) as UTC.
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap() - chrono::Duration::hours(7)
}

/// What an `ok` fixture of `call` (or, with `shape`, a file of several items) means.
fn expected_ok(call: &str, shape: &str) -> Parsed {
    match call {
        "GetAccessToken" => Parsed::Token("eyJhbGciOiJIUzI1NiJ9.fixture.token".into()),
        "CreateOrder" => Parsed::Created(OrderCreated {
            item_code: ITEM.into(),
            original_id: "6789012".into(),
            order_hdr_id: Some("123456".into()),
            status: Some(1),
            total_fee: Some(16_500),
        }),
        "getOrder" => Parsed::Found(Some(FoundOrder {
            item_code: ITEM.into(),
            original_id: "6789012".into(),
            sale_order_code: SALE_ORDER_CODE.into(),
            status: Some(6),
            status_name: Some("Đã nhận hàng".into()),
            updated_at: Some(vn(27, 10, 0)),
            total_fee: Some(16_500),
            cod_amount: Some(150_000),
        })),
        "GetStatusHistoryOrder" => Parsed::History(vec![
            StatusReport {
                code: 1,
                text: "Tạo mới".into(),
                at: vn(27, 6, 30),
            },
            StatusReport {
                code: 2,
                text: "Đã phân công nhận hàng".into(),
                at: vn(27, 8, 0),
            },
            StatusReport {
                code: 6,
                text: "Đã nhận hàng".into(),
                at: vn(27, 10, 0),
            },
        ]),
        "ServicesCharge" => Parsed::Quotes(vec![
            ServiceQuote {
                service_code: "CTN001".into(),
                service_name: "Chuyển phát thường".into(),
                main_fee_vnd: 15_000,
                extra_fee_vnd: 1_500,
                total_fee_vnd: 16_500,
            },
            ServiceQuote {
                service_code: "ETN011".into(),
                service_name: "Chuyển phát nhanh".into(),
                main_fee_vnd: 22_000,
                extra_fee_vnd: 0,
                total_fee_vnd: 22_000,
            },
        ]),
        "exportListReport" => Parsed::Pdfs(if shape.starts_with("two-") { 2 } else { 1 }),
        "getNewProvinceAll" => Parsed::Provinces(vec![
            CatalogueProvince {
                code: "08".into(),
                name: "Tuyên Quang".into(),
            },
            CatalogueProvince {
                code: "01".into(),
                name: "Thành phố Hà Nội".into(),
            },
        ]),
        "getNewCommuneAll" => Parsed::Communes(vec![
            CatalogueCommune {
                code: "02215".into(),
                name: "Phường Minh Xuân".into(),
                province_code: "08".into(),
            },
            CatalogueCommune {
                code: "00004".into(),
                name: "Phường Ba Đình".into(),
                province_code: "01".into(),
            },
        ]),
        other => panic!("no `ok` value for {other}"),
    }
}

#[test]
fn every_fixture_parses_to_what_its_name_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vnpost");
    let mut read = 0;
    let mut per_call = std::collections::BTreeMap::<String, (usize, usize)>::new();
    let mut calls: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    calls.sort();
    for dir in calls {
        let call = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let stem = file.file_stem().unwrap().to_str().unwrap().to_owned();
            let (expect, rest) = stem.split_once('-').unwrap_or((&stem, ""));
            let (status, shape) = match rest.split_once('-') {
                Some((s, shape)) if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) => {
                    (s.parse().unwrap(), shape)
                }
                _ => (200, rest),
            };
            let body = std::fs::read(&file).unwrap();
            let answer = Answer::new(op(&call), status, body.clone());
            let got = run(&call, &answer);
            let at = format!("{call}/{stem}");
            let counts = per_call.entry(call.clone()).or_default();
            match expect {
                "ok" => {
                    counts.0 += 1;
                    assert_eq!(got.unwrap(), expected_ok(&call, shape), "{at}");
                }
                "none" => assert_eq!(got.unwrap(), Parsed::Found(None), "{at}"),
                "empty" => assert_eq!(got.unwrap(), Parsed::History(Vec::new()), "{at}"),
                "done" => assert_eq!(got.unwrap(), Parsed::Cancel(CancelResult::Done), "{at}"),
                "waiting" => assert_eq!(
                    got.unwrap(),
                    Parsed::Cancel(CancelResult::Waiting {
                        case_id: Some(CASE_ID.into())
                    }),
                    "{at}"
                ),
                "declined" => assert_eq!(
                    got.unwrap(),
                    Parsed::Cancel(CancelResult::Refused(REFUSAL.into())),
                    "{at}"
                ),
                class => {
                    let e = got.expect_err(&at);
                    assert_eq!(e.class.as_str(), class, "{at}: {e}");
                    assert_eq!(e.http_status, Some(status), "{at}");
                    assert_eq!(e.op, Some(op(&call)), "{at}");
                    let excerpt = e.excerpt.as_deref().expect(&at);
                    assert!(!excerpt.is_empty(), "{at}");
                    assert!(
                        String::from_utf8_lossy(&body).starts_with(excerpt),
                        "{at}: the excerpt is the start of the body"
                    );
                    match e.class {
                        ErrorClass::Refused => assert_eq!(e.message, REFUSAL, "{at}"),
                        ErrorClass::Auth => {
                            assert_eq!(e.message, format!("login refused: {REFUSAL}"), "{at}")
                        }
                        ErrorClass::Protocol => counts.1 += 1,
                        _ => {}
                    }
                }
            }
            read += 1;
        }
    }
    assert_eq!(read, FIXTURES, "fixture files read");
    assert_eq!(per_call.len(), 10, "{per_call:?}");
    for (call, (ok, protocol)) in per_call {
        assert!(
            ok >= 1 || call.ends_with("Case") || call == "orderCancel",
            "{call}: no ok fixture"
        );
        assert!(protocol >= 1, "{call}: no unknown-shape fixture");
    }
}
