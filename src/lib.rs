//! bcci-gateway: the piece between a department's one-stop-shop dossier system and the public
//! postal carrier (VNPost) for *dịch vụ bưu chính công ích*.
//!
//! - `domain`: shipment statuses, transitions, carrier codes, lateness; plain Rust, no I/O.
//! - `ledger`: the PostgreSQL ledger (diesel-async), one module per table.
//! - `jobs`: runs the outbox's jobs (submit, cancel, confirm, deliver callbacks) and the
//!   periodic tracking polls and housekeeping; the outbox itself is `ledger::outbox`.
//! - `callbacks`: signs and delivers callbacks; `carrier`: the carrier's wire formats.
//! - `api`: the HTTP surface; `auth`: bearer tokens; `error`: problem+json.
//! - `batching`: the group-commit writer (creates, delivered callbacks).
//! - `config`: layered configuration; `state`: what every handler shares (`AppState`);
//!   `app`: the HTTP application (middleware and routes); `server`: start-up.
//! - `console`: the staff web console at `/console`.
//! - `citizen`: the citizens' tracking page at `/tra-cuu`.

pub mod api;
pub mod app;
pub mod auth;
pub mod batching;
pub mod callbacks;
pub mod carrier;
pub mod citizen;
pub mod config;
pub mod console;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod ledger;
pub mod reconcile;
pub mod server;
pub mod state;
pub mod telemetry;
