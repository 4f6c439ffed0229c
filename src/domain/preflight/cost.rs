//! The cost and error-budget effect of a command (issue 15), added to its preflight: what the
//! load moving between providers costs by their prices, what a promotion changes in replica
//! spend, what a degraded mode spares or defers and what it does to answers, and which
//! services' budgets the traffic left without a path (or shed by an overload) would burn.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{MIN_SHIFT_RPS, Preflight};
use crate::domain::command::Command;
use crate::domain::cost::{CostReport, SloReads};
use crate::domain::prices::CostConfig;
use protocol::model::{CACHE_HIT_SHARE, NON_URGENT_SHARE, WRITE_SHARE};
use protocol::{DegradedModeKind, FleetSnapshot};

const SECONDS_PER_HOUR: f64 = 3600.0;

/// One part of a command's effect on spend.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct CostChange {
    /// What changes, in words (`openai@us-east +30 rps at $0.015/1k tokens`).
    pub what: String,
    /// Money per hour (negative: a saving); `None` when a price or a count is unknown.
    pub per_hour: Option<f64>,
    /// What it does besides spend (stale answers, a smaller model, deferred work).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A service whose requests would fail after the command, and what that does to its budget.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct BudgetRisk {
    pub service: String,
    /// Share of its requests that would fail (0..1).
    pub failing: f64,
    /// `None` when its SLO is unknown.
    pub burn_rate: Option<f64>,
    pub budget_left: Option<f64>,
    /// Seconds until its budget is spent at that burn.
    pub exhausted_in_s: Option<f64>,
    /// Its downtime cost and its dependents' per minute.
    pub blast_cost_per_min: f64,
}

/// Adds the command's cost and budget effect to `preflight`; budgets the fleet does not report
/// are taken from what the context's metrics sources measure (`measured`).
pub fn add_cost_effect(
    preflight: &mut Preflight,
    command: &Command,
    snapshot: &FleetSnapshot,
    config: &CostConfig,
    measured: &[SloReads],
) {
    if !knows_any_price(snapshot, config) {
        return;
    }
    let report = CostReport::of(snapshot, config, measured);
    let mut changes = provider_shifts(preflight, snapshot, &report, config);
    match command {
        Command::Promote { service, replica } => {
            changes.extend(promotion(snapshot, service, replica, &report))
        }
        Command::Degrade {
            service,
            mode,
            enabled,
            ..
        } => changes.push(degraded_mode(&report, service, *mode, *enabled)),
        _ => {}
    }
    preflight.cost_per_hour = (!changes.is_empty())
        .then(|| {
            changes
                .iter()
                .try_fold(0.0, |sum, c| Some(sum + c.per_hour?))
        })
        .flatten();
    preflight.cost_changes = changes;
    preflight.budget_risks = budgets_at_risk(preflight, snapshot, &report);
}

/// Whether the source or the config prices anything: a fleet nobody prices has no cost
/// effect to tell, rather than a line of unknowns for each move.
fn knows_any_price(snapshot: &FleetSnapshot, config: &CostConfig) -> bool {
    !config.prices_per_1k_tokens.is_empty()
        || !config.services.is_empty()
        || snapshot
            .providers
            .iter()
            .any(|p| p.price_per_1k_tokens.is_some())
        || snapshot.services.iter().any(|s| s.posture.is_some())
}

/// Model calls moving between providers, priced by each provider's price and the tokens of
/// the calls: a provider that loses calls loses its current mix of services; the calls others
/// gain are the ones that moved, so they carry the tokens of what was lost (a provider's own
/// mix only when nothing is lost, e.g. an undrain).
fn provider_shifts(
    preflight: &Preflight,
    snapshot: &FleetSnapshot,
    report: &CostReport,
    config: &CostConfig,
) -> Vec<CostChange> {
    let moves: Vec<(&str, f64, Option<f64>)> = (preflight.providers.iter())
        .map(|shift| {
            let moved = shift.load_after_rps - shift.load_before_rps;
            (
                shift.provider.as_str(),
                moved,
                tokens_at(snapshot, report, &shift.provider),
            )
        })
        .filter(|(_, moved, _)| moved.abs() > MIN_SHIFT_RPS)
        .collect();
    let (lost_tokens, lost_calls) = (moves.iter())
        .filter(|(_, moved, _)| *moved < 0.0)
        .filter_map(|(_, moved, tokens)| Some((tokens.as_ref()? * -moved, -moved)))
        .fold((0.0, 0.0), |(t, c), (tokens, calls)| {
            (t + tokens, c + calls)
        });
    let moving_tokens = (lost_calls > 0.0).then(|| lost_tokens / lost_calls);
    moves
        .into_iter()
        .map(|(provider, moved, own_tokens)| {
            let price = (snapshot.providers.iter())
                .find(|p| p.id == provider)
                .and_then(|p| p.price_per_1k_tokens)
                .or_else(|| config.price(provider));
            let tokens = if moved > 0.0 {
                moving_tokens.or(own_tokens)
            } else {
                own_tokens
            };
            let priced = match (price, tokens) {
                (Some(price), Some(_)) => format!("at ${price}/1k tokens"),
                (None, _) => "price unknown".to_string(),
                (_, None) => "tokens per request unknown".to_string(),
            };
            CostChange {
                what: format!("{provider} {moved:+.0} rps {priced}"),
                per_hour: price
                    .zip(tokens)
                    .map(|(price, tokens)| price / 1000.0 * tokens * moved * SECONDS_PER_HOUR),
                note: None,
            }
        })
        .collect()
}

