//! Operator kinds: one input, one output (plus `errors`).

pub mod buffer;
pub mod filter;
pub mod map;
