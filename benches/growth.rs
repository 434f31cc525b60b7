//! Benchmark: does ingestion stay flat as the ledger grows (issue 12 §3)? Shipments created per
//! second through the API, 32 concurrent clients, each request a new pickup with its own
//! Idempotency-Key, dossier code and a realistic name (benches/common/names.rs), first on an
//! empty ledger, then on one already holding 1,000,000 shipments with their history
//! (benches/common/ledger.rs); same duration, same requests. Goal: the rate at 1 M is at least
//! 0.8 × the rate at 0. Also the console's name search p99 on the 1 M ledger, before and right
//! after its round (the trigram index's pending list is then as full as ingestion leaves it).
//!
//! The gateway runs in this process, HTTP only (no job workers, no tracking, no
//! housekeeping), as in benches/create_shipments.rs.
//!
//! Run: `cargo bench --bench growth` (needs the local PostgreSQL).
//! Environment: BENCH_SECONDS (per round, default 15), BENCH_ROUNDS (pairs of rounds, empty
//! then full, alternated; default 1), BENCH_CLIENTS (default 32), BENCH_ROWS
//! (default 1000000), BENCH_SAMPLES (name searches per kind, default 100), BENCH_REUSE=1 (use
//! the seeded template database `growth_template_1m` of a previous run instead of generating
//! it again; it is always kept), BENCH_SEED_ONLY=1 (seed the template and stop: what
//! benches/ingestion_costs.sh needs), BENCH_KEEP=1 (keep the two measured databases),
//! TEST_DATABASE_SERVER (default postgres://postgres@127.0.0.1:5432).
//!
//! Prints `ROW|growth|<measure>|<value>|<baseline>|<ratio>|<goal>|<met>` lines, then a table.

#[path = "common/load.rs"]
mod creates;
#[path = "common/env.rs"]
mod env;
#[path = "common/ledger.rs"]
mod generated;
#[path = "common/names.rs"]
mod names;

