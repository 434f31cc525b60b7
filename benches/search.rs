//! Benchmark: the staff console's search (`ledger::search::search`, the code path of
//! `/console/search`, "Cần xử lý" and "Trễ hạn") on a ledger of 1,000,000 generated shipments.
//!
//! A fresh database is migrated, filled in SQL (`INSERT … SELECT generate_series`: a year of
//! requests, Vietnamese names with realistic family-name frequencies, phones, dossier codes
//! per agency and day, statuses, offices, due dates, lateness), analysed, then each kind of
//! query runs against random values taken from the data, and its p50/p99 are printed.
//!
//! Run: `cargo bench --bench search` (needs the local PostgreSQL).
//! Environment: BENCH_ROWS (default 1000000), BENCH_SAMPLES (queries per kind, default 200),
//! BENCH_EXPLAIN=1 (print the plan of each kind's slowest query), BENCH_KEEP=1 (keep the
//! database `bcci_bench_search`), BENCH_REUSE=1 (use the one a previous run kept), TEST_DATABASE_SERVER (default
//! postgres://postgres@127.0.0.1:5432).

use bcci_gateway::domain::{Kind, Status};
use bcci_gateway::ledger;
use bcci_gateway::ledger::search::{Search, explain_search, search};
use bcci_gateway::ledger::shipments::Visibility;
use chrono::{Duration as Days, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::time::{Duration, Instant};

const DB: &str = "bcci_bench_search";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The columns [`GENERATE`] fills, named through `ledger::schema` so that a column renamed or
/// dropped in the schema fails to compile here. (A million rows are generated in one
/// statement: going through `ledger::shipments::create` row by row, as the other benches'
/// set-up does, would take a quarter of an hour.)
macro_rules! shipment_columns {
    ($($column:ident),* $(,)?) => {
        [$(<ledger::schema::shipments::$column as diesel::Column>::NAME),*]
    };
}
const COLUMNS: [&str; 28] = shipment_columns!(
    id,
    kind,
    status,
    sequence,
    client_id,
    office_code,
    dossier_code,
    procedure_code,
    procedure_name,
    person_name,
    person_phone,
    address_line,
    province_code,
    commune_code,
    documents,
    due_at,
    late,
    sale_order_code,
    tracking_number,
    carrier_code,
    carrier_text,
    carrier_at,
    status_reason,
    picked_up_at,
    delivered_at,
    last_report_at,
    created_at,
    updated_at,
);

/// The generated ledger: one INSERT into [`COLUMNS`], whose SELECT lists their values in the
/// same order. `$1` = rows. Requests are spread evenly over the last 365 days; ids are UUIDv7
/// of `created_at`, as the gateway mints them.
const GENERATE: &str = r#"
SELECT
    id, kind, status, 3, 'motcua-tq', office, dossier, proc_code, proc_name, person_name,
    phone, address_line, '08', commune, '[]'::jsonb,
    CASE WHEN kind = 'delivery' THEN created_at + interval '10 days' END,
    late AND status <> 'cancelled', 'BCCI' || upper(replace(id::text, '-', '')),
    CASE WHEN status NOT IN ('requested', 'rejected') THEN 'E' || chr(65 + (i % 26)) || lpad(i::text, 9, '0') || 'VN' END,
    CASE WHEN status NOT IN ('requested', 'rejected') THEN 14 END,
    CASE WHEN status NOT IN ('requested', 'rejected') THEN 'Phát thành công' END,
    CASE WHEN status NOT IN ('requested', 'rejected') THEN created_at + interval '3 days' END,
    CASE WHEN status = 'rejected' THEN 'the carrier refused the order: địa chỉ không hợp lệ' END,
    CASE WHEN status IN ('picked_up', 'in_transit', 'out_for_delivery', 'delivered', 'returning', 'returned') THEN created_at + interval '20 hours' END,
    CASE WHEN status = 'delivered' THEN created_at + (CASE WHEN late THEN interval '12 days' ELSE interval '3 days' END) END,
    CASE WHEN status = 'requested' THEN NULL
         WHEN status IN ('delivered', 'returned', 'cancelled', 'rejected') THEN created_at + interval '3 days'
         WHEN r9 < 0.02 THEN created_at  -- gone quiet
         ELSE least(now(), created_at + interval '6 hours') END,
    created_at, created_at
FROM (
    SELECT *,
        (lpad(to_hex((extract(epoch FROM created_at) * 1000)::bigint), 12, '0') || '7'
            || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15))::uuid AS id,
        CASE WHEN r1 < 0.45 THEN 'pickup' ELSE 'delivery' END AS kind,
        (ARRAY['VPDKDD-TQ', 'CN-VPDKDD-HG', 'CN-VPDKDD-YS', 'CN-VPDKDD-SD', 'CN-VPDKDD-HY',
               'CN-VPDKDD-CH', 'CN-VPDKDD-LB', 'CN-VPDKDD-NH'])[1 + floor(r2 * r2 * 8)::int] AS office,
        (ARRAY['000.00.14.H61', '000.00.15.H61', '000.00.31.H61', '000.00.12.H61', '000.10.14.H61',
               '000.20.14.H61', '000.30.14.H61', '000.40.14.H61'])[1 + floor(r2 * r2 * 8)::int]
            || '-' || to_char(created_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYMMDD')
            || '-' || lpad(((i % 9999) + 1)::text, 4, '0') AS dossier,
        (ARRAY['1.004227', '1.003003', '1.001990', '2.000889', '1.005399', '1.010733'])[1 + floor(r5 * 6)::int] AS proc_code,
        (ARRAY['Đăng ký biến động quyền sử dụng đất', 'Đăng ký đất đai lần đầu',
               'Cấp đổi giấy chứng nhận quyền sử dụng đất', 'Cung cấp thông tin đất đai',
               'Xóa đăng ký thế chấp', 'Đính chính giấy chứng nhận'])[1 + floor(r5 * 6)::int] AS proc_name,
        -- family names by their frequency in Vietnam (Nguyễn ~38%)
        (ARRAY['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Huỳnh', 'Phan', 'Vũ', 'Võ', 'Đặng',
               'Bùi', 'Đỗ', 'Hồ', 'Ngô', 'Dương', 'Lý', 'Ma', 'Nông', 'Triệu', 'Hà'])[1 + floor(power(r6, 2.6) * 20)::int]
            || ' ' || CASE WHEN r7 < 0.48 THEN 'Thị' ELSE (ARRAY['Văn', 'Hữu', 'Đức', 'Minh', 'Quang', 'Thanh',
               'Ngọc', 'Xuân', 'Công', 'Đình', 'Mạnh', 'Quốc'])[1 + floor(r8 * 12)::int] END
            || ' ' || (ARRAY['An', 'Bình', 'Cường', 'Dũng', 'Dung', 'Giang', 'Hà', 'Hải', 'Hạnh', 'Hằng',
               'Hiền', 'Hiếu', 'Hoa', 'Hòa', 'Hoàng', 'Hồng', 'Huệ', 'Hùng', 'Hương', 'Huy',
               'Khánh', 'Khuê', 'Lan', 'Linh', 'Long', 'Mai', 'Minh', 'My', 'Nam', 'Nga',
               'Ngọc', 'Nhung', 'Oanh', 'Phúc', 'Phương', 'Quân', 'Quang', 'Sơn', 'Tâm', 'Thảo',
               'Thắng', 'Thanh', 'Thủy', 'Tiến', 'Trang', 'Trung', 'Tuấn', 'Tùng', 'Tuyết', 'Vân',
               'Việt', 'Vinh', 'Xuân', 'Yến', 'Đạt', 'Đông', 'Ánh', 'Ân', 'Chi', 'Diệp'])[1 + floor(r9 * 60)::int] AS person_name,
        '0' || (ARRAY['91', '94', '98', '97', '96', '86', '88', '89', '90', '93', '70', '79', '77',
               '76', '78', '83', '84', '85', '81', '82', '32', '33', '34', '35', '36', '37', '38',
               '39', '56', '58'])[1 + floor(r3 * 30)::int] || lpad(floor(r4 * 10000000)::bigint::text, 7, '0') AS phone,
        'Số ' || (1 + floor(r4 * 250)::int) || ', tổ ' || (1 + floor(r8 * 30)::int) AS address_line,
        (ARRAY['02215', '00691', '02218', '02221', '00700', '00688'])[1 + floor(r7 * 6)::int] AS commune,
        CASE
            -- the last five days: still on the way
            WHEN created_at > now() - interval '5 days' THEN
                CASE WHEN r3 < 0.10 THEN 'requested' WHEN r3 < 0.35 THEN 'submitted'
                     WHEN r3 < 0.55 THEN 'picked_up' WHEN r3 < 0.80 THEN 'in_transit'
                     WHEN r3 < 0.90 THEN 'out_for_delivery' WHEN r3 < 0.95 THEN 'attempt_failed'
                     ELSE 'delivered' END
            ELSE
                CASE WHEN r3 < 0.88 THEN 'delivered' WHEN r3 < 0.90 THEN 'returned'
                     WHEN r3 < 0.94 THEN 'cancelled' WHEN r3 < 0.95 THEN 'rejected'
                     WHEN r3 < 0.952 THEN 'in_transit' ELSE 'delivered' END
        END AS status,
        r4 < 0.06 AS late
    FROM (
        SELECT i,
            now() - interval '365 days' + (i * (365 * 86400.0 / $1)) * interval '1 second' AS created_at,
            random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
            random() AS r6, random() AS r7, random() AS r8, random() AS r9
        FROM generate_series(1, $1::int) AS i
    ) raw
) g
"#;

#[derive(QueryableByName)]
struct Sample {
    #[diesel(sql_type = Text)]
    dossier_code: String,
    #[diesel(sql_type = Nullable<Text>)]
    tracking_number: Option<String>,
    #[diesel(sql_type = Text)]
    person_phone: String,
    #[diesel(sql_type = Text)]
    person_name: String,
    #[diesel(sql_type = Text)]
    office_code: String,
}

/// Vietnamese letters without their marks: what staff type on a phone.
fn unaccent(s: &str) -> String {
    const FROM: &str = "àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ";
    const TO: &str = "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd";
    s.to_lowercase()
        .chars()
        .map(|c| {
            FROM.chars()
                .position(|f| f == c)
                .map_or(c, |p| TO.chars().nth(p).unwrap())
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

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
            diesel::sql_query("SET synchronous_commit = off")
                .execute(&mut conn)
                .await?;
            diesel::sql_query("SET maintenance_work_mem = '256MB'")
                .execute(&mut conn)
                .await?;
            diesel::sql_query(format!(
                "INSERT INTO shipments ({}) {GENERATE}",
                COLUMNS.join(", ")
            ))
            .bind::<diesel::sql_types::Integer, _>(rows)
            .execute(&mut conn)
            .await?;
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

    let picked: Vec<Sample> = diesel::sql_query(
        "SELECT dossier_code, tracking_number, person_phone, person_name, office_code \
         FROM shipments TABLESAMPLE BERNOULLI (1) WHERE tracking_number IS NOT NULL LIMIT $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(samples as i64)
    .load(&mut conn)
    .await?;
    anyhow::ensure!(!picked.is_empty(), "no sample rows");
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
