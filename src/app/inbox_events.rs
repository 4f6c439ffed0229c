//! The inbox's side of the app: the clocks its countdowns run on, its loads from each source,
//! the escalation events of their streams, the filter's results, and which arrivals ring.

use chrono::{DateTime, TimeDelta, Utc};

use super::{App, Effect, Level, Upserted};
use crate::sources::{EscalationEvent, EscalationEventKind};
use protocol::escalations::EscalationSummary;
use protocol::sanitize::clean;

impl App {
    /// The clock a source's data runs on: a lab's simulated time moves at its speed, so SLA
    /// countdowns and ages agree with the deadlines it hands out.
    pub fn source_clock(&self, source: usize) -> DateTime<Utc> {
        let data = &self.sources[source];
        match (&data.snapshot, data.received_at) {
            (Some(snapshot), Some(received)) => {
                let speed = snapshot.lab.as_ref().map_or(1.0, |lab| lab.speed);
                let elapsed = self.now.saturating_duration_since(received).as_secs_f64() * speed;
                snapshot.generated_at + TimeDelta::milliseconds((elapsed * 1000.0) as i64)
            }
            _ => self.wall,
        }
    }

    /// The clock of every source, by index.
    pub fn source_clocks(&self) -> Vec<DateTime<Utc>> {
        (0..self.sources.len())
            .map(|i| self.source_clock(i))
            .collect()
    }

    /// Shows the filter's matches once they are known, and opens the top one if Enter was
    /// pressed while matching.
    pub(super) fn take_filter_matches(&mut self) -> Vec<Effect> {
        if !self.inbox.tick() {
            return Vec::new();
        }
        self.dirty = true;
        let open = std::mem::take(&mut self.open_when_matched);
        match self.inbox.selected_slot() {
            Some(slot) if open => self.open_task(slot),
            _ => Vec::new(),
        }
    }

    pub(super) fn source_index(&self, name: &str) -> Option<usize> {
        self.sources.iter().position(|s| s.name == name)
    }

    /// Asks every source for its open escalations (at start and after each reconnect: the
    /// stream resumes from the new snapshot, so what changed in between comes from the list).
    pub(super) fn fetch_escalations(&mut self, source: usize) -> Vec<Effect> {
        self.inbox.begin_load(source);
        vec![Effect::FetchEscalations {
            source: self.sources[source].name.clone(),
        }]
    }

    pub(super) fn escalations_counted(&mut self, source: &str, total: u64) {
        if let Some(index) = self.source_index(source) {
            self.inbox.load(index).expected = Some(total);
        }
    }

    pub(super) fn escalations_loaded(
        &mut self,
        source: &str,
        result: Result<Vec<EscalationSummary>, String>,
        done: bool,
    ) -> Vec<Effect> {
        let Some(index) = self.source_index(source) else {
            return Vec::new();
        };
        let reload = self.inbox.source_load(index).loaded;
        let mut effects = Vec::new();
        match result {
            Ok(page) => {
                self.inbox.load(index).received += page.len() as u64;
                let mut urgent = Vec::new();
                for summary in page {
                    let notable = reload && self.is_notable(&summary);
                    let brief = notable.then(|| notice_text(&summary));
                    let open = self.is_open_task(index, &summary.id);
                    let upserted = self.inbox.upsert(index, summary);
                    if upserted == Upserted::New
                        && let Some(brief) = brief
                    {
                        urgent.push(brief);
                    }
                    if open && let Some(id) = self.task.as_ref().map(|t| t.id.clone()) {
                        effects.extend(self.escalation_changed(index, &id, upserted));
                    }
                }
                // Tasks that escalated while the stream was down are news too.
                if let Some(first) = urgent.first() {
                    let title = match urgent.len() {
                        1 => "Switchboard: new escalation".to_string(),
                        n => format!("Switchboard: {n} new escalations"),
                    };
                    effects.push(Effect::Notify {
                        title,
                        body: first.clone(),
                    });
                }
                if done {
                    let listed = self.open_task_listed(index);
                    self.inbox.end_load(index);
                    if listed && !self.open_task_listed(index) {
                        effects.extend(self.reread_open_task(index));
                    }
                }
            }
            Err(error) => {
                // A partial list is not a full one: nothing is dropped for missing from it.
                let error = clean(&error).into_owned();
                let load = self.inbox.load(index);
                load.loading = false;
                load.error = Some(error.clone());
                self.flash(
                    Level::Error,
                    format!("{source}: cannot list escalations: {error}"),
                );
            }
        }
        effects
    }

    pub(super) fn on_escalation_event(
        &mut self,
        source: usize,
        event: EscalationEvent,
    ) -> Vec<Effect> {
        let notable = event.kind == EscalationEventKind::New && self.is_notable(&event.summary);
        let brief = notable.then(|| notice_text(&event.summary));
        let new = (event.kind == EscalationEventKind::New).then(|| event.summary.clone());
        let id = event.summary.id.clone();
        let upserted = self.inbox.upsert(source, event.summary);
        if let (Upserted::New, Some(summary)) = (upserted, new) {
            self.retry_escalated_again(source, &summary);
        }
        let mut effects = self.escalation_changed(source, &id, upserted);
        // A replayed `new` after a resume is not news.
        if let (Upserted::New | Upserted::Newer, Some(body)) = (upserted, brief) {
            effects.push(Effect::Notify {
                title: "Switchboard: new escalation".to_string(),
                body,
            });
        }
        effects
    }

    /// Urgent enough to notify of, and still open.
    fn is_notable(&self, summary: &EscalationSummary) -> bool {
        self.notify_at
            .is_some_and(|threshold| summary.priority <= threshold)
            && !summary.state.is_closed()
    }
}

/// One line about a task for a notification (the runner sanitizes it again for the terminal).
fn notice_text(summary: &EscalationSummary) -> String {
    format!(
        "{} {} {}: {}",
        summary.priority.word().to_uppercase(),
        clean(&summary.service),
        summary.id,
        summary.reason.word()
    )
}
