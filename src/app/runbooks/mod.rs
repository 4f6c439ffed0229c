//! The Runbooks view: the catalog (shipped and the user's runbooks, broken ones listed with
//! their problems), the ones that apply now first with why, and the run being followed: its
//! current step, check results, the action a key away from the normal confirmation, gates with
//! their countdown, decisions, skips with a reason, notes, and the run's record.

mod follow;
mod shared;
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
use protocol::sanitize::clean;

pub use shared::{ShareAnswer, ShareOrder, SharedRuns, Sharing};

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
    /// Runs shared through the sources, and the one followed there.
    pub shared: SharedRuns,
    /// Local runs in progress other than the one followed, oldest first: resumable from the
    /// list.
    pub parked: Vec<Run>,
}

/// A run in progress, as the list offers it to resume.
pub enum RunInProgress<'a> {
    /// Kept on this console only.
    Local(&'a Run),
    /// Shared through `source`.
    Shared {
        source: &'a str,
        run: &'a protocol::runbook_runs::RunbookRun,
    },
}

/// A runbook as the list shows it: its entry and why it applies now (empty: it does not).
pub struct ListedRunbook<'a> {
    pub entry: &'a Entry,
    pub why: Vec<String>,
}

/// A text asked of the operator: for the current step of a run, or the reason of a decision
/// on a request of the two-person rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunInputKind {
    /// Why the step is skipped (required).
    Skip,
    Note,
    /// Why the run is ended before its last step (required).
    End,
    /// Why `kind` is taken on request `approval` of `source` (required: the audit log's).
    Decide {
        kind: protocol::approvals::DecisionKind,
        source: String,
        approval: String,
    },
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
        let runs = lines.map(|lines| Run::all(&lines, |id| catalog.find(id)));
        let mut runs = runs.unwrap_or_else(|problem| vec![Err(problem)]);
        // The run touched last is the one followed; the others in progress wait in the list.
        match runs.pop() {
            Some(Ok(run)) => self.runbooks.run = Some(run),
            Some(Err(problem)) => {
                self.log(None, Level::Warning, problem.clone());
                self.runbooks.record_problem = Some(problem);
            }
            None => {}
        }
        for run in runs {
            match run {
                Ok(run) if run.current.is_some() => self.runbooks.parked.push(run),
                Ok(_) => {}
                Err(problem) => self.log(None, Level::Warning, problem),
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

    /// The runs in progress the list offers to resume, above the runbooks: this console's
    /// (the one followed, then the others) and the ones the sources share.
    pub fn runs_in_progress(&self) -> Vec<RunInProgress<'_>> {
        let runbooks = &self.runbooks;
        let followed_local = (runbooks.shared.following.is_none())
            .then_some(runbooks.run.as_ref())
            .flatten();
        let mut runs: Vec<RunInProgress> = (followed_local.into_iter())
            .chain(runbooks.parked.iter().rev())
            .filter(|run| run.current.is_some())
            .map(RunInProgress::Local)
            .collect();
        let shares = |source: &str| {
            (runbooks.shared.sharing.iter())
                .any(|(s, sharing)| s == source && *sharing == Sharing::Shares)
        };
        runs.extend(
            (runbooks.shared.runs.iter())
                .filter(|(source, run)| {
                    run.state == protocol::runbook_runs::RunState::Active && shares(source)
                })
                .map(|(source, run)| RunInProgress::Shared { source, run }),
        );
        runs
    }

    /// Enter on a run in progress: follow it; the local run followed until now waits in the
    /// list.
    fn resume(&mut self, row: usize) -> Vec<Effect> {
        enum Chosen {
            Local(String),
            Shared(String, Box<protocol::runbook_runs::RunbookRun>),
        }
        let chosen = match self.runs_in_progress().get(row) {
            Some(RunInProgress::Local(run)) => Chosen::Local(run.id.clone()),
            Some(RunInProgress::Shared { source, run }) => {
                Chosen::Shared(source.to_string(), Box::new((*run).clone()))
            }
            None => return Vec::new(),
        };
        self.runbooks.run_open = true;
        match chosen {
            Chosen::Local(id) if self.runbooks.run.as_ref().is_some_and(|r| r.id == id) => {
                Vec::new()
            }
            Chosen::Local(id) => {
                self.park_followed();
                let runbooks = &mut self.runbooks;
                if let Some(index) = runbooks.parked.iter().position(|r| r.id == id) {
                    runbooks.run = Some(runbooks.parked.remove(index));
                    runbooks.pending_command = None;
                }
                Vec::new()
            }
            Chosen::Shared(source, run) => {
                let following = self.runbooks.shared.following.as_ref();
                if !following.is_some_and(|f| f.source == source && f.run.id == run.id) {
                    self.park_followed();
                    self.follow_shared(&source, *run);
                }
                self.sync_followed()
            }
        }
    }

    /// The local run followed (if one is going) waits in the list while another is followed.
    pub(super) fn park_followed(&mut self) {
        let runbooks = &mut self.runbooks;
        if runbooks.shared.following.is_some() {
            runbooks.shared.following = None;
            runbooks.run = None;
            return;
        }
        if let Some(run) = runbooks.run.take_if(|run| run.current.is_some()) {
            runbooks.parked.push(run);
        }
    }

    /// Enter in the list: resume the run in progress selected, or follow the selected runbook
    /// (joining its shared run or resuming its local one if it has one going).
    pub(super) fn open_runbook(&mut self) -> Vec<Effect> {
        let runs = self.runs_in_progress().len();
        if self.runbooks.selected < runs {
            return self.resume(self.runbooks.selected);
        }
        let row = self.runbooks.selected - runs;
        let chosen = self.runbook_list().get(row).map(|l| {
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
        if resuming {
            self.runbooks.run_open = true;
            return self.sync_followed();
        }
        let parked = self
            .runs_in_progress()
            .iter()
            .position(|r| matches!(r, RunInProgress::Local(run) if run.runbook == id));
        if let Some(row) = parked {
            return self.resume(row);
        }
        if let Some((source, run)) = self.open_shared_run_of(&id) {
            self.flash(
                Level::Info,
                format!(
                    "joined {} of {id}, started by {}: one run, not a second",
                    clean(&run.id),
                    clean(&run.started_by)
                ),
            );
            self.park_followed();
            self.follow_shared(&source, run);
            return self.sync_followed();
        }
        self.runbooks.run_open = true;
        self.start_run(&id)
    }

    /// A run of runbook `id` in progress on the source that shares runs, to join.
    fn open_shared_run_of(&self, id: &str) -> Option<(String, protocol::runbook_runs::RunbookRun)> {
        let source = self.sharing_source()?;
        let version = self.runbooks.catalog.as_ref()?.find(id)?.front.version;
        (self.runbooks.shared.runs.iter())
            .find(|(s, run)| {
                s == source
                    && run.runbook_id == id
                    && run.runbook_version == version
                    && run.state == protocol::runbook_runs::RunState::Active
            })
            .map(|(s, run)| (s.clone(), run.clone()))
    }

    /// The moving parts of the run: the view's list keys and the run's keys are in `follow`.
    pub(super) fn move_runbook_selection(&mut self, delta: isize) {
        if self.runbooks.run_open {
            return;
        }
        let len = self.runbooks.matches.len() + self.runs_in_progress().len();
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
