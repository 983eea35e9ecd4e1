//! jq 1.8 compatibility layer on top of jaq: definitions and native filters that make
//! jaq behave like jq where jaq's standard library differs (checked by jq's own test
//! suite, `nodes/tests/jq_conformance.rs`).
//!
//! [`defs`] is loaded after jaq's core, std and json definitions, so a definition here
//! overrides jaq's one of the same name and arity; [`funs`] likewise comes after jaq's
//! native filters.

mod arith;
mod checks;
mod deep;
mod funs;
mod messages;
mod paths;
mod val_paths;

use jaq_core::load::parse::Def;

pub(crate) use funs::Data;
pub(crate) use messages::{describe, error_text};
pub(crate) use paths::delpaths;

/// The jq-level prelude, `defs.jq`.
const DEFS: &str = include_str!("defs.jq");

/// Compile-time checks jq makes and jaq does not (constant object keys must be strings,
/// module metadata must be an object), as `(message, source slice)`.
pub(crate) fn check<'s>(
    src: &'s str,
    term: Option<&jaq_core::load::parse::Term<&'s str>>,
) -> Result<(), (String, &'s str)> {
    checks::module_header(src)?;
    term.map_or(Ok(()), checks::term)
}

/// jq-compatible definitions, to be chained after jaq's own.
pub(crate) fn defs() -> impl Iterator<Item = Def<&'static str>> {
    // `defs.jq` is a constant: a unit test checks that it parses
    jaq_core::load::parse(DEFS, |p| p.defs()).unwrap_or_default().into_iter()
}

/// jq-compatible native filters, to be chained after jaq's own.
pub(crate) fn funs() -> impl Iterator<Item = jaq_core::native::Fun<Data>> {
    funs::all().chain(arith::funs()).chain(messages::funs())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    #[test]
    fn prelude_parses() {
        assert!(jaq_core::load::parse(super::DEFS, |p| p.defs()).is_some());
    }
}
