//! Prometheus's HTTP API: instant queries (`/api/v1/query`) and range queries
//! (`/api/v1/query_range`), each named after its place in the config so that a failure says
//! which query to fix.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::Method;
use serde::Deserialize;

use super::error::{PromError, System};
use super::http::Endpoint;
use crate::sources::client::Timeouts;

/// One series of an instant query's answer: its labels and its value then.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub labels: BTreeMap<String, String>,
    /// When Prometheus evaluated the query (its clock).
    pub at: DateTime<Utc>,
    /// `None` for NaN and infinities (e.g. a ratio over no traffic): nothing to show.
    pub value: Option<f64>,
}

/// One series of a range query's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    /// Finite points only, oldest first.
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// A client of one Prometheus server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PrometheusClient {
    endpoint: Endpoint,
}

impl PrometheusClient {
    pub fn new(url: &str, timeouts: Timeouts) -> Result<Self, PromError> {
        Ok(PrometheusClient {
            endpoint: Endpoint::new(System::Prometheus, url, timeouts)?,
        })
    }

    pub fn url(&self) -> &str {
        self.endpoint.url()
    }

    pub(super) fn set_token(&mut self, token: Option<String>) {
        self.endpoint.set_token(token);
    }

    /// Evaluates `query` now; `name` names it in errors.
    pub async fn instant(&self, name: &str, query: &str) -> Result<Vec<Reading>, PromError> {
        let request =
            self.endpoint
                .request(Method::GET, &["api", "v1", "query"], &[("query", query)]);
        match self.ask(request, name).await? {
            QueryData::Vector(samples) => Ok(samples
                .into_iter()
                .map(|s| Reading {
                    labels: s.metric,
                    at: instant_of(s.value.0),
                    value: finite(&s.value.1),
                })
                .collect()),
            QueryData::Scalar(value) => Ok(vec![Reading {
                labels: BTreeMap::new(),
                at: instant_of(value.0),
                value: finite(&value.1),
            }]),
            other => Err(self.unexpected(name, "vector", &other)),
        }
    }

    /// Evaluates `query` at every `step` from `start` to `end`.
    pub async fn range(
        &self,
        name: &str,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<Vec<Series>, PromError> {
        let (start, end) = (unix(start), unix(end));
        let step = step.as_secs_f64().to_string();
        let request = self.endpoint.request(
            Method::GET,
            &["api", "v1", "query_range"],
            &[
                ("query", query),
                ("start", &start),
                ("end", &end),
                ("step", &step),
            ],
        );
        match self.ask(request, name).await? {
            QueryData::Matrix(series) => Ok(series
                .into_iter()
                .map(|s| Series {
                    labels: s.metric,
                    points: s
                        .values
                        .iter()
                        .filter_map(|(at, v)| Some((instant_of(*at), finite(v)?)))
                        .collect(),
                })
                .collect()),
            other => Err(self.unexpected(name, "matrix", &other)),
        }
    }

    async fn ask(
        &self,
        request: reqwest::RequestBuilder,
        name: &str,
    ) -> Result<QueryData, PromError> {
        let what = format!("query {name}");
        let answer: Answer = self
            .endpoint
            .json(request, &what)
            .await
            .map_err(|e| e.for_query(name))?;
        match answer {
            Answer {
                status,
                data: Some(data),
                ..
            } if status == "success" => Ok(data),
            Answer {
                error: Some(error),
                error_type,
                ..
            } => Err(PromError::BadQuery {
                query: name.to_string(),
                message: crate::sources::error::bounded(&match error_type {
                    Some(kind) => format!("{kind}: {error}"),
                    None => error,
                }),
            }),
            Answer { status, .. } => Err(PromError::malformed(
                System::Prometheus,
                &what,
                format!("status {status:?} without data"),
            )),
        }
    }

    fn unexpected(&self, name: &str, wanted: &str, got: &QueryData) -> PromError {
        PromError::BadQuery {
            query: name.to_string(),
            message: format!("gives a {}, not a {wanted}", got.kind()),
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    data: Option<QueryData>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum QueryData {
    Vector(Vec<VectorSample>),
    Matrix(Vec<MatrixSeries>),
    Scalar((f64, String)),
    /// A string result; its value is of no use as a fact.
    String(serde::de::IgnoredAny),
}

impl QueryData {
    fn kind(&self) -> &'static str {
        match self {
            QueryData::Vector(_) => "vector",
            QueryData::Matrix(_) => "matrix",
            QueryData::Scalar(_) => "scalar",
            QueryData::String(_) => "string",
        }
    }
}

#[derive(Deserialize)]
struct VectorSample {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixSeries {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// Prometheus writes sample values as strings ("0.25", "NaN", "+Inf").
fn finite(value: &str) -> Option<f64> {
    value.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn instant_of(unix_seconds: f64) -> DateTime<Utc> {
    let millis = (unix_seconds * 1000.0).round() as i64;
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn unix(at: DateTime<Utc>) -> String {
    format!("{:.3}", at.timestamp_millis() as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_are_no_reading_are_dropped() {
        assert_eq!(finite("0.25"), Some(0.25));
        assert_eq!(finite("NaN"), None);
        assert_eq!(finite("+Inf"), None);
        assert_eq!(finite("-Inf"), None);
        assert_eq!(finite("garbage"), None);
    }

    #[test]
    fn answers_of_each_result_type_parse() {
        let vector: Answer = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"region":"us-east"},"value":[1700000000.5,"0.1"]}]}}"#,
        )
        .unwrap();
        let Some(QueryData::Vector(samples)) = vector.data else {
            panic!("a vector")
        };
        assert_eq!(samples[0].metric["region"], "us-east");
        assert_eq!(
            instant_of(samples[0].value.0).timestamp_millis(),
            1_700_000_000_500
        );

        let scalar: Answer = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}}"#,
        )
        .unwrap();
        assert!(matches!(scalar.data, Some(QueryData::Scalar(_))));

        let error: Answer = serde_json::from_str(
            r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
        )
        .unwrap();
        assert_eq!(error.error.as_deref(), Some("parse error"));
    }
}
