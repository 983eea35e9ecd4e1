//! The bundled font (DejaVu Sans, `assets/fonts/`), added after egui's own fonts so that
//! every glyph the editor uses has a face: `●` on node status, arrows in wire names, `⚡`.

use std::sync::Arc;

/// DejaVu Sans, bundled (its licence is next to it in `assets/fonts/`).
const DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Adds the bundled font as a fallback of every font family.
pub fn install(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert("dejavu-sans".to_owned(), Arc::new(egui::FontData::from_static(DEJAVU_SANS)));
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts.families.entry(family).or_default().push("dejavu-sans".to_owned());
    }
    ctx.set_fonts(fonts);
}
