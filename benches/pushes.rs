//! Benchmark: carrier pushes ingested per second through `POST /v1/carrier/vnpost/webhook` at
//! 32 concurrent senders, against pgbench running the statements the endpoint runs for one
//! push on the same PostgreSQL in the same run, with the simple protocol (like the other
//! benchmarks) and with prepared statements (as diesel sends most of them). Prints the rates,
//! the ratios, the API's latency percentiles, the CPU each side costs per push (PostgreSQL, and
//! the gateway with its senders or pgbench: on two cores they share, CPU is the bound) and the
//! cost of one push check in each mode.
//!
//! The API runs twice, once per `carrier.webhook_mode` (SPEC §6): `signature` (an RSA public-key
//! verification per push) and `encryption` (an RSA private-key decryption per push, several
//! times dearer). Every push is MyVNPost's envelope `{data: [record], sendDate, signature}`
//! with one new, authentic record that moves its shipment (12 out for delivery and 15 attempt
//! failed, alternately, with increasing carrier times), so each one takes the endpoint's full
//! path: verify, record the envelope and the record, lock the shipment, store the event,
//! change the status, write the callback and its job, write the record's outcome. Each sender
//! has its own shipments, as pgbench clients do, so neither side waits on row locks.
//!
//! The pushes are sealed before the run (that is the carrier's cost, not ours), on both cores;
//! a sender that runs out stops early, and the rate is taken over the time actually spent.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-release cargo bench --bench pushes` (needs the local
//! PostgreSQL and pgbench). Environment: BENCH_SECONDS (default 20), BENCH_CLIENTS (default
//! 32), BENCH_PUSHES_PER_SECOND (pre-signed pushes per second of run, default 2000),
//! TEST_DATABASE_SERVER (default postgres://postgres@127.0.0.1:5432).

#[path = "common/env.rs"]
mod env;
#[path = "common/pgbench.rs"]
mod pgbench;
#[path = "common/seed.rs"]
mod seed;

use bcci_gateway::carrier::push::{
    CarrierPushKey, MAX_SEND_DATE_SKEW, PushDecryptor, PushEncryptor, PushEnvelope, PushKeys,
    PushRecord, PushSigner, PushVerifier, SANDBOX_GATEWAY_PRIVATE_KEY_PEM,
    SANDBOX_GATEWAY_PUBLIC_KEY_PEM, SANDBOX_PUBLIC_KEY_PEM, SendDateFormat,
};
use bcci_gateway::carrier::sandbox::SANDBOX_PRIVATE_KEY_PEM;
use bcci_gateway::carrier::vntime;
use bcci_gateway::config::{Config, Secret};
use bcci_gateway::server;
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use env::env_or;
use pgbench::{PgbenchResult, Protocol};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shipments per sender (and per pgbench client).
const PER_CLIENT: u64 = 32;

