//! Start-up: database, migrations, the HTTP server.

use crate::api::{self, AppState};
use crate::config::Config;
use crate::ledger;
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::sync::Arc;

/// Creates the database if needed, migrates it, and builds the shared state.
pub async fn prepare(config: Arc<Config>) -> anyhow::Result<web::Data<AppState>> {
    let url = config.database.url.expose();
    if config.database.create_if_missing {
        ledger::ensure_database(url).await?;
    }
    let applied = ledger::migrate(url).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied migrations");
    }
    let pool = ledger::pool(url, config.database.pool_size, config.database.acquire_timeout)?;
    Ok(web::Data::new(AppState::new(config, pool)?))
}

/// Runs the HTTP server on `listener` until it is stopped (SIGINT/SIGTERM).
pub async fn run(state: web::Data<AppState>, listener: TcpListener) -> anyhow::Result<()> {
    let config = state.config.clone();
    let workers = if config.server.workers == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { config.server.workers };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(tracing_actix_web::TracingLogger::default())
            .configure(api::routes)
    })
    .workers(workers)
    .shutdown_timeout(config.server.shutdown_timeout.as_secs())
    .listen(listener)?
    .run();
    server.await?;
    Ok(())
}
