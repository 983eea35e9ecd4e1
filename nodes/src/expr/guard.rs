//! Runs one evaluation under its budget: a step counter that jaq ticks through the `_tick`
//! native (inserted by [`super::rewrite`] into every definition body, every `reduce`/`foreach`
//! update and after every `range` output), a kill switch, a call-stack check, and a panic
//! catcher, all on a stack big enough for the deepest value the budget allows.
//!
//! The counter lives in a thread-local set by [`Guarded::run`] for the duration of one
//! evaluation; jaq runs on the calling thread, so `_tick` always finds it.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, unary, v};
use jaq_core::{Error, Exn, Native, data};
use jaq_json::{Num, Val};

use super::error::EvalError;
use super::limits::Limits;

type Data = data::JustLut<Val>;

/// Size of the stack evaluations run on (reserved, not committed: only touched pages cost
/// memory).
pub const EVAL_STACK_BYTES: usize = 1 << 30;
/// An evaluation needs at least this much stack left where it starts; below, it moves to a
/// fresh stack of [`EVAL_STACK_BYTES`].
const EVAL_MIN_STACK: usize = 64 << 20;
/// `_tick` fails the evaluation when less than this is left: recursion deeper than that would
/// overflow before the next tick.
const STACK_RED_ZONE: usize = 16 << 20;
/// The kill switch is polled every this many steps.
const INTERRUPT_EVERY: u64 = 1024;

/// Asked every [`INTERRUPT_EVERY`] steps: true means give up (the run is being killed).
pub type Interrupt = Arc<dyn Fn() -> bool + Send + Sync>;

/// Why `_tick` stopped an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exceeded {
    Steps(u64),
    Stack,
    Interrupted,
}

struct Budget {
    steps: u64,
    max_steps: u64,
    max_result_bytes: usize,
    interrupt: Option<Interrupt>,
    exceeded: Option<Exceeded>,
}

thread_local! {
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// One step of evaluation; `Err` once a limit is passed (and on every later step, so that a
/// `try` around the loop cannot swallow it and go on).
fn tick() -> Result<(), Error<Val>> {
    let exceeded = BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        let b = b.as_mut()?;
        if let Some(e) = b.exceeded {
            return Some(e);
        }
        b.steps += 1;
        let e = if b.steps > b.max_steps {
            Some(Exceeded::Steps(b.max_steps))
        } else if stacker::remaining_stack().is_some_and(|left| left < STACK_RED_ZONE) {
            Some(Exceeded::Stack)
        } else if b.steps % INTERRUPT_EVERY == 0 && b.interrupt.as_ref().is_some_and(|i| i()) {
            Some(Exceeded::Interrupted)
        } else {
            None
        };
        b.exceeded = e;
        e
    });
    match exceeded {
        None => Ok(()),
        Some(e) => Err(Error::str(message(e))),
    }
}

fn message(e: Exceeded) -> String {
    match e {
        Exceeded::Steps(n) => format!("expression exceeded its budget of {n} steps (raise the node's max_steps)"),
        Exceeded::Stack => "expression recursion too deep".into(),
        Exceeded::Interrupted => "expression interrupted: the run was stopped".into(),
    }
}

/// The natives the rewritten program calls: `_tick`, an identity that counts a step (and
/// keeps paths, so `def f: .a; f |= 1` still updates).
pub(crate) fn funs() -> impl Iterator<Item = Fun<Data>> {
    let tick_native = Native::<Data>::new(|cv| match tick() {
        Ok(()) => box_once(Ok(cv.1)),
        Err(e) => box_once(Err(Exn::from(e))),
    })
    .with_paths(|cv| match tick() {
        Ok(()) => box_once(Ok(cv.1)),
        Err(e) => box_once(Err(Exn::from(e))),
    })
    .with_update(|cv, f| match tick() {
        Ok(()) => f(cv.1),
        Err(e) => box_once(Err(Exn::from(e))),
    });
    let mul = Native::<Data>::new(|cv| unary(cv, checked_mul));
    [("_tick", v(0), tick_native), ("_checked_mul", v(1), mul)].into_iter()
}

