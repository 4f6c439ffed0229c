//! The layout of a simulated fleet: regions, providers, services, operators.
//!
//! Parsed from TOML (see `fixtures/topologies/default.toml`) and validated, so that the
//! simulation can index into it without further checks. Errors name file, line and reason.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use toml::Spanned;

use super::config_error::{ConfigError, one_line, parse_toml};
pub use posture::{PostureSpec, price_of_tier};
use protocol::approvals::ApprovalPolicy;
use protocol::model::TakeoverTimes;
use protocol::posture::StandbyShares;
use protocol::readiness::ReadinessTimes;
use protocol::{Latency, RedundancyTier, ReplicaRole, Role};

/// The default topology, built into the binary so the lab runs without the fixtures dir.
pub const DEFAULT_TOPOLOGY_TOML: &str = include_str!("../../../fixtures/topologies/default.toml");
const DEFAULT_TOPOLOGY_FILE: &str = "fixtures/topologies/default.toml (embedded)";

#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    pub name: String,
    pub description: String,
    pub breaker: BreakerPolicy,
    pub failover: TakeoverTimes,
    pub regions: Vec<RegionSpec>,
    pub providers: Vec<ProviderSpec>,
    pub services: Vec<ServiceSpec>,
    pub operators: Vec<OperatorSpec>,
    /// Which commands wait for a second operator; `None`: none do (the two-person rule is off).
    pub approvals: Option<ApprovalPolicy>,
    /// How long a standby takes to warm up or cool down.
    pub readiness: ReadinessTimes,
    /// Shared pools services borrow replicas from.
    pub pools: Vec<PoolSpec>,
    /// What standbys cost as a share of an active replica.
    pub standby_shares: StandbyShares,
}

