//! The Runbooks view: the catalog (shipped and the user's runbooks, broken ones listed with
//! their problems), the ones that apply now first with why, and the run being followed: its
//! current step, check results, the action a key away from the normal confirmation, gates with
//! their countdown, decisions, skips with a reason, notes, and the run's record.

mod follow;
#[cfg(test)]
mod tests;

use nucleo::pattern::{CaseMatching, Normalization, Pattern};
use ratatui_textarea::TextArea;

use super::{App, Effect, Level};
use crate::runbook::catalog::{Catalog, Entry};
use crate::runbook::eval::{Truth, evaluate};
use crate::runbook::file::Runbook;
use crate::runbook::run::{Run, RunLine};
use protocol::Health;

/// What the view holds: the catalog once read, the filter, and the run.
#[derive(Default)]
pub struct Runbooks {
    /// `None` until the runner has read the runbook files.
    pub catalog: Option<Catalog>,
    pub query: String,
    /// Indices into the catalog's entries that match the query, catalog order.
    pub matches: Vec<usize>,
    /// Row of the list (applies-now first), see [`App::runbook_list`].
    pub selected: usize,
    /// The run being followed, or the last one (ended).
    pub run: Option<Run>,
    /// The run's steps are on screen (not the list).
    pub run_open: bool,
    /// The command of the current step sent from its confirmation: its local id.
    pub(super) pending_command: Option<u64>,
    /// Why the last recorded run could not be resumed, or the record could not be read.
    pub record_problem: Option<String>,
}

/// A runbook as the list shows it: its entry and why it applies now (empty: it does not).
pub struct ListedRunbook<'a> {
    pub entry: &'a Entry,
    pub why: Vec<String>,
}

/// A text asked of the operator for the current step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunInputKind {
    /// Why the step is skipped (required).
    Skip,
    Note,
}

pub struct RunInput {
    pub kind: RunInputKind,
    pub input: TextArea<'static>,
    pub problem: Option<String>,
}

impl Runbooks {
    /// The runbook the run follows.
    pub fn run_runbook(&self) -> Option<&Runbook> {
        let run = self.run.as_ref()?;
        self.catalog.as_ref()?.find(&run.runbook)
    }
}

impl App {
    /// The catalog and the recorded run lines, read by the runner at startup.
    pub(super) fn runbooks_loaded(
        &mut self,
        catalog: Catalog,
        lines: Result<Vec<RunLine>, String>,
    ) {
        for problem in catalog.problems() {
            self.log(None, Level::Warning, format!("runbook {problem}"));
        }
        let resumed = lines.and_then(|lines| Run::latest(&lines, |id| catalog.find(id)));
        match resumed {
            Ok(run) => self.runbooks.run = run,
            Err(problem) => {
                self.log(None, Level::Warning, problem.clone());
                self.runbooks.record_problem = Some(problem);
            }
        }
        self.runbooks.catalog = Some(catalog);
        self.rematch_runbooks();
    }

    pub(super) fn set_runbook_query(&mut self, query: &str) {
        self.runbooks.query = query.to_string();
        self.runbooks.selected = 0;
        self.rematch_runbooks();
    }

    fn rematch_runbooks(&mut self) {
        let Some(catalog) = &self.runbooks.catalog else {
            return;
        };
        let pattern = Pattern::parse(
            &self.runbooks.query,
            CaseMatching::Smart,
            Normalization::Smart,
        );
        let mut buf = Vec::new();
        self.runbooks.matches = (catalog.entries.iter().enumerate())
            .filter(|(_, entry)| {
                let text = searchable(entry);
                pattern
                    .score(nucleo::Utf32Str::new(&text, &mut buf), &mut self.matcher)
                    .is_some()
            })
            .map(|(index, _)| index)
            .collect();
    }

