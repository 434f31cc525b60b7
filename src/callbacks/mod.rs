//! Callbacks to the dossier systems (SPEC §7): signing (`sign`) and one delivery attempt over
//! HTTP (`deliver`). No storage here: the messages and their delivery state are in
//! `ledger::callbacks` (written with the change they report), the vocabulary and body in
//! `domain::callback`, and the job that delivers one, retries it and records each attempt in
//! `jobs::callback`.
//!
//! Delivery is at least once: retried with exponential backoff and jitter (`[callbacks]`
//! schedule) for at least 72 h, then dead-lettered, visible to staff, who can replay it. A
//! `410 Gone` stops the client's callbacks (held, not lost) until staff re-enable the client.

pub mod deliver;
pub mod sign;
