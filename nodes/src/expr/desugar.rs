//! jq syntax that jaq's parser does not know, rewritten in the source into forms it does:
//! destructuring alternatives, `E as P1 ?// P2 ?// P3 | BODY`. jq binds `.`-s outputs to the
//! first pattern that destructures without an error (an error in the body of any but the last
//! alternative also moves on to the next one), with every variable of every pattern bound
//! (to `null` where its pattern did not bind it). That is, with `$d` and `$in` fresh:
//!
//! ```text
//! E as $d | (. as $in | null as $a | ... | try ($d as P1 | BODY)
//!     catch ($in | try ($d as P2 | BODY) catch ($in | $d as P3 | BODY)))
//! ```
//!
//! The pass works on the text (after [`super::scan`]), string- and comment-aware; a form it
//! cannot read is left for jaq's parser to report.

use std::borrow::Cow;

use super::error::CompileError;
use super::scan::MAX_SOURCE_BYTES;

/// The source with every destructuring alternative rewritten.
pub(crate) fn alternatives(src: &str) -> Result<Cow<'_, str>, CompileError> {
    if !src.contains("?//") {
        return Ok(Cow::Borrowed(src));
    }
    let mut text = src.to_owned();
    for n in 0.. {
        let code = code_mask(&text);
        let Some(rewritten) = rewrite_first(&text, &code, n) else { break };
        if rewritten.len() > MAX_SOURCE_BYTES * 4 {
            return Err(CompileError {
                message: "expression too large once its `?//` alternatives are expanded".into(),
                column: None,
            });
        }
        text = rewritten;
    }
    Ok(Cow::Owned(text))
}

