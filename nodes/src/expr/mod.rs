//! jq-syntax expressions over `serde_json::Value` records, for `filter` and `map` nodes.
//!
//! An [`Expr`] is parsed by jaq's own parser (so syntax errors are jaq's, with a column).
//! The common subset of jq — paths, literals, comparisons, arithmetic, `and`/`or`/`not`,
//! `//`, `select`, `if`, a few string/type builtins, object/array construction, field
//! assignment/update/`del` — is compiled to a native evaluator working directly on
//! `serde_json::Value` (see [`Expr::is_native`]). Everything else runs through jaq
//! (jaq-core/jaq-std/jaq-json), converting values at the boundary. Native results are
//! identical to jaq's once converted back to `serde_json` (this is property-tested);
//! records on which native semantics would diverge (integer overflow beyond 64 bits,
//! NaN/infinity, unusual `tonumber` input, ...) are transparently re-run through jaq.
//!
//! Conversions from jaq back to `serde_json`: integers outside `i64`/`u64` become `f64`,
//! NaN becomes `null`, ±infinity becomes ±`f64::MAX`.

mod desugar;
mod error;
mod guard;
mod jaq_backend;
mod jq_compat;
mod limits;
mod native;
mod rewrite;
mod scan;
mod value;

#[cfg(test)]
mod tests;

pub use error::{CompileError, EvalError};
pub use guard::{EVAL_STACK_BYTES, Interrupt, on_eval_stack};
pub use limits::{
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_OUTPUTS, DEFAULT_MAX_STEPS, Limits, MAX_MAX_DEPTH, MAX_MAX_OUTPUTS, MAX_MAX_STEPS,
};

use jaq_core::load::parse::Term;
use jaq_core::load::{Lexer, Parser};
use serde_json::Value;
use streamloom_runtime::pushdown::{ProjectedRecord, RawField};

use jaq_backend::JaqFilter;
use native::Node;
use value::Fail;

/// Whether `src` will run on the native fast path (`Some(true)`), through jaq (`Some(false)`),
/// or does not parse (`None`: validation says why). Cheap (no jaq compilation): the editor
/// asks it as the user types.
pub fn runs_natively(src: &str) -> Option<bool> {
    let scanned = scan::scan(src).ok()?;
    guard::on_eval_stack(|| {
        let tokens = Lexer::new(&scanned.source).lex().ok()?;
        let term = Parser::new(&tokens).parse(|p| p.term()).ok()?;
        Some(scanned.vars.is_empty() && native::compile(&term).is_some())
    })
}

/// A compiled jq expression: its source, the jaq filter, and a native program when
/// the expression is within the natively supported subset; the budget each evaluation runs
/// under, and what interrupts it.
pub struct Expr {
    source: String,
    native: Option<Node>,
    jaq: JaqFilter,
    /// `${NAME}` placeholders, bound as jq variables `$NAME`.
    vars: Vec<String>,
    limits: Limits,
    interrupt: Option<Interrupt>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expr>();
};

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expr")
            .field("source", &self.source)
            .field("native", &self.native.is_some())
            .field("vars", &self.vars)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Parses `src` as one term (what the native compiler takes; `None` when it is not one)
/// and makes jq's compile-time checks that jaq does not make.
fn parse_checked(src: &str) -> Result<Option<Term<&str>>, CompileError> {
    let term = Lexer::new(src).lex().ok().and_then(|tokens| Parser::new(&tokens).parse(|p| p.term()).ok());
    jq_compat::check(src, term.as_ref()).map_err(|(message, at)| CompileError::at(message, src, at))?;
    Ok(term)
}

impl Expr {
    /// Compiles once; syntax errors carry the column. `${NAME}` placeholders become jq
    /// variables bound to `null` until [`Expr::bind`] gives their values. A program too long,
    /// nested too deep or using modules is refused here, with its column.
    pub fn compile(src: &str) -> Result<Expr, CompileError> {
        let scanned = scan::scan(src)?;
        let source = desugar::alternatives(&scanned.source)?;
        let jaq = JaqFilter::compile(&source, &scanned.vars)?;
        let term = guard::on_eval_stack(|| parse_checked(&source).map(|t| t.and_then(|t| native::compile(&t))))?;
        let native = if scanned.vars.is_empty() { term } else { None };
        Ok(Expr { source: src.to_owned(), native, jaq, vars: scanned.vars, limits: Limits::default(), interrupt: None })
    }

    /// Compiles without the native program, so every evaluation runs through jaq.
    ///
    /// Used to cross-check the native evaluator and for benchmarks.
    #[doc(hidden)]
    pub fn compile_jaq_only(src: &str) -> Result<Expr, CompileError> {
        let mut e = Expr::compile(src)?;
        e.native = None;
        Ok(e)
    }

    /// The `${NAME}` placeholders the expression uses, in order of first use.
    pub fn placeholders(&self) -> &[String] {
        &self.vars
    }

    /// Binds the placeholders' values (looked up by name); a value that reads as JSON (`10`,
    /// `true`, `"x"`) is bound as that value, anything else as a string. Returns the names
    /// that `lookup` does not know.
    pub fn bind(&mut self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), Vec<String>> {
        let mut values = Vec::with_capacity(self.vars.len());
        let mut unset = Vec::new();
        for name in &self.vars {
            match lookup(name) {
                Some(v) => values.push(v),
                None => unset.push(name.clone()),
            }
        }
        if !unset.is_empty() {
            return Err(unset);
        }
        self.jaq.bind(&values);
        Ok(())
    }

    /// Sets the budget of each evaluation.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// True once the interrupt set by [`Expr::with_interrupt`] fires (the run is being killed).
    pub fn interrupted(&self) -> bool {
        self.interrupt.as_ref().is_some_and(|i| i())
    }

