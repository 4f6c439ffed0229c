//! Which moves of a metric are news. The simulated metrics wobble on every tick; publishing
//! each wobble made every object "change" four times a second, so every delta carried the
//! whole fleet. A metric is published again only once it has moved out of its band around
//! the value last published; until then the published value stands. Everything that is not
//! a measurement (health, breakers, controls, roles, routes' ranks) is compared exactly.
//! docs/openapi.yaml (`fleet.delta`) states the bands for clients.

use protocol::{Gateway, Latency, Provider, Region, Replica, Service};

/// How far a metric may move from its published value before the move is published: the
/// larger of an absolute and a relative distance.
#[derive(Clone, Copy, Debug)]
pub struct Band {
    absolute: f64,
    relative: f64,
}

/// Latencies: 15 %, at least 1 ms (a steady provider's latency wobbles by up to 13 %).
pub const LATENCY_MS: Band = Band::new(1.0, 0.15);
/// Error and 429 rates (shares of requests): one percentage point or 10 %.
pub const RATE: Band = Band::new(0.01, 0.10);
/// Request rates and capacities: 4.5 %, at least 0.25 rps. Demand wobbles by up to 2 % each
/// tick, so two samples of a steady load are at most 4 % apart.
pub const RPS: Band = Band::new(0.25, 0.045);
/// Route shares (0..1): half a point or 4.5 %. Traffic shares and rate-limit headroom are
/// not banded on their own: they follow the load they derive from.
pub const SHARE: Band = Band::new(0.005, 0.045);
/// Durations in seconds (replication lag, takeover): 10 %, at least 1 s.
pub const SECONDS: Band = Band::new(1.0, 0.10);
/// Error budget left (a share of the budget): half a percent of the budget.
pub const BUDGET: Band = Band::new(0.005, 0.0);
/// Burn rates: 0.1 or 10 %.
pub const BURN: Band = Band::new(0.1, 0.10);

impl Band {
    const fn new(absolute: f64, relative: f64) -> Band {
        Band { absolute, relative }
    }

    /// Keeps the published value when `value` is still within the band around it.
    pub fn settle(self, value: &mut f64, published: f64) {
        let reach = self.absolute.max(self.relative * published.abs());
        if (*value - published).abs() <= reach {
            *value = published;
        }
    }

    fn settle_optional(self, value: &mut Option<f64>, published: Option<f64>) {
        if let (Some(value), Some(published)) = (value.as_mut(), published) {
            self.settle(value, published);
        }
    }
}

/// An object whose measurements may keep their published values while within their bands.
pub trait Settle {
    fn settle(&mut self, published: &Self);
}

/// Settles every object of `fresh` against the published object with the same id.
pub fn settle_all<T: Settle>(fresh: &mut [T], published: &[T], id: impl Fn(&T) -> &str) {
    for object in fresh {
        if let Some(old) = published.iter().find(|old| id(old) == id(object)) {
            object.settle(old);
        }
    }
}

/// Keeps a value derived from a load (a share, headroom) as published while the load is.
fn follow_load(load: f64, published_load: f64, derived: &mut f64, published: f64) {
    if load == published_load {
        *derived = published;
    }
}

impl Settle for Latency {
    fn settle(&mut self, published: &Self) {
        LATENCY_MS.settle(&mut self.p50_ms, published.p50_ms);
        LATENCY_MS.settle(&mut self.p95_ms, published.p95_ms);
        LATENCY_MS.settle(&mut self.p99_ms, published.p99_ms);
    }
}

impl Settle for Region {
    fn settle(&mut self, published: &Self) {
        self.latency.settle(&published.latency);
        RATE.settle(&mut self.error_rate, published.error_rate);
        RATE.settle(&mut self.rate_limited_rate, published.rate_limited_rate);
        RPS.settle(&mut self.capacity_rps, published.capacity_rps);
        RPS.settle(&mut self.load_rps, published.load_rps);
        let (load, old_load) = (self.load_rps, published.load_rps);
        follow_load(
            load,
            old_load,
            &mut self.traffic_share,
            published.traffic_share,
        );
    }
}

impl Settle for Provider {
    fn settle(&mut self, published: &Self) {
        self.latency.settle(&published.latency);
        RATE.settle(&mut self.error_rate, published.error_rate);
        RATE.settle(&mut self.rate_limited_rate, published.rate_limited_rate);
        RPS.settle_optional(&mut self.rate_limit_rps, published.rate_limit_rps);
        RPS.settle(&mut self.load_rps, published.load_rps);
        let (load, old_load) = (self.load_rps, published.load_rps);
        follow_load(
            load,
            old_load,
            &mut self.traffic_share,
            published.traffic_share,
        );
        if self.rate_limit_rps == published.rate_limit_rps {
            let headroom = published.rate_limit_headroom;
            follow_load(load, old_load, &mut self.rate_limit_headroom, headroom);
        }
    }
}

impl Settle for Gateway {
    fn settle(&mut self, published: &Self) {
        for route in &mut self.routes {
            let same = published
                .routes
                .iter()
                .find(|old| old.service == route.service && old.provider == route.provider);
            if let Some(old) = same {
                SHARE.settle(&mut route.share, old.share);
            }
        }
    }
}

impl Settle for Replica {
    fn settle(&mut self, published: &Self) {
        SECONDS.settle(&mut self.replication_lag_s, published.replication_lag_s);
        RPS.settle(&mut self.capacity_rps, published.capacity_rps);
        RPS.settle(&mut self.load_rps, published.load_rps);
        SECONDS.settle_optional(&mut self.takeover_s, published.takeover_s);
    }
}

impl Settle for Service {
    fn settle(&mut self, published: &Self) {
        RPS.settle(&mut self.demand_rps, published.demand_rps);
        settle_all(&mut self.replicas, &published.replicas, |r| &r.id);
        if let (Some(posture), Some(old)) = (self.posture.as_mut(), published.posture.as_ref()) {
            BUDGET.settle_optional(&mut posture.budget_left, old.budget_left);
            BURN.settle_optional(&mut posture.burn_rate_1h, old.burn_rate_1h);
            BURN.settle_optional(&mut posture.burn_rate_6h, old.burn_rate_6h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_within_the_band_keeps_the_published_value_and_one_beyond_it_is_news() {
        let mut wobble = 204.0;
        LATENCY_MS.settle(&mut wobble, 200.0);
        assert_eq!(wobble, 200.0);
        let mut jump = 240.0;
        LATENCY_MS.settle(&mut jump, 200.0);
        assert_eq!(jump, 240.0);
        // Near zero the absolute distance rules: half a percentage point of errors is noise,
        // two points are not.
        let (mut noise, mut rise) = (0.005, 0.02);
        RATE.settle(&mut noise, 0.0);
        RATE.settle(&mut rise, 0.0);
        assert_eq!((noise, rise), (0.0, 0.02));
    }
}
