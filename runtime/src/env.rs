//! `${NAME}` placeholders in config strings, replaced from the environment when a graph runs.
//! The file keeps the placeholder; `$${` writes a literal `${`.

use serde_json::Value;

/// A placeholder whose variable is not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVar {
    /// Dotted path of the config field.
    pub field: String,
    /// The variable name.
    pub var: String,
}

/// Replaces placeholders in one string. Returns the names of unset variables on failure.
pub fn substitute_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<String>> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut missing = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(lit) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = lit;
        } else if let Some(body) = after.strip_prefix("${")
            && let Some(end) = body.find('}')
        {
            let name = &body[..end];
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None => missing.push(name.to_string()),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    if missing.is_empty() { Ok(out) } else { Err(missing) }
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
    fn replaces_set_and_reports_unset() {
        assert_eq!(substitute_str("${HOME_DIR}/a $5 $${LIT}", &vars).unwrap(), "/home/x/a $5 ${LIT}");
        let v = json!({"a": {"b": ["${NOPE}", "ok"]}});
        let err = substitute(&v, &vars).unwrap_err();
        assert_eq!(err, vec![UnsetVar { field: "a.b[0]".into(), var: "NOPE".into() }]);
    }
}
