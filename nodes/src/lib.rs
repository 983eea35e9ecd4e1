//! Built-in node kinds.
