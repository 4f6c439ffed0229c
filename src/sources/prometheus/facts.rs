//! The configured queries' answers mapped onto the domain's regions and providers. Each fact
//! keeps the time Prometheus evaluated it (its age on screen) and the facts of one read keep
//! the source they came from; a fact no query gave is absent, never zero.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::future::join_all;
use protocol::Health;

use super::client::{PrometheusClient, Reading, Series};
use super::error::PromError;
use crate::config::prometheus::{FactQueries, HealthThresholds, LabelNames, PrometheusSettings};
use crate::domain::fleet::{Sample, history_key_provider, history_key_region};
use crate::domain::measured::{Fact, FactKind, Facts, ProviderFacts, RegionFacts, ServiceFacts};
use crate::sources::error::bounded;

/// Everything one read of a Prometheus source gave.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetFacts {
    /// The configured name of the source.
    pub source: String,
    pub regions: Vec<RegionFacts>,
    pub providers: Vec<ProviderFacts>,
    /// The SLOs of the services the config names, with their burn rates.
    pub services: Vec<ServiceFacts>,
    /// Queries that failed while Prometheus answered the others (e.g. bad PromQL): their
    /// facts are missing and say why.
    pub failed: Vec<PromError>,
    /// Series the mapping could not place (a label missing), per query, and SLO queries
    /// whose answer is not one ratio.
    pub unplaced: Vec<String>,
}

/// Reads every configured fact of regions, providers and services' SLOs, all queries at
/// once. Fails as a whole only when Prometheus itself is out of reach; a failing query is
/// kept in `failed`.
pub async fn read_facts(
    client: &PrometheusClient,
    source: &str,
    settings: &PrometheusSettings,
) -> Result<FleetFacts, PromError> {
    let queries = configured(settings);
    let facts = join_all(queries.iter().map(|(scope, kind, query)| {
        let name = query_name(*scope, *kind);
        async move { (*scope, *kind, client.instant(&name, query).await) }
    }));
    let (answers, slo) = futures::join!(facts, super::slo::read_services(client, settings));
    let slo = slo?;

    let mut mapping = Mapping::new(settings);
    let mut failed = Vec::new();
    for (scope, kind, answer) in answers {
        match answer {
            Ok(readings) => mapping.add(scope, kind, &readings),
            Err(error) if error.is_source_down() => return Err(error),
            Err(error) => failed.push(error),
        }
    }
    failed.extend(slo.failed);
    mapping.unplaced.extend(slo.problems);
    let mut facts = mapping.finish(source, failed);
    facts.services = slo.services;
    Ok(facts)
}

/// Reads the history of p95 latency, error and 429 rates of every region and provider over
/// the configured span, keyed like the console's other histories. Fails only when
/// Prometheus itself is out of reach.
pub async fn read_history(
    client: &PrometheusClient,
    settings: &PrometheusSettings,
    now: DateTime<Utc>,
) -> Result<HashMap<String, Vec<Sample>>, PromError> {
    const CHARTED: [FactKind; 3] = [
        FactKind::P95Ms,
        FactKind::ErrorRate,
        FactKind::RateLimitedRate,
    ];
    let span = chrono::TimeDelta::from_std(settings.history.span).unwrap_or_default();
    let start = now - span;
    let mut queries = configured(settings);
    queries.retain(|(_, kind, _)| CHARTED.contains(kind));
    let answers = join_all(queries.iter().map(|(scope, kind, query)| {
        let name = query_name(*scope, *kind);
        async move {
            let series = client
                .range(&name, query, start, now, settings.history.step)
                .await;
            (*scope, *kind, series)
        }
    }))
    .await;

    // key -> time -> the charted facts at that time
    let mut points: HashMap<String, BTreeMap<DateTime<Utc>, Facts>> = HashMap::new();
    for (scope, kind, answer) in answers {
        // A bad query leaves its charts empty (reading the facts names it); the others stay.
        let series = match answer {
            Ok(series) => series,
            Err(error) if error.is_source_down() => return Err(error),
            Err(_) => continue,
        };
        for series in series {
            let Some(key) = history_key(scope, &series, &settings.labels) else {
                continue;
            };
            let by_time = points.entry(key).or_default();
            for &(at, value) in &series.points {
                by_time
                    .entry(at)
                    .or_default()
                    .insert(kind, Fact { value, at });
            }
        }
    }
    Ok(points
        .into_iter()
        .map(|(key, by_time)| {
            let samples = by_time
                .into_iter()
                .filter_map(|(at, facts)| {
                    let value = |kind| facts.get(&kind).map(|f: &Fact| f.value);
                    Some(Sample {
                        at,
                        p95_ms: value(FactKind::P95Ms)?,
                        error_rate: value(FactKind::ErrorRate)?,
                        rate_limited_rate: value(FactKind::RateLimitedRate).unwrap_or(0.0),
                    })
                })
                .collect();
            (key, samples)
        })
        .collect())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Region,
    Provider,
}

