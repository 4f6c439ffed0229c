//! What a gateway source (a LiteLLM proxy) says: its deployments with the region and provider
//! the config maps them to, each one's state and cooldown (a breaker the gateway opens and
//! closes by itself), what each has spent and used (tokens, spend so far and per hour), the
//! routes (model group -> deployments, then fallback groups), and what the gateway cannot do
//! for an operator. Its providers and regions join the merge as a
//! metrics source's do (`super::measured` makes them), with the gateway's own read beside them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use protocol::command::Verb;
use protocol::{BreakerState, Health};

/// What LiteLLM's `litellm_deployment_state` gauge says of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeploymentState {
    Healthy,
    /// Some of its calls fail.
    PartialOutage,
    /// Cooled down: the router sends it nothing until its cooldown ends.
    Outage,
    /// No metric for it yet (no traffic since the proxy started) or an unknown value.
    Unknown,
}

impl DeploymentState {
    pub fn health(self) -> Health {
        match self {
            DeploymentState::Healthy => Health::Ok,
            DeploymentState::PartialOutage => Health::Degraded,
            DeploymentState::Outage => Health::Down,
            DeploymentState::Unknown => Health::Unknown,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            DeploymentState::Healthy => "healthy",
            DeploymentState::PartialOutage => "partial outage",
            DeploymentState::Outage => "outage",
            DeploymentState::Unknown => "unknown: no call since the proxy started",
        }
    }
}

/// A cooldown the console saw: LiteLLM exposes no cooldown's start or end, so the end is
/// known as a bound: the cooldown began before it was first seen, and lasts `cooldown_time`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cooldown {
    /// The failure's status that caused it (`429`, `500`), when the metrics say which.
    pub status: Option<String>,
    /// When the console first read the deployment cooled down.
    pub seen_at: DateTime<Utc>,
    /// Ends at the latest then (`None`: the proxy did not say its `cooldown_time`).
    pub until: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GatewayDeployment {
    pub id: String,
    /// The model group callers ask for.
    pub group: String,
    /// The provider's model, as LiteLLM names it (`openai/gpt-4o`).
    pub model: String,
    /// As the fleet names it: the config's mapping, else the model's prefix.
    pub provider: String,
    /// From the config's mapping; `None` places it in no region.
    pub region: Option<String>,
    pub api_base: Option<String>,
    pub state: DeploymentState,
    /// While the state is an outage.
    pub cooldown: Option<Cooldown>,
    /// Cooldowns since the proxy started, by the failure's status.
    pub cooldowns: BTreeMap<String, u64>,
    /// What it has served and spent since the proxy started; `None` before any call.
    pub usage: Option<DeploymentUsage>,
}

/// Where a deployment's spend comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SpendBasis {
    /// LiteLLM's own count (`litellm_spend_metric`, from its model cost map).
    Reported,
    /// Its tokens at the price per 1,000 tokens the config gives it.
    Priced { per_1k_tokens: f64 },
}

/// A deployment's counters since the proxy started, as its metrics give them.
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentUsage {
    pub requests: f64,
    pub input_tokens: f64,
    pub output_tokens: f64,
    /// In dollars (LiteLLM's cost map is in dollars; a configured price is taken as such).
    pub spend: f64,
    pub basis: SpendBasis,
    /// From this read and the one before; `None` at the first read and after a restart.
    pub spend_per_hour: Option<f64>,
}

impl DeploymentUsage {
    pub fn tokens(&self) -> f64 {
        self.input_tokens + self.output_tokens
    }

