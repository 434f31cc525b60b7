//! Benchmark: shipments created per second through the API at 32 concurrent clients, against
//! pgbench running the same transaction (the same statements and inserts) on the same
//! PostgreSQL in the same run. Prints both, their ratio and the API's latency percentiles.
//!
//! Run: `cargo bench --bench create_shipments` (needs the local PostgreSQL and pgbench).
//! Environment: BENCH_SECONDS (default 20), BENCH_CLIENTS (default 32),
//! TEST_DATABASE_SERVER (default postgres://postgres@127.0.0.1:5432).

#[path = "common/names.rs"]
mod names;

use bcci_gateway::config::{Config, Secret};
use bcci_gateway::{auth, server};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

/// The create transaction, written out for pgbench: the same statements the gateway runs, in
/// the same order. The gateway sends them in three round trips after BEGIN (the three reads
/// pipelined, then the four writes pipelined (the `jobs_notify` trigger sends the NOTIFY), then COMMIT); `pipelined` makes
/// pgbench do the same, the other variant sends them one by one.
fn pgbench_script(pipelined: bool) -> String {
    let (open, close) = if pipelined {
        ("\\startpipeline\n", "\\endpipeline\n")
    } else {
        ("", "")
    };
    format!(
        r#"\set k random(1, 1000000000000)
BEGIN;
{open}SELECT pg_try_advisory_xact_lock(:k);
SELECT client_id, key, request_hash, response_status, response_body, shipment_id, created_at, expires_at FROM idempotency_keys WHERE client_id = 'motcua-tq' AND key = 'pg-' || :k;
SELECT id FROM shipments WHERE client_id = 'motcua-tq' AND dossier_code = 'pg-' || :k AND kind = 'pickup' AND status NOT IN ('delivered', 'returned', 'cancelled', 'rejected') LIMIT 1;
{close}{open}INSERT INTO shipments (id, kind, status, sequence, client_id, office_code, dossier_code, procedure_code, procedure_name, person_name, person_phone, person_email, person_id_number, address_line, province_code, commune_code, documents, result, collect_fees_vnd, cod_vnd, note, due_at, late, sale_order_code, carrier, created_at, updated_at) VALUES (md5('s' || :k)::uuid, 'pickup', 'requested', 1, 'motcua-tq', 'VPDKDD-TQ', 'pg-' || :k, '1.004227', 'Đăng ký biến động quyền sử dụng đất', 'Nguyễn Văn An', '0912345678', NULL, '008090001234', 'Số 12, tổ 5', '08', '02215', '[{{"name":"Đơn đăng ký biến động","copies":1}}]', NULL, 0, 0, 'Gọi trước khi đến', NULL, false, 'PG' || :k, 'vnpost', now(), now());
INSERT INTO shipment_events (shipment_id, seq, status, applied, occurred_at, source, unknown_code, actor) VALUES (md5('s' || :k)::uuid, 1, 'requested', true, now(), 'gateway', false, 'motcua-tq');
INSERT INTO jobs (kind, shipment_id, payload) VALUES ('carrier_submit', md5('s' || :k)::uuid, '{{}}') RETURNING id;
INSERT INTO idempotency_keys (client_id, key, request_hash, response_status, response_body, shipment_id, created_at, expires_at) VALUES ('motcua-tq', 'pg-' || :k, 'hash', 201, '{{"id":"x","kind":"pickup","status":"requested","sequence":1}}', md5('s' || :k)::uuid, now(), now() + interval '48 hours');
{close}COMMIT;
"#
    )
}

struct ApiResult {
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

async fn run_api(base: &str, token: &str, clients: u64, seconds: u64) -> ApiResult {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients as usize)
        .build()
        .unwrap();
    let errors = Arc::new(AtomicU64::new(0));
    // warm-up: connections and prepared statements
    for w in 0..clients {
        let _ = http
            .post(format!("{base}/v1/pickups"))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("warm-{w}"))
            .json(&pickup(99_999, w))
            .send()
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|w| {
            let (http, base, token, errors) = (
                http.clone(),
                base.to_owned(),
                token.to_owned(),
                errors.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let resp = http
                        .post(format!("{base}/v1/pickups"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", format!("bench-{w}-{n}"))
                        .json(&pickup(n, w))
                        .send()
                        .await;
                    match resp {
                        Ok(r) if r.status() == 201 => latencies.push(t.elapsed()),
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    n += 1;
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    ApiResult {
        rate: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

fn run_pgbench(db: &str, clients: u64, seconds: u64, pipelined: bool) -> (f64, String) {
    let script = std::env::temp_dir().join(format!(
        "bcci-create-{}-{pipelined}.sql",
        std::process::id()
    ));
    std::fs::write(&script, pgbench_script(pipelined)).unwrap();
    let out = std::process::Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(db)
        .output()
        .expect("pgbench is installed (Debian package postgresql-client / postgresql)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "pgbench failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("pgbench printed tps");
    let latency = text
        .lines()
        .find(|l| l.starts_with("latency average"))
        .unwrap_or("")
        .to_owned();
    (tps, latency)
}

#[tokio::main]
async fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 20);
    let clients: u64 = env_or("BENCH_CLIENTS", 32);
    let server_url = std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let db_name = format!("bcci_bench_{}", std::process::id());
    let db_url = format!("{server_url}/{db_name}");

    let mut config =
        Config::from_overlay("[server]\nworkers = 2\n[database]\npool_size = 32\n").unwrap();
    config.database.url = Secret::new(db_url.clone());
    let config = Arc::new(config);
    let state = server::prepare(config.clone()).await.expect("database");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let http = server::http(state, listener).unwrap();
    let handle = http.handle();
    tokio::spawn(http);
    let token = auth::mint(
        &config.auth,
        &auth::claims_for(
            &config.auth,
            "motcua-tq",
            &["shipments:write"],
            None,
            None,
            chrono::Duration::hours(1),
        ),
    )
    .unwrap();

    println!(
        "create_shipments: {clients} concurrent clients, {seconds} s each, PostgreSQL at {server_url}, database {db_name}"
    );
    let api = run_api(&base, &token, clients, seconds).await;
    handle.stop(true).await;
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
