//! Facts measured by a metrics source (Prometheus): per region and provider, each value with
//! the time it was read, so that it keeps its age on screen; per service, its SLO's burn rates
//! and the alert level they reach; and the alerts firing about them. A fact no query gave is
//! absent, never zero.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use protocol::posture::Slo;
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
    /// The SLOs of the services the source's config names, with their burn rates.
    pub services: Vec<ServiceFacts>,
}

impl Measured {
    pub fn region(&self, id: &str) -> Option<&RegionFacts> {
        self.regions.iter().find(|r| r.id == id)
    }

    pub fn provider(&self, id: &str) -> Option<&ProviderFacts> {
        self.providers.iter().find(|p| p.id == id)
    }

    pub fn service(&self, id: &str) -> Option<&ServiceFacts> {
        self.services.iter().find(|s| s.service == id)
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

/// The windows of the multi-window, multi-burn-rate alerts (Google SRE workbook, "Alerting on
/// SLOs"): the page reads 1 h and 5 min, the ticket 6 h and 30 min; the short window of each
/// pair makes the alert stop soon after the errors do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BurnWindow {
    FiveMinutes,
    ThirtyMinutes,
    OneHour,
    SixHours,
}

impl BurnWindow {
    pub const ALL: [BurnWindow; 4] = [
        BurnWindow::FiveMinutes,
        BurnWindow::ThirtyMinutes,
        BurnWindow::OneHour,
        BurnWindow::SixHours,
    ];

    /// As PromQL and the screen write it.
    pub fn name(self) -> &'static str {
        match self {
            BurnWindow::FiveMinutes => "5m",
            BurnWindow::ThirtyMinutes => "30m",
            BurnWindow::OneHour => "1h",
            BurnWindow::SixHours => "6h",
        }
    }
}

/// The burn rates above which the page and the ticket fire.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurnThresholds {
    pub page: f64,
    pub ticket: f64,
}

/// The SRE workbook's: 14.4 spends 2% of a 30-day budget in an hour, 6 spends 5% in 6 h.
impl Default for BurnThresholds {
    fn default() -> Self {
        BurnThresholds {
            page: 14.4,
            ticket: 6.0,
        }
    }
}

/// The alert a service's burn rates call for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BurnLevel {
    /// 1 h and 5 min both above the page rate: wake someone.
    Page,
    /// 6 h and 30 min both above the ticket rate: look at it today.
    Ticket,
    /// Each pair has a window at or below its rate.
    Quiet,
    /// A window that decides it was not read.
    Unknown,
}

impl BurnLevel {
    pub fn word(self) -> &'static str {
        match self {
            BurnLevel::Page => "page",
            BurnLevel::Ticket => "ticket",
            BurnLevel::Quiet => "none",
            BurnLevel::Unknown => "unknown",
        }
    }
}

/// One service's SLO as a metrics source read it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceFacts {
    pub service: String,
    pub slo: Slo,
    /// The window as the config writes it (`30d`).
    pub window: String,
    /// Each window's burn rate (its error ratio over the allowed one), when read.
    pub burn: BTreeMap<BurnWindow, Fact>,
    /// The share of the window's budget left (1 untouched, below 0 overspent), from the error
    /// ratio over the whole SLO window.
    pub budget_left: Option<Fact>,
    pub thresholds: BurnThresholds,
}

impl ServiceFacts {
    pub fn burn_rate(&self, window: BurnWindow) -> Option<f64> {
        self.burn.get(&window).map(|f| f.value)
    }

    /// Page when 1 h and 5 min both burn above the page rate, else ticket when 6 h and 30 min
    /// both burn above the ticket rate; unknown when a missing window could change that.
    pub fn level(&self) -> BurnLevel {
        use BurnWindow::*;
        let pair = |long, short, above: f64| {
            let rates = [self.burn_rate(long), self.burn_rate(short)];
            if rates.iter().all(|r| r.is_some_and(|r| r > above)) {
                Some(true)
            } else if rates.iter().any(|r| r.is_some_and(|r| r <= above)) {
                Some(false)
            } else {
                None
            }
        };
        let page = pair(OneHour, FiveMinutes, self.thresholds.page);
        let ticket = pair(SixHours, ThirtyMinutes, self.thresholds.ticket);
        match (page, ticket) {
            (Some(true), _) => BurnLevel::Page,
            (_, Some(true)) => BurnLevel::Ticket,
            (Some(false), Some(false)) => BurnLevel::Quiet,
            _ => BurnLevel::Unknown,
        }
    }