    /// The spend per hour between `before` and this read `seconds` later: LiteLLM's count's
    /// rate, or the tokens served at the configured price
    /// (`protocol::posture::path_spend_per_hour`). `None` when a counter went back (the proxy
    /// restarted), the basis changed, or no time passed.
    pub fn spend_per_hour_since(&self, before: &DeploymentUsage, seconds: f64) -> Option<f64> {
        let requests = self.requests - before.requests;
        let tokens = self.tokens() - before.tokens();
        let spend = self.spend - before.spend;
        if seconds <= 0.0 || requests < 0.0 || tokens < 0.0 || spend < 0.0 {
            return None;
        }
        match (self.basis, before.basis) {
            (SpendBasis::Reported, SpendBasis::Reported) => Some(spend / seconds * 3600.0),
            (SpendBasis::Priced { per_1k_tokens }, SpendBasis::Priced { per_1k_tokens: was })
                if per_1k_tokens == was =>
            {
                let tokens_per_request = if requests > 0.0 {
                    tokens / requests
                } else {
                    0.0
                };
                Some(protocol::posture::path_spend_per_hour(
                    per_1k_tokens,
                    tokens_per_request,
                    requests / seconds,
                ))
            }
            _ => None,
        }
    }
}

impl GatewayDeployment {
    /// `vendor@region`, as the fleet names providers, when the deployment has a region.
    pub fn provider_id(&self) -> Option<String> {
        Some(format!("{}@{}", self.provider, self.region.as_ref()?))
    }

    /// Its state as a breaker at `now`: open while cooled down, half-open once the cooldown
    /// is over and no call has said otherwise yet, closed while calls succeed (or some do);
    /// `None` before any call: unknown, never closed.
    pub fn breaker(&self, now: DateTime<Utc>) -> Option<BreakerState> {
        match self.state {
            DeploymentState::Unknown => None,
            DeploymentState::Healthy | DeploymentState::PartialOutage => Some(BreakerState::Closed),
            DeploymentState::Outage => match self.cooldown.as_ref().and_then(|c| c.until) {
                Some(until) if until <= now => Some(BreakerState::HalfOpen),
                _ => Some(BreakerState::Open),
            },
        }
    }
}

/// A model group as the router serves it: its deployments in the proxy's order, then the
/// groups it falls back to, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayRoute {
    pub group: String,
    /// Deployment ids.
    pub deployments: Vec<String>,
    pub fallbacks: Vec<String>,
    /// Calls a fallback group served for this one since the proxy started, by group.
    pub served: BTreeMap<String, u64>,
}

/// One read of a gateway (the default: nothing read yet).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GatewayFacts {
    /// On the console's clock: the proxy's answers carry no time.
    pub read_at: DateTime<Utc>,
    pub routing_strategy: String,
    /// Failures a deployment may have in a minute before it cools down.
    pub allowed_fails: Option<u64>,
    pub cooldown_s: Option<f64>,
    pub deployments: Vec<GatewayDeployment>,
    pub routes: Vec<GatewayRoute>,
}

impl GatewayFacts {
    /// The deployments of `region`, or of the provider `provider` (`vendor@region`).
    pub fn deployments_of<'a>(
        &'a self,
        region: &'a str,
        provider: Option<&'a str>,
    ) -> impl Iterator<Item = &'a GatewayDeployment> + 'a {
        self.deployments.iter().filter(move |d| match provider {
            Some(id) => d.provider_id().as_deref() == Some(id),
            None => d.region.as_deref() == Some(region),
        })
    }

    /// The routes that go through any of `deployments`.
    pub fn routes_through<'a>(
        &'a self,
        deployments: &'a [&'a GatewayDeployment],
    ) -> impl Iterator<Item = &'a GatewayRoute> + 'a {
        self.routes
            .iter()
            .filter(|r| deployments.iter().any(|d| d.group == r.group))
    }

    /// Deployments the config places in no region: shown in their routes, said once.
    pub fn unplaced(&self) -> Vec<String> {
        self.deployments
            .iter()
            .filter(|d| d.region.is_none())
            .map(|d| {
                let base = d.api_base.as_deref().unwrap_or("no api_base");
                format!(
                    "deployment {} ({base}) has no region: map its id or API base in the \
                     source's [litellm.regions]",
                    d.id
                )
            })
            .collect()
    }
}

