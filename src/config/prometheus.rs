//! What a Prometheus source reads: the PromQL queries the user names, the label names that
//! say which region and provider a series belongs to, and where its Alertmanager is. Every
//! field has a default that reads LiteLLM's metrics (`litellm_deployment_total_requests_total`,
//! `litellm_deployment_failure_responses_total` with `exception_status`, the
//! `litellm_llm_api_latency_metric` histogram) with a `region` label added by the scrape.
//!
//! Queries are written with placeholders so that a label or the rate window is named once:
//! `$window` (the rate window), `$region`, `$provider` (the label names).

use std::time::Duration;

use serde::Deserialize;

use super::slo::SloSettings;
use crate::domain::measured::FactKind;

/// The settings of one Prometheus (+ Alertmanager) source.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusSettings {
    /// Alertmanager's base URL; without it the source shows no alerts and cannot silence.
    #[serde(deserialize_with = "base_url")]
    pub alertmanager_url: Option<String>,
    pub labels: LabelNames,
    /// The rate window substituted for `$window`, e.g. `5m`.
    #[serde(deserialize_with = "window")]
    pub window: String,
    /// Queries whose series are grouped by the region label. A query left out keeps its
    /// default; an empty one is not read.
    #[serde(deserialize_with = "region_queries")]
    pub region: FactQueries,
    /// Queries whose series are grouped by the region and provider labels; as `region`.
    #[serde(deserialize_with = "provider_queries")]
    pub provider: FactQueries,
    pub health: HealthThresholds,
    pub history: HistorySettings,
    /// The services whose SLO burn rates are read (`[slo]`, see `super::slo`).
    pub slo: SloSettings,
    /// How often the facts, history and alerts are read, in seconds.
    #[serde(with = "seconds")]
    pub poll_interval: Duration,
}

impl Default for PrometheusSettings {
    fn default() -> Self {
        PrometheusSettings {
            alertmanager_url: None,
            labels: LabelNames::default(),
            window: "5m".into(),
            region: FactQueries::litellm(REGION_GROUPING),
            provider: FactQueries::litellm(PROVIDER_GROUPING),
            health: HealthThresholds::default(),
            history: HistorySettings::default(),
            slo: SloSettings::default(),
            poll_interval: Duration::from_secs(15),
        }
    }
}

fn base_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    super::check_url(&url).map_err(serde::de::Error::custom)?;
    Ok(Some(url))
}

/// A PromQL duration such as `30s`, `5m` or `1h30m`, checked here so that a typo is named in
/// the config rather than as every query failing.
fn window<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let window = String::deserialize(d)?;
    let mut rest = window.as_str();
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let unit = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|unit| digits > 0 && rest[digits..].starts_with(unit));
        match unit {
            Some(unit) => rest = &rest[digits + unit.len()..],
            None => {
                return Err(serde::de::Error::custom(format!(
                    "window {window:?} is not a PromQL duration such as 30s, 5m or 1h30m"
                )));
            }
        }
        parts += 1;
    }
    match parts {
        0 => Err(serde::de::Error::custom("window is empty: write e.g. 5m")),
        _ => Ok(window),
    }
}

const REGION_GROUPING: &[&str] = &["$region"];
const PROVIDER_GROUPING: &[&str] = &["$region", "$provider"];

fn region_queries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<FactQueries, D::Error> {
    Ok(FactQueries::deserialize(d)?.over(FactQueries::litellm(REGION_GROUPING)))
}

fn provider_queries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<FactQueries, D::Error> {
    Ok(FactQueries::deserialize(d)?.over(FactQueries::litellm(PROVIDER_GROUPING)))
}

/// Which labels name what, in both the metrics and the alerts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelNames {
    pub region: String,
    pub provider: String,
    /// Read when a query keeps it; LiteLLM's deployment metrics carry it.
    pub model: String,
    /// Alerts carrying it are attached to that service.
    pub service: String,
}

impl Default for LabelNames {
    fn default() -> Self {
        LabelNames {
            region: "region".into(),
            provider: "api_provider".into(),
            model: "litellm_model_name".into(),
            service: "service".into(),
        }
    }
}

/// One PromQL query per fact; a fact without a query is not read (shown as unknown).
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FactQueries {
    pub p50_ms: Option<String>,
    pub p95_ms: Option<String>,
    pub p99_ms: Option<String>,
    /// Share of requests that failed, 429s excluded (0..1).
    pub error_rate: Option<String>,
    /// Share of requests answered 429 (0..1).
    pub rate_limited_rate: Option<String>,
    /// Share of traffic: a region's of the whole fleet, a provider's of its region (0..1).
    pub traffic_share: Option<String>,
    pub load_rps: Option<String>,
}

impl FactQueries {
    pub fn get(&self, kind: FactKind) -> Option<&str> {
        match kind {
            FactKind::P50Ms => self.p50_ms.as_deref(),
            FactKind::P95Ms => self.p95_ms.as_deref(),
            FactKind::P99Ms => self.p99_ms.as_deref(),
            FactKind::ErrorRate => self.error_rate.as_deref(),
            FactKind::RateLimitedRate => self.rate_limited_rate.as_deref(),
            FactKind::TrafficShare => self.traffic_share.as_deref(),
            FactKind::LoadRps => self.load_rps.as_deref(),
        }
    }