use bcci_gateway::ledger;
use bcci_gateway::ledger::search::{Search, search};
use bcci_gateway::ledger::shipments::Visibility;
use diesel::sql_types::{Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use env::env_or;
use generated::{percentile, unaccent};
use serde_json::json;
use std::time::{Duration, Instant};

const EMPTY_DB: &str = "growth_run_empty";
const FULL_DB: &str = "growth_run_full";

/// Request `n` of client `worker`: a pickup as a dossier system sends it, every field that a
/// citizen gives varied by request (the values are generated, never printed).
fn pickup(n: u64, worker: u64) -> serde_json::Value {
    let id = (worker << 32) | n;
    json!({
        // six digits: never one of the generated ledger's four-digit dossier codes; the round
        // (a million requests each) in the agency code
        "dossier_code": format!(
            "{worker:03}.{:02}.14.H61-261201-{:06}",
            n / 1_000_000,
            n % 1_000_000
        ),
        "office_code": "VPDKDD-TQ",
        "procedure": { "code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất" },
        "citizen": {
            "full_name": names::full_name(id),
            "phone": names::phone(id),
            "email": null,
            "id_number": format!("0080{:08}", id % 100_000_000)
        },
        "address": {
            "line": format!("Số {}, tổ {}", 1 + id % 250, 1 + (id / 250) % 30),
            "province_code": "08",
            "commune_code": "02215"
        },
        "documents": [ { "name": "Đơn đăng ký biến động", "copies": 1 } ],
        "collect_fees_vnd": 0,
        "note": "Gọi trước khi đến"
    })
}

struct Round {
    rate: f64,
    p50: Duration,
    p99: Duration,
    created: usize,
    errors: u64,
    /// Of each round merged into this one.
    rates: Vec<f64>,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Round {
    fn new(mut latencies: Vec<Duration>, elapsed: Duration, errors: u64) -> Round {
        latencies.sort();
        assert!(!latencies.is_empty(), "no request succeeded");
        let rate = latencies.len() as f64 / elapsed.as_secs_f64();
        Round {
            rate,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            created: latencies.len(),
            errors,
            rates: vec![rate],
            latencies,
            elapsed,
        }
    }

    /// The rounds as one: creates over the time of all, percentiles over every request.
    fn merge(rounds: Vec<Round>) -> Round {
        let rates = rounds.iter().flat_map(|r| r.rates.clone()).collect();
        let elapsed = rounds.iter().map(|r| r.elapsed).sum();
        let errors = rounds.iter().map(|r| r.errors).sum();
        let latencies = rounds.into_iter().flat_map(|r| r.latencies).collect();
        Round {
            rates,
            ..Round::new(latencies, elapsed, errors)
        }
    }
}

/// `clients` clients each sending creates back to back for `seconds`, request numbers from
/// `first` (so that the rounds on one database never repeat a key or a dossier).
async fn load(base: &str, token: &str, clients: u64, seconds: u64, first: u64) -> Round {
    let run = creates::creates(base, token, clients, seconds, first, pickup).await;
    Round::new(run.latencies, run.elapsed, run.errors)
}

/// One round: the gateway started on `db_url` (HTTP only), loaded, stopped.
async fn round(db_url: &str, clients: u64, seconds: u64, first: u64) -> anyhow::Result<Round> {
    let gw = creates::Gateway::start(
        "[server]\nworkers = 2\n[database]\npool_size = 32\n\
         [jobs]\nenabled = false\n[tracking]\nenabled = false\n",
        db_url,
    )
    .await?;
    let result = load(&gw.base, &gw.token, clients, seconds, first).await;
    gw.stop().await?;
    Ok(result)
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) -> anyhow::Result<()> {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(sql).execute(conn).await?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Comment {
    #[diesel(sql_type = Nullable<Text>)]
    comment: Option<String>,
}

/// The comment a complete template carries, so that an interrupted seeding is not reused.
fn template_mark(rows: i32) -> String {
    format!("growth bench template: {rows} shipments, complete")
}

/// The seeded template, generated unless `reuse` and a complete one is there already.
async fn template(
    admin: &mut AsyncPgConnection,
    server: &str,
    name: &str,
    rows: i32,
    reuse: bool,
) -> anyhow::Result<()> {
    use diesel_async::RunQueryDsl;
    let comments: Vec<Comment> = diesel::sql_query(
        "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
    )
    .bind::<Text, _>(name)
    .load(admin)
    .await?;
    let complete = comments
        .into_iter()
        .next()
        .is_some_and(|c| c.comment.as_deref() == Some(template_mark(rows).as_str()));
    if reuse && complete {
        println!("reusing the seeded template {name} (BENCH_REUSE=1)");
        return Ok(());
    }
    exec(
        admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await?;
    exec(admin, &format!("CREATE DATABASE {name}")).await?;
    let url = format!("{server}/{name}");
    ledger::migrate(&url).await?;
    {
        let mut conn = AsyncPgConnection::establish(&url).await?;
        generated::generate(&mut conn, rows).await?;
    }
    exec(
        admin,
        &format!("COMMENT ON DATABASE {name} IS '{}'", template_mark(rows)),
    )
    .await?;
    Ok(())
}

/// p99 of the console's name searches (the name kinds of benches/search.rs) on `conn`.
async fn name_search_p99(
    conn: &mut AsyncPgConnection,
    picked: &[generated::Sample],
    samples: usize,
) -> anyhow::Result<(Duration, Vec<(&'static str, Duration)>)> {
    let all = Visibility::default();
    let query = |kind: usize, n: usize| {
        let name = &picked[n % picked.len()].person_name;
        let q = match kind {
            0 => name.clone(),
            1 => {
                let folded = unaccent(name);
                let words: Vec<&str> = folded.split(' ').collect();
                format!("{} {}", words[0], words[words.len() - 1])
            }
            _ => name.rsplit(' ').next().unwrap_or_default().to_owned(),
        };
        Search {
            q: Some(q),
            limit: 25,
            ..Default::default()
        }
    };
    const KINDS: [&str; 3] = [
        "name, in full",
        "name, family + given, no marks",
        "name, given name only",
    ];
    let mut everything = Vec::new();
    let mut per_kind = Vec::new();
    for (k, kind) in KINDS.iter().enumerate() {
        // warm-up: the cache as a running gateway has it
        for n in 0..10 {
            search(conn, &all, &query(k, n)).await?;
        }
        let mut times = Vec::with_capacity(samples);
        for n in 0..samples {
            let s = query(k, n);
            let t = Instant::now();
            search(conn, &all, &s).await?;
            times.push(t.elapsed());
        }
        times.sort();
        per_kind.push((*kind, percentile(&times, 0.99)));
        everything.extend(times);
    }
    everything.sort();
    Ok((percentile(&everything, 0.99), per_kind))
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn yes(met: bool) -> &'static str {
    if met { "yes" } else { "no" }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = env_or("BENCH_SECONDS", 15);
    let clients: u64 = env_or("BENCH_CLIENTS", 32);
    let rows: i32 = env_or("BENCH_ROWS", 1_000_000);
    let samples: usize = env_or("BENCH_SAMPLES", 100);
    let rounds: u64 = env_or("BENCH_ROUNDS", 1);
    let reuse = std::env::var("BENCH_REUSE").is_ok_and(|v| v == "1");
    let keep = std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1");
    let server = std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let (size, template_db) = if rows == 1_000_000 {
        ("1 M".to_owned(), "growth_template_1m".to_owned())
    } else {
        (rows.to_string(), format!("growth_template_{rows}"))
    };
    println!(
        "growth: {clients} concurrent clients, {seconds} s per round, empty ledger then {size} shipments, PostgreSQL at {server}"
    );

    let mut admin = AsyncPgConnection::establish(&format!("{server}/postgres")).await?;
    template(&mut admin, &server, &template_db, rows, reuse).await?;
    if std::env::var("BENCH_SEED_ONLY").is_ok_and(|v| v == "1") {
        // benches/ingestion_costs.sh only needs the template
        println!("seeded {template_db} (BENCH_SEED_ONLY=1)");
        return Ok(());
    }
    // The measured copy; the template stays as seeded for the next run. FILE_COPY: a copy of
    // the files after a checkpoint, much faster than WAL-logging a gigabyte.
    exec(
        &mut admin,
        &format!("DROP DATABASE IF EXISTS {FULL_DB} WITH (FORCE)"),
    )
    .await?;
    let copying = Instant::now();
    exec(
        &mut admin,
        &format!("CREATE DATABASE {FULL_DB} TEMPLATE {template_db} STRATEGY FILE_COPY"),
    )
    .await?;
    println!(
        "copied the template in {:.1} s",
        copying.elapsed().as_secs_f64()
    );
    let (empty_url, full_url) = (
        format!("{server}/{EMPTY_DB}"),
        format!("{server}/{FULL_DB}"),
    );

    let mut full = AsyncPgConnection::establish(&full_url).await?;
    let picked = generated::samples(&mut full, samples).await?;
    // A first pass reads the copied database into the cache, as a running gateway has it.
    name_search_p99(&mut full, &picked, samples).await?;
    let (search_before, _) = name_search_p99(&mut full, &picked, samples).await?;

    // Rounds alternate (empty, full, empty, …) so that a change of the machine's load weighs on
    // both; the empty ledger is made afresh for each.
    let (mut empties, mut fulls) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        exec(
            &mut admin,
            &format!("DROP DATABASE IF EXISTS {EMPTY_DB} WITH (FORCE)"),
        )
        .await?;
        exec(&mut admin, &format!("CREATE DATABASE {EMPTY_DB}")).await?;
        ledger::migrate(&empty_url).await?;
        // Each round starts from a clean checkpoint: neither pays for the other's writes.
        exec(&mut admin, "CHECKPOINT").await?;
        empties.push(round(&empty_url, clients, seconds, 0).await?);
        exec(&mut admin, "CHECKPOINT").await?;
        fulls.push(round(&full_url, clients, seconds, r * 1_000_000).await?);
    }
    let (empty, at_size) = (Round::merge(empties), Round::merge(fulls));

    let (search_after, search_kinds) = name_search_p99(&mut full, &picked, samples).await?;
    drop(full);

    let ratio = at_size.rate / empty.rate;
    let search_ratio = search_after.as_secs_f64() / search_before.as_secs_f64();
    println!();
    println!(
        "ROW|growth|creates/s at {size} shipments|{:.0}|{:.0} (empty ledger)|{ratio:.2}|≥ 0.8|{}",
        at_size.rate,
        empty.rate,
        yes(ratio >= 0.8)
    );
    println!(
        "ROW|growth|API p99 at {size} shipments|{} ms|{} ms (empty ledger)|{:.2}|< 50 ms|{}",
        ms(at_size.p99),
        ms(empty.p99),
        at_size.p99.as_secs_f64() / empty.p99.as_secs_f64(),
        yes(at_size.p99 < Duration::from_millis(50))
    );
    println!(
        "ROW|growth|name search p99 at {size} shipments, after the round|{} ms|{} ms (before the round)|{search_ratio:.2}|≤ 1.2|{}",
        ms(search_after),
        ms(search_before),
        yes(search_ratio <= 1.2)
    );

    println!();
    println!("| measure | empty ledger | {size} shipments | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| creates/s | {:.0} | {:.0} | {ratio:.2} (goal ≥ 0.8) |",
        empty.rate, at_size.rate
    );
    println!(
        "| API p50 | {} ms | {} ms | |",
        ms(empty.p50),
        ms(at_size.p50)
    );
    println!(
        "| API p99 | {} ms | {} ms | |",
        ms(empty.p99),
        ms(at_size.p99)
    );
    println!(
        "| created, all rounds | {} | {} | |",
        empty.created, at_size.created
    );
    let each = |r: &Round| {
        r.rates
            .iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| creates/s, each round | {} | {} | |",
        each(&empty),
        each(&at_size)
    );
    println!(
        "| failed requests | {} | {} | |",
        empty.errors, at_size.errors
    );
    println!(
        "| name search p99, before / after the round | | {} / {} ms | {search_ratio:.2} |",
        ms(search_before),
        ms(search_after)
    );
    for (kind, p99) in search_kinds {
        println!("| — {kind}, p99 after the round | | {} ms | |", ms(p99));
    }

    if keep {
        println!("kept databases {EMPTY_DB} and {FULL_DB}");
    } else {
        for db in [EMPTY_DB, FULL_DB] {
            exec(
                &mut admin,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            )
            .await?;
        }
    }
    println!("kept the seeded template {template_db} (BENCH_REUSE=1 uses it)");
    Ok(())
}
