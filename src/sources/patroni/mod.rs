//! A Patroni cluster: the control plane of a replicated PostgreSQL behind a service. Its
//! members (role, state, timeline, replication lag) are the service's replicas and standbys;
//! promoting one is Patroni's switchover, or its failover when no leader is healthy, planned
//! against the cluster as read (lag beyond `maximum_lag_on_failover` warns), and followed until
//! the new leader runs. Patroni has no idempotency key: a promotion whose answer was lost is
//! settled by reading the cluster back (the candidate leads, or it does not).

pub mod client;
pub mod cluster;
pub mod error;
mod worker;

pub use client::PatroniClient;
pub use cluster::{Cluster, Lag, Member, Promotion, PromotionPlan, Role};
pub use error::PatroniError;
pub use worker::{operator_name, spawn_patroni};

use crate::config::SourceConfig;
pub use crate::config::patroni::PatroniSettings;
use crate::domain::patroni::ClusterRead;
use crate::sources::{ClientError, Timeouts};

/// How to reach one configured Patroni source.
#[derive(Clone, PartialEq)]
pub struct PatroniSpec {
    pub name: String,
    /// Every member's REST API, the source's `url` first.
    pub urls: Vec<String>,
    /// `user:password` of Patroni's REST API, from the keyring; never logged.
    pub credentials: Option<String>,
    pub settings: PatroniSettings,
}

impl PatroniSpec {
    /// The spec of a configured source of kind `patroni` with its keyring entry.
    pub fn new(source: &SourceConfig, credentials: Option<String>) -> Self {
        let settings =
            (source.patroni.clone()).expect("the config gives every patroni source its settings");
        PatroniSpec {
            name: source.name.clone(),
            urls: settings.member_urls(&source.url),
            credentials,
            settings,
        }
    }

    /// The first member's URL, which names the source (the journal, the status bar).
    pub fn url(&self) -> &str {
        &self.urls[0]
    }

    /// One read of the cluster with what the config says around it.
    pub async fn read(&self, client: &PatroniClient) -> Result<ClusterRead, PatroniError> {
        Ok(ClusterRead {
            service: self.settings.service.clone(),
            cluster: client.cluster().await?,
            max_lag: client.max_lag_on_failover().await?,
            regions: self.settings.regions.clone(),
            read_at: chrono::Utc::now(),
        })
    }

    pub fn client(&self, timeouts: Timeouts) -> Result<PatroniClient, ClientError> {
        Ok(PatroniClient::new(&self.urls, timeouts)?.with_credentials(self.credentials.as_deref()))
    }
}

/// The credentials never reach a log or a panic message.
impl std::fmt::Debug for PatroniSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatroniSpec")
            .field("name", &self.name)
            .field("urls", &self.urls)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}
