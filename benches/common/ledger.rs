//! The generated ledger of the benchmarks that need a large one (benches/search.rs,
//! benches/growth.rs): a million shipments in one `INSERT … SELECT generate_series` (a year of
//! requests, Vietnamese names with realistic family-name frequencies from
//! benches/common/names.rs, phones, dossier codes per agency and day, statuses, offices, due
//! dates, lateness), and, for the growth bench, the rows the gateway leaves beside finished
//! shipments (events, carrier submission jobs, recent idempotency keys), so that every table a
//! create inserts into is large too.
//!
//! Each bench includes this file with `#[path]`, after `names` (`#[path = "names.rs"] mod
//! names;` at the crate root); not every bench uses every item.
#![allow(dead_code)]

use super::names;
use bcci_gateway::ledger;
use diesel::sql_types::{Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::time::Instant;

/// Column names through `ledger::schema`, so that a column renamed or dropped in the schema
/// fails to compile here. (A million rows are generated in one statement: going through
/// `ledger::shipments::create` row by row, as the other benches' set-up does, would take a
/// quarter of an hour.)
macro_rules! columns {
    ($table:ident: $($column:ident),* $(,)?) => {
        [$(<ledger::schema::$table::$column as diesel::Column>::NAME),*]
    };
}

/// The columns [`generate_sql`] fills, in its order.
pub const COLUMNS: [&str; 28] = columns!(shipments:
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

/// The generated shipments: a SELECT listing the values of [`COLUMNS`] in the same order.
/// `$1` = rows. Requests are spread evenly over the last 365 days; ids are UUIDv7 of
/// `created_at`, as the gateway mints them; `sequence` follows the events [`history`] writes.
pub fn generate_sql() -> String {
    format!(
        r#"
SELECT
    id, kind, status,
    CASE WHEN status = 'requested' THEN 1 WHEN status IN ('submitted', 'rejected') THEN 2 ELSE 3 END,
    'motcua-tq', office, dossier, proc_code, proc_name, person_name,
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
        -- family, middle and given names by their frequency (benches/common/names.rs)
        {family} || ' ' || {middle} || ' ' || {given} AS person_name,
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
            random() AS r6, random() AS r7, random() AS r8, random() AS r9,
            random() AS r10, random() AS r11
        FROM generate_series(1, $1::int) AS i
    ) raw
) g
"#,
        family = names::sql_pick(names::FAMILY, "r6"),
        middle = names::sql_pick(names::MIDDLE, "r10"),
        given = names::sql_pick(names::GIVEN, "r11"),
    )
}

/// Inserts `rows` generated shipments (the indexes maintained as the rows go in).
pub async fn shipments(conn: &mut AsyncPgConnection, rows: i32) -> anyhow::Result<()> {
    diesel::sql_query("SET synchronous_commit = off")
        .execute(conn)
        .await?;
    diesel::sql_query("SET maintenance_work_mem = '256MB'")
        .execute(conn)
        .await?;
    diesel::sql_query(format!(
        "INSERT INTO shipments ({}) {}",
        COLUMNS.join(", "),
        generate_sql()
    ))
    .bind::<Integer, _>(rows)
    .execute(conn)
    .await?;
    Ok(())
}

const EVENT_COLUMNS: [&str; 11] = columns!(shipment_events:
    shipment_id, seq, status, applied, occurred_at, recorded_at, source, carrier_code,
    carrier_text, unknown_code, actor,
);

const JOB_COLUMNS: [&str; 11] = columns!(jobs:
    kind, shipment_id, payload, state, attempts, run_at, locked_by, locked_until, created_at,
    updated_at, finished_at,
);

const IDEMPOTENCY_COLUMNS: [&str; 8] = columns!(idempotency_keys:
    client_id, key, request_hash, response_status, response_body, shipment_id, created_at,
    expires_at,
);

