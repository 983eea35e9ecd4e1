//! Native compiler for the common jq subset.
//!
//! jaq's parsed AST ([`Term`]) is lowered into a tree of [`Node`]s whose names, literals
//! and object keys are resolved once; evaluation then runs directly on
//! `serde_json::Value` without converting to jaq's value type. Anything outside the
//! subset makes [`compile`] return `None`, and the whole expression runs through jaq.
//!
//! Evaluation has three entry points:
//! - [`Node::one`]: nodes statically known to produce exactly one output (or an error),
//!   evaluated by reference and returning `Cow` so paths and literals are not cloned;
//! - [`Node::many`]: general streaming evaluation by reference;
//! - [`Node::run_owned`]: evaluation on an owned input, which lets updates
//!   (`.a = 1`, `.v *= 1.1`, `del(.a)`) mutate the record in place.
//!
//! When native semantics cannot reproduce jaq exactly for a given record (big integer
//! overflow, NaN/infinity, unusual `tonumber` input, ...), evaluation fails with
//! [`Fail::Jaq`] and the caller re-runs that record through jaq. Nodes are flagged at
//! compile time so that this can only happen before the owned input was consumed.

use std::borrow::Cow;
use std::collections::BTreeSet;

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Term};
use jaq_core::ops::{Cmp, Math};
use jaq_core::path::{Opt, Part};
use serde_json::{Map, Value};
use streamloom_runtime::pushdown::{ProjectedRecord, RawField};

use super::jq_compat::delpaths;
use super::value::{self as ops, CmpOp, Fail, MathOp, R, err, truthy};
use crate::field_lookup::{field, field_mut, same_bytes};

static NULL: Value = Value::Null;

/// What [`Node::quick_test`] reads paths from: a whole record, or some of its top-level fields.
trait QuickRoot<'a>: Copy {
    /// The value at a path of plain names (`null` where an object lacks a name), or `None`
    /// when the path meets something else.
    fn path(self, parts: &[PathPart]) -> Option<&'a Value>;
}

/// One step of a path of plain names.
fn plain_step<'a>(cur: &'a Value, part: &PathPart) -> Option<&'a Value> {
    match (&part.step, cur) {
        (Step::Index(Key::Str(k)), Value::Object(o)) if !part.optional => Some(field(o, k).unwrap_or(&NULL)),
        (Step::Index(Key::Str(_)), Value::Null) if !part.optional => Some(&NULL),
        _ => None,
    }
}

impl<'a> QuickRoot<'a> for &'a Value {
    fn path(self, parts: &[PathPart]) -> Option<&'a Value> {
        parts.iter().try_fold(self, plain_step)
    }
}

impl<'a> QuickRoot<'a> for ProjectedRecord<'a> {
    fn path(self, parts: &[PathPart]) -> Option<&'a Value> {
        let (first, rest) = parts.split_first()?;
        let top = match &first.step {
            Step::Index(Key::Str(k)) if !first.optional => self.get(k)?.unwrap_or(&NULL),
            _ => return None,
        };
        rest.iter().try_fold(top, plain_step)
    }
}

/// Literal index of a path step: `.a`, `.["a"]`, `.[0]`, `.[-1]`.
#[derive(Debug, Clone)]
enum Key {
    Str(String),
    Int(i64),
}

#[derive(Debug)]
enum Step {
    Index(Key),
    Iter,
}

#[derive(Debug)]
struct PathPart {
    step: Step,
    optional: bool,
}

/// An updatable path: only literal indices.
type UPath = Vec<(Key, bool)>;

#[derive(Debug)]
enum Leaf {
    /// `p = rhs`
    Assign(Node),
    /// `p |= f`
    Modify(Node),
    /// `p op= rhs`
    Math(MathOp, Node),
    /// `p //= rhs`
    Alt(Node),
}

/// An object construction with few, distinct keys, made once: each evaluation copies
/// `keys` (values `null`) and sets the values by position, in the keys' sorted order, with
/// no key looked up or compared. `slots[i]` is the position of the i-th written key.
#[derive(Debug)]
struct ObjShape {
    keys: Map<String, Value>,
    slots: Vec<usize>,
}

impl ObjShape {
    /// Objects of at most this many keys (one B-tree leaf) take a shape.
    const MAX_KEYS: usize = 11;

    fn new(keys: &[&str]) -> Option<ObjShape> {
        let sorted: BTreeSet<&str> = keys.iter().copied().collect();
        if sorted.len() != keys.len() || keys.len() > Self::MAX_KEYS {
            return None;
        }
        let slots = keys.iter().map(|k| sorted.iter().position(|s| s == k)).collect::<Option<_>>()?;
        Some(ObjShape { keys: sorted.iter().map(|k| (k.to_string(), Value::Null)).collect(), slots })
    }
}

