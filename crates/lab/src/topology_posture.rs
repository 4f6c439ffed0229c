//! The posture part of a topology (issue 15): each service's criticality, SLO, downtime cost,
//! replica cost, tokens per request and dependencies (`[service.posture]`), providers' prices
//! per 1k tokens, and what standbys cost by readiness (`[standby_shares]`).

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, ServiceSpec, Validator};
use protocol::posture::{
    Criticality, DEFAULT_INCIDENTS_PER_MONTH, DEFAULT_REPAIR_MIN, Posture, Slo, StandbyShares,
};

const DAY_S: f64 = 86_400.0;
/// A service's SLO when its topology names none: two nines over 30 days (model providers fail
/// a few requests in a thousand on a good day).
const DEFAULT_SLO: Slo = Slo {
    target: 0.99,
    window_s: 30.0 * DAY_S,
};

/// A provider's price per 1k tokens when its topology gives a cost tier but no price.
pub fn price_of_tier(cost_tier: &str) -> Option<f64> {
    match cost_tier {
        "premium" => Some(0.015),
        "standard" => Some(0.005),
        "economy" => Some(0.001),
        _ => None,
    }
}

/// What the topology says of a service's posture; the lab adds the budget it measures.
#[derive(Debug, Clone, PartialEq)]
pub struct PostureSpec {
    pub criticality: Criticality,
    pub slo: Slo,
    /// Share of the window's budget already spent when the lab starts (a drill may start
    /// with a budget half gone).
    pub budget_spent: f64,
    pub downtime_cost_per_min: Option<f64>,
    pub replica_cost_per_hour: Option<f64>,
    pub tokens_per_request: Option<f64>,
    pub depends_on: Vec<String>,
    pub incidents_per_month: f64,
    pub repair_min: f64,
}

impl Default for PostureSpec {
    fn default() -> Self {
        PostureSpec {
            criticality: Criticality::Important,
            slo: DEFAULT_SLO,
            budget_spent: 0.0,
            downtime_cost_per_min: None,
            replica_cost_per_hour: None,
            tokens_per_request: None,
            depends_on: Vec::new(),
            incidents_per_month: DEFAULT_INCIDENTS_PER_MONTH,
            repair_min: DEFAULT_REPAIR_MIN,
        }
    }
}

