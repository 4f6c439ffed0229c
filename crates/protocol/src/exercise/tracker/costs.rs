//! What the drill cost: each service's error budget spent, from the posture its fleet samples
//! carry, and the fleet's spend per hour at the samples' own prices, with the change each
//! accepted fleet command made to it.
//!
//! A command's effect is read from the samples after it until the next change to the fleet
//! (another command, a fired inject) or the end of its settling time, whichever comes first:
//! what changed in between is its doing as far as the recording can tell.

use super::Tracker;
use crate::FleetSnapshot;
use crate::commands::AuditEntry;
use crate::exercise::report::{ACTION_SETTLE_S, ActionCost, BudgetSpent, RunCost, SpendAt};
use crate::posture::fleet_spend;
use crate::round_to;

const SECONDS_PER_HOUR: f64 = 3600.0;
/// Places the report's derived figures are written with (see [`round_to`]): money to a
/// hundredth of a cent, shares of a budget to a millionth, seconds to a millisecond.
const MONEY_PLACES: i32 = 4;
const SHARE_PLACES: i32 = 6;
const SECOND_PLACES: i32 = 3;

/// One service's budget as sampled, and what a minute of its outage costs.
#[derive(Clone, Debug)]
pub(super) struct BudgetWatch {
    budget: BudgetSpent,
    downtime_cost_per_min: Option<f64>,
}

impl Tracker {
    pub(super) fn sample_costs(&mut self, t: f64, snapshot: &FleetSnapshot) {
        for service in &snapshot.services {
            let Some(posture) = &service.posture else {
                continue;
            };
            let known = (self.budgets.iter()).position(|w| w.budget.service == service.id);
            let index = known.unwrap_or_else(|| {
                self.budgets.push(BudgetWatch {
                    budget: BudgetSpent {
                        service: service.id.clone(),
                        criticality: posture.criticality,
                        slo: posture.slo,
                        left_at_start: None,
                        left_at_end: None,
                        spent: None,
                        outage_equivalent_s: None,
                        downtime_cost: None,
                        peak_burn_rate_1h: None,
                    },
                    downtime_cost_per_min: None,
                });
                self.budgets.len() - 1
            });
            let watch = &mut self.budgets[index];
            watch.downtime_cost_per_min =
                (posture.downtime_cost_per_min).or(watch.downtime_cost_per_min);
            let budget = &mut watch.budget;
            if budget.left_at_start.is_none() {
                budget.left_at_start = posture.budget_left;
            }
            budget.left_at_end = posture.budget_left.or(budget.left_at_end);
            budget.peak_burn_rate_1h = match (budget.peak_burn_rate_1h, posture.burn_rate_1h) {
                (Some(peak), Some(now)) => Some(peak.max(now)),
                (peak, now) => peak.or(now),
            };
        }
        let fleet = fleet_spend(snapshot);
        self.unpriced.extend(fleet.unpriced);
        if fleet.priced == 0 {
            return;
        }
        let sample = SpendAt {
            at_s: t,
            replicas_per_hour: round_to(fleet.replicas_per_hour, MONEY_PLACES),
            paths_per_hour: round_to(fleet.paths_per_hour, MONEY_PLACES),
        };
        self.spend.push(sample);
        let actions = &mut self.action_costs;
        self.settling.retain(|&index| {
            let action = &mut actions[index];
            let settling = t - action.at_s <= ACTION_SETTLE_S;
            if settling {
                action.after = Some(sample);
            }
            settling
        });
    }

    /// Something changed the fleet at `t`: earlier commands' effects are read no further.
    pub(super) fn fleet_changed(&mut self, t: f64) {
        self.settling.clear();
        self.changed_at_s = Some(t);
    }

    /// An accepted fleet command: its effect is read from the samples after it, against the
    /// last sample before it, unless something else changed the fleet since that sample (the
    /// difference would then be theirs too).
    pub(super) fn fleet_command(&mut self, t: f64, entry: &AuditEntry) {
        let last = self.spend.last().copied();
        let before = last.filter(|sample| self.changed_at_s.is_none_or(|c| sample.at_s >= c));
        self.fleet_changed(t);
        self.action_costs.push(ActionCost {
            at_s: t,
            actor: super::clean(&entry.actor),
            action: super::clean(&entry.action),
            target: super::clean(&entry.target),
            before,
            after: None,
        });
        self.settling.push(self.action_costs.len() - 1);
    }

    /// Each service's budget with what follows from its first and last sample.
    pub(super) fn budgets_spent(&self) -> Vec<BudgetSpent> {
        (self.budgets.iter())
            .map(
                |BudgetWatch {
                     budget,
                     downtime_cost_per_min,
                 }| {
                    let spent = (budget.left_at_start)
                        .zip(budget.left_at_end)
                        .map(|(start, end)| start - end);
                    let outage_s = spent
                        .map(|spent| spent * budget.slo.allowed_error_rate() * budget.slo.window_s);
                    let downtime_cost = (outage_s.zip(*downtime_cost_per_min))
                        .map(|(s, per_min)| s / 60.0 * per_min);
                    BudgetSpent {
                        spent: spent.map(|v| round_to(v, SHARE_PLACES)),
                        outage_equivalent_s: outage_s.map(|v| round_to(v, SECOND_PLACES)),
                        downtime_cost: downtime_cost.map(|v| round_to(v, MONEY_PLACES)),
                        ..budget.clone()
                    }
                },
            )
            .collect()
    }

    /// The fleet's spend over the drill; `None` when no sample priced anything.
    pub(super) fn run_cost(&self) -> Option<RunCost> {
        let (first, last) = (self.spend.first()?, self.spend.last()?);
        let total: f64 = (self.spend.windows(2))
            .map(|pair| pair[0].per_hour() * (pair[1].at_s - pair[0].at_s) / SECONDS_PER_HOUR)
            .sum();
        let start = round_to(first.per_hour(), MONEY_PLACES);
        Some(RunCost {
            start_per_hour: start,
            end_per_hour: round_to(last.per_hour(), MONEY_PLACES),
            peak_per_hour: (self.spend.iter())
                .map(|sample| round_to(sample.per_hour(), MONEY_PLACES))
                .fold(start, f64::max),
            total: round_to(total, MONEY_PLACES),
            above_start: round_to(
                total - start * (last.at_s - first.at_s) / SECONDS_PER_HOUR,
                MONEY_PLACES,
            ),
            unpriced: self.unpriced.iter().cloned().collect(),
            actions: self.action_costs.clone(),
        })
    }
}
