//! The month's reconciliation as finance staff take it away: an Excel workbook (one sheet per
//! section, Vietnamese headers, amounts as numbers formatted in đồng) and CSV files.

use crate::domain::reconcile::{Difference, Report};
use chrono::{DateTime, Utc};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use std::collections::HashMap;

/// Excel's number format for đồng: 1.234.567 ₫ in a Vietnamese Excel (the separators follow
/// the reader's locale).
pub const VND_FORMAT: &str = "#,##0 \"₫\"";

/// The sheets, in order.
pub const SHEETS: [&str; 4] = ["Tổng hợp", "COD", "Phí hủy", "Chênh lệch"];

/// The sections a CSV can hold (`?section=`), by their English name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Summary,
    Cod,
    CancelFees,
    Differences,
}

impl Section {
    pub fn parse(s: &str) -> Option<Section> {
        Some(match s {
            "summary" => Section::Summary,
            "cod" => Section::Cod,
            "cancel_fees" => Section::CancelFees,
            "" | "differences" => Section::Differences,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Section::Summary => "summary",
            Section::Cod => "cod",
            Section::CancelFees => "cancel_fees",
            Section::Differences => "differences",
        }
    }
}

const SUMMARY_HEADERS: [&str; 13] = [
    "Đơn vị",
    "Số đơn theo sổ cổng",
    "Cước theo sổ cổng",
    "Số đơn theo VNPost",
    "Cước theo VNPost",
    "Chênh lệch cước",
    "COD phải thu",
    "COD đã thu (đã phát)",
    "COD đã trả (mã 21)",
    "COD còn phải trả",
    "Số đơn tính phí hủy (mã 29)",
    "Phí hủy",
    "Số chênh lệch",
];
const COD_HEADERS: [&str; 7] = [
    "Đơn vị",
    "Mã hồ sơ",
    "Số hiệu bưu gửi",
    "Tiền thu hộ",
    "Ngày phát",
    "Đã trả (mã 21)",
    "Ngày trả",
];
const CANCEL_HEADERS: [&str; 5] = ["Đơn vị", "Mã hồ sơ", "Số hiệu bưu gửi", "Phí hủy", "Ngày"];
const DIFF_HEADERS: [&str; 8] = [
    "Chênh lệch",
    "Đơn vị",
    "Mã hồ sơ",
    "Số hiệu bưu gửi",
    "Mã đơn của cổng",
    "Theo sổ cổng",
    "Theo VNPost",
    "Số ngày từ khi phát",
];

/// What the ledger does not know the office of.
pub const NO_OFFICE: &str = "Không rõ đơn vị";

fn office(names: &HashMap<String, String>, code: Option<&str>) -> String {
    match code {
        Some(c) => names.get(c).cloned().unwrap_or_else(|| c.to_owned()),
        None => NO_OFFICE.to_owned(),
    }
}

fn date(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| {
        crate::carrier::vntime::local(t)
            .format("%d/%m/%Y")
            .to_string()
    })
    .unwrap_or_default()
}

/// One cell.
enum Cell {
    Text(String),
    Vnd(i64),
    OptVnd(Option<i64>),
    Int(i64),
}

fn summary_rows(r: &Report, names: &HashMap<String, String>) -> Vec<Vec<Cell>> {
    let mut rows: Vec<Vec<Cell>> = r
        .offices
        .iter()
        .map(|o| (office(names, o.office.as_deref()), o))
        .chain(std::iter::once(("Tổng cộng".to_owned(), &r.total)))
        .map(|(name, o)| {
            vec![
                Cell::Text(name),
                Cell::Int(o.ledger_shipments),
                Cell::Vnd(o.ledger_fee_vnd),
                Cell::Int(o.carrier_shipments),
                Cell::Vnd(o.carrier_fee_vnd),
                Cell::Vnd(o.carrier_fee_vnd - o.ledger_fee_vnd),
                Cell::Vnd(o.cod_to_collect_vnd),
                Cell::Vnd(o.cod_collected_vnd),
                Cell::Vnd(o.cod_paid_vnd),
                Cell::Vnd(o.cod_outstanding_vnd),
                Cell::Int(o.cancel_fees),
                Cell::Vnd(o.cancel_fees_vnd),
                Cell::Int(o.differences),
            ]
        })
        .collect();
    rows.shrink_to_fit();
    rows
}

fn cod_rows(r: &Report, names: &HashMap<String, String>) -> Vec<Vec<Cell>> {
    r.cod
        .iter()
        .map(|c| {
            vec![
                Cell::Text(office(names, Some(&c.office))),
                Cell::Text(c.dossier_code.clone()),
                Cell::Text(c.item_code.clone().unwrap_or_default()),
                Cell::Vnd(c.cod_vnd),
                Cell::Text(date(c.delivered_at)),
                Cell::Text(if c.paid { "Đã trả" } else { "Chưa trả" }.into()),
                Cell::Text(date(c.paid_at)),
            ]
        })
        .collect()
}

fn cancel_rows(r: &Report, names: &HashMap<String, String>) -> Vec<Vec<Cell>> {
    r.cancel_fees
        .iter()
        .map(|c| {
            vec![
                Cell::Text(office(names, c.office.as_deref())),
                Cell::Text(c.dossier_code.clone().unwrap_or_default()),
                Cell::Text(c.item_code.clone()),
                Cell::Vnd(c.fee_vnd),
                Cell::Text(date(c.at)),
            ]
        })
        .collect()
}

