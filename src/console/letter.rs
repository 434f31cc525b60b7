//! The apology letter (*thư xin lỗi*) template of `[console] apology_template`: plain text
//! with `{placeholders}` and three layout marks (see config/default.toml):
//! `| left | right` (the two-column heading), `# title`, `> right-aligned`; blank lines
//! separate paragraphs.

use std::collections::HashMap;

pub use crate::domain::letter::{PLACEHOLDERS, check_template};

/// One block of a rendered letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Rows of the two-column heading.
    Heading(Vec<(String, String)>),
    Title(String),
    Right(String),
    /// A paragraph; its lines are kept as line breaks.
    Paragraph(Vec<String>),
}

fn fill(line: &str, values: &HashMap<&str, String>) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match values.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The letter's blocks, placeholders filled in. Values are inserted as text: the page escapes
/// them like everything else.
pub fn render(template: &str, values: &HashMap<&str, String>) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut paragraph: Vec<String> = Vec::new();
    let flush = |blocks: &mut Vec<Block>, paragraph: &mut Vec<String>| {
        if !paragraph.is_empty() {
            blocks.push(Block::Paragraph(std::mem::take(paragraph)));
        }
    };
    for raw in template.lines() {
        let line = raw.trim_end();
        if line.trim().is_empty() {
            flush(&mut blocks, &mut paragraph);
            continue;
        }
        if let Some(row) = line.strip_prefix('|') {
            flush(&mut blocks, &mut paragraph);
            let row = row.trim().trim_end_matches('|');
            let (left, right) = row.split_once('|').unwrap_or((row, ""));
            let cells = (fill(left.trim(), values), fill(right.trim(), values));
            match blocks.last_mut() {
                Some(Block::Heading(rows)) => rows.push(cells),
                _ => blocks.push(Block::Heading(vec![cells])),
            }
        } else if let Some(title) = line.strip_prefix('#') {
            flush(&mut blocks, &mut paragraph);
            blocks.push(Block::Title(fill(title.trim(), values)));
        } else if let Some(right) = line.strip_prefix('>') {
            flush(&mut blocks, &mut paragraph);
            blocks.push(Block::Right(fill(right.trim(), values)));
        } else {
            paragraph.push(fill(line.trim(), values));
        }
    }
    flush(&mut blocks, &mut paragraph);
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_template_is_valid() {
        let c = crate::config::Config::from_overlay("").unwrap();
        check_template(&c.console.apology_template).unwrap();
    }

    #[test]
    fn unknown_placeholders_are_refused() {
        let e = check_template("Kính gửi {ten}").unwrap_err();
        assert!(e.contains("{ten}"), "{e}");
        assert!(check_template("  \n").is_err());
    }

    #[test]
    fn blocks() {
        let values = HashMap::from([
            ("citizen_name", "Trần Thị Bình".to_owned()),
            ("department_upper", "SỞ X".to_owned()),
        ]);
        let t = "| {department_upper} | CỘNG HÒA\n| A | B |\n\n# THƯ XIN LỖI\nKính gửi: {citizen_name}\ndòng hai\n\n> Ký tên\n{nothing";
        assert_eq!(
            render(t, &values),
            vec![
                Block::Heading(vec![
                    ("SỞ X".into(), "CỘNG HÒA".into()),
                    ("A".into(), "B".into())
                ]),
                Block::Title("THƯ XIN LỖI".into()),
                Block::Paragraph(vec!["Kính gửi: Trần Thị Bình".into(), "dòng hai".into()]),
                Block::Right("Ký tên".into()),
                Block::Paragraph(vec!["{nothing".into()]),
            ]
        );
    }
}
