//! Benchmark: shipments created per second through the API at 32 concurrent clients, against
//! pgbench running the same transaction (the same statements and inserts) on the same
//! PostgreSQL in the same run. Prints both, their ratio and the API's latency percentiles.
//!
//! Run: `cargo bench --bench create_shipments` (needs the local PostgreSQL and pgbench).
//! Environment: BENCH_SECONDS (default 20), BENCH_CLIENTS (default 32),
//! TEST_DATABASE_SERVER (default postgres://postgres@127.0.0.1:5432).

#[path = "common/env.rs"]
mod env;
#[path = "common/load.rs"]
mod load;
#[path = "common/names.rs"]
mod names;
#[path = "common/pgbench.rs"]
mod pgbench;

use env::env_or;
use serde_json::json;
use std::time::Duration;

fn pickup(n: u64, worker: u64) -> serde_json::Value {
    // realistic names, varied by request: one name repeated flatters the trigram index
    let full_name = names::full_name((worker << 32) | n);
    json!({
        "dossier_code": format!("{worker:03}.00.14.H61-261127-{n:06}"),
        "office_code": "VPDKDD-TQ",
        "procedure": { "code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất" },
        "citizen": { "full_name": full_name, "phone": "0912345678", "email": null, "id_number": "008090001234" },
        "address": { "line": "Số 12, tổ 5", "province_code": "08", "commune_code": "02215" },
        "documents": [ { "name": "Đơn đăng ký biến động", "copies": 1 } ],
        "collect_fees_vnd": 0,
        "note": "Gọi trước khi đến"
    })
}

struct ApiResult {
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

async fn run_api(base: &str, token: &str, clients: u64, seconds: u64) -> ApiResult {
    let mut run = load::creates(base, token, clients, seconds, 0, pickup).await;
    let all = &mut run.latencies;
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    ApiResult {
        rate: all.len() as f64 / run.elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        errors: run.errors,
    }
}

fn run_pgbench(db: &str, clients: u64, seconds: u64, pipelined: bool) -> (f64, String) {
    let r = pgbench::run(
        &std::env::temp_dir(),
        &format!("bcci-create-{}-{pipelined}", std::process::id()),
        &pgbench::create_script(pipelined),
        db,
        clients,
        seconds,
        pgbench::Protocol::Prepared,
    );
    (
        r.tps,
        format!("latency average = {:.3} ms", r.latency_avg_ms),
    )
}

#[tokio::main]
async fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 20);
    let clients: u64 = env_or("BENCH_CLIENTS", 32);
    let server_url = std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let db_name = format!("bcci_bench_{}", std::process::id());
    let db_url = format!("{server_url}/{db_name}");

    let gw = load::Gateway::start(
        "[server]\nworkers = 2\n[database]\npool_size = 32\n",
        &db_url,
    )
    .await
    .expect("database");

    println!(
        "create_shipments: {clients} concurrent clients, {seconds} s each, PostgreSQL at {server_url}, database {db_name}"
    );
    let api = run_api(&gw.base, &gw.token, clients, seconds).await;
    gw.stop().await.expect("the gateway stopped");
    let (pg_tps, pg_latency) = run_pgbench(&db_url, clients, seconds, true);
    let (seq_tps, seq_latency) = run_pgbench(&db_url, clients, seconds, false);

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| API: shipments created per second | {:.0} |", api.rate);
    println!(
        "| API: latency p50 | {:.1} ms |",
        api.p50.as_secs_f64() * 1000.0
    );
    println!(
        "| API: latency p99 | {:.1} ms |",
        api.p99.as_secs_f64() * 1000.0
    );
    println!("| API: failed requests | {} |", api.errors);
    println!("| pgbench, same transaction, pipelined like the gateway: per second | {pg_tps:.0} |");
    println!("| pgbench, pipelined: {pg_latency} | |");
    println!("| pgbench, same statements one by one: per second | {seq_tps:.0} |");
    println!("| pgbench, one by one: {seq_latency} | |");
    println!(
        "| ratio API / pgbench pipelined | {:.2} |",
        api.rate / pg_tps
    );
    println!(
        "| ratio API / pgbench one by one | {:.2} |",
        api.rate / seq_tps
    );

    let mut admin = {
        use diesel_async::AsyncConnection;
        diesel_async::AsyncPgConnection::establish(&format!("{server_url}/postgres"))
            .await
            .unwrap()
    };
    use diesel_async::RunQueryDsl;
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
}