/// The endpoint's statements for one push, in order, as PostgreSQL's log shows them (one
/// transaction: the push record, and `carrier_reports::apply_in_transaction`, including the
/// callback `change_status` writes). Values the gateway computes in
/// Rust are computed here in SQL; `\gset` needs RETURNING clauses (of values the gateway
/// already holds) on three statements. `prepared`: for `pgbench -M prepared`, where variables
/// are bound as parameters (the gateway's way) instead of pasted into the text.
fn pgbench_script(prepared: bool) -> String {
    // a value carried by `\gset` into later statements
    let carry = |expr: &str, name: &str| {
        if prepared {
            format!("{expr} AS {name}")
        } else {
            format!("quote_literal(({expr})::text) AS {name}")
        }
    };
    let (sid, at, cb) = (
        carry("\"carrier_pushes\".\"shipment_id\"", "sid"),
        carry("\"carrier_pushes\".\"status_at\"", "at"),
        carry("\"id\"", "cb"),
    );
    // The push: the shipment by its item code, the envelope, the record (with `\gset` to
    // carry results), as `ledger::pushes::record` writes them; carrier times unique per report,
    // as the gateway's are.
    let item = "'PG' || lpad(:n::text, 9, '0') || 'VN'";
    let data = r#"'[{"itemCode":"PG000000001VN","saleOrderCode":"PG-SO-1","status":12,"statusName":"Đang phát hàng","statusDate":"27/11/2026 10:00:00"}]'"#;
    let insert = format!(
        r#"SELECT "shipments"."id" FROM "shipments" WHERE ("shipments"."tracking_number" = {item}) LIMIT 1;
INSERT INTO "carrier_push_envelopes" ("send_date", "send_date_text", "mode", "data", "outcomes") VALUES (now(), '2026-11-27T10:00:05+07:00', 'signature', {data}::jsonb, '[]'::jsonb) RETURNING "carrier_push_envelopes"."id" \gset e_
INSERT INTO "carrier_pushes" ("item_code", "sale_order_code", "status_code", "status_text", "status_at", "status_at_from_send_date", "send_date", "envelope_id", "record_index", "shipment_id", "outcome") VALUES ({item}, 'PG-SO-' || :n, :code, 'Đang phát hàng', clock_timestamp(), false, now(), :e_id, 0, (SELECT "shipments"."id" FROM "shipments" WHERE ("shipments"."tracking_number" = {item}) LIMIT 1), 'applied') ON CONFLICT DO NOTHING RETURNING "carrier_pushes"."id", {sid}, {at} \gset p_"#
    );
    let outcomes = r#"UPDATE "carrier_push_envelopes" SET "outcomes" = jsonb_build_array(jsonb_build_object('outcome', 'applied', 'shipment_id', :p_sid::text, 'confirm', NULL, 'error', NULL)) WHERE ("carrier_push_envelopes"."id" = :e_id);"#;
    format!(
        r#"
\set n :client_id * {PER_CLIENT} + random(0, {last})
\set code 12 + 3 * random(0, 1)
BEGIN;
{insert}
SELECT "shipments"."id", "shipments"."kind", "shipments"."status", "shipments"."sequence", "shipments"."client_id", "shipments"."office_code", "shipments"."dossier_code", "shipments"."procedure_code", "shipments"."procedure_name", "shipments"."person_name", "shipments"."person_phone", "shipments"."person_email", "shipments"."person_id_number", "shipments"."address_line", "shipments"."province_code", "shipments"."commune_code", "shipments"."documents", "shipments"."result", "shipments"."collect_fees_vnd", "shipments"."cod_vnd", "shipments"."note", "shipments"."due_at", "shipments"."late", "shipments"."sale_order_code", "shipments"."carrier", "shipments"."tracking_number", "shipments"."carrier_order_id", "shipments"."carrier_code", "shipments"."carrier_text", "shipments"."carrier_at", "shipments"."status_reason", "shipments"."picked_up_at", "shipments"."delivered_at", "shipments"."last_report_at", "shipments"."next_poll_at", "shipments"."created_at", "shipments"."updated_at" FROM "shipments" WHERE ("shipments"."id" = :p_sid::uuid) LIMIT 1 FOR UPDATE;
SELECT EXISTS (SELECT "shipment_events"."id", "shipment_events"."shipment_id", "shipment_events"."seq", "shipment_events"."status", "shipment_events"."applied", "shipment_events"."occurred_at", "shipment_events"."recorded_at", "shipment_events"."source", "shipment_events"."carrier_code", "shipment_events"."carrier_text", "shipment_events"."unknown_code", "shipment_events"."note", "shipment_events"."actor" FROM "shipment_events" WHERE ((("shipment_events"."shipment_id" = :p_sid::uuid) AND ("shipment_events"."carrier_code" = :code)) AND ("shipment_events"."occurred_at" = :p_at::timestamptz)));
UPDATE "shipments" SET "status" = 'out_for_delivery', "sequence" = "sequence" + 1, "updated_at" = now(), "status_reason" = NULL, "carrier_code" = :code, "carrier_text" = 'Đang phát hàng', "carrier_at" = :p_at::timestamptz, "picked_up_at" = NULL, "delivered_at" = NULL WHERE ("shipments"."id" = :p_sid::uuid) RETURNING "sequence" AS seq \gset s_
SELECT max("shipment_events"."seq") AS seq FROM "shipment_events" WHERE ("shipment_events"."shipment_id" = :p_sid::uuid) LIMIT 1 \gset m_
INSERT INTO "shipment_events" ("shipment_id", "seq", "status", "applied", "occurred_at", "source", "carrier_code", "carrier_text", "unknown_code", "note", "actor") VALUES (:p_sid::uuid, :m_seq::int + 1, 'out_for_delivery', true, :p_at::timestamptz, 'carrier_push', :code, 'Đang phát hàng', false, DEFAULT, 'vnpost');
INSERT INTO "callbacks" ("id", "client_id", "shipment_id", "type", "sequence", "body") VALUES (gen_random_uuid(), 'motcua-tq', :p_sid::uuid, 'shipment.status_changed', :s_seq::int, jsonb_build_object('data', jsonb_build_object('kind', 'pickup', 'late', false, 'reason', NULL, 'status', 'out_for_delivery', 'sequence', :s_seq::int, 'occurred_at', :p_at::timestamptz, 'shipment_id', :p_sid::uuid, 'dossier_code', '000.00.14.H61-261127-0001', 'previous_status', 'attempt_failed', 'tracking_number', 'PG000000001VN'), 'type', 'shipment.status_changed', 'timestamp', now())) RETURNING {cb} \gset c_
INSERT INTO "jobs" ("kind", "shipment_id", "payload") VALUES ('callback', :p_sid::uuid, jsonb_build_object('callback_id', :c_cb::text)) RETURNING "jobs"."id";
UPDATE "shipments" SET "last_report_at" = now(), "next_poll_at" = now() + interval '10 minutes', "tracking_number" = 'PG' || lpad(:n::text, 9, '0') || 'VN' WHERE ("shipments"."id" = :p_sid::uuid);
{outcomes}
COMMIT;
"#,
        last = PER_CLIENT - 1,
    )
}

