//! Wire types of protocol v1's commands, operations and audit log.
//!
//! Every command is a `POST` that carries:
//! - `Idempotency-Key: <opaque, 1-128 chars>`: a replay with the same key returns the first
//!   answer (marked [`IDEMPOTENT_REPLAYED`](crate::escalations::IDEMPOTENT_REPLAYED)) and never
//!   acts twice; the same key with a different body is `422`.
//! - `If-Match: <control_revision>` of the object it changes (bare or quoted): when the object's
//!   control state has changed since, the answer is `409` with the current object in the
//!   problem's `current` member. Missing `If-Match` is `428`.
//! - a non-empty `reason` in the body (`400` without one).
//! - a bearer token of an operator or admin (`403` for viewers).
//!
//! Endpoints:
//! - `POST /v1/services/{id}/promote` [`PromoteRequest`] -> `202` [`CommandAccepted`] with an operation
//! - `POST /v1/regions/{id}/drain` [`DrainRequest`], `POST /v1/regions/{id}/undrain` [`UndrainRequest`]
//! - `POST /v1/providers/{id}/breaker` [`BreakerRequest`]
//! - `POST /v1/services/{id}/degraded-modes` [`DegradeRequest`]
//! - `POST /v1/services/{id}/weights` [`WeightsRequest`]
//! - `POST /v1/services/{id}/standby` [`StandbyRequest`] -> `202` with an operation (warming or cooling)
//! - `POST /v1/services/{id}/borrow` [`BorrowRequest`] -> `202` with an operation (the replica joins)
//! - `POST /v1/services/{id}/return` [`ReturnRequest`]
//! - `GET /v1/operations/{id}` -> [`Operation`]
//! - `GET /v1/audit?limit=N&before=ID&idempotency_key=K` -> [`AuditPage`], newest first

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::request_body::present;

use super::{DegradedModeKind, ReplicaRole};

/// Headers of a command.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
pub const IF_MATCH: &str = "If-Match";

/// A manual control with who set it, why, and when it reverts by itself.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TimedControl {
    pub set_by: String,
    pub reason: String,
    pub since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
// The spec says `additionalProperties: false`: a misspelt field is refused, not ignored.
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// Id of the standby replica to make active; the old active becomes a hot standby.
    pub replica: String,
    pub reason: String,
    /// The preflight the sender saw and confirmed; the lab keeps it in the audit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
// The spec says `additionalProperties: false`: a misspelt field is refused, not ignored.
#[serde(deny_unknown_fields)]
pub struct DrainRequest {
    pub reason: String,
    /// The drain reverts by itself after this many seconds (simulated seconds in the lab).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in_s: Option<u64>,
    /// The preflight the sender saw and confirmed; the lab keeps it in the audit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
// The spec says `additionalProperties: false`: a misspelt field is refused, not ignored.
#[serde(deny_unknown_fields)]
pub struct UndrainRequest {
    pub reason: String,
    /// The preflight the sender saw and confirmed; the lab keeps it in the audit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerAction {
    /// Quarantine: open the breaker and keep it open whatever the error rate.
    ForceOpen,
    /// Close the breaker now and lift a quarantine; the automatic breaker runs again.
    Close,
    /// The automatic breaker will not trip this provider.
    Pin,
    /// Undo `pin`.
    Unpin,
}

impl BreakerAction {
    pub fn word(self) -> &'static str {
        match self {
            BreakerAction::ForceOpen => "force-open",
            BreakerAction::Close => "close",
            BreakerAction::Pin => "pin",
            BreakerAction::Unpin => "unpin",
        }
    }

