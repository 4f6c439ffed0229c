//! Facts measured by a metrics source (Prometheus): per region and provider, each value with
//! the time it was read, so that it keeps its age on screen; and the alerts firing about
//! them. A fact no query gave is absent, never zero.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use protocol::{Health, Notice};

use super::gateway::{GatewayDeployment, GatewayFacts};

/// The facts a query can give, with the names queries are known by in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactKind {
    P50Ms,
    P95Ms,
    P99Ms,
    ErrorRate,
    RateLimitedRate,
    TrafficShare,
    LoadRps,
}

impl FactKind {
    pub const ALL: [FactKind; 7] = [
        FactKind::P50Ms,
        FactKind::P95Ms,
        FactKind::P99Ms,
        FactKind::ErrorRate,
        FactKind::RateLimitedRate,
        FactKind::TrafficShare,
        FactKind::LoadRps,
    ];

    /// The field's name in the config.
    pub fn name(self) -> &'static str {
        match self {
            FactKind::P50Ms => "p50_ms",
            FactKind::P95Ms => "p95_ms",
            FactKind::P99Ms => "p99_ms",
            FactKind::ErrorRate => "error_rate",
            FactKind::RateLimitedRate => "rate_limited_rate",
            FactKind::TrafficShare => "traffic_share",
            FactKind::LoadRps => "load_rps",
        }
    }
}

/// One value read from a metrics source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fact {
    pub value: f64,
    /// When the source evaluated it, on its clock.
    pub at: DateTime<Utc>,
}

impl Fact {
    pub fn age(&self, now: DateTime<Utc>) -> chrono::TimeDelta {
        now - self.at
    }
}

/// The facts known about one region or provider.
pub type Facts = BTreeMap<FactKind, Fact>;

#[derive(Clone, Debug, PartialEq)]
pub struct RegionFacts {
    pub id: String,
    /// From the error rate and the thresholds; unknown without an error rate.
    pub health: Health,
    pub facts: Facts,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderFacts {
    /// `<provider>@<region>`, as the protocol names providers.
    pub id: String,
    pub vendor: String,
    pub region: String,
    /// When the queries keep the model label.
    pub model: Option<String>,
    pub health: Health,
    pub facts: Facts,
}

/// What an alert is about, from its labels; every part may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertTarget {
    pub region: Option<String>,
    /// The provider's vendor label (`openai`); with a region it names `openai@us-east`.
    pub provider: Option<String>,
    pub service: Option<String>,
}

impl AlertTarget {
    /// The provider's id in the fleet (`vendor@region`), when both labels are there.
    pub fn provider_id(&self) -> Option<String> {
        Some(format!(
            "{}@{}",
            self.provider.as_ref()?,
            self.region.as_ref()?
        ))
    }

    /// The most specific thing named, for the notice: provider, else region, else service.
    pub fn describe(&self) -> Option<String> {
        let service = self.service.as_ref().map(|s| format!("service {s}"));
        self.provider_id()
            .or_else(|| self.provider.clone())
            .or_else(|| self.region.clone())
            .map(|named| match &service {
                Some(service) => format!("{named} ({service})"),
                None => named,
            })
            .or(service)
    }
}

/// An alert Alertmanager holds as active (firing), silenced or not.
#[derive(Clone, Debug, PartialEq)]
pub struct FiringAlert {
    /// The `alertname` label.
    pub name: String,
    pub severity: Option<String>,
    /// The `summary` annotation, else `description`.
    pub summary: Option<String>,
    pub started_at: DateTime<Utc>,
    pub fingerprint: String,
    pub target: AlertTarget,
    /// Ids of the silences that mute it; empty while it notifies.
    pub silenced_by: Vec<String>,
    /// All its labels, cleaned, for matching a silence.
    pub labels: BTreeMap<String, String>,
}

