//! VNPost status codes (SPEC §5) and the gateway status each one maps to.
//!
//! The table is data, in one place: lists of raw codes per normalised status, so a change in the
//! carrier's vocabulary is a one-line change here.

use super::Status;

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
