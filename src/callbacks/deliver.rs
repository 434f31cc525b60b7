//! One delivery attempt of a callback over HTTP (SPEC §7): the body as stored, with Standard
//! Webhooks headers signed by every current secret of the client. What the attempt means for
//! the message (delivered, held, retried, dead) is recorded by `jobs::callback`.

use super::sign;
use crate::config::Client;
use crate::domain::outbox::excerpt;
use chrono::Utc;
use std::fmt;
use std::time::{Duration, Instant};

/// How an attempt ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver answered 2xx.
    Delivered,
    /// The receiver answered 410: its client's callbacks stop until staff re-enable them.
    Gone,
    /// The client's callbacks are stopped: the message waits.
    Held,
    /// The message cannot be delivered at all (client removed from the configuration, or its
    /// secret unusable).
    Dropped(String),
}

/// Why an attempt failed, in the terms of the retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The connection could not be made.
    Connect,
    /// No answer within `callbacks.timeout`.
    Timeout,
    /// The receiver answered something other than 2xx or 410.
    Server,
    /// Any other HTTP failure.
    Protocol,
}

impl FailureClass {
    /// A stable name, for attempt rows and logs (the same names as the carrier's classes).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Connect => "connect",
            FailureClass::Timeout => "timeout",
            FailureClass::Server => "server",
            FailureClass::Protocol => "protocol",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed attempt, retried on the callbacks' schedule. `message` and `excerpt` may quote the
/// receiver's answer: kept on the attempt, not logged.
#[derive(Debug, Clone, thiserror::Error)]
#[error("callback {class}: {message}")]
pub struct DeliveryError {
    pub class: FailureClass,
    pub message: String,
    pub http_status: Option<u16>,
    /// From the receiver's `Retry-After` (seconds).
    pub retry_after: Option<Duration>,
    /// The start of the answer body.
    pub excerpt: Option<String>,
}

impl DeliveryError {
    fn new(class: FailureClass, message: impl Into<String>) -> Self {
        DeliveryError {
            class,
            message: message.into(),
            http_status: None,
            retry_after: None,
            excerpt: None,
        }
    }
}

/// Posts `body` (the stored callback body) to `client`'s callback URL as message `msg_id`.
pub async fn send(
    http: &reqwest::Client,
    client: &Client,
    msg_id: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<Delivery, DeliveryError> {
    let mut keys = Vec::new();
    for secret in [
        Some(&client.callback_secret),
        client.callback_secret_next.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        match sign::key(secret.expose()) {
            Ok(k) => keys.push(k),
            Err(e) => return Ok(Delivery::Dropped(format!("client {}: {e}", client.id))),
        }
    }
    let body = serde_json::to_vec(body).expect("a JSON value serialises");
    let timestamp = Utc::now().timestamp();
    let t = Instant::now();
    let sent = http
        .post(client.callback_url.clone())
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            sign::header(&keys, msg_id, timestamp, &body),
        )
        .body(body)
        .send()
        .await;
    metrics::histogram!("bcci_callback_request_seconds").record(t.elapsed());
    match sent {
        Ok(r) if r.status().is_success() => Ok(Delivery::Delivered),
        Ok(r) if r.status() == reqwest::StatusCode::GONE => Ok(Delivery::Gone),
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = r.text().await.unwrap_or_default();
            let mut e = DeliveryError::new(
                FailureClass::Server,
                format!("the receiver answered {status}"),
            );
            e.http_status = Some(status);
            e.retry_after = retry_after;
            e.excerpt = Some(excerpt(&text));
            Err(e)
        }
        Err(e) if e.is_timeout() => Err(DeliveryError::new(
            FailureClass::Timeout,
            "no answer within callbacks.timeout",
        )),
        Err(e) if e.is_connect() => Err(DeliveryError::new(
            FailureClass::Connect,
            format!("cannot connect: {e}"),
        )),
        Err(e) => Err(DeliveryError::new(FailureClass::Protocol, e.to_string())),
    }
}
