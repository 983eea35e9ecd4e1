//! Fallback backend: the expression compiled and run by jaq.
//!
//! Values are converted from `serde_json::Value` to `jaq_json::Val` and back.
//! Number conversion rules (shared with the native path, which must match them):
//! - jaq integers (machine-size or big) become JSON integers when they fit `i64`/`u64`,
//!   otherwise the nearest `f64`;
//! - jaq floats and decimal literals become `f64`; NaN becomes `null` and ±infinity
//!   becomes ±`f64::MAX` (what jq prints for them).

use jaq_core::load::{Arena, File, Loader, lex, parse};
use jaq_core::{Compiler, Ctx, Vars, compile, data, load};
use jaq_json::{Num, Val};
use serde_json::{Map, Number, Value};

use super::error::{CompileError, EvalError};
use super::jq_compat;

type Data = data::JustLut<Val>;

/// A jq program compiled by jaq, with the standard library.
pub(crate) struct JaqFilter {
    filter: jaq_core::Filter<Data>,
}

impl JaqFilter {
    /// Parses and compiles `src` with jaq's core, std and json definitions.
    pub(crate) fn compile(src: &str) -> Result<Self, CompileError> {
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs()).chain(jq_compat::defs());
        let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs()).chain(jq_compat::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader.load(&arena, File { code: src, path: () }).map_err(|errs| load_error(src, errs))?;
        let filter = Compiler::default().with_funs(funs).compile(modules).map_err(|errs| undefined_error(src, errs))?;
        Ok(JaqFilter { filter })
    }

    /// Runs the filter on `input`, passing every output to `emit`.
    /// Stops at the first error (or `halt`), which is returned.
    pub(crate) fn run(&self, input: Val, emit: &mut dyn FnMut(Val) -> Result<(), EvalError>) -> Result<(), EvalError> {
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        for out in self.filter.id.run((ctx, input)) {
            match out {
                Ok(v) => emit(v)?,
                Err(exn) => return Err(exn_to_error(exn)),
            }
        }
        Ok(())
    }

    /// Truthiness of the first output (`false` when there is none).
    pub(crate) fn test(&self, input: Val) -> Result<bool, EvalError> {
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        match self.filter.id.run((ctx, input)).next() {
            None => Ok(false),
            Some(Ok(v)) => Ok(!matches!(v, Val::Null | Val::Bool(false))),
            Some(Err(exn)) => Err(exn_to_error(exn)),
        }
    }

    /// Runs on a `serde_json` value and emits `serde_json` values.
    pub(crate) fn apply_json(&self, input: Value, emit: &mut dyn FnMut(Value)) -> Result<(), EvalError> {
        self.run(to_val(input), &mut |v| {
            emit(from_val(v)?);
            Ok(())
        })
    }
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

fn load_error(src: &str, errs: load::Errors<&str, ()>) -> CompileError {
    for (_file, err) in errs {
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
        Val::Num(Num::from_integral(i))
    } else if let Some(u) = n.as_u64() {
        Val::Num(Num::from_integral(u))
    } else {
        Val::from(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Converts a jaq value back into `serde_json`.
pub(crate) fn from_val(v: Val) -> Result<Value, EvalError> {
    Ok(match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(b),
        Val::Num(n) => num_from_jaq(&n),
        Val::TStr(b) | Val::BStr(b) => Value::String(bytes_to_string(&b)),
        Val::Arr(a) => {
            let a = jaq_json::Rc::try_unwrap(a).unwrap_or_else(|a| (*a).clone());
            Value::Array(a.into_iter().map(from_val).collect::<Result<_, _>>()?)
        }
        Val::Obj(o) => {
            let o = jaq_json::Rc::try_unwrap(o).unwrap_or_else(|o| (*o).clone());
            let mut m = Map::with_capacity(o.len());
            for (k, v) in o {
                let k = match k {
                    Val::TStr(b) | Val::BStr(b) => bytes_to_string(&b),
                    k => return Err(EvalError(format!("object key {k} is not a string"))),
                };
                m.insert(k, from_val(v)?);
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
