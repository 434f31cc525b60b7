//! The shipment domain in plain Rust: no I/O, no clock, no database.
//!
//! Everything that decides *what* happens to a shipment lives here, so that it can be
//! unit-tested exhaustively: statuses and the transitions the gateway and staff may make
//! (`status`), the carrier's status codes (`carrier_codes`), how a carrier report changes a
//! shipment (`report`), lateness (`lateness`), and the shape of the data citizens give us
//! (`phone`, `dossier`, `mask`, `admin_units`), the audit log's vocabulary (`audit`), the
//! requests callers make and their validation (`request`), and the push keys' PEM (`pem_keys`).

pub mod admin_units;
pub mod audit;
pub mod callback;
pub mod carrier_codes;
pub mod commune_codes;
pub mod dossier;
pub mod lateness;
pub mod letter;
pub mod mask;
pub mod note;
pub mod outbox;
pub mod pem_keys;
pub mod phone;
pub mod push;
pub mod reconcile;
pub mod report;
pub mod request;
pub mod send_type;
pub mod status;
pub mod text;

pub use audit::AuditAction;
pub use status::{Action, Kind, Source, Status, TransitionError};
