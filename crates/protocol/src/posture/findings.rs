//! Findings the console raises by itself from a service's posture: a critical service with a
//! single point of failure nobody declared (hidden SPOF), a nice-to-have service paying for hot
//! standbys (ghost spend), and an error budget that will be spent before its window ends.

use serde::{Deserialize, Serialize};

use super::{Criticality, Posture, Slo, Spend};
use crate::{Gateway, ReplicaRole, Service};

/// A replica as the findings weigh it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaPosture {
    pub region: String,
    pub role: ReplicaRole,
    pub ready: bool,
}

/// What the findings read of one service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePosture {
    pub service: String,
    pub criticality: Criticality,
    pub replicas: Vec<ReplicaPosture>,
    /// Distinct providers its traffic can be routed to.
    pub provider_paths: usize,
    /// What its hot standbys cost per hour.
    pub hot_standby_per_hour: f64,
    /// The SLO, the share of its budget left and the burn rate now, when known.
    pub slo: Option<Slo>,
    pub budget_left: Option<f64>,
    pub burn_rate: Option<f64>,
    /// Seconds until the SLO window rolls over (the whole window when unknown).
    pub window_left_s: Option<f64>,
}

impl ServicePosture {
    /// What the findings read of `service` as a snapshot shows it, with its spend.
    pub fn of(
        service: &Service,
        posture: &Posture,
        gateways: &[Gateway],
        spend: &Spend,
    ) -> ServicePosture {
        let mut vendors: Vec<&str> = (gateways.iter())
            .flat_map(|g| g.routes.iter())
            .filter(|r| r.service == service.id)
            .map(|r| r.provider.split('@').next().unwrap_or(&r.provider))
            .collect();
        vendors.sort_unstable();
        vendors.dedup();
        ServicePosture {
            service: service.id.clone(),
            criticality: posture.criticality,
            replicas: (service.replicas.iter())
                .map(|r| ReplicaPosture {
                    region: r.region.clone(),
                    role: r.role,
                    ready: r.ready,
                })
                .collect(),
            provider_paths: vendors.len(),
            hot_standby_per_hour: spend.hot_standbys_per_hour.unwrap_or(0.0),
            slo: Some(posture.slo),
            budget_left: posture.budget_left,
            burn_rate: posture.burn_rate_1h,
            window_left_s: None,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    /// A critical service that one failure takes down.
    HiddenSpof { service: String, why: String },
    /// A nice-to-have service paying for hot standbys.
    GhostSpend { service: String, per_hour: f64 },
    /// The error budget runs out before the window ends, at the current burn rate.
    BudgetExhaustion { service: String, in_s: f64 },
}

impl Finding {
    pub fn service(&self) -> &str {
        match self {
            Finding::HiddenSpof { service, .. }
            | Finding::GhostSpend { service, .. }
            | Finding::BudgetExhaustion { service, .. } => service,
        }
    }
}

/// The findings of one service, SPOFs first.
pub fn findings(posture: &ServicePosture) -> Vec<Finding> {
    let mut found = Vec::new();
    let service = || posture.service.clone();
    if posture.criticality == Criticality::Critical
        && let Some(why) = single_point(posture)
    {
        found.push(Finding::HiddenSpof {
            service: service(),
            why,
        });
    }
    if posture.criticality == Criticality::NiceToHave && posture.hot_standby_per_hour > 0.0 {
        found.push(Finding::GhostSpend {
            service: service(),
            per_hour: posture.hot_standby_per_hour,
        });
    }
    if let (Some(slo), Some(left), Some(burn)) =
        (posture.slo, posture.budget_left, posture.burn_rate)
    {
        found.extend(budget_exhaustion(
            &posture.service,
            slo,
            left,
            burn,
            posture.window_left_s,
        ));
    }
    found
}

/// The budget finding alone, from an SLO, the share of its budget left and the burn rate
/// (a source's or a metrics source's): fires when the budget is spent before the window
/// (`window_left_s`, the whole window when unknown) ends.
pub fn budget_exhaustion(
    service: &str,
    slo: Slo,
    budget_left: f64,
    burn_rate: f64,
    window_left_s: Option<f64>,
) -> Option<Finding> {
    let in_s = slo.exhausted_in_s(budget_left, burn_rate)?;
    (in_s < window_left_s.unwrap_or(slo.window_s)).then(|| Finding::BudgetExhaustion {
        service: service.to_string(),
        in_s,
    })
}

/// Why one failure would take the service down, if it would: one ready replica, every ready
/// replica in one region, or one provider path.
fn single_point(posture: &ServicePosture) -> Option<String> {
    let ready: Vec<&ReplicaPosture> = posture.replicas.iter().filter(|r| r.ready).collect();
    match ready.as_slice() {
        [] => return Some("no replica is ready".into()),
        [only] => return Some(format!("one ready replica, in {}", only.region)),
        [first, rest @ ..] if rest.iter().all(|r| r.region == first.region) => {
            return Some(format!("every ready replica is in {}", first.region));
        }
        _ => {}
    }
    (posture.provider_paths < 2).then(|| match posture.provider_paths {
        0 => "no provider path".to_string(),
        _ => "one provider path".to_string(),
    })
}
