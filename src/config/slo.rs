//! A Prometheus source's `[slo]` table: the services whose SLO burn rates it reads, each with
//! its target and window, and the PromQL that gives a service's error ratio over a window.
//! By default that query is the standard ratio of two counters,
//! `(sum(rate(<errors>{<service label>="$service",<error matchers>}[$window])) or vector(0))
//! / sum(rate(<requests>{<service label>="$service"}[$window]))`, with the metric names and
//! matchers configurable; a service may name its own query with `$service` and `$window`.
//! Every value is checked where it is written, so a mistake is named at its line and column.

use serde::{Deserialize, Deserializer};

use super::{NAME_RULE, is_valid_name};
use crate::domain::measured::BurnThresholds;

/// What a Prometheus source reads of its services' SLOs.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SloSettings {
    /// The counter of every request, with the service label.
    #[serde(deserialize_with = "not_empty")]
    pub requests_metric: String,
    /// The counter the failed requests are read from (often the same metric).
    #[serde(deserialize_with = "not_empty")]
    pub errors_metric: String,
    /// Label matchers that pick the failed requests of `errors_metric`, e.g. `code=~"5.."`;
    /// empty: every sample of `errors_metric` is a failure.
    pub error_matchers: String,
    /// Burn rates above which the page and the ticket fire (the SRE workbook's 14.4 and 6).
    #[serde(deserialize_with = "burn_rate")]
    pub page_burn_rate: f64,
    #[serde(deserialize_with = "burn_rate")]
    pub ticket_burn_rate: f64,
    #[serde(deserialize_with = "distinct_services")]
    pub services: Vec<SloService>,
}

impl Default for SloSettings {
    fn default() -> Self {
        let thresholds = BurnThresholds::default();
        SloSettings {
            requests_metric: "http_requests_total".into(),
            errors_metric: "http_requests_total".into(),
            error_matchers: "code=~\"5..\"".into(),
            page_burn_rate: thresholds.page,
            ticket_burn_rate: thresholds.ticket,
            services: Vec::new(),
        }
    }
}

impl SloSettings {
    pub fn thresholds(&self) -> BurnThresholds {
        BurnThresholds {
            page: self.page_burn_rate,
            ticket: self.ticket_burn_rate,
        }
    }

    /// The PromQL of `service`'s error ratio over `window` (a PromQL duration), its service
    /// label named `service_label`: the service's own query, else the standard one.
    pub fn error_ratio(&self, service: &SloService, service_label: &str, window: &str) -> String {
        match &service.error_ratio {
            Some(query) => query
                .replace("$service", &service.name)
                .replace("$window", window),
            None => {
                let errors = match self.error_matchers.trim() {
                    "" => String::new(),
                    matchers => format!(",{matchers}"),
                };
                let selector = format!("{service_label}=\"{}\"", service.name);
                format!(
                    "(sum(rate({}{{{selector}{errors}}}[{window}])) or vector(0)) / sum(rate({}{{{selector}}}[{window}]))",
                    self.errors_metric, self.requests_metric
                )
            }
        }
    }
}

/// One service's objective as the config names it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloService {
    /// The service's name: the value of the service label, and its name in the fleet.
    #[serde(deserialize_with = "service_name")]
    pub name: String,
    /// The share of requests that must succeed, e.g. 0.999.
    #[serde(deserialize_with = "target")]
    pub target: f64,
    /// The SLO's rolling window (`30d`, `7d`, `1h`): the error budget is spent over it.
    #[serde(default = "default_window", deserialize_with = "window")]
    pub window: SloWindow,
    /// The service's own error-ratio query, with `$service` and `$window`.
    #[serde(default, deserialize_with = "ratio_query")]
    pub error_ratio: Option<String>,
}

impl SloService {
    pub fn slo(&self) -> protocol::posture::Slo {
        protocol::posture::Slo {
            target: self.target,
            window_s: self.window.seconds as f64,
        }
    }
}

/// A window as written (for the screen) and in seconds (for the queries and the arithmetic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SloWindow {
    pub written: String,
    pub seconds: u64,
}

impl SloWindow {
    /// As a PromQL range: whole seconds, which every Prometheus reads.
    pub fn promql(&self) -> String {
        format!("{}s", self.seconds)
    }
}

fn default_window() -> SloWindow {
    SloWindow {
        written: "30d".into(),
        seconds: 30 * 86_400,
    }
}

fn custom<E: serde::de::Error>(message: String) -> E {
    E::custom(message)
}

fn not_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    match text.trim() {
        "" => Err(custom("a metric name is needed here".into())),
        name => Ok(name.to_string()),
    }
}

