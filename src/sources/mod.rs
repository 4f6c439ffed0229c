//! Backends the console reads from. Each configured source has its own worker, a tokio task
//! (snapshot + live event stream, reconnect with backoff and jitter, resume with
//! `Last-Event-ID`) that reports [`SourceMsg`]s to the app.

pub mod approvals;
pub mod backoff;
pub mod client;
pub mod delivery;
pub mod error;
pub mod escalation_backend;
pub mod exercise;
pub mod litellm;
pub mod paging;
pub mod patroni;
pub mod prometheus;
pub mod replay;
pub mod runbook_runs;
pub mod sse;
pub mod temporal;
pub mod worker;

use std::time::Duration;

pub use client::{Client, EscalationQuery, Timeouts};
pub use error::ClientError;
pub use escalation_backend::{BackendError, EscalationBackend};
pub use sse::StreamEvent;
pub use worker::{SourceOptions, spawn_source, spawn_source_with};

use crate::domain::fleet::DownKind;
use protocol::commands::AuditEntry;
use protocol::{FleetDelta, FleetSnapshot, Operator, WhoAmI};

/// What the worker of one source reports.
#[derive(Clone, Debug)]
pub enum SourceEvent {
    /// A connection attempt started (1 for the first, counting up while it fails).
    Connecting {
        attempt: u32,
    },
    Identity(WhoAmI),
    Snapshot(FleetSnapshot),
    Delta(FleetDelta),
    Operators(Vec<Operator>),
    /// A new entry of the source's audit log (a command, an expiry, an operation's end).
    Audit(AuditEntry),
    /// An escalation appeared or changed hands. Events may repeat after a resume: keep the
    /// summary with the highest `revision`.
    Escalation(EscalationEvent),
    /// A runbook run started, changed (a step record, someone's presence) or ended; the
    /// whole run. Apply them in the order they come.
    RunbookRun(Box<protocol::runbook_runs::RunbookRun>),
    /// Every open escalation of a source without a stream (Temporal), as it listed them just
    /// now; the next list comes in `next_in`. What it no longer lists has closed.
    Listed {
        rows: Vec<protocol::escalations::EscalationSummary>,
        next_in: Duration,
    },
    /// A metrics source's read of its regions and providers, each fact with its read time.
    Measured(Box<prometheus::FleetFacts>),
    /// A metrics source's chart history, by history key (replaces what it gave before).
    MeasuredHistory(std::collections::HashMap<String, Vec<crate::domain::fleet::Sample>>),
    /// The alerts firing now, or why the alert manager could not be read (the facts may
    /// still be live).
    Alerts(Result<Vec<crate::domain::measured::FiringAlert>, String>),
    /// A gateway source's (LiteLLM's) read: deployments, routes, cooldowns.
    Gateway(Box<crate::domain::gateway::GatewayFacts>),
    /// A Patroni source's read of its cluster.
    Cluster(Box<crate::domain::patroni::ClusterRead>),
    /// The silences of a metrics source's Alertmanager, or why they could not be read.
    Silences(Result<Vec<prometheus::Silence>, String>),
    /// A replay went back in time: forget what it showed; it shows it again from T0.
    ReplayRewound,
    /// A replay's clock moved: what the recording showed then besides fleet and audit.
    Replayed(Box<replay::ReplayFrame>),
    /// The source's tabletop exercise as the caller may see it (`GET /v1/exercise`), `None`
    /// when it runs none, or why it could not be read (the stream may still be live).
    Exercise(Result<Option<Box<protocol::exercise::ExerciseState>>, String>),
    /// The requests of the source's two-person rule (`GET /v1/approvals`, read at each
    /// connection), or why they could not be read (the stream may still be live).
    Approvals(Result<Vec<protocol::approvals::ApprovalRequest>, String>),
    /// A request was made or changed (`approval` event). Events may repeat after a resume: a
    /// decided request never goes back to pending.
    Approval(Box<protocol::approvals::ApprovalRequest>),
    /// The connection failed or dropped; the worker tries again after `retry_in`.
    Down {
        error: String,
        kind: DownKind,
        retry_in: Duration,
    },
}

#[derive(Clone, Debug)]
pub struct SourceMsg {
    /// The source's configured name.
    pub source: String,
    pub event: SourceEvent,
}

/// How to reach a protocol-v1 source.
#[derive(Clone, PartialEq)]
pub struct SourceSpec {
    pub name: String,
    /// Base URL, e.g. `http://127.0.0.1:7300`.
    pub url: String,
    /// Bearer token; never logged.
    pub token: Option<String>,
}

/// The token never reaches a log or a panic message.
impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSpec")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EscalationEventKind {
    New,
    Claimed,
    Released,
    Resolved,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EscalationEvent {
    pub kind: EscalationEventKind,
    pub summary: protocol::escalations::EscalationSummary,
}
