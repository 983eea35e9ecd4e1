//! Rewrites a parsed program so that jaq counts its work and cannot build unbounded values:
//! - every definition body starts with `_tick` (so every call of a definition, and with it
//!   every recursion and every loop of the standard library, is a step);
//! - every `reduce`/`foreach` update starts with `_tick`;
//! - every output of `range` is followed by `_tick` (a native loop);
//! - `l * r` becomes `_mul(l; r)` and `l *= r` becomes `r as $x | l |= _mul(.; $x)`, whose
//!   native refuses a string repetition beyond the result budget and multiplies integers
//!   that overflow 64 bits as floats (as jq does) instead of growing big integers; left as
//!   they are when one side is a float literal (`.value *= 1.1`), which can do neither.
//!
//! The rewrite is applied to our program and to the standard library's definitions alike.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::ops::Math;
use jaq_core::path::Part;

/// Name of the step-counting native.
pub(crate) const TICK: &str = "_tick";

/// Rewrites a definition in place (see the module docs).
pub(crate) fn def(d: &mut Def<&str>) {
    term(&mut d.body);
    let body = std::mem::take(&mut d.body);
    d.body = pipe(Term::Call(TICK, Vec::new()), body);
}

/// Rewrites a term in place (see the module docs).
pub(crate) fn term(t: &mut Term<&str>) {
    match t {
        Term::Id | Term::Recurse | Term::Num(_) | Term::Break(_) | Term::Var(_) => {}
        Term::Str(_, parts) => {
            for p in parts {
                if let StrPart::Term(t) = p {
                    term(t);
                }
            }
        }
        Term::Arr(a) => {
            if let Some(a) = a {
                term(a);
            }
        }
        Term::Obj(kvs) => {
            for (k, v) in kvs {
                term(k);
                if let Some(v) = v {
                    term(v);
                }
            }
        }
        Term::Neg(t) => term(t),
        Term::BinOp(l, op, r) => {
            term(l);
            term(r);
            if let BinaryOp::Pipe(Some(p)) = op {
                pattern(p);
            }
            match op {
                // A float literal operand cannot repeat a string or grow a big integer.
                BinaryOp::Math(Math::Mul) | BinaryOp::UpdateMath(Math::Mul)
                    if is_float_literal(l) || is_float_literal(r) => {}
                BinaryOp::Math(Math::Mul) => {
                    let (l, r) = (std::mem::take(&mut **l), std::mem::take(&mut **r));
                    *t = Term::Call("_mul", vec![l, r]);
                }
                BinaryOp::UpdateMath(Math::Mul) => {
                    let (l, r) = (std::mem::take(&mut **l), std::mem::take(&mut **r));
                    let product = Term::Call("_mul", vec![Term::Id, Term::Var("$__mul_rhs")]);
                    let update = Term::BinOp(Box::new(l), BinaryOp::Update, Box::new(product));
                    *t = Term::BinOp(Box::new(r), BinaryOp::Pipe(Some(Pattern::Var("$__mul_rhs"))), Box::new(update));
                }
                _ => {}
            }
        }
        Term::Label(_, t) => term(t),
        Term::Fold(_, xs, p, args) => {
            term(xs);
            pattern(p);
            for a in args.iter_mut() {
                term(a);
            }
            if let Some(update) = args.get_mut(1) {
                let u = std::mem::take(update);
                *update = pipe(Term::Call(TICK, Vec::new()), u);
            }
        }
        Term::TryCatch(t, c) => {
            term(t);
            if let Some(c) = c {
                term(c);
            }
        }
        Term::IfThenElse(branches, otherwise) => {
            for (c, b) in branches {
                term(c);
                term(b);
            }
            if let Some(o) = otherwise {
                term(o);
            }
        }
        Term::Def(defs, t) => {
            defs.iter_mut().for_each(def);
            term(t);
        }
        Term::Call(name, args) => {
            args.iter_mut().for_each(term);
            if *name == "range" {
                let call = std::mem::take(t);
                *t = pipe(call, Term::Call(TICK, Vec::new()));
            }
        }
        Term::Path(t, path) => {
            term(t);
            for (part, _) in &mut path.0 {
                match part {
                    Part::Index(i) => term(i),
                    Part::Range(from, to) => {
                        if let Some(f) = from {
                            term(f);
                        }
                        if let Some(u) = to {
                            term(u);
                        }
                    }
                }
            }
        }
    }
}

/// `1.5`, `-2e3`: a number literal written with a fraction or an exponent.
fn is_float_literal(t: &Term<&str>) -> bool {
    match t {
        Term::Num(n) => n.contains(['.', 'e', 'E']),
        Term::Neg(t) => is_float_literal(t),
        _ => false,
    }
}

fn pattern(p: &mut Pattern<&str>) {
    match p {
        Pattern::Var(_) => {}
        Pattern::Arr(ps) => ps.iter_mut().for_each(pattern),
        Pattern::Obj(kps) => {
            for (k, p) in kps {
                term(k);
                pattern(p);
            }
        }
    }
}

fn pipe<'s>(l: Term<&'s str>, r: Term<&'s str>) -> Term<&'s str> {
    Term::BinOp(Box::new(l), BinaryOp::Pipe(None), Box::new(r))
}

/// Depth of a term's tree: the compiler and the evaluator recurse this deep.
pub(crate) fn depth(t: &Term<&str>) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(t, 1usize)];
    while let Some((t, d)) = stack.pop() {
        deepest = deepest.max(d);
        for_each_child(t, &mut |c| stack.push((c, d + 1)));
    }
    deepest
}

fn for_each_child<'a, 's>(t: &'a Term<&'s str>, f: &mut dyn FnMut(&'a Term<&'s str>)) {
    match t {
        Term::Id | Term::Recurse | Term::Num(_) | Term::Break(_) | Term::Var(_) => {}
        Term::Str(_, parts) => parts.iter().for_each(|p| {
            if let StrPart::Term(t) = p {
                f(t)
            }
        }),
        Term::Arr(a) => a.iter().for_each(|a| f(a)),
        Term::Obj(kvs) => kvs.iter().for_each(|(k, v)| {
            f(k);
            if let Some(v) = v {
                f(v)
            }
        }),
        Term::Neg(t) | Term::Label(_, t) => f(t),
        Term::BinOp(l, _, r) => {
            f(l);
            f(r)
        }
        Term::Fold(_, xs, _, args) => {
            f(xs);
            args.iter().for_each(&mut *f)
        }
        Term::TryCatch(t, c) => {
            f(t);
            c.iter().for_each(|c| f(c))
        }
        Term::IfThenElse(bs, o) => {
            bs.iter().for_each(|(c, b)| {
                f(c);
                f(b)
            });
            o.iter().for_each(|o| f(o))
        }
        Term::Def(defs, t) => {
            defs.iter().for_each(|d| f(&d.body));
            f(t)
        }
        Term::Call(_, args) => args.iter().for_each(&mut *f),
        Term::Path(t, path) => {
            f(t);
            for (part, _) in &path.0 {
                match part {
                    Part::Index(i) => f(i),
                    Part::Range(from, to) => {
                        from.iter().for_each(&mut *f);
                        to.iter().for_each(&mut *f)
                    }
                }
            }
        }
    }
}
