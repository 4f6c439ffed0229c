//! The cost audit of a fleet (issue 15): per service, its criticality, SLO and error budget,
//! blast radius, what its redundancy and provider paths cost per hour and what that buys, and
//! the findings; per fleet, spend by tier, idle standby spend, SPOFs and budgets at risk.
//! Pure: the same figures for the Services view, the Cost view, a preflight and
//! `switchboard cost report`. A source's own figures win; the context's `[cost]` fills the gaps
//! and each figure taken from it is named in `from_config`; a metrics source of the context
//! (Prometheus `[slo]`) fills the SLO, budget and burn a fleet source does not report, named in
//! `measured`, and gives a row of its own to a service no fleet source reports.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fleet::{Freshness, SourceData};
use super::measured::{BurnWindow, ServiceFacts};
use super::prices::CostConfig;
use protocol::model::TakeoverTimes;
use protocol::posture::{
    self, BlastRadius, Criticality, DEFAULT_INCIDENTS_PER_MONTH, DEFAULT_REPAIR_MIN, Finding,
    Posture, ServicePosture, Slo, Spend,
};
use protocol::{FleetSnapshot, Gateway, RedundancyTier, Service};

/// One service's posture and cost, as far as anything knows them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceCost {
    pub service: String,
    /// `None` when no fleet source reports the service (only a metrics source measures it).
    pub tier: Option<RedundancyTier>,
    pub criticality: Option<Criticality>,
    pub slo: Option<Slo>,
    pub budget_left: Option<f64>,
    pub burn_rate_1h: Option<f64>,
    pub burn_rate_6h: Option<f64>,
    /// Seconds until the budget is spent at the 1 h burn rate; `None` when not burning.
    pub exhausted_in_s: Option<f64>,
    pub downtime_cost_per_min: Option<f64>,
    /// What an active replica costs per hour, and the tokens a request uses (source or config).
    pub replica_cost_per_hour: Option<f64>,
    pub tokens_per_request: Option<f64>,
    pub dependents: Vec<String>,
    /// Its own downtime cost and its dependents' per minute (unpriced ones count 0).
    pub blast_cost_per_min: f64,
    pub spend: Spend,
    pub roi: Option<f64>,
    pub findings: Vec<Finding>,
    /// Figures the context's `[cost]` gave because the source did not.
    pub from_config: Vec<String>,
    /// Figures a metrics source measured because the fleet source did not report them.
    pub measured: Option<MeasuredBy>,
}

/// Which metrics source measured a row's SLO figures, when, and whether it is still live.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeasuredBy {
    pub source: String,
    /// The figures taken from it: `SLO`, `budget`, `burn 1h`, `burn 6h`.
    pub figures: Vec<String>,
    /// When the newest of them was evaluated, on the source's clock.
    pub read_at: Option<DateTime<Utc>>,
    /// The source is late or down: the figures are as last read.
    pub stale: bool,
    /// The SLO its `[slo]` measured against when it differs from the row's: the figures are
    /// restated against the row's.
    pub converted_from: Option<Slo>,
}

/// What one metrics source of the context measured of services' SLOs (its `[slo]` table).
#[derive(Clone, Copy, Debug)]
pub struct SloReads<'a> {
    pub source: &'a str,
    pub services: &'a [ServiceFacts],
    /// The source is late or down: its figures are as last read.
    pub stale: bool,
}

impl<'a> SloReads<'a> {
    /// Every metrics source of the context that measures a service, in the context's order.
    pub fn of_context(sources: &'a [SourceData], now: Instant) -> Vec<SloReads<'a>> {
        (sources.iter())
            .filter_map(|source| {
                let services = &source.measured.as_ref()?.services;
                (!services.is_empty()).then(|| SloReads {
                    source: &source.name,
                    services,
                    stale: source.freshness(now) != Freshness::Fresh,
                })
            })
            .collect()
    }

    /// The figures of `service` from the first source measuring it, a live one before a
    /// stale one.
    fn find(reads: &[SloReads<'a>], service: &str) -> Option<(SloReads<'a>, &'a ServiceFacts)> {
        (reads.iter())
            .filter_map(|read| Some((*read, read.services.iter().find(|s| s.service == service)?)))
            .min_by_key(|(read, _)| read.stale)
    }
}

/// What the services of one redundancy tier spend per hour; `None` where one is unpriced.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TierSpend {
    /// `None`: services only a metrics source knows.
    pub tier: Option<RedundancyTier>,
    pub per_hour: Option<f64>,
}

/// The cost audit of one source's fleet.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CostReport {
    pub services: Vec<ServiceCost>,
    pub by_tier: Vec<TierSpend>,
    pub total_per_hour: Option<f64>,
    /// What standbys cost while they serve nothing.
    pub idle_standby_per_hour: Option<f64>,
    pub findings: Vec<Finding>,
}

