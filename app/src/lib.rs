//! The `streamloom` application: the command line, the headless runner and (with the `gui`
//! feature, on by default) the egui editor.

pub mod cli;
pub mod headless;

#[cfg(feature = "gui")]
pub mod editor;
