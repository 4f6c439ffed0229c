//! The worker (a tokio task) that reads one LiteLLM proxy every poll interval and reports its
//! deployments, routes, cooldowns and spend (per hour, from its reads over the last minutes)
//! as one [`GatewayFacts`]. The proxy out of reach (or
//! refusing the key) is reported as `Down` with its own error, and tried again after a
//! growing, jittered delay.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Deployment, Gateway, LiteLlmClient, LiteLlmSettings};
use crate::domain::fleet::DownKind;
use crate::domain::gateway::{
    Cooldown, DeploymentState, DeploymentUsage, GatewayDeployment, GatewayFacts, GatewayRoute,
};
use crate::sources::worker::{Outbox, PolledSource, poll_until_stopped, spawn_until_shutdown};
use crate::sources::{ClientError, SourceEvent, SourceMsg, SourceOptions};

/// How to reach one configured LiteLLM proxy.
#[derive(Clone, PartialEq)]
pub struct LiteLlmSpec {
    pub name: String,
    pub url: String,
    /// The proxy's master key, from the keyring (or `SWITCHBOARD_TOKEN`); never logged.
    pub master_key: Option<String>,
    pub settings: LiteLlmSettings,
}

/// The key never reaches a log or a panic message.
impl std::fmt::Debug for LiteLlmSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteLlmSpec")
            .field("name", &self.name)
            .field("url", &self.url)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Starts the worker of one LiteLLM source; it stops as the other workers do (shutdown, the
/// receiver gone, or the handle aborted).
pub fn spawn_litellm<M>(
    spec: LiteLlmSpec,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
    options: SourceOptions,
) -> JoinHandle<()>
where
    M: From<SourceMsg> + Send + 'static,
{
    spawn_until_shutdown(run(spec, tx, options), shutdown)
}

/// A LiteLLM proxy as the polling loop reads it.
struct Polled {
    /// The client, or why it could not be made (reported as `Down` at every poll).
    client: Result<LiteLlmClient, ClientError>,
    cooldowns: Cooldowns,
    spending: Spending,
    every: Duration,
}

async fn run<M: From<SourceMsg> + Send>(
    spec: LiteLlmSpec,
    tx: mpsc::Sender<M>,
    options: SourceOptions,
) {
    let settings = spec.settings;
    let client = LiteLlmClient::new(
        &spec.url,
        spec.master_key,
        settings.regions,
        options.timeouts,
    )
    .map(|client| (client.with_providers(settings.providers)).with_prices(settings.prices));
    let polled = Polled {
        client,
        cooldowns: Cooldowns::default(),
        spending: Spending::default(),
        every: settings.poll_interval,
    };
    let outbox = Outbox {
        source: spec.name,
        tx,
    };
    poll_until_stopped(polled, outbox, options.backoff, rand::random::<f64>).await;
}

impl PolledSource for Polled {
    type Error = ClientError;

    async fn poll<M: From<SourceMsg> + Send>(
        &mut self,
        outbox: &Outbox<M>,
    ) -> Result<bool, ClientError> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let gateway = client.gateway().await?;
        let mut facts = self.cooldowns.facts(gateway, Utc::now());
        self.spending.rate(&mut facts);
        Ok(outbox
            .send(SourceEvent::Gateway(Box::new(facts)))
            .await
            .is_ok())
    }

    fn only_the_user_can_fix(error: &ClientError) -> bool {
        error.is_persistent()
    }

    fn down_kind(error: &ClientError) -> DownKind {
        error.down_kind()
    }

    fn poll_interval(&self) -> Duration {
        self.every
    }
}

/// What the worker remembers between reads to date each cooldown: LiteLLM's metrics count
/// cooldowns but say neither when one began nor when it ends.
#[derive(Default)]
struct Cooldowns {
    /// Deployment id -> its cooldown counts at the last read, and the cooldown it was in.
    seen: HashMap<String, (std::collections::BTreeMap<String, u64>, Option<Cooldown>)>,
}

