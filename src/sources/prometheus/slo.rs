//! The SLO burn rates of the services a source's `[slo]` table names: each service's error
//! ratio over 5 min, 30 min, 1 h and 6 h (burn rate = ratio / (1 - target), by
//! `protocol::posture::Slo::burn_rate`) and over its whole window (the budget left), all
//! queries at once. A query that fails or gives no single number is named; its window is
//! then unknown, never zero.

use futures::future::join_all;

use super::client::{PrometheusClient, Reading};
use super::error::PromError;
use crate::config::prometheus::PrometheusSettings;
use crate::config::slo::SloService;
use crate::domain::measured::{BurnWindow, Fact, ServiceFacts};

/// The services' SLO facts, the queries that failed and what else was wrong with an answer.
#[derive(Debug, Default)]
pub struct SloRead {
    pub services: Vec<ServiceFacts>,
    pub failed: Vec<PromError>,
    pub problems: Vec<String>,
}

/// What one query reads: a burn-rate window, or the whole SLO window (the budget).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Span {
    Burn(BurnWindow),
    Budget,
}

/// Reads every configured service's windows. Fails only when Prometheus is out of reach.
pub async fn read_services(
    client: &PrometheusClient,
    settings: &PrometheusSettings,
) -> Result<SloRead, PromError> {
    let spans = BurnWindow::ALL
        .map(Span::Burn)
        .into_iter()
        .chain([Span::Budget]);
    let queries: Vec<(usize, Span, String, String)> = (settings.slo.services.iter().enumerate())
        .flat_map(|(index, service)| {
            spans.clone().map(move |span| {
                let window = match span {
                    Span::Burn(window) => window.name().to_string(),
                    Span::Budget => service.window.promql(),
                };
                let query = settings
                    .slo
                    .error_ratio(service, &settings.labels.service, &window);
                (index, span, query_name(service, span), query)
            })
        })
        .collect();
    let answers = join_all(queries.iter().map(|(index, span, name, query)| async move {
        (*index, *span, name, client.instant(name, query).await)
    }))
    .await;

    let mut read = SloRead {
        services: (settings.slo.services.iter())
            .map(|service| ServiceFacts {
                service: service.name.clone(),
                slo: service.slo(),
                window: service.window.written.clone(),
                burn: Default::default(),
                budget_left: None,
                thresholds: settings.slo.thresholds(),
            })
            .collect(),
        ..SloRead::default()
    };
    for (index, span, name, answer) in answers {
        let readings = match answer {
            Ok(readings) => readings,
            Err(error) if error.is_source_down() => return Err(error),
            Err(error) => {
                read.failed.push(error);
                continue;
            }
        };
        let ratio = match one_ratio(name, &readings) {
            Ok(ratio) => ratio,
            Err(problem) => {
                read.problems.push(problem);
                continue;
            }
        };
        let Some(ratio) = ratio else { continue };
        let facts = &mut read.services[index];
        match span {
            Span::Burn(window) => {
                let value = facts.slo.burn_rate(ratio.value);
                facts.burn.insert(window, Fact { value, ..ratio });
            }
            Span::Budget => {
                let value = facts.slo.budget_left(ratio.value, 1.0);
                facts.budget_left = Some(Fact { value, ..ratio });
            }
        }
    }
    Ok(read)
}

/// How a query is named in messages: `slo.checkout.5m`, `slo.checkout.30d`.
fn query_name(service: &SloService, span: Span) -> String {
    let window = match span {
        Span::Burn(window) => window.name(),
        Span::Budget => &service.window.written,
    };
    format!("slo.{}.{window}", service.name)
}

/// The one error ratio a query gives; `None` when it is no number (no traffic: 0/0). No
/// series, or several, is a problem of the query, said with what to fix.
fn one_ratio(name: &str, readings: &[Reading]) -> Result<Option<Fact>, String> {
    match readings {
        [reading] => Ok(reading.value.map(|value| Fact {
            value,
            at: reading.at,
        })),
        [] => Err(format!(
            "query {name} gives no series: no requests of the service counted (check the \
             metric and service label names)"
        )),
        several => Err(format!(
            "query {name} gives {} series, one expected: sum() them",
            several.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;

    use super::*;

    fn reading(value: Option<f64>) -> Reading {
        Reading {
            labels: BTreeMap::new(),
            at: Utc::now(),
            value,
        }
    }

    #[test]
    fn a_query_gives_one_ratio_or_says_what_is_wrong() {
        let one = one_ratio("slo.a.5m", &[reading(Some(0.02))]).unwrap();
        assert_eq!(one.map(|f| f.value), Some(0.02));
        assert_eq!(one_ratio("slo.a.5m", &[reading(None)]), Ok(None));
        let none = one_ratio("slo.a.5m", &[]).unwrap_err();
        assert!(none.starts_with("query slo.a.5m gives no series"), "{none}");
        let two = one_ratio("slo.a.5m", &[reading(Some(0.1)), reading(Some(0.2))]).unwrap_err();
        assert_eq!(
            two,
            "query slo.a.5m gives 2 series, one expected: sum() them"
        );
    }
}
