//! A LiteLLM proxy (an AI gateway): its deployments (model group, provider model, API base,
//! the region the config maps them to), routing strategy and fallbacks, and each deployment's
//! state, cooldowns, tokens and spend from its Prometheus metrics. Read-only: LiteLLM's admin mutations need
//! its database, and it has no drain or breaker; the console says so instead of offering them.
//!
//! Everything read is untrusted: strings are cleaned and bounded as they are decoded.

pub mod exposition;
mod worker;

use std::collections::BTreeMap;

use reqwest::{Response, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::sources::client::{MAX_BODY_BYTES, Timeouts, http_for, read_bounded};
use crate::sources::error::{ClientError, bounded};
use exposition::Sample;

pub use crate::config::litellm::LiteLlmSettings;
pub use crate::domain::gateway::{DeploymentState, GatewayDeployment as Deployment};
use crate::domain::gateway::{DeploymentUsage, SpendBasis};
pub use worker::{LiteLlmSpec, spawn_litellm};

/// Largest error answer read for its words.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// The gateway as read at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Gateway {
    pub deployments: Vec<Deployment>,
    /// Model group -> the groups it falls back to, in order.
    pub fallbacks: Vec<(String, Vec<String>)>,
    pub routing_strategy: String,
    /// Failures a deployment may have in a minute before it cools down.
    pub allowed_fails: Option<u64>,
    pub cooldown_s: Option<f64>,
    /// Calls served by a fallback group, by (requested group, fallback group).
    pub fallbacks_served: BTreeMap<(String, String), u64>,
}

/// A LiteLLM proxy's client. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct LiteLlmClient {
    http: reqwest::Client,
    base: Url,
    api_key: Option<String>,
    timeouts: Timeouts,
    /// Deployment id or API base -> region.
    regions: BTreeMap<String, String>,
    /// Deployment id or API base -> provider, over the model's prefix.
    providers: BTreeMap<String, String>,
    /// Deployment id or model (`openai/gpt-4o`) -> price per 1,000 tokens, over LiteLLM's
    /// own spend.
    prices: BTreeMap<String, f64>,
}

