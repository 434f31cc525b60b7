//! The SQL mapping of the outbox and callback vocabularies (`domain::outbox`,
//! `domain::callback`): each is stored as its name in a `text` column, written and read
//! through diesel as the enum itself, so that no caller compares or parses the text.

use crate::domain::callback::{CallbackState, CallbackType};
use crate::domain::outbox::{AttemptOutcome, JobKind, JobState};
use diesel::deserialize::{self, FromSql, Queryable};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Nullable, Text};

/// A vocabulary enum stored as its name: `as_str` and `parse` are its two directions.
macro_rules! text_enum {
    ($($t:ident: $what:literal),* $(,)?) => {$(
        impl ToSql<Text, Pg> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl FromSql<Text, Pg> for $t {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                $t::parse(&text).ok_or_else(|| format!(concat!("unknown ", $what, " {:?}"), text).into())
            }
        }

        impl Queryable<Text, Pg> for $t {
            type Row = Self;
            fn build(row: Self) -> deserialize::Result<Self> {
                Ok(row)
            }
        }

        // Bound as its (static) name, so a filter or insert binds plain text.
        impl AsExpression<Text> for $t {
            type Expression = <&'static str as AsExpression<Text>>::Expression;
            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Text>>::as_expression(self.as_str())
            }
        }

        impl AsExpression<Text> for &$t {
            type Expression = <&'static str as AsExpression<Text>>::Expression;
            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Text>>::as_expression(self.as_str())
            }
        }

        impl AsExpression<Nullable<Text>> for $t {
            type Expression = <&'static str as AsExpression<Nullable<Text>>>::Expression;
            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Nullable<Text>>>::as_expression(self.as_str())
            }
        }
    )*};
}

text_enum!(
    JobKind: "job kind",
    JobState: "job state",
    AttemptOutcome: "attempt outcome",
    CallbackType: "callback type",
    CallbackState: "callback state",
);

#[cfg(test)]
mod tests {
    use super::*;

    const LEDGER: &str = include_str!("../../migrations/2026-11-27-000001_ledger/up.sql");
    const CALLBACKS: &str = include_str!("../../migrations/2026-11-27-000003_callbacks/up.sql");

    /// The names a `CHECK (column IN (…))` of `table` allows, as the migration writes them.
    fn check_list(sql: &str, table: &str, column: &str) -> Vec<String> {
        let start = sql
            .find(&format!("CREATE TABLE {table} ("))
            .unwrap_or_else(|| panic!("no table {table}"));
        let body = &sql[start..];
        let body = &body[..body.find(");").expect("end of CREATE TABLE")];
        let needle = format!("CHECK ({column} IN (");
        let at = body
            .find(&needle)
            .unwrap_or_else(|| panic!("no CHECK on {table}.{column}"));
        let list = &body[at + needle.len()..];
        list[..list.find(')').expect("end of the list")]
            .split(',')
            .map(|v| v.trim().trim_matches('\'').to_owned())
            .collect()
    }

    fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<String> {
        all.iter().map(|v| name(*v).to_owned()).collect()
    }

    // A name the database allows but the enum cannot read would fail every query that loads
    // the row; one the enum writes but the database refuses would fail the write.
    #[test]
    fn the_enums_name_exactly_what_the_check_constraints_allow() {
        assert_eq!(
            check_list(LEDGER, "jobs", "state"),
            names(&JobState::ALL, JobState::as_str)
        );
        assert_eq!(
            check_list(CALLBACKS, "callbacks", "state"),
            names(&CallbackState::ALL, CallbackState::as_str)
        );
        assert_eq!(
            check_list(CALLBACKS, "callbacks", "type"),
            names(&CallbackType::ALL, CallbackType::as_str)
        );
    }
}
