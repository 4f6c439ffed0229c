//! The scriptable verbs: `status`, the fleet commands, `escalations` and `login`. Each prints
//! for people or as JSON, and answers with an exit code scripts can rely on (see the README).

pub mod commands;
pub mod escalations;
pub mod login;
pub mod status;