/// Why a gateway takes no command from the console at all.
pub fn read_only() -> &'static str {
    "LiteLLM is read-only from the console: it has no drain, breaker, degraded mode, weights \
     or promote it lets the console use; change the proxy's config (model_list, \
     router_settings) and reload it"
}

/// Why a gateway cannot carry out `verb`, and what the engineer can do instead.
pub fn refusal(verb: Verb) -> String {
    let (missing, instead) = match verb {
        Verb::Drain | Verb::Undrain => (
            "no drain",
            "it routes by model group, not by region. Take the region's deployments out of \
             the proxy's model_list (or point their group's fallbacks elsewhere) and reload it, \
             or drain the region in the protocol v1 source that routes to it",
        ),
        Verb::Breaker => (
            "no breaker to force",
            "its cooldowns open by themselves after allowed_fails failures and close after \
             cooldown_time. Remove the deployment from the model_list to keep it out, or wait \
             for its cooldown to end to let it back",
        ),
        Verb::Degrade => (
            "no degraded modes",
            "point the model group's fallbacks at a cheaper group in the proxy's \
             router_settings, or degrade the service in the protocol v1 source that runs it",
        ),
        Verb::Weights => (
            "no weights it lets the console change",
            "set litellm_params.weight (or order) of the deployments in the proxy's config \
             and reload it: its admin API changes them only with a database behind it",
        ),
        Verb::Promote => (
            "no replicas to promote",
            "promote the service's standby in the source that runs it (protocol v1, Patroni)",
        ),
        Verb::Standby | Verb::Borrow | Verb::Return => (
            "no standbys or pools",
            "warm, cool, borrow or give back replicas in the source that runs the service",
        ),
    };
    format!("LiteLLM has {missing} ({} refused): {instead}", verb.word())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str, region: Option<&str>, state: DeploymentState) -> GatewayDeployment {
        GatewayDeployment {
            id: id.into(),
            group: "gpt-4o".into(),
            model: "openai/gpt-4o".into(),
            provider: "openai".into(),
            region: region.map(str::to_string),
            api_base: Some(format!("http://{id}")),
            state,
            cooldown: None,
            cooldowns: BTreeMap::new(),
            usage: None,
        }
    }

    fn usage(requests: f64, tokens: f64, spend: f64, basis: SpendBasis) -> DeploymentUsage {
        DeploymentUsage {
            requests,
            input_tokens: tokens * 0.75,
            output_tokens: tokens * 0.25,
            spend,
            basis,
            spend_per_hour: None,
        }
    }

    /// LiteLLM's spend as a rate; a configured price over the tokens served; nothing across
    /// a restart or a changed price.
    #[test]
    fn spend_per_hour_from_two_reads() {
        use SpendBasis::*;
        let reported = |requests, tokens, spend| usage(requests, tokens, spend, Reported);
        // $0.05 more in 60 s: $3 an hour.
        let rate =
            reported(20.0, 4000.0, 0.15).spend_per_hour_since(&reported(10.0, 2000.0, 0.10), 60.0);
        assert!((rate.unwrap() - 3.0).abs() < 1e-9, "{rate:?}");
        // 10 requests of 200 tokens in 60 s at $0.5 per 1k: 2000 tokens a minute, $60 an hour.
        let priced = |requests, tokens| {
            usage(
                requests,
                tokens,
                tokens / 1000.0 * 0.5,
                Priced { per_1k_tokens: 0.5 },
            )
        };
        let rate = priced(20.0, 4000.0).spend_per_hour_since(&priced(10.0, 2000.0), 60.0);
        assert!((rate.unwrap() - 60.0).abs() < 1e-9, "{rate:?}");
        assert_eq!(
            priced(10.0, 2000.0).spend_per_hour_since(&priced(10.0, 2000.0), 60.0),
            Some(0.0)
        );
        assert_eq!(
            reported(1.0, 10.0, 0.01).spend_per_hour_since(&reported(10.0, 2000.0, 0.1), 60.0),
            None,
            "restarted"
        );
        assert_eq!(
            priced(20.0, 4000.0).spend_per_hour_since(&reported(10.0, 2000.0, 0.1), 60.0),
            None,
            "basis changed"
        );
        assert_eq!(
            reported(20.0, 4000.0, 0.15).spend_per_hour_since(&reported(10.0, 2000.0, 0.1), 0.0),
            None
        );
    }

    fn gateway(deployments: Vec<GatewayDeployment>) -> GatewayFacts {
        GatewayFacts {
            read_at: DateTime::UNIX_EPOCH,
            routing_strategy: "simple-shuffle".into(),
            allowed_fails: Some(1),
            cooldown_s: Some(60.0),
            deployments,
            routes: Vec::new(),
        }
    }

    /// A provider's health adds up its deployments; one never called is unknown, never ok.
    #[test]
    fn deployments_add_up_to_their_provider_and_region_unknown_before_any_call() {
        use DeploymentState::*;
        let read = gateway(vec![
            deployment("a", Some("us-east"), Outage),
            deployment("b", Some("us-east"), Healthy),
            deployment("c", Some("eu-west"), Outage),
            deployment("d", Some("ap-east"), Unknown),
            deployment("e", None, Healthy),
        ]);
        let providers: Vec<(String, Health)> = (read.providers().into_iter())
            .map(|p| (p.id, p.health))
            .collect();
        assert_eq!(
            providers,
            [
                ("openai@us-east".into(), Health::Degraded),
                ("openai@eu-west".into(), Health::Down),
                ("openai@ap-east".into(), Health::Unknown),
            ]
        );
        let regions: Vec<(String, Health)> = (read.regions().into_iter())
            .map(|r| (r.id, r.health))
            .collect();
        assert_eq!(
            regions,
            [
                ("us-east".into(), Health::Degraded),
                ("eu-west".into(), Health::Down),
                ("ap-east".into(), Health::Unknown),
            ]
        );
        assert_eq!(read.unplaced().len(), 1);
        assert!(read.unplaced()[0].contains("deployment e (http://e)"));
    }

    /// Open while cooled down, half-open once the cooldown is over (the router tries it with
    /// the next call), closed while calls succeed, unknown before any.
    #[test]
    fn a_cooldown_is_an_open_breaker_until_it_ends() {
        let at = |s: i64| DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(s);
        let mut cooled = deployment("a", Some("us-east"), DeploymentState::Outage);
        cooled.cooldown = Some(Cooldown {
            status: Some("500".into()),
            seen_at: at(0),
            until: Some(at(60)),
        });
        assert_eq!(cooled.breaker(at(59)), Some(BreakerState::Open));
        assert_eq!(cooled.breaker(at(60)), Some(BreakerState::HalfOpen));
        let fresh = deployment("b", Some("us-east"), DeploymentState::Unknown);
        assert_eq!(fresh.breaker(at(0)), None);
        let healthy = deployment("c", Some("us-east"), DeploymentState::Healthy);
        assert_eq!(healthy.breaker(at(0)), Some(BreakerState::Closed));
    }

    #[test]
    fn every_refusal_names_what_is_missing_and_what_to_do() {
        for verb in [
            Verb::Drain,
            Verb::Undrain,
            Verb::Breaker,
            Verb::Degrade,
            Verb::Weights,
            Verb::Promote,
        ] {
            let text = refusal(verb);
            assert!(text.starts_with("LiteLLM has no "), "{text}");
            assert!(
                text.contains(&format!("({} refused)", verb.word())),
                "{text}"
            );
        }
        assert!(refusal(Verb::Drain).starts_with("LiteLLM has no drain"));
    }
}