    pub const ALL: [BreakerAction; 4] = [
        BreakerAction::ForceOpen,
        BreakerAction::Close,
        BreakerAction::Pin,
        BreakerAction::Unpin,
    ];
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
// The spec says `additionalProperties: false`: a misspelt field is refused, not ignored.
#[serde(deny_unknown_fields)]
pub struct BreakerRequest {
    pub action: BreakerAction,
    pub reason: String,
    /// For `force-open` and `pin`: revert by itself after this many seconds.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in_s: Option<u64>,
    /// The preflight the sender saw and confirmed; the lab keeps it in the audit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
// The spec says `additionalProperties: false`: a misspelt field is refused, not ignored.
#[serde(deny_unknown_fields)]
pub struct DegradeRequest {
    pub mode: DegradedModeKind,
    /// true sets the mode, false clears it.
    pub enabled: bool,
    pub reason: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in_s: Option<u64>,
    /// The preflight the sender saw and confirmed; the lab keeps it in the audit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
}

/// What a weights command spreads.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum WeightScope {
    /// The service's traffic across regions; keys are region ids.
    Regions,
    /// The service's traffic across the providers of one region's gateway; keys are provider ids.
    Providers { region: String },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
// The spec says `additionalProperties: false`: a misspelt field is refused, not ignored.
#[serde(deny_unknown_fields)]
pub struct WeightsRequest {
    pub scope: WeightScope,
    /// Relative weights (>= 0, not all 0); a region or provider left out keeps its weight.
    pub weights: BTreeMap<String, f64>,
    pub reason: String,
    /// The preflight the sender saw and confirmed; the lab keeps it in the audit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
// The spec says `additionalProperties: false`: a misspelt field is refused, not ignored.
#[serde(deny_unknown_fields)]
pub struct StandbyRequest {
    /// Id of the standby replica to warm or cool.
    pub replica: String,
    /// The standby role it moves to (`hot-standby`, `warm-standby`, `cold-standby`).
    pub role: ReplicaRole,
    pub reason: String,
    /// It goes back to the role it had after this many seconds (simulated seconds in the lab).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in_s: Option<u64>,
    /// The preflight the sender saw and confirmed; the lab keeps it in the audit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
// The spec says `additionalProperties: false`: a misspelt field is refused, not ignored.
#[serde(deny_unknown_fields)]
pub struct BorrowRequest {
    /// Id of the shared pool to borrow from.
    pub pool: String,
    /// The standby role the borrowed replica joins as.
    #[serde(default = "warm_standby")]
    pub role: ReplicaRole,
    pub reason: String,
    /// The preflight the sender saw and confirmed; the lab keeps it in the audit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
}

fn warm_standby() -> ReplicaRole {
    ReplicaRole::WarmStandby
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
// The spec says `additionalProperties: false`: a misspelt field is refused, not ignored.
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    /// Id of the borrowed replica to give back to its pool.
    pub replica: String,
    pub reason: String,
    /// The preflight the sender saw and confirmed; the lab keeps it in the audit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum OperationState {
    Running,
    Succeeded,
    Failed,
}

impl OperationState {
    pub fn word(self) -> &'static str {
        match self {
            OperationState::Running => "running",
            OperationState::Succeeded => "succeeded",
            OperationState::Failed => "failed",
        }
    }
}

/// A command that takes time (a promotion); its progress arrives as SSE event `operation`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Operation {
    pub id: String,
    /// The command that started it, e.g. `promote`.
    pub kind: String,
    /// e.g. `credit-decision/credit-decision-eu-west`.
    pub target: String,
    pub state: OperationState,
    /// 0..1
    pub progress: f64,
    pub message: String,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Expected completion, while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<DateTime<Utc>>,
}

/// The answer to an accepted command: `200`, or `202` when it started an operation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CommandAccepted {
    pub audit_id: u64,
    /// Fleet revision that carries the change.
    pub revision: u64,
    /// The target's control revision after the change.
    pub control_revision: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// Things the operator should know, e.g. "replication lag 4.5s: recent writes may be lost".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Present when the source's two-person rule holds the command for a second operator
    /// (answered `202`): nothing changed yet; the request says who may decide and until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_approval: Option<Box<ApprovalRequest>>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum AuditOutcome {
    /// Applied (or, for an operation, started).
    Accepted,
    /// Refused: stale revision, bad request, forbidden.
    Rejected,
    /// A timed control reverted by itself, or an operation ended.
    Reverted,
    Succeeded,
    Failed,
    /// Held for a second operator's approval (two-person rule): nothing changed yet.
    Held,
}

impl AuditOutcome {
    pub fn word(self) -> &'static str {
        match self {
            AuditOutcome::Accepted => "accepted",
            AuditOutcome::Rejected => "rejected",
            AuditOutcome::Reverted => "reverted",
            AuditOutcome::Succeeded => "succeeded",
            AuditOutcome::Failed => "failed",
            AuditOutcome::Held => "held for approval",
        }
    }
}

/// One line of the append-only audit log: who did what to which target, why, and how it went.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub id: u64,
    pub at: DateTime<Utc>,
    /// Operator name, or `system` for expiries and automation.
    pub actor: String,
    /// e.g. `drain`, `promote`, `breaker force-open`, `degrade serve-cache on`.
    pub action: String,
    pub target: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    pub outcome: AuditOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What the console's preflight said when the actor confirmed, as the command carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
}

/// The preflight the sender saw and confirmed, carried by a command (field `preflight`) so
/// that the audit log, exercise scores and approvers know what was known and overridden.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PreflightSeen {
    pub verdict: PreflightVerdict,
    /// The findings as shown, e.g. "us-west would run at 130% of capacity".
    #[serde(default)]
    pub findings: Vec<String>,
    /// A blocking preflight was overridden (FORCE in the console, `--force` in the CLI).
    #[serde(default)]
    pub forced: bool,
    /// Set by a sender whose own two-person rule (a context's policy in its config) asks for
    /// a second approver: why. The source holds the command as one its own policy names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_approval: Option<String>,
    /// With `needs_approval`: how long the sender's policy lets the request wait for a
    /// decision (its `expires_after_s`); the source holds it no longer than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_expires_after_s: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum PreflightVerdict {
    Ok,
    Warn,
    Block,
}

impl PreflightSeen {
    /// Sent against the preflight's advice: forced past a block or confirmed over warnings.
    pub fn is_risky(&self) -> bool {
        self.forced || self.verdict != PreflightVerdict::Ok
    }
}

/// `GET /v1/audit`
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` to get older entries; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalState {
    Pending,
    /// Approved and executed.
    Approved,
    Denied,
    Withdrawn,
    Expired,
    /// Approved, but the command could not run (its target changed: `409`).
    Failed,
}

impl ApprovalState {
    pub fn word(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending approval",
            ApprovalState::Approved => "approved",
            ApprovalState::Denied => "denied",
            ApprovalState::Withdrawn => "withdrawn",
            ApprovalState::Expired => "expired",
            ApprovalState::Failed => "failed",
        }
    }
}

/// A confirmed command waiting for (or decided by) a second operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ApprovalRequest {
    /// E.g. `apr-000001`.
    pub id: String,
    pub state: ApprovalState,
    /// Verb as in the audit log, e.g. `drain`.
    pub action: String,
    pub target: String,
    /// The command's endpoint path and JSON body, as sent.
    pub path: String,
    pub body: serde_json::Value,
    pub idempotency_key: String,
    pub if_match: u64,
    pub requested_by: String,
    pub reason: String,
    /// Why the policy asks for a second approver.
    pub why_approval: String,
    /// What the requester's preflight said when they confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightSeen>,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// Who approved, denied or withdrew a request, why and when, and what came of it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Decision {
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// For an approval: the command's audit id, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /v1/approvals`
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ApprovalList {
    pub requests: Vec<ApprovalRequest>,
}

/// Body of approve, deny and withdraw.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub reason: String,
}