/// `a * b`, except that a string repetition follows jq 1.8 (by the truncated count; negative
/// or NaN gives null) and beyond the result budget is an error (jaq would try to allocate
/// it), and integers whose product leaves 64 bits multiply as floats, as in jq
/// (jaq would grow a big integer, which repeated squaring makes exponentially large).
fn checked_mul(a: Val, b: Val) -> Result<Val, Error<Val>> {
    match (&a, &b) {
        (Val::TStr(s) | Val::BStr(s), Val::Num(n)) | (Val::Num(n), Val::TStr(s) | Val::BStr(s)) => {
            // jq 1.8: negative or NaN gives null, a fraction is truncated, 0 gives "".
            let times = num_f64(n);
            if times.is_nan() || times < 0.0 {
                return Ok(Val::Null);
            }
            let times = times.trunc();
            let limit = BUDGET.with(|b| b.borrow().as_ref().map(|b| b.max_result_bytes)).unwrap_or(usize::MAX);
            if (s.len() as f64) * times > limit as f64 {
                return Err(Error::str(super::value::REPEAT_TOO_LARGE));
            }
            let text = String::from_utf8_lossy(s).repeat(times as usize);
            Ok(Val::from(text))
        }
        (Val::Num(x), Val::Num(y)) if is_int(x) && is_int(y) => {
            let fits = int64(x).zip(int64(y)).is_some_and(|(i, j)| i.checked_mul(j).is_some());
            if fits { a * b } else { Ok(Val::from(num_f64(x) * num_f64(y))) }
        }
        _ => a * b,
    }
}

/// An evaluation in progress: set up by [`Guarded::run`].
pub(crate) struct Guarded;

impl Guarded {
    /// Runs `f` (one evaluation) under `limits`: counts its steps, polls `interrupt`, catches
    /// a panic (reported as an evaluation error), and makes sure it has stack to spare.
    /// The error of a budget overrun wins over whatever error jaq turned it into.
    pub(crate) fn run<T>(
        limits: &Limits,
        interrupt: Option<&Interrupt>,
        f: impl FnOnce() -> Result<T, EvalError>,
    ) -> Result<T, EvalError> {
        on_eval_stack(|| {
            let previous = BUDGET.with(|b| {
                b.borrow_mut().replace(Budget {
                    steps: 0,
                    max_steps: limits.max_steps,
                    max_result_bytes: limits.max_result_bytes,
                    interrupt: interrupt.cloned(),
                    exceeded: None,
                })
            });
            let result = catch_unwind(AssertUnwindSafe(f));
            let budget = BUDGET.with(|b| std::mem::replace(&mut *b.borrow_mut(), previous));
            let exceeded = budget.and_then(|b| b.exceeded);
            match (result, exceeded) {
                (_, Some(e)) => Err(EvalError(message(e))),
                (Ok(r), None) => r,
                (Err(panic), None) => {
                    Err(EvalError(format!("internal error in the jq engine: {}", panic_text(&panic))))
                }
            }
        })
    }
}

/// Runs `f` where at least [`EVAL_MIN_STACK`] of stack is left, moving to a fresh stack of
/// [`EVAL_STACK_BYTES`] when needed. Operators call it once per batch so that each event's
/// evaluation finds the stack already there.
pub fn on_eval_stack<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(EVAL_MIN_STACK, EVAL_STACK_BYTES, f)
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".into()
    }
}

fn is_int(n: &Num) -> bool {
    matches!(n, Num::Int(_) | Num::BigInt(_))
}

fn int64(n: &Num) -> Option<i64> {
    match n {
        Num::Int(i) => i64::try_from(*i).ok(),
        Num::BigInt(_) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn num_f64(n: &Num) -> f64 {
    match n {
        Num::Int(i) => *i as f64,
        Num::Float(f) => *f,
        Num::BigInt(_) | Num::Dec(_) => n.to_string().parse().unwrap_or(f64::NAN),
    }
}
