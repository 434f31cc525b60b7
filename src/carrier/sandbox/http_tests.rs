//! The sandbox over real HTTP: every call of SPEC §5 (revised) in every shape, the seeded
//! and pinned switches, validation, pending cancels, waybills, catalogues, and pushes in both
//! modes and both date formats caught by a local receiver.

use super::*;
use crate::carrier::vntime;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use std::collections::BTreeSet;

struct Client {
    http: reqwest::Client,
    base: url::Url,
    token: String,
}

impl Client {
    async fn login(sb: &SandboxHandle) -> Client {
        let http = reqwest::Client::new();
        let base = sb.base_url();
        let answer: Value = http
            .post(base.join("GetAccessToken").unwrap())
            .json(&json!({"username": "sandbox", "password": "sandbox", "customerCode": "SANDBOX"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["success"], true, "{answer}");
        let token = answer["token"].as_str().unwrap().to_owned();
        Client { http, base, token }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.base.join(path).unwrap())
            .header("token", &self.token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.base.join(path).unwrap())
            .header("token", &self.token)
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, sale_order_code: &str) -> Value {
        let (status, answer) = self.post("CreateOrder", &order(sale_order_code)).await;
        assert_eq!(status, 200, "{answer}");
        answer.get("data").cloned().unwrap_or(answer)
    }
}

async fn sandbox(cfg: SandboxConfig) -> SandboxHandle {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // Orders move only when told, and always along the same journey (no failed attempt or
    // return by chance), so that a test knows what "collected" means.
    start(
        SandboxConfig {
            step: Duration::ZERO,
            failed_attempt_chance: Chance::NEVER,
            return_chance: Chance::NEVER,
            ..cfg
        },
        listener,
    )
    .await
    .unwrap()
}

/// A valid `CreateOrder` body (SPEC §5, revised).
fn order(sale_order_code: &str) -> Value {
    json!({
        "orderCreationStatus": 1,
        "type": "GUI",
        "customerCode": "SANDBOX",
        "contractCode": "SANDBOX-HD",
        "informationOrder": {
            "senderName": "Nguyễn Văn An",
            "senderPhone": "0912345678",
            "senderEmail": null,
            "senderAddress": "Số 3, ngõ 5",
            "senderProvinceCode": "08",
            "senderDistrictCode": "VNPOST",
            "senderCommuneCode": "02215",
            "receiverName": "Bộ phận Một cửa",
            "receiverPhone": "02073822222",
            "receiverEmail": null,
            "receiverAddress": "Số 1 đường 17/8",
            "receiverProvinceCode": "01",
            "receiverDistrictCode": "VNPOST",
            "receiverCommuneCode": "00004",
            "serviceCode": "CTN001",
            "saleOrderCode": sale_order_code,
            "contentNote": "Hồ sơ",
            "weight": "500",
            "width": null, "length": null, "height": null,
            "vehicle": "BO",
            "sendType": "1",
            "isBroken": "0",
            "deliveryTime": null,
            "deliveryRequire": null,
            "deliveryInstruction": null,
            "orgCodeCollect": null,
            "orgCodeAccept": null,
            "additionRequest": [],
            "addonService": [{"code": "GTG021", "propValue": "PROP0018:150000"}]
        }
    })
}

fn pins(shape: Shape, v: u8) -> FaultsPatch {
    FaultsPatch {
        shape_pins: Some([(shape, Variant::try_from(v).unwrap())].into()),
        ..FaultsPatch::default()
    }
}

/// The keys of an object, as a set.
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn create_order_in_both_shapes_and_every_error_shape() {
    let sb = sandbox(SandboxConfig::default()).await;
    let c = Client::login(&sb).await;
    sb.set_faults(&pins(Shape::CreateOrder, 1));
    let (_, root) = c.post("CreateOrder", &order("A")).await;
    assert!(root["itemCode"].as_str().unwrap().ends_with("VN"), "{root}");
    assert_eq!(root["saleOrderCode"], "A");
    assert!(root["totalFee"].as_i64().unwrap() > 0);
    assert_eq!(root["codAmount"], 150_000);
    sb.set_faults(&pins(Shape::CreateOrder, 2));
    let (_, wrapped) = c.post("CreateOrder", &order("B")).await;
    assert!(wrapped["data"]["originalID"].is_string(), "{wrapped}");
    assert!(wrapped.get("itemCode").is_none());

    let mut bad = order("C");
    bad["informationOrder"]["weight"] = json!(500);
    let expected = [
        vec!["message"],
        vec!["Message"],
        vec!["errorMessage"],
        vec!["error", "message", "path", "status", "timestamp"],
    ];
    for (v, want) in (1..=4).zip(expected) {
        sb.set_faults(&pins(Shape::Error, v));
        let (status, body) = c.post("CreateOrder", &bad).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            keys(&body),
            want.iter().map(|s| s.to_string()).collect(),
            "{body}"
        );
        let text = body
            .as_object()
            .unwrap()
            .values()
            .map(Value::to_string)
            .collect::<String>();
        assert!(text.contains("informationOrder.weight"), "{body}");
    }
    assert_eq!(sb.stats().refused_creates, 4);
}

