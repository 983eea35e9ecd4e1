//! `filter`: keeps the events for which a jq condition is true. The expression is compiled
//! once; the common subset runs as native code over the record, the rest through jaq under
//! the node's budget (`max_steps`, `max_outputs`, `max_depth`): an event that exceeds it, or
//! makes the condition fail, goes to `errors` with the reason. `${NAME}` placeholders are
//! bound as jq variables when the run starts.

use serde::{Deserialize, Serialize};
use streamloom_runtime::Batch;
use streamloom_runtime::io::{DeadLetters, NodeContext, drive_operator};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType, Ports,
    TypedNodeKind,
};

use std::sync::Arc;

use serde_json::Value;
use streamloom_runtime::pushdown::{ProjectedRecord, RawField, RecordPredicate};

use super::expression::{build_field, compile_field, interrupt, limit_params, limits};
use crate::expr::{Expr, on_eval_stack};

/// Config of `filter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// jq condition; events where it is true (not false or null) pass.
    pub condition: String,
    /// Most evaluation steps per event (default [`crate::expr::DEFAULT_MAX_STEPS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// Most outputs per event (default [`crate::expr::DEFAULT_MAX_OUTPUTS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_outputs: Option<u64>,
    /// Deepest result value (default [`crate::expr::DEFAULT_MAX_DEPTH`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u64>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig { condition: ".type == \"purchase\"".into(), max_steps: None, max_outputs: None, max_depth: None }
    }
}

/// The `filter` kind.
pub struct Filter;

impl TypedNodeKind for Filter {
    type Config = FilterConfig;
    const NAME: &'static str = "filter";
    const DESCRIPTION: &'static str = "Keeps events for which a jq condition is true";
    const CATEGORY: Category = Category::Operator;
    const EXAMPLE: &'static str = "Keep purchases over 100: `condition: \".type == \\\"purchase\\\" and .value > 100\"`. Events for which the condition is false are counted as filtered; events it cannot evaluate go to `errors`.";

    fn params() -> Vec<ParamSpec> {
        let mut params = vec![ParamSpec::new(
            "condition",
            ParamKind::Expression,
            "jq condition, e.g. .type == \"purchase\" and .value > 10",
        )];
        params.extend(limit_params());
        params
    }

    fn ports(_config: &FilterConfig) -> Ports {
        Ports {
            inputs: vec![PortSpec::input("in", PortType::Any, "Events to test")],
            outputs: vec![PortSpec::output("out", PortType::Any, "Events where the condition holds")],
        }
    }

    fn validate(config: &FilterConfig) -> Vec<ConfigProblem> {
        compile_field("condition", &config.condition).err().into_iter().collect()
    }

    /// A condition that reads only some top-level fields of the record can be tested by the
    /// source in front while it reads (see [`streamloom_runtime::pushdown`]).
    fn predicate(config: &FilterConfig, _build: &BuildContext) -> Option<Arc<dyn RecordPredicate>> {
        let expr = Expr::compile(&config.condition).ok()?;
        let fields = expr.fields_read()?;
        Some(Arc::new(ConditionTest { expr, fields }))
    }

    fn build(config: FilterConfig, build: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let limits = limits(config.max_steps, config.max_outputs, config.max_depth);
        let expr = build_field("condition", &config.condition, limits, build)?;
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture {
            let expr = expr.with_interrupt(interrupt(&ctx));
            Box::pin(drive_operator(ctx, move |batch: Batch, out: &mut Batch, errors: &mut DeadLetters| {
                let mut keep = |batch: Batch| {
                    for ev in batch {
                        match expr.test(&ev.value) {
                            Ok(true) => out.push(ev),
                            Ok(false) => {}
                            // The run is being killed: the rest of the batch is lost, not failed.
                            Err(_) if expr.interrupted() => break,
                            Err(e) => errors.report(ev, format!("condition failed: {e}")),
                        }
                    }
                };
                // jaq recurses: give a batch it evaluates the big stack once, not per event.
                if expr.is_native() {
                    keep(batch)
                } else {
                    on_eval_stack(|| keep(batch))
                }
                out.len()
            }))
        }))
    }
}

/// A filter's condition as a test a source applies while reading: it rejects only what the
/// native evaluator finds false; anything else goes on to the filter.
struct ConditionTest {
    expr: Expr,
    fields: Vec<String>,
}

impl RecordPredicate for ConditionTest {
    fn fields(&self) -> &[String] {
        &self.fields
    }

    fn rejects(&self, projected: &Value) -> bool {
        self.expr.test_native(projected) == Some(false)
    }

    fn rejects_fields(&self, record: &ProjectedRecord<'_>) -> bool {
        match self.expr.test_projected(record) {
            Some(passes) => !passes,
            None => self.rejects(&record.to_object()),
        }
    }

    fn rejects_raw<'a>(&self, field: &dyn Fn(&str) -> RawField<'a>) -> Option<bool> {
        self.expr.test_raw(field).map(|passes| !passes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    /// A record given by its fields' values is rejected exactly when the object of those
    /// fields is, and only when the filter itself would drop the whole record.
    #[test]
    fn a_projected_record_is_rejected_exactly_when_its_object_is() {
        let conditions = [
            ".type == \"purchase\"",
            ".type != \"view\" and \"click\" != .type",
            ".type == \"purchase\" or .missing == \"x\"",
            ".value > 10 and .type != \"view\"",
            ".type == \"click\" or .value < 5",
            ".a.b == 1",
            ".missing == null",
            ".type | test(\"^p\")",
            ".value > \"x\"",
        ];
        let records = [
            json!({"type": "purchase", "value": 12, "a": {"b": 1}, "ts": 5}),
            json!({"type": "view", "value": 3}),
            json!({"type": "click", "value": 30, "a": {"b": 2}}),
            json!({"value": "text", "a": null}),
            json!({"a": [1], "missing": 0}),
            json!({}),
        ];
        let (mut compared, mut raw_told) = (0, 0);
        for condition in conditions {
            let expr = Expr::compile(condition).unwrap();
            let Some(fields) = expr.fields_read() else { continue };
            let test = ConditionTest { expr, fields };
            // As a source reads them: the condition's fields and the time field.
            let names: Vec<String> = test.fields.iter().cloned().chain(["ts".to_string()]).collect();
            for record in &records {
                let values: Vec<Value> = names.iter().map(|n| record.get(n).cloned().unwrap_or_default()).collect();
                let present: Vec<bool> = names.iter().map(|n| record.get(n).is_some()).collect();
                let projected = ProjectedRecord::new(&names, &values, &present);
                let rejected = test.rejects_fields(&projected);
                assert_eq!(rejected, test.rejects(&projected.to_object()), "{condition} on {record}");
                // From the raw text, when it can tell.
                let raw = |name: &str| match record.get(name) {
                    None => RawField::Absent,
                    Some(Value::String(text)) => RawField::Text(text.as_bytes()),
                    Some(_) => RawField::Other,
                };
                if let Some(raw_rejected) = test.rejects_raw(&raw) {
                    assert_eq!(raw_rejected, rejected, "{condition} on {record}, raw");
                    raw_told += 1;
                }
                if rejected {
                    assert_eq!(test.expr.test(record).ok(), Some(false), "{condition} on {record}");
                }
                compared += 1;
            }
        }
        assert!(compared >= 36, "{compared} comparisons");
        assert!(raw_told >= 12, "{raw_told} told from the raw text");
    }
}
