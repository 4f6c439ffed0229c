//! How each kind of record changes the tracker: fleet samples, injects, audit entries,
//! escalations, messages, notes and controls.

use super::{
    APPROVAL_ACTION, EXERCISE_ACTION, MESSAGE_KIND, RECOVERED_ERROR_RATE, SYSTEM_ACTOR, Tracker,
    clean,
};
use crate::FleetSnapshot;
use crate::Health;
use crate::command::{Verb, action_covers};
use crate::commands::{AuditEntry, AuditOutcome};
use crate::exercise::record::ObjectiveCondition;
use crate::exercise::report::{RegionSeries, TimelineEntry, TimelineKind};
use crate::exercise::{
    Annotation, Control, ExerciseMessage, ExercisePhase, ExerciseRole, InjectMeasures, InjectState,
    ObjectiveStatus, RiskyAction, Tone, clock_label,
};

impl Tracker {
    pub(super) fn sample(&mut self, t: f64, snapshot: &FleetSnapshot) {
        for region in &snapshot.regions {
            let series = match self.series.iter_mut().position(|s| s.region == region.id) {
                Some(index) => &mut self.series[index],
                None => {
                    self.series.push(RegionSeries {
                        region: region.id.clone(),
                        t_s: Vec::new(),
                        share: Vec::new(),
                        error_rate: Vec::new(),
                    });
                    self.series.last_mut().expect("just pushed")
                }
            };
            series.t_s.push(t);
            series.share.push(region.traffic_share);
            series.error_rate.push(region.error_rate);
        }
        self.meet_objectives(t, |condition| match condition {
            ObjectiveCondition::TrafficOff { provider, below } => snapshot
                .providers
                .iter()
                .any(|p| &p.id == provider && p.traffic_share < *below),
            ObjectiveCondition::Healthy { target } => healthy(snapshot, target),
            _ => false,
        });
        self.watch_overload(t, snapshot);
        self.sample_costs(t, snapshot);
        let recovered = snapshot
            .regions
            .iter()
            .all(|r| r.error_rate < RECOVERED_ERROR_RATE && r.headroom() >= 0.0);
        if recovered {
            for measure in self.measures.iter_mut().filter(|m| m.recover_s.is_none()) {
                let ended = self
                    .fired
                    .iter()
                    .find(|i| i.id == measure.inject)
                    .is_some_and(|i| measure.fired_at_s + i.duration_s <= t);
                if t >= measure.fired_at_s && (measure.mitigate_s.is_some() || ended) {
                    measure.recover_s = Some(t - measure.fired_at_s);
                }
            }
        }
    }

    /// Keeps each overloaded region's stretch; one longer than a no-overload objective allows
    /// (counted from its window's start) breaks it.
    fn watch_overload(&mut self, t: f64, snapshot: &FleetSnapshot) {
        let mut stretches = Vec::new();
        for region in snapshot.regions.iter().filter(|r| r.headroom() < 0.0) {
            let since = self
                .overloaded_since
                .iter()
                .find(|(id, _)| *id == region.id)
                .map_or(t, |(_, since)| *since);
            stretches.push((region.id.clone(), since));
        }
        self.overloaded_since = stretches.clone();
        for (region, since) in stretches {
            for objective in &mut self.objectives {
                let ObjectiveCondition::NoOverload { for_s } = objective.spec.condition else {
                    continue;
                };
                let Some(from) = objective.from_s else {
                    continue;
                };
                let start = since.max(from);
                if objective.open_at(t) && t - start > for_s {
                    objective.status = ObjectiveStatus::Missed {
                        at_s: t,
                        why: format!(
                            "{region} over capacity for {:.0} s (since {})",
                            t - start,
                            clock_label(start)
                        ),
                    };
                }
            }
        }
    }