impl FiringAlert {
    /// The alert as a timeline notice, at the time it started firing.
    pub fn notice(&self) -> Notice {
        let mut text = format!("alert {}", self.name);
        if let Some(severity) = &self.severity {
            text.push_str(&format!(" [{severity}]"));
        }
        if let Some(target) = self.target.describe() {
            text.push_str(&format!(" on {target}"));
        }
        if let Some(summary) = &self.summary {
            text.push_str(&format!(": {summary}"));
        }
        if !self.silenced_by.is_empty() {
            text.push_str(" (silenced)");
        }
        Notice {
            at: self.started_at,
            text,
        }
    }
}

/// What a metrics source last gave: its facts, the problems of its read, its alerts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    pub regions: Vec<RegionFacts>,
    pub providers: Vec<ProviderFacts>,
    /// Queries that failed and series that could not be placed: said, never hidden.
    pub problems: Vec<String>,
    /// The alerts firing at the last read of the alert manager.
    pub alerts: Vec<FiringAlert>,
    /// Why the alerts could not be read (the facts may still be live); they are as last read.
    pub alerts_error: Option<String>,
    /// A gateway source's (LiteLLM's) last read, whose deployments give its providers.
    pub gateway: Option<GatewayFacts>,
}

impl Measured {
    pub fn region(&self, id: &str) -> Option<&RegionFacts> {
        self.regions.iter().find(|r| r.id == id)
    }

    pub fn provider(&self, id: &str) -> Option<&ProviderFacts> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// The alerts whose labels name service `service`.
    pub fn alerts_on_service<'a>(
        &'a self,
        service: &'a str,
    ) -> impl Iterator<Item = &'a FiringAlert> + 'a {
        (self.alerts.iter()).filter(move |a| a.target.service.as_deref() == Some(service))
    }

    /// The alerts about region `region`, or about provider `provider` (`vendor@region`).
    pub fn alerts_on<'a>(
        &'a self,
        region: &'a str,
        provider: Option<&'a str>,
    ) -> impl Iterator<Item = &'a FiringAlert> + 'a {
        self.alerts.iter().filter(move |a| match provider {
            Some(id) => a.target.provider_id().as_deref() == Some(id),
            None => a.target.region.as_deref() == Some(region),
        })
    }
}

/// A gateway's deployments as the merge's regions and providers.
impl GatewayFacts {
    /// Every region a deployment is mapped to, with the health its deployments add up to.
    pub fn regions(&self) -> Vec<RegionFacts> {
        let mut regions: Vec<RegionFacts> = Vec::new();
        for region in self.deployments.iter().filter_map(|d| d.region.as_ref()) {
            if regions.iter().all(|r| &r.id != region) {
                regions.push(RegionFacts {
                    id: region.clone(),
                    health: combined(self.deployments_of(region, None)),
                    facts: Facts::new(),
                });
            }
        }
        regions
    }

    /// Every provider (`vendor@region`) a deployment is mapped to, with the health its
    /// deployments add up to.
    pub fn providers(&self) -> Vec<ProviderFacts> {
        let mut providers: Vec<ProviderFacts> = Vec::new();
        for deployment in &self.deployments {
            let (Some(id), Some(region)) = (deployment.provider_id(), &deployment.region) else {
                continue;
            };
            if providers.iter().all(|p| p.id != id) {
                providers.push(ProviderFacts {
                    health: combined(self.deployments_of(region, Some(&id))),
                    id,
                    vendor: deployment.provider.clone(),
                    region: region.clone(),
                    model: None,
                    facts: Facts::new(),
                });
            }
        }
        providers
    }
}

/// What deployments add up to: unknown when none was called; else ok when every one called
/// is healthy, down when every one is in outage, degraded in between.
fn combined<'a>(deployments: impl Iterator<Item = &'a GatewayDeployment>) -> Health {
    let known: Vec<Health> = deployments
        .map(|d| d.state.health())
        .filter(|h| *h != Health::Unknown)
        .collect();
    if known.is_empty() {
        Health::Unknown
    } else if known.iter().all(|h| *h == Health::Ok) {
        Health::Ok
    } else if known.iter().all(|h| *h == Health::Down) {
        Health::Down
    } else {
        Health::Degraded
    }
}
