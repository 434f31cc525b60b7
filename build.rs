//! Rebuilds the gateway when a migration is added or changed: `ledger::MIGRATIONS` embeds
//! `migrations/` at compile time (`embed_migrations!`), and cargo would otherwise not notice a
//! new migration directory, leaving a binary without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
