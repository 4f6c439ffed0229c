//! Timed controls: how a control set by hand shows in a snapshot, and how one set with an
//! expiry reverts by itself, leaving a notice and an audit record by `system`.

use super::{Control, ModeControl};
use crate::audit::{AuditRecord, SYSTEM_ACTOR};
use crate::sim::Sim;
use protocol::command::Command;
use protocol::commands::{AuditOutcome, BreakerAction, TimedControl};
use protocol::{BreakerState, DegradedMode};

impl Sim {
    /// Reverts the timed controls whose time is up.
    pub(in crate::sim) fn expire_controls(&mut self, now: f64) {
        let mut expired: Vec<(Command, Control)> = Vec::new();
        for (spec, state) in self.topology.regions.iter().zip(&mut self.regions) {
            if let Some(control) = state.drain.take_if(|c| c.expired(now)) {
                state.control_revision += 1;
                let command = Command::Drain {
                    region: spec.id.clone(),
                    expires_in_s: control.duration_s(),
                };
                expired.push((command, control));
            }
        }
        for (spec, state) in self.topology.providers.iter().zip(&mut self.providers) {
            let breaker = |action, control: &Control| Command::Breaker {
                provider: spec.id.clone(),
                action,
                expires_in_s: control.duration_s(),
            };
            if let Some(control) = state.quarantine.take_if(|c| c.expired(now)) {
                // Back to the automatic breaker, which probes before it closes.
                state.breaker.state = BreakerState::HalfOpen;
                state.breaker.reason = Some("probing after the quarantine ended".to_string());
                state.breaker.until_s = None;
                state.breaker.probing_for_s = 0.0;
                state.control_revision += 1;
                expired.push((breaker(BreakerAction::ForceOpen, &control), control));
            }
            if let Some(control) = state.pinned.take_if(|c| c.expired(now)) {
                state.control_revision += 1;
                expired.push((breaker(BreakerAction::Pin, &control), control));
            }
        }
        for (spec, state) in self.topology.services.iter().zip(&mut self.services) {
            let before = expired.len();
            for mode in state
                .degraded_modes
                .extract_if(.., |m| m.control.expired(now))
            {
                let command = Command::Degrade {
                    service: spec.id.clone(),
                    mode: mode.mode,
                    enabled: true,
                    expires_in_s: mode.control.duration_s(),
                };
                expired.push((command, mode.control));
            }
            if expired.len() > before {
                state.control_revision += 1;
            }
        }
        for (command, control) in expired {
            let set = format!(
                "set by {} at {}",
                control.set_by,
                self.time_at(control.since_s).format("%H:%M:%S")
            );
            self.notice(
                now,
                format!("expired: {command} ({set} — {})", control.reason),
            );
            self.automatic.push(AuditRecord {
                at: self.time_at(now),
                actor: SYSTEM_ACTOR.to_string(),
                action: command.verb(),
                target: command.target_label(),
                reason: "expired".to_string(),
                idempotency_key: None,
                outcome: AuditOutcome::Reverted,
                detail: Some(format!("{set}: {}", control.reason)),
                preflight: None,
            });
        }
        self.expire_role_holds(now);
    }

    pub(in crate::sim) fn timed_control(&self, control: &Control) -> TimedControl {
        TimedControl {
            set_by: control.set_by.clone(),
            reason: control.reason.clone(),
            since: self.time_at(control.since_s),
            expires_at: control.expires_s.map(|s| self.time_at(s)),
        }
    }

    pub(in crate::sim) fn degraded_mode_view(&self, mode: &ModeControl) -> DegradedMode {
        DegradedMode {
            mode: mode.mode,
            control: self.timed_control(&mode.control),
        }
    }
}
