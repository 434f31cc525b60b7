//! The VNPost adapter against the sandbox carrier, over real HTTP (no database needed).
//!
//! Every test starts its own sandbox on a free port with journeys that move only when told
//! (`step = 0s`) and no random failures, so the outcomes are deterministic.

use crate::support::{send_json, stand_in};
use bcci_gateway::carrier::push::{
    MAX_SEND_DATE_SKEW, PushEnvelope, PushKeys, PushVerifier, SANDBOX_PUBLIC_KEY_PEM,
};
use bcci_gateway::carrier::sandbox::{
    self, Chance, FaultsPatch, Order, PushDateFormat, SandboxConfig, SandboxHandle,
};
use bcci_gateway::carrier::sandbox::{PendingOutcome, ShapeMode};
use bcci_gateway::carrier::{
    CancelResult, Carrier, ErrorClass, OrderRequest, Party, QuoteRequest, VnPost,
    WAYBILLS_PER_CALL, waybill,
};
use bcci_gateway::config::Config;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn deterministic() -> SandboxConfig {
    SandboxConfig {
        step: Duration::ZERO,
        failed_attempt_chance: Chance::NEVER,
        return_chance: Chance::NEVER,
        // One record a push, RFC 3339 dates: pushes counted and read one by one.
        push_batch: Chance::NEVER,
        push_date_format: PushDateFormat::Rfc3339,
        ..SandboxConfig::default()
    }
}

async fn start(cfg: SandboxConfig) -> SandboxHandle {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    sandbox::start(cfg, listener).await.unwrap()
}

fn adapter_for(base_url: &str, timeout: &str) -> VnPost {
    let overlay = format!("[carrier]\nbase_url = \"{base_url}\"\ntimeout = \"{timeout}\"\n");
    VnPost::new(&Config::from_overlay(&overlay).unwrap().carrier).unwrap()
}

fn adapter(sb: &SandboxHandle) -> VnPost {
    adapter_for(sb.base_url().as_str(), "5s")
}

/// A pickup: a citizen sends a dossier to the land registration office.
fn order(sale_order_code: &str) -> OrderRequest {
    OrderRequest {
        sale_order_code: sale_order_code.into(),
        sender: Party {
            name: "Nguyễn Văn An".into(),
            phone: "0912345678".into(),
            email: None,
            address_line: "Số 3, tổ 5".into(),
            province_code: "08".into(),
            commune_code: "02215".into(),
        },
        receiver: Party {
            name: "Văn phòng Đăng ký đất đai tỉnh Tuyên Quang".into(),
            phone: "02073822345".into(),
            email: Some("vpdkdd@tuyenquang.gov.vn".into()),
            address_line: "Số 1, đường 17/8".into(),
            province_code: "08".into(),
            commune_code: "00691".into(),
        },
        service_code: "CTN001".into(),
        weight_grams: 500,
        content_note: "Hồ sơ 000.00.14.H61-230512-0001".into(),
        cod_vnd: 0,
        send_type: bcci_gateway::carrier::SendType::Collect,
        org_code_collect: None,
        org_code_accept: None,
        delivery_instruction: None,
    }
}

