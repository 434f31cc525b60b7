//! Benchmark: callbacks delivered per second to a dossier system's endpoint (a local receiver
//! that verifies nothing and answers 204), from a backlog of pending messages; with the
//! receiver's own capacity (plain POSTs per second at the same concurrency) measured in the
//! same run.
//!
//! The backlog is made through the library (`common/seed.rs`): pickups created as the API
//! creates them, each submitted as the `carrier_submit` job records it, which writes the
//! pending status-changed callback and its queued delivery job.
//!
//! Run: `cargo bench --bench callbacks`. Environment: BENCH_BACKLOG (default 10000),
//! BENCH_IN_FLIGHT (default 64), TEST_DATABASE_SERVER.

#[path = "common/env.rs"]
mod env;
#[path = "common/seed.rs"]
mod seed;

use env::env_or;

use bcci_gateway::config::{Config, Secret};
use bcci_gateway::server::Gateway;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let backlog: u64 = env_or("BENCH_BACKLOG", 10_000);
    let in_flight: usize = env_or("BENCH_IN_FLIGHT", 64);
    let server = std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let db_name = format!("bcci_bench_callbacks_{}", std::process::id());
    let db_url = format!("{server}/{db_name}");

    let received = Arc::new(AtomicU64::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let callback_url = format!("http://{}/callbacks", listener.local_addr().unwrap());
    let counter = received.clone();
    let receiving = actix_web::HttpServer::new(move || {
        let counter = counter.clone();
        actix_web::App::new().default_service(actix_web::web::to(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            async { actix_web::HttpResponse::NoContent().finish() }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let receiving_handle = receiving.handle();
    tokio::spawn(receiving);

    // the receiver's capacity at the same concurrency, plain POSTs of a callback-sized body
    let http = reqwest::Client::new();
    let body = vec![b'x'; 400];
    let deadline = Instant::now() + Duration::from_secs(5);
    let t = Instant::now();
    let posts = Arc::new(AtomicU64::new(0));
    futures::future::join_all((0..in_flight).map(|_| {
        let (http, url, body, posts) = (
            http.clone(),
            callback_url.clone(),
            body.clone(),
            posts.clone(),
        );
        async move {
            while Instant::now() < deadline {
                if http.post(&url).body(body.clone()).send().await.is_ok() {
                    posts.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }))
    .await;
    let capacity = AtomicU64::load(&posts, Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    AtomicU64::store(&received, 0, Ordering::Relaxed);

    let mut config = Config::from_overlay(&format!(
        r#"
[server]
workers = 1
[database]
pool_size = 16
[jobs]
pool_size = 24
max_in_flight = {in_flight}
[tracking]
enabled = false
[carrier.sandbox]
listen = "127.0.0.1:0"
step = "0s"
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
    // The backlog: submitted shipments, each with its pending callback and delivery job.
    let item_codes: Vec<String> = (1..=backlog).map(|g| format!("EB{g:09}VN")).collect();
    seed::submitted(
        &config,
        &db_url,
        "motcua-tq",
        1,
        &item_codes,
        seed::SubmittedCallbacks::Pending,
    )
    .await;

    println!("callbacks: backlog {backlog}, {in_flight} in flight, database {db_name}");
    let started = Instant::now();
    let gateway = Gateway::start(config, std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .await
        .unwrap();
    while AtomicU64::load(&received, Ordering::Relaxed) < backlog {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drain = started.elapsed();
    gateway.stop().await.unwrap();
    receiving_handle.stop(false).await;
    let rate = backlog as f64 / drain.as_secs_f64();

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| receiver capacity: POSTs per second at {in_flight} concurrent senders | {capacity:.0} |"
    );
    println!(
        "| gateway: {backlog} callbacks delivered in | {:.1} s |",
        drain.as_secs_f64()
    );
    println!("| gateway: callbacks delivered per second | {rate:.0} |");
    println!(
        "| ratio gateway / receiver capacity | {:.2} |",
        rate / capacity
    );

    let mut admin = AsyncPgConnection::establish(&format!("{server}/postgres"))
        .await
        .unwrap();
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
}