#[derive(Debug)]
enum Kind {
    Id,
    Lit(Value),
    Path(Vec<PathPart>),
    Pipe(Box<Node>, Box<Node>),
    Comma(Box<Node>, Box<Node>),
    Neg(Box<Node>),
    Math(Box<Node>, MathOp, Box<Node>),
    Cmp(Box<Node>, CmpOp, Box<Node>),
    /// `and` (stop on `false`) / `or` (stop on `true`)
    Logic(Box<Node>, bool, Box<Node>),
    Alt(Box<Node>, Box<Node>),
    If(Box<Node>, Box<Node>, Box<Node>),
    Empty,
    Not,
    Length,
    ToString,
    ToNumber,
    Type,
    Ascii {
        upper: bool,
    },
    Has(Box<Node>),
    Affix {
        arg: Box<Node>,
        prefix: bool,
    },
    Contains(Box<Node>),
    Select(Box<Node>),
    Arr(Box<Node>),
    /// `{k: v, …}`, and the object's shape when it can be made once (see [`ObjShape`]).
    Obj(Vec<(String, Node)>, Option<ObjShape>),
    Update(UPath, Box<Leaf>),
    Del(Vec<UPath>),
}

/// A compiled native node with its static properties.
#[derive(Debug)]
pub(crate) struct Node {
    kind: Kind,
    /// exactly one output or an error
    single: bool,
    /// may fail with [`Fail::Jaq`]
    may_jaq: bool,
    /// `run_owned` can only fail with `Fail::Jaq` before consuming the input,
    /// and then hands the input back
    owned_safe: bool,
}

/// Result of [`Node::run_owned`]: on `Fail::Jaq`, the untouched input when available.
pub(crate) type OwnedResult = Result<(), (Fail, Option<Value>)>;

impl Node {
    fn new(kind: Kind) -> Node {
        let (single, may_jaq) = props(&kind);
        let owned_safe = !may_jaq
            || single
            || match &kind {
                Kind::Update(..) | Kind::Del(_) | Kind::Select(_) => true,
                Kind::If(c, t, e) => c.single && t.owned_safe && e.owned_safe,
                Kind::Pipe(l, r) => l.owned_safe && !r.may_jaq,
                _ => false,
            };
        Node { kind, single, may_jaq, owned_safe }
    }

    pub(crate) fn is_identity(&self) -> bool {
        matches!(self.kind, Kind::Id)
    }

    /// Adds to `out` the top-level fields of its input this node reads, and says whether it
    /// reads nothing else: then its outputs and failures on an object depend only on those
    /// fields (present or absent, and their values). False when it may use its input as a whole
    /// (`.`, `select`, `length`, `has`, updates, ...) or index it by anything but a literal name.
    pub(crate) fn reads_only_fields(&self, out: &mut BTreeSet<String>) -> bool {
        match &self.kind {
            Kind::Lit(_) | Kind::Empty => true,
            Kind::Path(parts) => match parts.first() {
                Some(PathPart { step: Step::Index(Key::Str(k)), .. }) => {
                    out.insert(k.clone());
                    true
                }
                _ => false,
            },
            // The right side only sees what the left side made of the fields.
            Kind::Pipe(l, _) => l.reads_only_fields(out),
            Kind::Comma(l, r) | Kind::Math(l, _, r) | Kind::Cmp(l, _, r) | Kind::Logic(l, _, r) | Kind::Alt(l, r) => {
                l.reads_only_fields(out) && r.reads_only_fields(out)
            }
            Kind::Neg(x) | Kind::Arr(x) => x.reads_only_fields(out),
            Kind::If(c, t, e) => c.reads_only_fields(out) && t.reads_only_fields(out) && e.reads_only_fields(out),
            Kind::Obj(kvs, _) => kvs.iter().all(|(_, v)| v.reads_only_fields(out)),
            Kind::Id
            | Kind::Not
            | Kind::Length
            | Kind::ToString
            | Kind::ToNumber
            | Kind::Type
            | Kind::Ascii { .. }
            | Kind::Has(_)
            | Kind::Affix { .. }
            | Kind::Contains(_)
            | Kind::Select(_)
            | Kind::Update(..)
            | Kind::Del(_) => false,
        }
    }

    pub(crate) fn owned_safe(&self) -> bool {
        self.owned_safe
    }

    /// True when [`Node::run_owned`] hands the input back untouched on every failure (one
    /// update of one path checks before it writes), so a caller needs no copy to report the
    /// event that failed.
    pub(crate) fn fails_untouched(&self) -> bool {
        match &self.kind {
            Kind::Id | Kind::Update(..) => true,
            Kind::Del(paths) => paths.len() == 1,
            // These arms of `run_owned` consume the input or stream from it.
            Kind::Path(_) | Kind::Select(_) => false,
            Kind::Pipe(l, r) if l.owned_safe && !r.may_jaq => false,
            // The condition only reads the input; a branch hands it back if it does.
            Kind::If(c, t, e) if c.single && t.owned_safe && e.owned_safe => t.fails_untouched() && e.fails_untouched(),
            // `run_owned` evaluates a single-output node on a borrowed input.
            _ => self.single,
        }
    }
}

