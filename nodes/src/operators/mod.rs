//! Operator kinds: one input, one output (plus `errors`).

pub mod buffer;
mod expression;
pub mod filter;
pub mod map;
pub mod window;