    pub(super) fn fire(&mut self, t: f64, inject: &InjectState) {
        if self.fired.iter().any(|i| i.id == inject.id) {
            return;
        }
        let scheduled = self.header.injects.iter().find(|i| i.id == inject.id);
        let who = match scheduled {
            Some(_) => "scenario".to_string(),
            None => self
                .custom_by
                .take()
                .unwrap_or_else(|| "facilitator".to_string()),
        };
        let mut fired = inject.clone();
        fired.fired_at_s = Some(t);
        if fired.facilitator_note.is_none() {
            fired.facilitator_note = scheduled.and_then(|s| s.facilitator_note.clone());
        }
        self.timeline.push(TimelineEntry {
            at_s: t,
            kind: TimelineKind::Inject,
            who,
            what: format!("{} ({})", clean(&fired.summary), fired.id),
            why: clean(&fired.narrative),
        });
        if fired.kind != MESSAGE_KIND {
            self.fleet_changed(t);
            self.measures.push(InjectMeasures {
                inject: fired.id.clone(),
                fired_at_s: t,
                detect_s: None,
                mitigate_s: None,
                recover_s: None,
            });
        }
        for objective in &mut self.objectives {
            if objective.from_s.is_none() && objective.spec.after.as_deref() == Some(&fired.id) {
                objective.from_s = Some(t);
            }
        }
        self.fired.push(fired);
    }

    /// Whether `actor` is someone playing the drill (not the facilitator, not the lab).
    fn is_player(&self, actor: &str) -> bool {
        actor != SYSTEM_ACTOR
            && !self
                .header
                .players
                .iter()
                .any(|p| p.name == actor && p.role == ExerciseRole::Facilitator)
    }

    /// A player's first sign of noticing: every fired inject not yet detected is.
    fn detected(&mut self, t: f64, only: Option<&str>) {
        for measure in &mut self.measures {
            if measure.detect_s.is_none()
                && t >= measure.fired_at_s
                && only.is_none_or(|id| id == measure.inject)
            {
                measure.detect_s = Some(t - measure.fired_at_s);
            }
        }
    }

    pub(super) fn audit(&mut self, t: f64, entry: &AuditEntry) {
        let verb = entry.action.split_whitespace().next().unwrap_or_default();
        if verb == EXERCISE_ACTION || entry.actor == SYSTEM_ACTOR {
            return;
        }
        let player = self.is_player(&entry.actor);
        let accepted = entry.outcome == AuditOutcome::Accepted;
        let fleet_command = Verb::of_action(&entry.action).is_some();
        if accepted && fleet_command {
            self.fleet_command(t, entry);
        }
        if player {
            self.detected(t, None);
            if accepted && fleet_command {
                for measure in &mut self.measures {
                    if measure.mitigate_s.is_none() && t >= measure.fired_at_s {
                        measure.mitigate_s = Some(t - measure.fired_at_s);
                    }
                }
            }
        }
        if accepted {
            self.meet_objectives(t, |condition| match condition {
                ObjectiveCondition::Action { action, target } => {
                    action_covers(action, &entry.action)
                        && target
                            .as_deref()
                            .is_none_or(|wanted| target_matches(&entry.target, wanted))
                }
                _ => false,
            });
        }
        if verb == APPROVAL_ACTION {
            return;
        }
        let mut why = clean(&entry.reason);
        // A held command changed nothing yet: its risk counts when it is carried out.
        let held = entry.outcome == AuditOutcome::Held;
        let risky = entry.preflight.as_ref().filter(|p| p.is_risky() && !held);
        if let Some(preflight) = risky {
            let findings: Vec<String> = preflight.findings.iter().map(|f| clean(f)).collect();
            let overrode = if preflight.forced {
                "FORCED past a blocking preflight"
            } else {
                "confirmed over preflight warnings"
            };
            why = format!("{why} — {overrode}: {}", findings.join("; "));
            self.risky.push(RiskyAction {
                at_s: t,
                actor: clean(&entry.actor),
                action: clean(&entry.action),
                target: clean(&entry.target),
                reason: clean(&entry.reason),
                forced: preflight.forced,
                findings,
            });
            if preflight.forced {
                let broke = format!(
                    "{} {} forced by {} at {}",
                    clean(&entry.action),
                    clean(&entry.target),
                    clean(&entry.actor),
                    clock_label(t)
                );
                self.break_objectives(t, &broke, |c| *c == ObjectiveCondition::NoForce, None);
            }
        }
        let kind = if verb == "runbook" {
            TimelineKind::RunbookStep
        } else {
            TimelineKind::Action
        };
        self.timeline.push(TimelineEntry {
            at_s: t,
            kind,
            who: clean(&entry.actor),
            what: format!(
                "{} {} ({})",
                clean(&entry.action),
                clean(&entry.target),
                entry.outcome.word()
            ),
            why,
        });
    }