/// The pushes of one sender: its shipments in turn, each moving between 12 and 15 with a
/// carrier time one second later than its previous report.
fn seal_pushes(
    key: &CarrierPushKey,
    sender: u64,
    count: usize,
    start: DateTime<Utc>,
) -> Vec<Vec<u8>> {
    let now = Utc::now();
    (0..count)
        .map(|i| {
            let n = sender * PER_CLIENT + (i as u64 % PER_CLIENT);
            let round = i as u64 / PER_CLIENT;
            let code = if round.is_multiple_of(2) { 12 } else { 15 };
            let at = start + chrono::Duration::seconds(round as i64);
            let record = PushRecord {
                sale_order_code: Some(format!("EB-SO-{n}")),
                status_name: Some(
                    if code == 12 {
                        "Đang phát hàng"
                    } else {
                        "Phát không thành công"
                    }
                    .into(),
                ),
                status_date: Some(vntime::format_date_time(at)),
                ..PushRecord::new(format!("EB{n:09}VN"), code)
            };
            serde_json::to_vec(&key.envelope(&[record], now, SendDateFormat::Rfc3339)).unwrap()
        })
        .collect()
}

struct ApiResult {
    rate: f64,
    sent: usize,
    p50: Duration,
    p99: Duration,
    errors: u64,
    ran_out: u64,
}

