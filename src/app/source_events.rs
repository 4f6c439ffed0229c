//! What the sources report: connection changes, snapshots and deltas of the fleet, the
//! operators, audit entries and escalation events, folded into the app's state.

use super::{App, Effect, Level};
use crate::domain::fleet::{Connection, HISTORY_LEN, STALE_AFTER};
use crate::domain::measured::FiringAlert;
use crate::sources::prometheus::FleetFacts;
use crate::sources::{SourceEvent, SourceMsg};
use protocol::commands::OperationState;
use protocol::sanitize::clean;

impl App {
    pub(super) fn on_source(&mut self, msg: SourceMsg) -> Vec<Effect> {
        let Some(index) = self.sources.iter().position(|s| s.name == msg.source) else {
            tracing::warn!(source = %msg.source, "message from an unknown source");
            return Vec::new();
        };
        self.dirty = true;
        let now = self.now;
        let name = msg.source;
        match msg.event {
            SourceEvent::Connecting { attempt } => {
                let source = &mut self.sources[index];
                // A source that was down stays down on screen until it answers.
                if !matches!(source.connection, Connection::Down { .. }) {
                    source.connection = Connection::Connecting { attempt };
                }
            }
            SourceEvent::Identity(who) => self.sources[index].identity = Some(who),
            SourceEvent::Snapshot(snapshot) => {
                let was_down = matches!(self.sources[index].connection, Connection::Down { .. });
                let fresh_notices: Vec<_> = snapshot
                    .notices
                    .iter()
                    .filter(|n| {
                        !self
                            .timeline
                            .iter()
                            .any(|e| e.at == n.at && e.text == n.text)
                    })
                    .cloned()
                    .collect();
                let source = &mut self.sources[index];
                source.apply_snapshot(snapshot, now);
                source.connection = Connection::Live;
                if was_down {
                    self.log(Some(&name), Level::Info, "connection restored".to_string());
                }
                for notice in fresh_notices {
                    self.log_notice(&name, notice);
                }
                self.refresh_visible();
                self.refresh_confirm(index);
                // A replay's source is a file: it has no queue, log or runs to be asked for,
                // and the inbox must not say it is loading one.
                if self.replay.is_some() {
                    return Vec::new();
                }
                // Each (re)connection starts the stream at this snapshot: what the tasks
                // did before it comes from the list, and the commands from the audit log.
                let mut effects = self.fetch_escalations(index);
                effects.extend(self.refetch_audit(&name));
                effects.extend(self.ask_for_shared_runs(&name));
                return effects;
            }
            SourceEvent::Delta(delta) => {
                let notices = delta.notices.clone();
                let ended: Vec<_> = delta
                    .operations
                    .iter()
                    .filter(|o| o.state != OperationState::Running)
                    .cloned()
                    .collect();
                let source = &mut self.sources[index];
                if source.apply_delta(delta, now) {
                    source.connection = Connection::Live;
                    for notice in notices {
                        self.log_notice(&name, notice);
                    }
                    for op in ended {
                        let (level, mark) = if op.state == OperationState::Succeeded {
                            (Level::Info, "✓")
                        } else {
                            (Level::Error, "✖")
                        };
                        let text = format!(
                            "{mark} {} {} {}: {}",
                            clean(&op.kind),
                            clean(&op.target),
                            op.state.word(),
                            clean(&op.message)
                        );
                        self.flash(level, text);
                    }
                    self.refresh_visible();
                    self.refresh_confirm(index);
                } else {
                    tracing::warn!(source = %name, "delta without a snapshot to apply it to");
                }
            }
            SourceEvent::Measured(facts) => self.on_measured(index, *facts),
            SourceEvent::MeasuredHistory(history) => {
                self.sources[index].history = history
                    .into_iter()
                    .map(|(key, samples)| {
                        let keep_from = samples.len().saturating_sub(HISTORY_LEN);
                        (key, samples[keep_from..].iter().copied().collect())
                    })
                    .collect();
            }
            SourceEvent::Alerts(alerts) => self.on_alerts(index, alerts),
            SourceEvent::Gateway(read) => self.on_gateway(index, *read),
            SourceEvent::Cluster(read) => self.on_cluster(index, *read),
            SourceEvent::Silences(silences) => self.on_silences(index, silences),
            SourceEvent::Operators(operators) => self.sources[index].operators = operators,
            SourceEvent::Audit(entry) => self.add_audit(&name, vec![entry]),
            SourceEvent::Escalation(event) => return self.on_escalation_event(index, event),
            SourceEvent::RunbookRun(run) => return self.on_shared_run(&name, *run),
            SourceEvent::ReplayRewound => self.replay_rewound(index),
            SourceEvent::Replayed(frame) => self.replayed(&name, *frame),
            SourceEvent::Exercise(read) => return self.on_exercise(index, read),
            SourceEvent::Approvals(read) => return self.on_approvals(index, read),
            SourceEvent::Approval(request) => return self.on_approval(index, *request),
            SourceEvent::Listed { rows, next_in } => {
                let source = &mut self.sources[index];
                let was_down = matches!(source.connection, Connection::Down { .. });
                source.connection = Connection::Live;
                source.received_at = Some(now);
                // A polled source is fresh until its next list is due, and a little more.
                source.stale_after = STALE_AFTER + next_in;
                if was_down {
                    self.log(Some(&name), Level::Info, "connection restored".to_string());
                }
                self.inbox.begin_load(index);
                return self.escalations_loaded(&name, Ok(rows), true);
            }
            SourceEvent::Down {
                error,
                kind,
                retry_in,
            } => {
                let error = clean(&error).into_owned();
                let source = &mut self.sources[index];
                let first_failure =
                    !matches!(&source.connection, Connection::Down { error: e, .. } if *e == error);
                source.connection = Connection::Down {
                    error: error.clone(),
                    kind,
                    retry_at: now + retry_in,
                };
                if first_failure {
                    self.log(Some(&name), Level::Error, error);
                }
            }
        }
        Vec::new()
    }

