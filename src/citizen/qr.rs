//! The tracking link as a QR code (SVG) for the appointment slip: medium error correction
//! (a slip gets folded and stamped), the standard quiet zone, black on white.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG drawing `text` as a QR code, at least 240 px wide (scales without loss).
pub fn svg(text: &str) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_svg_document() {
        let s = super::svg(
            "https://bcci.example.gov.vn/tra-cuu/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .unwrap();
        assert!(s.starts_with("<?xml"), "{}", &s[..40]);
        assert!(s.contains("<svg") && s.contains("</svg>"));
        assert!(!s.contains("<script"));
    }
}
