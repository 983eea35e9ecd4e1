//! `${NAME}` placeholders in config strings, replaced from the environment when a graph runs.
//! The file keeps the placeholder; `$${` writes a literal `${`. A name is letters, digits and
//! `_` (not starting with a digit): anything else (`${a${b}}`, an unterminated `${`) is a
//! problem [`check`] reports at validation, so substitution never sees it. Every scan is
//! linear in the string and nothing here recurses deeper than a config may nest
//! ([`crate::graph::MAX_CONFIG_DEPTH`], enforced at load and validation).

use serde_json::Value;

use crate::problem::{MAX_NAME, cut};

/// A placeholder whose variable is not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVar {
    /// Dotted path of the config field.
    pub field: String,
    /// The variable name.
    pub var: String,
}

/// Whether `name` may be a variable name: letters, digits and `_`, not starting with a digit.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// One piece of a string: literal text or a placeholder.
enum Piece<'a> {
    Text(&'a str),
    /// `${name}` (the name may be invalid; see [`is_valid_name`]).
    Var(&'a str),
    /// `${` with no closing `}` anywhere after it: the rest of the string.
    Unterminated(&'a str),
}

/// Splits `s` into pieces in one linear pass.
fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push(Piece::Text(&rest[..i]));
        let after = &rest[i..];
        if let Some(lit) = after.strip_prefix("$${") {
            out.push(Piece::Text("${"));
            rest = lit;
        } else if let Some(body) = after.strip_prefix("${") {
            match body.find('}') {
                Some(end) => {
                    out.push(Piece::Var(&body[..end]));
                    rest = &body[end + 1..];
                }
                None => {
                    // No `}` anywhere after: no later `${` can close either.
                    out.push(Piece::Unterminated(after));
                    rest = "";
                }
            }
        } else {
            out.push(Piece::Text("$"));
            rest = &after[1..];
        }
    }
    out.push(Piece::Text(rest));
    out
}

/// Replaces placeholders in one string. Returns the names of unset variables on failure
/// (an invalid name is never looked up: it is returned as unset, cut to a readable length).
pub fn substitute_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<String>> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut missing = Vec::new();
    for piece in pieces(s) {
        match piece {
            Piece::Text(t) | Piece::Unterminated(t) => out.push_str(t),
            Piece::Var(name) if is_valid_name(name) => match lookup(name) {
                Some(v) => out.push_str(&v),
                None => missing.push(name.to_string()),
            },
            Piece::Var(name) => missing.push(cut(name, MAX_NAME).into_owned()),
        }
    }
    if missing.is_empty() { Ok(out) } else { Err(missing) }
}

/// Problems with the placeholders of one string: invalid names and unterminated `${`.
pub fn check_str(s: &str) -> Vec<String> {
    if !s.contains("${") {
        return Vec::new();
    }
    pieces(s)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(name) if !is_valid_name(name) => Some(format!(
                "invalid placeholder `${{{}}}`: a variable name is letters, digits and `_` \
                 (placeholders do not nest; write `$${{` for a literal `${{`)",
                cut(name, MAX_NAME)
            )),
            Piece::Unterminated(rest) => Some(format!(
                "unterminated placeholder `{}`: write `${{NAME}}`, or `$${{` for a literal `${{`",
                cut(rest, MAX_NAME)
            )),
            _ => None,
        })
        .collect()
}

/// Problems with the placeholders of every string in a config, with the dotted path of each
/// field. Iterative: any depth is safe.
pub fn check(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![(value, String::new())];
    while let Some((v, path)) = stack.pop() {
        match v {
            Value::String(s) => out.extend(check_str(s).into_iter().map(|m| (path.clone(), m))),
            Value::Array(items) => {
                stack.extend(items.iter().enumerate().rev().map(|(i, v)| (v, format!("{path}[{i}]"))));
            }
            Value::Object(map) => stack.extend(
                map.iter().rev().map(|(k, v)| (v, if path.is_empty() { k.clone() } else { format!("{path}.{k}") })),
            ),
            _ => {}
        }
    }
    out
}

/// Replaces placeholders in every string of a config value.
pub fn substitute(value: &Value, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Value, Vec<UnsetVar>> {
    let mut unset = Vec::new();
    let out = walk(value, "", lookup, &mut unset);
    if unset.is_empty() { Ok(out) } else { Err(unset) }
}

fn walk(value: &Value, path: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<UnsetVar>) -> Value {
    match value {
        Value::String(s) => match substitute_str(s, lookup) {
            Ok(v) => Value::String(v),
            Err(vars) => {
                unset.extend(vars.into_iter().map(|var| UnsetVar { field: path.to_string(), var }));
                value.clone()
            }
        },
        Value::Array(items) => Value::Array(
            items.iter().enumerate().map(|(i, v)| walk(v, &format!("{path}[{i}]"), lookup, unset)).collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    (k.clone(), walk(v, &p, lookup, unset))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Looks variables up in the process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(name: &str) -> Option<String> {
        (name == "HOME_DIR").then(|| "/home/x".to_string())
    }

    #[test]
    fn nested_and_unterminated_placeholders_are_problems_found_in_linear_time() {
        let n = 1_000_000;
        let nested = format!("{}x{}", "${".repeat(n), "}".repeat(n));
        let unterminated = "${".repeat(n);
        let started = std::time::Instant::now();
        let problems = check(&json!({"path": nested, "list": [unterminated]}));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0, "list[0]");
        assert!(problems[0].1.starts_with("unterminated placeholder"), "{}", problems[0].1);
        assert_eq!(problems[1].0, "path");
        assert!(problems[1].1.starts_with("invalid placeholder"), "{}", problems[1].1);
        assert!(problems.iter().all(|(_, m)| m.len() < 400), "messages are cut");
        let err = substitute_str(&nested, &vars).unwrap_err();
        assert!(err[0].len() < 200, "an invalid name is cut, never looked up");
        assert_eq!(substitute_str(&unterminated, &vars).unwrap().len(), 2 * n);
        assert!(started.elapsed().as_secs() < 5, "linear, not quadratic: {:?}", started.elapsed());
        assert!(check(&json!({"a": "$${LIT} ${HOME_DIR} $5 ${_x1}"})).is_empty());
    }

    #[test]
    fn replaces_set_and_reports_unset() {
        assert_eq!(substitute_str("${HOME_DIR}/a $5 $${LIT}", &vars).unwrap(), "/home/x/a $5 ${LIT}");
        let v = json!({"a": {"b": ["${NOPE}", "ok"]}});
        let err = substitute(&v, &vars).unwrap_err();
        assert_eq!(err, vec![UnsetVar { field: "a.b[0]".into(), var: "NOPE".into() }]);
    }
}
