//! Fallback backend: the expression compiled and run by jaq.
//!
//! Values are converted from `serde_json::Value` to `jaq_json::Val` and back.
//! Number conversion rules (shared with the native path, which must match them):
//! - jaq integers (machine-size or big) become JSON integers when they fit `i64`/`u64`,
//!   otherwise the nearest `f64`;
//! - jaq floats and decimal literals become `f64`; NaN becomes `null` and ±infinity
//!   becomes ±`f64::MAX` (what jq prints for them).

use std::sync::{Arc, Mutex};

use jaq_core::load::lex::{Tok, Token};
use jaq_core::load::parse::{Def, Term};
use jaq_core::load::{Arena, File, Lexer, Loader, Parser, lex, parse};
use jaq_core::{Compiler, Ctx, Vars, compile, data, load};
use jaq_json::{Num, Val};
use serde_json::{Map, Number, Value};

use super::error::{CompileError, EvalError};
use super::guard::{self, Guarded, Interrupt};
use super::jq_compat;
use super::limits::Limits;
use super::rewrite;

type Data = data::JustLut<Val>;

/// Programs compiled lately in this process, newest last. A graph's expression is compiled
/// when its file is checked, again when the run starts (and for the filter a source applies
/// while reading): each compile of jaq's library with it took about 5 million instructions,
/// a tenth of workload A's start-up. Bounded, for an editor whose user types expression
/// after expression.
static RECENTLY_COMPILED: Mutex<Vec<CompiledProgram>> = Mutex::new(Vec::new());

/// Programs kept in [`RECENTLY_COMPILED`].
const RECENTLY_COMPILED_KEPT: usize = 32;

/// A compiled program and what it was compiled from.
struct CompiledProgram {
    src: String,
    vars: Vec<String>,
    filter: Arc<jaq_core::Filter<Data>>,
}

/// The program compiled lately from `src` with `vars`, if any.
fn recently_compiled(src: &str, vars: &[String]) -> Option<Arc<jaq_core::Filter<Data>>> {
    let kept = RECENTLY_COMPILED.lock().ok()?;
    kept.iter().rev().find(|p| p.src == src && p.vars == vars).map(|p| p.filter.clone())
}

/// Keeps `filter`, compiled from `src` with `vars`, dropping the oldest beyond the bound.
fn remember_compiled(src: &str, vars: &[String], filter: &Arc<jaq_core::Filter<Data>>) {
    let Ok(mut kept) = RECENTLY_COMPILED.lock() else { return };
    if kept.len() >= RECENTLY_COMPILED_KEPT {
        kept.remove(0);
    }
    kept.push(CompiledProgram { src: src.to_owned(), vars: vars.to_vec(), filter: filter.clone() });
}

/// Deepest term tree jaq may compile and run (its compiler and evaluator recurse this deep).
pub(crate) const MAX_TERM_DEPTH: usize = 1000;

/// Natives that are never available to a graph: `env` would hand any graph file the whole
/// process environment (placeholders `${NAME}` are the way to pass values in).
const WITHHELD_NATIVES: &[&str] = &["env"];

/// Definitions the rewritten program relies on (see [`rewrite`]); loaded before the standard
/// library, whose definitions are rewritten too.
const GUARD_DEFS: &str = r#"
def _mul(f; g): f as $a | g as $b | $a | _checked_mul($b);
def _div(f; g): f as $a | g as $b | $a | _jq_div($b);
def _mod(f; g): f as $a | g as $b | $a | _jq_mod($b);
def _getpath_for_update($p): reduce $p[] as $k (.; .[$k]);
def _assign(paths; $value): reduce path(paths) as $p (.; _jq_setpath($p; $value));
def _modify(paths; update):
  reduce path(paths) as $p ([., []];
    . as $x
    | label $out
    | (_jq_setpath([0] + $p; $x[0] | _getpath_for_update($p) | update) | ., break $out), (.[1] += [$p]))
  | . as $x | $x[0] | _jq_delpaths($x[1]);
"#;

/// The definitions every program is compiled with: ours first (the rewrite calls them), then
/// jaq's core, std and json libraries and the jq-compatibility layer, each rewritten to
/// count its steps. Parsed and rewritten once per process, not once per expression.
fn library() -> &'static [Def<&'static str>] {
    static LIBRARY: std::sync::OnceLock<Vec<Def<&'static str>>> = std::sync::OnceLock::new();
    LIBRARY.get_or_init(|| {
        let guard_defs = jaq_core::load::parse(GUARD_DEFS, |p| p.defs()).unwrap_or_default();
        let library =
            jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs()).chain(jq_compat::defs()).map(|mut d| {
                rewrite::def(&mut d, rewrite::Mode::Library);
                d
            });
        guard_defs.into_iter().chain(library).collect()
    })
}

