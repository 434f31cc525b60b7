//! The closed-loop create load of the in-process benches (create_shipments, growth):
//! `clients` clients each sending `POST /v1/pickups` back to back for `seconds`; and the
//! gateway they load, served by the bench's own process.

use bcci_gateway::config::{Config, Secret};
use bcci_gateway::{auth, server};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The gateway served by this process (HTTP only: no job workers, no tracking) on a free port,
/// and a dossier system's token that may create shipments.
pub struct Gateway {
    pub base: String,
    pub token: String,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    /// `overlay` over the built-in configuration, on the database `db_url` (migrated first).
    pub async fn start(overlay: &str, db_url: &str) -> anyhow::Result<Gateway> {
        let mut config = Config::from_overlay(overlay)?;
        config.database.url = Secret::new(db_url.to_owned());
        let config = Arc::new(config);
        let state = server::prepare(config.clone()).await?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let http = server::http(state, listener)?;
        let handle = http.handle();
        let task = tokio::spawn(http);
        let token = auth::mint(
            &config.auth,
            &auth::claims_for(
                &config.auth,
                "motcua-tq",
                &["shipments:write"],
                None,
                None,
                chrono::Duration::hours(1),
            ),
        )?;
        Ok(Gateway {
            base,
            token,
            handle,
            task,
        })
    }

    /// Stops it gracefully and waits until it has.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.handle.stop(true).await;
        self.task.await??;
        Ok(())
    }
}

/// What a load run measured: the latency of every 201, the run's length, the failures.
pub struct Load {
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
    pub errors: u64,
}

/// Request numbers from `first` (so that runs on one database never repeat a key or a
/// dossier); `pickup(n, client)` makes each body. A warm-up request per client first opens the
/// connections and prepares the statements.
pub async fn creates(
    base: &str,
    token: &str,
    clients: u64,
    seconds: u64,
    first: u64,
    pickup: fn(u64, u64) -> serde_json::Value,
) -> Load {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients as usize)
        .build()
        .unwrap();
    let errors = Arc::new(AtomicU64::new(0));
    // warm-up: request numbers the run does not use
    for w in 0..clients {
        let _ = http
            .post(format!("{base}/v1/pickups"))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("warm-{w}-{first}"))
            .json(&pickup(first + 999_999, w))
            .send()
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|w| {
            let (http, base, token, errors) = (
                http.clone(),
                base.to_owned(),
                token.to_owned(),
                errors.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = first;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let resp = http
                        .post(format!("{base}/v1/pickups"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", format!("load-{w}-{n}"))
                        .json(&pickup(n, w))
                        .send()
                        .await;
                    match resp {
                        Ok(r) if r.status() == 201 => latencies.push(t.elapsed()),
                        other => {
                            // the first failure's status, never its body (it may echo the request)
                            if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!(
                                    "first failed request: {:?}",
                                    other.map(|r| r.status()).map_err(|e| e.without_url())
                                );
                            }
                        }
                    }
                    n += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Load {
        latencies,
        elapsed: started.elapsed(),
        errors: errors.load(Ordering::Relaxed),
    }
}