async fn run_api(url: &str, pushes: Vec<Vec<Vec<u8>>>, warm: usize, seconds: u64) -> ApiResult {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(pushes.len())
        .build()
        .unwrap();
    let errors = Arc::new(AtomicU64::new(0));
    let ran_out = Arc::new(AtomicU64::new(0));
    // Every sender warms up (connections, the server's prepared statements), then all start
    // the timed run together.
    let ready = Arc::new(tokio::sync::Barrier::new(pushes.len() + 1));
    let tasks: Vec<_> = pushes
        .into_iter()
        .map(|q| {
            let (http, url, errors, ran_out, ready) = (
                http.clone(),
                url.to_owned(),
                errors.clone(),
                ran_out.clone(),
                ready.clone(),
            );
            tokio::spawn(async move {
                let send = |body: Vec<u8>| {
                    http.post(&url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                };
                let mut q = q.into_iter();
                for body in q.by_ref().take(warm) {
                    let r = send(body).await.expect("warm-up push");
                    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
                }
                ready.wait().await;
                let deadline = Instant::now() + Duration::from_secs(seconds);
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let Some(body) = q.next() else {
                        ran_out.fetch_add(1, Ordering::Relaxed);
                        break;
                    };
                    let t = Instant::now();
                    match send(body).await {
                        Ok(r) if r.status() == 200 => latencies.push(t.elapsed()),
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                (latencies, Instant::now())
            })
        })
        .collect();
    ready.wait().await;
    let started = Instant::now();
    let mut all = Vec::new();
    let mut last = started;
    for t in tasks {
        let (l, end) = t.await.unwrap();
        all.extend(l);
        last = last.max(end);
    }
    let elapsed = last - started;
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    ApiResult {
        rate: all.len() as f64 / elapsed.as_secs_f64(),
        sent: all.len(),
        p50: pct(0.50),
        p99: pct(0.99),
        errors: AtomicU64::load(&errors, Ordering::Relaxed),
        ran_out: AtomicU64::load(&ran_out, Ordering::Relaxed),
    }
}

fn run_pgbench(db: &str, clients: u64, seconds: u64, prepared: bool) -> PgbenchResult {
    let name = format!("bcci-pushes-{}", std::process::id());
    let dir = std::env::temp_dir();
    let result = pgbench::run(
        &dir,
        &name,
        &pgbench_script(prepared),
        db,
        clients,
        seconds,
        if prepared {
            Protocol::Prepared
        } else {
            Protocol::Simple
        },
    );
    let _ = std::fs::remove_file(dir.join(format!("{name}.sql")));
    result
}

/// CPU time used so far, in clock ticks (1/100 s): by PostgreSQL (its live processes, plus
/// the backends the postmaster has reaped), by this process, and by its waited-for children
/// (pgbench). Other users of the same server count too: run on a quiet machine.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    postgres: u64,
    this: u64,
    children: u64,
}

impl Cpu {
    fn now() -> Cpu {
        // utime, stime, cutime, cstime: fields 14 to 17 of /proc/<pid>/stat, counted after
        // the command name, which may contain spaces
        fn times(stat: &str) -> Option<(&str, [u64; 4])> {
            let (head, rest) = stat.rsplit_once(") ")?;
            let comm = head.split_once(" (")?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
            Some((comm, [n(11), n(12), n(13), n(14)]))
        }
        let mut cpu = Cpu::default();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            if !entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
            {
                continue;
            }
            if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat"))
                && let Some(("postgres", t)) = times(&stat)
            {
                cpu.postgres += t.iter().sum::<u64>();
            }
        }
        if let Some((_, t)) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(times)
        {
            cpu.this = t[0] + t[1];
            cpu.children = t[2] + t[3];
        }
        cpu
    }

    /// µs per operation of each part, between `self` and `later`.
    fn per_op(self, later: Cpu, ops: u64) -> (f64, f64, f64) {
        let us = |a: u64, b: u64| (b.saturating_sub(a)) as f64 * 10_000.0 / ops.max(1) as f64;
        (
            us(self.postgres, later.postgres),
            us(self.this, later.this),
            us(self.children, later.children),
        )
    }
}

/// Average time of `f` over `n` runs.
fn time_per_op(n: u32, mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed() / n
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
        .get_result::<N>(conn)
        .await
        .unwrap()
        .n
}