    /// Sets what interrupts a long evaluation (polled every few thousand steps).
    pub fn with_interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = Some(interrupt);
        self
    }

    /// The expression's source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the whole expression runs as native closures (no jaq at run time).
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }

    /// True for `.` (and whitespace variants): lets a map node forward batches untouched.
    pub fn is_identity(&self) -> bool {
        self.native.as_ref().is_some_and(Node::is_identity)
    }

    /// The top-level fields of a record the expression reads, when it reads nothing else of
    /// it: then any object holding exactly those of the record's fields that are present, with
    /// the same values, gives the same answer. `None` when it may use the record as a whole or
    /// does not run natively.
    pub fn fields_read(&self) -> Option<Vec<String>> {
        let mut fields = std::collections::BTreeSet::new();
        let node = self.native.as_ref()?;
        node.reads_only_fields(&mut fields).then(|| fields.into_iter().collect())
    }

    /// The native path's answer to [`Expr::test`], when it has one: `None` when the expression
    /// has no native program or its native evaluation fails (jaq would then decide).
    pub fn test_native(&self, input: &Value) -> Option<bool> {
        self.native.as_ref()?.test(input).ok()
    }

    /// [`Expr::test_native`] from a record's raw top-level fields, when the condition compares
    /// top-level fields with text for (in)equality, joined by `and`/`or`; `None` otherwise.
    pub fn test_raw<'a>(&self, field: &dyn Fn(&str) -> RawField<'a>) -> Option<bool> {
        self.native.as_ref()?.raw_test(field)
    }

    /// [`Expr::test_native`] for a record given by some of its top-level fields, when the
    /// condition is a comparison of fields and literals (or several joined by `and`/`or`);
    /// `None` otherwise.
    pub fn test_projected(&self, record: &ProjectedRecord<'_>) -> Option<bool> {
        self.native.as_ref()?.quick_test_projected(record)
    }

    /// jq truthiness of the first output (no output => false). For filter nodes.
    pub fn test(&self, input: &Value) -> Result<bool, EvalError> {
        if let Some(node) = &self.native {
            let res = node.test(input);
            match res {
                Ok(b) => return Ok(b),
                // jaq is the oracle: a native failure is re-run there, so the message (and,
                // should the native path ever be wrong, the answer) is jaq's.
                Err(Fail::Err(_) | Fail::Jaq | Fail::Stop) => {}
            }
        }
        self.jaq.test(jaq_backend::to_val_ref(input), &self.limits, self.interrupt.as_ref())
    }

    /// Runs the expression on an owned input and emits every output (jq can emit 0..n).
    /// Native updates like `.value *= 1.1` or `del(.a)` mutate the owned value in place (no clone).
    pub fn apply(&self, input: Value, emit: &mut dyn FnMut(Value)) -> Result<(), EvalError> {
        self.try_apply(input, emit).map_err(|(e, _)| e)
    }

    /// Like [`Expr::apply`], but a failure hands the input back when it is still intact, so a
    /// dead-letter record can carry the event that failed. The native path checks before it
    /// mutates, so it never needs a copy; the jaq path copies the input first.
    pub fn try_apply(&self, input: Value, emit: &mut dyn FnMut(Value)) -> Result<(), (EvalError, Option<Value>)> {
        let via_jaq = |input: Value, emit: &mut dyn FnMut(Value)| {
            let backup = input.clone();
            self.jaq.apply_json(input, &self.limits, self.interrupt.as_ref(), emit).map_err(|e| (e, Some(backup)))
        };
        let Some(node) = &self.native else {
            return via_jaq(input, emit);
        };
        if node.owned_safe() {
            // A failure must hand back the event as it came in (for the dead letter, and for
            // jaq to judge): copy it first unless the program never touches it before failing.
            let backup = if node.fails_untouched() { None } else { Some(input.clone()) };
            let mut emitted = 0usize;
            let res = node.run_owned(input, &mut |v| {
                emitted += 1;
                emit(v);
                Ok(())
            });
            return match res {
                Ok(()) => Ok(()),
                // jaq is the oracle: a native failure before any output is re-run there, so the
                // answer (or the error and its message) is jaq's.
                Err((Fail::Err(e), back)) => match back.or(backup) {
                    Some(input) if emitted == 0 => via_jaq(input, emit),
                    input => Err((self.jaq_message(input.as_ref(), e), input)),
                },
                Err((Fail::Jaq, Some(input))) => via_jaq(input, emit),
                Err((Fail::Jaq, None)) => {
                    Err((EvalError("internal: native evaluation needed jaq after consuming its input".into()), None))
                }
                Err((Fail::Stop, _)) => Ok(()),
            };
        }
        // May need jaq part-way: buffer outputs so that a fallback does not duplicate them.
        let mut outs = Vec::new();
        let res = node.many(&input, &mut |v| {
            outs.push(v);
            Ok(())
        });
        match res {
            // jaq is the oracle for failures too (see above).
            Err(Fail::Jaq | Fail::Err(_)) => via_jaq(input, emit),
            _ => {
                outs.into_iter().for_each(&mut *emit);
                Ok(())
            }
        }
    }

    /// The message jaq gives for `input`, so that an error reads the same whichever path raised
    /// it (errors are rare: the re-run costs nothing on the common path). Falls back to the
    /// native message when the input is gone or jaq does not fail.
    fn jaq_message(&self, input: Option<&Value>, native: String) -> EvalError {
        let Some(input) = input else { return EvalError(native) };
        match self.jaq.apply_json(input.clone(), &self.limits, self.interrupt.as_ref(), &mut |_| {}) {
            Err(e) => e,
            Ok(()) => EvalError(native),
        }
    }
}
