//! Number fields that say when typed text is not taken.
//!
//! egui's `DragValue` drops text it cannot read (`abc`) and turns a number its type cannot
//! hold into one it can (`-5` in a count of threads becomes 0, `2.5` in a count becomes 2),
//! without a word: the field snaps back and the user cannot tell why. A field made here keeps
//! its value in those cases and says why beside it, until an edit is taken. A number the type
//! holds is always taken as typed (no range clamps): whether it suits the field is
//! validation's to say, in Problems and at the field.

use std::cell::RefCell;

use egui::emath::Numeric;
use egui::{DragValue, Id, RichText, Ui};

use super::problems::ERROR;

/// Why the last text typed into a field was not taken, and the value it kept: kept in the
/// field's memory until an edit is taken or the value changes otherwise (an undo).
#[derive(Clone)]
struct Refusal {
    why: String,
    kept: f64,
}

/// A number field for `value`, dragged at `speed` per point and named by the widget `label`.
/// True when an edit changed the value. (`DragValue`'s own response says "changed" on every
/// key typed, even when the value stayed: written back, that put a default into the file.)
pub fn number_field<N: Numeric>(ui: &mut Ui, value: &mut N, speed: f64, label: Option<Id>) -> bool {
    let before = *value;
    // What the parser made of the text typed this frame, if it was called.
    let typed = RefCell::new(None);
    let parser = |text: &str| {
        let read = read_number::<N>(text);
        let number = read.as_ref().ok().copied();
        *typed.borrow_mut() = Some(read);
        number
    };
    // Typed text is read when the field is left (Enter, Tab, a click elsewhere), not at each
    // key: read as it was typed, `3,000` took `3` on the first key and then refused `3,`.
    // Shown in full, so leaving the field without typing writes back the very same number
    // (egui's rounded display turned 0.123456789 into 0.1235 on a click through).
    let field = DragValue::new(value)
        .speed(speed)
        .custom_parser(parser)
        .custom_formatter(|v, _| if N::INTEGRAL { format!("{v:.0}") } else { format!("{v}") })
        .update_while_editing(false);
    let mut response = ui.add(field);
    if let Some(label) = label {
        response = response.labelled_by(label);
    }
    let key = Id::new(("number field refusal", response.id));
    let kept = value.to_f64();
    match typed.into_inner() {
        Some(Err(why)) => ui.data_mut(|d| {
            d.insert_temp(key, Refusal { why, kept });
        }),
        Some(Ok(_)) => ui.data_mut(|d| d.remove::<Refusal>(key)),
        None => {}
    }
    // Dragged, undone, or another value shown in this place: the refusal is no longer news.
    if ui.data(|d| d.get_temp::<Refusal>(key)).is_some_and(|r| r.kept.to_bits() != kept.to_bits()) {
        ui.data_mut(|d| d.remove::<Refusal>(key));
    }
    if let Some(Refusal { why, .. }) = ui.data(|d| d.get_temp::<Refusal>(key)) {
        let text = format!("{why}: kept {kept}");
        // Cut to the room left in the row, the whole of it on hover: a long text widened the
        // inspector to half the window.
        ui.add(egui::Label::new(RichText::new(&text).color(ERROR)).truncate()).on_hover_text(text);
    }
    *value != before
}

/// The largest whole number a float holds exactly (2^53): a field of whole numbers takes
/// none larger, which it would round (`9223372036854775807` showed as `…808`).
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// The number `text` holds, if `N` can hold it exactly; otherwise why not. Spaces are
/// ignored (`1 000`) and `−` is a minus, as in egui's own parser.
fn read_number<N: Numeric>(text: &str) -> Result<f64, String> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).map(|c| if c == '−' { '-' } else { c }).collect();
    let shown = text.trim();
    let x = cleaned.parse::<f64>().ok().filter(|x| !x.is_nan()).ok_or_else(|| format!("`{shown}` is not a number"))?;
    let (min, max) = (N::MIN.to_f64(), N::MAX.to_f64());
    if N::INTEGRAL && x.fract() != 0.0 {
        return Err(format!("`{shown}` is not a whole number"));
    }
    if x > max {
        return Err(format!("`{shown}` is too large for this field"));
    }
    // The field holds its number as a float, exact for whole numbers up to 2^53 only.
    if N::INTEGRAL && x.abs() > EXACT_INTEGERS {
        return Err(format!("`{shown}` is too large to edit here exactly (write it in the file)"));
    }
    if x < min {
        return Err(if min == 0.0 {
            format!("`{shown}` is below 0")
        } else {
            format!("`{shown}` is too small for this field")
        });
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::read_number;

    #[test]
    fn text_a_field_cannot_hold_is_refused_with_the_reason() {
        assert_eq!(read_number::<usize>(" 1 000 "), Ok(1000.0));
        assert_eq!(read_number::<i64>("−5"), Ok(-5.0));
        assert_eq!(read_number::<f64>("2.5"), Ok(2.5));
        assert_eq!(read_number::<usize>("abc"), Err("`abc` is not a number".to_string()));
        assert_eq!(read_number::<usize>("-5"), Err("`-5` is below 0".to_string()));
        assert_eq!(read_number::<i64>("2.5"), Err("`2.5` is not a whole number".to_string()));
        assert_eq!(read_number::<f64>("1e309"), Err("`1e309` is too large for this field".to_string()));
        assert_eq!(read_number::<f64>("-1e309"), Err("`-1e309` is too small for this field".to_string()));
        assert_eq!(read_number::<u8>("300"), Err("`300` is too large for this field".to_string()));
        assert_eq!(read_number::<i64>("9007199254740992"), Ok(9_007_199_254_740_992.0));
        let exact = Err("`9223372036854775807` is too large to edit here exactly (write it in the file)".to_string());
        assert_eq!(read_number::<i64>("9223372036854775807"), exact);
        assert_eq!(read_number::<i64>("3,000"), Err("`3,000` is not a number".to_string()));
        assert_eq!(read_number::<f64>("NaN"), Err("`NaN` is not a number".to_string()));
    }
}
