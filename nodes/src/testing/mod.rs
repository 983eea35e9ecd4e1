//! Node kinds for fault tests only (feature `fault-kinds`): never in a user's palette.

pub mod fault;