fn diff_row(d: &Difference, names: &HashMap<String, String>) -> Vec<Cell> {
    vec![
        Cell::Text(d.kind.label().into()),
        Cell::Text(office(names, d.office.as_deref())),
        Cell::Text(d.dossier_code.clone().unwrap_or_default()),
        Cell::Text(d.item_code.clone().unwrap_or_default()),
        Cell::Text(d.sale_order_code.clone().unwrap_or_default()),
        Cell::OptVnd(d.ledger_vnd),
        Cell::OptVnd(d.carrier_vnd),
        match d.days {
            Some(n) => Cell::Int(n),
            None => Cell::Text(String::new()),
        },
    ]
}

fn section(
    r: &Report,
    names: &HashMap<String, String>,
    s: Section,
) -> (&'static [&'static str], Vec<Vec<Cell>>) {
    match s {
        Section::Summary => (&SUMMARY_HEADERS, summary_rows(r, names)),
        Section::Cod => (&COD_HEADERS, cod_rows(r, names)),
        Section::CancelFees => (&CANCEL_HEADERS, cancel_rows(r, names)),
        Section::Differences => (
            &DIFF_HEADERS,
            r.differences.iter().map(|d| diff_row(d, names)).collect(),
        ),
    }
}

fn write_sheet(
    ws: &mut Worksheet,
    name: &str,
    headers: &[&str],
    rows: &[Vec<Cell>],
    head: &Format,
    money: &Format,
) -> Result<(), XlsxError> {
    ws.set_name(name)?;
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, head)?;
        ws.set_column_width(c as u16, if c == 0 { 36 } else { 20 })?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(t) => {
                    ws.write_string(r, c, t)?;
                }
                Cell::Vnd(v) | Cell::OptVnd(Some(v)) => {
                    ws.write_number_with_format(r, c, *v as f64, money)?;
                }
                Cell::OptVnd(None) => {}
                Cell::Int(n) => {
                    ws.write_number(r, c, *n as f64)?;
                }
            }
        }
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

/// The workbook: Tổng hợp, COD, Phí hủy, Chênh lệch.
pub fn xlsx(r: &Report, names: &HashMap<String, String>) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let head = Format::new().set_bold().set_text_wrap();
    let money = Format::new().set_num_format(VND_FORMAT);
    for (name, s) in SHEETS.iter().zip([
        Section::Summary,
        Section::Cod,
        Section::CancelFees,
        Section::Differences,
    ]) {
        let (headers, rows) = section(r, names, s);
        write_sheet(wb.add_worksheet(), name, headers, &rows, &head, &money)?;
    }
    wb.save_to_buffer()
}

/// One section as CSV, UTF-8 with a byte-order mark so that Excel reads the diacritics, and
/// amounts as plain integers of đồng.
pub fn csv(r: &Report, names: &HashMap<String, String>, s: Section) -> Vec<u8> {
    let (headers, rows) = section(r, names, s);
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let _ = w.write_record(headers);
    for row in rows {
        let _ = w.write_record(row.iter().map(|c| match c {
            Cell::Text(t) => t.clone(),
            Cell::Vnd(v) | Cell::OptVnd(Some(v)) | Cell::Int(v) => v.to_string(),
            Cell::OptVnd(None) => String::new(),
        }));
    }
    // Writing to memory cannot fail.
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reconcile::{DifferenceKind, Month, OfficeSummary};

    fn report() -> Report {
        let a = OfficeSummary {
            office: Some("A".into()),
            ledger_shipments: 2,
            ledger_fee_vnd: 38500,
            carrier_shipments: 2,
            carrier_fee_vnd: 41000,
            differences: 1,
            ..Default::default()
        };
        Report {
            month: "2026-11".parse::<Month>().unwrap(),
            offices: vec![a.clone()],
            total: a,
            cod: vec![],
            cancel_fees: vec![],
            differences: vec![Difference {
                kind: DifferenceKind::FeeDiffers,
                office: Some("A".into()),
                shipment_id: None,
                dossier_code: Some("HS-1".into()),
                item_code: Some("EB1VN".into()),
                sale_order_code: Some("BCCI-1".into()),
                ledger_vnd: Some(16500),
                carrier_vnd: Some(19000),
                days: None,
            }],
        }
    }

    #[test]
    fn csv_has_vietnamese_headers_and_plain_amounts() {
        let names = HashMap::from([("A".to_owned(), "Văn phòng A".to_owned())]);
        let text = String::from_utf8(csv(&report(), &names, Section::Differences)).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "\u{feff}Chênh lệch,Đơn vị,Mã hồ sơ,Số hiệu bưu gửi,Mã đơn của cổng,Theo sổ cổng,Theo VNPost,Số ngày từ khi phát"
        );
        assert_eq!(
            lines.next().unwrap(),
            "Cước phí khác nhau,Văn phòng A,HS-1,EB1VN,BCCI-1,16500,19000,"
        );
        assert_eq!(lines.next(), None);
        let summary = String::from_utf8(csv(&report(), &names, Section::Summary)).unwrap();
        assert!(
            summary.contains("\nTổng cộng,2,38500,2,41000,2500,"),
            "{summary}"
        );
    }

    #[test]
    fn the_workbook_is_a_zip_with_four_sheets() {
        let bytes = xlsx(&report(), &HashMap::new()).unwrap();
        assert_eq!(&bytes[..2], b"PK");
        for s in ["summary", "cod", "cancel_fees", "differences"] {
            assert_eq!(Section::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(Section::parse("other"), None);
    }
}
