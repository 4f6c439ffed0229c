//! The topology's adaptive redundancy: `[[pool]]`, shared pools of replicas that services
//! borrow from, and `[readiness]`, how long a standby takes to warm up or cool down.

use std::collections::HashSet;

use serde::Deserialize;
use toml::Spanned;

use super::{RegionSpec, Validator};
use crate::config_error::ConfigError;
use protocol::readiness::ReadinessTimes;

/// A shared pool of replicas in one region.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    pub id: String,
    pub region_index: usize,
    /// Replicas it holds, lent or not.
    pub size: u32,
    /// What one replica costs per hour as an active or hot one.
    pub cost_per_hour: f64,
    pub capacity_rps: f64,
    /// Simulated seconds a borrowed replica needs to join its service.
    pub lend_s: f64,
}

/// Seconds a borrowed replica needs to join when the pool does not say.
const DEFAULT_LEND_S: f64 = 90.0;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    id: Spanned<String>,
    region: Spanned<String>,
    size: Spanned<u32>,
    cost_per_hour: Spanned<f64>,
    capacity_rps: Spanned<f64>,
    lend_s: Option<Spanned<f64>>,
}

impl Validator<'_> {
    pub(super) fn pools(
        &self,
        raw: Option<&Spanned<Vec<RawPool>>>,
        regions: &[RegionSpec],
    ) -> Result<Vec<PoolSpec>, ConfigError> {
        let mut seen = HashSet::new();
        raw.map(Spanned::get_ref)
            .into_iter()
            .flatten()
            .map(|p| {
                let id = self.identifier(&p.id, "pool id")?;
                self.unique(&mut seen, &id, p.id.span(), "pool")?;
                if *p.size.get_ref() == 0 {
                    return self.error(p.size.span(), "a pool needs a size of 1 or more");
                }
                let lend_s = match &p.lend_s {
                    Some(lend) => self.positive(lend, "lend_s")?,
                    None => DEFAULT_LEND_S,
                };
                Ok(PoolSpec {
                    id,
                    region_index: self.region_ref(regions, &p.region)?,
                    size: *p.size.get_ref(),
                    cost_per_hour: self.positive(&p.cost_per_hour, "cost_per_hour")?,
                    capacity_rps: self.positive(&p.capacity_rps, "capacity_rps")?,
                    lend_s,
                })
            })
            .collect()
    }

    pub(super) fn readiness(
        &self,
        raw: Option<&Spanned<ReadinessTimes>>,
    ) -> Result<ReadinessTimes, ConfigError> {
        let Some(raw) = raw else {
            return Ok(ReadinessTimes::default());
        };
        let times = *raw.get_ref();
        let steps = [times.cold_to_warm_s, times.warm_to_hot_s, times.cool_step_s];
        if steps.iter().all(|t| t.is_finite() && *t > 0.0) {
            Ok(times)
        } else {
            self.error(
                raw.span(),
                "readiness needs positive cold_to_warm_s, warm_to_hot_s, cool_step_s",
            )
        }
    }
}
