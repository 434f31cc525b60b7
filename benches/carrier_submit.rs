//! Benchmark: orders submitted to the carrier per second, against the sandbox carrier with
//! 50 ms latency, and the time to drain a backlog of 20,000 requested shipments; with the
//! sandbox's own capacity (CreateOrder calls per second at the same concurrency, straight
//! from the adapter) measured in the same run.
//!
//! Every submission is also called back to a local receiver (204), as in production.
//!
//! Run: `cargo bench --bench carrier_submit`. Environment: BENCH_BACKLOG (default 20000),
//! BENCH_LATENCY_MS (default 50), BENCH_IN_FLIGHT (default 128), BENCH_PUSHES (1: the sandbox
//! pushes its "created" report back, as by default; 0: pushes dropped), TEST_DATABASE_SERVER.

#[path = "common/env.rs"]
mod env;
#[path = "common/seed.rs"]
mod seed;

use env::env_or;

use bcci_gateway::carrier::sandbox::{self, SandboxConfig};
use bcci_gateway::carrier::{Carrier, OrderRequest, Party, VnPost};
use bcci_gateway::config::{Config, Secret};
use bcci_gateway::server::Gateway;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::time::{Duration, Instant};

fn party(name: &str) -> Party {
    Party {
        name: name.into(),
        phone: "0912345678".into(),
        email: None,
        address_line: "Số 12, tổ 5".into(),
        province_code: "08".into(),
        commune_code: "02215".into(),
    }
}

/// CreateOrder calls per second the sandbox answers at `in_flight` concurrent callers.
async fn sandbox_capacity(carrier: &VnPost, in_flight: usize, seconds: u64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let done = std::sync::atomic::AtomicU64::new(0);
    let workers = (0..in_flight).map(|w| {
        let done = &done;
        async move {
            let mut n = 0;
            while Instant::now() < deadline {
                let req = OrderRequest {
                    sale_order_code: format!("CAP-{w}-{n}"),
                    sender: party("Nguyễn Văn An"),
                    receiver: party("Văn phòng Đăng ký đất đai"),
                    service_code: "CTN001".into(),
                    weight_grams: 500,
                    content_note: "benchmark".into(),
                    cod_vnd: 0,
                    send_type: bcci_gateway::carrier::SendType::Collect,
                    org_code_collect: None,
                    org_code_accept: None,
                    delivery_instruction: None,
                };
                if carrier.create_order(&req).await.is_ok() {
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                n += 1;
            }
        }
    });
    futures::future::join_all(workers).await;
    std::sync::atomic::AtomicU64::load(&done, std::sync::atomic::Ordering::Relaxed) as f64
        / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let backlog: u64 = env_or("BENCH_BACKLOG", 20_000);
    let latency_ms: u64 = env_or("BENCH_LATENCY_MS", 50);
    let in_flight: usize = env_or("BENCH_IN_FLIGHT", 128);
    // 1: the sandbox pushes each order's "created" report back to the gateway (the default
    // configuration); 0: it drops its pushes, leaving the submission path alone.
    let pushes: u8 = env_or("BENCH_PUSHES", 1);
    let push_drop_rate = if pushes == 0 { 1.0 } else { 0.0 };
    let server = std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let db_name = format!("bcci_bench_carrier_{}", std::process::id());
    let db_url = format!("{server}/{db_name}");

    // The dossier system's callback endpoint: every submission is called back.
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let callback_url = format!("http://{}/callbacks", receiver.local_addr().unwrap());
    let receiving = actix_web::HttpServer::new(|| {
        actix_web::App::new().default_service(actix_web::web::to(|| async {
            actix_web::HttpResponse::NoContent().finish()
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(receiver)
    .unwrap()
    .run();
    let receiving_handle = receiving.handle();
    tokio::spawn(receiving);

    let mut config = Config::from_overlay(&format!(
        r#"
[server]
workers = 1
[database]
pool_size = 16
[jobs]
pool_size = 24
max_in_flight = {in_flight}
poll_interval = "200ms"
[tracking]
enabled = false
[carrier.sandbox]
listen = "127.0.0.1:0"
step = "0s"
latency = "{latency_ms}ms"
push_drop_rate = {push_drop_rate}
[[clients]]
id = "motcua-tq"
callback_url = "{callback_url}"
callback_secret = "whsec_ZGV2LW9ubHktY2FsbGJhY2stc2VjcmV0LWNoYW5nZS1tZQ=="
"#
    ))
    .unwrap();
    config.database.url = Secret::new(db_url.clone());
    bcci_gateway::ledger::ensure_database(&db_url)
        .await
        .unwrap();
    bcci_gateway::ledger::migrate(&db_url).await.unwrap();
    // The backlog: requested shipments and their queued submission jobs, as the API leaves them.
    seed::pickups(&config, &db_url, "motcua-tq", 1, backlog as u32).await;
    let mut conn = AsyncPgConnection::establish(&db_url).await.unwrap();

    // the sandbox's own capacity, measured with a sandbox of the same settings
    let sb_cfg = SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        step: Duration::ZERO,
        latency: Duration::from_millis(latency_ms),
        ..SandboxConfig::default()
    };
    let sb = sandbox::start(
        sb_cfg.clone(),
        std::net::TcpListener::bind(sb_cfg.listen).unwrap(),
    )
    .await
    .unwrap();
    let mut carrier_cfg = config.carrier.clone();
    carrier_cfg.base_url = sb.base_url();
    let capacity = sandbox_capacity(&VnPost::new(&carrier_cfg).unwrap(), in_flight, 10).await;
    sb.stop().await;

    println!(
        "carrier_submit: backlog {backlog}, sandbox latency {latency_ms} ms, {in_flight} jobs in flight, pushes {}, database {db_name}",
        if pushes == 0 { "dropped" } else { "on" }
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let gateway = Gateway::start(config, listener).await.unwrap();
    loop {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let left: N =
            diesel::sql_query("SELECT count(*) AS n FROM shipments WHERE status = 'requested'")
                .get_result(&mut conn)
                .await
                .unwrap();
        if left.n == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain = started.elapsed();
    gateway.stop().await.unwrap();
    receiving_handle.stop(false).await;
    let rate = backlog as f64 / drain.as_secs_f64();

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| sandbox capacity: CreateOrder per second at {in_flight} concurrent callers | {capacity:.0} |"
    );
    println!(
        "| gateway: backlog of {backlog} drained in | {:.1} s |",
        drain.as_secs_f64()
    );
    println!("| gateway: orders submitted per second (whole drain) | {rate:.0} |");
    println!(
        "| ratio gateway / sandbox capacity | {:.2} |",
        rate / capacity
    );

    let mut admin = AsyncPgConnection::establish(&format!("{server}/postgres"))
        .await
        .unwrap();
    drop(conn);
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
}
