//! Retention of personal data (issue 11 §2, Decree 13/2023/NĐ-CP): the personal data of a
//! shipment finished more than `retention.personal_data_days` ago is erased, in batches, by
//! housekeeping.
//!
//! Erased (overwritten with `***` where the column cannot be empty, NULL otherwise): the
//! citizen's name, phone, e-mail, identity number and address line, the note, the names of
//! the documents and the result's description and documents; the saved idempotency
//! responses, which copy all of it, are deleted; the excerpts of the carrier's answers kept on
//! job attempts (an answer may echo the order) are cleared. Kept: codes (dossier, office,
//! procedure, province, commune, tracking), statuses, times, fees and the reasons staff and the
//! carrier gave, which the reports and the audit need.
//!
//! The event history and the audit log are append-only (a trigger refuses any change) and
//! stay as they are: they carry no citizen field (the audit log records corrections masked),
//! only reasons and the carrier's status texts. Job attempts are append-only too, except for
//! the one change made here: the trigger lets a transaction that set `bcci.retention` clear
//! `excerpt` and nothing else (migration `2026-12-01-000040_append_only_triggers`).

use super::Conn;
use crate::domain::AuditAction;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Erases the personal data of at most `batch` shipments finished more than `days` days ago
/// and not erased yet; records an audit entry when it erased any. Returns how many. Running it
/// again finds nothing more to do (`personal_data_erased_at` marks what is done); shipments
/// locked by another process are skipped and taken next time.
pub async fn erase_due(conn: &mut Conn, days: u32, batch: u32) -> QueryResult<i64> {
    conn.transaction(async move |conn| {
        // Transaction-local: the append-only trigger of job_attempts lets excerpts be cleared.
        diesel::sql_query("SET LOCAL bcci.retention = 'on'")
            .execute(conn)
            .await?;
        let erased: Count = diesel::sql_query(ERASE)
            .bind::<Integer, _>(days as i32)
            .bind::<BigInt, _>(batch as i64)
            .get_result(conn)
            .await?;
        if erased.n > 0 {
            diesel::sql_query(
                "INSERT INTO audit_log (actor_id, actor_name, action, reason, details) \
                     VALUES ('gateway', 'gateway', $4, $1, \
                             jsonb_build_object('count', $2::bigint, 'days', $3::integer))",
            )
            .bind::<Text, _>(format!(
                "personal data of shipments finished more than {days} days ago erased"
            ))
            .bind::<BigInt, _>(erased.n)
            .bind::<Integer, _>(days as i32)
            .bind::<Text, _>(AuditAction::Retention)
            .execute(conn)
            .await?;
        }
        Ok(erased.n)
    })
    .await
}

/// One batch, in one statement: pick, overwrite, delete the saved responses, clear excerpts.
const ERASE: &str = r#"
WITH due AS (
    SELECT id FROM shipments
    WHERE personal_data_erased_at IS NULL
      AND status IN ('delivered', 'returned', 'cancelled', 'rejected')
      AND updated_at < now() - make_interval(days => $1)
    ORDER BY updated_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), erased AS (
    UPDATE shipments s SET
        person_name = '***',
        person_phone = '***',
        person_email = NULL,
        person_id_number = NULL,
        address_line = '***',
        note = NULL,
        documents = (SELECT COALESCE(jsonb_agg(jsonb_set(d, '{name}', '"***"')), '[]'::jsonb)
                     FROM jsonb_array_elements(s.documents) d),
        result = CASE WHEN s.result IS NULL THEN NULL ELSE jsonb_build_object(
            'description', '***',
            'documents', (SELECT COALESCE(jsonb_agg(jsonb_set(d, '{name}', '"***"')), '[]'::jsonb)
                          FROM jsonb_array_elements(COALESCE(s.result->'documents', '[]'::jsonb)) d))
        END,
        personal_data_erased_at = now()
    FROM due WHERE s.id = due.id
    RETURNING s.id
), keys AS (
    DELETE FROM idempotency_keys k USING erased WHERE k.shipment_id = erased.id
), excerpts AS (
    UPDATE job_attempts a SET excerpt = NULL
    FROM jobs j, erased
    WHERE a.job_id = j.id AND j.shipment_id = erased.id AND a.excerpt IS NOT NULL
)
SELECT count(*) AS n FROM erased
"#;