/// The cost audit of a context, by source index: each fleet source's, then each metrics
/// source's of the services it alone measures (none when a fleet source reports them all).
pub fn context_audit(
    sources: &[SourceData],
    now: Instant,
    config: &CostConfig,
) -> Vec<(usize, CostReport)> {
    let reads = SloReads::of_context(sources, now);
    let fleets: Vec<&FleetSnapshot> = sources.iter().filter_map(|s| s.snapshot.as_ref()).collect();
    let mut audited: BTreeSet<&str> = (fleets.iter())
        .flat_map(|f| f.services.iter().map(|s| s.id.as_str()))
        .collect();
    let mut audits = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        if let Some(snapshot) = &source.snapshot {
            audits.push((index, CostReport::of(snapshot, config, &reads)));
            continue;
        }
        let Some(read) = reads.iter().find(|r| r.source == source.name) else {
            continue;
        };
        // Its services no fleet source reports and no earlier metrics source measured.
        let rows: Vec<ServiceCost> = (read.services.iter())
            .filter(|facts| audited.insert(&facts.service))
            .map(|facts| measured_only(*read, facts, config))
            .collect();
        if !rows.is_empty() {
            audits.push((index, CostReport::of_services(rows)));
        }
    }
    audits
}

impl CostReport {
    /// The audit of one fleet source: its posture's gaps filled from `config`, then its SLO
    /// figures' gaps from what the context's metrics sources measure (`measured`).
    pub fn of(snapshot: &FleetSnapshot, config: &CostConfig, measured: &[SloReads]) -> CostReport {
        CostReport::of_services(service_costs(snapshot, config, measured))
    }

    fn of_services(services: Vec<ServiceCost>) -> CostReport {
        let sum = |part: fn(&ServiceCost) -> Option<f64>, keep: &dyn Fn(&ServiceCost) -> bool| {
            (services.iter().filter(|s| keep(s))).try_fold(0.0, |total, s| Some(total + part(s)?))
        };
        let mut tiers: Vec<Option<RedundancyTier>> = Vec::new();
        for service in &services {
            if !tiers.contains(&service.tier) {
                tiers.push(service.tier);
            }
        }
        let by_tier = (tiers.into_iter())
            .map(|tier| TierSpend {
                tier,
                per_hour: sum(|s| s.spend.total_per_hour(), &|s| s.tier == tier),
            })
            .collect();
        CostReport {
            by_tier,
            total_per_hour: sum(|s| s.spend.total_per_hour(), &|_| true),
            idle_standby_per_hour: sum(|s| s.spend.standbys_per_hour, &|_| true),
            findings: services.iter().flat_map(|s| s.findings.clone()).collect(),
            services,
        }
    }

    pub fn service(&self, id: &str) -> Option<&ServiceCost> {
        self.services.iter().find(|s| s.service == id)
    }
}

/// Every service of the snapshot, its posture's gaps filled from `config`, then its SLO
/// figures' from `measured`.
pub fn service_costs(
    snapshot: &FleetSnapshot,
    config: &CostConfig,
    measured: &[SloReads],
) -> Vec<ServiceCost> {
    let mut from_config: Vec<Vec<String>> = Vec::new();
    let effective: Vec<Service> = (snapshot.services.iter())
        .map(|service| {
            let (posture, used) = effective_posture(service, config);
            from_config.push(used);
            Service {
                posture,
                ..service.clone()
            }
        })
        .collect();
    (effective.iter().zip(&snapshot.services).zip(from_config))
        .map(|((service, reported), mut used)| {
            let priced_by_config = RefCell::new(BTreeSet::new());
            let price_of = |provider: &str| {
                let reported = (snapshot.providers.iter())
                    .find(|p| p.id == provider)
                    .and_then(|p| p.price_per_1k_tokens);
                reported.or_else(|| {
                    let price = config.price(provider)?;
                    priced_by_config.borrow_mut().insert(provider.to_string());
                    Some(price)
                })
            };
            let row = match &service.posture {
                Some(posture) => {
                    let spend = posture::spend_in(snapshot, service, posture, price_of);
                    let slo = reported.posture.as_ref().map(|p| p.slo);
                    let radius = posture::blast_radius(&service.id, &effective);
                    cost_of(service, posture, slo, spend, radius, &snapshot.gateways)
                }
                None => unknown(&service.id, Some(service.tier)),
            };
            used.extend(
                (priced_by_config.into_inner().into_iter()).map(|p| format!("price of {p}")),
            );
            let row = ServiceCost {
                from_config: used,
                ..row
            };
            match SloReads::find(measured, &row.service) {
                Some((read, facts)) => with_measured(row, read, facts),
                None => row,
            }
        })
        .collect()
}

