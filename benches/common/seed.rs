//! Benchmark set-up through the library (issue 9): shipments are created by `ledger::create`
//! from the tests' example bodies (tests/it/support/bodies.rs), validated as the API validates
//! them, so that a change of the schema or of what a new shipment carries cannot leave a
//! benchmark's hand-written INSERTs behind.

#[path = "../../tests/it/support/bodies.rs"]
#[allow(dead_code)]
mod bodies;

use bcci_gateway::api::extract::from_value;
use bcci_gateway::api::shipments::pickup_row;
use bcci_gateway::config::Config;
use bcci_gateway::domain::request::PickupRequest;
use bcci_gateway::ledger::shipments::{self, Created, IdempotencyRequest};
use futures::StreamExt;
use std::time::Duration;
use uuid::Uuid;

/// Creates `n` pickups for the configured client `client`, dossiers `bodies::dossier(first)`
/// onwards, as `POST /v1/pickups` would: each with its first event, its queued carrier
/// submission job and its idempotency key. Returns their ids.
pub async fn pickups(config: &Config, db_url: &str, client: &str, first: u32, n: u32) -> Vec<Uuid> {
    let pool = bcci_gateway::ledger::pool(db_url, 16, Duration::from_secs(30)).expect("a pool");
    let now = chrono::Utc::now();
    futures::stream::iter(first..first + n)
        .map(|i| {
            let pool = pool.clone();
            async move {
                let body = bodies::pickup_body(&bodies::dossier(i));
                let request = from_value::<PickupRequest>(body)
                    .expect("the example body parses")
                    .strip_free_text();
                let row =
                    pickup_row(&request, config, client, now).expect("the example body is valid");
                let key = format!("bench-{i}");
                let idem = IdempotencyRequest {
                    client_id: client,
                    key: &key,
                    hash: key.clone(),
                    ttl: chrono::Duration::hours(48),
                };
                let mut conn = pool.get().await.expect("a connection");
                match shipments::create(&mut conn, row, idem, |_| serde_json::json!({})).await {
                    Ok(Created::New { shipment, .. }) => shipment.id,
                    Ok(Created::Replayed { .. }) => panic!("dossier {i} was created twice"),
                    Err(e) => panic!("creating dossier {i}: {e:?}"),
                }
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
}