fn props(kind: &Kind) -> (bool, bool) {
    match kind {
        Kind::Id | Kind::Lit(_) | Kind::Not | Kind::Type => (true, false),
        Kind::Path(parts) => (parts.iter().all(|p| !p.optional && matches!(p.step, Step::Index(_))), false),
        Kind::Pipe(l, r) | Kind::Alt(l, r) => (l.single && r.single, l.may_jaq || r.may_jaq),
        Kind::Comma(l, r) => (false, l.may_jaq || r.may_jaq),
        Kind::Neg(_) | Kind::Math(..) | Kind::Length | Kind::ToString | Kind::ToNumber => (true, true),
        Kind::Has(_) => (true, true),
        Kind::Cmp(l, _, r) | Kind::Logic(l, _, r) => (true, l.may_jaq || r.may_jaq),
        Kind::If(c, t, e) => (c.single && t.single && e.single, c.may_jaq || t.may_jaq || e.may_jaq),
        Kind::Empty => (false, false),
        Kind::Ascii { .. } => (true, false),
        Kind::Affix { arg, .. } | Kind::Contains(arg) => (true, arg.may_jaq),
        Kind::Select(c) => (false, c.may_jaq),
        Kind::Arr(t) => (true, t.may_jaq),
        Kind::Obj(kvs, _) => (true, kvs.iter().any(|(_, v)| v.may_jaq)),
        Kind::Update(path, leaf) => {
            let int_key = path.iter().any(|(k, _)| matches!(k, Key::Int(_)));
            let leaf_jaq = match &**leaf {
                Leaf::Assign(n) | Leaf::Modify(n) | Leaf::Alt(n) => n.may_jaq,
                Leaf::Math(..) => true,
            };
            (true, int_key || leaf_jaq)
        }
        // unusual containers (e.g. a number key on an object) are left to jaq
        Kind::Del(_) => (true, true),
    }
}

// ---------------------------------------------------------------------------
// Compilation from jaq's AST
// ---------------------------------------------------------------------------

/// Compiles a parsed jq term, or returns `None` when it is outside the native subset.
pub(crate) fn compile(t: &Term<&str>) -> Option<Node> {
    let b = |t: &Term<&str>| compile(t).map(Box::new);
    let single = |t: &Term<&str>| compile(t).filter(|n| n.single).map(Box::new);
    let kind = match t {
        Term::Id => Kind::Id,
        Term::Num(s) => Kind::Lit(num_lit(s)?),
        Term::Str(None, parts) => Kind::Lit(Value::String(str_lit(parts)?)),
        Term::Arr(None) => Kind::Lit(Value::Array(Vec::new())),
        Term::Arr(Some(t)) => Kind::Arr(b(t)?),
        Term::Obj(kvs) => {
            let mut out = Vec::with_capacity(kvs.len());
            for (k, v) in kvs {
                let key = match k {
                    Term::Str(None, parts) => str_lit(parts)?,
                    _ => return None,
                };
                let val = match v {
                    Some(v) => compile(v).filter(|n| n.single)?,
                    None => Node::new(Kind::Path(vec![PathPart {
                        step: Step::Index(Key::Str(key.clone())),
                        optional: false,
                    }])),
                };
                out.push((key, val));
            }
            let shape = ObjShape::new(&out.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>());
            Kind::Obj(out, shape)
        }
        Term::Neg(t) => {
            let n = single(t)?;
            match &n.kind {
                // fold `-1`, `-1.5` into literals, as jaq's number type does
                Kind::Lit(v @ Value::Number(_)) => Kind::Lit(ops::neg(v).ok()?),
                _ => Kind::Neg(n),
            }
        }
        Term::BinOp(l, op, r) => match op {
            BinaryOp::Pipe(None) => Kind::Pipe(b(l)?, b(r)?),
            BinaryOp::Pipe(Some(_)) => return None,
            BinaryOp::Comma => Kind::Comma(b(l)?, b(r)?),
            BinaryOp::Alt => Kind::Alt(b(l)?, b(r)?),
            BinaryOp::Or => Kind::Logic(single(l)?, true, single(r)?),
            BinaryOp::And => Kind::Logic(single(l)?, false, single(r)?),
            BinaryOp::Math(m) => Kind::Math(single(l)?, math_op(m), single(r)?),
            BinaryOp::Cmp(c) => Kind::Cmp(single(l)?, cmp_op(c), single(r)?),
            BinaryOp::Assign => Kind::Update(upath(l)?, Box::new(Leaf::Assign(*single(r)?))),
            BinaryOp::Update => Kind::Update(upath(l)?, Box::new(Leaf::Modify(compile(r)?))),
            BinaryOp::UpdateMath(m) => Kind::Update(upath(l)?, Box::new(Leaf::Math(math_op(m), *single(r)?))),
            BinaryOp::UpdateAlt => Kind::Update(upath(l)?, Box::new(Leaf::Alt(*single(r)?))),
        },
        Term::Path(base, path) => {
            let mut parts = Vec::with_capacity(path.0.len());
            for (part, opt) in &path.0 {
                let step = match part {
                    Part::Index(i) => Step::Index(key(i)?),
                    Part::Range(None, None) => Step::Iter,
                    Part::Range(..) => return None,
                };
                let optional = matches!(opt, Opt::Optional);
                parts.push(PathPart { step, optional });
            }
            let path = Node::new(Kind::Path(parts));
            match &**base {
                Term::Id => return Some(path),
                base => Kind::Pipe(b(base)?, Box::new(path)),
            }
        }
        Term::IfThenElse(if_thens, else_) => {
            let mut acc = match else_ {
                Some(e) => compile(e)?,
                None => Node::new(Kind::Id),
            };
            for (c, t) in if_thens.iter().rev() {
                acc = Node::new(Kind::If(b(c)?, b(t)?, Box::new(acc)));
            }
            return Some(acc);
        }
        Term::Call(name, args) => call(name, args)?,
        _ => return None,
    };
    Some(Node::new(kind))
}

