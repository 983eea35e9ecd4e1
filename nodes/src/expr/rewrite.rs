//! Rewrites a parsed program so that jaq counts its work and cannot build unbounded values:
//! - every definition body starts with `_tick` (so every call of a definition, and with it
//!   every recursion and every loop of the standard library, is a step);
//! - every `reduce`/`foreach` update starts with `_tick`;
//! - every output of `range` is followed by `_tick` (a native loop);
//! - `l * r` becomes `_mul(l; r)`, whose native refuses a string repetition beyond the result
//!   budget (and repeats by jq 1.8's rules) and multiplies integers that overflow 64 bits as
//!   floats (as jq does) instead of growing big integers.
//!
//! And for jq's semantics where jaq's core differs (jq.test is the judge):
//! - `l = r`, `l |= f`, `l op= r`, `l //= r` become jq's own definitions (`_assign`, `_modify`
//!   over `path(l)` with `setpath`), which create missing objects and pad arrays;
//! - `-x` becomes `x | _jq_neg`, `l / r` becomes `_div(l; r)` (unless the divisor is a
//!   non-zero literal) and `l % r` becomes `_mod(l; r)`: jq's division by zero errors,
//!   remainder on truncated integers, and messages;
//! - every `catch` handler starts with `_jq_error_msg`, so a message of jaq's core reaches it
//!   in jq's words.
//!
//! The rewrite is applied to our program and to the standard library's definitions alike.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::ops::Math;
use jaq_core::path::Part;

/// Name of the step-counting native.
pub(crate) const TICK: &str = "_tick";

/// What a rewrite does: the budget's ticks and guards always; jq's semantics only for the
/// node's own program (the libraries are written for jaq's: `def nan: 0 / 0;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// jaq's and our libraries: ticks and guards.
    Library,
    /// The node's program: ticks, guards and jq's semantics.
    Program,
}

/// Rewrites a definition in place (see the module docs).
pub(crate) fn def(d: &mut Def<&str>, mode: Mode) {
    term_in(&mut d.body, mode);
    let body = std::mem::take(&mut d.body);
    d.body = pipe(Term::Call(TICK, Vec::new()), body);
}

/// Rewrites the node's program in place (see the module docs).
pub(crate) fn term(t: &mut Term<&str>) {
    term_in(t, Mode::Program);
}

