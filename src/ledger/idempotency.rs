//! Idempotency-Key records (SPEC §3).
//!
//! The create transaction first takes a transaction-scoped advisory lock on (client, key):
//! if another request with the same key holds it, that request is still in flight (409).
//! Once the lock is held, any earlier request with that key has committed or rolled back, so
//! its saved response (if any) is visible and is replayed. The key row is written in the same
//! transaction as the shipment, so a key never exists without its shipment and vice versa.

use super::Conn;
use super::models::IdempotencyKey;
use super::schema::idempotency_keys::dsl::*;
use diesel::prelude::*;

use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};

/// The fingerprint of a request: method, path and the body in canonical form (serde_json's
/// maps are ordered, so key order and whitespace do not matter).
pub fn request_hash(method: &str, path: &str, body: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body.to_string().as_bytes());
    hex::encode(h.finalize())
}

fn lock_id(client: &str, k: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(client.as_bytes())
        .chain_update([0])
        .chain_update(k.as_bytes())
        .finalize();
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// Tries to take the key's lock for the rest of the transaction. Takes a shared reference so
/// that it can be pipelined with the following reads (diesel-async pipelines concurrent
/// futures on one connection; PostgreSQL still runs them in order).
pub async fn try_lock(mut conn: &Conn, client: &str, k: &str) -> QueryResult<bool> {
    diesel::select(pg_try_advisory_xact_lock(lock_id(client, k)))
        .get_result(&mut conn)
        .await
}

/// [`try_lock`] for each key of a group created together, in the order given: one statement.
pub async fn try_lock_many(mut conn: &Conn, keys: &[(&str, &str)]) -> QueryResult<Vec<bool>> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let ids: Vec<i64> = keys.iter().map(|(c, k)| lock_id(c, k)).collect();
    let rows: Vec<Locked> = diesel::sql_query(
        "SELECT pg_try_advisory_xact_lock(k) AS locked \
         FROM unnest($1::int8[]) WITH ORDINALITY AS t(k, n) ORDER BY n",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(ids)
    .load(&mut conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.locked).collect())
}

diesel::define_sql_function!(fn pg_try_advisory_xact_lock(lock_key: diesel::sql_types::BigInt) -> diesel::sql_types::Bool);

/// The saved response for a key, expired or not.
pub async fn find(mut conn: &Conn, client: &str, k: &str) -> QueryResult<Option<IdempotencyKey>> {
    idempotency_keys
        .find((client, k))
        .select(IdempotencyKey::as_select())
        .first(&mut conn)
        .await
        .optional()
}

/// The saved responses for any of `keys`, expired or not, in no particular order (the
/// filter is by client and by key apart, so a caller matches the pairs).
pub async fn find_many(mut conn: &Conn, keys: &[(&str, &str)]) -> QueryResult<Vec<IdempotencyKey>> {
    let clients: Vec<&str> = keys.iter().map(|(c, _)| *c).collect();
    let ks: Vec<&str> = keys.iter().map(|(_, k)| *k).collect();
    idempotency_keys
        .filter(client_id.eq_any(clients))
        .filter(key.eq_any(ks))
        .select(IdempotencyKey::as_select())
        .load(&mut conn)
        .await
}

/// Forgets one key (it expired), so that it can be used afresh.
pub async fn forget(conn: &mut Conn, client: &str, k: &str) -> QueryResult<()> {
    diesel::delete(idempotency_keys.find((client, k)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn save(mut conn: &Conn, row: &IdempotencyKey) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys)
        .values(row)
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// [`save`] for a group created together: one statement.
pub async fn save_many(mut conn: &Conn, rows: &[&IdempotencyKey]) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys)
        .values(rows.to_vec())
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Forgets at most `limit` expired keys, oldest first: a bounded batch, so that a backlog
/// (after a long stop) is worked off over several beats instead of in one long statement.
/// Keys another transaction holds are left for the next batch.
pub async fn purge_expired(conn: &mut Conn, limit: i64) -> QueryResult<usize> {
    // One statement; diesel has no DELETE … LIMIT, hence the physical row ids.
    diesel::sql_query(
        "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(\
         SELECT ctid FROM idempotency_keys WHERE expires_at <= now() \
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED))",
    )
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .execute(conn)
    .await
}
