//! A Prometheus source with its Alertmanager: region and provider facts from the PromQL
//! queries named in the config (each with the time it was read), services' SLO burn rates
//! (`slo`), chart history from range queries, firing alerts as timeline notices attached to
//! what their labels name, and silences created and expired as idempotent commands.

pub mod alerts;
pub mod client;
pub mod error;
pub mod facts;
mod http;
pub mod silences;
pub mod slo;
mod worker;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

pub use alerts::AlertmanagerClient;
pub use client::PrometheusClient;
pub use error::{PromError, System};
pub use facts::FleetFacts;
pub use silences::{Matcher, Silence, SilenceCreated, SilenceExpired, SilenceRequest};
pub use worker::spawn_prometheus;

pub use crate::config::prometheus::PrometheusSettings;
pub use crate::domain::measured::{
    AlertTarget, BurnLevel, BurnWindow, Fact, FactKind, FiringAlert, ProviderFacts, RegionFacts,
    ServiceFacts,
};

use crate::domain::fleet::Sample;
use crate::sources::client::Timeouts;

/// How to reach one configured Prometheus source.
#[derive(Clone, PartialEq)]
pub struct PrometheusSpec {
    pub name: String,
    pub url: String,
    /// Bearer token for Prometheus and its Alertmanager, from the keyring; never logged.
    pub token: Option<String>,
    pub settings: PrometheusSettings,
}

impl PrometheusSpec {
    /// Its Alertmanager (with the source's token), `None` without an `alertmanager_url`:
    /// where silences are made, listed and settled.
    pub fn alertmanager(&self) -> Result<Option<AlertmanagerClient>, PromError> {
        let source = PrometheusSource::new(
            &self.name,
            &self.url,
            self.settings.clone(),
            Timeouts::default(),
        )?;
        Ok(source.with_token(self.token.clone()).alertmanager)
    }
}

/// The token never reaches a log or a panic message.
impl std::fmt::Debug for PrometheusSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusSpec")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One configured Prometheus source and, when configured, its Alertmanager.
#[derive(Clone, Debug)]
pub struct PrometheusSource {
    /// The source's configured name: every fact it gives carries it.
    pub name: String,
    pub prometheus: PrometheusClient,
    pub alertmanager: Option<AlertmanagerClient>,
    pub settings: PrometheusSettings,
}

impl PrometheusSource {
    pub fn new(
        name: &str,
        url: &str,
        settings: PrometheusSettings,
        timeouts: Timeouts,
    ) -> Result<Self, PromError> {
        let alertmanager = settings
            .alertmanager_url
            .as_deref()
            .map(|url| AlertmanagerClient::new(url, settings.labels.clone(), timeouts))
            .transpose()?;
        Ok(PrometheusSource {
            name: name.to_string(),
            prometheus: PrometheusClient::new(url, timeouts)?,
            alertmanager,
            settings,
        })
    }

    /// The source sending `token` (from the keyring) to Prometheus and Alertmanager.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.prometheus.set_token(token.clone());
        if let Some(alertmanager) = &mut self.alertmanager {
            alertmanager.endpoint.set_token(token);
        }
        self
    }

    /// The facts of every region and provider the queries give, read now.
    pub async fn facts(&self) -> Result<FleetFacts, PromError> {
        facts::read_facts(&self.prometheus, &self.name, &self.settings).await
    }

    /// The charted history up to `now`, by the console's history keys.
    pub async fn history(
        &self,
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, Vec<Sample>>, PromError> {
        facts::read_history(&self.prometheus, &self.settings, now).await
    }

    /// The Alertmanager, or why there is none to silence with.
    pub fn alertmanager(&self) -> Result<&AlertmanagerClient, PromError> {
        self.alertmanager.as_ref().ok_or_else(|| {
            PromError::NotSendable(format!(
                "source {} has no alertmanager_url in the config",
                self.name
            ))
        })
    }
}
