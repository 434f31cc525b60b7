//! VNPost status codes (SPEC §5) and the gateway status each one maps to.
//!
//! The table is data, in one place: lists of raw codes per normalised status, so a change in the
//! carrier's vocabulary is a one-line change here.

use super::Status;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// What a carrier status code means for a shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMeaning {
    /// The shipment's status follows this report.
    Status(Status),
    /// A fact worth keeping (draft, COD paid out, postage paid…) that changes no status.
    RecordOnly,
    /// Not in the table: recorded and flagged for staff, never an error.
    Unknown,
}

/// The table of SPEC §5.
const TABLE: &[(&[i32], Option<Status>)] = &[
    (&[0], None),
    (&[1, 2, 3, 4], Some(Status::Submitted)),
    (&[5], Some(Status::AttemptFailed)),
    (&[6], Some(Status::PickedUp)),
    (&[7, 10, 11, 13], Some(Status::InTransit)),
    (&[8], Some(Status::Rejected)),
    (&[9, 22], Some(Status::Cancelled)),
    (&[12], Some(Status::OutForDelivery)),
    (&[14, 23], Some(Status::Delivered)),
    (&[15], Some(Status::AttemptFailed)),
    (&[16, 17, 18, 24], Some(Status::Returning)),
    (&[19, 20], Some(Status::Returned)),
    (&[21, 28, 29], None),
];

/// The meaning SPEC §5's table gives a code. The gateway reads codes through a
/// [`CodeTable`], which may override single codes.
pub fn meaning(code: i32) -> CodeMeaning {
    TABLE
        .iter()
        .find(|(codes, _)| codes.contains(&code))
        .map(|(_, status)| match status {
            Some(s) => CodeMeaning::Status(*s),
            None => CodeMeaning::RecordOnly,
        })
        .unwrap_or(CodeMeaning::Unknown)
}

/// SPEC §5's table with the configured overrides of single codes (`carrier.status_codes`):
/// the meaning of a few codes is uncertain (8 may be "awaiting collection" rather than final),
/// so a department can correct one code without a new release. Parsed once, at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeTable {
    overrides: BTreeMap<i32, CodeMeaning>,
}

/// The value that means "kept, no status change" in an override.
pub const RECORD_ONLY: &str = "record";

impl CodeTable {
    pub fn meaning(&self, code: i32) -> CodeMeaning {
        self.overrides
            .get(&code)
            .copied()
            .unwrap_or_else(|| meaning(code))
    }

    /// Overrides one code. `Requested` is refused: only the gateway sets it.
    pub fn with(mut self, code: i32, to: CodeMeaning) -> Result<Self, String> {
        match to {
            CodeMeaning::Status(Status::Requested) => {
                return Err("a carrier code cannot mean `requested`".into());
            }
            CodeMeaning::Unknown => return Err("a code cannot be overridden to unknown".into()),
            _ => {}
        }
        self.overrides.insert(code, to);
        Ok(self)
    }

    /// The overridden codes with the meaning SPEC §5 gives them and the one configured.
    pub fn overrides(&self) -> impl Iterator<Item = (i32, CodeMeaning, CodeMeaning)> + '_ {
        self.overrides
            .iter()
            .map(|(&code, &to)| (code, meaning(code), to))
    }

    /// Parses an override's value: a status name or [`RECORD_ONLY`].
    fn parse_meaning(value: &str) -> Result<CodeMeaning, String> {
        if value == RECORD_ONLY {
            return Ok(CodeMeaning::RecordOnly);
        }
        value
            .parse::<Status>()
            .map(CodeMeaning::Status)
            .map_err(|_| {
                format!(
                    "{value:?} is neither a status (submitted, picked_up, …) nor \"{RECORD_ONLY}\""
                )
            })
    }
}

impl<'de> Deserialize<'de> for CodeTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(d)?;
        raw.into_iter()
            .try_fold(CodeTable::default(), |table, (code, value)| {
                let n: i32 = code.trim().parse().map_err(|_| {
                    D::Error::custom(format!("{code:?} is not a carrier status code"))
                })?;
                let to = CodeTable::parse_meaning(value.trim())
                    .map_err(|e| D::Error::custom(format!("code {n}: {e}")))?;
                table
                    .with(n, to)
                    .map_err(|e| D::Error::custom(format!("code {n}: {e}")))
            })
    }
}

