//! Staff console sessions (`console_sessions`): opened at sign-in, looked up on every console
//! request, ended at sign-out.

use super::Conn;
use super::schema::console_sessions;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
// Option fields insert NULL, not DEFAULT: the statement text is then fixed and diesel
// caches it as a prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = console_sessions, check_for_backend(diesel::pg::Pg))]
pub struct Session {
    pub id_hash: Vec<u8>,
    pub csrf_token: String,
    pub sub: String,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub offices: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session, and forgets the expired ones on the way.
pub async fn open_session(conn: &mut Conn, session: &Session) -> QueryResult<()> {
    use console_sessions::dsl;
    diesel::delete(dsl::console_sessions.filter(dsl::expires_at.lt(Utc::now())))
        .execute(conn)
        .await?;
    diesel::insert_into(dsl::console_sessions)
        .values(session)
        .execute(conn)
        .await?;
    Ok(())
}

/// The live session with this id hash, if any.
pub async fn find_session(conn: &mut Conn, id_hash: &[u8]) -> QueryResult<Option<Session>> {
    use console_sessions::dsl;
    dsl::console_sessions
        .filter(dsl::id_hash.eq(id_hash))
        .filter(dsl::expires_at.gt(Utc::now()))
        .select(Session::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn end_session(conn: &mut Conn, id_hash: &[u8]) -> QueryResult<()> {
    use console_sessions::dsl;
    diesel::delete(dsl::console_sessions.filter(dsl::id_hash.eq(id_hash)))
        .execute(conn)
        .await?;
    Ok(())
}
