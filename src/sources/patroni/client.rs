//! The client of one Patroni cluster over its members' REST APIs: the cluster read from the
//! first member that answers, promotions sent as Patroni's switchover (or failover), and the
//! result followed until the new leader runs.

use std::time::{Duration, Instant};

use reqwest::{Method, Response, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::cluster::{Cluster, ClusterWire, Promotion, PromotionPlan};
use super::error::PatroniError;
use crate::sources::client::{MAX_BODY_BYTES, Timeouts, http_for, read_bounded};
use crate::sources::error::ClientError;

/// Largest error or confirmation text read.
const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Patroni's default `maximum_lag_on_failover` (1 MiB), when its config does not say.
const DEFAULT_MAX_LAG: u64 = 1_048_576;
/// How often the cluster is read while a promotion is followed.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// Clones share the connection pools.
#[derive(Clone)]
pub struct PatroniClient {
    /// Each member's REST API, in the configured order; each with its own client, so that a
    /// loopback member never goes through a proxy meant for the others.
    members: Vec<(reqwest::Client, Url)>,
    timeouts: Timeouts,
    /// Basic auth of Patroni's REST API (`user`, `password`), from the keyring.
    credentials: Option<(String, String)>,
}

/// The credentials never reach a log or a panic message.
impl std::fmt::Debug for PatroniClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&str> = self.members.iter().map(|(_, url)| url.as_str()).collect();
        f.debug_struct("PatroniClient")
            .field("members", &urls)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl PatroniClient {
    /// A client of the members at `urls` (any member's API answers for the whole cluster).
    pub fn new(urls: &[String], timeouts: Timeouts) -> Result<Self, ClientError> {
        if urls.is_empty() {
            return Err(ClientError::InvalidUrl {
                url: String::new(),
                reason: "a Patroni source needs at least one member's REST API URL".into(),
            });
        }
        let members = urls
            .iter()
            .map(|url| http_for(url, timeouts))
            .collect::<Result<_, _>>()?;
        Ok(PatroniClient {
            members,
            timeouts,
            credentials: None,
        })
    }

    /// The client sending `credentials` (`user:password`, from the keyring) as basic auth,
    /// which Patroni asks for on its unsafe endpoints when `restapi.authentication` is set.
    pub fn with_credentials(mut self, credentials: Option<&str>) -> Self {
        self.credentials = credentials.map(|text| match text.split_once(':') {
            Some((user, password)) => (user.to_string(), password.to_string()),
            None => (text.to_string(), String::new()),
        });
        self
    }

    /// The members with their role, state, timeline and lag.
    pub async fn cluster(&self) -> Result<Cluster, PatroniError> {
        let wire: ClusterWire = self.read_json("cluster").await?;
        Ok(wire.into())
    }

    /// The cluster's `maximum_lag_on_failover` in bytes (from its dynamic config).
    pub async fn max_lag_on_failover(&self) -> Result<u64, PatroniError> {
        let config: Value = self.read_json("config").await?;
        Ok(config
            .get("maximum_lag_on_failover")
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_MAX_LAG))
    }

    /// Sends the promotion of `plan`. A switchover names the leader it was planned against:
    /// if another has taken over since, Patroni changes nothing and the error says who leads.
    pub async fn promote(&self, plan: &PromotionPlan) -> Result<String, PatroniError> {
        let (path, body) = match &plan.promotion {
            Promotion::Switchover { leader } => (
                "switchover",
                json!({"leader": leader, "candidate": plan.candidate}),
            ),
            Promotion::Failover => ("failover", json!({"candidate": plan.candidate})),
        };
        match self.send_text(Method::POST, path, Some(body)).await {
            Err(PatroniError::Refused {
                status: 412,
                message,
            }) if message.contains("leader name does not match") => {
                let Promotion::Switchover { leader } = &plan.promotion else {
                    return Err(PatroniError::Refused {
                        status: 412,
                        message,
                    });
                };
                let now = match self
                    .cluster()
                    .await
                    .ok()
                    .as_ref()
                    .and_then(Cluster::healthy_leader)
                {
                    Some(member) => format!("{} leads now", member.name),
                    None => "no member leads now".into(),
                };
                Err(PatroniError::LeaderChanged {
                    expected: leader.clone(),
                    now,
                })
            }
            other => other,
        }
    }

    /// Reads the cluster until `candidate` leads and runs, for at most `wait`.
    pub async fn follow(&self, candidate: &str, wait: Duration) -> Result<Cluster, PatroniError> {
        let started = Instant::now();
        loop {
            let seen = match self.cluster().await {
                Ok(cluster) => match cluster.member(candidate) {
                    Some(member) if member.leads() && member.running() => return Ok(cluster),
                    Some(member) => {
                        format!("{candidate} is {} and {}", member.role.word(), member.state)
                    }
                    None => format!("{candidate} is not a member"),
                },
                // Members restart during a switchover: an unanswered read is expected.
                Err(error) => error.to_string(),
            };
            if started.elapsed() >= wait {
                return Err(PatroniError::NotFollowed {
                    candidate: candidate.to_string(),
                    waited_s: wait.as_secs(),
                    seen,
                });
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    }

    async fn read_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, PatroniError> {
        let body = self.send(Method::GET, path, None).await?;
        serde_json::from_slice(&body).map_err(|e| PatroniError::malformed(path, e))
    }

    async fn send_text(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<String, PatroniError> {
        let body = self.send(method, path, body).await?;
        Ok(crate::sources::error::bounded(&String::from_utf8_lossy(
            &body,
        )))
    }

    /// Sends to the first member that answers. A member that cannot have received the
    /// request (nothing listens, no route) gives way to the next; one that may have (it
    /// timed out, the answer broke off) does not: the outcome is unknown and is reported so.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Vec<u8>, PatroniError> {
        let mut first: Option<ClientError> = None;
        let mut tried = 0;
        for (http, base) in &self.members {
            tried += 1;
            let url = base
                .join(path)
                .expect("a plain path joins any http(s) base");
            let mut request = http
                .request(method.clone(), url)
                .timeout(self.timeouts.request);
            if let Some((user, password)) = &self.credentials {
                request = request.basic_auth(user, Some(password));
            }
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            let failed = match request.send().await {
                Ok(response) => return self.answer(response, path, base.as_str()).await,
                Err(error) => {
                    ClientError::from_transport(base.as_str(), &error, self.timeouts.request)
                }
            };
            let unknown = failed.outcome_unknown() && method != Method::GET;
            first.get_or_insert(failed);
            if unknown {
                break;
            }
        }
        Err(PatroniError::Unreachable {
            tried,
            first: first.expect("at least one member was tried"),
        })
    }

    async fn answer(
        &self,
        response: Response,
        what: &str,
        url: &str,
    ) -> Result<Vec<u8>, PatroniError> {
        let status = response.status();
        let limit = if status.is_success() {
            MAX_BODY_BYTES
        } else {
            MAX_TEXT_BYTES
        };
        let body = read_bounded(response, limit, what, url, self.timeouts.request)
            .await
            .map_err(|first| PatroniError::Unreachable { tried: 1, first })?;
        if status.is_success() {
            return Ok(body);
        }
        let words = String::from_utf8_lossy(&body).trim().to_string();
        let words = match words.is_empty() {
            true => status.canonical_reason().unwrap_or("error").to_string(),
            false => words,
        };
        Err(PatroniError::refused(status.as_u16(), &words))
    }
}