/// What the gateway leaves beside the generated shipments, written from them:
/// - events: `requested` (the create), `submitted` or `rejected` (the submission job), then
///   the carrier's report of the current status (one per step, as `sequence` says);
/// - one `carrier_submit` job per shipment: done, or still queued for `requested` ones;
/// - the idempotency keys of the last 48 hours (older ones are purged by housekeeping), each
///   with a saved response the size of the API's (the row as JSON, about 1.5 KB).
pub async fn history(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    let statements = [
        format!(
            "INSERT INTO shipment_events ({}) \
             SELECT id, 1, 'requested', true, created_at, created_at, 'gateway', NULL, NULL, false, client_id \
             FROM shipments ORDER BY id",
            EVENT_COLUMNS.join(", ")
        ),
        format!(
            "INSERT INTO shipment_events ({}) \
             SELECT id, 2, CASE WHEN status = 'rejected' THEN 'rejected' ELSE 'submitted' END, true, \
                    created_at + interval '2 seconds', created_at + interval '2 seconds', 'gateway', \
                    NULL, NULL, false, NULL \
             FROM shipments WHERE status <> 'requested' ORDER BY id",
            EVENT_COLUMNS.join(", ")
        ),
        format!(
            "INSERT INTO shipment_events ({}) \
             SELECT id, 3, status, true, carrier_at, carrier_at, 'carrier_push', carrier_code, \
                    carrier_text, false, NULL \
             FROM shipments WHERE sequence = 3 ORDER BY id",
            EVENT_COLUMNS.join(", ")
        ),
        format!(
            "INSERT INTO jobs ({}) \
             SELECT 'carrier_submit', id, '{{}}', \
                    CASE WHEN status = 'requested' THEN 'queued' ELSE 'done' END, \
                    CASE WHEN status = 'requested' THEN 0 ELSE 1 END, created_at, \
                    NULL, NULL, created_at, \
                    CASE WHEN status = 'requested' THEN created_at ELSE created_at + interval '2 seconds' END, \
                    CASE WHEN status = 'requested' THEN NULL ELSE created_at + interval '2 seconds' END \
             FROM shipments ORDER BY id",
            JOB_COLUMNS.join(", ")
        ),
        format!(
            "INSERT INTO idempotency_keys ({}) \
             SELECT client_id, 'seed-' || id, md5(id::text), 201, to_jsonb(s) - 'name_folded', id, \
                    created_at, created_at + interval '48 hours' \
             FROM shipments s WHERE created_at > now() - interval '48 hours'",
            IDEMPOTENCY_COLUMNS.join(", ")
        ),
    ];
    for sql in statements {
        diesel::sql_query(sql).execute(conn).await?;
    }
    Ok(())
}

/// After a bulk load: VACUUM (the visibility map and hint bits, so that no autovacuum of the
/// load runs during a measured round), ANALYZE, and a CHECKPOINT so that the first round does
/// not pay for writing the load out.
pub async fn settle(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    for sql in ["VACUUM (ANALYZE)", "CHECKPOINT"] {
        diesel::sql_query(sql).execute(conn).await?;
    }
    Ok(())
}

/// Generates a whole ledger of `rows` shipments in the (migrated) database of `conn`:
/// shipments, their history, settled. Prints how long it took.
pub async fn generate(conn: &mut AsyncPgConnection, rows: i32) -> anyhow::Result<()> {
    let started = Instant::now();
    shipments(conn, rows).await?;
    let history_at = Instant::now();
    history(conn).await?;
    let settle_at = Instant::now();
    settle(conn).await?;
    println!(
        "generated {rows} shipments in {:.1} s, their history in {:.1} s, vacuum + analyze + checkpoint {:.1} s",
        (history_at - started).as_secs_f64(),
        (settle_at - history_at).as_secs_f64(),
        settle_at.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A shipment's searchable values, sampled from the generated ledger.
#[derive(diesel::QueryableByName)]
pub struct Sample {
    #[diesel(sql_type = Text)]
    pub dossier_code: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub tracking_number: Option<String>,
    #[diesel(sql_type = Text)]
    pub person_phone: String,
    #[diesel(sql_type = Text)]
    pub person_name: String,
    #[diesel(sql_type = Text)]
    pub office_code: String,
}

/// About `n` shipments picked at random (1 % sample), with a tracking number.
pub async fn samples(conn: &mut AsyncPgConnection, n: usize) -> anyhow::Result<Vec<Sample>> {
    let picked: Vec<Sample> = diesel::sql_query(
        "SELECT dossier_code, tracking_number, person_phone, person_name, office_code \
         FROM shipments TABLESAMPLE BERNOULLI (1) WHERE tracking_number IS NOT NULL LIMIT $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(n as i64)
    .load(conn)
    .await?;
    anyhow::ensure!(!picked.is_empty(), "no sample rows");
    Ok(picked)
}

/// Vietnamese letters without their marks: what staff type on a phone.
pub fn unaccent(s: &str) -> String {
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

/// The `p` quantile of sorted durations (nearest rank).
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}
