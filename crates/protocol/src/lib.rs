//! Protocol v1, shared by the console's client and the lab's server: the wire types, the
//! endpoint table, the commands, and the rules of the fleet model both sides apply.
//!
//! The OpenAPI description of these types lives in `docs/openapi.yaml`; the lab's
//! tests check that the server's answers and routes keep to it.

pub mod approvals;
pub mod command;
pub mod commands;
pub mod duration;
pub mod endpoints;
pub mod escalations;
pub mod exercise;
pub mod model;
pub mod posture;
pub mod readiness;
pub mod request_body;
pub mod runbook_runs;
pub mod sanitize;
pub mod source_text;
pub mod wire_time;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use commands::{Operation, TimedControl};

/// Media type of error bodies (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Health of a region, provider or service, as judged by whoever reports it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Ok,
    Degraded,
    Down,
    Unknown,
}

impl Health {
    pub fn word(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Degraded => "degraded",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }

    /// A symbol that tells the state without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Health::Ok => "●",
            Health::Degraded => "▲",
            Health::Down => "✖",
            Health::Unknown => "?",
        }
    }

    /// How bad a state is, for "worst of" aggregation; unknown ranks below down
    /// so that a blind spot never hides an outage.
    pub fn severity(self) -> u8 {
        match self {
            Health::Ok => 0,
            Health::Unknown => 1,
            Health::Degraded => 2,
            Health::Down => 3,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Region {
    pub id: String,
    pub health: Health,
    pub latency: Latency,
    /// Share of requests that failed (0..1), 429s excluded.
    pub error_rate: f64,
    /// Share of requests answered 429 (0..1).
    pub rate_limited_rate: f64,
    pub capacity_rps: f64,
    pub load_rps: f64,
    /// Share of the whole fleet's traffic this region serves (0..1).
    pub traffic_share: f64,
    /// Set while the region is drained: its traffic goes to the other regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<TimedControl>,
    /// Revision of the region's control state (drain); commands send it as `If-Match`.
    #[serde(default)]
    pub control_revision: u64,
}

impl Region {
    /// Spare capacity as a share of capacity; negative when overloaded.
    pub fn headroom(&self) -> f64 {
        if self.capacity_rps <= 0.0 {
            return 0.0;
        }
        1.0 - self.load_rps / self.capacity_rps
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn word(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Breaker {
    pub state: BreakerState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When an open breaker will next try half-open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// A model endpoint at a region, e.g. `openai@us-east` serving `gpt-4o`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Provider {
    /// `<vendor>@<region>`
    pub id: String,
    pub vendor: String,
    pub model: String,
    pub region: String,
    pub health: Health,
    pub latency: Latency,
    pub error_rate: f64,
    pub rate_limited_rate: f64,
    pub breaker: Breaker,
    /// Share of the provider's rate limit still unused (0..1).
    pub rate_limit_headroom: f64,
    /// The rate limit in force (rps), when the source knows it; without it a client can
    /// only infer the limit from load and headroom, and not at all while the provider idles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_rps: Option<f64>,
    pub cost_tier: String,
    /// Price per 1,000 model tokens, when the source knows it (money of the fleet's prices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_1k_tokens: Option<f64>,
    pub load_rps: f64,
    /// Share of its region's traffic this provider serves (0..1).
    pub traffic_share: f64,
    /// Set while an operator holds the breaker open by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<TimedControl>,
    /// Set while the automatic breaker may not trip this provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<TimedControl>,
    /// Revision of the provider's control state (breaker, quarantine, pin).
    #[serde(default)]
    pub control_revision: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Route {
    pub service: String,
    pub provider: String,
    /// 1 is preferred; a higher rank takes traffic only when all lower ranks are unusable.
    pub rank: u32,
    pub weight: f64,
    /// Share of the service's traffic at this gateway that the route carries now.
    pub share: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Fallback {
    pub at: DateTime<Utc>,
    pub service: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// The gateway of one region: how it routes each service's traffic to providers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Gateway {
    pub id: String,
    pub region: String,
    pub routes: Vec<Route>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fallback: Option<Fallback>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum RedundancyTier {
    ActiveActive,
    ActivePassive,
    NPlusOne,
    DegradedOnly,
}

impl RedundancyTier {
    pub fn word(self) -> &'static str {
        match self {
            RedundancyTier::ActiveActive => "active-active",
            RedundancyTier::ActivePassive => "active-passive",
            RedundancyTier::NPlusOne => "N+1",
            RedundancyTier::DegradedOnly => "degraded-only",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicaRole {
    Active,
    HotStandby,
    WarmStandby,
    ColdStandby,
}

impl ReplicaRole {
    pub fn word(self) -> &'static str {
        match self {
            ReplicaRole::Active => "active",
            ReplicaRole::HotStandby => "hot standby",
            ReplicaRole::WarmStandby => "warm standby",
            ReplicaRole::ColdStandby => "cold standby",
        }
    }

    pub fn is_standby(self) -> bool {
        self != ReplicaRole::Active
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Replica {
    pub id: String,
    pub region: String,
    pub role: ReplicaRole,
    /// Whether the replica could take traffic right now.
    pub ready: bool,
    pub replication_lag_s: f64,
    pub capacity_rps: f64,
    pub load_rps: f64,
    /// Seconds until it would serve if promoted now, by the source's own failover policy;
    /// absent when the source does not say (readers then assume [`model::TakeoverTimes`]'s
    /// defaults and say so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub takeover_s: Option<f64>,
    /// Set while the replica holds a standby role for a while (`standby ... --for`): the
    /// role it goes back to, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_role: Option<readiness::TimedRole>,
    /// The shared pool it was borrowed from, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum DegradedModeKind {
    ServeCache,
    FallbackModel,
    QueueNonUrgent,
    ReadOnly,
    HumanOnly,
}

impl DegradedModeKind {
    pub const ALL: [DegradedModeKind; 5] = [
        DegradedModeKind::ServeCache,
        DegradedModeKind::FallbackModel,
        DegradedModeKind::QueueNonUrgent,
        DegradedModeKind::ReadOnly,
        DegradedModeKind::HumanOnly,
    ];

    pub fn word(self) -> &'static str {
        match self {
            DegradedModeKind::ServeCache => "serve-cache",
            DegradedModeKind::FallbackModel => "fallback-model",
            DegradedModeKind::QueueNonUrgent => "queue-non-urgent",
            DegradedModeKind::ReadOnly => "read-only",
            DegradedModeKind::HumanOnly => "human-only",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DegradedMode {
    pub mode: DegradedModeKind,
    /// Who set it, why, since when and until when: on the wire, members of this object.
    #[serde(flatten)]
    pub control: TimedControl,
}

/// A workflow step or micro-agent with its redundancy tier and replicas.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Service {
    pub id: String,
    pub tier: RedundancyTier,
    pub health: Health,
    pub demand_rps: f64,
    pub replicas: Vec<Replica>,
    #[serde(default)]
    pub degraded_modes: Vec<DegradedMode>,
    /// Traffic weights across regions set by an operator; empty: spread by capacity.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub region_weights: BTreeMap<String, f64>,
    /// Revision of the service's control state (roles, degraded modes, weights).
    #[serde(default)]
    pub control_revision: u64,
    /// Criticality, SLO and budget, costs and dependencies, when the source knows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posture: Option<posture::Posture>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Operator {
    pub name: String,
    pub role: Role,
    pub on_call: bool,
    /// Connected with a console right now.
    pub online: bool,
    #[serde(default)]
    pub claimed: Vec<String>,
}

/// What `GET /v1/whoami` answers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct WhoAmI {
    pub name: String,
    pub role: Role,
}

/// A scenario inject or other notable fleet happening, for the timeline.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Notice {
    pub at: DateTime<Utc>,
    pub text: String,
}

/// Facts about a lab server, absent for real fleets.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LabInfo {
    pub seed: u64,
    pub speed: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// Simulated seconds since the lab started.
    pub sim_elapsed_s: f64,
}

impl LabInfo {
    /// A lab faster or slower than real time runs its own clock: its times (events,
    /// deadlines, audit entries) are simulated, not UTC.
    pub fn runs_own_time(&self) -> bool {
        self.speed != 1.0
    }
}

/// `GET /v1/fleet`; the default is an empty fleet.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FleetSnapshot {
    pub revision: u64,
    pub generated_at: DateTime<Utc>,
    pub regions: Vec<Region>,
    pub providers: Vec<Provider>,
    pub gateways: Vec<Gateway>,
    pub services: Vec<Service>,
    #[serde(default)]
    pub notices: Vec<Notice>,
    /// Operations running now or finished recently.
    #[serde(default)]
    pub operations: Vec<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<LabInfo>,
    /// Shared pools of replicas that services borrow from (absent from older servers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<readiness::Pool>,
    /// How long this fleet takes to warm or cool a standby; absent: the source does not say
    /// (readers then assume [`readiness::ReadinessTimes`]'s defaults and say so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<readiness::ReadinessTimes>,
    /// What standbys cost as a share of an active replica, by readiness.
    #[serde(default)]
    pub standby_shares: posture::StandbyShares,
}

/// Objects that changed in one revision; sent as SSE event `fleet.delta`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FleetDelta {
    pub revision: u64,
    pub generated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<Region>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<Provider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<Gateway>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<LabInfo>,
    /// Shared pools whose loans changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<readiness::Pool>,
}

impl FleetDelta {
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
            && self.providers.is_empty()
            && self.gateways.is_empty()
            && self.services.is_empty()
            && self.notices.is_empty()
            && self.operations.is_empty()
            && self.pools.is_empty()
    }
}

/// `value` to `decimals` places: what a figure is written with on the wire. A short decimal
/// reads back as the very same `f64` (serde_json's parser is exact for it, not for the 17
/// digits of an arbitrary sum), so that a report re-derived from a recording equals the one a
/// server sent.
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// SSE event names of `GET /v1/events`.
pub mod event_name {
    /// Data: [`super::FleetDelta`]; `id:` is its revision.
    pub const FLEET_DELTA: &str = "fleet.delta";
    /// Data: [`super::Resnapshot`]; the client must fetch `/v1/fleet` again.
    pub const RESNAPSHOT: &str = "resnapshot";
    /// Data: [`super::OperatorsChanged`].
    pub const OPERATORS: &str = "operators";
    /// Data: [`super::commands::AuditEntry`], each new entry of the audit log.
    pub const AUDIT: &str = "audit";

    /// Every event name of `/v1/events`, the escalations', runbook runs' and exercise's included
    /// (docs/openapi.yaml models each; a test holds the two together).
    pub const ALL: [&str; 11] = [
        FLEET_DELTA,
        RESNAPSHOT,
        OPERATORS,
        AUDIT,
        crate::escalations::EVENT_NEW,
        crate::escalations::EVENT_CLAIMED,
        crate::escalations::EVENT_RELEASED,
        crate::escalations::EVENT_RESOLVED,
        crate::runbook_runs::EVENT_RUN,
        crate::approvals::EVENT_APPROVAL,
        crate::exercise::EVENT_CHANGED,
    ];
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Resnapshot {
    pub revision: u64,
    pub reason: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct OperatorsChanged {
    pub revision: u64,
    pub operators: Vec<Operator>,
}

/// What `GET /v1/health` answers: the server is up. Needs no authentication.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Liveness {
    /// Always "ok" when the server answers.
    pub status: String,
    /// Version of the protocol served (1).
    pub protocol: u32,
}

/// An RFC 9457 problem document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Problem {
    #[serde(rename = "type", default = "Problem::default_type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Extension members, e.g. `current` (the object as it is now) on a 409.
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    fn default_type() -> String {
        "about:blank".to_string()
    }

    pub fn new(status: u16, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            problem_type: Self::default_type(),
            title: title.to_string(),
            status,
            detail: Some(detail.into()),
            instance: None,
            extensions: serde_json::Map::new(),
        }
    }
}