/// How a query is named in messages: its place in the config, e.g. `provider.error_rate`.
fn query_name(scope: Scope, kind: FactKind) -> String {
    let scope = match scope {
        Scope::Region => "region",
        Scope::Provider => "provider",
    };
    format!("{scope}.{}", kind.name())
}

/// Every configured query, expanded, with the scope and fact it gives.
fn configured(settings: &PrometheusSettings) -> Vec<(Scope, FactKind, String)> {
    let scopes = [
        (Scope::Region, &settings.region),
        (Scope::Provider, &settings.provider),
    ];
    scopes
        .into_iter()
        .flat_map(|(scope, queries): (Scope, &FactQueries)| {
            FactKind::ALL
                .into_iter()
                .filter_map(move |kind| Some((scope, kind, settings.expand(queries.get(kind)?))))
        })
        .collect()
}

/// A label's value as the console may show and key it: one clean bounded line, or `None`
/// when the series lacks it.
fn label(labels: &BTreeMap<String, String>, name: &str) -> Option<String> {
    let value = bounded(labels.get(name)?);
    (!value.is_empty()).then_some(value)
}

fn history_key(scope: Scope, series: &Series, labels: &LabelNames) -> Option<String> {
    let region = label(&series.labels, &labels.region)?;
    match scope {
        Scope::Region => Some(history_key_region(&region)),
        Scope::Provider => {
            let vendor = label(&series.labels, &labels.provider)?;
            Some(history_key_provider(&provider_id(&vendor, &region)))
        }
    }
}

fn provider_id(vendor: &str, region: &str) -> String {
    format!("{vendor}@{region}")
}

/// Health as the error rate says it, against the source's thresholds.
pub fn health_of(facts: &Facts, thresholds: &HealthThresholds) -> Health {
    match facts.get(&FactKind::ErrorRate) {
        None => Health::Unknown,
        Some(f) if f.value >= thresholds.down_error_rate => Health::Down,
        Some(f) if f.value >= thresholds.degraded_error_rate => Health::Degraded,
        Some(_) => Health::Ok,
    }
}

/// Collects readings onto regions and providers by their labels.
struct Mapping<'a> {
    settings: &'a PrometheusSettings,
    regions: BTreeMap<String, Facts>,
    /// id -> (vendor, region, model, facts)
    providers: BTreeMap<String, (String, String, Option<String>, Facts)>,
    unplaced: Vec<String>,
}

impl<'a> Mapping<'a> {
    fn new(settings: &'a PrometheusSettings) -> Self {
        Mapping {
            settings,
            regions: BTreeMap::new(),
            providers: BTreeMap::new(),
            unplaced: Vec::new(),
        }
    }

    fn add(&mut self, scope: Scope, kind: FactKind, readings: &[Reading]) {
        let names = &self.settings.labels;
        let mut unplaced = 0;
        for reading in readings {
            let Some(value) = reading.value else {
                continue;
            };
            let fact = Fact {
                value,
                at: reading.at,
            };
            let region = label(&reading.labels, &names.region);
            match (scope, region) {
                (Scope::Region, Some(region)) => {
                    self.regions.entry(region).or_default().insert(kind, fact);
                }
                (Scope::Provider, Some(region)) => {
                    let Some(vendor) = label(&reading.labels, &names.provider) else {
                        unplaced += 1;
                        continue;
                    };
                    let model = label(&reading.labels, &names.model);
                    let entry = self
                        .providers
                        .entry(provider_id(&vendor, &region))
                        .or_insert_with(|| (vendor, region, None, Facts::new()));
                    if model.is_some() {
                        entry.2 = model;
                    }
                    entry.3.insert(kind, fact);
                }
                (_, None) => unplaced += 1,
            }
        }
        if unplaced > 0 {
            let needed = match scope {
                Scope::Region => format!("label {}", names.region),
                Scope::Provider => format!("labels {} and {}", names.region, names.provider),
            };
            self.unplaced.push(format!(
                "query {}: {unplaced} series without {needed} skipped",
                query_name(scope, kind)
            ));
        }
    }

    fn finish(self, source: &str, failed: Vec<PromError>) -> FleetFacts {
        let thresholds = &self.settings.health;
        FleetFacts {
            source: source.to_string(),
            regions: self
                .regions
                .into_iter()
                .map(|(id, facts)| RegionFacts {
                    health: health_of(&facts, thresholds),
                    id,
                    facts,
                })
                .collect(),
            providers: self
                .providers
                .into_iter()
                .map(|(id, (vendor, region, model, facts))| ProviderFacts {
                    health: health_of(&facts, thresholds),
                    id,
                    vendor,
                    region,
                    model,
                    facts,
                })
                .collect(),
            services: Vec::new(),
            failed,
            unplaced: self.unplaced,
        }
    }
}

#[cfg(test)]
#[path = "facts_tests.rs"]
mod tests;