    /// Seconds until the budget left is spent at the 1 h burn rate; `None` when either is
    /// not known or nothing burns.
    pub fn exhausted_in_s(&self) -> Option<f64> {
        let left = self.budget_left?.value;
        self.slo
            .exhausted_in_s(left, self.burn_rate(BurnWindow::OneHour)?)
    }

    /// When the newest of its facts was read.
    pub fn read_at(&self) -> Option<DateTime<Utc>> {
        (self.burn.values().chain(&self.budget_left))
            .map(|f| f.at)
            .max()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn burning(rates: &[(BurnWindow, f64)], budget_left: Option<f64>) -> ServiceFacts {
        let at = DateTime::UNIX_EPOCH;
        ServiceFacts {
            service: "checkout".into(),
            slo: Slo {
                target: 0.999,
                window_s: 30.0 * 86_400.0,
            },
            window: "30d".into(),
            burn: (rates.iter())
                .map(|&(window, value)| (window, Fact { value, at }))
                .collect(),
            budget_left: budget_left.map(|value| Fact { value, at }),
            thresholds: BurnThresholds::default(),
        }
    }

    /// The page needs 1 h and 5 min above 14.4, the ticket 6 h and 30 min above 6; a window
    /// not read leaves the level unknown only while it could change it.
    #[test]
    fn both_windows_of_a_pair_must_burn_for_its_alert() {
        use BurnWindow::*;
        let level = |rates: &[(BurnWindow, f64)]| burning(rates, None).level();
        let all = |m5, m30, h1, h6| {
            [
                (FiveMinutes, m5),
                (ThirtyMinutes, m30),
                (OneHour, h1),
                (SixHours, h6),
            ]
        };
        assert_eq!(level(&all(20.0, 10.0, 15.0, 7.0)), BurnLevel::Page);
        assert_eq!(
            level(&all(20.0, 10.0, 14.4, 7.0)),
            BurnLevel::Ticket,
            "1h at 14.4 is not above"
        );
        assert_eq!(
            level(&all(2.0, 7.0, 15.0, 7.0)),
            BurnLevel::Ticket,
            "5m recovered: no page"
        );
        assert_eq!(level(&all(2.0, 5.0, 15.0, 7.0)), BurnLevel::Quiet);
        assert_eq!(
            level(&[(FiveMinutes, 20.0), (OneHour, 15.0)]),
            BurnLevel::Page,
            "6h unknown cannot undo a page"
        );
        assert_eq!(
            level(&[(FiveMinutes, 1.0), (OneHour, 15.0), (SixHours, 7.0)]),
            BurnLevel::Unknown,
            "30m could make it a ticket"
        );
        assert_eq!(
            level(&[(FiveMinutes, 1.0), (SixHours, 1.0)]),
            BurnLevel::Quiet
        );
        assert_eq!(level(&[]), BurnLevel::Unknown);
    }

    /// The budget left spent at the 1 h burn rate, by `Slo::exhausted_in_s`.
    #[test]
    fn the_budget_runs_out_at_the_one_hour_burn() {
        use BurnWindow::*;
        // Half of a 30-day budget at 15×: one day.
        let facts = burning(&[(OneHour, 15.0)], Some(0.5));
        assert_eq!(facts.exhausted_in_s(), Some(86_400.0));
        assert_eq!(
            burning(&[(OneHour, 15.0)], Some(-2.0)).exhausted_in_s(),
            Some(0.0)
        );
        assert_eq!(
            burning(&[(OneHour, 0.0)], Some(0.5)).exhausted_in_s(),
            None,
            "not burning"
        );
        assert_eq!(
            burning(&[(FiveMinutes, 15.0)], Some(0.5)).exhausted_in_s(),
            None,
            "no 1h rate"
        );
        assert_eq!(
            burning(&[(OneHour, 15.0)], None).exhausted_in_s(),
            None,
            "no budget read"
        );
    }
}
