//! Native filters that make jaq behave like jq 1.8 where a jq-level definition cannot.

use jaq_core::data;
use jaq_core::native::Fun;
use jaq_json::Val;

/// The data type of our jaq filters (the same as the jaq backend's).
pub(crate) type Data = data::JustLut<Val>;

/// Every native filter of the compatibility layer.
pub(crate) fn all() -> impl Iterator<Item = Fun<Data>> {
    std::iter::empty()
}
