//! The citizens' tracking page's queries (issue 10 §1). They read only what the page may show
//! (codes, status, dates) and, for the form's check, the last four digits of the phone, cut
//! in SQL so that the number itself never leaves the database. Shipments whose personal data
//! retention erased are not found: their link is stale.

use super::Conn;
use crate::domain::{Kind, Status};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

/// A shipment as the citizen's page shows it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Tracked {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: Kind,
    #[diesel(sql_type = Text)]
    pub status: Status,
    #[diesel(sql_type = Text)]
    pub dossier_code: String,
    #[diesel(sql_type = Text)]
    pub office_code: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub tracking_number: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub due_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Bool)]
    pub late: bool,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// The last four digits of the phone given (the citizen's for a pickup, the recipient's
    /// for a delivery).
    #[diesel(sql_type = Text)]
    pub phone_last4: String,
}

/// A dated step: an event that set the status.
#[derive(Debug, Clone, QueryableByName)]
pub struct Step {
    #[diesel(sql_type = SqlUuid)]
    pub shipment_id: Uuid,
    #[diesel(sql_type = Text)]
    pub status: Status,
    #[diesel(sql_type = Timestamptz)]
    pub occurred_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, kind, status, dossier_code, office_code, tracking_number, due_at, \
                       late, created_at, right(person_phone, 4) AS phone_last4";

/// A dossier has few shipments (a pickup, a delivery, a retry); more is not a citizen's.
const MAX_PER_DOSSIER: i64 = 20;

/// The shipments of dossier `code` (index `shipments_dossier`), newest first.
pub async fn by_dossier(conn: &mut Conn, code: &str) -> QueryResult<Vec<Tracked>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM shipments \
         WHERE dossier_code = $1 AND personal_data_erased_at IS NULL \
         ORDER BY id DESC LIMIT {MAX_PER_DOSSIER}"
    ))
    .bind::<Text, _>(code)
    .load(conn)
    .await
}

/// Shipment `id`, unless it is gone or its personal data was erased.
pub async fn by_id(conn: &mut Conn, id: Uuid) -> QueryResult<Option<Tracked>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM shipments WHERE id = $1 AND personal_data_erased_at IS NULL"
    ))
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await
    .optional()
}

/// The steps of `ids`, oldest first: the events that set a status (no staff note, no carrier
/// free text, which may hold names).
pub async fn steps(conn: &mut Conn, ids: &[Uuid]) -> QueryResult<Vec<Step>> {
    diesel::sql_query(
        "SELECT shipment_id, status, occurred_at FROM shipment_events \
         WHERE shipment_id = ANY($1) AND status IS NOT NULL ORDER BY occurred_at, seq",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)
    .await
}
