//! The font every chart is measured and drawn with: a subset of DejaVu Sans committed in
//! `fonts/` (licence in `fonts/LICENSE`). Registered with plotters' `ab_glyph` backend, so no
//! system font is looked up: the SVG and PNG bytes are the same on a machine without fonts.

use std::sync::Once;

use plotters::style::FontStyle;

/// The font's family name, as the SVG's `font-family` and the HTML's `@font-face` say it.
pub const FAMILY: &str = "DejaVu Sans";

/// The TrueType bytes.
pub const TTF: &[u8] = include_bytes!("../fonts/DejaVuSans-subset.ttf");

static REGISTER: Once = Once::new();

/// Register [`TTF`] with plotters under [`FAMILY`] (once per process).
pub fn register() {
    REGISTER.call_once(|| {
        // The bytes are compiled in and parsed by a test; a failure here is a build defect.
        plotters::style::register_font(FAMILY, FontStyle::Normal, TTF)
            .unwrap_or_else(|_| panic!("the bundled font does not parse"));
    });
}

/// `@font-face` for [`TTF`] as a data: URI, for HTML and standalone SVG.
pub fn font_face_css() -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(TTF);
    format!("@font-face{{font-family:\"{FAMILY}\";src:url(data:font/ttf;base64,{b64}) format(\"truetype\");}}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bundled_font_parses_and_registers() {
        super::register();
        assert!(super::font_face_css().starts_with("@font-face"));
    }
}
