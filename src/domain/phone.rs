//! Vietnamese phone numbers (SPEC §1): `0` + 9 digits or `+84` + 9 digits, stored as `0` + 9.

/// Normalises a phone number, accepting the separators people type (spaces, dots, dashes,
/// parentheses). Returns `None` when the number is not a Vietnamese number.
pub fn normalise(input: &str) -> Option<String> {
    let compact: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let national = match compact.strip_prefix('+') {
        Some(rest) => rest.strip_prefix("84")?,
        None => compact.strip_prefix('0')?,
    };
    // Nine digits; the first digit of a subscriber number is never 0.
    let ok = national.len() == 9
        && national.bytes().all(|b| b.is_ascii_digit())
        && !national.starts_with('0');
    ok.then(|| format!("0{national}"))
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn accepted_forms() {
        for (input, want) in [
            ("0912345678", "0912345678"),
            ("+84912345678", "0912345678"),
            (" 091 234 5678 ", "0912345678"),
            ("091.234.5678", "0912345678"),
            ("(+84) 91-234-5678", "0912345678"),
            ("+84 345 678 901", "0345678901"),
        ] {
            assert_eq!(normalise(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn refused_forms() {
        for input in [
            "",
            "0",
            "091234567",
            "09123456789",
            "912345678",
            "84912345678",
            "+8491234567",
            "+840912345678",
            "0012345678",
            "+1 415 555 0100",
            "09123x5678",
            "０９１２３４５６７８",
            "0912345678 ext 2",
            "++84912345678",
            "+84 207 382 2345",
        ] {
            assert_eq!(normalise(input), None, "{input:?}");
        }
    }
}