#[tokio::main]
async fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 20);
    let clients: u64 = env_or("BENCH_CLIENTS", 32);
    let per_second: usize = env_or("BENCH_PUSHES_PER_SECOND", 2000);
    let server_url = std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let db_name = format!("bcci_bench_pushes_{}", std::process::id());
    let db_url = format!("{server_url}/{db_name}");

    let overlay = |mode: &str| {
        format!(
            "[server]\nworkers = 2\n[database]\npool_size = 32\n[carrier]\nwebhook_mode = \"{mode}\"\n"
        )
    };
    let mut config = Config::from_overlay(&overlay("signature")).unwrap();
    config.database.url = Secret::new(db_url.clone());
    let state = server::prepare(Arc::new(config)).await.expect("database");
    drop(state);
    let mut conn = AsyncPgConnection::establish(&db_url).await.unwrap();
    // Submitted shipments, as the API and the submission job leave them (common/seed.rs): the
    // API's (item codes EB…) and pgbench's (PG…), numbered from 0; their callbacks delivered,
    // so that no job is queued.
    let per_prefix = (clients * PER_CLIENT) as u32;
    for (i, prefix) in ["EB", "PG"].into_iter().enumerate() {
        let item_codes: Vec<String> = (0..per_prefix)
            .map(|n| format!("{prefix}{n:09}VN"))
            .collect();
        let config = Config::from_overlay(&overlay("signature")).unwrap();
        seed::submitted(
            &config,
            &db_url,
            "motcua-tq",
            1 + i as u32 * per_prefix,
            &item_codes,
            seed::SubmittedCallbacks::Delivered,
        )
        .await;
    }

    // The cost of a push check in each mode, and of sealing one (the carrier's side).
    let signer = PushSigner::from_pem(SANDBOX_PRIVATE_KEY_PEM).unwrap();
    let modes = [
        (
            "signature",
            CarrierPushKey::Signature(signer.clone()),
            PushKeys::Signature(vec![
                PushVerifier::from_pem(SANDBOX_PUBLIC_KEY_PEM).unwrap(),
            ]),
        ),
        (
            "encryption",
            CarrierPushKey::Encryption(
                PushEncryptor::from_pem(SANDBOX_GATEWAY_PUBLIC_KEY_PEM).unwrap(),
            ),
            PushKeys::Encryption(vec![
                PushDecryptor::from_pem(SANDBOX_GATEWAY_PRIVATE_KEY_PEM).unwrap(),
            ]),
        ),
    ];
    let mut check_costs = Vec::new();
    for (mode, key, keys) in &modes {
        let sample = seal_pushes(key, 0, 1, Utc::now()).pop().unwrap();
        let sample: PushEnvelope = serde_json::from_slice(&sample).unwrap();
        let check = time_per_op(500, || {
            keys.verify(&sample, Utc::now(), MAX_SEND_DATE_SKEW)
                .unwrap();
        });
        let seal = time_per_op(50, || {
            key.envelope(
                &[PushRecord::new("EB000000001VN", 12)],
                Utc::now(),
                SendDateFormat::Rfc3339,
            );
        });
        check_costs.push((*mode, check, seal));
    }

    let warm = 8;
    let per_sender = warm + per_second * seconds as usize / clients as usize;
    println!(
        "pushes: {clients} concurrent senders, {seconds} s each, PostgreSQL at {server_url}, database {db_name}"
    );
    let mut results = Vec::new();
    for (i, (mode, key, _)) in modes.iter().enumerate() {
        println!(
            "{mode} mode: sealing {} pushes on every core…",
            per_sender * clients as usize
        );
        // carrier times in the recent past, one second apart per shipment and report, each
        // mode's after the previous one's
        let start = Utc::now() - chrono::Duration::days(2 - i as i64);
        let sealing = Instant::now();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let pushes: Vec<Vec<Vec<u8>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads as u64)
                .map(|t| {
                    scope.spawn(move || {
                        (0..clients)
                            .filter(|s| s % threads as u64 == t)
                            .map(|s| (s, seal_pushes(key, s, per_sender, start)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all: Vec<_> = handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            all.sort_by_key(|(s, _)| *s);
            all.into_iter().map(|(_, p)| p).collect()
        });
        // sendDate must stay within 10 minutes of the clock until the last push is sent
        assert!(
            sealing.elapsed() + Duration::from_secs(seconds + 60) < MAX_SEND_DATE_SKEW,
            "sealing took {:?}: lower BENCH_PUSHES_PER_SECOND or BENCH_SECONDS",
            sealing.elapsed()
        );

        let mut config = Config::from_overlay(&overlay(mode)).unwrap();
        config.database.url = Secret::new(db_url.clone());
        let state = server::prepare(Arc::new(config)).await.expect("database");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}{}",
            listener.local_addr().unwrap(),
            bcci_gateway::api::webhook::PATH
        );
        let http = server::http(state, listener).unwrap();
        let handle = http.handle();
        tokio::spawn(http);

        let before = count(
            &mut conn,
            "SELECT count(*) FROM carrier_pushes WHERE outcome = 'applied'",
        )
        .await;
        let cpu_api = Cpu::now();
        let api = run_api(&url, pushes, warm, seconds).await;
        let cpu_api_end = Cpu::now();
        handle.stop(true).await;
        // every 200 is a report in the ledger
        let recorded = count(
            &mut conn,
            "SELECT count(*) FROM carrier_pushes WHERE outcome = 'applied'",
        )
        .await
            - before;
        assert_eq!(
            recorded as usize,
            api.sent + warm * clients as usize,
            "{mode}"
        );
        let (api_pg, api_this, _) =
            cpu_api.per_op(cpu_api_end, (api.sent + warm * clients as usize) as u64);
        results.push((*mode, api, api_pg, api_this));
    }
    let cpu_simple = Cpu::now();
    let simple = run_pgbench(&db_url, clients, seconds, false);
    let cpu_prepared = Cpu::now();
    let prepared = run_pgbench(&db_url, clients, seconds, true);
    let cpu_end = Cpu::now();
    let (simple_pg, _, simple_bench) = cpu_simple.per_op(cpu_prepared, simple.transactions);
    let (prepared_pg, _, prepared_bench) = cpu_prepared.per_op(cpu_end, prepared.transactions);
    let latency = |r: &PgbenchResult| format!("latency average = {:.3} ms", r.latency_avg_ms);
    let (pg_tps, pg_latency, pgp_tps, pgp_latency) = (
        simple.tps,
        latency(&simple),
        prepared.tps,
        latency(&prepared),
    );

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    for (mode, api, _, _) in &results {
        println!(
            "| API ({mode}): pushes ingested per second | {:.0} |",
            api.rate
        );
        println!(
            "| API ({mode}): latency p50 / p99 | {:.1} ms / {:.1} ms |",
            api.p50.as_secs_f64() * 1000.0,
            api.p99.as_secs_f64() * 1000.0
        );
        println!("| API ({mode}): failed requests | {} |", api.errors);
        if api.ran_out > 0 {
            println!(
                "| API ({mode}): senders that ran out of pre-sealed pushes | {} (raise BENCH_PUSHES_PER_SECOND) |",
                api.ran_out
            );
        }
    }
    println!("| pgbench, same statements, simple protocol: per second | {pg_tps:.0} |");
    println!("| pgbench (simple) {pg_latency} | |");
    println!("| pgbench, same statements, prepared (as diesel): per second | {pgp_tps:.0} |");
    println!("| pgbench (prepared) {pgp_latency} | |");
    for (mode, api, api_pg, api_this) in &results {
        println!(
            "| ratio API ({mode}) / pgbench simple, / pgbench prepared | {:.2}, {:.2} |",
            api.rate / pg_tps,
            api.rate / pgp_tps
        );
        println!(
            "| CPU per push, API ({mode}): PostgreSQL / gateway and its {clients} senders | {api_pg:.0} µs / {api_this:.0} µs |"
        );
    }
    println!(
        "| CPU per push, pgbench simple: PostgreSQL / pgbench | {simple_pg:.0} µs / {simple_bench:.0} µs |"
    );
    println!(
        "| CPU per push, pgbench prepared: PostgreSQL / pgbench | {prepared_pg:.0} µs / {prepared_bench:.0} µs |"
    );
    for (mode, check, seal) in &check_costs {
        println!(
            "| {mode} mode: whole push check (shape, sendDate, RSA) / carrier's sealing, one core | {:.0} µs / {:.0} µs |",
            check.as_secs_f64() * 1e6,
            seal.as_secs_f64() * 1e6
        );
    }

    drop(conn);
    let mut admin = AsyncPgConnection::establish(&format!("{server_url}/postgres"))
        .await
        .unwrap();
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
}