impl PostureSpec {
    /// The posture on the wire, with the budget and burn rates measured now.
    pub fn wire(
        &self,
        budget_left: Option<f64>,
        burn_rate_1h: Option<f64>,
        burn_rate_6h: Option<f64>,
    ) -> Posture {
        Posture {
            criticality: self.criticality,
            slo: self.slo,
            budget_left,
            burn_rate_1h,
            burn_rate_6h,
            downtime_cost_per_min: self.downtime_cost_per_min,
            depends_on: self.depends_on.clone(),
            replica_cost_per_hour: self.replica_cost_per_hour,
            tokens_per_request: self.tokens_per_request,
            incidents_per_month: self.incidents_per_month,
            repair_min: self.repair_min,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPosture {
    criticality: Option<Criticality>,
    slo: Option<Spanned<RawSlo>>,
    budget_spent: Option<Spanned<f64>>,
    downtime_cost_per_min: Option<Spanned<f64>>,
    replica_cost_per_hour: Option<Spanned<f64>>,
    tokens_per_request: Option<Spanned<f64>>,
    #[serde(default)]
    depends_on: Vec<Spanned<String>>,
    incidents_per_month: Option<Spanned<f64>>,
    repair_min: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlo {
    target: f64,
    #[serde(default = "default_window_days")]
    window_days: f64,
}

fn default_window_days() -> f64 {
    DEFAULT_SLO.window_s / DAY_S
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShares {
    warm: Spanned<f64>,
    cold: Spanned<f64>,
}

impl Validator<'_> {
    pub(super) fn standby_shares(
        &self,
        raw: Option<&Spanned<RawShares>>,
    ) -> Result<StandbyShares, ConfigError> {
        let Some(raw) = raw else {
            return Ok(StandbyShares::default());
        };
        let shares = raw.get_ref();
        let warm = self.share(&shares.warm, "standby_shares.warm")?;
        let cold = self.share(&shares.cold, "standby_shares.cold")?;
        if cold > warm {
            return self.error(
                raw.span(),
                "a cold standby cannot cost more than a warm one",
            );
        }
        Ok(StandbyShares { warm, cold })
    }

    pub(super) fn price(
        &self,
        raw: Option<&Spanned<f64>>,
        cost_tier: &str,
    ) -> Result<Option<f64>, ConfigError> {
        match raw {
            Some(price) => self.money(price, "price_per_1k_tokens").map(Some),
            None => Ok(price_of_tier(cost_tier)),
        }
    }

    pub(super) fn posture(&self, raw: Option<&RawPosture>) -> Result<PostureSpec, ConfigError> {
        let Some(raw) = raw else {
            return Ok(PostureSpec::default());
        };
        let slo = match &raw.slo {
            Some(slo) => self.slo(slo)?,
            None => DEFAULT_SLO,
        };
        let budget_spent = match &raw.budget_spent {
            Some(spent) if (0.0..=2.0).contains(spent.get_ref()) => *spent.get_ref(),
            Some(spent) => {
                return self.error(
                    spent.span(),
                    format!(
                        "budget_spent must be in 0..2 (a share of the budget), not {}",
                        spent.get_ref()
                    ),
                );
            }
            None => 0.0,
        };
        let optional = |value: &Option<Spanned<f64>>, what: &str| {
            value.as_ref().map(|v| self.money(v, what)).transpose()
        };
        Ok(PostureSpec {
            criticality: raw.criticality.unwrap_or(Criticality::Important),
            slo,
            budget_spent,
            downtime_cost_per_min: optional(&raw.downtime_cost_per_min, "downtime_cost_per_min")?,
            replica_cost_per_hour: optional(&raw.replica_cost_per_hour, "replica_cost_per_hour")?,
            tokens_per_request: match &raw.tokens_per_request {
                Some(tokens) => Some(self.positive(tokens, "tokens_per_request")?),
                None => None,
            },
            depends_on: raw.depends_on.iter().map(|d| d.get_ref().clone()).collect(),
            incidents_per_month: optional(&raw.incidents_per_month, "incidents_per_month")?
                .unwrap_or(DEFAULT_INCIDENTS_PER_MONTH),
            repair_min: match &raw.repair_min {
                Some(minutes) => self.positive(minutes, "repair_min")?,
                None => DEFAULT_REPAIR_MIN,
            },
        })
    }

    /// Every `depends_on` names another service of the topology.
    pub(super) fn dependencies(
        &self,
        raw: &[Option<&RawPosture>],
        services: &[ServiceSpec],
    ) -> Result<(), ConfigError> {
        for (service, posture) in services.iter().zip(raw) {
            for named in posture.iter().flat_map(|p| &p.depends_on) {
                let id = named.get_ref();
                if id == &service.id {
                    return self.error(
                        named.span(),
                        format!("service {id:?} cannot depend on itself"),
                    );
                }
                if !services.iter().any(|s| &s.id == id) {
                    return self.error(
                        named.span(),
                        format!("depends_on names unknown service {id:?}"),
                    );
                }
            }
        }
        Ok(())
    }

    fn slo(&self, raw: &Spanned<RawSlo>) -> Result<Slo, ConfigError> {
        let slo = raw.get_ref();
        let target_ok = slo.target > 0.0 && slo.target < 1.0;
        let window_ok = slo.window_days > 0.0 && slo.window_days <= 366.0;
        if target_ok && window_ok {
            Ok(Slo {
                target: slo.target,
                window_s: slo.window_days * DAY_S,
            })
        } else {
            self.error(
                raw.span(),
                format!(
                    "slo needs 0 < target < 1 and 0 < window_days <= 366, not target {} over {} days",
                    slo.target, slo.window_days
                ),
            )
        }
    }

    /// Money is zero or more.
    fn money(&self, value: &Spanned<f64>, what: &str) -> Result<f64, ConfigError> {
        let v = *value.get_ref();
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            self.error(
                value.span(),
                format!("{what} must be zero or more, not {v}"),
            )
        }
    }
}
