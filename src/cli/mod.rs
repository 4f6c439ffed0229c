//! The scriptable verbs: `status`, the fleet commands, `approvals`, `escalations`, `silences`,
//! `runbook`, `audit`, `journal`, `exercise report` and `login`. Each prints
//! for people or as JSON, and answers with an exit code scripts can rely on (see the README).
//!
//! [`args`] is the whole command line as clap parses it; [`target`] resolves what a run talks
//! to (a context's sources or the embedded lab, and the journal); [`output`] is how every verb
//! answers (exit codes, JSON, notes on stderr, the confirmation prompt). Each verb's module
//! holds its own arguments and a `run_from_shell` that `main` calls; [`generate`] prints the
//! shell completions and the man page from the same definitions.

pub mod approvals;
pub mod args;
pub mod audit;
pub mod clock;
pub mod commands;
pub mod cost;
pub mod escalations;
pub mod exercise;
pub mod generate;
pub mod journal;
pub mod login;
pub mod output;
pub mod runbook;
pub mod silences;
pub mod status;
pub mod target;