/// A jq program compiled by jaq, with the standard library, rewritten to count its steps.
pub(crate) struct JaqFilter {
    filter: Arc<jaq_core::Filter<Data>>,
    /// Values of the `${NAME}` variables, in the order they were declared.
    values: Vec<Val>,
}

impl JaqFilter {
    /// Parses and compiles `src` (already scanned: placeholders are `$NAME` variables listed in
    /// `vars`) with jaq's core, std and json definitions. Runs on a big stack: jaq's parser and
    /// compiler recurse as deep as the program nests.
    pub(crate) fn compile(src: &str, vars: &[String]) -> Result<Self, CompileError> {
        if let Some(filter) = recently_compiled(src, vars) {
            return Ok(JaqFilter { filter, values: vec![Val::Null; vars.len()] });
        }
        let compiled = guard::on_eval_stack(|| Self::compile_here(src, vars))?;
        remember_compiled(src, vars, &compiled.filter);
        Ok(compiled)
    }

    fn compile_here(src: &str, vars: &[String]) -> Result<Self, CompileError> {
        let tokens = Lexer::new(src).lex().map_err(|errs| load_error(src, vec![((), load::Error::Lex(errs))]))?;
        if let Some(Token(word, Tok::Word)) = tokens.first()
            && matches!(*word, "import" | "include" | "module")
        {
            return Err(CompileError::at(
                format!("`{word}`: modules are not supported in a node's expression"),
                src,
                word,
            ));
        }
        let mut main: Term<&str> = Parser::new(&tokens).parse(|p| p.term()).map_err(|errs| {
            let errs = errs.into_iter().map(|(expect, found)| (expect, found_text(src, found))).collect();
            load_error(src, vec![((), load::Error::Parse(errs))])
        })?;
        let depth = rewrite::depth(&main);
        if depth > MAX_TERM_DEPTH {
            return Err(CompileError {
                message: format!("expression nested {depth} terms deep; at most {MAX_TERM_DEPTH} are allowed"),
                column: None,
            });
        }
        rewrite::term(&mut main);

        let main_def = Def { name: "__main", args: Vec::new(), body: main };
        let prelude: Vec<Def<&str>> = library().iter().cloned().chain([main_def]).collect();

        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .chain(jq_compat::funs())
            .filter(|(name, _, _)| !WITHHELD_NATIVES.contains(name))
            .chain(guard::funs());
        let var_names: Vec<String> = vars.iter().map(|v| format!("${v}")).collect();
        let arena = Arena::default();
        let modules = Loader::new(prelude)
            .load(&arena, File { code: "__main", path: () })
            .map_err(|errs| load_error(src, errs.into_iter().map(|(_, e)| ((), e)).collect()))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .with_global_vars(var_names.iter().map(String::as_str))
            .compile(modules)
            .map_err(|errs| undefined_error(src, errs))?;
        Ok(JaqFilter { filter: Arc::new(filter), values: vec![Val::Null; vars.len()] })
    }

    /// Binds the `${NAME}` variables' values, in the order of `vars` given to `compile`.
    /// A value that is JSON (a number, `true`, a quoted string, ...) is bound as that value;
    /// anything else as a string.
    pub(crate) fn bind(&mut self, values: &[String]) {
        self.values = values
            .iter()
            .map(|v| match serde_json::from_str::<Value>(v) {
                Ok(json) => to_val(json),
                Err(_) => Val::from(v.clone()),
            })
            .collect();
    }

    fn ctx(&self) -> Ctx<'_, Data> {
        Ctx::<Data>::new(&self.filter.lut, Vars::new(self.values.iter().cloned()))
    }

    /// Runs the filter on `input` under `limits`, passing every output to `emit`.
    /// Stops at the first error (or `halt`, or a limit), which is returned.
    pub(crate) fn run(
        &self,
        input: Val,
        limits: &Limits,
        interrupt: Option<&Interrupt>,
        emit: &mut dyn FnMut(Val) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        Guarded::run(limits, interrupt, || {
            let mut outputs = 0u64;
            for out in self.filter.id.run((self.ctx(), input)) {
                match out {
                    Ok(v) => {
                        outputs += 1;
                        if outputs > limits.max_outputs {
                            return Err(EvalError(format!(
                                "expression gave more than {} outputs for one event (raise the node's max_outputs)",
                                limits.max_outputs
                            )));
                        }
                        emit(v)?
                    }
                    Err(exn) => return Err(exn_to_error(exn)),
                }
            }
            Ok(())
        })
    }

    /// Truthiness of the first output (`false` when there is none).
    pub(crate) fn test(&self, input: Val, limits: &Limits, interrupt: Option<&Interrupt>) -> Result<bool, EvalError> {
        Guarded::run(limits, interrupt, || match self.filter.id.run((self.ctx(), input)).next() {
            None => Ok(false),
            Some(Ok(v)) => Ok(!matches!(v, Val::Null | Val::Bool(false))),
            Some(Err(exn)) => Err(exn_to_error(exn)),
        })
    }

    /// Runs on a `serde_json` value and emits `serde_json` values.
    pub(crate) fn apply_json(
        &self,
        input: Value,
        limits: &Limits,
        interrupt: Option<&Interrupt>,
        emit: &mut dyn FnMut(Value),
    ) -> Result<(), EvalError> {
        self.run(to_val(input), limits, interrupt, &mut |v| {
            emit(from_val(v, limits)?);
            Ok(())
        })
    }
}