/// A promoted standby costs an active replica's price from then on; the replaced active
/// becomes a hot standby, which costs the same as it did.
fn promotion(
    snapshot: &FleetSnapshot,
    service: &str,
    replica: &str,
    report: &CostReport,
) -> Option<CostChange> {
    let standby = (snapshot.services.iter())
        .find(|s| s.id == service)
        .and_then(|s| s.replicas.iter().find(|r| r.id == replica))?;
    let shares = &snapshot.standby_shares;
    let per_hour = report
        .service(service)
        .and_then(|s| s.replica_cost_per_hour)
        .map(|cost| cost - shares.replica_per_hour(standby.role, cost));
    Some(CostChange {
        what: format!("{replica} runs as active (a {} now)", standby.role.word()),
        per_hour,
        note: None,
    })
}

/// What a degraded mode spares or gives back, and what it does to answers.
fn degraded_mode(
    report: &CostReport,
    service: &str,
    mode: DegradedModeKind,
    enabled: bool,
) -> CostChange {
    let paths = report.service(service).and_then(|s| s.spend.paths_per_hour);
    // The share of model calls the mode takes away while on.
    let (share, note) = match mode {
        DegradedModeKind::ServeCache => {
            (Some(CACHE_HIT_SHARE), "answers from the cache may be stale")
        }
        DegradedModeKind::QueueNonUrgent => (
            Some(NON_URGENT_SHARE),
            "non-urgent work waits: its spend is deferred, not saved",
        ),
        DegradedModeKind::ReadOnly => (Some(WRITE_SHARE), "writes are refused"),
        DegradedModeKind::HumanOnly => (Some(1.0), "people answer every request"),
        DegradedModeKind::FallbackModel => (
            None,
            "a smaller model answers: lower quality; the spend follows its price, which the fleet does not report",
        ),
    };
    let per_hour = share.zip(paths).map(|(share, spend)| {
        if enabled {
            -share * spend
        } else {
            // Off: the calls it spared come back, out of what runs while it is on.
            share * spend / (1.0 - share).max(f64::EPSILON)
        }
    });
    CostChange {
        what: format!(
            "{service} {} {}",
            mode.word(),
            if enabled { "on" } else { "off" }
        ),
        per_hour,
        note: Some(note.to_string()),
    }
}

/// Services whose traffic would fail (no path) or be shed (overloaded region), and the burn.
fn budgets_at_risk(
    preflight: &Preflight,
    snapshot: &FleetSnapshot,
    report: &CostReport,
) -> Vec<BudgetRisk> {
    let mut failing: BTreeMap<&str, f64> = BTreeMap::new();
    for lost in &preflight.no_path {
        let share = match &lost.region {
            None => 1.0,
            Some(region) => region_share(snapshot, &lost.service, region),
        };
        *failing.entry(lost.service.as_str()).or_default() += share;
    }
    let overloaded = (preflight.regions.iter()).filter(|r| r.load_after_rps > r.capacity_rps);
    for region in overloaded {
        let shed = 1.0 - region.capacity_rps / region.load_after_rps;
        for service in &snapshot.services {
            let share = region_share(snapshot, &service.id, &region.region);
            if share > 0.0 {
                *failing.entry(service.id.as_str()).or_default() += shed * share;
            }
        }
    }
    failing
        .into_iter()
        .filter_map(|(service, share)| {
            let cost = report.service(service)?;
            let failing = share.min(1.0);
            let burn_rate = cost.slo.map(|slo| slo.burn_rate(failing));
            let exhausted_in_s = cost
                .slo
                .zip(burn_rate)
                .and_then(|(slo, burn)| slo.exhausted_in_s(cost.budget_left.unwrap_or(1.0), burn));
            Some(BudgetRisk {
                service: service.to_string(),
                failing,
                burn_rate,
                budget_left: cost.budget_left,
                exhausted_in_s,
                blast_cost_per_min: cost.blast_cost_per_min,
            })
        })
        .collect()
}

/// The share of `service`'s traffic its replicas in `region` carry now.
fn region_share(snapshot: &FleetSnapshot, service: &str, region: &str) -> f64 {
    let total = load_in(snapshot, service, |_| true);
    if total > 0.0 {
        load_in(snapshot, service, |r| r == region) / total
    } else {
        0.0
    }
}

fn load_in(snapshot: &FleetSnapshot, service: &str, keep: impl Fn(&str) -> bool) -> f64 {
    (snapshot.services.iter())
        .filter(|s| s.id == service)
        .flat_map(|s| &s.replicas)
        .filter(|r| keep(&r.region))
        .map(|r| r.load_rps)
        .sum()
}

/// Tokens per request of the calls `provider` serves: the services routed to it, weighted by
/// the traffic they send it now (equally while it idles); `None` when none is known.
fn tokens_at(snapshot: &FleetSnapshot, report: &CostReport, provider: &str) -> Option<f64> {
    let (mut weighted, mut weight, mut plain, mut count) = (0.0, 0.0, 0.0, 0.0);
    for gateway in &snapshot.gateways {
        for route in gateway.routes.iter().filter(|r| r.provider == provider) {
            let Some(tokens) = report
                .service(&route.service)
                .and_then(|s| s.tokens_per_request)
            else {
                continue;
            };
            let calls = load_in(snapshot, &route.service, |r| r == gateway.region) * route.share;
            (weighted, weight) = (weighted + tokens * calls, weight + calls);
            (plain, count) = (plain + tokens, count + 1.0);
        }
    }
    if weight > 0.0 {
        Some(weighted / weight)
    } else {
        (count > 0.0).then(|| plain / count)
    }
}
