//! Subject and topic templates: literal text with `{field}` (or `{a.b}`) replaced by the
//! event's field, e.g. `events.{user}`.

use serde_json::Value;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field(Vec<String>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`; the error says what is wrong (an unclosed or empty `{}`).
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(format!("`{{` at byte {open} is not closed by `}}`"));
            };
            let name = after[..close].trim();
            if name.is_empty() {
                return Err("`{}` names no field".into());
            }
            pieces.push(Piece::Field(name.split('.').map(str::to_string).collect()));
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err("`}` without `{`".into());
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        if pieces.is_empty() {
            return Err("empty".into());
        }
        Ok(Template { pieces })
    }

    /// The template filled from `value`; the error names a missing or unusable field.
    /// Strings are used as they are, numbers and booleans as JSON text.
    pub fn render(&self, value: &Value) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(path) => {
                    let found = path.iter().try_fold(value, |v, k| v.get(k));
                    match found {
                        Some(Value::String(s)) if !s.is_empty() => out.push_str(s),
                        Some(v @ (Value::Number(_) | Value::Bool(_))) => out.push_str(&v.to_string()),
                        Some(_) => {
                            return Err(format!("field `{}` is empty or not a string or number", path.join(".")));
                        }
                        None => return Err(format!("the event has no field `{}`", path.join("."))),
                    }
                }
            }
        }
        Ok(out)
    }

    /// Whether it uses no field.
    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Text(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::Template;
    use serde_json::json;

    #[test]
    fn fields_fill_the_template_and_missing_ones_are_named() {
        let t = Template::parse("events.{user}.{geo.country}").unwrap_or_else(|e| panic!("{e}"));
        let v = json!({"user": "ada", "geo": {"country": "uk"}});
        assert_eq!(t.render(&v), Ok("events.ada.uk".into()));
        assert_eq!(t.render(&json!({"user": 7, "geo": {"country": true}})), Ok("events.7.true".into()));
        assert!(t.render(&json!({"user": "ada"})).unwrap_err().contains("`geo.country`"));
        assert!(Template::parse("plain.subject").is_ok_and(|t| t.is_literal()));
        for bad in ["a.{user", "a.{}", "a}", ""] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
