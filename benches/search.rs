//! Benchmark: the staff console's search (`ledger::search::search`, the code path of
//! `/console/search`, "Cần xử lý" and "Trễ hạn") on a ledger of 1,000,000 generated shipments.
//!
//! A fresh database is migrated, filled in SQL by benches/common/ledger.rs (`INSERT … SELECT
//! generate_series`: a year of requests, Vietnamese names with realistic family-name
//! frequencies, phones, dossier codes per agency and day, statuses, offices, due dates,
//! lateness), analysed, then each kind of query runs against random values taken from the
//! data, and its p50/p99 are printed.
//!
//! Run: `cargo bench --bench search` (needs the local PostgreSQL).
//! Environment: BENCH_ROWS (default 1000000), BENCH_SAMPLES (queries per kind, default 200),
//! BENCH_EXPLAIN=1 (print the plan of each kind's slowest query), BENCH_KEEP=1 (keep the
//! database `bcci_bench_search`), BENCH_REUSE=1 (use the one a previous run kept), TEST_DATABASE_SERVER (default
//! postgres://postgres@127.0.0.1:5432).

#[path = "common/env.rs"]
mod env;
#[path = "common/ledger.rs"]
mod generated;
#[path = "common/names.rs"]
mod names;

use bcci_gateway::domain::{Kind, Status};
use bcci_gateway::ledger;
use bcci_gateway::ledger::search::{Search, explain_search, search};
use bcci_gateway::ledger::shipments::Visibility;
use chrono::{Duration as Days, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use env::env_or;
use generated::{percentile, unaccent};
use std::time::{Duration, Instant};

const DB: &str = "bcci_bench_search";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rows: i32 = env_or("BENCH_ROWS", 1_000_000);
    let samples: usize = env_or("BENCH_SAMPLES", 200);
    let explain = std::env::var("BENCH_EXPLAIN").is_ok_and(|v| v == "1");
    let server = std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let url = format!("{server}/{DB}");

    let mut admin = AsyncPgConnection::establish(&format!("{server}/postgres")).await?;
    let reuse = std::env::var("BENCH_REUSE").is_ok_and(|v| v == "1");
    let mut conn = match AsyncPgConnection::establish(&url).await {
        Ok(conn) if reuse => {
            println!("reusing the database {DB} of a previous run (BENCH_REUSE=1)");
            conn
        }
        _ => {
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
                .execute(&mut admin)
                .await?;
            diesel::sql_query(format!("CREATE DATABASE {DB}"))
                .execute(&mut admin)
                .await?;
            ledger::migrate(&url).await?;
            let mut conn = AsyncPgConnection::establish(&url).await?;
            let started = Instant::now();
            generated::shipments(&mut conn, rows).await?;
            diesel::sql_query("ANALYZE shipments")
                .execute(&mut conn)
                .await?;
            println!(
                "generated {rows} shipments in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            conn
        }
    };

    let picked = generated::samples(&mut conn, samples).await?;
    let pick = |n: usize| &picked[n % picked.len()];
    let now = Utc::now();
    let page = |s: Search| Search { limit: 25, ..s };
    let all = Visibility::default();
    let one_office = Visibility {
        client_id: None,
        offices: Some(vec!["CN-VPDKDD-HG".into()]),
    };

    type Make<'a> = Box<dyn Fn(usize) -> (Visibility, Search) + 'a>;
    let kinds: Vec<(&str, Make<'_>)> = vec![
        (
            "dossier code",
            Box::new(|n| {
                (
                    all.clone(),
                    page(Search {
                        q: Some(pick(n).dossier_code.clone()),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "tracking number",
            Box::new(|n| {
                (
                    all.clone(),
                    page(Search {
                        q: pick(n).tracking_number.clone(),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "phone, last 4 digits",
            Box::new(|n| {
                let p = &pick(n).person_phone;
                (
                    all.clone(),
                    page(Search {
                        q: Some(p[p.len() - 4..].to_owned()),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "phone, whole number",
            Box::new(|n| {
                (
                    all.clone(),
                    page(Search {
                        q: Some(pick(n).person_phone.clone()),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "name, in full",
            Box::new(|n| {
                (
                    all.clone(),
                    page(Search {
                        q: Some(pick(n).person_name.clone()),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "name, family + given, no marks",
            Box::new(|n| {
                let name = unaccent(&pick(n).person_name);
                let words: Vec<&str> = name.split(' ').collect();
                (
                    all.clone(),
                    page(Search {
                        q: Some(format!("{} {}", words[0], words[words.len() - 1])),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "name, given name only",
            Box::new(|n| {
                let name = pick(n).person_name.clone();
                (
                    all.clone(),
                    page(Search {
                        q: name.rsplit(' ').next().map(str::to_owned),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "name + office filter (staff of one office)",
            Box::new(|n| {
                (
                    one_office.clone(),
                    page(Search {
                        q: Some(pick(n).person_name.clone()),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "newest, no criteria",
            Box::new(|_| (all.clone(), page(Search::default()))),
        ),
        (
            "status = rejected",
            Box::new(|_| {
                (
                    all.clone(),
                    page(Search {
                        status: Some(Status::Rejected),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "office + kind + late",
            Box::new(|n| {
                (
                    all.clone(),
                    page(Search {
                        office: Some(pick(n).office_code.clone()),
                        kind: Some(Kind::Delivery),
                        late: Some(true),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "created in a week, months ago",
            Box::new(|n| {
                let from = now - Days::days(30 + (n as i64 % 300));
                (
                    all.clone(),
                    page(Search {
                        created_from: Some(from),
                        created_before: Some(from + Days::days(7)),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "status + office + week",
            Box::new(|n| {
                let from = now - Days::days(30 + (n as i64 % 300));
                (
                    all.clone(),
                    page(Search {
                        status: Some(Status::Cancelled),
                        office: Some(pick(n).office_code.clone()),
                        created_from: Some(from),
                        created_before: Some(from + Days::days(7)),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "office, page 20 (keyset cursor)",
            Box::new(|n| {
                // the cursor of a page deep in the office's list
                let at = now - Days::days(1 + (n as i64 % 200));
                (
                    all.clone(),
                    page(Search {
                        office: Some(pick(n).office_code.clone()),
                        before: Some(bcci_gateway::ledger::sql::uuid_v7_floor(at)),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "needs attention: quiet for 3 days",
            Box::new(|_| {
                (
                    all.clone(),
                    page(Search {
                        silent_since: Some(now - Days::days(3)),
                        ..Default::default()
                    }),
                )
            }),
        ),
        (
            "late, in progress",
            Box::new(|_| {
                (
                    all.clone(),
                    page(Search {
                        late: Some(true),
                        in_progress: true,
                        ..Default::default()
                    }),
                )
            }),
        ),
    ];

    println!();
    println!("| query | p50 | p99 | max | rows (mean) |");
    println!("|---|---:|---:|---:|---:|");
    let mut worst = Duration::ZERO;
    for (name, make) in &kinds {
        // warm-up: the cache as a running gateway has it
        for n in 0..20 {
            let (v, s) = make(n);
            search(&mut conn, &v, &s).await?;
        }
        let mut times = Vec::with_capacity(samples);
        let mut found = 0usize;
        for n in 0..samples {
            let (v, s) = make(n);
            let t = Instant::now();
            found += search(&mut conn, &v, &s).await?.len();
            times.push((t.elapsed(), n));
        }
        times.sort();
        if explain {
            // the plan of the slowest query of the kind
            let (took, n) = *times.last().unwrap();
            let (v, s) = make(n);
            println!(
                "\n-- {name}: slowest, {:.2} ms, q = {:?}",
                took.as_secs_f64() * 1e3,
                s.q
            );
            for line in explain_search(&mut conn, &v, &s).await? {
                println!("   {line}");
            }
            println!();
        }
        let times: Vec<Duration> = times.into_iter().map(|t| t.0).collect();
        let p99 = percentile(&times, 0.99);
        worst = worst.max(p99);
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} |",
            percentile(&times, 0.50).as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            times.last().unwrap().as_secs_f64() * 1e3,
            found as f64 / samples as f64
        );
    }
    println!(
        "\nworst p99: {:.2} ms ({} queries of each kind, {rows} shipments)",
        worst.as_secs_f64() * 1e3,
        samples
    );
    drop(conn);
    if std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1") {
        println!("kept database {DB}");
    } else {
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
    }
    Ok(())
}
