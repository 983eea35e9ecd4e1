//! A quick, strict scan of a JSON Lines record that is a plain object: where each top-level
//! field's name and value lie in the line, so that a few fields can be read (to test the
//! filter behind a source) or the whole object built, without serde's visitor machinery
//! (its string, key and number visitors were about a third of workload A's CPU).
//!
//! The scan is a fast path for the common shape of a record, not a second parser: it takes
//! only lines serde_json takes, and [`ObjectScan::object`] gives the value serde_json gives.
//! Whatever it is not sure of makes [`ObjectScan::scan`] answer `false`, and the caller reads
//! the line with serde_json, which reads it or says why not: a line that is not an object,
//! escapes and control characters in strings, strings that are not UTF-8, numbers with an
//! exponent or more than 18 integer digits, `-0`, nesting deeper than [`MAX_DEPTH`], and
//! anything malformed.

use std::cell::RefCell;

use serde_json::{Map, Number, Value};

use crate::field_lookup::same_bytes;

/// Containers nested deeper than this are left to serde_json (whose own limit is 128).
pub const MAX_DEPTH: usize = 64;

/// Integer digits beyond which a number is left to serde_json: 18 digits always fit in
/// 64 bits, and a float below 10¹⁸ is never taken for an integer beyond them.
const MAX_INTEGER_DIGITS: usize = 18;

/// Bytes that end a quick run through a string: the closing quote, an escape, a control
/// character (which serde_json refuses), and bytes beyond ASCII (the string is then checked
/// as UTF-8).
const STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b == b'"' as usize || b == b'\\' as usize || b < 0x20 || b >= 0x80;
        b += 1;
    }
    table
};

/// The high bit of each byte of `word` (little-endian) that ends a run through a string
/// (see [`STRING_STOP`]); the lowest one set marks the first such byte exactly (bits above
/// it may be set for bytes that are not).
#[inline(always)]
fn stop_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let quote = word ^ (ONES * b'"' as u64);
    let escape = word ^ (ONES * b'\\' as u64);
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    zero(quote) | zero(escape) | control | (word & HIGHS)
}

/// What a scanned value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A string without escapes: its span is the text between the quotes.
    Text,
    /// An integer of at most 18 digits, not `-0`.
    Integer,
    /// A number with a fraction and no exponent.
    Float,
    /// `true`.
    True,
    /// `false`.
    False,
    /// `null`.
    Null,
    /// An array or object, checked; its span includes the brackets.
    Container,
}

/// One top-level field of a scanned line: where its name and value lie.
#[derive(Debug, Clone, Copy)]
pub struct ScannedField {
    name: (usize, usize),
    value: (usize, usize),
    kind: ValueKind,
}

impl ScannedField {
    /// What the field's value is.
    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    /// The field's value as it is written in `line` (a string's text without its quotes).
    pub fn raw_value<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        line.get(self.value.0..self.value.1).unwrap_or_default()
    }

    /// The field's name (without quotes, UTF-8) in `line`, the line it was scanned from.
    pub fn name<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        line.get(self.name.0..self.name.1).unwrap_or_default()
    }

    /// The field's value when it is an integer (of at most 18 digits, so any fits).
    pub fn integer(&self, line: &[u8]) -> Option<i64> {
        if self.kind != ValueKind::Integer {
            return None;
        }
        let (negative, magnitude) = magnitude(line.get(self.value.0..self.value.1)?)?;
        let value = i64::try_from(magnitude).ok()?;
        Some(if negative { -value } else { value })
    }

    /// The field's value, as serde_json reads it from `line`, the line it was scanned from.
    pub fn value(&self, line: &[u8]) -> Option<Value> {
        let text = line.get(self.value.0..self.value.1)?;
        match self.kind {
            ValueKind::Integer => integer(text),
            _ => self.value_of(std::str::from_utf8(text).ok()?),
        }
    }

    /// The value written by `text`, the field's span of its line.
    fn value_of(&self, text: &str) -> Option<Value> {
        Some(match self.kind {
            ValueKind::Text => Value::String(text.to_owned()),
            ValueKind::Integer => integer(text.as_bytes())?,
            ValueKind::Float => float(text)?,
            ValueKind::True => Value::Bool(true),
            ValueKind::False => Value::Bool(false),
            ValueKind::Null => Value::Null,
            ValueKind::Container => serde_json::from_str(text).ok()?,
        })
    }

    /// Puts the field's value into `slot`, reusing a string's buffer; false (the slot left
    /// as it was or cleared) when it cannot be read.
    pub fn value_into(&self, line: &[u8], slot: &mut Value) -> bool {
        if self.kind == ValueKind::Text
            && let Value::String(held) = slot
        {
            let Some(Ok(text)) = line.get(self.value.0..self.value.1).map(std::str::from_utf8) else {
                return false;
            };
            held.clear();
            held.push_str(text);
            return true;
        }
        match self.value(line) {
            Some(value) => {
                *slot = value;
                true
            }
            None => false,
        }
    }
}