impl std::fmt::Display for CodeMeaning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodeMeaning::Status(s) => f.write_str(s.as_str()),
            CodeMeaning::RecordOnly => f.write_str(RECORD_ONLY),
            CodeMeaning::Unknown => f.write_str("unknown"),
        }
    }
}

/// Every code the table knows, for tests and the sandbox carrier.
pub fn known_codes() -> impl Iterator<Item = i32> {
    TABLE.iter().flat_map(|(codes, _)| codes.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status as S;
    use CodeMeaning::*;

    #[test]
    fn every_code_of_the_spec() {
        let expected: [(i32, CodeMeaning); 29] = [
            (0, RecordOnly),
            (1, Status(S::Submitted)),
            (2, Status(S::Submitted)),
            (3, Status(S::Submitted)),
            (4, Status(S::Submitted)),
            (5, Status(S::AttemptFailed)),
            (6, Status(S::PickedUp)),
            (7, Status(S::InTransit)),
            (8, Status(S::Rejected)),
            (9, Status(S::Cancelled)),
            (10, Status(S::InTransit)),
            (11, Status(S::InTransit)),
            (12, Status(S::OutForDelivery)),
            (13, Status(S::InTransit)),
            (14, Status(S::Delivered)),
            (15, Status(S::AttemptFailed)),
            (16, Status(S::Returning)),
            (17, Status(S::Returning)),
            (18, Status(S::Returning)),
            (19, Status(S::Returned)),
            (20, Status(S::Returned)),
            (21, RecordOnly),
            (22, Status(S::Cancelled)),
            (23, Status(S::Delivered)),
            (24, Status(S::Returning)),
            (28, RecordOnly),
            (29, RecordOnly),
            (25, Unknown),
            (-1, Unknown),
        ];
        for (code, meaning_) in expected {
            assert_eq!(meaning(code), meaning_, "code {code}");
        }
        for code in [26, 27, 30, 99, 1000, i32::MIN, i32::MAX] {
            assert_eq!(meaning(code), Unknown, "code {code}");
        }
    }

    #[test]
    fn overrides_change_single_codes_only() {
        let table: CodeTable = serde_json::from_value(serde_json::json!({
            "8": "submitted", "21": "delivered", "14": "record"
        }))
        .unwrap();
        assert_eq!(table.meaning(8), Status(S::Submitted));
        assert_eq!(table.meaning(21), Status(S::Delivered));
        assert_eq!(table.meaning(14), RecordOnly);
        for code in known_codes().filter(|c| ![8, 14, 21].contains(c)) {
            assert_eq!(table.meaning(code), meaning(code), "code {code}");
        }
        assert_eq!(table.meaning(99), Unknown);
        let listed: Vec<_> = table.overrides().collect();
        assert_eq!(
            listed,
            [
                (8, Status(S::Rejected), Status(S::Submitted)),
                (14, Status(S::Delivered), RecordOnly),
                (21, RecordOnly, Status(S::Delivered)),
            ]
        );
        assert_eq!(CodeTable::default().meaning(8), Status(S::Rejected));
    }

    #[test]
    fn bad_overrides_are_refused_naming_the_code() {
        for (raw, expected) in [
            (
                serde_json::json!({"eight": "submitted"}),
                "\"eight\" is not a carrier status code",
            ),
            (
                serde_json::json!({"8": "sent"}),
                "code 8: \"sent\" is neither a status",
            ),
            (
                serde_json::json!({"8": "requested"}),
                "code 8: a carrier code cannot mean `requested`",
            ),
        ] {
            let e = serde_json::from_value::<CodeTable>(raw)
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "{e}");
        }
    }

    #[test]
    fn table_has_no_code_twice() {
        let mut codes: Vec<i32> = known_codes().collect();
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n);
        assert_eq!(n, 27);
    }

    #[test]
    fn every_status_but_requested_is_reachable_from_the_carrier() {
        for s in S::ALL {
            let reachable = known_codes().any(|c| meaning(c) == Status(s));
            assert_eq!(reachable, s != S::Requested, "{s}");
        }
    }
}