fn call(name: &str, args: &[Term<&str>]) -> Option<Kind> {
    let single = |t: &Term<&str>| compile(t).filter(|n| n.single).map(Box::new);
    Some(match (name, args) {
        ("true", []) => Kind::Lit(Value::Bool(true)),
        ("false", []) => Kind::Lit(Value::Bool(false)),
        ("null", []) => Kind::Lit(Value::Null),
        ("empty", []) => Kind::Empty,
        ("not", []) => Kind::Not,
        ("length", []) => Kind::Length,
        ("tostring", []) => Kind::ToString,
        ("tonumber", []) => Kind::ToNumber,
        ("type", []) => Kind::Type,
        ("ascii_downcase", []) => Kind::Ascii { upper: false },
        ("ascii_upcase", []) => Kind::Ascii { upper: true },
        ("select", [f]) => Kind::Select(Box::new(compile(f)?)),
        ("has", [k]) => Kind::Has(single(k)?),
        ("contains", [x]) => Kind::Contains(single(x)?),
        ("startswith", [s]) => Kind::Affix { arg: single(s)?, prefix: true },
        ("endswith", [s]) => Kind::Affix { arg: single(s)?, prefix: false },
        ("del", [f]) => {
            let mut paths = Vec::new();
            del_paths(f, &mut paths)?;
            Kind::Del(paths)
        }
        _ => return None,
    })
}

fn del_paths(t: &Term<&str>, out: &mut Vec<UPath>) -> Option<()> {
    match t {
        Term::BinOp(l, BinaryOp::Comma, r) => {
            del_paths(l, out)?;
            del_paths(r, out)
        }
        t => {
            out.push(upath(t)?);
            Some(())
        }
    }
}

/// A path of literal indices on `.`, usable on the left of `=`, `|=`, `+=`, ...
fn upath(t: &Term<&str>) -> Option<UPath> {
    let Term::Path(base, path) = t else {
        return None;
    };
    if !matches!(**base, Term::Id) {
        return None;
    }
    path.0
        .iter()
        .map(|(part, opt)| match part {
            // `?` in an updated path: jq still creates what is missing; jaq decides.
            Part::Index(_) if matches!(opt, Opt::Optional) => None,
            Part::Index(i) => Some((key(i)?, false)),
            Part::Range(..) => None,
        })
        .collect()
}

fn key(t: &Term<&str>) -> Option<Key> {
    match t {
        Term::Str(None, parts) => Some(Key::Str(str_lit(parts)?)),
        Term::Num(s) => s.parse::<i64>().ok().map(Key::Int),
        Term::Neg(n) => match &**n {
            Term::Num(s) => s.parse::<i64>().ok().map(|i| Key::Int(-i)),
            _ => None,
        },
        _ => None,
    }
}

fn str_lit(parts: &[StrPart<&str, Term<&str>>]) -> Option<String> {
    let mut s = String::new();
    for p in parts {
        match p {
            StrPart::Str(x) => s.push_str(x),
            StrPart::Char(c) => s.push(*c),
            StrPart::Term(_) => return None,
        }
    }
    Some(s)
}

/// Number literal; only forms whose jaq value prints exactly like our `f64`/`i64`.
fn num_lit(s: &str) -> Option<Value> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    if s.bytes().all(|c| c.is_ascii_digit()) {
        return None; // big integer
    }
    let f: f64 = s.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    let v = Value::from(f);
    ops::prints_as(&v, s).then_some(v)
}

fn math_op(m: &Math) -> MathOp {
    match m {
        Math::Add => MathOp::Add,
        Math::Sub => MathOp::Sub,
        Math::Mul => MathOp::Mul,
        Math::Div => MathOp::Div,
        Math::Rem => MathOp::Rem,
    }
}

fn cmp_op(c: &Cmp) -> CmpOp {
    match c {
        Cmp::Eq => CmpOp::Eq,
        Cmp::Ne => CmpOp::Ne,
        Cmp::Lt => CmpOp::Lt,
        Cmp::Le => CmpOp::Le,
        Cmp::Gt => CmpOp::Gt,
        Cmp::Ge => CmpOp::Ge,
    }
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

/// `.[k]` on a borrowed value, as jaq's `index` does.
fn index<'a>(v: &'a Value, k: &Key) -> R<&'a Value> {
    match (v, k) {
        (Value::Null, _) => Ok(&NULL),
        (Value::Object(o), Key::Str(k)) => Ok(field(o, k).unwrap_or(&NULL)),
        (Value::Object(_), Key::Int(_)) => Ok(&NULL),
        (Value::Array(a), Key::Int(i)) => Ok(ops::abs_index(*i, a.len()).map_or(&NULL, |j| &a[j])),
        (v, k) => err(format!("cannot index {} with {}", ops::show(v), show_key(k))),
    }
}

/// `.[k]` on an owned value, moving the element out.
fn take_index(v: Value, k: &Key) -> R<Value> {
    match (v, k) {
        (Value::Null, _) | (Value::Object(_), Key::Int(_)) => Ok(Value::Null),
        (Value::Object(mut o), Key::Str(k)) => Ok(o.remove(k.as_str()).unwrap_or_default()),
        (Value::Array(mut a), Key::Int(i)) => Ok(match ops::abs_index(*i, a.len()) {
            Some(j) => a.swap_remove(j),
            None => Value::Null,
        }),
        (v, k) => err(format!("cannot index {} with {}", ops::show(&v), show_key(k))),
    }
}

