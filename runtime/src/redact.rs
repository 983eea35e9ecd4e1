//! Keeps substituted `${NAME}` values out of messages: errors, logs, the summary and
//! `--metrics-out` show the placeholder, never what it was replaced with.

use serde_json::Value;

/// Replaces every value a placeholder was substituted with by the placeholder itself.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (value, `${NAME}`), longest value first so a value inside another is not cut.
    pairs: Vec<(String, String)>,
}

impl Redactor {
    /// The values of every `${NAME}` found in the strings of `configs`, looked up with `lookup`.
    pub fn for_configs<'a>(
        configs: impl IntoIterator<Item = &'a Value>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        let mut names = Vec::new();
        for config in configs {
            collect_names(config, &mut names);
        }
        names.sort();
        names.dedup();
        let mut pairs: Vec<(String, String)> = names
            .into_iter()
            .filter_map(|name| lookup(&name).filter(|v| !v.is_empty()).map(|v| (v, format!("${{{name}}}"))))
            .collect();
        pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Redactor { pairs }
    }

    /// Whether there is anything to redact.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// `text` with every substituted value replaced by its placeholder.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (value, placeholder) in &self.pairs {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), placeholder);
            }
        }
        out
    }
}

/// Placeholder names in every string of `value`, walked without recursion.
fn collect_names(value: &Value, names: &mut Vec<String>) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => names.extend(placeholders(s)),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
}

/// The names of the `${NAME}` placeholders in `s` (`$${` is a literal, not a placeholder).
fn placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        let after = &rest[i..];
        if let Some(lit) = after.strip_prefix("$${") {
            rest = lit;
        } else if let Some(body) = after.strip_prefix("${")
            && let Some(end) = body.find('}')
        {
            out.push(body[..end].to_string());
            rest = &body[end + 1..];
        } else {
            rest = &after[1..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substituted_values_become_their_placeholders_again() {
        let config = json!({"path": "${DIR}/x/${FILE}", "nested": [{"token": "${TOKEN}"}], "lit": "$${NOT}"});
        let lookup = |n: &str| match n {
            "DIR" => Some("/srv/secret".to_string()),
            "FILE" => Some("a.jsonl".to_string()),
            "TOKEN" => Some("s3cr3t".to_string()),
            "NOT" => Some("never".to_string()),
            _ => None,
        };
        let r = Redactor::for_configs([&config], &lookup);
        assert_eq!(
            r.redact("cannot open /srv/secret/x/a.jsonl: token s3cr3t; never"),
            "cannot open ${DIR}/x/${FILE}: token ${TOKEN}; never"
        );
    }
}
