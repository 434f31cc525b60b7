//! The vocabularies stored as text, read and written as their Rust enums: a value is parsed
//! once, when a row is loaded, and an unknown text is a deserialisation error (never a panic
//! nor a silent default). The enums live in `domain` (or beside their row) and know nothing of
//! diesel; the impls are here.
//!
//! Each column keeps its CHECK constraint in the migrations; `tests/it/schema.rs` compares the
//! constraints with the enums' `ALL` lists.

use super::models::CancelState;
use crate::domain::callback::{CallbackState, CallbackType};
use crate::domain::outbox::{AttemptOutcome, JobKind, JobState};
use crate::domain::reconcile::RunSource;
use crate::domain::{AuditAction, Kind, Source, Status};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// For each enum: `AsExpression` and `FromSqlRow` (derived on a private proxy with diesel's
/// `foreign_derive`, since the enum's module does not depend on diesel), and `ToSql`/`FromSql`
/// through its `as_str` and its parser (`FromStr`, or `parse` returning an `Option`).
macro_rules! text_vocabulary {
    ($($ty:ty => $proxy:ident, $parse:expr;)*) => {$(
        #[derive(AsExpression, FromSqlRow)]
        #[diesel(foreign_derive, sql_type = Text)]
        #[allow(dead_code)]
        struct $proxy($ty);

        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl FromSql<Text, Pg> for $ty {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                let text = std::str::from_utf8(value.as_bytes())?;
                let parse: fn(&str) -> Option<$ty> = $parse;
                parse(text)
                    .ok_or_else(|| format!("{}: unknown value `{text}`", stringify!($ty)).into())
            }
        }
    )*};
}

text_vocabulary! {
    Status => StatusProxy, |t| t.parse().ok();
    Kind => KindProxy, |t| t.parse().ok();
    Source => SourceProxy, |t| t.parse().ok();
    AuditAction => AuditActionProxy, |t| t.parse().ok();
    CancelState => CancelStateProxy, |t| t.parse().ok();
    JobKind => JobKindProxy, JobKind::parse;
    JobState => JobStateProxy, JobState::parse;
    AttemptOutcome => AttemptOutcomeProxy, AttemptOutcome::parse;
    CallbackType => CallbackTypeProxy, CallbackType::parse;
    CallbackState => CallbackStateProxy, CallbackState::parse;
    RunSource => RunSourceProxy, |t| t.parse().ok();
}