#[tokio::test]
async fn create_order_validates_the_revised_request() {
    let sb = sandbox(SandboxConfig::default()).await;
    let c = Client::login(&sb).await;
    sb.set_faults(&FaultsPatch {
        shapes: Some(ShapeMode::First),
        ..FaultsPatch::default()
    });
    let cases: [(&str, Value, &str); 8] = [
        ("sendType", Value::Null, "informationOrder.sendType"),
        ("sendType", json!("3"), "informationOrder.sendType"),
        ("sendType", json!(1), "informationOrder.sendType"),
        ("senderName", json!("  "), "informationOrder.senderName"),
        (
            "receiverPhone",
            json!("12345"),
            "informationOrder.receiverPhone",
        ),
        (
            "receiverAddress",
            json!(""),
            "informationOrder.receiverAddress",
        ),
        (
            "senderCommuneCode",
            json!("00004"),
            "informationOrder.senderCommuneCode",
        ),
        (
            "receiverProvinceCode",
            json!("99"),
            "informationOrder.receiverProvinceCode",
        ),
    ];
    for (field, value, path) in cases {
        let mut body = order("V");
        body["informationOrder"][field] = value;
        let (status, answer) = c.post("CreateOrder", &body).await;
        assert_eq!(status, 400, "{field}: {answer}");
        let m = answer["message"].as_str().unwrap();
        assert!(m.contains(path), "{field}: {m}");
        // A refusal names the field, never the citizen's value.
        assert!(!m.contains("Nguyễn") && !m.contains("12345"), "{m}");
    }
    let mut drop_off = order("V2");
    drop_off["informationOrder"]["sendType"] = json!("2");
    assert_eq!(c.post("CreateOrder", &drop_off).await.0, 200);
    assert!(sb.orders().iter().all(|o| o.sale_order_code == "V2"));
    // No token: 401 in an error shape.
    let r = reqwest::Client::new()
        .post(sb.base_url().join("CreateOrder").unwrap())
        .json(&order("X"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.json::<Value>().await.unwrap()["message"].is_string());
}

#[tokio::test]
async fn tracking_calls_in_every_shape() {
    let sb = sandbox(SandboxConfig::default()).await;
    let c = Client::login(&sb).await;
    let created = c.create("T1").await;
    let item = created["itemCode"].as_str().unwrap().to_owned();
    let original = created["originalID"].as_str().unwrap().to_owned();
    sb.advance();
    sb.advance();

    // getOrder, by each type.
    for (t, code) in [("1", item.as_str()), ("2", "T1"), ("3", original.as_str())] {
        sb.set_faults(&pins(Shape::GetOrder, 1));
        let (_, a) = c.get(&format!("getOrder?type={t}&code={code}")).await;
        assert_eq!(a[0]["results"][0]["itemCode"], item.as_str(), "{a}");
        assert_eq!(a[0]["results"][0]["status"], 4);
        sb.set_faults(&pins(Shape::GetOrder, 2));
        let (_, a) = c.get(&format!("getOrder?type={t}&code={code}")).await;
        assert_eq!(a["results"][0]["saleOrderCode"], "T1", "{a}");
    }
    let (_, none) = c.get("getOrder?type=2&code=NOPE").await;
    assert_eq!(none["results"], json!([]), "{none}");
    assert_eq!(c.get("getOrder?type=7&code=T1").await.0, 400);

    // History: GET, three envelopes, two hour keys, two code types.
    let path = format!("GetStatusHistoryOrder?type=1&code={item}");
    let entries = |v: u8, a: &Value| -> Value {
        match v {
            1 => a["data"]["statusHistory"].clone(),
            2 => a["statusHistory"].clone(),
            _ => {
                assert_eq!(a[0]["itemCode"], item.as_str());
                a[0]["statusHistory"].clone()
            }
        }
    };
    for v in 1..=3 {
        for (hour, code) in [(1, 1), (2, 2)] {
            sb.set_faults(&FaultsPatch {
                shape_pins: Some(
                    [
                        (Shape::History, Variant::try_from(v).unwrap()),
                        (Shape::HistoryHour, Variant::try_from(hour).unwrap()),
                        (Shape::HistoryCode, Variant::try_from(code).unwrap()),
                    ]
                    .into(),
                ),
                ..FaultsPatch::default()
            });
            let (status, a) = c.get(&path).await;
            assert_eq!(status, 200, "{a}");
            let e = entries(v, &a);
            assert_eq!(e.as_array().unwrap().len(), 3, "{a}");
            let first = &e[0];
            let hour_key = if hour == 1 {
                "createdHour"
            } else {
                "createHour"
            };
            assert!(first[hour_key].is_string(), "{first}");
            assert!(first["createdDate"].as_str().unwrap().contains('/'));
            if code == 1 {
                assert_eq!(first["statusCode"], 1);
            } else {
                assert_eq!(first["statusCode"], "1");
            }
        }
    }
    // POST is not how the revised contract asks.
    let (status, _) = c
        .post("GetStatusHistoryOrder", &json!({"itemCode": item}))
        .await;
    assert!(matches!(status, 404 | 405), "{status}");
    assert_eq!(
        c.get("GetStatusHistoryOrder?type=1&code=EB000VN").await.0,
        400
    );

    // GetListOrder: today's orders, pages from 0.
    let today = vntime::local(chrono::Utc::now())
        .format("%d-%m-%Y")
        .to_string();
    for _ in 0..2 {
        c.create("T2").await;
    }
    let list = |page: usize, size: usize| {
        format!(
            "GetListOrder?lastUpdateFrom={today}&lastUpdateTo={today}&type=GUI&page={page}&size={size}&isInternational=false"
        )
    };
    sb.set_faults(&pins(Shape::ListOrder, 1));
    let (_, a) = c.get(&list(0, 500)).await;
    let all = a["results"].as_array().unwrap();
    assert_eq!(all.len(), 3, "{a}");
    assert!(
        all.iter()
            .all(|r| r["totalFee"].is_i64() && r["codAmount"] == 150_000)
    );
    let (_, a) = c.get(&list(1, 2)).await;
    assert_eq!(a["results"].as_array().unwrap().len(), 1, "{a}");
    sb.set_faults(&pins(Shape::ListOrder, 2));
    let (_, a) = c.get(&list(0, 2)).await;
    assert_eq!(a[0]["results"].as_array().unwrap().len(), 2, "{a}");
    assert_eq!(c.get(&list(0, 501)).await.0, 400);
    assert_eq!(
        c.get("GetListOrder?lastUpdateFrom=2026-12-01&lastUpdateTo=01-12-2026&type=GUI&page=0&size=500")
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn cancels_in_every_shape_and_pending_ones() {
    let sb = sandbox(SandboxConfig::default()).await;
    let c = Client::login(&sb).await;
    let read = |v: u8, a: &Value| -> (String, Option<String>) {
        let o = if v >= 3 { a[0].clone() } else { a.clone() };
        let (t, case) = if v % 2 == 1 {
            ("Type", "CaseId")
        } else {
            ("type", "caseId")
        };
        (
            o[t].as_str().unwrap().to_owned(),
            o[case].as_str().map(str::to_owned),
        )
    };
    for v in 1..=4 {
        let id = c.create(&format!("C{v}")).await["originalID"].clone();
        sb.set_faults(&pins(Shape::Cancel, v));
        let (_, a) = c.post("orderCancel", &json!({"OriginalId": id})).await;
        assert_eq!(read(v, &a).0, "00", "{a}");
        assert_eq!(a.is_array(), v >= 3, "{a}");
    }
    // Too late once collected.
    let late = c.create("LATE").await["originalID"].clone();
    for _ in 0..3 {
        sb.advance();
    }
    sb.set_faults(&pins(Shape::Cancel, 1));
    let (_, a) = c.post("orderCancel", &json!({"OriginalId": late})).await;
    assert_eq!(a["Type"], "01", "{a}");
    assert!(a["Message"].as_str().unwrap().contains("không thể hủy"));

    // Pending: "02", polled twice more as "02", then the outcome.
    for (outcome, want) in [
        (PendingOutcome::Approve, "00"),
        (PendingOutcome::Refuse, "01"),
    ] {
        sb.set_faults(&FaultsPatch {
            cancel_pending: Some(Chance::ALWAYS),
            cancel_pending_polls: Some(2),
            cancel_pending_outcome: Some(outcome),
            shape_pins: Some(
                [
                    (Shape::Cancel, Variant::try_from(1).unwrap()),
                    (Shape::UpdateCase, Variant::try_from(1).unwrap()),
                ]
                .into(),
            ),
            ..FaultsPatch::default()
        });
        let id = c.create("PENDING").await["originalID"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, a) = c.post("orderCancel", &json!({"OriginalId": id})).await;
        assert_eq!(a["Type"], "02", "{a}");
        let case = a["CaseId"].as_str().unwrap().to_owned();
        let poll = format!("orderCorrection/updateCase?OriginalId={id}&CaseId={case}");
        for _ in 0..2 {
            let (_, a) = c.get(&poll).await;
            assert_eq!(a[0]["Type"], "02", "{a}");
        }
        sb.set_faults(&FaultsPatch {
            shape_pins: Some(
                [
                    (Shape::Cancel, Variant::try_from(1).unwrap()),
                    (Shape::UpdateCase, Variant::try_from(2).unwrap()),
                ]
                .into(),
            ),
            ..FaultsPatch::default()
        });
        let (_, a) = c.get(&poll).await;
        assert_eq!(a[0]["type"], want, "{a}");
        assert_eq!(a[0]["caseId"], case.as_str());
        let order = sb
            .orders()
            .into_iter()
            .find(|o| o.original_id == id)
            .unwrap();
        assert_eq!(order.status == 9, want == "00", "{order:?}");
        assert_eq!(
            c.get(&format!(
                "orderCorrection/updateCase?OriginalId={id}&CaseId=NOPE"
            ))
            .await
            .0,
            400
        );
    }
    assert_eq!(sb.stats().pending_cancels, 2);
}

#[tokio::test]
async fn services_charge_in_every_shape() {
    let sb = sandbox(SandboxConfig::default()).await;
    let c = Client::login(&sb).await;
    let ask = |service: Value, addon: Value| {
        json!({
            "scope": 1, "customerCode": "SANDBOX", "contractNumber": "SANDBOX-HD",
            "data": {
                "senderProvinceCode": "08", "senderDistrictCode": "VNPOST", "senderCommuneCode": "02215",
                "receiverProvinceCode": "08", "receiverDistrictCode": "VNPOST", "receiverCommuneCode": "02215",
                "receiverNational": "VN", "weight": 1200, "serviceCode": service,
                "addonService": addon, "additionRequest": [], "vehicle": "BO"
            }
        })
    };
    sb.set_faults(&FaultsPatch {
        shape_pins: Some(
            [
                (Shape::ServicesCharge, Variant::try_from(1).unwrap()),
                (Shape::VasFee, Variant::try_from(1).unwrap()),
            ]
            .into(),
        ),
        ..FaultsPatch::default()
    });
    let (_, all) = c.post("ServicesCharge", &ask(Value::Null, json!([]))).await;
    let codes: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["serviceCode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["CTN001", "ETN011", "ETN013"], "{all}");
    // 1,200 g within a province: first step and two more.
    assert_eq!(all[0]["mainFee"], 16_500 + 2 * 2_500);
    assert_eq!(all[0]["vasFee"], 0);
    assert_eq!(all[0]["priceWeight"], 1200);
    sb.set_faults(&FaultsPatch {
        shape_pins: Some(
            [
                (Shape::ServicesCharge, Variant::try_from(2).unwrap()),
                (Shape::VasFee, Variant::try_from(2).unwrap()),
            ]
            .into(),
        ),
        ..FaultsPatch::default()
    });
    let cod = json!([{"code": "GTG021", "propValue": "PROP0018:200000"}]);
    let (_, one) = c.post("ServicesCharge", &ask(json!("ETN011"), cod)).await;
    let list = one["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{one}");
    assert_eq!(list[0]["vasfee"], 13_000);
    assert_eq!(list[0]["totalFee"], 22_000 + 2 * 3_500 + 13_000);
    assert!(list[0].get("vasFee").is_none());
    assert_eq!(
        c.post("ServicesCharge", &ask(json!("XXX"), json!([])))
            .await
            .0,
        400
    );
    let mut far = ask(Value::Null, json!([]));
    far["data"]["receiverCommuneCode"] = json!("99999");
    assert_eq!(c.post("ServicesCharge", &far).await.0, 400);
}

#[tokio::test]
async fn waybills_are_real_pdfs_and_catalogues_have_the_configured_differences() {
    let sb = sandbox(SandboxConfig {
        catalogue_missing: vec!["02215".into()],
        catalogue_renamed: [("00004".to_owned(), "P. Ba Đình".to_owned())].into(),
        ..SandboxConfig::default()
    })
    .await;
    let c = Client::login(&sb).await;
    let a = c.create("W1").await["itemCode"].clone();
    let b = c.create("W2").await["itemCode"].clone();
    sb.set_faults(&pins(Shape::Waybills, 1));
    let (_, one) = c.post("exportListReport", &json!([a, b])).await;
    assert_eq!(one.as_array().unwrap().len(), 1, "one PDF for the call");
    let pdf = BASE64.decode(one[0].as_str().unwrap()).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(
        lopdf::Document::load_mem(&pdf).unwrap().get_pages().len(),
        2
    );
    sb.set_faults(&pins(Shape::Waybills, 2));
    let (_, each) = c.post("exportListReport", &json!([a, b])).await;
    assert_eq!(each.as_array().unwrap().len(), 2, "one PDF per item");
    let (status, unknown) = c
        .post("exportListReport", &json!([a, "EB999999999VN"]))
        .await;
    assert_eq!(status, 400);
    assert!(unknown.to_string().contains("EB999999999VN"), "{unknown}");
    let too_many: Vec<Value> = (0..101).map(|_| a.clone()).collect();
    assert_eq!(c.post("exportListReport", &json!(too_many)).await.0, 400);

    let (_, provinces) = c.get("getNewProvinceAll").await;
    assert_eq!(provinces.as_array().unwrap().len(), 34);
    for (v, key) in [(1, "provinceCode"), (2, "districtCode")] {
        sb.set_faults(&pins(Shape::CommuneProvince, v));
        let (_, communes) = c.get("getNewCommuneAll").await;
        let communes = communes.as_array().unwrap();
        assert_eq!(communes.len(), 3320);
        assert!(!communes.iter().any(|x| x["communeCode"] == "02215"));
        let ba_dinh = communes
            .iter()
            .find(|x| x["communeCode"] == "00004")
            .unwrap();
        assert_eq!(ba_dinh["communeName"], "P. Ba Đình");
        assert_eq!(ba_dinh[key], "01");
    }
    // Changed at run time.
    sb.set_faults(&FaultsPatch {
        catalogue_missing: Some(Vec::new()),
        ..FaultsPatch::default()
    });
    assert_eq!(
        c.get("getNewCommuneAll").await.1.as_array().unwrap().len(),
        3321
    );
}

/// The shapes a sequence of calls gets, as a fingerprint.
async fn fingerprint(sb: &SandboxHandle, c: &Client) -> Vec<String> {
    let mut seen = Vec::new();
    for i in 0..12 {
        let (_, a) = c.post("CreateOrder", &order(&format!("S{i}"))).await;
        seen.push(format!(
            "{:?}",
            keys(if a.is_object() { &a } else { &a[0] })
        ));
        let code = a.get("data").unwrap_or(&a)["itemCode"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, h) = c
            .get(&format!("GetStatusHistoryOrder?type=1&code={code}"))
            .await;
        seen.push(h.to_string().replace(char::is_numeric, ""));
    }
    let _ = sb;
    seen
}

#[tokio::test]
async fn the_same_seed_gives_the_same_shapes_and_a_patch_restarts_them() {
    let sb = sandbox(SandboxConfig {
        shape_seed: 7,
        ..SandboxConfig::default()
    })
    .await;
    let c = Client::login(&sb).await;
    let first = fingerprint(&sb, &c).await;
    // Not all alike: the shapes are drawn.
    assert!(first.iter().collect::<BTreeSet<_>>().len() > 3, "{first:?}");
    sb.set_faults(&FaultsPatch {
        shape_seed: Some(7),
        ..FaultsPatch::default()
    });
    assert_eq!(fingerprint(&sb, &c).await, first);
    let other = sandbox(SandboxConfig {
        shape_seed: 7,
        ..SandboxConfig::default()
    })
    .await;
    let c2 = Client::login(&other).await;
    assert_eq!(fingerprint(&other, &c2).await, first);
    // A bad pin is refused over the control API, the settings unchanged.
    let r = reqwest::Client::new()
        .post(sb.base_url().join("_sandbox/faults").unwrap())
        .json(&json!({"shape_pins": {"get_order": 3}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(sb.faults().shape_pins.is_empty());
    let r = reqwest::Client::new()
        .post(sb.base_url().join("_sandbox/faults").unwrap())
        .json(&json!({"shapes": "second", "cancel_pending": 1, "push_date_format": "vietnam"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let f = sb.faults();
    assert_eq!(
        (f.shapes, f.cancel_pending, f.push_date_format),
        (ShapeMode::Second, Chance::ALWAYS, PushDateFormat::Vietnam)
    );
}

/// A webhook that keeps every body it is sent.
async fn receiver() -> (
    url::Url,
    tokio::sync::mpsc::UnboundedReceiver<Value>,
    actix_web::dev::ServerHandle,
) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        let tx = tx.clone();
        App::new().route(
            "/hook",
            web::post().to(move |body: web::Json<Value>| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(body.into_inner());
                    HttpResponse::Ok().json(json!({"success": true, "message": "ok"}))
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (
        url::Url::parse(&format!("http://{addr}/hook")).unwrap(),
        rx,
        handle,
    )
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a push within 10 s")
        .unwrap()
}

#[tokio::test]
async fn pushes_in_both_modes_and_both_date_formats() {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
    use rsa::signature::Verifier;
    let public_pem = include_str!("../../../config/sandbox/carrier-push-public.pem");
    let (url, mut rx, server) = receiver().await;
    // Encryption needs "the gateway's" public key: the carrier pair's public half stands in,
    // so the private half opens it here.
    let dir = std::env::temp_dir().join(format!("sandbox-push-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gateway_key = dir.join("gateway-public.pem");
    std::fs::write(&gateway_key, public_pem).unwrap();
    let sb = sandbox(SandboxConfig {
        push_url: Some(url),
        push_batch: Chance::NEVER,
        push_mode: PushMode::Signature,
        push_date_format: PushDateFormat::Rfc3339,
        push_encryption_key: gateway_key,
        ..SandboxConfig::default()
    })
    .await;
    let c = Client::login(&sb).await;
    let public = rsa::RsaPublicKey::from_public_key_pem(public_pem).unwrap();
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(SANDBOX_PRIVATE_KEY_PEM).unwrap();

    let created = c.create("P1").await;
    let push = next(&mut rx).await;
    assert_eq!(
        keys(&push),
        ["data", "sendDate", "signature"].map(String::from).into()
    );
    let r = &push["data"][0];
    assert_eq!(r["itemCode"], created["itemCode"]);
    assert_eq!(r["originalId"], created["originalID"]);
    assert_eq!(
        (r["saleOrderCode"].as_str(), r["status"].as_i64()),
        (Some("P1"), Some(1))
    );
    assert_eq!(r["senderCode"], "SANDBOX");
    assert_eq!(r["codAmount"], 150_000);
    assert!(r["totalFee"].as_i64().unwrap() > 0);
    assert!(vntime::parse_date_time(r["statusDate"].as_str().unwrap()).is_some());
    let send_date = push["sendDate"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(send_date).is_ok(),
        "{send_date}"
    );
    let text = format!("MYVNP{send_date}{}1", r["itemCode"].as_str().unwrap());
    let sig = BASE64.decode(push["signature"].as_str().unwrap()).unwrap();
    VerifyingKey::<rsa::sha2::Sha256>::new(public)
        .verify(
            text.as_bytes(),
            &Signature::try_from(sig.as_slice()).unwrap(),
        )
        .unwrap();

    sb.set_faults(&FaultsPatch {
        push_mode: Some(PushMode::Encryption),
        push_date_format: Some(PushDateFormat::Vietnam),
        ..FaultsPatch::default()
    });
    sb.advance();
    let push = next(&mut rx).await;
    let send_date = push["sendDate"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(send_date, "%d/%m/%Y %H:%M:%S").is_ok(),
        "{send_date}"
    );
    let r = &push["data"][0];
    assert_eq!(r["status"], 2);
    let sealed = BASE64.decode(push["signature"].as_str().unwrap()).unwrap();
    let open = private.decrypt(rsa::Pkcs1v15Encrypt, &sealed).unwrap();
    assert_eq!(
        String::from_utf8(open).unwrap(),
        format!("MYVNP{send_date}{}2", r["itemCode"].as_str().unwrap())
    );

    // Several records in one push: the waiting reports ride along.
    sb.set_faults(&FaultsPatch {
        push_batch: Some(Chance::ALWAYS),
        push_mode: Some(PushMode::Signature),
        ..FaultsPatch::default()
    });
    for i in 0..3 {
        c.create(&format!("B{i}")).await;
        let _ = next(&mut rx).await;
    }
    sb.advance();
    let mut records = 0;
    let mut pushes = 0;
    while records < 4 {
        let p = next(&mut rx).await;
        records += p["data"].as_array().unwrap().len();
        pushes += 1;
    }
    assert_eq!(records, 4);
    assert!(pushes < 4, "some records shared a push");
    assert!(sb.stats().pushes_batched >= 1);
    server.stop(false).await;
    let _ = std::fs::remove_dir_all(dir);
}
