//! What a person sends about an escalation (claim, release, resolve) and what an accepted
//! resolution answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::EscalationSummary;
use crate::request_body::present;

/// `POST /v1/escalations/{id}/claim`
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// Lease length, [`MIN_LEASE_S`](super::MIN_LEASE_S)..=[`MAX_LEASE_S`](super::MAX_LEASE_S); [`DEFAULT_LEASE_S`](super::DEFAULT_LEASE_S) when absent.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub lease_s: Option<u64>,
}

/// `POST /v1/escalations/{id}/release`
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub note: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ResolutionKind {
    Approve,
    Submit,
    Reject,
    Abort,
    Retry,
    Handoff,
}

impl ResolutionKind {
    pub fn word(self) -> &'static str {
        match self {
            ResolutionKind::Approve => "approve",
            ResolutionKind::Submit => "submit",
            ResolutionKind::Reject => "reject",
            ResolutionKind::Abort => "abort",
            ResolutionKind::Retry => "retry",
            ResolutionKind::Handoff => "handoff",
        }
    }
}

/// What a person decides. The Update's argument in Temporal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Resolution {
    /// Accept a candidate output as is; the workflow resumes from its checkpoint with it.
    Approve { candidate: String },
    /// Use this output instead (edited from a candidate, or written from scratch).
    Submit {
        output: String,
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        based_on: Option<String>,
    },
    /// Refuse the task's outputs; the workflow takes its rejection path.
    Reject { reason: String },
    /// Cancel the workflow.
    Abort,
    /// Run the step again through this path; unset parts are left to the gateway.
    /// `provider` is a vendor (`anthropic`) or a provider id (`anthropic@us-west`).
    Retry {
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        model: Option<String>,
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        provider: Option<String>,
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        region: Option<String>,
    },
    /// Give the task to another operator of the roster; it stays pending, assigned to them.
    Handoff { to: String },
}

impl Resolution {
    pub fn kind(&self) -> ResolutionKind {
        match self {
            Resolution::Approve { .. } => ResolutionKind::Approve,
            Resolution::Submit { .. } => ResolutionKind::Submit,
            Resolution::Reject { .. } => ResolutionKind::Reject,
            Resolution::Abort => ResolutionKind::Abort,
            Resolution::Retry { .. } => ResolutionKind::Retry,
            Resolution::Handoff { .. } => ResolutionKind::Handoff,
        }
    }
}

/// `POST /v1/escalations/{id}/resolve`, with an `Idempotency-Key` header.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub resolution: Resolution,
    /// Required and non-empty: why, for the next person and the audit log.
    pub note: String,
}

/// A resolution as applied.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AppliedResolution {
    pub resolution: Resolution,
    pub note: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub idempotency_key: String,
}

/// The answer to an accepted resolve; a replay with the same key answers it again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ResolveOutcome {
    /// The escalation right after the resolution.
    pub escalation: EscalationSummary,
    pub applied: AppliedResolution,
    /// What happens to the workflow now, in one line.
    pub consequence: String,
}