impl Cooldowns {
    /// The read as facts, each cooldown dated by when it was first seen.
    fn facts(&mut self, gateway: Gateway, now: DateTime<Utc>) -> GatewayFacts {
        let until = gateway
            .cooldown_s
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| now + chrono::TimeDelta::milliseconds((s * 1000.0) as i64));
        let deployments: Vec<GatewayDeployment> = (gateway.deployments.into_iter())
            .map(|d| self.deployment(d, now, until))
            .collect();
        let mut routes: Vec<GatewayRoute> = Vec::new();
        for deployment in &deployments {
            match routes.iter_mut().find(|r| r.group == deployment.group) {
                Some(route) => route.deployments.push(deployment.id.clone()),
                None => routes.push(GatewayRoute {
                    group: deployment.group.clone(),
                    deployments: vec![deployment.id.clone()],
                    fallbacks: Vec::new(),
                    served: Default::default(),
                }),
            }
        }
        for (group, fallbacks) in gateway.fallbacks {
            if let Some(route) = routes.iter_mut().find(|r| r.group == group) {
                route.fallbacks = fallbacks;
            }
        }
        for ((requested, fallback), calls) in gateway.fallbacks_served {
            if let Some(route) = routes.iter_mut().find(|r| r.group == requested) {
                route.served.insert(fallback, calls);
            }
        }
        GatewayFacts {
            read_at: now,
            routing_strategy: gateway.routing_strategy,
            allowed_fails: gateway.allowed_fails,
            cooldown_s: gateway.cooldown_s,
            deployments,
            routes,
        }
    }

    /// A deployment with its cooldown: a new one when a count rose (caused by that status),
    /// the one held while it stays cooled down, one first seen now otherwise (caused by its
    /// only status, if it has one).
    fn deployment(
        &mut self,
        d: Deployment,
        now: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> GatewayDeployment {
        let known = self.seen.remove(&d.id);
        let read_before = known.is_some();
        let (counts, held) = known.unwrap_or_default();
        let rose = (d.cooldowns.iter())
            .filter(|(status, n)| counts.get(*status).is_none_or(|before| before < n))
            .map(|(status, _)| status.clone())
            .next_back();
        let cooldown = match (d.state, rose, held) {
            (DeploymentState::Outage, Some(status), _) if read_before => Some(Cooldown {
                status: Some(status),
                seen_at: now,
                until,
            }),
            (DeploymentState::Outage, _, Some(held)) => Some(held),
            (DeploymentState::Outage, _, None) => Some(Cooldown {
                status: (d.cooldowns.len() == 1)
                    .then(|| d.cooldowns.keys().next().cloned())
                    .flatten(),
                seen_at: now,
                until,
            }),
            _ => None,
        };
        self.seen
            .insert(d.id.clone(), (d.cooldowns.clone(), cooldown.clone()));
        GatewayDeployment { cooldown, ..d }
    }
}

/// How far back the spend per hour looks: long enough that a call now and then does not
/// swing it from nothing to a fortune between two reads.
const SPEND_SPAN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// What the worker remembers between reads to rate each deployment's spend: its usage at
/// each read of the last [`SPEND_SPAN`].
#[derive(Default)]
struct Spending {
    reads: HashMap<String, VecDeque<(DateTime<Utc>, DeploymentUsage)>>,
}

