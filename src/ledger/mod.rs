//! The PostgreSQL ledger: connection pool, database creation, migrations, and the queries on
//! each table (one module per table).

pub mod attention;
pub mod audit;
pub mod callbacks;
pub mod carrier_reports;
pub mod citizen;
pub mod events;
pub mod idempotency;
pub mod lateness;
pub mod letters;
pub mod models;
pub mod outbox;
pub mod prepared;
pub mod pushes;
pub mod reconcile;
pub mod retention;
pub mod schema;
pub mod search;
pub mod sessions;
pub mod shipments;
pub mod sql;
pub mod stats;
pub mod vocab;

use anyhow::Context;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::Pool as DeadPool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use std::time::Duration;

pub use diesel_async::AsyncPgConnection as Conn;

pub type Pool = DeadPool<AsyncPgConnection>;
/// A connection checked out of a [`Pool`].
pub type PooledConn = diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>;
/// Why no connection could be checked out.
pub type PoolError = diesel_async::pooled_connection::deadpool::PoolError;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Advisory lock key taken while migrating, so that several processes starting at once apply
/// each migration once.
const MIGRATION_LOCK: i64 = 0x0062_6363_696d_6967; // "bccimig"

/// A pool whose connections are driven (polled) by the runtime that builds it, the main one,
/// which lives as long as the process: diesel-async runs each connection in a task spawned
/// where it is opened, and a connection opened by an HTTP worker would die with that worker's
/// runtime. In a graceful stop the workers end one by one, each after its own last request,
/// while the others still answer theirs with the same pool ("connection closed", a 503 seen
/// in the rolling-restart fault test); a job finishing during the stop would likewise lose
/// its connection and run again.
pub fn pool(url: &str, size: usize, acquire_timeout: Duration) -> anyhow::Result<Pool> {
    // Fast recycling: a connection is checked for a broken socket, not with a `SELECT 1` on
    // every checkout; a connection that died anyway fails its request with 503.
    let mut manager_config = ManagerConfig::default();
    manager_config.recycling_method = RecyclingMethod::Fast;
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        manager_config.custom_setup = Box::new(move |url| {
            let (runtime, url) = (runtime.clone(), url.to_owned());
            async move {
                runtime
                    .spawn(async move { AsyncPgConnection::establish(&url).await })
                    .await
                    .map_err(|e| {
                        diesel::ConnectionError::BadConnection(format!("opening a connection: {e}"))
                    })?
            }
            .boxed()
        });
    }
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, manager_config);
    DeadPool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(acquire_timeout))
        .create_timeout(Some(acquire_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the database pool")
}

/// Creates the database named in `url` if it does not exist, connecting to the server's
/// `postgres` database to do so.
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    let mut parsed = url::Url::parse(url).context("database.url is not a URL")?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    anyhow::ensure!(!name.is_empty(), "database.url names no database");
    if AsyncPgConnection::establish(url).await.is_ok() {
        return Ok(());
    }
    parsed.set_path("/postgres");
    let mut admin = AsyncPgConnection::establish(parsed.as_str())
        .await
        .context("connecting to the PostgreSQL server to create the database")?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match diesel::sql_query(format!("CREATE DATABASE {quoted}"))
        .execute(&mut admin)
        .await
    {
        Ok(_) => {
            tracing::info!(database = %name, "created the database");
            Ok(())
        }
        // Another process created it at the same moment.
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("already exists") =>
        {
            Ok(())
        }
        Err(e) => Err(e).context("creating the database"),
    }
}

/// Applies pending migrations, holding an advisory lock so that concurrent starts are safe.
/// Needs a multi-threaded tokio runtime (diesel's migration harness is synchronous).
pub async fn migrate(url: &str) -> anyhow::Result<Vec<String>> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connecting to the database")?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .execute(&mut conn)
        .await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("applying migrations: {e}"))?
        .into_iter()
        .map(|v| v.to_string())
        .collect();
    let mut conn = harness.into_inner();
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .execute(&mut conn)
        .await?;
    Ok(applied)
}

/// The newest migration compiled into this binary.
pub fn latest_migration() -> String {
    MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .expect("embedded migrations")
        .iter()
        .map(|m| m.name().version().to_string())
        .max()
        .unwrap_or_default()
}

diesel::table! {
    /// diesel's own record of applied migrations.
    __diesel_schema_migrations (version) {
        version -> VarChar,
        run_on -> Timestamp,
    }
}

/// Is the database reachable with every migration of this binary applied? A newer schema
/// counts: migrations only add, so during a rolling upgrade the old processes stay ready
/// while the first new one has migrated (docs/operations.md).
pub async fn is_ready(conn: &mut Conn) -> QueryResult<bool> {
    use self::__diesel_schema_migrations::dsl as m;
    let newest: Option<String> = m::__diesel_schema_migrations
        .select(diesel::dsl::max(m::version))
        .first(conn)
        .await?;
    // Versions are fixed-width timestamps (YYYYMMDDhhmmss): text order is time order.
    Ok(newest.is_some_and(|v| v >= latest_migration()))
}