/// An integer's value, as serde_json gives it: non-negative ones unsigned, negative ones signed.
#[inline]
fn integer(text: &[u8]) -> Option<Value> {
    let (negative, magnitude) = magnitude(text)?;
    Some(if negative { Value::from(-i64::try_from(magnitude).ok()?) } else { Value::from(magnitude) })
}

/// An integer of at most 18 digits: whether it is negative, and its magnitude.
#[inline]
fn magnitude(text: &[u8]) -> Option<(bool, u64)> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.len() > MAX_INTEGER_DIGITS {
        return None;
    }
    // At most 18 digits: no overflow. Eight at a time, then one at a time.
    let mut magnitude = 0u64;
    let mut chunks = digits.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        if non_digits(word) != 0 {
            return None;
        }
        magnitude = magnitude * 100_000_000 + eight_digits(word);
    }
    for d in chunks.remainder() {
        if !d.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude * 10 + u64::from(d - b'0');
    }
    Some((negative, magnitude))
}

/// The number written by eight ASCII digits (little-endian `word`, the first digit in its low
/// byte), with three multiplications instead of eight.
#[inline]
fn eight_digits(word: u64) -> u64 {
    let digits = word.wrapping_sub(0x3030_3030_3030_3030);
    // Pairs of digits, then groups of four, then all eight.
    let pairs = digits.wrapping_mul(10).wrapping_add(digits >> 8);
    let low = (pairs & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let high = ((pairs >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    low.wrapping_add(high) >> 32
}

/// A float's value: correctly rounded, as serde_json's `float_roundtrip` parser gives it.
fn float(text: &str) -> Option<Value> {
    let f = short_decimal(text.as_bytes()).or_else(|| text.parse().ok())?;
    Number::from_f64(f).map(Value::Number)
}

/// Exact powers of ten as `f64` (10²² is the largest).
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// `-?digits.digits` of at most 15 digits in all, read as its digits (an integer below 2⁵³,
/// exact as a float) divided by an exact power of ten: one IEEE division of exact operands,
/// which rounds correctly (Clinger's fast path). `None` for any other text.
fn short_decimal(text: &[u8]) -> Option<f64> {
    let (negative, rest) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mut digits, mut fraction, mut seen_point) = (0u64, 0usize, false);
    let mut count = 0;
    for &b in rest {
        match b {
            b'0'..=b'9' => {
                digits = digits * 10 + u64::from(b - b'0');
                count += 1;
                fraction += usize::from(seen_point);
                if count > 15 {
                    return None;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if count == 0 {
        return None;
    }
    let value = digits as f64 / EXACT_POWERS_OF_TEN.get(fraction)?;
    Some(if negative { -value } else { value })
}

/// A JSON value as serde_json reads it from `text`: built from the quick scan when it takes
/// the text (one scan per thread, reused), else by serde_json, which says what is wrong.
pub fn parse_json(text: &[u8]) -> Result<Value, serde_json::Error> {
    thread_local! {
        static SCAN: RefCell<ObjectScan> = RefCell::default();
    }
    let quick = SCAN.with(|scan| {
        let mut scan = scan.try_borrow_mut().ok()?;
        if scan.scan(text) { scan.object(text) } else { None }
    });
    match quick {
        Some(value) => Ok(value),
        None => serde_json::from_slice(text),
    }
}

/// The top-level fields of the last line scanned; reused from line to line. A line whose
/// strings are not UTF-8 is left to serde_json, which says where.
#[derive(Debug, Default)]
pub struct ObjectScan {
    fields: Vec<ScannedField>,
}

impl ObjectScan {
    /// Scans `line`; false when it is not an object this scan is sure of (see the module's
    /// doc), and then the fields are not to be read.
    pub fn scan(&mut self, line: &[u8]) -> bool {
        self.fields.clear();
        let taken = top_level(line, &mut self.fields).is_some();
        if !taken {
            // No half-read line to build from.
            self.fields.clear();
        }
        taken
    }

    /// The fields found by the last successful [`ObjectScan::scan`], in the line's order
    /// (a repeated name appears each time; the last one is the value serde_json keeps).
    pub fn fields(&self) -> &[ScannedField] {
        &self.fields
    }

    /// The field named `name` in `line`, the line last scanned: its last occurrence, whose
    /// value serde_json keeps.
    pub fn field(&self, line: &[u8], name: &str) -> Option<&ScannedField> {
        self.fields.iter().rev().find(|f| same_bytes(f.name(line), name.as_bytes()))
    }

    /// The whole object of `line`, the line last scanned, as serde_json builds it; `None`
    /// when a value cannot be built here after all.
    pub fn object(&self, line: &[u8]) -> Option<Value> {
        // One check of the whole line: each name and value is then a slice of it.
        let text = std::str::from_utf8(line).ok()?;
        let mut object = Map::new();
        for field in &self.fields {
            let name = text.get(field.name.0..field.name.1)?;
            object.insert(name.to_owned(), field.value_of(text.get(field.value.0..field.value.1)?)?);
        }
        Some(Value::Object(object))
    }
}

/// The object of `line`, each top-level field recorded; nothing but whitespace may follow.
fn top_level(line: &[u8], fields: &mut Vec<ScannedField>) -> Option<()> {
    let mut at = whitespace(line, 0);
    if *line.get(at)? != b'{' {
        return None;
    }
    at = whitespace(line, at + 1);
    if *line.get(at)? != b'}' {
        loop {
            if *line.get(at)? != b'"' {
                return None;
            }
            let name_end = string_end(line, at + 1)?;
            let name = (at + 1, name_end);
            at = whitespace(line, name_end + 1);
            if *line.get(at)? != b':' {
                return None;
            }
            at = whitespace(line, at + 1);
            let (kind, value, end) = match *line.get(at)? {
                b'"' => {
                    let text_end = string_end(line, at + 1)?;
                    (ValueKind::Text, (at + 1, text_end), text_end + 1)
                }
                b'-' | b'0'..=b'9' => {
                    let (kind, end) = number(line, at)?;
                    (kind, (at, end), end)
                }
                _ => {
                    let (kind, end) = other_value(line, at, 1)?;
                    (kind, (at, end), end)
                }
            };
            fields.push(ScannedField { name, value, kind });
            at = whitespace(line, end);
            match *line.get(at)? {
                b',' => at = whitespace(line, at + 1),
                b'}' => break,
                _ => return None,
            }
        }
    }
    (whitespace(line, at + 1) == line.len()).then_some(())
}

/// Where the JSON whitespace (space, tab, line feed, carriage return) from `at` ends.
#[inline(always)]
fn whitespace(line: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = line.get(at) {
        at += 1;
    }
    at
}

/// Where the string whose text starts at `start` ends (its closing quote); `None` at an
/// escape, a control character, text that is not UTF-8, or the line's end. Looks at eight
/// bytes at a time.
#[inline(always)]
fn string_end(line: &[u8], start: usize) -> Option<usize> {
    let mut at = start;
    loop {
        match line.get(at..at + 8) {
            Some(word) => {
                let stops = stop_bytes(u64::from_le_bytes(word.try_into().ok()?));
                if stops == 0 {
                    at += 8;
                    continue;
                }
                at += stops.trailing_zeros() as usize / 8;
            }
            None => {
                while !STRING_STOP[usize::from(*line.get(at)?)] {
                    at += 1;
                }
            }
        }
        return match line[at] {
            b'"' => Some(at),
            byte if byte >= 0x80 => text_string_end(line, start, at),
            _ => None,
        };
    }
}

/// [`string_end`] for a string with bytes beyond ASCII, the first at `at`: the string is
/// checked as UTF-8 once its end is found.
#[inline(never)]
fn text_string_end(line: &[u8], start: usize, mut at: usize) -> Option<usize> {
    loop {
        match *line.get(at)? {
            b'"' => break,
            b'\\' => return None,
            byte if byte < 0x20 => return None,
            _ => at += 1,
        }
    }
    std::str::from_utf8(&line[start..at]).ok()?;
    Some(at)
}

/// The number starting at `at`, `-?(0|[1-9][0-9]*)(\.[0-9]+)?` of at most 18 integer
/// digits and not `-0` (which serde_json reads as the float `-0.0`): what it is and where
/// it ends. The byte after it is checked by whatever holds the number.
#[inline(always)]
fn number(line: &[u8], at: usize) -> Option<(ValueKind, usize)> {
    let negative = line[at] == b'-';
    let start = at + usize::from(negative);
    let mut end = digits(line, start);
    let leading_zero = line.get(start) == Some(&b'0');
    let count = end - start;
    if count == 0 || count > MAX_INTEGER_DIGITS || (count > 1 && leading_zero) {
        return None;
    }
    let kind = if line.get(end) == Some(&b'.') {
        let fraction = digits(line, end + 1);
        if fraction == end + 1 {
            return None;
        }
        end = fraction;
        ValueKind::Float
    } else if negative && leading_zero {
        return None;
    } else {
        ValueKind::Integer
    };
    match line.get(end) {
        Some(b'e' | b'E') => None,
        _ => Some((kind, end)),
    }
}

/// Where the ASCII digits from `at` end. Looks at eight bytes at a time.
#[inline(always)]
fn digits(line: &[u8], mut at: usize) -> usize {
    while let Some(word) = line.get(at..at + 8) {
        let Ok(word) = word.try_into() else { break };
        let others = non_digits(u64::from_le_bytes(word));
        if others != 0 {
            return at + others.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    while line.get(at).is_some_and(u8::is_ascii_digit) {
        at += 1;
    }
    at
}

/// The high bit of each byte of `word` (little-endian) that is not an ASCII digit; the
/// lowest one set marks the first such byte exactly (bits above it may be set for digits).
#[inline(always)]
fn non_digits(word: u64) -> u64 {
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Digits become 0..=9; adding 0x76 sets the high bit of every byte above 9, and a byte
    // that already had it is kept by the `|` (a carry out of it only reaches bytes above).
    let offset = word ^ 0x3030_3030_3030_3030;
    (offset | offset.wrapping_add(0x7676_7676_7676_7676)) & HIGHS
}

/// Any value starting at `at`, within `depth` containers: what it is and where it ends.
fn value(line: &[u8], at: usize, depth: usize) -> Option<(ValueKind, usize)> {
    match *line.get(at)? {
        b'"' => Some((ValueKind::Text, string_end(line, at + 1)? + 1)),
        b'-' | b'0'..=b'9' => number(line, at),
        _ => other_value(line, at, depth),
    }
}

/// A literal or a container starting at `at`, within `depth` containers.
#[inline(never)]
fn other_value(line: &[u8], at: usize, depth: usize) -> Option<(ValueKind, usize)> {
    let literal = |word: &[u8], kind| line[at..].starts_with(word).then_some((kind, at + word.len()));
    match line[at] {
        b't' => literal(b"true", ValueKind::True),
        b'f' => literal(b"false", ValueKind::False),
        b'n' => literal(b"null", ValueKind::Null),
        b'{' => Some((ValueKind::Container, container(line, at, depth + 1, b'}')?)),
        b'[' => Some((ValueKind::Container, container(line, at, depth + 1, b']')?)),
        _ => None,
    }
}

/// The object or array whose bracket is at `at`, at `depth`, checked: where it ends.
fn container(line: &[u8], at: usize, depth: usize, close: u8) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut at = whitespace(line, at + 1);
    if *line.get(at)? == close {
        return Some(at + 1);
    }
    loop {
        if close == b'}' {
            if *line.get(at)? != b'"' {
                return None;
            }
            at = whitespace(line, string_end(line, at + 1)? + 1);
            if *line.get(at)? != b':' {
                return None;
            }
            at = whitespace(line, at + 1);
        }
        let (_, end) = value(line, at, depth)?;
        at = whitespace(line, end);
        match *line.get(at)? {
            b',' => at = whitespace(line, at + 1),
            byte if byte == close => return Some(at + 1),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use serde_json::json;

    use super::*;

    /// The object the scan builds, or `None` when it leaves the line to serde_json.
    fn scanned(line: &str) -> Option<Value> {
        let mut scan = ObjectScan::default();
        scan.scan(line.as_bytes()).then(|| scan.object(line.as_bytes())).flatten()
    }

    #[test]
    fn reads_plain_records_as_serde_json_does() {
        for line in [
            r#"{"ts":1700000000003,"user":"u398","type":"purchase","value":249.57}"#,
            r#" { "a" : -12 , "b":[1, 2.5, {"c": [true, false, null]}], "d": {} , "e": [] } "#,
            r#"{"é":"ü ∑ 😀","n":0,"m":-7,"f":-0.0,"g":0.1,"h":123456789012345678}"#,
            r#"{"a":1,"a":"again"}"#,
            r#"{"long":"a text past eight bytes: é, ∑ and 😀 across words","b":"ascii again after it"}"#,
            "{}",
            "{\"tab\":\t1\r}",
        ] {
            let full: Value = serde_json::from_str(line).unwrap();
            assert_eq!(scanned(line), Some(full), "{line}");
        }
        assert_eq!(scanned(r#"{"a":1,"a":"again"}"#), Some(json!({"a": "again"})), "the last one wins");
    }

    #[test]
    fn leaves_what_it_is_not_sure_of_to_serde_json() {
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        for line in [
            "[1]",
            "12",
            "\"text\"",
            r#"{"a":"line\nbreak"}"#,
            r#"{"a\"b":1}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":1e3}"#,
            r#"{"a":1.5E-3}"#,
            r#"{"a":1234567890123456789}"#,
            r#"{"a":-0}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":truex}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            r#"{"a":"unclosed}"#,
            r#"{a:1}"#,
            "{\"a\":1}\u{feff}",
            &deep,
        ] {
            assert_eq!(scanned(line), None, "{line}");
        }
        let mut scan = ObjectScan::default();
        assert!(!scan.scan("{\"a\":1}\u{e9}".as_bytes()), "a letter outside a string");
        assert!(!scan.scan(b"{\"a\":\"\xff\"}"), "not UTF-8");
        assert!(!scan.scan(b"{\"a\":\"long enough text \xc3\x28 and more\"}"), "not UTF-8 further in");
        assert!(!scan.scan(b"{\"\xe9\":1}"), "a name that is not UTF-8");
        assert!(!scan.scan(b"{\"a\":\"\xc3\xa9 then a tab\t\"}"), "a control character after a letter");
        assert!(!scan.scan(b"{\"a\":\"\xc3\xa9 then an escape \\n\"}"), "an escape after a letter");
        let just_deep_enough = format!("{{\"x\":{}{}}}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(scan.scan(just_deep_enough.as_bytes()));
    }

    #[test]
    fn parses_what_serde_json_parses_and_fails_where_it_fails() {
        for text in [r#"{"a":1,"b":"x"}"#, r#"{"a":"esc\"aped"}"#, "[1,2]", "12", "{\"a\":1e3}"] {
            assert_eq!(parse_json(text.as_bytes()).unwrap(), serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
        for text in ["{\"a\":", "{\"a\":01}", "", "{} x"] {
            let (quick, full) = (parse_json(text.as_bytes()), serde_json::from_str::<Value>(text));
            assert_eq!(quick.unwrap_err().to_string(), full.unwrap_err().to_string(), "{text}");
        }
    }

    #[test]
    fn gives_each_fields_place_and_value() {
        let line = br#"{"ts":17,"user":"u1","value":2.5}"#;
        let mut scan = ObjectScan::default();
        assert!(scan.scan(line));
        let names: Vec<&[u8]> = scan.fields().iter().map(|f| f.name(line)).collect();
        assert_eq!(names, [&b"ts"[..], b"user", b"value"]);
        let mut slot = Value::String("an old, longer text".into());
        assert!(scan.fields()[1].value_into(line, &mut slot));
        assert_eq!(slot, json!("u1"));
        assert!(scan.fields()[2].value_into(line, &mut slot));
        assert_eq!(slot, json!(2.5));
    }

    /// The generated records are mostly ones the scan takes, so that the property below
    /// compares values and not only refusals.
    #[test]
    fn most_generated_records_are_taken() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let records = prop::collection::vec(("[a-d]{0,3}", json_value()), 0..4);
        let taken = (0..200)
            .filter(|_| {
                let fields = records.new_tree(&mut runner).unwrap().current();
                scanned(&Value::Object(fields.into_iter().collect()).to_string()).is_some()
            })
            .count();
        assert!(taken > 60, "only {taken} of 200 taken");
    }

    /// Whatever the scan takes, serde_json takes too and reads as the same value, written the
    /// same way (so that `-0.0` and `0.0`, equal as values, are told apart).
    fn agrees(line: &[u8]) -> Result<(), TestCaseError> {
        let mut scan = ObjectScan::default();
        if let Some(built) = scan.scan(line).then(|| scan.object(line)).flatten() {
            let full = serde_json::from_slice::<Value>(line);
            prop_assert!(full.is_ok(), "taken, but serde_json refuses {:?}", String::from_utf8_lossy(line));
            let full = full.unwrap_or_default();
            prop_assert_eq!(built.to_string(), full.to_string());
            prop_assert!(!crate::sources::json_projection::has_huge_integral_float(&built));
        }
        Ok(())
    }

    /// Random JSON values, written compactly or with spaces.
    fn json_value() -> impl Strategy<Value = Value> {
        // Mostly values the scan takes; some it leaves to serde_json.
        let leaf = prop_oneof![
            1 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::Bool),
            3 => (-1_000_000_000_000i64..1_000_000_000_000).prop_map(Value::from),
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            3 => (-1e6f64..1e6).prop_map(Value::from),
            1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            4 => "[a-z\u{e9}\u{1F600} ]{0,12}".prop_map(Value::String),
            1 => "[a-z\\\\\"\t]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-c\u{e9}]{0,2}", inner), 0..4)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Short decimals read exactly as the standard parser reads them, bit for bit.
        #[test]
        fn short_decimals_read_as_the_standard_parser_reads_them(
            whole in 0u64..10_000_000,
            fraction in "[0-9]{1,8}",
            negative in any::<bool>(),
        ) {
            let text = format!("{}{whole}.{fraction}", if negative { "-" } else { "" });
            let expected: f64 = text.parse().unwrap();
            match short_decimal(text.as_bytes()) {
                Some(f) => prop_assert_eq!(f.to_bits(), expected.to_bits(), "{}", text),
                None => prop_assert!(text.bytes().filter(u8::is_ascii_digit).count() > 15, "{}", text),
            }
        }

        /// Eight digits read at once are the number they write.
        #[test]
        fn eight_digits_reads_the_number(n in 0u64..100_000_000) {
            let text = format!("{n:08}");
            let word = u64::from_le_bytes(text.as_bytes().try_into().unwrap());
            prop_assert_eq!(eight_digits(word), n);
            prop_assert_eq!(integer(text.as_bytes()), Some(Value::from(n)));
        }

        /// The lowest byte `non_digits` marks is the first byte that is not a digit.
        #[test]
        fn non_digits_marks_the_first_non_digit_exactly(bytes in any::<[u8; 8]>(), digits in 0usize..8) {
            let mut bytes = bytes;
            bytes[..digits].iter_mut().enumerate().for_each(|(i, b)| *b = b'0' + (i as u8 * 7) % 10);
            let first = bytes.iter().position(|b| !b.is_ascii_digit());
            let others = non_digits(u64::from_le_bytes(bytes));
            prop_assert_eq!((others != 0).then(|| others.trailing_zeros() as usize / 8), first);
        }

        /// The lowest byte `stop_bytes` marks is the first byte that ends a run through a string.
        #[test]
        fn stop_bytes_marks_the_first_stop_exactly(bytes in any::<[u8; 8]>()) {
            let first = bytes.iter().position(|b| STRING_STOP[usize::from(*b)]);
            let stops = stop_bytes(u64::from_le_bytes(bytes));
            prop_assert_eq!((stops != 0).then(|| stops.trailing_zeros() as usize / 8), first);
        }

        /// Whatever the scan reads, serde_json reads the same way, with no integer beyond
        /// 64 bits among its values.
        #[test]
        fn agrees_with_serde_json_on_valid_records(
            fields in prop::collection::vec(("[a-d\u{e9}\"]{0,3}", json_value()), 0..6),
            pretty in any::<bool>(),
        ) {
            let object = Value::Object(fields.into_iter().collect());
            let line = if pretty { serde_json::to_string_pretty(&object).unwrap().replace('\n', " ") } else { object.to_string() };
            if let Some(built) = scanned(&line) {
                prop_assert_eq!(built.to_string(), object.to_string());
            }
        }

        /// Text that is mostly not JSON: the scan never takes a line serde_json refuses, nor
        /// reads one differently.
        #[test]
        fn never_takes_what_serde_json_refuses(
            line in "[{}\\[\\]\",:0-9.eE+ tfnrulsa\\\\\u{e9}\u{feff}\u{a0}\t\r\n\u{b}\u{c}\u{7f}\u{1}-]{0,24}",
        ) {
            let line = format!("{{\"k\":{line}");
            agrees(line.as_bytes())?;
            agrees(&line.as_bytes()[5..])?;
        }

        /// Valid records with bytes changed, cut or doubled: the same, byte by byte, with
        /// bytes that are not UTF-8 among them.
        #[test]
        fn never_takes_a_damaged_record_serde_json_refuses(
            fields in prop::collection::vec(("[a-c]{0,2}", json_value()), 1..5),
            damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
        ) {
            let mut line = Value::Object(fields.into_iter().collect()).to_string().into_bytes();
            for (at, byte, how) in damage {
                let i = at.index(line.len());
                match how {
                    0 => line[i] = byte,
                    1 => line.truncate(i),
                    _ => line.insert(i, byte),
                }
                if line.is_empty() {
                    break;
                }
            }
            agrees(&line)?;
        }
    }
}
