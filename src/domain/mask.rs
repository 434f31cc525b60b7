//! Masking of personal data for staff without `staff:pii` (SPEC §2, Decree 13/2023/NĐ-CP):
//! `Nguyễn Văn An` → `Nguyễn V** A*`, `0912345678` → `091****678`.

/// Keeps the family name and the first letter of every other word.
pub fn name(full: &str) -> String {
    let mut words = full.split_whitespace();
    let mut out = String::with_capacity(full.len());
    if let Some(first) = words.next() {
        out.push_str(first);
    }
    for w in words {
        out.push(' ');
        let mut chars = w.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        out.extend(chars.map(|_| '*'));
    }
    out
}

/// Keeps the first three and the last three digits.
pub fn phone(p: &str) -> String {
    keep_ends(p, 3, 3)
}

/// Keeps the first three and last three characters of an identity number.
pub fn id_number(s: &str) -> String {
    keep_ends(s, 3, 3)
}

/// An address line (house number, street, hamlet) says where a citizen lives: nothing of it
/// is kept. The province and commune codes stay visible beside it. Used by the API and the
/// console alike.
pub fn address_line(_line: &str) -> String {
    "***".to_owned()
}

/// Keeps the first letter of the local part and the domain.
pub fn email(e: &str) -> String {
    match e.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

fn keep_ends(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name("Nguyễn Văn An"), "Nguyễn V** A*");
        assert_eq!(name("Lê Thị Ánh Tuyết"), "Lê T** Á** T****");
        assert_eq!(name("  Hà   Giang "), "Hà G****");
        assert_eq!(name("Mai"), "Mai");
        assert_eq!(name(""), "");
    }

    #[test]
    fn phones() {
        assert_eq!(phone("0912345678"), "091****678");
        assert_eq!(phone("12345"), "*****");
    }

    #[test]
    fn others() {
        assert_eq!(id_number("008090001234"), "008******234");
        assert_eq!(email("an.nguyen@example.vn"), "a***@example.vn");
        assert_eq!(email("broken"), "***");
        assert_eq!(address_line("Số 12, tổ 5"), "***");
    }
}
