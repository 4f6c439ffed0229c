//! What a context's config (`[contexts.NAME.cost]`) knows of prices and downtime costs that
//! its sources do not report (issue 15). A source's own figure always wins; these fill its
//! gaps, and every figure taken from here is marked as the config's where it is shown.

use std::collections::BTreeMap;

use serde::Deserialize;

use protocol::posture::Criticality;

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostConfig {
    /// Price per 1k tokens by provider id (`openai@us-east`) or, for every region, by vendor
    /// (`openai`); the provider id wins.
    #[serde(default)]
    pub prices_per_1k_tokens: BTreeMap<String, f64>,
    /// By service id.
    #[serde(default)]
    pub services: BTreeMap<String, ServicePrices>,
}

/// What the context knows of one service when its source does not say.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePrices {
    pub criticality: Option<Criticality>,
    pub downtime_cost_per_min: Option<f64>,
    pub replica_cost_per_hour: Option<f64>,
    pub tokens_per_request: Option<f64>,
}

impl CostConfig {
    /// The price of provider `id` (`vendor@region`) per 1k tokens, if the config names it.
    pub fn price(&self, provider: &str) -> Option<f64> {
        let vendor = provider.split('@').next().unwrap_or(provider);
        (self.prices_per_1k_tokens.get(provider))
            .or_else(|| self.prices_per_1k_tokens.get(vendor))
            .copied()
    }

    /// What is wrong with the figures: money and token counts are finite and not negative.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |what: String, value: Option<f64>| {
            if let Some(v) = value.filter(|v| !v.is_finite() || *v < 0.0) {
                problems.push(format!("cost: {what} must be zero or more, not {v}"));
            }
        };
        for (provider, price) in &self.prices_per_1k_tokens {
            check(format!("the price of {provider}"), Some(*price));
        }
        for (service, cost) in &self.services {
            check(
                format!("{service}.downtime_cost_per_min"),
                cost.downtime_cost_per_min,
            );
            check(
                format!("{service}.replica_cost_per_hour"),
                cost.replica_cost_per_hour,
            );
            check(
                format!("{service}.tokens_per_request"),
                cost.tokens_per_request,
            );
        }
        problems
    }
}
