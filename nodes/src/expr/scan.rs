//! One linear pass over an expression's source before jaq's parser sees it:
//! - refuses sources too long or nested too deeply for the parser (which recurses), naming
//!   the column where the limit is passed;
//! - turns `${NAME}` placeholders into jq variables: `$NAME` in code (padded so that columns
//!   stay put) and `\($NAME)` inside string literals, so a value is bound as data, never
//!   pasted into the program (no injection, no secret in a syntax error).

use streamloom_runtime::env::is_valid_name;

use super::error::{CompileError, column_of};

/// Longest expression source, in bytes.
pub(crate) const MAX_SOURCE_BYTES: usize = 64 << 10;
/// Deepest nesting of brackets, string literals and interpolations.
pub(crate) const MAX_NESTING: usize = 256;

/// The source as jaq gets it, and the placeholders found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// Source with placeholders turned into variables.
    pub source: String,
    /// Placeholder names, in order of first use, without duplicates.
    pub vars: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Inside `(`, `[` or `{` in code.
    Bracket,
    /// Inside a string literal.
    Str,
    /// Inside `\(` ... `)` of a string literal.
    Interp,
}

/// Scans `src`; see the module docs.
pub(crate) fn scan(src: &str) -> Result<Scanned, CompileError> {
    if src.len() > MAX_SOURCE_BYTES {
        let mut cut = MAX_SOURCE_BYTES;
        while !src.is_char_boundary(cut) {
            cut -= 1;
        }
        return Err(CompileError {
            message: format!("expression is {} bytes long; at most {MAX_SOURCE_BYTES} are allowed", src.len()),
            column: Some(column_of(src, cut)),
        });
    }
    let mut out = String::with_capacity(src.len());
    let mut vars: Vec<String> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    let too_deep = |at: usize| CompileError {
        message: format!("expression nested more than {MAX_NESTING} levels deep"),
        column: Some(column_of(src, at)),
    };
    while i < bytes.len() {
        let in_str = stack.last() == Some(&Frame::Str);
        let c = bytes[i];
        if c == b'$' {
            if let Some((name, len)) = placeholder(&src[i..]) {
                if !vars.iter().any(|v| v == name) {
                    vars.push(name.to_owned());
                }
                if in_str {
                    out.push_str("\\($");
                    out.push_str(name);
                    out.push(')');
                } else {
                    out.push('$');
                    out.push_str(name);
                    out.push_str("  ");
                }
                i += len;
                continue;
            }
            if in_str && src[i..].starts_with("$${") {
                out.push_str("${");
                i += 3;
                continue;
            }
        }
        if in_str {
            match c {
                b'\\' if bytes.get(i + 1) == Some(&b'(') => {
                    stack.push(Frame::Interp);
                    if stack.len() > MAX_NESTING {
                        return Err(too_deep(i));
                    }
                    out.push_str("\\(");
                    i += 2;
                    continue;
                }
                b'\\' => {
                    // An escape: copy it and the escaped character whole.
                    let len = src[i + 1..].chars().next().map_or(0, char::len_utf8);
                    out.push_str(&src[i..i + 1 + len]);
                    i += 1 + len;
                    continue;
                }
                b'"' => {
                    stack.pop();
                }
                _ => {}
            }
        } else {
            match c {
                b'#' => {
                    // A comment runs to the end of the line.
                    let end = src[i..].find('\n').map_or(src.len(), |e| i + e);
                    out.push_str(&src[i..end]);
                    i = end;
                    continue;
                }
                b'"' | b'(' | b'[' | b'{' => {
                    stack.push(if c == b'"' { Frame::Str } else { Frame::Bracket });
                    if stack.len() > MAX_NESTING {
                        return Err(too_deep(i));
                    }
                }
                b')' | b']' | b'}' => {
                    // `)` closing an interpolation returns to its string.
                    if matches!(stack.last(), Some(Frame::Bracket | Frame::Interp)) {
                        stack.pop();
                    }
                }
                _ => {}
            }
        }
        if !in_str && c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) && starts_a_term(&out) {
            // jq reads `.5` as the number 0.5; jaq's lexer wants the leading zero.
            out.push('0');
        }
        let len = src[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&src[i..i + len]);
        i += len;
    }
    Ok(Scanned { source: out, vars })
}

/// Whether a term may start after `before` (its last non-space character is an operator, an
/// opening bracket or a separator, or there is none): there `.5` is a number, not a path.
fn starts_a_term(before: &str) -> bool {
    before.trim_end().chars().next_back().is_none_or(|c| "([{,;:|=<>+-*/%!?".contains(c))
}

/// `${NAME}` at the start of `s`: the name and the placeholder's length.
fn placeholder(s: &str) -> Option<(&str, usize)> {
    let body = s.strip_prefix("${")?;
    let end = body.find('}')?;
    let name = &body[..end];
    is_valid_name(name).then_some((name, end + 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_variables_in_code_and_strings() {
        let s = scan(r#".v > ${LIMIT} and .host == "h-${HOST}!""#).unwrap();
        assert_eq!(s.source, r#".v > $LIMIT   and .host == "h-\($HOST)!""#);
        assert_eq!(s.vars, vec!["LIMIT".to_string(), "HOST".to_string()]);
    }

    #[test]
    fn escapes_interpolations_and_comments_are_kept() {
        let src = "\"a\\\"b\\(.x + \"${N}\")\" # ${N} in a comment\n| .";
        let s = scan(src).unwrap();
        assert_eq!(s.source, "\"a\\\"b\\(.x + \"\\($N)\")\" # ${N} in a comment\n| .");
        assert_eq!(s.vars, vec!["N".to_string()]);
    }

    #[test]
    fn literal_dollar_brace_in_a_string_and_invalid_names_are_left() {
        assert_eq!(scan(r#""$${X}""#).unwrap().source, r#""${X}""#);
        assert_eq!(scan("${1x}").unwrap().source, "${1x}");
        assert!(scan("${1x}").unwrap().vars.is_empty());
    }

    #[test]
    fn too_deep_names_the_column() {
        let src = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        let e = scan(&src).unwrap_err();
        assert_eq!(e.column, Some(MAX_NESTING + 1));
        let src = format!("\"{}\"", "\\(\"".repeat(200));
        assert!(scan(&src).is_err());
    }

    #[test]
    fn a_number_written_from_its_point_gets_its_zero() {
        assert_eq!(scan("select(.>.00005)").unwrap().source, "select(.>0.00005)");
        assert_eq!(scan(".5 + [.1]").unwrap().source, "0.5 + [0.1]");
        assert_eq!(scan(".a.b | .[0] | 1.5").unwrap().source, ".a.b | .[0] | 1.5");
    }

    #[test]
    fn too_long_names_the_column() {
        let e = scan(&". ".repeat(MAX_SOURCE_BYTES)).unwrap_err();
        assert!(e.message.contains("bytes long"), "{e}");
    }
}
