//! bcci-gateway: the piece between a department's one-stop-shop dossier system and the public
//! postal carrier (VNPost) for *dịch vụ bưu chính công ích*.
//!
//! - `domain`: shipment statuses, transitions, carrier codes, lateness; plain Rust, no I/O.
//! - `ledger`: the PostgreSQL ledger (diesel-async), one module per table.
//! - `jobs`: the durable outbox of outbound work.
//! - `api`: the HTTP surface; `auth`: bearer tokens; `error`: problem+json.
//! - `config`: layered configuration; `server`: start-up.
//! - `console`: the staff web console at `/console`.

pub mod api;
pub mod auth;
pub mod callbacks;
pub mod carrier;
pub mod config;
pub mod console;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod ledger;
pub mod reconcile;
pub mod server;
pub mod telemetry;
pub mod tracking;
