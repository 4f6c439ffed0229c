//! The injects of the scenario being played, as a drill steers them: which fired since the
//! last look, firing the next one early, and adding one that fires now.

use super::{InjectPhase, Sim};
use crate::scenario::Inject;

impl Sim {
    /// The scenario's injects, in file order, then those added while playing.
    pub fn injects(&self) -> &[Inject] {
        self.scenario.as_ref().map_or(&[], |s| s.injects.as_slice())
    }

    /// Indices (into [`Sim::injects`]) of the injects that fired since the last call, in order.
    pub fn take_fired_injects(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.fired_injects)
    }

    /// The upcoming inject due first, if any is left.
    pub fn next_pending_inject(&self) -> Option<usize> {
        self.injects()
            .iter()
            .zip(&self.inject_phases)
            .enumerate()
            .filter(|(_, (_, phase))| **phase == InjectPhase::Pending)
            .min_by(|(_, (a, _)), (_, (b, _))| a.at_s.total_cmp(&b.at_s))
            .map(|(index, _)| index)
    }

    /// Fires an upcoming inject now rather than at its time; false when it is not upcoming.
    pub fn fire_now(&mut self, index: usize) -> bool {
        let now = self.elapsed_s;
        let Some(scenario) = self.scenario.as_mut() else {
            return false;
        };
        if self.inject_phases.get(index) != Some(&InjectPhase::Pending) {
            return false;
        }
        scenario.injects[index].at_s = now;
        self.evaluate(0.0);
        true
    }

    /// Adds an inject that fires now (its `at_s` is set to the current second); answers its
    /// index, or `None` when no scenario is being played.
    pub fn add_inject(&mut self, mut inject: Inject) -> Option<usize> {
        inject.at_s = self.elapsed_s;
        self.scenario.as_mut()?.injects.push(inject);
        self.inject_phases.push(InjectPhase::Pending);
        self.evaluate(0.0);
        Some(self.inject_phases.len() - 1)
    }
}
