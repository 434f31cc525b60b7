//! The closed-loop create load of the in-process benches (create_shipments, growth):
//! `clients` clients each sending `POST /v1/pickups` back to back for `seconds`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