/// The source's posture with the config's figures where it has none; a posture from the
/// config alone when the source reports none (its SLO then unknown, see `cost_of`).
fn effective_posture(service: &Service, config: &CostConfig) -> (Option<Posture>, Vec<String>) {
    let configured = config.services.get(&service.id);
    let mut used = Vec::new();
    let mut posture = match (&service.posture, configured) {
        (Some(posture), _) => posture.clone(),
        (None, Some(configured)) => Posture {
            criticality: configured.criticality.unwrap_or(Criticality::Important),
            // Unknown: the row says so (slo None); this only carries the costs.
            slo: Slo {
                target: 0.0,
                window_s: 0.0,
            },
            budget_left: None,
            burn_rate_1h: None,
            burn_rate_6h: None,
            downtime_cost_per_min: None,
            depends_on: Vec::new(),
            replica_cost_per_hour: None,
            tokens_per_request: None,
            incidents_per_month: DEFAULT_INCIDENTS_PER_MONTH,
            repair_min: DEFAULT_REPAIR_MIN,
        },
        (None, None) => return (None, used),
    };
    if let Some(configured) = configured {
        let mut fill = |field: &mut Option<f64>, value: Option<f64>, name: &str| {
            if field.is_none() && value.is_some() {
                *field = value;
                used.push(name.to_string());
            }
        };
        fill(
            &mut posture.downtime_cost_per_min,
            configured.downtime_cost_per_min,
            "downtime cost",
        );
        fill(
            &mut posture.replica_cost_per_hour,
            configured.replica_cost_per_hour,
            "replica cost",
        );
        fill(
            &mut posture.tokens_per_request,
            configured.tokens_per_request,
            "tokens per request",
        );
        if service.posture.is_none() && configured.criticality.is_some() {
            used.push("criticality".to_string());
        }
    }
    (Some(posture), used)
}

fn cost_of(
    service: &Service,
    posture: &Posture,
    slo: Option<Slo>,
    spend: Spend,
    radius: BlastRadius,
    gateways: &[Gateway],
) -> ServiceCost {
    let exhausted_in_s = match (slo, posture.budget_left, posture.burn_rate_1h) {
        (Some(slo), Some(left), Some(burn)) => slo.exhausted_in_s(left, burn),
        _ => None,
    };
    let roi = posture.downtime_cost_per_min.and_then(|_| {
        posture::roi(
            service,
            posture,
            &spend,
            radius.cost_per_min,
            &TakeoverTimes::default(),
        )
    });
    let mut weighed = ServicePosture::of(service, posture, gateways, &spend);
    weighed.slo = slo;
    ServiceCost {
        service: service.id.clone(),
        tier: Some(service.tier),
        criticality: Some(posture.criticality),
        slo,
        budget_left: posture.budget_left,
        burn_rate_1h: posture.burn_rate_1h,
        burn_rate_6h: posture.burn_rate_6h,
        exhausted_in_s,
        downtime_cost_per_min: posture.downtime_cost_per_min,
        replica_cost_per_hour: posture.replica_cost_per_hour,
        tokens_per_request: posture.tokens_per_request,
        dependents: radius.dependents,
        blast_cost_per_min: radius.cost_per_min,
        spend,
        roi,
        findings: posture::findings(&weighed),
        from_config: Vec::new(),
        measured: None,
    }
}