fn show_key(k: &Key) -> String {
    match k {
        Key::Str(s) => Value::String(s.clone()).to_string(),
        Key::Int(i) => i.to_string(),
    }
}

fn not_iterable<T>(v: &Value) -> R<T> {
    err(format!("cannot use {} as iterable (array or object)", ops::show(v)))
}

fn path_many(v: &Value, parts: &[PathPart], out: &mut dyn FnMut(Value) -> R<()>) -> R<()> {
    let Some((p, rest)) = parts.split_first() else {
        return out(v.clone());
    };
    match &p.step {
        Step::Index(k) => match index(v, k) {
            Ok(x) => path_many(x, rest, out),
            Err(_) if p.optional => Ok(()),
            Err(e) => Err(e),
        },
        Step::Iter => match v {
            Value::Array(a) => a.iter().try_for_each(|x| path_many(x, rest, out)),
            Value::Object(o) => o.values().try_for_each(|x| path_many(x, rest, out)),
            _ if p.optional => Ok(()),
            _ => not_iterable(v),
        },
    }
}

/// Applies `leaf` to the value at `path`, jaq-style (`Index` updates only).
///
/// `leaf` returns `false` to delete the value. Atomic: on error nothing was changed,
/// because the only mutation happens after every check and computation succeeded.
fn update_path(v: &mut Value, path: &[(Key, bool)], leaf: &mut dyn FnMut(&mut Value) -> R<bool>) -> R<()> {
    let Some(((k, optional), rest)) = path.split_first() else {
        return err("empty update path".into());
    };
    match (&mut *v, k) {
        (Value::Object(m), Key::Str(k)) => {
            if let Some(slot) = field_mut(m, k) {
                if rest.is_empty() {
                    if !leaf(slot)? {
                        // jaq removes with `swap_remove`, which reorders the keys
                        m.remove(k.as_str());
                    }
                    Ok(())
                } else {
                    update_path(slot, rest, leaf)
                }
            } else {
                let mut tmp = Value::Null;
                let keep = if rest.is_empty() {
                    leaf(&mut tmp)?
                } else {
                    update_path(&mut tmp, rest, leaf)?;
                    true
                };
                if keep {
                    m.insert(k.clone(), tmp);
                }
                Ok(())
            }
        }
        (Value::Object(_), Key::Int(_)) => {
            // jaq would create a non-string key; only deletion is representable
            let mut tmp = Value::Null;
            if rest.is_empty() && !leaf(&mut tmp)? { Ok(()) } else { Err(Fail::Jaq) }
        }
        (Value::Array(a), Key::Int(i)) => match ops::abs_index(*i, a.len()) {
            None if *optional => Ok(()),
            None => err(format!("index {i} out of bounds")),
            Some(j) => {
                if rest.is_empty() {
                    if !leaf(&mut a[j])? {
                        a.remove(j);
                    }
                    Ok(())
                } else {
                    update_path(&mut a[j], rest, leaf)
                }
            }
        },
        _ if *optional => Ok(()),
        (Value::Array(_), Key::Str(s)) => err(format!("cannot use {} as integer", Value::String(s.clone()))),
        (v, _) => not_iterable(v),
    }
}

/// `del(p1, p2, ...)` as jq defines it, `delpaths([path(p1, p2, ...)])`: every path refers
/// to the value before any deletion, and a missing (`null`) parent deletes nothing.
///
/// The paths are checked first (as `path(...)` evaluates them), so `v` is only changed
/// when the deletion cannot fail; anything unusual goes to jaq before any change.
fn del_in_place(v: &mut Value, paths: &[UPath]) -> R<()> {
    let mut produced = Vec::with_capacity(paths.len());
    'paths: for path in paths {
        let mut cur = &*v;
        let Some(((last, last_opt), init)) = path.split_last() else {
            return Err(Fail::Jaq);
        };
        for (k, optional) in init {
            if matches!((cur, k), (Value::Object(_), Key::Int(_))) {
                return Err(Fail::Jaq); // jaq decides what `path(.[0])` on an object is
            }
            match index(cur, k) {
                Ok(x) => cur = x,
                Err(_) if *optional => continue 'paths,
                Err(e) => return Err(e),
            }
        }
        match (cur, last) {
            (Value::Null, _) | (Value::Object(_), Key::Str(_)) | (Value::Array(_), Key::Int(_)) => {}
            _ if *last_opt && index(cur, last).is_err() => continue 'paths,
            _ => return Err(Fail::Jaq),
        }
        produced.push(Value::Array(path.iter().map(|(k, _)| key_value(k)).collect()));
    }
    if produced.is_empty() {
        return Ok(());
    }
    match delpaths(std::mem::take(v), &Value::Array(produced)) {
        Ok(x) => {
            *v = x;
            Ok(())
        }
        // unreachable after the checks above
        Err(e) => err(e),
    }
}

fn key_value(k: &Key) -> Value {
    match k {
        Key::Str(s) => Value::String(s.clone()),
        Key::Int(i) => Value::from(*i),
    }
}

