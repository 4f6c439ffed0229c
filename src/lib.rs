//! Switchboard: a terminal console for on-call engineers who keep AI services up.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod format;
pub mod journal;
pub mod keymap;
pub mod logging;
pub mod runbook;
pub mod runner;
pub mod sources;
pub mod terminal;
#[doc(hidden)]
pub mod testing;
pub mod theme;
pub mod views;