/// When a provider's circuit breaker opens and how it recovers.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerPolicy {
    /// Error rate (0..1) above which the breaker counts towards tripping.
    pub error_threshold: f64,
    /// Simulated seconds the error rate must stay above the threshold to open the breaker.
    pub trip_after_s: f64,
    /// Simulated seconds an open breaker waits before a half-open probe.
    pub cooldown_s: f64,
    /// Simulated seconds a half-open probe lasts before the breaker closes or reopens.
    pub probe_s: f64,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            error_threshold: 0.5,
            trip_after_s: 5.0,
            cooldown_s: 30.0,
            probe_s: 5.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegionSpec {
    pub id: String,
    pub capacity_rps: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSpec {
    /// `<vendor>@<region>`
    pub id: String,
    pub vendor: String,
    pub region_index: usize,
    pub model: String,
    pub base_latency: Latency,
    pub base_error_rate: f64,
    pub rate_limit_rps: f64,
    pub capacity_rps: f64,
    pub cost_tier: String,
    /// Its own, else its cost tier's; `None` for a tier with no known price.
    pub price_per_1k_tokens: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub id: String,
    pub tier: RedundancyTier,
    pub demand_rps: f64,
    /// Routing template applied at the gateway of each region with a replica.
    pub routes: Vec<RouteSpec>,
    pub replicas: Vec<ReplicaSpec>,
    pub posture: PostureSpec,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteSpec {
    pub vendor: String,
    pub rank: u32,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaSpec {
    /// `<service>@<region>`
    pub id: String,
    pub region_index: usize,
    pub role: ReplicaRole,
    pub capacity_rps: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OperatorSpec {
    pub name: String,
    pub role: Role,
    pub on_call: bool,
}

impl Topology {
    /// The topology built into the binary.
    pub fn embedded_default() -> Topology {
        Topology::parse(DEFAULT_TOPOLOGY_FILE, DEFAULT_TOPOLOGY_TOML)
            .expect("the embedded default topology is valid (checked by a unit test)")
    }

    pub fn load(path: &Path) -> anyhow::Result<Topology> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read topology {}", path.display()))?;
        Ok(Topology::parse(&path.display().to_string(), &text)?)
    }

    /// Parses and validates a topology; `file` only names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Topology, ConfigError> {
        let raw: RawTopology = parse_toml(file, text)?;
        Validator { file, text }.topology(raw)
    }

    pub fn region_index(&self, id: &str) -> Option<usize> {
        self.regions.iter().position(|r| r.id == id)
    }

    pub fn provider_index(&self, id: &str) -> Option<usize> {
        self.providers.iter().position(|p| p.id == id)
    }

    pub fn service_index(&self, id: &str) -> Option<usize> {
        self.services.iter().position(|s| s.id == id)
    }

    pub fn pool_index(&self, id: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.id == id)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    name: String,
    #[serde(default)]
    description: String,
    breaker: Option<Spanned<BreakerPolicy>>,
    failover: Option<Spanned<TakeoverTimes>>,
    #[serde(rename = "region")]
    regions: Spanned<Vec<RawRegion>>,
    #[serde(rename = "provider")]
    providers: Spanned<Vec<RawProvider>>,
    #[serde(rename = "service")]
    services: Spanned<Vec<RawService>>,
    #[serde(rename = "operator")]
    operators: Spanned<Vec<RawOperator>>,
    approvals: Option<Spanned<ApprovalPolicy>>,
    readiness: Option<Spanned<ReadinessTimes>>,
    #[serde(rename = "pool")]
    pools: Option<Spanned<Vec<pool::RawPool>>>,
    standby_shares: Option<Spanned<posture::RawShares>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    id: Spanned<String>,
    capacity_rps: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    vendor: Spanned<String>,
    region: Spanned<String>,
    model: Spanned<String>,
    latency_ms: Spanned<RawLatency>,
    error_rate: Spanned<f64>,
    rate_limit_rps: Spanned<f64>,
    capacity_rps: Spanned<f64>,
    cost_tier: Spanned<String>,
    price_per_1k_tokens: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    p50: f64,
    p95: f64,
    p99: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: Spanned<String>,
    tier: RedundancyTier,
    demand_rps: Spanned<f64>,
    routes: Spanned<Vec<RawRoute>>,
    replicas: Spanned<Vec<RawReplica>>,
    posture: Option<posture::RawPosture>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    vendor: Spanned<String>,
    rank: Spanned<u32>,
    weight: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplica {
    region: Spanned<String>,
    role: ReplicaRole,
    capacity_rps: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    name: Spanned<String>,
    role: Role,
    #[serde(default)]
    on_call: bool,
}

/// Checks a parsed topology and resolves its references into indices.
struct Validator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Validator<'_> {
    fn error<T>(
        &self,
        span: std::ops::Range<usize>,
        reason: impl Into<String>,
    ) -> Result<T, ConfigError> {
        Err(ConfigError::at(self.file, self.text, span, reason))
    }

    fn positive(&self, value: &Spanned<f64>, what: &str) -> Result<f64, ConfigError> {
        let v = *value.get_ref();
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            self.error(
                value.span(),
                format!("{what} must be a positive number, not {v}"),
            )
        }
    }

    fn share(&self, value: &Spanned<f64>, what: &str) -> Result<f64, ConfigError> {
        let v = *value.get_ref();
        if (0.0..1.0).contains(&v) {
            Ok(v)
        } else {
            self.error(value.span(), format!("{what} must be in 0..1, not {v}"))
        }
    }

    /// Ids end up in URLs, tokens and terminal cells: keep them plain (and never a dot
    /// segment, which URL normalisers remove).
    fn identifier(&self, value: &Spanned<String>, what: &str) -> Result<String, ConfigError> {
        let id = value.get_ref();
        if protocol::endpoints::is_dot_segment(id) {
            return self.error(
                value.span(),
                format!("{what} {id:?} must not be \".\" or \"..\" (a URL path would drop it)"),
            );
        }
        let plain = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.'
            });
        if plain {
            Ok(id.clone())
        } else {
            self.error(
                value.span(),
                format!("{what} {id:?} must be 1-64 characters of a-z, 0-9, '-', '_' or '.'"),
            )
        }
    }

    fn text_field(&self, value: &Spanned<String>, what: &str) -> Result<String, ConfigError> {
        let text = value.get_ref().trim();
        if text.is_empty() || text.len() > 100 || text.chars().any(char::is_control) {
            self.error(
                value.span(),
                format!("{what} must be 1-100 printable characters"),
            )
        } else {
            Ok(text.to_string())
        }
    }

    fn unique(
        &self,
        seen: &mut HashSet<String>,
        id: &str,
        span: std::ops::Range<usize>,
        what: &str,
    ) -> Result<(), ConfigError> {
        if seen.insert(id.to_string()) {
            Ok(())
        } else {
            self.error(span, format!("duplicate {what} {id:?}"))
        }
    }

    fn topology(&self, raw: RawTopology) -> Result<Topology, ConfigError> {
        let breaker = match &raw.breaker {
            Some(policy) => self.breaker(policy)?,
            None => BreakerPolicy::default(),
        };
        let failover = match &raw.failover {
            Some(policy) => self.failover(policy)?,
            None => TakeoverTimes::default(),
        };
        let regions = self.regions(&raw.regions)?;
        let providers = self.providers(&raw.providers, &regions)?;
        let services = self.services(&raw.services, &regions, &providers)?;
        let postures: Vec<_> = raw
            .services
            .get_ref()
            .iter()
            .map(|s| s.posture.as_ref())
            .collect();
        self.dependencies(&postures, &services)?;
        let operators = self.operators(&raw.operators)?;
        let approvals = match &raw.approvals {
            Some(policy) => Some(self.approvals(policy, &services)?),
            None => None,
        };
        let readiness = self.readiness(raw.readiness.as_ref())?;
        let pools = self.pools(raw.pools.as_ref(), &regions)?;
        Ok(Topology {
            name: one_line(&raw.name),
            description: one_line(&raw.description),
            breaker,
            failover,
            regions,
            providers,
            services,
            operators,
            approvals,
            readiness,
            pools,
            standby_shares: self.standby_shares(raw.standby_shares.as_ref())?,
        })
    }

    fn approvals(
        &self,
        raw: &Spanned<ApprovalPolicy>,
        services: &[ServiceSpec],
    ) -> Result<ApprovalPolicy, ConfigError> {
        let ids: Vec<&str> = services.iter().map(|s| s.id.as_str()).collect();
        match raw.get_ref().problem(Some(ids.as_slice())) {
            None => Ok(raw.get_ref().clone()),
            Some(problem) => self.error(raw.span(), format!("approvals: {problem}")),
        }
    }

    fn breaker(&self, raw: &Spanned<BreakerPolicy>) -> Result<BreakerPolicy, ConfigError> {
        let policy = *raw.get_ref();
        let times_ok = [policy.trip_after_s, policy.cooldown_s, policy.probe_s]
            .iter()
            .all(|t| t.is_finite() && *t > 0.0);
        if policy.error_threshold > 0.0 && policy.error_threshold < 1.0 && times_ok {
            Ok(policy)
        } else {
            self.error(
                raw.span(),
                "breaker needs 0 < error_threshold < 1 and positive trip_after_s, cooldown_s, probe_s",
            )
        }
    }

    fn failover(&self, raw: &Spanned<TakeoverTimes>) -> Result<TakeoverTimes, ConfigError> {
        let policy = *raw.get_ref();
        let times = [
            policy.hot_takeover_s,
            policy.warm_takeover_s,
            policy.cold_takeover_s,
        ];
        if times.iter().all(|t| t.is_finite() && *t > 0.0) {
            Ok(policy)
        } else {
            self.error(
                raw.span(),
                "failover needs positive hot_takeover_s, warm_takeover_s, cold_takeover_s",
            )
        }
    }

    fn regions(&self, raw: &Spanned<Vec<RawRegion>>) -> Result<Vec<RegionSpec>, ConfigError> {
        if raw.get_ref().is_empty() {
            return self.error(raw.span(), "a topology needs at least one [[region]]");
        }
        let mut seen = HashSet::new();
        raw.get_ref()
            .iter()
            .map(|r| {
                let id = self.identifier(&r.id, "region id")?;
                self.unique(&mut seen, &id, r.id.span(), "region")?;
                Ok(RegionSpec {
                    id,
                    capacity_rps: self.positive(&r.capacity_rps, "capacity_rps")?,
                })
            })
            .collect()
    }

    fn region_ref(
        &self,
        regions: &[RegionSpec],
        raw: &Spanned<String>,
    ) -> Result<usize, ConfigError> {
        match regions.iter().position(|r| &r.id == raw.get_ref()) {
            Some(index) => Ok(index),
            None => self.error(raw.span(), format!("unknown region {:?}", raw.get_ref())),
        }
    }

    fn providers(
        &self,
        raw: &Spanned<Vec<RawProvider>>,
        regions: &[RegionSpec],
    ) -> Result<Vec<ProviderSpec>, ConfigError> {
        if raw.get_ref().is_empty() {
            return self.error(raw.span(), "a topology needs at least one [[provider]]");
        }
        let mut seen = HashSet::new();
        raw.get_ref()
            .iter()
            .map(|p| {
                let vendor = self.identifier(&p.vendor, "vendor")?;
                let region_index = self.region_ref(regions, &p.region)?;
                let id = format!("{vendor}@{}", regions[region_index].id);
                self.unique(&mut seen, &id, p.vendor.span(), "provider")?;
                let l = p.latency_ms.get_ref();
                let latency_ok =
                    l.p50 > 0.0 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99.is_finite();
                if !latency_ok {
                    return self.error(
                        p.latency_ms.span(),
                        "latency_ms needs 0 < p50 <= p95 <= p99",
                    );
                }
                Ok(ProviderSpec {
                    id,
                    vendor,
                    region_index,
                    model: self.text_field(&p.model, "model")?,
                    base_latency: Latency {
                        p50_ms: l.p50,
                        p95_ms: l.p95,
                        p99_ms: l.p99,
                    },
                    base_error_rate: self.share(&p.error_rate, "error_rate")?,
                    rate_limit_rps: self.positive(&p.rate_limit_rps, "rate_limit_rps")?,
                    capacity_rps: self.positive(&p.capacity_rps, "capacity_rps")?,
                    cost_tier: self.text_field(&p.cost_tier, "cost_tier")?,
                    price_per_1k_tokens: self
                        .price(p.price_per_1k_tokens.as_ref(), p.cost_tier.get_ref())?,
                })
            })
            .collect()
    }

    fn services(
        &self,
        raw: &Spanned<Vec<RawService>>,
        regions: &[RegionSpec],
        providers: &[ProviderSpec],
    ) -> Result<Vec<ServiceSpec>, ConfigError> {
        if raw.get_ref().is_empty() {
            return self.error(raw.span(), "a topology needs at least one [[service]]");
        }
        let mut seen = HashSet::new();
        raw.get_ref()
            .iter()
            .map(|s| {
                let id = self.identifier(&s.id, "service id")?;
                self.unique(&mut seen, &id, s.id.span(), "service")?;
                let routes = self.routes(&s.routes, providers)?;
                let replicas = self.replicas(&id, s, regions)?;
                for (raw_replica, replica) in s.replicas.get_ref().iter().zip(&replicas) {
                    let reachable = providers.iter().any(|p| {
                        p.region_index == replica.region_index && routes.iter().any(|r| r.vendor == p.vendor)
                    });
                    if !reachable {
                        return self.error(
                            raw_replica.region.span(),
                            format!(
                                "service {id:?} has a replica in {} but none of its route vendors serve there",
                                regions[replica.region_index].id
                            ),
                        );
                    }
                }
                Ok(ServiceSpec {
                    id,
                    tier: s.tier,
                    demand_rps: self.positive(&s.demand_rps, "demand_rps")?,
                    routes,
                    replicas,
                    posture: self.posture(s.posture.as_ref())?,
                })
            })
            .collect()
    }

    fn routes(
        &self,
        raw: &Spanned<Vec<RawRoute>>,
        providers: &[ProviderSpec],
    ) -> Result<Vec<RouteSpec>, ConfigError> {
        if raw.get_ref().is_empty() {
            return self.error(raw.span(), "a service needs at least one route");
        }
        let mut seen = HashSet::new();
        raw.get_ref()
            .iter()
            .map(|r| {
                let vendor = self.identifier(&r.vendor, "vendor")?;
                if !providers.iter().any(|p| p.vendor == vendor) {
                    return self.error(
                        r.vendor.span(),
                        format!("no provider of vendor {vendor:?} in this topology"),
                    );
                }
                self.unique(&mut seen, &vendor, r.vendor.span(), "route to vendor")?;
                let rank = *r.rank.get_ref();
                if rank == 0 {
                    return self.error(r.rank.span(), "rank starts at 1");
                }
                Ok(RouteSpec {
                    vendor,
                    rank,
                    weight: self.positive(&r.weight, "weight")?,
                })
            })
            .collect()
    }

    fn replicas(
        &self,
        service: &str,
        raw: &RawService,
        regions: &[RegionSpec],
    ) -> Result<Vec<ReplicaSpec>, ConfigError> {
        let list = raw.replicas.get_ref();
        let mut seen = HashSet::new();
        let replicas = list
            .iter()
            .map(|r| {
                let region_index = self.region_ref(regions, &r.region)?;
                let id = format!("{service}@{}", regions[region_index].id);
                self.unique(&mut seen, &id, r.region.span(), "replica")?;
                Ok(ReplicaSpec {
                    id,
                    region_index,
                    role: r.role,
                    capacity_rps: self.positive(&r.capacity_rps, "capacity_rps")?,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let actives = replicas
            .iter()
            .filter(|r| r.role == ReplicaRole::Active)
            .count();
        let standbys = replicas.len() - actives;
        let shape_error = match raw.tier {
            RedundancyTier::ActivePassive if actives != 1 || standbys == 0 => Some(
                "an active-passive service needs exactly one active replica and at least one standby",
            ),
            RedundancyTier::DegradedOnly if actives != 1 || standbys != 0 => {
                Some("a degraded-only service has exactly one replica, and it is active")
            }
            RedundancyTier::ActiveActive | RedundancyTier::NPlusOne
                if actives == 0 || standbys != 0 =>
            {
                Some("active-active and N+1 services need one or more replicas, all active")
            }
            _ => None,
        };
        match shape_error {
            Some(reason) => self.error(raw.replicas.span(), reason),
            None => Ok(replicas),
        }
    }

    fn operators(&self, raw: &Spanned<Vec<RawOperator>>) -> Result<Vec<OperatorSpec>, ConfigError> {
        if raw.get_ref().is_empty() {
            return self.error(raw.span(), "a topology needs at least one [[operator]]");
        }
        let mut seen = HashSet::new();
        raw.get_ref()
            .iter()
            .map(|o| {
                let name = self.identifier(&o.name, "operator name")?;
                self.unique(&mut seen, &name, o.name.span(), "operator")?;
                Ok(OperatorSpec {
                    name,
                    role: o.role,
                    on_call: o.on_call,
                })
            })
            .collect()
    }
}

#[path = "topology_pool.rs"]
mod pool;
pub use pool::PoolSpec;
#[path = "topology_posture.rs"]
mod posture;

#[cfg(test)]
#[path = "topology_tests.rs"]
mod tests;
