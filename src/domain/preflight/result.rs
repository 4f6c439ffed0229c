//! What a preflight tells: the shifts of load, the takeover, the traffic left without a path,
//! and whether that blocks the command.

use serde::Serialize;

use protocol::ReplicaRole;
use protocol::commands::{PreflightSeen, PreflightVerdict};

/// Headroom below this share of capacity is shown as low.
pub const LOW_HEADROOM: f64 = 0.2;
/// Moves smaller than this (requests per second) are rounding noise of the snapshot.
pub const MIN_SHIFT_RPS: f64 = 0.05;

/// How a target's headroom looks after the move.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Ok,
    /// Under [`LOW_HEADROOM`] of capacity left.
    Low,
    /// More load than capacity.
    Overload,
}

impl Verdict {
    pub fn of(headroom: f64) -> Verdict {
        if headroom < 0.0 {
            Verdict::Overload
        } else if headroom < LOW_HEADROOM {
            Verdict::Low
        } else {
            Verdict::Ok
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Low => "low",
            Verdict::Overload => "overload",
        }
    }
}

/// A region whose load the command changes.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct RegionShift {
    pub region: String,
    /// Share of the fleet's traffic (0..1).
    pub share_before: f64,
    pub share_after: f64,
    pub load_before_rps: f64,
    pub load_after_rps: f64,
    pub capacity_rps: f64,
    /// 1 - load / capacity after the move; negative when overloaded.
    pub headroom_after: f64,
    pub verdict: Verdict,
}

/// A replica of a service whose load the command changes.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ReplicaShift {
    pub service: String,
    pub replica: String,
    pub region: String,
    pub load_before_rps: f64,
    pub load_after_rps: f64,
    pub capacity_rps: f64,
    pub headroom_after: f64,
    pub verdict: Verdict,
}

/// A provider whose load the command changes.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ProviderShift {
    pub provider: String,
    pub region: String,
    pub load_before_rps: f64,
    pub load_after_rps: f64,
    /// The rate limit as the snapshot reveals it (load and headroom); unknown while idle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_rps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headroom_after: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

/// The standby a promotion makes active.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Takeover {
    pub service: String,
    pub replica: String,
    pub region: String,
    pub role: ReplicaRole,
    pub ready: bool,
    pub replication_lag_s: f64,
    /// How long until it serves, by its temperature and readiness (see [`TakeoverTimes::expected_s`](protocol::model::TakeoverTimes::expected_s)).
    pub expected_takeover_s: f64,
    /// The active replicas it replaces (they become hot standbys).
    pub replaces: Vec<String>,
}

/// Traffic that would be left with nowhere healthy to go.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct NoPath {
    pub service: String,
    /// The region whose gateway loses its last healthy provider; absent when the whole
    /// service would have no replica to serve it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub why: String,
}

/// What a command would do, as far as the snapshot tells.
#[derive(Serialize, Clone, Debug, PartialEq, Default)]
pub struct Preflight {
    /// The command and its effect in words.
    pub summary: String,
    /// Whether it moves traffic (and so may be blocked by what it would do).
    pub moves_traffic: bool,
    pub regions: Vec<RegionShift>,
    pub replicas: Vec<ReplicaShift>,
    pub providers: Vec<ProviderShift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub takeover: Option<Takeover>,
    /// What warming, cooling, borrowing or giving back a replica does to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness: Option<super::ReadinessChange>,
    pub no_path: Vec<NoPath>,
    /// Targets that would take more traffic than they can, in words.
    pub overloads: Vec<String>,
    pub warnings: Vec<String>,
    /// Why the command does not fit this fleet (unknown target, bad weights).
    pub errors: Vec<String>,
    /// What it does to spend per hour in all; `None` when a part is unpriced or nothing moves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_hour: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cost_changes: Vec<super::CostChange>,
    /// Services whose requests would fail, and how fast that spends their error budget.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub budget_risks: Vec<super::BudgetRisk>,
}

impl Preflight {
    /// Providers the command sends more traffic to whose rate limit nobody knows: their
    /// headroom cannot be judged, so the preflight must not call it kept.
    pub fn unjudged_providers(&self) -> Vec<&str> {
        self.providers
            .iter()
            .filter(|p| p.verdict.is_none() && p.load_after_rps > p.load_before_rps + MIN_SHIFT_RPS)
            .map(|p| p.provider.as_str())
            .collect()
    }

    /// Whether the command should not be sent without an explicit override: it does not fit
    /// the fleet, or it moves traffic onto something it would overload or leaves traffic
    /// with no healthy path. Commands that do not move traffic never block on what they do.
    pub fn blocks(&self) -> bool {
        !self.errors.is_empty()
            || (self.moves_traffic && !(self.no_path.is_empty() && self.overloads.is_empty()))
    }

    /// Targets that take more traffic and would be overloaded by it, in words.
    pub(super) fn find_overloads(&self) -> Vec<String> {
        let overloaded =
            |kind: &str, name: &str, before: f64, after: f64, capacity: f64, verdict: Verdict| {
                (verdict == Verdict::Overload && gains(before, after)).then(|| {
                    format!(
                        "{kind} {name} at {:.0}% of capacity ({after:.0} of {capacity:.0} rps)",
                        100.0 * after / capacity
                    )
                })
            };
        let regions = self.regions.iter().filter_map(|r| {
            overloaded(
                "region",
                &r.region,
                r.load_before_rps,
                r.load_after_rps,
                r.capacity_rps,
                r.verdict,
            )
        });
        let replicas = self.replicas.iter().filter_map(|r| {
            overloaded(
                "replica",
                &r.replica,
                r.load_before_rps,
                r.load_after_rps,
                r.capacity_rps,
                r.verdict,
            )
        });
        let providers = self
            .providers
            .iter()
            .filter(|p| {
                p.verdict == Some(Verdict::Overload) && gains(p.load_before_rps, p.load_after_rps)
            })
            .map(|p| {
                format!(
                    "provider {} over its rate limit ({:.0} of {:.0} rps)",
                    p.provider,
                    p.load_after_rps,
                    p.rate_limit_rps.unwrap_or_default()
                )
            });
        regions.chain(replicas).chain(providers).collect()
    }

    /// The preflight as the sender saw and confirmed it, for the command to carry:
    /// `forced` (FORCE, `--force`) counts only when it blocked.
    pub fn seen(&self, forced: bool) -> PreflightSeen {
        let blocks = self.blocks();
        let mut findings = self.blocking_reasons();
        findings.extend(self.warnings.iter().cloned());
        let verdict = if blocks {
            PreflightVerdict::Block
        } else if findings.is_empty() {
            PreflightVerdict::Ok
        } else {
            PreflightVerdict::Warn
        };
        PreflightSeen {
            verdict,
            findings,
            forced: forced && blocks,
            needs_approval: None,
            approval_expires_after_s: None,
        }
    }

    /// Why it blocks, one reason a line; empty when it does not.
    pub fn blocking_reasons(&self) -> Vec<String> {
        if !self.blocks() {
            return Vec::new();
        }
        let no_path = self.no_path.iter().map(|n| match &n.region {
            Some(region) => format!("{} at {region}: {}", n.service, n.why),
            None => format!("{}: {}", n.service, n.why),
        });
        self.errors
            .iter()
            .cloned()
            .chain(no_path)
            .chain(self.overloads.iter().cloned())
            .collect()
    }
}

fn gains(before: f64, after: f64) -> bool {
    after - before > MIN_SHIFT_RPS
}