    /// A metrics source's read: its facts replace the last ones, each problem of the read
    /// is told once.
    pub(super) fn on_measured(&mut self, index: usize, facts: FleetFacts) {
        let now = self.now;
        let source = &mut self.sources[index];
        let was_down = matches!(source.connection, Connection::Down { .. });
        source.connection = Connection::Live;
        source.received_at = Some(now);
        let measured = source.measured.get_or_insert_default();
        let problems: Vec<String> = (facts.failed.iter().map(ToString::to_string))
            .chain(facts.unplaced)
            .map(|problem| clean(&problem).into_owned())
            .collect();
        let new_problems: Vec<String> = problems
            .iter()
            .filter(|p| !measured.problems.contains(p))
            .cloned()
            .collect();
        measured.regions = facts.regions;
        measured.providers = facts.providers;
        measured.services = facts.services;
        measured.problems = problems;
        let name = source.name.clone();
        if was_down {
            self.log(Some(&name), Level::Info, "connection restored".to_string());
        }
        for problem in new_problems {
            self.log(Some(&name), Level::Warning, problem);
        }
        self.refresh_visible();
    }

    /// The alerts firing now: each new one enters the timeline at the time it started firing,
    /// each one gone leaves it marked resolved. A failed read keeps the last alerts and says
    /// why, once.
    fn on_alerts(&mut self, index: usize, alerts: Result<Vec<FiringAlert>, String>) {
        let name = self.sources[index].name.clone();
        let measured = self.sources[index].measured.get_or_insert_default();
        let alerts = match alerts {
            Ok(alerts) => alerts,
            Err(error) => {
                let error = clean(&error).into_owned();
                if measured.alerts_error.as_ref() != Some(&error) {
                    measured.alerts_error = Some(error.clone());
                    self.log(
                        Some(&name),
                        Level::Error,
                        format!("alerts not read: {error}"),
                    );
                }
                return;
            }
        };
        let had_error = measured.alerts_error.take().is_some();
        let held = std::mem::take(&mut measured.alerts);
        let fired: Vec<FiringAlert> = (alerts.iter())
            .filter(|a| !held.iter().any(|h| h.fingerprint == a.fingerprint))
            .cloned()
            .collect();
        let resolved: Vec<FiringAlert> = (held.into_iter())
            .filter(|h| !alerts.iter().any(|a| a.fingerprint == h.fingerprint))
            .collect();
        measured.alerts = alerts;
        if had_error {
            self.log(Some(&name), Level::Info, "alerts read again".to_string());
        }
        for alert in fired {
            let notice = alert.notice();
            self.push_timeline(super::TimelineEntry {
                at: notice.at,
                source: name.clone(),
                level: Level::Warning,
                text: clean(&notice.text).into_owned(),
                alert: Some(alert.fingerprint.clone()),
            });
        }
        for alert in resolved {
            let text = format!("✓ resolved: {}", clean(&alert.notice().text));
            self.log(Some(&name), Level::Info, text);
        }
    }

    fn log_notice(&mut self, source: &str, notice: protocol::Notice) {
        let text = clean(&notice.text).into_owned();
        self.push_timeline(super::TimelineEntry {
            at: notice.at,
            source: source.to_string(),
            level: Level::Warning,
            text,
            alert: None,
        });
    }
}