    /// These queries over `defaults`: one left out keeps the default, an empty one (`""`)
    /// turns that fact off.
    fn over(self, defaults: FactQueries) -> FactQueries {
        let pick = |mine: Option<String>, default: Option<String>| match mine {
            Some(query) if query.trim().is_empty() => None,
            Some(query) => Some(query),
            None => default,
        };
        FactQueries {
            p50_ms: pick(self.p50_ms, defaults.p50_ms),
            p95_ms: pick(self.p95_ms, defaults.p95_ms),
            p99_ms: pick(self.p99_ms, defaults.p99_ms),
            error_rate: pick(self.error_rate, defaults.error_rate),
            rate_limited_rate: pick(self.rate_limited_rate, defaults.rate_limited_rate),
            traffic_share: pick(self.traffic_share, defaults.traffic_share),
            load_rps: pick(self.load_rps, defaults.load_rps),
        }
    }

    /// LiteLLM's metrics grouped by `by` (placeholders of label names).
    fn litellm(by: &[&str]) -> FactQueries {
        let by = by.join(", ");
        let requests =
            format!("sum by ({by}) (rate(litellm_deployment_total_requests_total[$window]))");
        let failures = |status: &str| {
            format!(
                "sum by ({by}) (rate(litellm_deployment_failure_responses_total{{exception_status{status}}}[$window]))"
            )
        };
        let quantile = |q: &str| {
            format!(
                "1000 * histogram_quantile({q}, sum by (le, {by}) (rate(litellm_llm_api_latency_metric_bucket[$window])))"
            )
        };
        // A region's share of the fleet; a provider's share of its region.
        let whole = match by.split_once(", ") {
            Some((region, _)) => format!(
                "on ({region}) group_left sum by ({region}) (rate(litellm_deployment_total_requests_total[$window]))"
            ),
            None => "scalar(sum(rate(litellm_deployment_total_requests_total[$window])))".into(),
        };
        FactQueries {
            p50_ms: Some(quantile("0.5")),
            p95_ms: Some(quantile("0.95")),
            p99_ms: Some(quantile("0.99")),
            error_rate: Some(format!("{} / {requests}", failures("!=\"429\""))),
            rate_limited_rate: Some(format!("{} / {requests}", failures("=\"429\""))),
            traffic_share: Some(format!("{requests} / {whole}")),
            load_rps: Some(requests),
        }
    }
}

/// When the error rate read makes a region or provider degraded or down.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthThresholds {
    pub degraded_error_rate: f64,
    pub down_error_rate: f64,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        HealthThresholds {
            degraded_error_rate: 0.05,
            down_error_rate: 0.5,
        }
    }
}

/// The span and resolution of the range queries behind the history charts.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistorySettings {
    #[serde(with = "seconds")]
    pub span: Duration,
    #[serde(with = "seconds")]
    pub step: Duration,
}

impl Default for HistorySettings {
    fn default() -> Self {
        HistorySettings {
            span: Duration::from_secs(30 * 60),
            step: Duration::from_secs(15),
        }
    }
}

pub(super) mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let seconds = u64::deserialize(d)?;
        if seconds == 0 {
            return Err(serde::de::Error::custom("must be at least 1 second"));
        }
        Ok(Duration::from_secs(seconds))
    }
}

impl PrometheusSettings {
    /// `query` with its placeholders replaced by this source's window and label names.
    pub fn expand(&self, query: &str) -> String {
        query
            .replace("$window", &self.window)
            .replace("$region", &self.labels.region)
            .replace("$provider", &self.labels.provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example users adapt reads as the defaults it says it writes out.
    #[test]
    fn the_example_settings_are_the_defaults_with_an_alertmanager() {
        let text = include_str!("../../fixtures/sources/prometheus-litellm.toml");
        let example: PrometheusSettings = toml::from_str(text).unwrap();
        let expected = PrometheusSettings {
            alertmanager_url: Some("http://127.0.0.1:9093".into()),
            ..PrometheusSettings::default()
        };
        assert_eq!(example, expected);
    }

    #[test]
    fn a_query_left_out_keeps_its_default_and_an_empty_one_reads_nothing() {
        let settings: PrometheusSettings =
            toml::from_str("[provider]\np95_ms = \"my_p95\"\np99_ms = \"\"\n").unwrap();
        let defaults = PrometheusSettings::default();
        assert_eq!(settings.provider.p95_ms.as_deref(), Some("my_p95"));
        assert_eq!(settings.provider.p99_ms, None);
        assert_eq!(settings.provider.error_rate, defaults.provider.error_rate);
        assert_eq!(settings.region, defaults.region);

        // The same for the other tables: a field left out keeps its default.
        let text =
            "[labels]\nregion = \"zone\"\n[health]\ndown_error_rate = 0.3\n[history]\nstep = 5\n";
        let settings: PrometheusSettings = toml::from_str(text).unwrap();
        assert_eq!(settings.labels.region, "zone");
        assert_eq!(settings.labels.provider, defaults.labels.provider);
        assert_eq!(settings.health.degraded_error_rate, 0.05);
        assert_eq!(settings.history.span, defaults.history.span);
        assert_eq!(settings.history.step, Duration::from_secs(5));
    }

    #[test]
    fn a_misspelt_field_is_refused() {
        let error =
            toml::from_str::<PrometheusSettings>("[labels]\nregoin = \"zone\"\n").unwrap_err();
        assert!(error.to_string().contains("regoin"), "{error}");
    }
}