/// First output of `f` on `v`, if any (jaq's `|=` semantics).
fn first(f: &Node, v: &Value) -> R<Option<Value>> {
    if f.single {
        return Ok(Some(f.one(v)?.into_owned()));
    }
    let mut res = None;
    match f.many(v, &mut |y| {
        res = Some(y);
        Err(Fail::Stop)
    }) {
        Ok(()) | Err(Fail::Stop) => Ok(res),
        Err(e) => Err(e),
    }
}

/// Both operands of a binary operator. jaq pairs the two output streams, errors included,
/// so a side that turns out empty (only jaq knows: `Fail::Jaq`) hides an error on the other
/// side; when both fail, jaq decides too.
fn operands<'a>(l: R<Cow<'a, Value>>, r: R<Cow<'a, Value>>) -> R<(Cow<'a, Value>, Cow<'a, Value>)> {
    match (l, r) {
        (Ok(l), Ok(r)) => Ok((l, r)),
        (Err(Fail::Stop), _) | (_, Err(Fail::Stop)) => Err(Fail::Stop),
        (Err(_), Err(_)) | (Err(Fail::Jaq), _) | (_, Err(Fail::Jaq)) => Err(Fail::Jaq),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
    }
}

fn owned<'a>(v: Value) -> R<Cow<'a, Value>> {
    Ok(Cow::Owned(v))
}

impl Node {
    /// Evaluates a node that produces exactly one output.
    pub(crate) fn one<'a>(&'a self, v: &'a Value) -> R<Cow<'a, Value>> {
        match &self.kind {
            Kind::Id => Ok(Cow::Borrowed(v)),
            Kind::Lit(x) => Ok(Cow::Borrowed(x)),
            Kind::Path(parts) if self.single => {
                let mut cur = v;
                for p in parts {
                    if let Step::Index(k) = &p.step {
                        cur = index(cur, k)?;
                    }
                }
                Ok(Cow::Borrowed(cur))
            }
            Kind::Pipe(l, r) if self.single => match l.one(v)? {
                Cow::Borrowed(y) => r.one(y),
                Cow::Owned(y) => owned(r.one(&y)?.into_owned()),
            },
            Kind::Neg(x) => owned(ops::neg(&*x.one(v)?)?),
            Kind::Math(l, op, r) => {
                let (l, r) = operands(l.one(v), r.one(v))?;
                owned(ops::math(*op, &l, &r)?)
            }
            Kind::Cmp(l, op, r) => {
                let (l, r) = operands(l.one(v), r.one(v))?;
                owned(Value::Bool(op.eval(&l, &r)))
            }
            Kind::Logic(l, stop, r) => {
                let b = if truthy(&*l.one(v)?) == *stop { *stop } else { truthy(&*r.one(v)?) };
                owned(Value::Bool(b))
            }
            Kind::Alt(l, r) if self.single => {
                let x = l.one(v)?;
                if truthy(&x) { Ok(x) } else { r.one(v) }
            }
            Kind::If(c, t, e) if self.single => {
                let b = match c.quick_test(v) {
                    Some(b) => b,
                    None => truthy(&*c.one(v)?),
                };
                if b { t.one(v) } else { e.one(v) }
            }
            Kind::Not => owned(Value::Bool(!truthy(v))),
            Kind::Length => owned(ops::length(v)?),
            Kind::ToString => match v {
                Value::String(_) => Ok(Cow::Borrowed(v)),
                _ => owned(ops::tostring(v)?),
            },
            Kind::ToNumber => match v {
                Value::Number(_) => Ok(Cow::Borrowed(v)),
                _ => owned(ops::tonumber(v)?),
            },
            Kind::Type => owned(Value::String(ops::type_name(v).to_string())),
            Kind::Ascii { upper } => owned(ops::ascii_case(v, *upper)?),
            Kind::Has(k) => owned(ops::has(v, &*k.one(v)?)?),
            Kind::Affix { arg, prefix } => owned(ops::str_affix(v, &*arg.one(v)?, *prefix)?),
            Kind::Contains(x) => owned(ops::contains_checked(v, &*x.one(v)?)?),
            Kind::Arr(t) => {
                let mut items = Vec::new();
                t.many(v, &mut |y| {
                    items.push(y);
                    Ok(())
                })?;
                owned(Value::Array(items))
            }
            Kind::Obj(kvs, Some(shape)) => {
                let mut m = shape.keys.clone();
                // In the order written (a failing value fails first, as before).
                for ((_, n), &slot) in kvs.iter().zip(&shape.slots) {
                    let x = n.one(v)?.into_owned();
                    if let Some(to) = m.values_mut().nth(slot) {
                        *to = x;
                    }
                }
                owned(Value::Object(m))
            }
            Kind::Obj(kvs, None) => {
                let mut m = Map::with_capacity(kvs.len());
                for (k, n) in kvs {
                    let x = n.one(v)?.into_owned();
                    m.insert(k.clone(), x);
                }
                owned(Value::Object(m))
            }
            Kind::Update(..) | Kind::Del(_) => {
                let mut x = v.clone();
                self.update_in_place(&mut x)?;
                owned(x)
            }
            // not statically single: should not be reached, but stay correct
            _ => {
                let mut outs = Vec::with_capacity(1);
                self.many(v, &mut |y| {
                    outs.push(y);
                    Ok(())
                })?;
                match (outs.pop(), outs.is_empty()) {
                    (Some(y), true) => owned(y),
                    _ => Err(Fail::Jaq),
                }
            }
        }
    }