/// The key never reaches a log or a panic message.
impl std::fmt::Debug for LiteLlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteLlmClient")
            .field("base", &self.base.as_str())
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl LiteLlmClient {
    pub fn new(
        url: &str,
        api_key: Option<String>,
        regions: BTreeMap<String, String>,
        timeouts: Timeouts,
    ) -> Result<Self, ClientError> {
        let (http, base) = http_for(url, timeouts)?;
        Ok(LiteLlmClient {
            http,
            base,
            api_key,
            timeouts,
            regions,
            providers: BTreeMap::new(),
            prices: BTreeMap::new(),
        })
    }

    /// The client naming the provider of a deployment (by id or API base) as `providers`
    /// says, where the model's prefix is not the name the fleet knows it by.
    pub fn with_providers(mut self, providers: BTreeMap<String, String>) -> Self {
        self.providers = providers;
        self
    }

    /// The client pricing a deployment's tokens (by its id or model) at `prices` per 1,000
    /// tokens instead of taking LiteLLM's spend: for a model its cost map does not know.
    pub fn with_prices(mut self, prices: BTreeMap<String, f64>) -> Self {
        self.prices = prices;
        self
    }

    /// Deployments, routing and fallbacks, and the state of each, read now (three requests
    /// at once).
    pub async fn gateway(&self) -> Result<Gateway, ClientError> {
        let (models, settings, metrics) = tokio::join!(
            self.json::<ModelInfo>("model/info"),
            self.json::<RouterSettings>("router/settings"),
            self.text("metrics/"),
        );
        let samples = exposition::samples(&metrics?);
        let settings = settings?.values();
        let deployments = models?
            .data
            .into_iter()
            .map(|entry| self.deployment(entry, &samples))
            .collect();
        Ok(Gateway {
            deployments,
            fallbacks: fallbacks(settings.get("fallbacks")),
            routing_strategy: settings
                .get("routing_strategy")
                .and_then(Value::as_str)
                .map_or_else(|| "unknown".into(), bounded),
            allowed_fails: settings.get("allowed_fails").and_then(Value::as_u64),
            cooldown_s: settings.get("cooldown_time").and_then(Value::as_f64),
            fallbacks_served: fallbacks_served(&samples),
        })
    }

    fn deployment(&self, entry: ModelEntry, samples: &[Sample]) -> Deployment {
        let id = bounded(&entry.model_info.id);
        let model = bounded(&entry.litellm_params.model);
        let api_base = entry.litellm_params.api_base.as_deref().map(bounded);
        let of_this = |name: &'static str| {
            let id = id.as_str();
            samples
                .iter()
                .filter(move |s| s.name == name && s.label("model_id") == Some(id))
        };
        let state = match of_this("litellm_deployment_state")
            .map(|s| s.value)
            .next_back()
        {
            Some(0.0) => DeploymentState::Healthy,
            Some(1.0) => DeploymentState::PartialOutage,
            Some(2.0) => DeploymentState::Outage,
            _ => DeploymentState::Unknown,
        };
        let cooldowns = of_this("litellm_deployment_cooled_down_total")
            .map(|s| {
                let status = s.label("exception_status").unwrap_or("unknown");
                (bounded(status), s.value.max(0.0) as u64)
            })
            .collect();
        let mapped = |map: &BTreeMap<String, String>| {
            map.get(&id)
                .or_else(|| api_base.as_ref().and_then(|base| map.get(base)))
                .cloned()
        };
        let usage = self.usage(&id, &model, samples);
        let region = mapped(&self.regions);
        let provider = mapped(&self.providers).unwrap_or_else(|| {
            let prefix = model.split_once('/').map_or("unknown", |(p, _)| p);
            prefix.to_string()
        });
        Deployment {
            group: bounded(&entry.model_name),
            provider,
            model,
            api_base,
            region,
            state,
            cooldown: None,
            cooldowns,
            usage,
            id,
        }
    }

    /// What deployment `id` (of `model`) served and spent, summed over every key, team and
    /// user LiteLLM counts apart; `None` before its first call (no counter yet).
    fn usage(&self, id: &str, model: &str, samples: &[Sample]) -> Option<DeploymentUsage> {
        let total = |name: &str| {
            let mine = samples
                .iter()
                .filter(|s| s.name == name && s.label("model_id") == Some(id));
            mine.fold(None, |sum: Option<f64>, s| {
                Some(sum.unwrap_or(0.0) + s.value.max(0.0))
            })
        };
        let requests = total("litellm_proxy_total_requests_metric_total");
        let input_tokens = total("litellm_input_tokens_metric_total");
        let output_tokens = total("litellm_output_tokens_metric_total");
        let reported = total("litellm_spend_metric_total");
        if [requests, input_tokens, output_tokens, reported]
            .iter()
            .all(Option::is_none)
        {
            return None;
        }
        let (input_tokens, output_tokens) =
            (input_tokens.unwrap_or(0.0), output_tokens.unwrap_or(0.0));
        let price = (self.prices.get(id).or_else(|| self.prices.get(model))).copied();
        let (spend, basis) = match price {
            Some(per_1k_tokens) => (
                (input_tokens + output_tokens) / 1000.0 * per_1k_tokens,
                SpendBasis::Priced { per_1k_tokens },
            ),
            None => (reported.unwrap_or(0.0), SpendBasis::Reported),
        };
        Some(DeploymentUsage {
            requests: requests.unwrap_or(0.0),
            input_tokens,
            output_tokens,
            spend,
            basis,
            spend_per_hour: None,
        })
    }

    async fn json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let body = self.get(path).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::malformed(path, e))
    }

    async fn text(&self, path: &str) -> Result<String, ClientError> {
        let body = self.get(path).await?;
        String::from_utf8(body).map_err(|e| ClientError::malformed(path, e))
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = self
            .base
            .join(path)
            .expect("a plain path joins any http(s) base");
        let mut request = self.http.get(url).timeout(self.timeouts.request);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let timeout = self.timeouts.request;
        let response = request
            .send()
            .await
            .map_err(|e| ClientError::from_transport(self.base.as_str(), &e, timeout))?;
        self.answer(response, path).await
    }

    async fn answer(&self, response: Response, what: &str) -> Result<Vec<u8>, ClientError> {
        let status = response.status();
        let (url, timeout) = (self.base.as_str(), self.timeouts.request);
        if status.is_success() {
            return read_bounded(response, MAX_BODY_BYTES, what, url, timeout).await;
        }
        let body = read_bounded(response, MAX_ERROR_BYTES, what, url, timeout).await;
        let words = body.ok().map(|b| error_words(&b)).filter(|w| !w.is_empty());
        let problem = protocol::Problem {
            problem_type: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("error").into(),
            status: status.as_u16(),
            detail: words.map(|w| format!("LiteLLM: {w}")),
            instance: None,
            extensions: Default::default(),
        };
        Err(ClientError::from_status(status.as_u16(), Some(problem)))
    }
}

