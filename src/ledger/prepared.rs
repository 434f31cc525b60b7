//! Statements kept prepared on their connection although diesel would not keep them.
//!
//! diesel caches a statement's server-side preparation only when it can prove the SQL text is
//! the same on every call, and it proves that for SELECTs and plain INSERTs, not for any
//! UPDATE, upsert or raw SQL (`sql_query`). Every other statement is prepared again on each
//! call: one more round trip (diesel-async sends the Parse and waits for it before it binds),
//! and PostgreSQL parses, rewrites and plans it again. In the loop benchmark that was 13
//! statements per shipment, and planning and parsing were about a fifth of PostgreSQL's CPU
//! (`perf`, 2 December; BENCHMARKS.md).
//!
//! [`Prepared`] marks a statement as safe to keep. It stays correct even if the text varies:
//! a statement without a static query id is cached under its SQL text and bind types, so a
//! different text is a different entry. Use it where the text is fixed at its call site, so
//! that each connection keeps one entry per call site; not on statements whose text grows with
//! their input (multi-row inserts, `IN` lists).
//!
//! A kept statement gets PostgreSQL's generic plan after five runs, kept until the table is
//! next analysed, and possibly made while the table was new and empty. Use it for look-ups by
//! key (a primary key, a unique index), whose plan is an index scan at any size; a query whose
//! best plan depends on its values or on the table's size (the job claim, the tracking poll's
//! scan, the push's clean-up of confirming jobs, a look-up by a list of ids: `.unprepared()`)
//! stays unprepared and is planned for its values on every call. Check a new one on an empty ledger with `SET plan_cache_mode =
//! force_generic_plan` and `EXPLAIN EXECUTE`: no `Seq Scan` on a table that grows.
//!
//! Overriding `QueryFragment::is_safe_to_cache_prepared` is what diesel's feature
//! `i-implement-a-third-party-backend-and-opt-into-breaking-changes` documents (Cargo.toml).

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// A statement whose preparation is decided here, not by diesel: kept prepared on its
/// connection when `KEEP` ([`Prepared`]), planned for its values on every call when not
/// ([`Unprepared`]). See the module's notes.
#[derive(Debug, Clone)]
pub struct Planned<Q, const KEEP: bool>(pub Q);

/// A statement to keep prepared on its connection.
pub type Prepared<Q> = Planned<Q, true>;

/// A statement diesel would keep prepared whose generic plan could be wrong: a look-up by a
/// list of keys (`= ANY`) gets a sequential scan as its generic plan on a new, small table.
pub type Unprepared<Q> = Planned<Q, false>;

impl<Q: QueryFragment<Pg>, const KEEP: bool> QueryFragment<Pg> for Planned<Q, KEEP> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(KEEP)
    }
}

/// No static query id: the cache then keys the statement by its SQL text and bind types.
impl<Q, const KEEP: bool> QueryId for Planned<Q, KEEP> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query, const KEEP: bool> Query for Planned<Q, KEEP> {
    type SqlType = Q::SqlType;
}

/// `.prepared()` or `.unprepared()` on a statement under construction, before `.execute(…)`
/// or `.load(…)`.
pub trait KeepPrepared: Sized {
    fn prepared(self) -> Prepared<Self> {
        Planned(self)
    }

    fn unprepared(self) -> Unprepared<Self> {
        Planned(self)
    }
}

impl<T: QueryFragment<Pg>> KeepPrepared for T {}
