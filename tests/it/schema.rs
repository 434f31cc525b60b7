//! Issue 9 §2 and §7, schema hygiene: migrations only ever add (checksums); the append-only
//! tables refuse updates and deletes with an error, retention's excerpt clearing excepted; the
//! migrations' CHECK lists and status predicates agree with the Rust enums; the vocabularies
//! load as enums and refuse unknown words.

use crate::support::*;
use bcci_gateway::domain::callback::{CallbackState, CallbackType};
use bcci_gateway::domain::outbox::{JobKind, JobState};
use bcci_gateway::domain::reconcile::RunSource;
use bcci_gateway::domain::{AuditAction, Kind, Source, Status};
use bcci_gateway::ledger::models::CancelState;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// Migrations only ever add.

/// Every committed migration's up.sql and down.sql is listed in migrations/CHECKSUMS with its
/// sha256 (the `sha256sum` format), and none changed since.
#[test]
fn migrations_only_ever_add() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let listed: BTreeMap<String, String> =
        std::fs::read_to_string(root.join("migrations/CHECKSUMS"))
            .expect("migrations/CHECKSUMS: run .ci/checksums")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (sum, path) = l.split_once("  ").expect("`<sha256>  <path>` lines");
                (path.to_owned(), sum.to_owned())
            })
            .collect();
    let mut on_disk = BTreeSet::new();
    for dir in std::fs::read_dir(root.join("migrations")).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in ["up.sql", "down.sql"] {
            if dir.join(f).exists() {
                let name = dir.file_name().unwrap().to_str().unwrap();
                on_disk.insert(format!("migrations/{name}/{f}"));
            }
        }
    }
    assert!(on_disk.len() >= 20, "the migrations were not found");
    for path in &on_disk {
        let Some(sum) = listed.get(path) else {
            panic!(
                "{path} is not in migrations/CHECKSUMS: a new migration is listed by running \
                 .ci/checksums (it appends the missing ones)"
            );
        };
        let now = hex::encode(Sha256::digest(std::fs::read(root.join(path)).unwrap()));
        assert_eq!(
            &now, sum,
            "{path} changed after it was committed: migrations only ever add. Restore it \
             (git checkout) and put the change in a new migration"
        );
    }
    for path in listed.keys() {
        assert!(
            on_disk.contains(path),
            "{path} is listed in migrations/CHECKSUMS but gone (deleted or renamed): \
             migrations only ever add"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Append-only tables.

const SHIPMENT: &str = "00000000-0000-7000-8000-000000000001";

/// One row in each append-only table, for a shipment finished 400 days ago.
async fn seed(conn: &mut AsyncPgConnection) {
    for sql in [
        format!(
            "INSERT INTO shipments (id, kind, status, client_id, office_code, dossier_code, \
             procedure_code, procedure_name, person_name, person_phone, address_line, \
             province_code, commune_code, sale_order_code, updated_at) VALUES ('{SHIPMENT}', \
             'pickup', 'delivered', 'c', 'O', 'd-1', 'p', 'p', 'Nguyễn Văn An', '0912345678', \
             'Số 12', '08', '02215', 'S-1', now() - interval '400 days')"
        ),
        format!(
            "INSERT INTO jobs (id, kind, shipment_id) VALUES (1, 'carrier_submit', '{SHIPMENT}')"
        ),
        "INSERT INTO job_attempts (job_id, attempt, worker, started_at, duration_ms, outcome, \
         excerpt) VALUES (1, 1, 1, now(), 5, 'ok', '{\"receiverName\": \"Nguyễn Văn An\"}')"
            .into(),
        format!(
            "INSERT INTO shipment_events (shipment_id, seq, status, applied, occurred_at, source) \
             VALUES ('{SHIPMENT}', 1, 'requested', true, now(), 'gateway')"
        ),
        format!(
            "INSERT INTO audit_log (actor_id, action, shipment_id, reason) \
             VALUES ('staff-1', 'cancel', '{SHIPMENT}', 'asked by phone')"
        ),
    ] {
        diesel::sql_query(sql).execute(conn).await.unwrap();
    }
}

/// The statement's error, which must be the trigger's.
async fn refused(conn: &mut AsyncPgConnection, table: &str, op: &str, sql: &str) {
    let err = diesel::sql_query(sql)
        .execute(conn)
        .await
        .expect_err(&format!("{sql}: accepted"));
    assert_eq!(
        err.to_string(),
        format!("{table} is append-only: {op} refused"),
        "{sql}"
    );
    // The SQLSTATE a caller can match on.
    diesel::sql_query(format!(
        "DO $$ BEGIN {sql}; RAISE EXCEPTION 'accepted'; \
         EXCEPTION WHEN SQLSTATE 'BC001' THEN NULL; END $$"
    ))
    .execute(conn)
    .await
    .unwrap_or_else(|e| panic!("{sql}: not SQLSTATE BC001: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_only_tables_refuse_updates_and_deletes() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    seed(&mut conn).await;
    for (table, set) in [
        ("shipment_events", "note = 'edited'"),
        ("audit_log", "reason = 'edited'"),
        ("job_attempts", "excerpt = NULL"),
    ] {
        refused(
            &mut conn,
            table,
            "UPDATE",
            &format!("UPDATE {table} SET {set}"),
        )
        .await;
        refused(&mut conn, table, "DELETE", &format!("DELETE FROM {table}")).await;
        refused(&mut conn, table, "TRUNCATE", &format!("TRUNCATE {table}")).await;
        assert_eq!(db.count(&format!("SELECT count(*) FROM {table}")).await, 1);
    }
    assert_eq!(
        db.count("SELECT count(*) FROM job_attempts WHERE excerpt IS NOT NULL")
            .await,
        1
    );

    // Retention's setting lets through exactly one change: clearing excerpts.
    let retention =
        |sql: &'static str| format!("BEGIN; SET LOCAL bcci.retention = 'on'; {sql}; COMMIT");
    for (table, op, sql) in [
        (
            "job_attempts",
            "UPDATE",
            "UPDATE job_attempts SET worker = 9",
        ),
        (
            "job_attempts",
            "UPDATE",
            "UPDATE job_attempts SET excerpt = NULL, worker = 9",
        ),
        (
            "job_attempts",
            "UPDATE",
            "UPDATE job_attempts SET excerpt = 'other'",
        ),
        ("job_attempts", "DELETE", "DELETE FROM job_attempts"),
        (
            "shipment_events",
            "UPDATE",
            "UPDATE shipment_events SET note = NULL",
        ),
        ("audit_log", "DELETE", "DELETE FROM audit_log"),
    ] {
        let err = conn.batch_execute(&retention(sql)).await.expect_err(sql);
        assert_eq!(
            err.to_string(),
            format!("{table} is append-only: {op} refused")
        );
        conn.batch_execute("ROLLBACK").await.unwrap();
    }
    conn.batch_execute(&retention("UPDATE job_attempts SET excerpt = NULL"))
        .await
        .unwrap();
    assert_eq!(
        db.count("SELECT count(*) FROM job_attempts WHERE excerpt IS NULL AND worker = 1")
            .await,
        1
    );
    // The setting is transaction-local: gone after the commit.
    refused(
        &mut conn,
        "job_attempts",
        "UPDATE",
        "UPDATE job_attempts SET excerpt = NULL",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_clears_attempt_excerpts_through_the_trigger() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    seed(&mut conn).await;
    let erased = bcci_gateway::ledger::retention::erase_due(&mut conn, 365, 100)
        .await
        .unwrap();
    assert_eq!(erased, 1);
    assert_eq!(
        db.count("SELECT count(*) FROM job_attempts WHERE excerpt IS NULL")
            .await,
        1,
        "the excerpt, which echoes the order, is cleared"
    );
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM shipments WHERE id = '{SHIPMENT}' AND person_name = '***'"
        ))
        .await,
        1
    );
    // What retention keeps: the history and the audit log, plus its own audit entry.
    assert_eq!(db.count("SELECT count(*) FROM shipment_events").await, 1);
    assert_eq!(
        db.count("SELECT count(*) FROM audit_log WHERE action = 'retention'")
            .await,
        1
    );
    // Outside retention the trigger refuses again (the setting did not outlive it).
    refused(
        &mut conn,
        "job_attempts",
        "DELETE",
        "DELETE FROM job_attempts",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The migrations' vocabularies and the Rust enums.

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|v| name(*v).to_owned()).collect()
}

/// One line per column holding a vocabulary: (table, column, the Rust enum's words). Typing a
/// vocabulary (JobState, AttemptOutcome, CallbackState, …) means one more line here, and
/// removing its column from `UNTYPED`.
fn vocabularies() -> Vec<(&'static str, &'static str, BTreeSet<String>)> {
    vec![
        ("shipments", "status", names(&Status::ALL, Status::as_str)),
        ("shipments", "kind", names(&Kind::ALL, Kind::as_str)),
        (
            "shipments",
            "cancel_state",
            names(&CancelState::ALL, CancelState::as_str),
        ),
        (
            "shipment_events",
            "status",
            names(&Status::ALL, Status::as_str),
        ),
        (
            "shipment_events",
            "source",
            names(&Source::ALL, Source::as_str),
        ),
        (
            "audit_log",
            "action",
            names(&AuditAction::ALL, AuditAction::as_str),
        ),
        ("jobs", "kind", names(&JobKind::ALL, JobKind::as_str)),
        ("jobs", "state", names(&JobState::ALL, JobState::as_str)),
        (
            "reconcile_runs",
            "source",
            names(&RunSource::ALL, RunSource::as_str),
        ),
        (
            "callbacks",
            "type",
            names(&CallbackType::ALL, CallbackType::as_str),
        ),
        (
            "callbacks",
            "state",
            names(&CallbackState::ALL, CallbackState::as_str),
        ),
    ]
}

/// Columns with a CHECK list and no Rust enum with an `ALL` list yet.
const UNTYPED: &[(&str, &str)] = &[
    ("carrier_pushes", "outcome"),
    ("carrier_push_envelopes", "mode"),
];

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    def: String,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Text)]
    predicate: String,
}