impl Spending {
    /// Each deployment's spend per hour since the oldest read kept (at least one read ago).
    fn rate(&mut self, facts: &mut GatewayFacts) {
        let now = facts.read_at;
        self.reads
            .retain(|id, _| facts.deployments.iter().any(|d| &d.id == id));
        for deployment in &mut facts.deployments {
            let Some(usage) = &mut deployment.usage else {
                self.reads.remove(&deployment.id);
                continue;
            };
            let reads = self.reads.entry(deployment.id.clone()).or_default();
            while reads.len() > 1 && reads.front().is_some_and(|(at, _)| now - *at > SPEND_SPAN) {
                reads.pop_front();
            }
            if let Some((at, before)) = reads.front() {
                let seconds = (now - *at).num_milliseconds() as f64 / 1000.0;
                usage.spend_per_hour = usage.spend_per_hour_since(before, seconds);
                if usage.spend_per_hour.is_none() {
                    // Restarted or repriced: count from this read on.
                    reads.clear();
                }
            }
            reads.push_back((now, usage.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn read(state: DeploymentState, cooldowns: &[(&str, u64)]) -> Gateway {
        Gateway {
            deployments: vec![Deployment {
                id: "east".into(),
                group: "gpt-4o".into(),
                model: "openai/gpt-4o".into(),
                provider: "openai".into(),
                api_base: None,
                region: Some("us-east".into()),
                state,
                cooldown: None,
                cooldowns: (cooldowns.iter())
                    .map(|(s, n)| (s.to_string(), *n))
                    .collect(),
                usage: None,
            }],
            fallbacks: vec![("gpt-4o".into(), vec!["small".into()])],
            routing_strategy: "simple-shuffle".into(),
            allowed_fails: Some(1),
            cooldown_s: Some(60.0),
            fallbacks_served: BTreeMap::from([(("gpt-4o".into(), "small".into()), 3)]),
        }
    }

    /// A cooldown is dated by the read that first saw it, held while it lasts, renewed when
    /// the count rises again, and gone once the deployment answers.
    #[test]
    fn each_cooldown_is_dated_by_the_read_that_saw_it_begin() {
        use DeploymentState::*;
        let at = |s: i64| DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(s);
        let mut cooldowns = Cooldowns::default();
        let first = cooldowns.facts(read(Healthy, &[]), at(0));
        assert_eq!(first.deployments[0].cooldown, None);
        assert_eq!(first.routes[0].fallbacks, ["small"]);
        assert_eq!(first.routes[0].served["small"], 3);

        let cooled = cooldowns.facts(read(Outage, &[("500", 1)]), at(10));
        let cooldown = cooled.deployments[0].cooldown.clone().unwrap();
        assert_eq!(cooldown.status.as_deref(), Some("500"));
        assert_eq!((cooldown.seen_at, cooldown.until), (at(10), Some(at(70))));
        let held = cooldowns.facts(read(Outage, &[("500", 1)]), at(20));
        assert_eq!(held.deployments[0].cooldown, Some(cooldown));
        let again = cooldowns.facts(read(Outage, &[("429", 1), ("500", 1)]), at(80));
        let renewed = again.deployments[0].cooldown.clone().unwrap();
        assert_eq!(renewed.status.as_deref(), Some("429"));
        assert_eq!(renewed.until, Some(at(140)));
        let back = cooldowns.facts(read(Healthy, &[("429", 1), ("500", 1)]), at(90));
        assert_eq!(back.deployments[0].cooldown, None);
    }

    /// A deployment already cooled down at the first read: its cause is its only status, its
    /// end at most a cooldown_time after that read.
    #[test]
    fn a_cooldown_found_at_the_first_read_ends_at_most_a_cooldown_later() {
        let at = |s: i64| DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(s);
        let mut cooldowns = Cooldowns::default();
        let facts = cooldowns.facts(read(DeploymentState::Outage, &[("429", 2)]), at(5));
        let cooldown = facts.deployments[0].cooldown.clone().unwrap();
        assert_eq!(cooldown.status.as_deref(), Some("429"));
        assert_eq!(cooldown.until, Some(at(65)));
    }

    /// The spend per hour looks back over the reads of the last five minutes; a proxy that
    /// restarted (its counters back to nothing) has none until it is read again.
    #[test]
    fn spend_per_hour_spans_the_reads_of_the_last_minutes() {
        use crate::domain::gateway::SpendBasis;
        let at = |s: i64| DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(s);
        let mut spending = Spending::default();
        let mut read_at = |seconds: i64, spend: f64| {
            let mut facts =
                Cooldowns::default().facts(read(DeploymentState::Healthy, &[]), at(seconds));
            facts.deployments[0].usage = Some(DeploymentUsage {
                requests: spend * 100.0,
                input_tokens: spend * 1000.0,
                output_tokens: 0.0,
                spend,
                basis: SpendBasis::Reported,
                spend_per_hour: None,
            });
            spending.rate(&mut facts);
            facts.deployments[0].usage.clone().unwrap().spend_per_hour
        };
        assert_eq!(read_at(0, 1.0), None, "one read: no rate yet");
        assert_eq!(read_at(60, 1.5), Some(30.0), "$0.5 in a minute");
        assert_eq!(read_at(120, 1.5), Some(15.0), "$0.5 in two minutes");
        // At 400 s the reads at 0 and 60 s are older than five minutes: the rate runs from 120 s.
        assert_eq!(read_at(400, 2.0), Some(0.5 / 280.0 * 3600.0));
        assert_eq!(read_at(410, 0.1), None, "restarted");
        assert_eq!(
            read_at(470, 0.2),
            Some(0.1 / 60.0 * 3600.0),
            "counted again from the restart"
        );
    }
}
