//! Start-up: database, migrations, the HTTP server, the job worker, tracking and the sandbox
//! carrier; and the graceful stop of all of them.

use crate::api;
use crate::app::build_app;
use crate::carrier::VnPost;
use crate::carrier::sandbox::{self, SandboxHandle};
use crate::config::{CarrierKind, Config};
use crate::jobs::Context;
use crate::jobs::delivered::DeliveredBatches;
use crate::jobs::housekeeping;
use crate::jobs::pressure::Pressure;
use crate::jobs::wakeup;
use crate::jobs::worker;
use crate::ledger;
use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::{HttpServer, web};
use anyhow::Context as _;
use std::net::TcpListener;
use std::sync::Arc;
use tokio::sync::watch;

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
    let pool = ledger::pool(
        url,
        config.database.pool_size,
        config.database.acquire_timeout,
    )?;
    Ok(web::Data::new(AppState::new(config, pool)?))
}

/// The HTTP server on `listener`, not yet awaited. Signals are left to the caller, which
/// stops the job workers and the server together.
pub fn http(state: web::Data<AppState>, listener: TcpListener) -> anyhow::Result<Server> {
    let config = state.config.clone();
    let workers = match config.server.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    Ok(HttpServer::new(move || build_app(state.clone()))
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(config.server.shutdown_timeout.as_secs())
        .listen(listener)?
        .run())
}

/// The carrier webhook of the gateway listening on `listener`, as reached from this host.
fn own_webhook_url(listener: &TcpListener) -> anyhow::Result<url::Url> {
    let mut addr = listener
        .local_addr()
        .context("server.listen: listener address")?;
    if addr.ip().is_unspecified() {
        // Listening on every interface: loopback reaches it.
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    url::Url::parse(&format!("http://{addr}{}", api::webhook::PATH))
        .context("the gateway's own webhook URL")
}

/// A running gateway: the HTTP server, the job worker, tracking and, with
/// `carrier.kind = "sandbox"`, the sandbox carrier.
pub struct Gateway {
    pub state: web::Data<AppState>,
    pub carrier: Arc<VnPost>,
    pub sandbox: Option<SandboxHandle>,
    /// The background work's pool (`jobs.pool_size`), apart from `state.pool`.
    pub background_pool: ledger::Pool,
    http: actix_web::dev::ServerHandle,
    http_task: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: watch::Sender<bool>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Gateway {
    /// Prepares the database and starts everything; HTTP on `listener`.
    pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<Gateway> {
        // Install the metrics recorder before anything records.
        crate::telemetry::handle();
        let mut config = config;
        let sandbox = match config.carrier.kind {
            CarrierKind::Sandbox => {
                // With no push_url, the sandbox pushes to this gateway's own webhook, so that
                // the whole loop runs out of the box (SPEC §8), wherever the gateway really
                // listens (port 0 in tests).
                if config.carrier.sandbox.push_url.is_none() {
                    config.carrier.sandbox.push_url = Some(own_webhook_url(&listener)?);
                }
                let sb_listener =
                    TcpListener::bind(config.carrier.sandbox.listen).with_context(|| {
                        format!(
                            "carrier.sandbox.listen: cannot listen on {}",
                            config.carrier.sandbox.listen
                        )
                    })?;
                let sb = sandbox::start(config.carrier.sandbox.clone(), sb_listener).await?;
                // The adapter talks to the sandbox wherever it really listens (port 0 in tests).
                config.carrier.base_url = sb.base_url();
                Some(sb)
            }
            CarrierKind::Vnpost => None,
        };
        let config = Arc::new(config);
        let state = prepare(config.clone()).await?;
        let carrier = state.carrier.clone();
        let (shutdown, rx) = watch::channel(false);
        // Background work gets its own pool: requests never queue behind jobs for a
        // connection (issue 12 §1).
        let jobs_pool = ledger::pool(
            config.database.url.expose(),
            config.jobs.pool_size,
            config.database.acquire_timeout,
        )?;
        let ctx = Arc::new(Context {
            pool: jobs_pool.clone(),
            config: config.clone(),
            carrier: carrier.clone(),
            http: reqwest::Client::builder()
                .connect_timeout(config.callbacks.timeout)
                .build()?,
            worker: worker::new_worker_number(),
            pressure: Arc::new(Pressure::new(
                config.jobs.max_in_flight,
                config.jobs.db_wait_target,
            )),
            wakeup: state.wakeup.clone(),
            delivered: Arc::new(DeliveredBatches::new(jobs_pool.clone())),
        });
        let mut background = Vec::new();
        if config.jobs.enabled {
            let (ctx, rx) = (ctx.clone(), rx.clone());
            background.push(tokio::spawn(worker::supervise(ctx, rx)));
        }
        background.push(tokio::spawn(wakeup::publish(
            state.wakeup.clone(),
            jobs_pool.clone(),
            rx.clone(),
        )));
        background.push(tokio::spawn(housekeeping::run(ctx, rx)));
        let server = http(state.clone(), listener)?;
        let handle = server.handle();
        let http_task = tokio::spawn(server);
        Ok(Gateway {
            state,
            carrier,
            sandbox,
            background_pool: jobs_pool,
            http: handle,
            http_task,
            shutdown,
            background,
        })
    }

    /// Graceful stop: stop claiming jobs and accepting connections, finish (or release) the
    /// work in progress within the configured deadlines.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.http.stop(true).await;
        for task in self.background {
            let _ = task.await;
        }
        self.http_task.await??;
        if let Some(sb) = self.sandbox {
            sb.stop().await;
        }
        Ok(())
    }
}
