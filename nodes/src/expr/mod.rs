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

mod error;
mod jaq_backend;
mod jq_compat;
mod native;
mod value;

#[cfg(test)]
mod tests;

pub use error::{CompileError, EvalError};

use jaq_core::load::parse::Term;
use jaq_core::load::{Lexer, Parser};
use serde_json::Value;

use jaq_backend::JaqFilter;
use native::Node;
use value::Fail;

/// A compiled jq expression: its source, the jaq filter, and a native program when
/// the expression is within the natively supported subset.
pub struct Expr {
    source: String,
    native: Option<Node>,
    jaq: JaqFilter,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expr>();
};

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expr").field("source", &self.source).field("native", &self.native.is_some()).finish()
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
    /// Compiles once; syntax errors carry the column.
    pub fn compile(src: &str) -> Result<Expr, CompileError> {
        let jaq = JaqFilter::compile(src)?;
        let native = parse_checked(src)?.and_then(|term| native::compile(&term));
        Ok(Expr { source: src.to_owned(), native, jaq })
    }

    /// Compiles without the native program, so every evaluation runs through jaq.
    ///
    /// Used to cross-check the native evaluator and for benchmarks.
    #[doc(hidden)]
    pub fn compile_jaq_only(src: &str) -> Result<Expr, CompileError> {
        let jaq = JaqFilter::compile(src)?;
        parse_checked(src)?;
        Ok(Expr { source: src.to_owned(), native: None, jaq })
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

    /// jq truthiness of the first output (no output => false). For filter nodes.
    pub fn test(&self, input: &Value) -> Result<bool, EvalError> {
        if let Some(node) = &self.native {
            let res = node.test(input);
            match res {
                Ok(b) => return Ok(b),
                Err(Fail::Err(e)) => return Err(EvalError(e)),
                Err(Fail::Jaq | Fail::Stop) => {}
            }
        }
        self.jaq.test(jaq_backend::to_val_ref(input))
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
            self.jaq.apply_json(input, emit).map_err(|e| (e, Some(backup)))
        };
        let Some(node) = &self.native else {
            return via_jaq(input, emit);
        };
        if node.owned_safe() {
            let res = node.run_owned(input, &mut |v| {
                emit(v);
                Ok(())
            });
            return match res {
                Ok(()) => Ok(()),
                Err((Fail::Err(e), back)) => Err((EvalError(e), back)),
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
            Err(Fail::Jaq) => via_jaq(input, emit),
            res => {
                outs.into_iter().for_each(&mut *emit);
                match res {
                    Err(Fail::Err(e)) => Err((EvalError(e), Some(input))),
                    _ => Ok(()),
                }
            }
        }
    }
}