/// The quoted words of a constraint or predicate as PostgreSQL prints it
/// (`ARRAY['a'::text, 'b'::text]`, `'a'::text`).
fn quoted(s: &str) -> BTreeSet<String> {
    s.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Every list of words `column` is compared with in `predicate`: `column = 'a'`,
/// `column = ANY (ARRAY[…])`, `column <> ALL (ARRAY[…])`.
fn lists_in(predicate: &str, column: &str) -> Vec<BTreeSet<String>> {
    let mut lists = Vec::new();
    let mut from = 0;
    while let Some(at) = predicate[from..].find(column).map(|i| i + from) {
        from = at + column.len();
        let before = predicate[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &predicate[from..];
        let list = if let Some(r) = rest.strip_prefix(" = '") {
            format!("'{}", &r[..r.find(')').unwrap_or(r.len())])
        } else if let Some(r) = rest
            .strip_prefix(" = ANY (ARRAY[")
            .or_else(|| rest.strip_prefix(" <> ALL (ARRAY["))
        {
            r[..r.find(']').unwrap()].to_owned()
        } else {
            continue;
        };
        lists.push(quoted(&list));
    }
    lists
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_lists_and_status_predicates_match_the_enums() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let checks: Vec<Check> = diesel::sql_query(
        "SELECT c.relname::text AS table_name, a.attname::text AS column_name, \
                pg_get_constraintdef(k.oid) AS def \
         FROM pg_constraint k \
         JOIN pg_class c ON c.oid = k.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
         WHERE k.contype = 'c' AND cardinality(k.conkey) = 1",
    )
    .load(&mut conn)
    .await
    .unwrap();
    // (table, column) -> the words its CHECK allows (vocabulary checks only: those with words).
    let mut allowed: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for c in checks {
        let words = quoted(&c.def);
        if !words.is_empty() {
            let old = allowed.insert((c.table_name.clone(), c.column_name.clone()), words);
            assert!(
                old.is_none(),
                "two CHECK lists on {}.{}",
                c.table_name,
                c.column_name
            );
        }
    }

    let lines = vocabularies();
    for (table, column, rust) in &lines {
        let Some(sql) = allowed.get(&(table.to_string(), column.to_string())) else {
            panic!("{table}.{column} has no CHECK list in the migrations");
        };
        assert_eq!(
            sql, rust,
            "{table}.{column}: the migrations' CHECK list (left) differs from the Rust enum \
             (right): a new word needs both a migration replacing the constraint and the enum"
        );
    }
    for (table, column) in allowed.keys() {
        let typed = lines.iter().any(|(t, c, _)| t == table && c == column);
        let untyped = UNTYPED.contains(&(table.as_str(), column.as_str()));
        assert!(
            typed != untyped,
            "{table}.{column}: a CHECK list must have exactly one line, in vocabularies() \
             (typed) or in UNTYPED"
        );
    }

    // Partial indexes: every word of a predicate is one its column allows, and every
    // predicate on a shipment's status lists exactly the terminal statuses.
    let indexes: Vec<Index> = diesel::sql_query(
        "SELECT c.relname::text AS table_name, ic.relname::text AS index_name, \
                pg_get_expr(i.indpred, i.indrelid) AS predicate \
         FROM pg_index i \
         JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_class c ON c.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
         WHERE i.indpred IS NOT NULL",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let terminal = names(&Status::TERMINAL, Status::as_str);
    let mut on_status = Vec::new();
    for ix in &indexes {
        for ((table, column), words) in &allowed {
            if *table != ix.table_name {
                continue;
            }
            for list in lists_in(&ix.predicate, column) {
                assert!(
                    list.is_subset(words),
                    "index {}: {list:?} not all allowed in {table}.{column} ({})",
                    ix.index_name,
                    ix.predicate
                );
                if table == "shipments" && column == "status" {
                    assert_eq!(
                        list, terminal,
                        "index {} lists statuses other than Status::TERMINAL: {}",
                        ix.index_name, ix.predicate
                    );
                    on_status.push(ix.index_name.as_str());
                }
            }
        }
    }
    on_status.sort();
    assert_eq!(
        on_status,
        [
            "shipments_one_active_per_dossier",
            "shipments_quiet",
            "shipments_retention_due"
        ],
        "the partial indexes on a shipment's status (a new one: add it here once checked)"
    );
    // `is_terminal` and the list agree.
    for s in Status::ALL {
        assert_eq!(s.is_terminal(), terminal.contains(s.as_str()), "{s}");
    }
}

#[test]
fn predicate_lists_are_read_as_postgresql_prints_them() {
    let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        lists_in(
            "((personal_data_erased_at IS NULL) AND (status = ANY (ARRAY['delivered'::text, 'returned'::text])))",
            "status"
        ),
        vec![words(&["delivered", "returned"])]
    );
    assert_eq!(
        lists_in("(status <> ALL (ARRAY['cancelled'::text]))", "status"),
        vec![words(&["cancelled"])]
    );
    assert_eq!(
        lists_in(
            "((NOT late) AND (kind = 'pickup'::text) AND (picked_up_at IS NULL))",
            "kind"
        ),
        vec![words(&["pickup"])]
    );
    assert_eq!(
        lists_in("(cancel_status = 'x'::text)", "status"),
        Vec::<BTreeSet<String>>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// The vocabularies through diesel.

#[derive(QueryableByName)]
struct Typed {
    #[diesel(sql_type = Text)]
    status: Status,
    #[diesel(sql_type = Text)]
    source: Source,
    #[diesel(sql_type = Text)]
    action: AuditAction,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    cancel: Option<CancelState>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vocabularies_load_as_enums_and_refuse_unknown_words() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let row: Typed =
        diesel::sql_query("SELECT $1 AS status, $2 AS source, $3 AS action, $4 AS cancel")
            .bind::<Text, _>(Status::OutForDelivery)
            .bind::<Text, _>(Source::CarrierPoll)
            .bind::<Text, _>(AuditAction::EnableClientCallbacks)
            .bind::<diesel::sql_types::Nullable<Text>, _>(Some(CancelState::AwaitingCarrier))
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(row.status, Status::OutForDelivery);
    assert_eq!(row.source, Source::CarrierPoll);
    assert_eq!(row.action, AuditAction::EnableClientCallbacks);
    assert_eq!(row.cancel, Some(CancelState::AwaitingCarrier));

    // Written as their words.
    let text: Vec<String> = diesel::select((
        Status::OutForDelivery.into_sql::<Text>(),
        AuditAction::ReplayCallbacks.into_sql::<Text>(),
    ))
    .get_result::<(String, String)>(&mut conn)
    .await
    .map(|(a, b)| vec![a, b])
    .unwrap();
    assert_eq!(text, ["out_for_delivery", "replay_callbacks"]);

    // An unknown word is an error, never a panic nor a default.
    let Err(err) = diesel::sql_query(
        "SELECT 'lost' AS status, 'gateway' AS source, 'cancel' AS action, NULL AS cancel",
    )
    .get_result::<Typed>(&mut conn)
    .await
    else {
        panic!("an unknown status loads");
    };
    assert!(err.to_string().contains("unknown value `lost`"), "{err}");

    // And the database refuses to store one.
    let err = diesel::sql_query(
        "INSERT INTO audit_log (actor_id, action, reason) VALUES ('x', 'delete', 'r')",
    )
    .execute(&mut conn)
    .await
    .expect_err("an unknown audit action is stored");
    assert!(err.to_string().contains("audit_log_action_check"), "{err}");
}