    pub(super) fn close_escalation(&mut self, t: f64, id: &str, by: &str) {
        let Some(escalation) = self
            .escalations
            .iter_mut()
            .find(|e| e.id == id && !e.closed)
        else {
            return;
        };
        escalation.closed = true;
        self.escalations_closed += 1;
        let verdict = if escalation.breached {
            "past its SLA"
        } else {
            "within its SLA"
        };
        let what = format!(
            "escalation {} ({}) closed after {:.0} s, {verdict}",
            clean(id),
            escalation.priority.word().to_uppercase(),
            t - escalation.opened_s
        );
        self.timeline.push(TimelineEntry {
            at_s: t,
            kind: TimelineKind::Escalation,
            who: clean(by),
            what,
            why: String::new(),
        });
    }

    pub(super) fn message(&mut self, message: &ExerciseMessage) {
        self.messages.push(message.clone());
        self.timeline.push(TimelineEntry {
            at_s: message.at_s,
            kind: TimelineKind::Message,
            who: clean(&message.from),
            what: clean(&message.text),
            why: String::new(),
        });
    }

    pub(super) fn annotate(&mut self, annotation: &Annotation) {
        self.notes.push(annotation.clone());
        let tone = match annotation.tone {
            Tone::WentWell => "went well: ",
            Tone::ToImprove => "to improve: ",
            Tone::Note => "",
        };
        self.timeline.push(TimelineEntry {
            at_s: annotation.at_s,
            kind: TimelineKind::Note,
            who: clean(&annotation.author),
            what: format!("{tone}{}", clean(&annotation.text)),
            why: String::new(),
        });
    }

    pub(super) fn control(&mut self, t: f64, by: &str, control: &Control) {
        let what = match control {
            Control::Start => {
                self.phase = ExercisePhase::Running;
                "started the drill".to_string()
            }
            Control::Pause => {
                self.phase = ExercisePhase::Paused;
                "paused the drill".to_string()
            }
            Control::Resume => {
                self.phase = ExercisePhase::Running;
                "resumed the drill".to_string()
            }
            Control::Speed { speed } => {
                self.speed = *speed;
                format!("set the speed to {speed}x")
            }
            Control::Acknowledge { inject } => {
                if self.is_player(by) {
                    self.detected(t, Some(inject));
                }
                format!("acknowledged {}", clean(inject))
            }
            Control::End => {
                self.finish(t);
                "ended the drill".to_string()
            }
            Control::Inject { .. } => {
                self.custom_by = Some(by.to_string());
                return;
            }
            // Their records (inject, message, annotation) carry what they did.
            Control::NextInject | Control::Message { .. } | Control::Annotate { .. } => return,
        };
        self.timeline.push(TimelineEntry {
            at_s: t,
            kind: TimelineKind::Control,
            who: clean(by),
            what,
            why: String::new(),
        });
    }
}

/// Whether the region, provider or service `target` of the sample is healthy.
fn healthy(snapshot: &FleetSnapshot, target: &str) -> bool {
    let health = snapshot
        .regions
        .iter()
        .map(|r| (&r.id, r.health))
        .chain(snapshot.providers.iter().map(|p| (&p.id, p.health)))
        .chain(snapshot.services.iter().map(|s| (&s.id, s.health)))
        .find(|(id, _)| *id == target);
    health.is_some_and(|(_, h)| h == Health::Ok)
}

/// An audit target names `wanted` when one of its `/`-separated parts is it, or is a
/// `<service>@<region>` of it: a promotion's `credit-decision/credit-decision@us-west` names
/// both the replica and the service; weights' `risk-scorer@us-east` the service.
fn target_matches(done: &str, wanted: &str) -> bool {
    done.split('/').any(|part| {
        part == wanted
            || part
                .split_once('@')
                .is_some_and(|(service, _)| service == wanted)
    })
}