    /// The runbooks matching the filter: the ones that apply now first, each with why, then
    /// the rest, each group in catalog order.
    pub fn runbook_list(&self) -> Vec<ListedRunbook<'_>> {
        let Some(catalog) = &self.runbooks.catalog else {
            return Vec::new();
        };
        let mut listed: Vec<ListedRunbook> = (self.runbooks.matches.iter())
            .map(|&index| {
                let entry = &catalog.entries[index];
                let why = entry
                    .parsed
                    .as_ref()
                    .map(|runbook| self.why_it_applies(runbook))
                    .unwrap_or_default();
                ListedRunbook { entry, why }
            })
            .collect();
        listed.sort_by_key(|listed| listed.why.is_empty());
        listed
    }

    /// Why `runbook` applies now: its condition holds, the lab plays one of its scenarios,
    /// a service, region or provider it names is in trouble.
    fn why_it_applies(&self, runbook: &Runbook) -> Vec<String> {
        let fleet = self.fleet_view();
        let mut why = Vec::new();
        if let Some(condition) = &runbook.applies {
            let evaluation = evaluate(condition, &fleet);
            if evaluation.truth == Truth::True {
                let holding: Vec<String> = (evaluation.readings.into_iter())
                    .filter(|r| r.truth == Truth::True)
                    .map(|r| r.text)
                    .collect();
                why.push(holding.join(" and "));
            }
        }
        let when = &runbook.front.applies_when;
        let playing = fleet
            .snapshots
            .iter()
            .find_map(|s| s.lab.as_ref()?.scenario.clone());
        if let Some(scenario) = playing.filter(|s| when.scenarios.contains(s)) {
            why.push(format!("the lab plays {scenario}"));
        }
        for snapshot in &fleet.snapshots {
            let healths = (snapshot.services.iter())
                .filter(|s| when.services.contains(&s.id))
                .map(|s| (&s.id, s.health))
                .chain(
                    (snapshot.regions.iter())
                        .filter(|r| when.regions.contains(&r.id))
                        .map(|r| (&r.id, r.health)),
                )
                .chain(
                    (snapshot.providers.iter())
                        .filter(|p| when.providers.contains(&p.id))
                        .map(|p| (&p.id, p.health)),
                );
            for (id, health) in healths {
                if matches!(health, Health::Degraded | Health::Down) {
                    why.push(format!("{id} is {}", health.word()));
                }
            }
        }
        why
    }

    /// Enter in the list: follow the selected runbook (resuming its run if it has one going).
    pub(super) fn open_runbook(&mut self) -> Vec<Effect> {
        let chosen = self.runbook_list().get(self.runbooks.selected).map(|l| {
            let problems: Vec<String> = l
                .entry
                .parsed
                .as_ref()
                .err()
                .map_or(Vec::new(), |p| p.iter().map(ToString::to_string).collect());
            (l.entry.id().map(str::to_string), problems)
        });
        let Some((id, problems)) = chosen else {
            return Vec::new();
        };
        let Some(id) = id else {
            self.flash(
                Level::Warning,
                format!("this runbook cannot be followed: {}", problems.join("; ")),
            );
            return Vec::new();
        };
        let resuming = self
            .runbooks
            .run
            .as_ref()
            .is_some_and(|run| run.runbook == id && run.current.is_some());
        self.runbooks.run_open = true;
        if resuming {
            return Vec::new();
        }
        self.start_run(&id)
    }

    /// The moving parts of the run: the view's list keys and the run's keys are in `follow`.
    pub(super) fn move_runbook_selection(&mut self, delta: isize) {
        if self.runbooks.run_open {
            return;
        }
        let len = self.runbooks.matches.len();
        let row = &mut self.runbooks.selected;
        *row = row.saturating_add_signed(delta).min(len.saturating_sub(1));
    }
}

/// What the filter matches a runbook on: id, title, owner (or where a broken one lives).
fn searchable(entry: &Entry) -> String {
    match &entry.parsed {
        Ok(runbook) => format!(
            "{} {} {}",
            runbook.front.id, runbook.front.title, runbook.front.owner
        ),
        Err(_) => entry.origin.name(),
    }
}
