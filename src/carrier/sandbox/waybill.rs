//! The sandbox's waybills (*vận đơn*, `exportListReport`): a real, small PDF with one A6 page
//! per item, written with lopdf.
//!
//! The pages carry codes only (item code, the gateway's reference, service, weight, province
//! and commune codes, fees): no names, phones or addresses, which the sandbox does not keep.
//! They use the PDF standard font Helvetica, which has no Vietnamese letters, so the labels
//! are the API's own field names; a real VNPost waybill looks different and the gateway only
//! passes the bytes on.

use super::journey::Order;
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

/// A6 portrait, in points.
const WIDTH: i64 = 298;
const HEIGHT: i64 = 420;

/// One PDF with a page per order, in the order given.
pub fn render(orders: &[&Order]) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(!orders.is_empty(), "a waybill PDF needs at least one item");
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let bold_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica-Bold",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id, "F2" => bold_id },
    });
    let mut kids = Vec::with_capacity(orders.len());
    for order in orders {
        let content = page(order).encode()?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        });
        kids.push(Object::from(page_id));
    }
    let count = i64::try_from(kids.len())?;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), WIDTH.into(), HEIGHT.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    doc.trailer.set("Root", catalog_id);
    doc.compress();
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes)?;
    Ok(bytes)
}

/// Text drawn with the standard font: anything outside printable ASCII becomes `?`.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

fn page(o: &Order) -> Content {
    let mut ops = vec![
        // A frame around the label.
        Operation::new(
            "re",
            vec![
                14.into(),
                14.into(),
                (WIDTH - 28).into(),
                (HEIGHT - 28).into(),
            ],
        ),
        Operation::new("S", vec![]),
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F2".into(), 13.into()]),
        Operation::new("Td", vec![28.into(), (HEIGHT - 50).into()]),
        Operation::new(
            "Tj",
            vec![Object::string_literal("VNPost - waybill (SANDBOX)")],
        ),
        Operation::new("Tf", vec!["F2".into(), 20.into()]),
        Operation::new("Td", vec![0.into(), (-34).into()]),
        Operation::new("Tj", vec![Object::string_literal(ascii(&o.item_code))]),
        Operation::new("Tf", vec!["F1".into(), 10.into()]),
        Operation::new("TL", vec![15.into()]),
        Operation::new("Td", vec![0.into(), (-12).into()]),
    ];
    let lines = [
        format!("saleOrderCode: {}", o.sale_order_code),
        format!("orderHdrID: {}", o.order_hdr_id),
        format!("serviceCode: {}", o.service_code),
        format!("weight: {} g", o.weight_grams),
        format!("sendType: {}", o.send_type),
        format!(
            "sender: province {} / commune {}",
            o.sender_province_code, o.sender_commune_code
        ),
        format!(
            "receiver: province {} / commune {}",
            o.receiver_province_code, o.receiver_commune_code
        ),
        format!("codAmount: {} VND", o.cod_amount),
        format!("totalFee: {} VND", o.total_fee),
        "Not a real waybill: printed by the sandbox carrier.".to_owned(),
    ];
    for line in lines {
        ops.push(Operation::new("T*", vec![]));
        ops.push(Operation::new(
            "Tj",
            vec![Object::string_literal(ascii(&line))],
        ));
    }
    ops.push(Operation::new("ET", vec![]));
    Content { operations: ops }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::sandbox::journey::Book;
    use crate::carrier::sandbox::journey::tests::new_order;
    use rand::SeedableRng;

    #[test]
    fn a_real_pdf_with_a_page_per_item_that_parses_back() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut book = Book::new(&mut rng);
        let now = chrono::Utc::now();
        let a = book.create(new_order("BCCI-A"), now).0;
        let mut other = new_order("BCCI-B");
        other.receiver_province_code = "01".into();
        other.receiver_commune_code = "00004".into();
        other.cod_vnd = 150_000;
        let b = book.create(other, now).0;
        let bytes = render(&[&a, &b]).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "{:?}", &bytes[..8]);
        let doc = Document::load_mem(&bytes).unwrap();
        let pages = doc.get_pages();
        assert_eq!(pages.len(), 2);
        let first = doc.extract_text(&[1]).unwrap();
        let second = doc.extract_text(&[2]).unwrap();
        assert!(first.contains(&a.item_code), "{first}");
        assert!(first.contains("BCCI-A"), "{first}");
        assert!(first.contains("02215"), "{first}");
        assert!(!first.contains(&b.item_code), "{first}");
        assert!(second.contains(&b.item_code), "{second}");
        assert!(second.contains("00004"), "{second}");
        assert!(second.contains("150000"), "{second}");
        assert!(render(&[]).is_err());
    }
}
