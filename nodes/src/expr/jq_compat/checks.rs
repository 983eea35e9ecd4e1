//! Compile-time checks that jq makes and jaq does not: constant object keys (in object
//! construction and in destructuring patterns) must be strings, and module metadata must
//! be a constant object.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::path::Part;

/// A problem found: jq's message and the source slice it is about.
pub(crate) type Problem<'s> = (String, &'s str);

/// jq type name of a constant term, if it is a constant that is not a string.
fn const_non_string<'s>(t: &Term<&'s str>) -> Option<(&'static str, &'s str)> {
    match t {
        Term::Num(s) => Some(("number", s)),
        Term::Neg(n) => match &**n {
            Term::Num(s) => Some(("number", s)),
            _ => None,
        },
        Term::Call(name @ ("true" | "false"), args) if args.is_empty() => Some(("boolean", name)),
        Term::Call(name @ "null", args) if args.is_empty() => Some(("null", name)),
        _ => None,
    }
}

fn key<'s>(k: &Term<&'s str>) -> Result<(), Problem<'s>> {
    match const_non_string(k) {
        Some((typ, s)) => Err((format!("Cannot use {typ} ({s}) as object key"), s)),
        None => Ok(()),
    }
}

fn pattern<'s>(p: &Pattern<&'s str>) -> Result<(), Problem<'s>> {
    match p {
        Pattern::Var(_) => Ok(()),
        Pattern::Arr(ps) => ps.iter().try_for_each(pattern),
        Pattern::Obj(kvs) => kvs.iter().try_for_each(|(k, p)| {
            key(k)?;
            term(k)?;
            pattern(p)
        }),
    }
}

/// Walks a parsed program for what jq refuses at compile time.
pub(crate) fn term<'s>(t: &Term<&'s str>) -> Result<(), Problem<'s>> {
    match t {
        Term::Id | Term::Recurse | Term::Num(_) | Term::Break(_) | Term::Var(_) => Ok(()),
        Term::Str(_, parts) => parts.iter().try_for_each(|p| match p {
            StrPart::Term(t) => term(t),
            _ => Ok(()),
        }),
        Term::Arr(t) => t.as_deref().map_or(Ok(()), term),
        Term::Obj(kvs) => kvs.iter().try_for_each(|(k, v)| {
            key(k)?;
            term(k)?;
            v.as_ref().map_or(Ok(()), term)
        }),
        Term::Neg(t) | Term::Label(_, t) => term(t),
        Term::BinOp(l, op, r) => {
            if let BinaryOp::Pipe(Some(p)) = op {
                pattern(p)?;
            }
            term(l)?;
            term(r)
        }
        Term::Fold(_, xs, p, args) => {
            term(xs)?;
            pattern(p)?;
            args.iter().try_for_each(term)
        }
        Term::TryCatch(t, c) => {
            term(t)?;
            c.as_deref().map_or(Ok(()), term)
        }
        Term::IfThenElse(branches, e) => {
            branches.iter().try_for_each(|(c, t)| term(c).and_then(|()| term(t)))?;
            e.as_deref().map_or(Ok(()), term)
        }
        Term::Def(defs, t) => {
            defs.iter().try_for_each(|d| term(&d.body))?;
            term(t)
        }
        Term::Call(_, args) => args.iter().try_for_each(term),
        Term::Path(t, path) => {
            term(t)?;
            path.0.iter().try_for_each(|(part, _)| match part {
                Part::Index(i) => term(i),
                Part::Range(a, b) => {
                    a.as_ref().map_or(Ok(()), term)?;
                    b.as_ref().map_or(Ok(()), term)
                }
            })
        }
    }
}

/// jq accepts only a constant object after `module`; jaq's parser takes any term.
pub(crate) fn module_header(src: &str) -> Result<(), Problem<'_>> {
    let t = src.trim_start();
    let Some(rest) = t.strip_prefix("module") else { return Ok(()) };
    if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(());
    }
    let meta = rest.trim_start();
    if meta.starts_with('{') { Ok(()) } else { Err(("Module metadata must be constant".into(), meta)) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jaq_core::load::{Lexer, Parser};

    fn check(src: &str) -> Result<(), String> {
        module_header(src).map_err(|(m, _)| m)?;
        let tokens = Lexer::new(src).lex().unwrap();
        let t = Parser::new(&tokens).parse(|p| p.term()).unwrap();
        term(&t).map_err(|(m, _)| m)
    }

    #[test]
    fn constant_keys_must_be_strings() {
        assert_eq!(check("{(0):1}").unwrap_err(), "Cannot use number (0) as object key");
        assert!(check("{non_const:., (0):1}").is_err());
        assert!(check(". as {(true):$foo} | $foo").is_err());
        assert!(check("{(.a):1, \"b\":2, c:3, (\"d\"):4}").is_ok());
        assert!(check("def f: {(null):1}; f").is_err());
    }

    #[test]
    fn module_metadata_must_be_an_object() {
        assert!(module_header("module (.+1); 0").is_err());
        assert!(module_header("module []; 0").is_err());
        assert!(module_header("module {a: 1}; 0").is_ok());
        assert!(module_header("modulemeta").is_ok());
    }
}