    /// jq truthiness of the first output (`false` when there is none), without
    /// materialising outputs that are only the (borrowed) input.
    pub(crate) fn test(&self, v: &Value) -> R<bool> {
        if let Some(b) = self.quick_test(v) {
            return Ok(b);
        }
        Ok(self.first_truthiness(v)?.unwrap_or(false))
    }

    /// The commonest conditions — comparisons of fields and literals, joined by `and`/`or` —
    /// answered by reference, without building results. `None` when the condition has
    /// another shape or a path meets something it cannot index (then the general path,
    /// which reports the failure).
    fn quick_test<'a>(&'a self, v: impl QuickRoot<'a>) -> Option<bool> {
        match &self.kind {
            Kind::Cmp(l, op, r) => Some(op.eval(l.quick_operand(v)?, r.quick_operand(v)?)),
            Kind::Logic(l, stop, r) => {
                let left = l.quick_test(v)?;
                if left == *stop { Some(*stop) } else { r.quick_test(v) }
            }
            _ => None,
        }
    }

    /// [`Node::quick_test`] from a record's raw top-level fields, for the one shape that needs
    /// no values: `==` or `!=` between a top-level field and a text literal, joined by
    /// `and`/`or`. `None` for any other shape, or a field that is neither text nor absent.
    pub(crate) fn raw_test<'a>(&self, field: &dyn Fn(&str) -> RawField<'a>) -> Option<bool> {
        match &self.kind {
            Kind::Cmp(l, op, r) => {
                let equal = match op {
                    CmpOp::Eq => true,
                    CmpOp::Ne => false,
                    _ => return None,
                };
                let (path, text) = match (&l.kind, &r.kind) {
                    (Kind::Path(path), Kind::Lit(Value::String(text)))
                    | (Kind::Lit(Value::String(text)), Kind::Path(path)) => (path, text),
                    _ => return None,
                };
                let [part] = path.as_slice() else { return None };
                let (Step::Index(Key::Str(name)), false) = (&part.step, part.optional) else { return None };
                // An absent field is `null`, never equal to text.
                let same = match field(name) {
                    RawField::Absent => false,
                    RawField::Text(bytes) => same_bytes(bytes, text.as_bytes()),
                    RawField::Other => return None,
                };
                Some(same == equal)
            }
            Kind::Logic(l, stop, r) => {
                let left = l.raw_test(field)?;
                if left == *stop { Some(*stop) } else { r.raw_test(field) }
            }
            _ => None,
        }
    }

    /// [`Node::quick_test`] on a record given by some of its top-level fields (see
    /// [`ProjectedRecord`]); `None` also when the condition reads a field not among them.
    pub(crate) fn quick_test_projected(&self, record: &ProjectedRecord<'_>) -> Option<bool> {
        self.quick_test(*record)
    }

    /// A literal, or a field path of plain names, by reference.
    fn quick_operand<'a>(&'a self, v: impl QuickRoot<'a>) -> Option<&'a Value> {
        match &self.kind {
            Kind::Lit(x) => Some(x),
            Kind::Path(parts) => v.path(parts),
            _ => None,
        }
    }

    fn first_truthiness(&self, v: &Value) -> R<Option<bool>> {
        if self.single {
            return Ok(Some(truthy(&*self.one(v)?)));
        }
        if let Kind::Pipe(l, r) = &self.kind
            && l.single
        {
            return r.first_truthiness(&*l.one(v)?);
        }
        let mut first = None;
        let res = match &self.kind {
            Kind::Select(c) => c.many(v, &mut |x| {
                if truthy(&x) {
                    first = Some(truthy(v));
                    Err(Fail::Stop)
                } else {
                    Ok(())
                }
            }),
            Kind::Pipe(l, r) => l.many(v, &mut |y| match r.first_truthiness(&y)? {
                Some(b) => {
                    first = Some(b);
                    Err(Fail::Stop)
                }
                None => Ok(()),
            }),
            _ => self.many(v, &mut |y| {
                first = Some(truthy(&y));
                Err(Fail::Stop)
            }),
        };
        match res {
            Ok(()) | Err(Fail::Stop) => Ok(first),
            Err(e) => Err(e),
        }
    }

    /// Streams every output of the node on a borrowed input.
    pub(crate) fn many(&self, v: &Value, out: &mut dyn FnMut(Value) -> R<()>) -> R<()> {
        if self.single {
            return out(self.one(v)?.into_owned());
        }
        match &self.kind {
            Kind::Path(parts) => path_many(v, parts, out),
            Kind::Pipe(l, r) => l.many(v, &mut |y| r.many(&y, out)),
            Kind::Comma(l, r) => {
                l.many(v, out)?;
                r.many(v, out)
            }
            Kind::Alt(l, r) => {
                let mut found = Vec::new();
                let res = l.many(v, &mut |y| {
                    if truthy(&y) {
                        found.push(y);
                    }
                    Ok(())
                });
                match res {
                    // jaq keeps errors of the left side as "true" outputs
                    Err(Fail::Err(e)) => {
                        found.into_iter().try_for_each(&mut *out)?;
                        Err(Fail::Err(e))
                    }
                    Err(e) => Err(e),
                    Ok(()) if found.is_empty() => r.many(v, out),
                    Ok(()) => found.into_iter().try_for_each(out),
                }
            }
            Kind::If(c, t, e) => c.many(v, &mut |x| {
                if truthy(&x) { t.many(v, out) } else { e.many(v, out) }
            }),
            Kind::Empty => Ok(()),
            Kind::Select(c) => c.many(v, &mut |x| {
                if truthy(&x) { out(v.clone()) } else { Ok(()) }
            }),
            // everything else is single
            _ => out(self.one(v)?.into_owned()),
        }
    }

    /// Applies an update node to `v` in place.
    fn update_in_place(&self, v: &mut Value) -> R<()> {
        match &self.kind {
            Kind::Update(path, leaf) => match &**leaf {
                Leaf::Assign(rhs) => {
                    let mut y = Some(rhs.one(v)?.into_owned());
                    update_path(v, path, &mut |slot| {
                        if let Some(y) = y.take() {
                            *slot = y;
                        }
                        Ok(true)
                    })
                }
                Leaf::Math(op, rhs) => {
                    let y = rhs.one(v)?.into_owned();
                    update_path(v, path, &mut |slot| {
                        ops::math_assign(*op, slot, &y)?;
                        Ok(true)
                    })
                }
                Leaf::Alt(rhs) => {
                    let y = rhs.one(v)?.into_owned();
                    update_path(v, path, &mut |slot| {
                        if !truthy(slot) {
                            *slot = y.clone();
                        }
                        Ok(true)
                    })
                }
                Leaf::Modify(f) => update_path(v, path, &mut |slot| match first(f, slot)? {
                    Some(y) => {
                        *slot = y;
                        Ok(true)
                    }
                    None => Ok(false),
                }),
            },
            Kind::Del(paths) => del_in_place(v, paths),
            _ => err("not an update".into()),
        }
    }

    fn run_in_place(&self, mut v: Value, out: &mut dyn FnMut(Value) -> R<()>) -> OwnedResult {
        match self.update_in_place(&mut v) {
            Ok(()) => out(v).map_err(|e| (e, None)),
            Err(Fail::Jaq) => Err((Fail::Jaq, Some(v))),
            // One path: nothing was written before the failure (see `fails_untouched`).
            Err(e) if self.fails_untouched() => Err((e, Some(v))),
            Err(e) => Err((e, None)),
        }
    }

    /// Runs on an owned input, streaming outputs; updates mutate `v` in place.
    ///
    /// Only valid when `self.owned_safe`: a `Fail::Jaq` then comes with the untouched input.
    pub(crate) fn run_owned(&self, v: Value, out: &mut dyn FnMut(Value) -> R<()>) -> OwnedResult {
        match &self.kind {
            Kind::Id => out(v).map_err(|e| (e, None)),
            Kind::Path(parts) if self.single => {
                let mut cur = v;
                for p in parts {
                    if let Step::Index(k) = &p.step {
                        cur = take_index(cur, k).map_err(|e| (e, None))?;
                    }
                }
                out(cur).map_err(|e| (e, None))
            }
            Kind::Update(..) => self.run_in_place(v, out),
            Kind::Del(_) => self.run_in_place(v, out),
            Kind::Select(c) => {
                let mut keep = 0usize;
                let res = if c.single {
                    c.one(&v).map(|x| keep += usize::from(truthy(&x)))
                } else {
                    c.many(&v, &mut |x| {
                        keep += usize::from(truthy(&x));
                        Ok(())
                    })
                };
                match res {
                    Err(Fail::Jaq) => return Err((Fail::Jaq, Some(v))),
                    Err(e) if keep == 0 => return Err((e, None)),
                    _ => {}
                }
                for _ in 1..keep {
                    out(v.clone()).map_err(|e| (e, None))?;
                }
                if keep > 0 {
                    out(v).map_err(|e| (e, None))?;
                }
                res.map_err(|e| (e, None))
            }
            Kind::If(c, t, e) if c.single && t.owned_safe && e.owned_safe => {
                let b = match c.quick_test(&v).map_or_else(|| c.one(&v).map(|x| truthy(&x)), Ok) {
                    Ok(b) => b,
                    // The condition only read the input (see `fails_untouched`).
                    Err(e) => return Err((e, Some(v))),
                };
                if b { t.run_owned(v, out) } else { e.run_owned(v, out) }
            }
            Kind::Pipe(l, r) if l.owned_safe && !r.may_jaq => {
                l.run_owned(v, &mut |y| match r.run_owned(y, out) {
                    Ok(()) => Ok(()),
                    // cannot happen when `owned_safe` holds (`r` never needs jaq)
                    Err((Fail::Jaq, _)) => err("internal: native pipeline needed jaq".into()),
                    Err((e, _)) => Err(e),
                })
            }
            _ if self.single => match self.one(&v) {
                Ok(y) => {
                    let y = y.into_owned();
                    out(y).map_err(|e| (e, None))
                }
                // `one` only read the input (see `fails_untouched`).
                Err(e) => Err((e, Some(v))),
            },
            _ => match self.many(&v, out) {
                Ok(()) => Ok(()),
                Err(Fail::Jaq) if !self.may_jaq => Err((Fail::Err("internal: unexpected jaq fallback".into()), None)),
                Err(e) => Err((e, None)),
            },
        }
    }
}
