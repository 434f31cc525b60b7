//! Characters refused or removed at the edge (issue 11 §1). PostgreSQL text cannot hold NUL
//! (a NUL reaching a query is a 500), other C0/C1 controls have no place in a name or a
//! search, and bidi or zero-width characters make a name display as something it is not.
//!
//! The rule, everywhere (API bodies and queries, console queries and forms):
//! - C0/C1 controls are refused; free text may keep line breaks and tabs (`\n`, `\r`, `\t`).
//! - Bidi controls and zero-width characters are refused in names, codes, contacts and
//!   address lines, and stripped from free text (notes, reasons, result descriptions,
//!   document names), where they carry no meaning but may be pasted in from a word processor.

/// Bidi embeddings/overrides/isolates/marks and zero-width characters.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// A C0/C1 control other than the line breaks and tab free text may hold.
pub fn is_bad_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// Free text without bidi and zero-width characters.
pub fn strip_invisible(s: &str) -> String {
    s.chars().filter(|c| !is_invisible(*c)).collect()
}

/// The JSON path and problem of the first string (or key) with a C0/C1 control other than a
/// line break or tab, anywhere in `value`. `path` is the path of `value` itself (`""` at the
/// root).
pub fn json_problem(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let bad = |s: &str| s.chars().any(is_bad_control);
    match value {
        Value::String(s) if bad(s) => Some(if path.is_empty() {
            "body".into()
        } else {
            path.into()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| json_problem(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            // A key is named by its escaped form: it is never citizen data worth hiding.
            if bad(k) {
                return Some(if path.is_empty() {
                    "body".into()
                } else {
                    path.into()
                });
            }
            json_problem(v, &p)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_invisibles() {
        assert!(is_bad_control('\u{85}') && !is_bad_control('\t'));
        assert!(is_invisible('\u{202E}') && is_invisible('\u{FEFF}') && !is_invisible('a'));
        assert_eq!(strip_invisible("Gọi\u{200B} trước\u{2066}"), "Gọi trước");
    }

    #[test]
    fn json_paths() {
        let v = serde_json::json!({"a": {"b": [ "ok", "x\u{0}y" ]}, "c": "ok"});
        assert_eq!(json_problem(&v, "").as_deref(), Some("a.b[1]"));
        let v = serde_json::json!({"note": "line\nbreak", "n": 1});
        assert_eq!(json_problem(&v, ""), None);
        assert_eq!(
            json_problem(&serde_json::json!("\u{7}"), "").as_deref(),
            Some("body")
        );
    }
}
