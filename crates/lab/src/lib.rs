//! The lab: a deterministic simulated AI fleet served over HTTP as protocol v1.
//!
//! [`LabServer::start`] loads a topology (the embedded default unless told otherwise) and
//! optionally a scenario, serves every endpoint of [`protocol::endpoints`] while a ticker
//! advances the simulation. The simulation itself ([`sim::Sim`]) is pure and deterministic
//! for a seed.
//!
//! Module map, from the outside in:
//! - [`cli`]: `switchboard lab serve`; [`server`]: [`LabServer`], start, ticker, shutdown;
//!   [`listener`]: accepting connections within deadlines and a limit.
//! - [`http`]: the router and its routes (fleet and events, commands, escalations), the
//!   state they share, authentication, problem documents, idempotent POSTs.
//! - [`event_log`]: the published fleet and the log event streams resume from, bounded in
//!   bytes; [`deadband`]: which metric moves are news;
//!   [`audit`]: the audit log; [`idempotency`]: the kept answers to idempotency keys;
//!   [`roster`]: who is online.
//! - [`sim`]: the simulated fleet and the operators' controls over it;
//!   [`escalations`]: the queue of tasks waiting for a person, with their lineages;
//!   [`exercise`]: a tabletop drill played on it (phase, controls, recording, score).
//! - [`topology`], [`scenario`]: what a lab simulates, from TOML; [`config_error`]: how
//!   their mistakes are reported; [`free_text`]: the rule for text callers send.

pub mod approvals;
pub mod audit;
pub mod cli;
pub mod config_error;
pub mod deadband;
pub mod escalations;
pub mod event_log;
pub mod exercise;
pub mod free_text;
pub mod http;
pub mod idempotency;
pub mod listener;
pub mod roster;
pub mod runbook_runs;
pub mod scenario;
pub mod server;
pub mod sim;
pub mod topology;

use std::path::PathBuf;

pub use listener::ServeLimits;
pub use scenario::shipped_scenarios;
pub use server::{ExerciseInfo, LabServer};

use protocol::Role;

/// How to run a lab.
#[derive(Clone, Debug, PartialEq)]
pub struct LabOptions {
    /// Seeds the simulation's randomness and the operators' tokens.
    pub seed: u64,
    /// Simulated seconds per real second (e.g. 60 for a fast drill).
    pub speed: f64,
    /// A topology file; the embedded default when `None`.
    pub topology: Option<PathBuf>,
    /// A scenario file, or the name of a shipped scenario (see [`shipped_scenarios`]).
    pub scenario: Option<PathBuf>,
    /// A scenario (file or shipped name) played as a tabletop exercise: paused at T0 until
    /// its facilitator starts it, recorded, scored. Not with `scenario`.
    pub exercise: Option<PathBuf>,
    /// Where an exercise is recorded; [`exercise::default_record_dir`] when `None`.
    pub record_dir: Option<PathBuf>,
    /// Synthetic pending escalations loaded at start, for scale tests.
    pub escalations: usize,
    /// Deadlines and the connection limit of the HTTP server.
    pub limits: ServeLimits,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            seed: 42,
            speed: 1.0,
            topology: None,
            scenario: None,
            exercise: None,
            record_dir: None,
            escalations: 0,
            limits: ServeLimits::default(),
        }
    }
}

/// An operator of the topology with the token that authenticates them to this lab.
#[derive(Clone, PartialEq)]
pub struct BuiltinOperator {
    pub name: String,
    pub role: Role,
    pub token: String,
}

/// Leaves the token out, so that logging an operator does not log a secret.
impl std::fmt::Debug for BuiltinOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltinOperator")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("token", &"<redacted>")
            .finish()
    }
}
