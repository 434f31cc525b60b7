//! pgbench baselines shared by the benches (included with `#[path]`): the gateway's own create
//! transaction written out for pgbench, the minimal durable transaction issue 12 compares
//! against (`BEGIN; 4 INSERTs; COMMIT` into four small tables), and a runner.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The create transaction, written out for pgbench: the same statements the gateway runs, in
/// the same order. The gateway sends them in three round trips after BEGIN (the three reads
/// pipelined, then the four writes pipelined, then COMMIT); `pipelined` makes pgbench do the same, the other variant sends them one by one.
pub fn create_script(pipelined: bool) -> String {
    create_script_with_names(pipelined, &["Nguyễn Văn An"])
}

/// [`create_script`] with each transaction's citizen name drawn from `names` (a name repeated
/// in every row makes the name search's trigram index far costlier than real, varied names).
pub fn create_script_with_names<S: AsRef<str>>(pipelined: bool, names: &[S]) -> String {
    let name_count = names.len();
    let names = names
        .iter()
        .map(|n| format!("'{}'", n.as_ref().replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(",");
    let (open, close) = if pipelined {
        ("\\startpipeline\n", "\\endpipeline\n")
    } else {
        ("", "")
    };
    format!(
        r#"\set k random(1, 1000000000000)
\set n random(1, {name_count})
BEGIN;
{open}SELECT pg_try_advisory_xact_lock(:k);
SELECT client_id, key, request_hash, response_status, response_body, shipment_id, created_at, expires_at FROM idempotency_keys WHERE client_id = 'motcua-tq' AND key = 'pg-' || :k;
SELECT id FROM shipments WHERE client_id = 'motcua-tq' AND dossier_code = 'pg-' || :k AND kind = 'pickup' AND status NOT IN ('delivered', 'returned', 'cancelled', 'rejected') LIMIT 1;
{close}{open}INSERT INTO shipments (id, kind, status, sequence, client_id, office_code, dossier_code, procedure_code, procedure_name, person_name, person_phone, person_email, person_id_number, address_line, province_code, commune_code, documents, result, collect_fees_vnd, cod_vnd, note, due_at, late, sale_order_code, carrier, created_at, updated_at) VALUES (md5('s' || :k)::uuid, 'pickup', 'requested', 1, 'motcua-tq', 'VPDKDD-TQ', 'pg-' || :k, '1.004227', 'Đăng ký biến động quyền sử dụng đất', (ARRAY[{names}]::text[])[:n], '0912345678', NULL, '008090001234', 'Số 12, tổ 5', '08', '02215', '[{{"name":"Đơn đăng ký biến động","copies":1}}]', NULL, 0, 0, 'Gọi trước khi đến', NULL, false, 'PG' || :k, 'vnpost', now(), now());
INSERT INTO shipment_events (shipment_id, seq, status, applied, occurred_at, source, unknown_code, actor) VALUES (md5('s' || :k)::uuid, 1, 'requested', true, now(), 'gateway', false, 'motcua-tq');
INSERT INTO jobs (kind, shipment_id, payload) VALUES ('carrier_submit', md5('s' || :k)::uuid, '{{}}') RETURNING id;
INSERT INTO idempotency_keys (client_id, key, request_hash, response_status, response_body, shipment_id, created_at, expires_at) VALUES ('motcua-tq', 'pg-' || :k, 'hash', 201, '{{"id":"x","kind":"pickup","status":"requested","sequence":1}}', md5('s' || :k)::uuid, now(), now() + interval '48 hours');
{close}COMMIT;
"#
    )
}

/// The four small tables of the minimal transaction: a key and a timestamp each, as small as
/// a durable row gets. Created in the bench's own database; the gateway never reads them.
pub const MINIMAL_TABLES: &str = "
CREATE TABLE IF NOT EXISTS pgmin_a (id bigserial PRIMARY KEY, k bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS pgmin_b (id bigserial PRIMARY KEY, k bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS pgmin_c (id bigserial PRIMARY KEY, k bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS pgmin_d (id bigserial PRIMARY KEY, k bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
";

/// The minimal durable transaction (issue 12's baseline): one commit of four one-row inserts.
pub const MINIMAL_SCRIPT: &str = r#"\set k random(1, 1000000000000)
BEGIN;
INSERT INTO pgmin_a (k) VALUES (:k);
INSERT INTO pgmin_b (k) VALUES (:k);
INSERT INTO pgmin_c (k) VALUES (:k);
INSERT INTO pgmin_d (k) VALUES (:k);
COMMIT;
"#;

/// What one pgbench run printed.
pub struct PgbenchResult {
    /// Transactions per second (pgbench's `tps = `, without the initial connection time).
    pub tps: f64,
    /// Average latency in milliseconds.
    pub latency_avg_ms: f64,
    /// 99th percentile of the transactions' latencies, in milliseconds (from pgbench's
    /// per-transaction log): the baseline for a p99, since the machine's slow WAL flushes
    /// reach pgbench too.
    pub latency_p99_ms: f64,
    /// Transactions that failed (pgbench 15+ prints `number of failed transactions`).
    pub failed: u64,
    /// Transactions done (`number of transactions actually processed`).
    pub transactions: u64,
}

/// How pgbench sends the script's statements (`-M`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Variables bound as parameters of prepared statements, as the gateway (diesel) does.
    Prepared,
    /// Variables pasted into the statements' text.
    Simple,
}

/// Runs `script` (written to `dir`) against `db_url`: `-n -M <protocol>`, `clients` clients on
/// 2 threads, for `seconds`. Panics with pgbench's output when it fails.
pub fn run(
    dir: &Path,
    name: &str,
    script: &str,
    db_url: &str,
    clients: u64,
    seconds: u64,
    protocol: Protocol,
) -> PgbenchResult {
    let file = dir.join(format!("{name}.sql"));
    std::fs::write(&file, script).expect("writing the pgbench script");
    let mode = match protocol {
        Protocol::Prepared => "prepared",
        Protocol::Simple => "simple",
    };
    // Per-transaction log, one file per thread: `<prefix>.<pid>[.<thread>]`.
    let prefix = dir.join(format!("{name}-log"));
    let out = Command::new("pgbench")
        .args(["-n", "-M", mode, "-j", "2", "--log"])
        .arg(format!("--log-prefix={}", prefix.display()))
        .args(["-c", &clients.to_string(), "-T", &seconds.to_string(), "-f"])
        .arg(&file)
        .arg(db_url)
        .output()
        .expect("pgbench is installed (Debian package postgresql-client / postgresql)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "pgbench failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let number_after = |prefix: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l[prefix.len()..].split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    PgbenchResult {
        tps: number_after("tps = ").expect("pgbench printed tps"),
        latency_avg_ms: number_after("latency average = ").unwrap_or(f64::NAN),
        latency_p99_ms: logged_p99_ms(dir, &format!("{name}-log.")),
        failed: number_after("number of failed transactions: ").unwrap_or(0.0) as u64,
        // `N` or, with a transaction count to reach, `N/M`
        transactions: text
            .lines()
            .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
            .and_then(|v| v.split('/').next()?.trim().parse().ok())
            .expect("pgbench printed the number of transactions"),
    }
}

/// The p99 latency in pgbench's per-transaction logs in `dir` whose names start with `prefix`
/// (each line: client, transaction, latency in µs, …), which are then removed.
fn logged_p99_ms(dir: &Path, prefix: &str) -> f64 {
    let mut latencies: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(dir).expect("reading the bench's directory") {
        let path = entry.expect("a directory entry").path();
        let named = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(prefix));
        if !named {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("reading a pgbench log");
        latencies.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
        );
        let _ = std::fs::remove_file(&path);
    }
    if latencies.is_empty() {
        return f64::NAN;
    }
    latencies.sort_unstable();
    let i = ((latencies.len() as f64) * 0.99).ceil() as usize - 1;
    latencies[i.min(latencies.len() - 1)] as f64 / 1000.0
}
