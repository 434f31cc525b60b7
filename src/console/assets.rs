//! The console's stylesheet and its one small script, compiled into the binary (no CDN).
//! Their URLs carry a hash of the content, so they can be cached for long.

use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const CSS: &str = include_str!("../../static/console.css");
/// Binds the letter page's "In thư" button to the browser's print dialog (the page works
/// without it: Ctrl+P).
const PRINT_JS: &str = include_str!("../../static/print.js");

fn versioned(name: &str, content: &str) -> String {
    let h = hex::encode(Sha256::digest(content.as_bytes()));
    format!("/console/static/{name}?v={}", &h[..12])
}

static CSS_HREF: LazyLock<String> = LazyLock::new(|| versioned("console.css", CSS));
static PRINT_HREF: LazyLock<String> = LazyLock::new(|| versioned("print.js", PRINT_JS));

pub fn css_href() -> &'static str {
    &CSS_HREF
}

pub fn print_href() -> &'static str {
    &PRINT_HREF
}

pub async fn serve(file: web::Path<String>) -> HttpResponse {
    let (body, ctype) = match file.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "print.js" => (PRINT_JS, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(ctype)
        .insert_header(("Cache-Control", "public, max-age=604800, immutable"))
        .body(body)
}
