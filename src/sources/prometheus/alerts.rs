//! Alertmanager's API v2: the alerts firing now, each attached by its labels to the region,
//! provider or service it is about, and told as a timeline notice.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;

use super::error::{PromError, System};
use super::http::Endpoint;
use crate::config::prometheus::LabelNames;
use crate::domain::measured::{AlertTarget, FiringAlert};
use crate::sources::client::Timeouts;
use crate::sources::error::bounded;

impl AlertTarget {
    /// What the alert with `labels` is about, by the source's label names.
    pub fn of(labels: &BTreeMap<String, String>, names: &LabelNames) -> Self {
        let get = |name: &str| {
            labels
                .get(name)
                .map(|v| bounded(v))
                .filter(|v| !v.is_empty())
        };
        AlertTarget {
            region: get(&names.region),
            provider: get(&names.provider),
            service: get(&names.service),
        }
    }
}

/// A client of one Alertmanager. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AlertmanagerClient {
    pub(super) endpoint: Endpoint,
    pub(super) labels: LabelNames,
}

impl AlertmanagerClient {
    pub fn new(url: &str, labels: LabelNames, timeouts: Timeouts) -> Result<Self, PromError> {
        Ok(AlertmanagerClient {
            endpoint: Endpoint::new(System::Alertmanager, url, timeouts)?,
            labels,
        })
    }

    pub fn url(&self) -> &str {
        self.endpoint.url()
    }

    /// `GET /api/v2/alerts`: the active alerts, silenced ones included (marked), inhibited
    /// ones left out (another alert already speaks for them).
    pub async fn firing(&self) -> Result<Vec<FiringAlert>, PromError> {
        let request = self.endpoint.request(
            Method::GET,
            &["api", "v2", "alerts"],
            &[
                ("active", "true"),
                ("silenced", "true"),
                ("inhibited", "false"),
                ("unprocessed", "false"),
            ],
        );
        let alerts: Vec<WireAlert> = self.endpoint.json(request, "alerts").await?;
        let mut firing: Vec<FiringAlert> = alerts
            .into_iter()
            .filter(|a| a.status.state != "unprocessed")
            .map(|a| self.map(a))
            .collect();
        firing.sort_by(|a, b| (a.started_at, &a.fingerprint).cmp(&(b.started_at, &b.fingerprint)));
        Ok(firing)
    }

    fn map(&self, alert: WireAlert) -> FiringAlert {
        let labels: BTreeMap<String, String> = alert
            .labels
            .iter()
            .map(|(k, v)| (bounded(k), bounded(v)))
            .collect();
        let annotation = |name: &str| alert.annotations.get(name).map(|v| bounded(v));
        FiringAlert {
            name: labels
                .get("alertname")
                .cloned()
                .unwrap_or_else(|| "unnamed".into()),
            severity: labels.get("severity").cloned(),
            summary: annotation("summary").or_else(|| annotation("description")),
            started_at: alert.starts_at,
            fingerprint: bounded(&alert.fingerprint),
            target: AlertTarget::of(&labels, &self.labels),
            silenced_by: alert
                .status
                .silenced_by
                .iter()
                .map(|id| bounded(id))
                .collect(),
            labels,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAlert {
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: DateTime<Utc>,
    fingerprint: String,
    status: WireAlertStatus,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAlertStatus {
    state: String,
    #[serde(default)]
    silenced_by: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_alert_is_attached_by_its_labels_and_told_cleanly() {
        let names = LabelNames::default();
        let client =
            AlertmanagerClient::new("http://127.0.0.1:9", names, Timeouts::default()).unwrap();
        let alert = client.map(WireAlert {
            labels: labels(&[
                ("alertname", "ProviderErrorRateHigh"),
                ("severity", "critical"),
                ("region", "us-east"),
                ("api_provider", "open\u{1b}[2Jai"),
            ]),
            annotations: labels(&[("summary", "fails\n40% of requests")]),
            starts_at: DateTime::UNIX_EPOCH,
            fingerprint: "abc".into(),
            status: WireAlertStatus {
                state: "suppressed".into(),
                silenced_by: vec!["s1".into()],
            },
        });
        assert_eq!(
            alert.target.provider_id().as_deref(),
            Some("openai@us-east")
        );
        assert_eq!(
            alert.notice().text,
            "alert ProviderErrorRateHigh [critical] on openai@us-east: fails 40% of requests (silenced)"
        );
    }

    #[test]
    fn the_most_specific_target_is_named() {
        let names = LabelNames::default();
        let region_only = AlertTarget::of(&labels(&[("region", "eu")]), &names);
        assert_eq!(region_only.describe().as_deref(), Some("eu"));
        let service = AlertTarget::of(&labels(&[("service", "triage")]), &names);
        assert_eq!(service.describe().as_deref(), Some("service triage"));
        assert_eq!(AlertTarget::default().describe(), None);
    }
}
