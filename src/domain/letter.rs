//! The rules of the apology letter template (`[console] apology_template`): which
//! `{placeholders}` it may use, checked when the configuration is read. The letter itself is
//! laid out by `console::letter`.

/// Every placeholder a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "department",
    "department_upper",
    "office_name",
    "office_name_upper",
    "office_address",
    "office_phone",
    "place",
    "day",
    "month",
    "year",
    "citizen_name",
    "dossier_code",
    "procedure_name",
    "tracking_number",
    "what",
    "due_date",
    "new_date",
    "reason",
    "officer_name",
];

/// The `{names}` of a text, in order.
fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// Start-up check: the template says something and uses only known placeholders.
pub fn check_template(t: &str) -> Result<(), String> {
    if t.trim().is_empty() {
        return Err("must not be empty".into());
    }
    for name in placeholders(t) {
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}}; known: {}",
                PLACEHOLDERS.join(", ")
            ));
        }
    }
    Ok(())
}