/// The text of the token a parse error found (the end of the source when there is none).
fn found_text<'s>(src: &'s str, found: Option<&Token<&'s str>>) -> &'s str {
    found.map_or(&src[src.len()..], |Token(s, _)| *s)
}

fn exn_to_error(exn: jaq_core::Exn<'_, Val>) -> EvalError {
    match exn.get_err() {
        Ok(e) => EvalError(jq_compat::error_text(e)),
        Err(exn) => match exn.get_halt() {
            Ok(code) => EvalError(format!("halt with exit code {code}")),
            Err(exn) => EvalError(format!("unexpected jaq control flow: {exn:?}")),
        },
    }
}

fn load_error(src: &str, errs: Vec<((), load::Error<&str>)>) -> CompileError {
    for ((), err) in errs {
        match err {
            load::Error::Lex(es) => {
                if let Some((expect, rest)) = es.into_iter().next() {
                    let what = match expect {
                        lex::Expect::Digit => "expected digit".to_string(),
                        lex::Expect::Ident => "expected identifier".to_string(),
                        lex::Expect::Delim(open) => format!("unclosed delimiter `{open}`"),
                        lex::Expect::Escape => "invalid string escape sequence".to_string(),
                        lex::Expect::Unicode => "invalid unicode escape sequence".to_string(),
                        _ => "unexpected token".to_string(),
                    };
                    return CompileError::at(format!("syntax error: {what}"), src, rest);
                }
            }
            load::Error::Parse(es) => {
                if let Some((expect, found)) = es.into_iter().next() {
                    let expected = expect_str(&expect);
                    let message = if found.is_empty() {
                        format!("syntax error: expected {expected}, found end of input")
                    } else {
                        format!("syntax error: expected {expected}, found `{found}`")
                    };
                    return CompileError::at(message, src, found);
                }
            }
            load::Error::Io(es) => {
                if let Some((path, msg)) = es.into_iter().next() {
                    return CompileError::at(format!("cannot load module {path}: {msg}"), src, path);
                }
            }
        }
    }
    CompileError { message: "cannot load expression".into(), column: None }
}

fn expect_str(e: &parse::Expect<&str>) -> String {
    e.as_str().to_string()
}

fn undefined_error(src: &str, errs: compile::Errors<&str, ()>) -> CompileError {
    for (_file, es) in errs {
        if let Some((name, undef)) = es.into_iter().next() {
            let arity = match undef {
                compile::Undefined::Filter(n) => format!("/{n}"),
                _ => String::new(),
            };
            let message = format!("undefined {} `{name}{arity}`", undef.as_str());
            return CompileError::at(message, src, name);
        }
    }
    CompileError { message: "cannot compile expression".into(), column: None }
}

/// Converts an owned `serde_json` value into a jaq value (strings are moved, not copied).
pub(crate) fn to_val(v: Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(b),
        Value::Number(n) => num_to_val(&n),
        Value::String(s) => Val::from(s),
        Value::Array(a) => a.into_iter().map(to_val).collect(),
        Value::Object(o) => {
            let mut m = jaq_json::Map::default();
            m.reserve(o.len());
            for (k, v) in o {
                m.insert(Val::from(k), to_val(v));
            }
            Val::obj(m)
        }
    }
}

/// Converts a borrowed `serde_json` value into a jaq value.
pub(crate) fn to_val_ref(v: &Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => num_to_val(n),
        Value::String(s) => Val::from(s.clone()),
        Value::Array(a) => a.iter().map(to_val_ref).collect(),
        Value::Object(o) => {
            let mut m = jaq_json::Map::default();
            m.reserve(o.len());
            for (k, v) in o {
                m.insert(Val::from(k.clone()), to_val_ref(v));
            }
            Val::obj(m)
        }
    }
}