fn codes(history: &[bcci_gateway::carrier::StatusReport]) -> Vec<i32> {
    history.iter().map(|r| r.code).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_travels_to_delivery() {
    let sb = start(deterministic()).await;
    let vn = adapter(&sb);
    let created = vn.create_order(&order("BCCI-J1")).await.unwrap();
    assert!(
        created.item_code.starts_with("EB") && created.item_code.ends_with("VN"),
        "{}",
        created.item_code
    );
    assert_eq!(created.status, Some(1));
    assert!(created.total_fee.unwrap() > 0);

    let found = vn.find_order("BCCI-J1").await.unwrap().unwrap();
    assert_eq!(
        (found.item_code.as_str(), found.original_id.as_str()),
        (created.item_code.as_str(), created.original_id.as_str())
    );
    assert_eq!(found.status, Some(1));
    assert!(found.updated_at.is_some());
    assert_eq!(vn.find_order("BCCI-NONE").await.unwrap(), None);

    let mut seen = 1;
    for _ in 0..20 {
        sb.advance();
        let history = vn.status_history(&created.item_code).await.unwrap();
        assert!(history.len() >= seen, "the history only grows");
        seen = history.len();
        assert!(history.windows(2).all(|w| w[0].at < w[1].at));
    }
    let history = vn.status_history(&created.item_code).await.unwrap();
    assert_eq!(codes(&history), [1, 2, 4, 6, 7, 10, 11, 12, 14]);
    assert_eq!(history[8].text, "Phát thành công");
    let found = vn.find_order("BCCI-J1").await.unwrap().unwrap();
    assert_eq!(found.status, Some(14));
    assert_eq!(found.updated_at, Some(history[8].at));
    assert_eq!(vn.logins(), 1, "one token serves every call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_commune_is_refused() {
    let sb = start(deterministic()).await;
    let vn = adapter(&sb);
    let mut bad = order("BCCI-R1");
    bad.receiver.commune_code = "99999".into();
    let e = vn.create_order(&bad).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Refused, "{e}");
    assert!(e.is_permanent());
    assert_eq!(e.http_status, Some(400));
    assert!(e.message.contains("receiverCommuneCode"), "{}", e.message);
    // A commune of another province is refused the same way.
    let mut bad = order("BCCI-R2");
    bad.sender.province_code = "01".into();
    let e = vn.create_order(&bad).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Refused, "{e}");
    assert!(e.message.contains("senderCommuneCode"), "{}", e.message);
    let mut bad = order("BCCI-R3");
    bad.sender.phone = "12345".into();
    assert_eq!(
        vn.create_order(&bad).await.unwrap_err().class,
        ErrorClass::Refused
    );
    assert!(sb.orders().is_empty());
    assert_eq!(sb.stats().refused_creates, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_transient() {
    let sb = start(deterministic()).await;
    let vn = adapter(&sb);
    vn.find_order("BCCI-E1").await.unwrap();
    sb.set_faults(&FaultsPatch {
        error_rate: Some(Chance::ALWAYS),
        ..FaultsPatch::default()
    });
    let e = vn.create_order(&order("BCCI-E1")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Server, "{e}");
    assert_eq!(e.http_status, Some(503));
    assert!(!e.is_permanent());
    assert!(
        sb.orders().is_empty(),
        "a 503 is answered before anything is done"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_costs_exactly_one_login() {
    let sb = start(deterministic()).await;
    let vn = adapter(&sb);
    let created = vn.create_order(&order("BCCI-T1")).await.unwrap();
    assert_eq!(vn.logins(), 1);
    assert_eq!(sb.expire_tokens(), 1);
    // Several calls refused at once still log in only once.
    let (a, b, c) = tokio::join!(
        vn.status_history(&created.item_code),
        vn.find_order("BCCI-T1"),
        vn.status_history(&created.item_code)
    );
    assert_eq!(codes(&a.unwrap()), [1]);
    assert!(b.unwrap().is_some());
    assert_eq!(codes(&c.unwrap()), [1]);
    assert_eq!(vn.logins(), 2);
    assert_eq!(sb.stats().logins, 2);
    assert!((1..=3).contains(&sb.stats().unauthorized));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_lost_after_create_leaves_an_order_to_find() {
    let sb = start(SandboxConfig {
        timeout_after_create_rate: Chance::ALWAYS,
        ..deterministic()
    })
    .await;
    let vn = adapter_for(sb.base_url().as_str(), "700ms");
    let e = vn.create_order(&order("BCCI-W1")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Timeout, "{e}");
    assert!(e.may_have_acted());
    let found = vn
        .find_order("BCCI-W1")
        .await
        .unwrap()
        .expect("the order was created");
    let orders = sb.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(found.item_code, orders[0].item_code);
    assert_eq!(sb.stats().withheld_answers, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_carrier_does_not_deduplicate() {
    let sb = start(deterministic()).await;
    let vn = adapter(&sb);
    let a = vn.create_order(&order("BCCI-D1")).await.unwrap();
    let b = vn.create_order(&order("BCCI-D1")).await.unwrap();
    assert_ne!(a.item_code, b.item_code);
    assert_ne!(a.original_id, b.original_id);
    // Counted through the control API, as a test of the gateway would.
    let url = sb
        .base_url()
        .join("_sandbox/orders?saleOrderCode=BCCI-D1")
        .unwrap();
    let orders: Vec<Order> = reqwest::get(url).await.unwrap().json().await.unwrap();
    assert_eq!(orders.len(), 2);
    assert!(vn.find_order("BCCI-D1").await.unwrap().is_some());
    assert_eq!(sb.stats().create_calls, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_pickup_only() {
    let sb = start(deterministic()).await;
    let vn = adapter(&sb);
    let early = vn.create_order(&order("BCCI-C1")).await.unwrap();
    sb.advance();
    assert_eq!(
        vn.cancel_order(&early.original_id).await.unwrap(),
        CancelResult::Done
    );
    assert_eq!(
        codes(&vn.status_history(&early.item_code).await.unwrap()),
        [1, 2, 9]
    );
    // Repeating a cancel is harmless.
    assert_eq!(
        vn.cancel_order(&early.original_id).await.unwrap(),
        CancelResult::Done
    );

    let late = vn.create_order(&order("BCCI-C2")).await.unwrap();
    for _ in 0..3 {
        sb.advance();
    }
    assert_eq!(
        vn.find_order("BCCI-C2").await.unwrap().unwrap().status,
        Some(6)
    );
    match vn.cancel_order(&late.original_id).await.unwrap() {
        CancelResult::Refused(message) => assert!(!message.is_empty()),
        other => panic!("{other:?}"),
    }
    // The cancelled order stays cancelled.
    assert_eq!(
        vn.find_order("BCCI-C1").await.unwrap().unwrap().status,
        Some(9)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_listener_is_a_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let vn = adapter_for(&format!("http://127.0.0.1:{port}/"), "2s");
    let e = vn.find_order("BCCI-X").await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Connect, "{e}");
    assert!(!e.may_have_acted());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_an_auth_error() {
    let sb = start(SandboxConfig {
        password: bcci_gateway::config::Secret::new("not-the-default"),
        ..deterministic()
    })
    .await;
    let vn = adapter(&sb);
    let e = vn.create_order(&order("BCCI-A1")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Auth, "{e}");
    assert!(!e.is_permanent());
    assert!(sb.orders().is_empty());
    assert_eq!(sb.stats().login_failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api() {
    let sb = start(deterministic()).await;
    let vn = adapter(&sb);
    vn.create_order(&order("BCCI-K1")).await.unwrap();
    let http = reqwest::Client::new();
    let at = |p: &str| sb.base_url().join(p).unwrap();
    let faults: serde_json::Value = send_json(
        http.post(at("_sandbox/faults"))
            .json(&serde_json::json!({"latency": "10ms", "error_rate": 0})),
    )
    .await;
    assert_eq!(faults["latency"], "10ms");
    assert_eq!(faults["step"], "0s");
    let bad = http
        .post(at("_sandbox/faults"))
        .json(&serde_json::json!({"error_rate": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let moved: serde_json::Value = send_json(http.post(at("_sandbox/advance?steps=3"))).await;
    assert_eq!(moved["moved"], 3);
    assert_eq!(sb.orders()[0].status, 6);
    let expired: serde_json::Value = send_json(http.post(at("_sandbox/expire-tokens"))).await;
    assert_eq!(expired["expired"], 1);
    let stats: sandbox::Stats = send_json(http.get(at("_sandbox/stats"))).await;
    assert_eq!((stats.logins, stats.create_calls, stats.orders), (1, 1, 1));
    // The carrier API itself needs a token.
    let r = http
        .post(at("CreateOrder"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// Starts a receiver that records the pushes it gets.
async fn receiver() -> (
    url::Url,
    Arc<Mutex<Vec<PushEnvelope>>>,
    actix_web::dev::ServerHandle,
) {
    use actix_web::{HttpResponse, web};
    let got: Arc<Mutex<Vec<PushEnvelope>>> = Arc::default();
    let sink = web::Data::new(got.clone());
    let (base, handle) = stand_in(move |routes| {
        routes.app_data(sink.clone()).route(
            "/webhook",
            web::post().to(
                |sink: web::Data<Arc<Mutex<Vec<PushEnvelope>>>>,
                 body: web::Json<PushEnvelope>| async move {
                    sink.lock().unwrap().push(body.into_inner());
                    HttpResponse::Ok().finish()
                },
            ),
        );
    });
    let url = url::Url::parse(&format!("{base}/webhook")).unwrap();
    (url, got, handle)
}

async fn wait_for(got: &Mutex<Vec<PushEnvelope>>, n: usize) -> Vec<PushEnvelope> {
    for _ in 0..100 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    got.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_are_signed_and_can_come_out_of_order() {
    let (url, got, receiver) = receiver().await;
    let sb = start(SandboxConfig {
        push_url: Some(url),
        push_reorder: true,
        ..deterministic()
    })
    .await;
    let vn = adapter(&sb);
    let created = vn.create_order(&order("BCCI-P1")).await.unwrap();
    sb.advance();
    let pushes = wait_for(&got, 2).await;
    assert_eq!(pushes.len(), 2);
    let verifier = PushKeys::Signature(vec![
        PushVerifier::from_pem(SANDBOX_PUBLIC_KEY_PEM).unwrap(),
    ]);
    let reports: Vec<_> = pushes
        .iter()
        .map(|p| {
            verifier
                .verify(p, chrono::Utc::now(), MAX_SEND_DATE_SKEW)
                .unwrap()
        })
        .collect();
    // Reordered: the step to 2 arrives before the creation (1).
    assert_eq!(
        reports.iter().map(|r| r.first.status).collect::<Vec<_>>(),
        [2, 1]
    );
    assert!(
        reports
            .iter()
            .all(|r| r.first.item_code == created.item_code
                && r.first.sale_order_code.as_deref() == Some("BCCI-P1"))
    );
    assert!(
        pushes[0].send_date.ends_with("+07:00"),
        "{}",
        pushes[0].send_date
    );

    // Duplicates, in order.
    sb.set_faults(&FaultsPatch {
        push_reorder: Some(false),
        push_duplicate_rate: Some(Chance::ALWAYS),
        ..FaultsPatch::default()
    });
    sb.advance();
    let pushes = wait_for(&got, 4).await;
    let last: Vec<_> = pushes[2..]
        .iter()
        .map(|p| {
            verifier
                .verify(p, chrono::Utc::now(), MAX_SEND_DATE_SKEW)
                .unwrap()
                .first
        })
        .collect();
    assert_eq!(last.len(), 2);
    assert_eq!(last[0], last[1]);
    assert_eq!(last[0].status, 4);
    assert_eq!(sb.stats().pushes_sent, 4);
    receiver.stop(false).await;
}

/// A self-signed certificate for 127.0.0.1 and its key (PKCS#8), both PEM.
fn self_signed() -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509, X509NameBuilder};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "bcci-gateway test carrier")
        .unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(rand::random::<u32>() >> 1)
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    (
        b.build().to_pem().unwrap(),
        key.private_key_to_pem_pkcs8().unwrap(),
    )
}

/// A MyVNPost stand-in over HTTPS on 127.0.0.1 answering `GetAccessToken` and
/// `getNewProvinceAll`, one request a connection. Returns its base URL, the certificate
/// (PEM) and the number of requests it answered.
async fn tls_carrier() -> (String, String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_native_tls::native_tls;
    let (cert, key) = self_signed();
    let identity = native_tls::Identity::from_pkcs8(&cert, &key).unwrap();
    let acceptor = tokio_native_tls::TlsAcceptor::from(
        native_tls::TlsAcceptor::builder(identity).build().unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}/MYVNP_API", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate gives up here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    let Ok(n) = tls.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..head_end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                while request.len() < head_end + length {
                    let Ok(n) = tls.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let line = head.lines().next().unwrap_or_default().to_owned();
                let (status, body) = if line.starts_with("post /myvnp_api/getaccesstoken ") {
                    (
                        "200 OK",
                        r#"{"success":true,"token":"tls-token","errorMessage":null}"#,
                    )
                } else if line.starts_with("get /myvnp_api/getnewprovinceall ")
                    && head.contains("\r\ntoken: tls-token\r\n")
                {
                    (
                        "200 OK",
                        r#"{"data":[{"provinceCode":"08","provinceName":"Tuyên Quang"}]}"#,
                    )
                } else {
                    ("404 Not Found", r#"{"message":"not here"}"#)
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (base, String::from_utf8(cert).unwrap(), served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_configured_root_and_not_without() {
    use std::sync::atomic::Ordering;
    let (base, cert_pem, served) = tls_carrier().await;
    let mut cfg = Config::from_overlay(&format!("[carrier]\nbase_url = \"{base}\"\n"))
        .unwrap()
        .carrier;

    // Without the root the certificate is unknown: the request never leaves.
    let vn = VnPost::new(&cfg).unwrap();
    let e = vn.provinces().await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Connect, "{e}");
    assert!(!e.may_have_acted());
    assert_eq!(served.load(Ordering::SeqCst), 0);

    cfg.tls_ca_pem = Some(bcci_gateway::config::Secret::new(cert_pem));
    let vn = VnPost::new(&cfg).unwrap();
    let provinces = vn.provinces().await.unwrap();
    assert_eq!(provinces.len(), 1);
    assert_eq!(
        (provinces[0].code.as_str(), provinces[0].name.as_str()),
        ("08", "Tuyên Quang")
    );
    assert_eq!(vn.logins(), 1);
    assert_eq!(
        served.load(Ordering::SeqCst),
        2,
        "login, then the catalogue"
    );
}

/// Each answer shape the sandbox speaks, pinned in turn, reads the same (SPEC §5, §8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pinned_shape_reads_the_same() {
    for (i, shapes) in [
        ShapeMode::First,
        ShapeMode::Second,
        ShapeMode::Third,
        ShapeMode::Fourth,
    ]
    .into_iter()
    .enumerate()
    {
        let sb = start(SandboxConfig {
            shapes,
            ..deterministic()
        })
        .await;
        let vn = adapter(&sb);
        let code = format!("BCCI-S{i}");
        let created = vn.create_order(&order(&code)).await.unwrap();
        let found = vn.find_order(&code).await.unwrap().expect("{shapes:?}");
        assert_eq!(found.item_code, created.item_code, "{shapes:?}");
        for _ in 0..3 {
            sb.advance();
        }
        let history = vn.status_history(&created.item_code).await.unwrap();
        assert_eq!(codes(&history), [1, 2, 4, 6], "{shapes:?}");
        let mut bad = order(&format!("{code}-R"));
        bad.receiver.commune_code = "99999".into();
        let e = vn.create_order(&bad).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Refused, "{shapes:?}: {e}");
        assert!(
            !e.message.is_empty() && !e.message.starts_with("HTTP"),
            "{shapes:?}: {e}"
        );
        let early = vn.create_order(&order(&format!("{code}-C"))).await.unwrap();
        assert_eq!(
            vn.cancel_order(&early.original_id).await.unwrap(),
            CancelResult::Done,
            "{shapes:?}"
        );
        assert_eq!(
            vn.find_order(&format!("{code}-C"))
                .await
                .unwrap()
                .unwrap()
                .status,
            Some(9),
            "{shapes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_cancel_is_followed_to_its_end() {
    for outcome in [PendingOutcome::Approve, PendingOutcome::Refuse] {
        let sb = start(SandboxConfig {
            cancel_pending: Chance::ALWAYS,
            cancel_pending_polls: 2,
            cancel_pending_outcome: outcome,
            ..deterministic()
        })
        .await;
        let vn = adapter(&sb);
        let created = vn.create_order(&order("BCCI-PC")).await.unwrap();
        let CancelResult::Waiting { case_id } =
            vn.cancel_order(&created.original_id).await.unwrap()
        else {
            panic!("a pending cancel");
        };
        let case_id = case_id.expect("VNPost names the case");
        let mut polls = 0;
        let end = loop {
            polls += 1;
            assert!(polls < 10, "the case never ended");
            match vn
                .cancel_case(&created.original_id, &case_id)
                .await
                .unwrap()
            {
                CancelResult::Waiting { .. } => continue,
                other => break other,
            }
        };
        assert_eq!(polls, 3, "two answers 02, then the outcome");
        let status = vn.find_order("BCCI-PC").await.unwrap().unwrap().status;
        match outcome {
            PendingOutcome::Approve => {
                assert_eq!(end, CancelResult::Done);
                assert_eq!(status, Some(9));
            }
            PendingOutcome::Refuse => {
                assert!(
                    matches!(&end, CancelResult::Refused(m) if !m.is_empty()),
                    "{end:?}"
                );
                assert_ne!(status, Some(9));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_waybills_and_catalogues() {
    let sb = start(deterministic()).await;
    let vn = adapter(&sb);
    let quote = QuoteRequest {
        sender_province_code: "08".into(),
        sender_commune_code: "02215".into(),
        receiver_province_code: "01".into(),
        receiver_commune_code: "00004".into(),
        weight_grams: 500,
        service_code: None,
        cod_vnd: 0,
    };
    let all = vn.quote(&quote).await.unwrap();
    assert!(!all.is_empty());
    for q in &all {
        assert!(q.main_fee_vnd > 0, "{q:?}");
        assert_eq!(q.total_fee_vnd, q.main_fee_vnd + q.extra_fee_vnd, "{q:?}");
    }
    let with_cod = vn
        .quote(&QuoteRequest {
            service_code: Some(all[0].service_code.clone()),
            cod_vnd: 500_000,
            ..quote.clone()
        })
        .await
        .unwrap();
    assert_eq!(with_cod.len(), 1);
    assert_eq!(with_cod[0].service_code, all[0].service_code);
    assert!(with_cod[0].total_fee_vnd >= all[0].total_fee_vnd);

    let a = vn.create_order(&order("BCCI-WB1")).await.unwrap();
    let b = vn.create_order(&order("BCCI-WB2")).await.unwrap();
    let pdfs = vn
        .waybills(&[a.item_code.clone(), b.item_code.clone()])
        .await
        .unwrap();
    assert!(!pdfs.is_empty());
    let merged = waybill::merge(pdfs).unwrap();
    assert!(merged.starts_with(b"%PDF"));
    let too_many: Vec<String> = (0..=WAYBILLS_PER_CALL)
        .map(|_| a.item_code.clone())
        .collect();
    assert_eq!(
        vn.waybills(&too_many).await.unwrap_err().class,
        ErrorClass::Refused
    );

    let provinces = vn.provinces().await.unwrap();
    assert_eq!(provinces.len(), 34);
    assert!(provinces.iter().any(|p| p.code == "08"));
    let communes = vn.communes().await.unwrap();
    assert_eq!(communes.len(), 3321);
    assert!(
        communes
            .iter()
            .any(|c| c.code == "02215" && c.province_code == "08")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commune_overrides_reach_the_carrier() {
    let sb = start(deterministic()).await;
    // 02215 is sent as 00691 (both real, so the sandbox accepts it): the order that reaches
    // the carrier carries the mapped code, checked by the sandbox's own validation of the
    // commune against the province.
    let overlay = format!(
        "[carrier]\nbase_url = \"{}\"\n[carrier.commune_codes]\n\"02215\" = \"00004\"\n",
        sb.base_url()
    );
    let vn = VnPost::new(&Config::from_overlay(&overlay).unwrap().carrier).unwrap();
    let e = vn.create_order(&order("BCCI-M1")).await.unwrap_err();
    // 00004 is in Hà Nội (01), the sender's province is 08: refused for the sender's commune.
    assert_eq!(e.class, ErrorClass::Refused, "{e}");
    assert!(
        e.message.to_lowercase().contains("sender") || e.message.contains("người gửi"),
        "{}",
        e.message
    );
    assert!(adapter(&sb).create_order(&order("BCCI-M2")).await.is_ok());
}