/// LiteLLM's error words: `{"error": {"message": ..}}`, `{"detail": ..}` (a string or an
/// object with `error`), a JSON string, or plain text.
fn error_words(body: &[u8]) -> String {
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(Value::String(words)) => return words,
        Ok(value) => value,
        Err(_) => return String::from_utf8_lossy(body).trim().to_string(),
    };
    let pick = |v: &Value| -> Option<String> {
        v.as_str().map(str::to_string).or_else(|| {
            ["message", "error"]
                .iter()
                .find_map(|k| v.get(k).and_then(Value::as_str).map(str::to_string))
        })
    };
    ["error", "detail"]
        .iter()
        .find_map(|k| value.get(k).and_then(pick))
        .unwrap_or_default()
}

fn fallbacks(value: Option<&Value>) -> Vec<(String, Vec<String>)> {
    let Some(Value::Array(rules)) = value else {
        return Vec::new();
    };
    rules
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|rule| rule.iter())
        .map(|(group, to)| {
            let to = to.as_array().map_or_else(Vec::new, |list| {
                list.iter().filter_map(Value::as_str).map(bounded).collect()
            });
            (bounded(group), to)
        })
        .collect()
}

fn fallbacks_served(samples: &[Sample]) -> BTreeMap<(String, String), u64> {
    let mut served = BTreeMap::new();
    for sample in samples
        .iter()
        .filter(|s| s.name == "litellm_deployment_successful_fallbacks_total")
    {
        let requested = sample.label("requested_model").unwrap_or("unknown");
        let fallback = sample.label("fallback_model").unwrap_or("unknown");
        *served
            .entry((bounded(requested), bounded(fallback)))
            .or_insert(0) += sample.value.max(0.0) as u64;
    }
    served
}

#[derive(Deserialize)]
struct ModelInfo {
    #[serde(default)]
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    model_name: String,
    litellm_params: Params,
    model_info: Info,
}

#[derive(Deserialize)]
struct Params {
    model: String,
    api_base: Option<String>,
}

#[derive(Deserialize)]
struct Info {
    id: String,
}

/// `/router/settings`: `fields` of `{field_name, field_value}`.
#[derive(Deserialize)]
struct RouterSettings {
    #[serde(default)]
    fields: Vec<Field>,
}

#[derive(Deserialize)]
struct Field {
    field_name: String,
    #[serde(default)]
    field_value: Value,
}

impl RouterSettings {
    fn values(self) -> BTreeMap<String, Value> {
        self.fields
            .into_iter()
            .map(|f| (f.field_name, f.field_value))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_words_of_each_shape() {
        let words = |body: &str| error_words(body.as_bytes());
        assert_eq!(
            words(r#"{"error": {"message": "Authentication Error"}}"#),
            "Authentication Error"
        );
        assert_eq!(
            words(r#"{"detail": {"error": "Database not initialized"}}"#),
            "Database not initialized"
        );
        assert_eq!(words(r#"{"detail": "Not Found"}"#), "Not Found");
        assert_eq!(
            words(r#""Unauthorized access to metrics""#),
            "Unauthorized access to metrics"
        );
        assert_eq!(words("  bad gateway \n"), "bad gateway");
    }

    #[test]
    fn fallbacks_keep_their_order_and_drop_what_is_not_a_name() {
        let rules = serde_json::json!([{"gpt-4o": ["small", 3, "tiny"]}, {"small": []}, "odd"]);
        assert_eq!(
            fallbacks(Some(&rules)),
            [
                (
                    "gpt-4o".to_string(),
                    vec!["small".to_string(), "tiny".to_string()]
                ),
                ("small".to_string(), vec![])
            ]
        );
    }
}