fn num_to_val(n: &Number) -> Val {
    if let Some(i) = n.as_i64() {
        if i == i64::MIN {
            // `isize::MIN` as a machine integer makes jaq's `length` (abs) overflow: hold it
            // as a big integer.
            return Val::Num(Num::big_int(num_bigint::BigInt::from(i)));
        }
        Val::Num(Num::from_integral(i))
    } else if let Some(u) = n.as_u64() {
        Val::Num(Num::from_integral(u))
    } else {
        Val::from(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Converts a jaq value back into `serde_json`, refusing a value nested deeper than
/// `limits.max_depth` or bigger than `limits.max_result_bytes` (checked as it is built).
pub(crate) fn from_val(v: Val, limits: &Limits) -> Result<Value, EvalError> {
    let mut size = 0usize;
    from_val_at(v, 1, limits, &mut size)
}

fn from_val_at(v: Val, depth: u64, limits: &Limits, size: &mut usize) -> Result<Value, EvalError> {
    if depth > limits.max_depth {
        return Err(EvalError(format!(
            "result nested more than {} levels deep (raise the node's max_depth)",
            limits.max_depth
        )));
    }
    *size += 16;
    if let Val::TStr(b) | Val::BStr(b) = &v {
        *size += b.len();
    }
    if *size > limits.max_result_bytes {
        return Err(EvalError(format!("result larger than {} MiB", limits.max_result_bytes >> 20)));
    }
    Ok(match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(b),
        Val::Num(n) => num_from_jaq(&n),
        Val::TStr(b) | Val::BStr(b) => Value::String(bytes_to_string(&b)),
        Val::Arr(a) => {
            let a = jaq_json::Rc::try_unwrap(a).unwrap_or_else(|a| (*a).clone());
            let mut out = Vec::with_capacity(a.len());
            for v in a {
                out.push(from_val_at(v, depth + 1, limits, size)?);
            }
            Value::Array(out)
        }
        Val::Obj(o) => {
            let o = jaq_json::Rc::try_unwrap(o).unwrap_or_else(|o| (*o).clone());
            let mut m = Map::with_capacity(o.len());
            for (k, v) in o {
                let k = match k {
                    Val::TStr(b) | Val::BStr(b) => bytes_to_string(&b),
                    k => return Err(EvalError(format!("object key {k} is not a string"))),
                };
                *size += k.len();
                m.insert(k, from_val_at(v, depth + 1, limits, size)?);
            }
            Value::Object(m)
        }
    })
}

fn bytes_to_string(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

fn num_from_jaq(n: &Num) -> Value {
    match n {
        Num::Int(i) => Value::from(*i as i64),
        Num::Float(f) => float_value(*f),
        Num::Dec(s) => float_value(s.parse::<f64>().unwrap_or(f64::NAN)),
        Num::BigInt(_) => {
            let s = n.to_string();
            if let Ok(i) = s.parse::<i64>() {
                Value::from(i)
            } else if let Ok(u) = s.parse::<u64>() {
                Value::from(u)
            } else {
                float_value(s.parse::<f64>().unwrap_or(f64::NAN))
            }
        }
    }
}

/// `serde_json` cannot hold NaN or infinities: map them like jq prints them.
pub(crate) fn float_value(f: f64) -> Value {
    if f.is_nan() {
        Value::Null
    } else if f.is_infinite() {
        Value::from(if f > 0.0 { f64::MAX } else { f64::MIN })
    } else {
        Value::from(f)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A program compiled again is the one compiled before (other tests compile at the same
    /// time, so it may take a few tries to see it still kept); the kept ones stay few.
    #[test]
    fn a_program_compiled_again_is_the_one_kept_and_few_are_kept() {
        let src = ". + 20261207";
        let kept_again = (0..5).any(|_| {
            let first = JaqFilter::compile(src, &[]).unwrap();
            recently_compiled(src, &[]).is_some_and(|kept| Arc::ptr_eq(&kept, &first.filter))
        });
        assert!(kept_again);
        let other = JaqFilter::compile(". + 20261208", &[]).unwrap();
        assert!(recently_compiled(src, &["X".to_string()]).is_none(), "other variables, another program");
        assert!(recently_compiled(src, &[]).is_none_or(|kept| !Arc::ptr_eq(&kept, &other.filter)));
        for i in 0..2 * RECENTLY_COMPILED_KEPT {
            JaqFilter::compile(&format!(". + {i}"), &[]).unwrap();
        }
        assert!(RECENTLY_COMPILED.lock().unwrap().len() <= RECENTLY_COMPILED_KEPT);
    }
}