/// `row` with what a metrics source measured where nothing else gave it: the SLO (when no
/// posture has one), the budget left and the 1 h and 6 h burn; the time to exhaustion and
/// the budget finding then follow from the merged figures.
fn with_measured(mut row: ServiceCost, read: SloReads, facts: &ServiceFacts) -> ServiceCost {
    let mut figures = Vec::new();
    let slo = *row.slo.get_or_insert_with(|| {
        figures.push("SLO".to_string());
        facts.slo
    });
    let (budget_left, burn_1h, burn_6h) = against(slo, facts);
    let mut fill = |field: &mut Option<f64>, value: Option<f64>, name: &str| {
        if field.is_none() && value.is_some() {
            *field = value;
            figures.push(name.to_string());
        }
    };
    fill(&mut row.budget_left, budget_left, "budget");
    fill(&mut row.burn_rate_1h, burn_1h, "burn 1h");
    fill(&mut row.burn_rate_6h, burn_6h, "burn 6h");
    if figures.is_empty() {
        return row;
    }
    row.findings
        .retain(|f| !matches!(f, Finding::BudgetExhaustion { .. }));
    row.exhausted_in_s = None;
    if let (Some(slo), Some(left), Some(burn)) = (row.slo, row.budget_left, row.burn_rate_1h) {
        row.exhausted_in_s = slo.exhausted_in_s(left, burn);
        row.findings.extend(posture::budget_exhaustion(
            &row.service,
            slo,
            left,
            burn,
            None,
        ));
    }
    row.measured = Some(MeasuredBy {
        source: read.source.to_string(),
        figures,
        read_at: facts.read_at(),
        stale: read.stale,
        converted_from: (facts.slo != slo).then_some(facts.slo),
    });
    row
}

/// The budget left and the 1 h and 6 h burn a metrics source measured against its own SLO,
/// restated against `slo` (the posture's). A burn rate is an error ratio over the allowed one,
/// so it restates exactly for another target; the budget only over the same window (else
/// unknown).
fn against(slo: Slo, facts: &ServiceFacts) -> (Option<f64>, Option<f64>, Option<f64>) {
    let budget_left = facts.budget_left.map(|f| f.value);
    let (burn_1h, burn_6h) = (
        facts.burn_rate(BurnWindow::OneHour),
        facts.burn_rate(BurnWindow::SixHours),
    );
    if facts.slo == slo {
        return (budget_left, burn_1h, burn_6h);
    }
    let allowed = facts.slo.allowed_error_rate();
    let burn = |rate: Option<f64>| Some(slo.burn_rate(rate? * allowed));
    let budget_left = (budget_left)
        .filter(|_| facts.slo.window_s == slo.window_s)
        .map(|left| slo.budget_left((1.0 - left) * allowed, 1.0));
    (budget_left, burn(burn_1h), burn(burn_6h))
}

/// A service only a metrics source knows: its measured SLO figures, what the context's
/// `[cost]` says of it, and every other figure (tier, replicas, dependents) unknown.
fn measured_only(read: SloReads, facts: &ServiceFacts, config: &CostConfig) -> ServiceCost {
    with_measured(unreported(&facts.service, config), read, facts)
}

/// A service no fleet source reports: what the context's `[cost]` says of it (named in
/// `from_config`), every other figure unknown.
pub fn unreported(service: &str, config: &CostConfig) -> ServiceCost {
    let configured = config.services.get(service).cloned().unwrap_or_default();
    let mut from_config = Vec::new();
    let mut given = |value: Option<f64>, name: &str| {
        if value.is_some() {
            from_config.push(name.to_string());
        }
        value
    };
    let downtime_cost_per_min = given(configured.downtime_cost_per_min, "downtime cost");
    let replica_cost_per_hour = given(configured.replica_cost_per_hour, "replica cost");
    let tokens_per_request = given(configured.tokens_per_request, "tokens per request");
    if configured.criticality.is_some() {
        from_config.push("criticality".to_string());
    }
    ServiceCost {
        criticality: configured.criticality,
        downtime_cost_per_min,
        replica_cost_per_hour,
        tokens_per_request,
        // Its own downtime: what depends on it is unknown without a topology.
        blast_cost_per_min: downtime_cost_per_min.unwrap_or(0.0),
        from_config,
        ..unknown(service, None)
    }
}

/// A service nothing prices: every figure unknown, said as such.
fn unknown(service: &str, tier: Option<RedundancyTier>) -> ServiceCost {
    ServiceCost {
        service: service.to_string(),
        tier,
        criticality: None,
        slo: None,
        budget_left: None,
        burn_rate_1h: None,
        burn_rate_6h: None,
        exhausted_in_s: None,
        downtime_cost_per_min: None,
        replica_cost_per_hour: None,
        tokens_per_request: None,
        dependents: Vec::new(),
        blast_cost_per_min: 0.0,
        spend: Spend::default(),
        roi: None,
        findings: Vec::new(),
        from_config: Vec::new(),
        measured: None,
    }
}

#[cfg(test)]
#[path = "cost_tests.rs"]
mod tests;