fn term_in(t: &mut Term<&str>, mode: Mode) {
    let jq = mode == Mode::Program;
    let term = |t: &mut Term<&str>| term_in(t, mode);
    let pattern = |p: &mut Pattern<&str>| pattern_in(p, mode);
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
        Term::Neg(inner) => {
            term(inner);
            if jq && !matches!(**inner, Term::Num(_)) {
                let inner = std::mem::take(&mut **inner);
                *t = pipe(inner, Term::Call("_jq_neg", Vec::new()));
            }
        }
        Term::BinOp(l, op, r) => {
            term(l);
            term(r);
            if let BinaryOp::Pipe(Some(p)) = op {
                pattern(p);
            }
            let rewritten = match op {
                BinaryOp::Math(m) => math(l, *m, r, mode),
                _ if !jq => None,
                BinaryOp::Assign => {
                    let (l, r) = (std::mem::take(&mut **l), std::mem::take(&mut **r));
                    Some(Term::Call("_assign", vec![l, r]))
                }
                BinaryOp::Update => {
                    let (l, r) = (std::mem::take(&mut **l), std::mem::take(&mut **r));
                    Some(modify(l, r))
                }
                BinaryOp::UpdateMath(m) => {
                    // `l op= r` is `r as $x | l |= . op $x` (jq's definition)
                    let (mut id, mut x) = (Box::new(Term::Id), Box::new(Term::Var(UPDATE_RHS)));
                    let update = math(&mut id, *m, &mut x, mode).unwrap_or(Term::BinOp(id, BinaryOp::Math(*m), x));
                    Some(bind_rhs(l, r, update))
                }
                BinaryOp::UpdateAlt => {
                    let alt = Term::BinOp(Box::new(Term::Id), BinaryOp::Alt, Box::new(Term::Var(UPDATE_RHS)));
                    Some(bind_rhs(l, r, alt))
                }
                _ => None,
            };
            if let Some(new) = rewritten {
                *t = new;
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
            if let Some(c) = c.as_mut().filter(|_| jq) {
                term(c);
                // A message of jaq's core reaches the handler in jq's words.
                let handler = std::mem::take(&mut **c);
                **c = pipe(Term::Call("_jq_error_msg", Vec::new()), handler);
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
            defs.iter_mut().for_each(|d| def(d, mode));
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
                    Part::Index(i) => {
                        term(i);
                        if jq {
                            normalize(i, "_jq_index");
                        }
                    }
                    Part::Range(from, to) => {
                        if let Some(f) = from {
                            term(f);
                            if jq {
                                normalize(f, "_jq_slice_start");
                            }
                        }
                        if let Some(u) = to {
                            term(u);
                            if jq {
                                normalize(u, "_jq_slice_end");
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Pipes an index or slice bound through `native` (jq's truncation of fractions), unless it
/// is a literal string or integer, which needs none.
fn normalize(t: &mut Term<&str>, native: &'static str) {
    let literal = match t {
        Term::Str(..) => true,
        Term::Num(n) => !n.contains(['.', 'e', 'E']),
        _ => false,
    };
    if !literal {
        let index = std::mem::take(t);
        *t = pipe(index, Term::Call(native, Vec::new()));
    }
}

/// The variable `l op= r` binds the right-hand side to.
const UPDATE_RHS: &str = "$__update_rhs";

/// The variable an update binds its input to, for the fallback.
const UPDATE_INPUT: &str = "$__update_input";

/// `l |= f`: jaq's own update, which is fast and agrees with jq wherever it succeeds; where it
/// fails (a missing parent, an index past the end), jq's `_modify` over `setpath`:
/// `. as $in | try (l |= f) catch ($in | _modify(l; f))`.
fn modify<'s>(l: Term<&'s str>, f: Term<&'s str>) -> Term<&'s str> {
    let fast = Term::BinOp(Box::new(l.clone()), BinaryOp::Update, Box::new(f.clone()));
    let slow = pipe(Term::Var(UPDATE_INPUT), Term::Call("_modify", vec![l, f]));
    let attempt = Term::TryCatch(Box::new(fast), Some(Box::new(slow)));
    Term::BinOp(Box::new(Term::Id), BinaryOp::Pipe(Some(Pattern::Var(UPDATE_INPUT))), Box::new(attempt))
}

/// `r as $x | l |= update` (see [`modify`]), taking `l` and `r` out of their boxes.
fn bind_rhs<'s>(l: &mut Term<&'s str>, r: &mut Term<&'s str>, update: Term<&'s str>) -> Term<&'s str> {
    let (l, r) = (std::mem::take(l), std::mem::take(r));
    let modify = modify(l, update);
    Term::BinOp(Box::new(r), BinaryOp::Pipe(Some(Pattern::Var(UPDATE_RHS))), Box::new(modify))
}

/// The rewrite of `l m r`, if it has one: `*` through `_mul`, `/` through `_div` (unless the divisor is a non-zero number literal), `%` through
/// `_mod`.
fn math<'s>(l: &mut Term<&'s str>, m: Math, r: &mut Term<&'s str>, mode: Mode) -> Option<Term<&'s str>> {
    let name = match m {
        Math::Mul => "_mul",
        _ if mode == Mode::Library => return None,
        Math::Div if is_nonzero_literal(r) => return None,
        Math::Div => "_div",
        Math::Rem => "_mod",
        _ => return None,
    };
    Some(Term::Call(name, vec![std::mem::take(l), std::mem::take(r)]))
}

/// A number literal other than zero (`1000`, `-2.5`).
fn is_nonzero_literal(t: &Term<&str>) -> bool {
    match t {
        Term::Num(n) => n.parse::<f64>().is_ok_and(|f| f != 0.0),
        Term::Neg(t) => is_nonzero_literal(t),
        _ => false,
    }
}

fn pattern_in(p: &mut Pattern<&str>, mode: Mode) {
    match p {
        Pattern::Var(_) => {}
        Pattern::Arr(ps) => ps.iter_mut().for_each(|p| pattern_in(p, mode)),
        Pattern::Obj(kps) => {
            for (k, p) in kps {
                term_in(k, mode);
                pattern_in(p, mode);
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
