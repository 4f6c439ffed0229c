//! Error budgets as the lab spends them: each step, a service's failing requests count against
//! its SLO; per-minute sums over the last six hours give the 1 h and 6 h burn rates. Rates are
//! read over whole minutes only, as a metrics system's recording rules would: they then move
//! once a minute, not with every step's noise (each move is a delta on the event stream).

use std::collections::VecDeque;

use super::{Sim, round};
use crate::topology::PostureSpec;
use protocol::posture::Posture;

const MINUTE_S: f64 = 60.0;
/// The longest burn-rate window the lab reports, in minutes.
const MINUTES_KEPT: usize = 6 * 60;

/// Failures and requests of one service since the lab started, and per minute lately.
#[derive(Clone, Debug, Default)]
pub(super) struct BudgetLedger {
    failed: f64,
    /// (minute since the start, failed, requests), oldest first.
    minutes: VecDeque<(u64, f64, f64)>,
}

impl BudgetLedger {
    /// Counts the step of `dt` seconds ending at `now_s`: `failing_rps` out of `requests_rps`.
    pub(super) fn record(&mut self, now_s: f64, dt: f64, failing_rps: f64, requests_rps: f64) {
        if dt <= 0.0 {
            return;
        }
        let (failed, requests) = (failing_rps.max(0.0) * dt, requests_rps.max(0.0) * dt);
        self.failed += failed;
        let minute = ((now_s - dt / 2.0) / MINUTE_S) as u64;
        match self.minutes.back_mut() {
            Some(last) if last.0 == minute => {
                last.1 += failed;
                last.2 += requests;
            }
            _ => self.minutes.push_back((minute, failed, requests)),
        }
        while self
            .minutes
            .front()
            .is_some_and(|(m, ..)| m + MINUTES_KEPT as u64 <= minute)
        {
            self.minutes.pop_front();
        }
    }

    /// The share of requests that failed over the last `minutes` whole minutes (or since the
    /// start, when the lab is younger); `None` before the first whole minute.
    fn error_rate(&self, now_s: f64, minutes: u64) -> Option<f64> {
        let current = (now_s / MINUTE_S) as u64;
        let from = current.saturating_sub(minutes);
        let (failed, requests) = (self.minutes.iter())
            .filter(|(m, ..)| (from..current).contains(m))
            .fold((0.0, 0.0), |(f, r), (_, failed, requests)| {
                (f + failed, r + requests)
            });
        (requests > 0.0).then(|| failed / requests)
    }

    /// The posture on the wire: the budget left counts the share spent before the lab started
    /// and the failures since, against the window's expected requests at the topology's demand.
    pub(super) fn posture(&self, spec: &PostureSpec, demand_rps: f64, now_s: f64) -> Posture {
        let expected = demand_rps * spec.slo.window_s;
        let spent_before = spec.budget_spent * spec.slo.allowed_error_rate() * expected;
        let burn = |minutes| {
            self.error_rate(now_s, minutes)
                .map(|rate| round(spec.slo.burn_rate(rate), 2))
        };
        let left = spec.slo.budget_left(spent_before + self.failed, expected);
        spec.wire(Some(round(left, 4)), burn(60), burn(6 * 60))
    }
}

impl Sim {
    /// Counts the last step's failures against each service's budget.
    pub(super) fn spend_budgets(&mut self, dt: f64, now: f64) {
        for service in &mut self.services {
            let requests = service.demand_rps - service.deferred_rps;
            service
                .budget
                .record(now, dt, service.failing_rps, requests);
        }
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
