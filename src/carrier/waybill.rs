//! Waybills (*vận đơn*): joins the PDF files `exportListReport` returns (one or more per 100
//! items) into the single document staff print, pages in the order given.

use super::{Carrier, CarrierError, ErrorClass, WAYBILLS_PER_CALL};
use lopdf::{Document, Object, ObjectId, dictionary};

/// The waybills of `item_codes` as one PDF: `exportListReport` in batches of
/// [`WAYBILLS_PER_CALL`], joined. An answer that is no PDF is the carrier's protocol error.
pub async fn fetch<C: Carrier>(
    carrier: &C,
    item_codes: &[String],
) -> Result<Vec<u8>, CarrierError> {
    let mut files = Vec::new();
    for batch in item_codes.chunks(WAYBILLS_PER_CALL) {
        files.extend(super::timed("exportListReport", carrier.waybills(batch)).await?);
    }
    merge(files)
        .map_err(|e| CarrierError::new(ErrorClass::Protocol, format!("exportListReport: {e}")))
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no waybill to merge")]
    Empty,
    #[error("waybill file {index} is not a readable PDF: {source}")]
    Unreadable { index: usize, source: lopdf::Error },
    #[error("waybill file {index} has no page")]
    NoPage { index: usize },
    #[error("cannot write the merged waybills: {0}")]
    Write(std::io::Error),
}

/// One PDF with the pages of every file of `pdfs`, in order. A single file is returned as is.
pub fn merge(pdfs: Vec<Vec<u8>>) -> Result<Vec<u8>, MergeError> {
    let mut pdfs = pdfs;
    match pdfs.len() {
        0 => return Err(MergeError::Empty),
        1 => {
            // Checked all the same: the caller promises a PDF to the browser.
            let doc = Document::load_mem(&pdfs[0])
                .map_err(|source| MergeError::Unreadable { index: 0, source })?;
            if doc.get_pages().is_empty() {
                return Err(MergeError::NoPage { index: 0 });
            }
            return Ok(pdfs.remove(0));
        }
        _ => {}
    }
    let mut merged = Document::with_version("1.5");
    let mut pages: Vec<ObjectId> = Vec::new();
    let mut next_id = 1;
    for (index, bytes) in pdfs.iter().enumerate() {
        let mut doc =
            Document::load_mem(bytes).map_err(|source| MergeError::Unreadable { index, source })?;
        let page_ids: Vec<ObjectId> = doc.get_pages().into_values().collect();
        if page_ids.is_empty() {
            return Err(MergeError::NoPage { index });
        }
        // A page may inherit its size and resources from its old page tree, which is
        // dropped below: copy them onto the page first.
        for &id in &page_ids {
            let page =
                materialize(&doc, id).map_err(|source| MergeError::Unreadable { index, source })?;
            doc.objects.insert(id, Object::Dictionary(page));
        }
        doc.renumber_objects_with(next_id);
        next_id = doc.max_id + 1;
        pages.extend(doc.get_pages().into_values());
        for (id, object) in doc.objects {
            // The old catalogues and page trees are replaced by one of each.
            let kind = object
                .as_dict()
                .ok()
                .and_then(|d| d.get(b"Type").ok())
                .and_then(|t| t.as_name().ok());
            if matches!(kind, Some(b"Catalog" | b"Pages")) {
                continue;
            }
            merged.objects.insert(id, object);
        }
    }
    merged.max_id = next_id;
    let pages_id = merged.new_object_id();
    for &id in &pages {
        if let Ok(Object::Dictionary(page)) = merged.get_object_mut(id) {
            page.set("Parent", pages_id);
        }
    }
    let count = pages.len() as i64;
    merged.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => pages.into_iter().map(Object::Reference).collect::<Vec<_>>(),
            "Count" => count,
        }),
    );
    let catalog_id = merged.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    merged.trailer.set("Root", catalog_id);
    // Outlines and other objects only the dropped catalogues referred to.
    merged.prune_objects();
    merged.renumber_objects();
    let mut out = Vec::new();
    merged.save_to(&mut out).map_err(MergeError::Write)?;
    Ok(out)
}

/// The page dictionary with its inherited attributes (PDF 32000-1 §7.7.3.4) made its own.
fn materialize(doc: &Document, page_id: ObjectId) -> lopdf::Result<lopdf::Dictionary> {
    let mut page = doc.get_dictionary(page_id)?.clone();
    for key in [&b"MediaBox"[..], b"CropBox", b"Resources", b"Rotate"] {
        if page.has(key) {
            continue;
        }
        let mut parent = page.get(b"Parent").and_then(Object::as_reference).ok();
        // Bounded: a page tree with a cycle must not hang the console.
        for _ in 0..64 {
            let Some(id) = parent else { break };
            let node = doc.get_dictionary(id)?;
            if let Ok(value) = node.get(key) {
                page.set(key.to_vec(), value.clone());
                break;
            }
            parent = node.get(b"Parent").and_then(Object::as_reference).ok();
        }
    }
    Ok(page)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use lopdf::content::{Content, Operation};
    use lopdf::{Stream, dictionary};

    /// A small PDF with one page per text, sized by the page tree (inherited `MediaBox`).
    pub(crate) fn pdf(texts: &[&str]) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
        });
        let resources_id =
            doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let mut kids = Vec::new();
        for text in texts {
            let content = Content {
                operations: vec![
                    Operation::new("BT", vec![]),
                    Operation::new("Tf", vec!["F1".into(), 24.into()]),
                    Operation::new("Td", vec![72.into(), 700.into()]),
                    Operation::new("Tj", vec![Object::string_literal(*text)]),
                    Operation::new("ET", vec![]),
                ],
            };
            let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
            kids.push(Object::Reference(doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            })));
        }
        let count = kids.len() as i64;
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => count,
                "Resources" => resources_id,
                "MediaBox" => vec![0.into(), 0.into(), 298.into(), 420.into()],
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    fn page_texts(bytes: &[u8]) -> Vec<String> {
        let doc = Document::load_mem(bytes).unwrap();
        let pages: Vec<u32> = doc.get_pages().into_keys().collect();
        pages
            .iter()
            .map(|&n| doc.extract_text(&[n]).unwrap().trim().to_owned())
            .collect()
    }

    #[test]
    fn pages_of_every_file_in_order() {
        let merged = merge(vec![pdf(&["EB1VN", "EB2VN"]), pdf(&["EB3VN"])]).unwrap();
        assert!(merged.starts_with(b"%PDF"));
        assert_eq!(page_texts(&merged), ["EB1VN", "EB2VN", "EB3VN"]);
        let doc = Document::load_mem(&merged).unwrap();
        for id in doc.get_pages().into_values() {
            // The size inherited from the dropped page trees was kept.
            let page = doc.get_dictionary(id).unwrap();
            let media_box = page.get(b"MediaBox").unwrap().as_array().unwrap();
            assert_eq!(media_box[3].as_i64().unwrap(), 420);
            assert!(page.get(b"Resources").is_ok());
        }
    }

    #[test]
    fn one_file_and_bad_files() {
        let one = pdf(&["EB1VN"]);
        assert_eq!(merge(vec![one.clone()]).unwrap(), one);
        assert!(matches!(merge(Vec::new()), Err(MergeError::Empty)));
        assert!(matches!(
            merge(vec![one.clone(), b"%PDF-1.4 garbage".to_vec()]),
            Err(MergeError::Unreadable { index: 1, .. })
        ));
    }
}
