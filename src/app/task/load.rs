//! Reading the open task's detail: when it arrives, and again whenever the task changes at
//! its source.

use super::super::inbox::Upserted;
use super::TaskLoad;
use crate::app::{App, Effect, Level};
use protocol::escalations::Escalation;
use protocol::sanitize::{clean, clean_multiline};

impl App {
    pub(in crate::app) fn escalation_loaded(
        &mut self,
        source: &str,
        id: &str,
        result: Result<Box<Escalation>, String>,
    ) -> Vec<Effect> {
        let Some(index) = self.source_index(source) else {
            return Vec::new();
        };
        match result {
            Ok(escalation) => {
                let upserted = self.inbox.upsert(index, escalation.summary.clone());
                self.settle_unknown(index, &escalation);
                if !self.is_open_task(index, id) {
                    return Vec::new();
                }
                let pretty = serde_json::to_string_pretty(&escalation.context)
                    .unwrap_or_else(|_| escalation.context.to_string());
                let task = self.task.as_mut().expect("checked open");
                task.context_lines = clean_multiline(&pretty)
                    .lines()
                    .map(str::to_string)
                    .collect();
                task.candidate = task
                    .candidate
                    .min(escalation.candidates.len().saturating_sub(1));
                task.load = TaskLoad::Loaded(escalation);
                self.claim_follows_summary(upserted);
            }
            Err(error) => {
                let error = clean(&error).into_owned();
                if let Some(task) = self
                    .task
                    .as_mut()
                    .filter(|t| t.source == index && t.id == id)
                {
                    // A refresh that fails keeps what is on screen.
                    if task.escalation().is_none() {
                        task.load = TaskLoad::Failed(error.clone());
                    }
                }
                self.flash(Level::Error, format!("{source}: cannot read {id}: {error}"));
            }
        }
        Vec::new()
    }

    /// The open task changed at its source: its detail (history, resolution) is read again.
    /// Whether the open task is one of `source`'s and its inbox still holds it open.
    pub(in crate::app) fn open_task_listed(&self, source: usize) -> bool {
        self.task.as_ref().is_some_and(|t| {
            t.source == source && self.inbox.get(source, &t.id).is_some_and(|i| i.is_open())
        })
    }

    /// Reads the open task of `source` again: a whole list no longer holds it (resolved or
    /// aborted by someone else, or its workflow ended), and its detail says what became of it.
    pub(in crate::app) fn reread_open_task(&self, source: usize) -> Vec<Effect> {
        match self.task.as_ref().filter(|t| t.source == source) {
            Some(task) => vec![Effect::FetchEscalation {
                source: self.sources[source].name.clone(),
                id: task.id.clone(),
            }],
            None => Vec::new(),
        }
    }

    pub(in crate::app) fn escalation_changed(
        &mut self,
        source: usize,
        id: &str,
        upserted: Upserted,
    ) -> Vec<Effect> {
        if upserted != Upserted::Newer || !self.is_open_task(source, id) {
            return Vec::new();
        }
        self.claim_follows_summary(upserted);
        vec![Effect::FetchEscalation {
            source: self.sources[source].name.clone(),
            id: id.to_string(),
        }]
    }
}