/// For each byte: true when it is code (not inside a string literal's text or a comment).
fn code_mask(src: &str) -> Vec<bool> {
    #[derive(PartialEq)]
    enum Frame {
        Str,
        Interp(usize),
    }
    let b = src.as_bytes();
    let mut mask = vec![true; b.len()];
    let mut stack: Vec<Frame> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        if stack.last() == Some(&Frame::Str) {
            mask[i] = false;
            match b[i] {
                b'\\' if b.get(i + 1) == Some(&b'(') => {
                    mask[i + 1] = false;
                    stack.push(Frame::Interp(depth));
                    depth += 1;
                    i += 2;
                    continue;
                }
                b'\\' => {
                    if i + 1 < b.len() {
                        mask[i + 1] = false;
                    }
                    i += 2;
                    continue;
                }
                b'"' => {
                    stack.pop();
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    mask[i] = false;
                    i += 1;
                }
                continue;
            }
            b'"' => {
                mask[i] = false;
                stack.push(Frame::Str);
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if b[i] == b')' && stack.last() == Some(&Frame::Interp(depth)) {
                    stack.pop();
                    mask[i] = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    mask
}

fn is_ident(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Rewrites the first `?//` it can read; `None` when there is none left (or it cannot read it).
fn rewrite_first(src: &str, code: &[bool], n: usize) -> Option<String> {
    let b = src.as_bytes();
    let q =
        (0..b.len().saturating_sub(2)).find(|&i| code[i] && code[i + 1] && code[i + 2] && &b[i..i + 3] == b"?//")?;
    // Backwards: the first pattern, then `as`.
    let mut i = skip_ws_back(b, q);
    let first_start = pattern_start(b, code, i)?;
    i = skip_ws_back(b, first_start);
    if i < 2 || &b[i - 2..i] != b"as" || (i > 2 && is_ident(b[i - 3])) {
        return None;
    }
    let as_pos = i - 2;
    // Forwards: the patterns, then `|`.
    let mut patterns = vec![&src[first_start..skip_ws_back(b, q)]];
    let mut pos = q;
    loop {
        if !src[pos..].starts_with("?//") {
            break;
        }
        pos = skip_ws(b, pos + 3);
        let end = pattern_end(b, code, pos)?;
        patterns.push(&src[pos..end]);
        pos = skip_ws(b, end);
    }
    if b.get(pos) != Some(&b'|') {
        return None;
    }
    let body_start = pos + 1;
    let body_end = body_end(src, code, body_start);
    let body = src[body_start..body_end].trim();

    let mut vars: Vec<&str> = Vec::new();
    for p in &patterns {
        let pb = p.as_bytes();
        let mut k = 0;
        while k < pb.len() {
            if pb[k] == b'$' {
                let e = (k + 1..pb.len()).find(|&j| !is_ident(pb[j])).unwrap_or(pb.len());
                let v = &p[k..e];
                if e > k + 1 && v != "$__loc__" && !vars.contains(&v) {
                    vars.push(v);
                }
                k = e;
            } else {
                k += 1;
            }
        }
    }
    let (d, input) = (format!("$__alt_value{n}"), format!("$__alt_input{n}"));
    let mut chain = format!("{d} as {} | {body}", patterns[patterns.len() - 1]);
    for p in patterns[..patterns.len() - 1].iter().rev() {
        chain = format!("try ({d} as {p} | {body}) catch ({input} | {chain})");
    }
    let nulls: String = vars.iter().map(|v| format!("null as {v} | ")).collect();
    let replacement = format!("as {d} | (. as {input} | {nulls}{chain})");
    Some(format!("{}{replacement}{}", &src[..as_pos], &src[body_end..]))
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Index just after the last non-space byte before `i`.
fn skip_ws_back(b: &[u8], mut i: usize) -> usize {
    while i > 0 && b[i - 1].is_ascii_whitespace() {
        i -= 1;
    }
    i
}

/// Start of the pattern that ends just before `end`: `$name`, `[...]` or `{...}`.
fn pattern_start(b: &[u8], code: &[bool], end: usize) -> Option<usize> {
    let last = *b.get(end.checked_sub(1)?)?;
    if last == b']' || last == b'}' {
        let mut depth = 0i32;
        let mut i = end;
        while i > 0 {
            i -= 1;
            if !code[i] {
                continue;
            }
            match b[i] {
                b']' | b'}' | b')' => depth += 1,
                b'[' | b'{' | b'(' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        return None;
    }
    let mut i = end;
    while i > 0 && is_ident(b[i - 1]) {
        i -= 1;
    }
    (i > 0 && i < end && b[i - 1] == b'$').then(|| i - 1)
}

/// End of the pattern that starts at `start`.
fn pattern_end(b: &[u8], code: &[bool], start: usize) -> Option<usize> {
    match *b.get(start)? {
        b'[' | b'{' => {
            let mut depth = 0i32;
            for i in start..b.len() {
                if !code[i] {
                    continue;
                }
                match b[i] {
                    b'[' | b'{' | b'(' => depth += 1,
                    b']' | b'}' | b')' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        b'$' => {
            let e = (start + 1..b.len()).find(|&j| !is_ident(b[j])).unwrap_or(b.len());
            (e > start + 1).then_some(e)
        }
        _ => None,
    }
}

/// Where the body that starts at `start` ends: a closing bracket, `;`, or `then`/`elif`/
/// `else`/`end` of the enclosing term, or the end of the source.
fn body_end(src: &str, code: &[bool], start: usize) -> usize {
    let b = src.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        if code[i] {
            match b[i] {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth == 0 => return i,
                b')' | b']' | b'}' => depth -= 1,
                b';' if depth == 0 => return i,
                c if depth == 0 && c.is_ascii_alphabetic() && (i == 0 || !is_ident(b[i - 1])) => {
                    let e = (i..b.len()).find(|&j| !is_ident(b[j])).unwrap_or(b.len());
                    if matches!(&src[i..e], "then" | "elif" | "else" | "end") {
                        return i;
                    }
                    i = e;
                    continue;
                }
                _ => {}
            }
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn alternatives_become_try_catch_chains() {
        let out = alternatives(". as [$a] ?// $a | $a").unwrap();
        assert_eq!(
            out,
            ". as $__alt_value0 | (. as $__alt_input0 | null as $a | \
             try ($__alt_value0 as [$a] | $a) catch ($__alt_input0 | $__alt_value0 as $a | $a))"
        );
    }

    #[test]
    fn the_body_stops_at_the_enclosing_bracket_and_strings_are_left_alone() {
        let out = alternatives(r#"[.[] as {a:$a} ?// $a | $a], "?//""#).unwrap();
        assert!(out.starts_with("[.[] as $__alt_value0 |"), "{out}");
        assert!(out.ends_with(r#"$a | $a))], "?//""#), "{out}");
    }

    #[test]
    fn without_alternatives_nothing_changes() {
        assert!(matches!(alternatives(". as [$a] | $a").unwrap(), Cow::Borrowed(_)));
    }
}