fn burn_rate<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let rate = f64::deserialize(d)?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(custom(format!(
            "burn rate {rate} is not above 0 (the standard ones are 14.4 and 6)"
        )));
    }
    Ok(rate)
}

fn service_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    if !is_valid_name(&name) {
        return Err(custom(format!(
            "service name {name:?} is not allowed: {NAME_RULE}"
        )));
    }
    Ok(name)
}

fn target<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let target = f64::deserialize(d)?;
    if !(target > 0.0 && target < 1.0) {
        return Err(custom(format!(
            "target {target} is not a share between 0 and 1: write 99.9% as 0.999"
        )));
    }
    Ok(target)
}

fn window<'de, D: Deserializer<'de>>(d: D) -> Result<SloWindow, D::Error> {
    let written = String::deserialize(d)?.trim().to_string();
    let seconds = protocol::duration::parse_duration_s(&written).map_err(custom)?;
    if seconds < 60 {
        return Err(custom(format!(
            "window {written:?} is shorter than a minute: an SLO window is e.g. 30d"
        )));
    }
    Ok(SloWindow { written, seconds })
}

fn ratio_query<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let query = String::deserialize(d)?;
    if !query.contains("$window") {
        return Err(custom(
            "error_ratio must use $window: each burn-rate window reads the query over its own range"
                .into(),
        ));
    }
    Ok(Some(query))
}

fn distinct_services<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SloService>, D::Error> {
    let services = Vec::<SloService>::deserialize(d)?;
    for (at, service) in services.iter().enumerate() {
        if services[..at].iter().any(|s| s.name == service.name) {
            return Err(custom(format!(
                "service {:?} has two objectives: name each service once",
                service.name
            )));
        }
    }
    Ok(services)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_reads_the_standard_query_with_its_label_or_its_own() {
        let text = "\
requests_metric = \"api_requests_total\"
page_burn_rate = 10
[[services]]
name = \"checkout\"
target = 0.999
[[services]]
name = \"search\"
target = 0.99
window = \"7d\"
error_ratio = \"my_errors{svc=\\\"$service\\\"}[$window]\"
";
        let settings: SloSettings = toml::from_str(text).unwrap();
        assert_eq!(
            settings.thresholds(),
            BurnThresholds {
                page: 10.0,
                ticket: 6.0
            }
        );
        let checkout = &settings.services[0];
        assert_eq!(checkout.window, default_window());
        assert_eq!(checkout.slo().window_s, 2_592_000.0);
        assert_eq!(
            settings.error_ratio(checkout, "job", "300s"),
            "(sum(rate(http_requests_total{job=\"checkout\",code=~\"5..\"}[300s])) or vector(0)) \
             / sum(rate(api_requests_total{job=\"checkout\"}[300s]))"
        );
        let search = &settings.services[1];
        assert_eq!(
            (search.window.written.as_str(), search.window.seconds),
            ("7d", 604_800)
        );
        assert_eq!(
            settings.error_ratio(search, "job", "1h"),
            "my_errors{svc=\"search\"}[1h]"
        );
        let all_failures = SloSettings {
            error_matchers: " ".into(),
            ..SloSettings::default()
        };
        assert!(
            all_failures
                .error_ratio(checkout, "service", "5m")
                .starts_with("(sum(rate(http_requests_total{service=\"checkout\"}[5m]))")
        );
    }

    #[test]
    fn each_mistake_is_refused_with_why() {
        let refused = |text: &str| toml::from_str::<SloSettings>(text).unwrap_err().to_string();
        let service = |field: &str| format!("[[services]]\nname = \"a\"\ntarget = 0.99\n{field}\n");
        assert!(refused(&service("window = \"30 days\"")).contains("not a duration"));
        assert!(refused(&service("window = \"30s\"")).contains("shorter than a minute"));
        assert!(refused(&service("error_ratio = \"x[5m]\"")).contains("$window"));
        assert!(refused(&service("targte = 1")).contains("targte"));
        assert!(refused("[[services]]\nname = \"a\"\ntarget = 99.9\n").contains("0.999"));
        assert!(refused("[[services]]\nname = \"a b\"\ntarget = 0.9\n").contains("not allowed"));
        let twice =
            "[[services]]\nname = \"a\"\ntarget = 0.9\n[[services]]\nname = \"a\"\ntarget = 0.99\n";
        assert!(refused(twice).contains("two objectives"));
        assert!(refused("ticket_burn_rate = 0").contains("not above 0"));
        assert!(refused("requests_metric = \"\"").contains("metric name"));
    }
}
