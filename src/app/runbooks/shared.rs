//! Runs shared through a source (protocol v1's runbook runs), so that two consoles follow
//! the same run: which source shares them (a 404 keeps runs local, and the view says so), the
//! runs it lists, and the followed run. Each outcome is recorded locally at once (the view
//! moves), journaled with its idempotency key, and sent to the source one at a time on the
//! run's revision; while the source is down it waits and is sent once when it is back, under
//! the same key. A 409 shows the run as it is now and what became of the outcome.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::app::{App, Effect, Level};
use crate::domain::fleet::Connection;
use crate::runbook::run::{Outcome, Run, RunLine, SharedMark};
use protocol::runbook_runs::{RunList, RunState, RunbookRun, StepOutcome};
use protocol::sanitize::clean;

/// How long an outcome the source did not answer waits before it is sent again (once the
/// source is live).
const RESEND_AFTER: Duration = Duration::from_secs(2);

/// Whether a protocol v1 source shares runbook runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Sharing {
    /// Not asked yet, or it did not answer.
    Unknown,
    Shares,
    /// It has no runbook-run endpoints: why runs stay local.
    Local(String),
}

/// A request about a shared run, carried out by the runner.
#[derive(Clone, Debug, PartialEq)]
pub enum ShareOrder {
    List {
        source: String,
    },
    Start {
        source: String,
        runbook: String,
        version: u32,
        key: String,
    },
    Record {
        source: String,
        run: String,
        revision: u64,
        step: u32,
        outcome: StepOutcome,
        key: String,
    },
    Presence {
        source: String,
        run: String,
        step: u32,
    },
    End {
        source: String,
        run: String,
        revision: u64,
        state: RunState,
        reason: String,
        key: String,
    },
}

impl ShareOrder {
    pub fn source(&self) -> &str {
        match self {
            ShareOrder::List { source }
            | ShareOrder::Start { source, .. }
            | ShareOrder::Record { source, .. }
            | ShareOrder::Presence { source, .. }
            | ShareOrder::End { source, .. } => source,
        }
    }

    fn key(&self) -> Option<&str> {
        match self {
            ShareOrder::Record { key, .. } | ShareOrder::End { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// How the source answered a [`ShareOrder`].
#[derive(Clone, Debug, PartialEq)]
pub enum ShareAnswer {
    Listed(RunList),
    Run(Box<RunbookRun>),
    /// No runbook-run endpoints there (404): runs stay local.
    NoEndpoints(String),
    /// Another console changed the run first (409): the run as it is now.
    Conflict {
        detail: String,
        current: Option<Box<RunbookRun>>,
    },
    /// Refused for good (400, 403, 422): why.
    Refused(String),
    /// No answer (down, timeout, dropped): its fate is unknown; sent again under its key.
    NoAnswer(String),
}

/// The runs the sources share and the one this console follows.
#[derive(Default)]
pub struct SharedRuns {
    /// Per protocol v1 source, in the order the sources are configured.
    pub sharing: Vec<(String, Sharing)>,
    /// Every run a source listed or told of since, newest first, with its source.
    pub runs: Vec<(String, RunbookRun)>,
    pub following: Option<Following>,
    /// The runbook whose shared run is being started (the source has not answered yet).
    pub starting: Option<String>,
    /// Makes this console's idempotency keys its own (set at the first key).
    key_seed: Option<String>,
    keys_made: u64,
}

/// A shared run this console follows.
pub struct Following {
    pub source: String,
    /// The run as the source last said.
    pub run: RunbookRun,
    /// Outcomes recorded here and not yet by the source, oldest first.
    pub pending: VecDeque<Pending>,
    /// Outcomes the source did not take, and why: shown until the run is left.
    pub refused: Vec<String>,
    /// The step this console last said it is on.
    told_step: Option<u32>,
}

/// An outcome (or the end) on its way to the source.
pub struct Pending {
    /// The line as recorded here, with its key.
    pub line: RunLine,
    /// The revision it was last sent on: the run's record that revision made is it, if the
    /// source took it (an answer lost on the way is found there).
    sent_on: Option<u64>,
    in_flight: bool,
    /// Why the source has not recorded it yet (no answer): the view says it is pending.
    pub problem: Option<String>,
    retry_at: Option<Instant>,
}

impl Pending {
    pub fn key(&self) -> &str {
        self.line
            .shared
            .as_ref()
            .map_or("", |mark| mark.key.as_str())
    }

    fn order(&self, source: &str, run: &RunbookRun) -> Option<ShareOrder> {
        let (source, key) = (source.to_string(), self.key().to_string());
        let (run, revision) = (run.id.clone(), run.revision);
        match &self.line.outcome {
            Outcome::Ended { state, reason } => Some(ShareOrder::End {
                source,
                run,
                revision,
                state: *state,
                reason: reason.clone(),
                key,
            }),
            outcome => Some(ShareOrder::Record {
                source,
                run,
                revision,
                step: self.line.step as u32,
                outcome: outcome.to_wire()?,
                key,
            }),
        }
    }
}

impl App {
    /// The source runs are shared through: the first that shares them.
    pub fn sharing_source(&self) -> Option<&str> {
        (self.runbooks.shared.sharing.iter())
            .find(|(_, sharing)| *sharing == Sharing::Shares)
            .map(|(source, _)| source.as_str())
    }

    /// Why runs are local, when no source shares them and one said why.
    pub fn local_reason(&self) -> Option<&str> {
        if self.sharing_source().is_some() {
            return None;
        }
        self.runbooks
            .shared
            .sharing
            .iter()
            .find_map(|(_, s)| match s {
                Sharing::Local(why) => Some(why.as_str()),
                _ => None,
            })
    }

    fn fresh_key(&mut self) -> String {
        let shared = &mut self.runbooks.shared;
        let wall = self.wall;
        let seed = shared
            .key_seed
            .get_or_insert_with(|| format!("{:x}", wall.timestamp_nanos_opt().unwrap_or_default()));
        shared.keys_made += 1;
        format!("rb-{seed}-{}", shared.keys_made)
    }

    /// A protocol v1 source answered with a snapshot: ask it for its runs (again after a
    /// reconnection: the followed run may have moved while it was away).
    pub(in crate::app) fn ask_for_shared_runs(&mut self, source: &str) -> Vec<Effect> {
        let sharing = &mut self.runbooks.shared.sharing;
        match sharing.iter().find(|(name, _)| name == source) {
            Some((_, Sharing::Local(_))) => return Vec::new(),
            Some(_) => {}
            None => sharing.push((source.to_string(), Sharing::Unknown)),
        }
        vec![Effect::ShareRun(ShareOrder::List {
            source: source.to_string(),
        })]
    }

    /// A `runbook.run` event: a run started, changed or ended.
    pub(in crate::app) fn on_shared_run(&mut self, source: &str, run: RunbookRun) -> Vec<Effect> {
        self.take_shared_run(source, run);
        self.sync_followed()
    }

    /// Keeps `run` in the list, and as the followed run if it is that one and not older.
    fn take_shared_run(&mut self, source: &str, run: RunbookRun) {
        let shared = &mut self.runbooks.shared;
        if let Some(following) = shared.following.as_mut()
            && following.source == source
            && following.run.id == run.id
            && run.revision >= following.run.revision
        {
            following.run = run.clone();
        }
        let known = (shared.runs.iter_mut()).find(|(s, r)| s == source && r.id == run.id);
        match known {
            Some((_, known)) if run.revision >= known.revision => *known = run,
            Some(_) => {}
            None => shared.runs.insert(0, (source.to_string(), run)),
        }
    }

    pub(in crate::app) fn shared_answer(
        &mut self,
        order: ShareOrder,
        answer: ShareAnswer,
    ) -> Vec<Effect> {
        self.dirty = true;
        let source = order.source().to_string();
        match (&order, answer) {
            (ShareOrder::List { .. }, ShareAnswer::Listed(list)) => {
                self.set_sharing(&source, Sharing::Shares);
                let shared = &mut self.runbooks.shared;
                shared.runs.retain(|(s, _)| *s != source);
                for run in list.runs.into_iter().rev() {
                    self.take_shared_run(&source, run);
                }
            }
            (_, ShareAnswer::NoEndpoints(why)) => {
                self.set_sharing(&source, Sharing::Local(why));
                if let ShareOrder::Start { runbook, .. } = &order {
                    self.runbooks.shared.starting = None;
                    return self.start_local_run(&runbook.clone());
                }
            }
            (ShareOrder::List { .. }, ShareAnswer::NoAnswer(why) | ShareAnswer::Refused(why)) => {
                tracing::warn!(%source, %why, "runbook runs not listed");
            }
            (ShareOrder::Start { .. }, ShareAnswer::Run(run)) => {
                self.runbooks.shared.starting = None;
                self.follow_shared(&source, *run);
            }
            (ShareOrder::Start { runbook, .. }, failure) => {
                self.runbooks.shared.starting = None;
                let why = failure_text(&failure);
                self.flash(
                    Level::Error,
                    format!("no shared run of {runbook} started: {why} (enter to try again)"),
                );
            }
            (ShareOrder::Presence { .. }, ShareAnswer::Run(run)) => {
                self.take_shared_run(&source, *run);
            }
            (ShareOrder::Presence { .. }, failure) => {
                tracing::warn!(%source, why = %failure_text(&failure), "presence not told");
            }
            (ShareOrder::Record { .. } | ShareOrder::End { .. }, answer) => {
                let key = order.key().unwrap_or_default().to_string();
                self.recorded_answer(&source, &key, answer);
            }
            (ShareOrder::List { .. }, _) => {}
        }
        self.sync_followed()
    }

    fn set_sharing(&mut self, source: &str, to: Sharing) {
        let sharing = &mut self.runbooks.shared.sharing;
        match sharing.iter_mut().find(|(name, _)| name == source) {
            Some((_, sharing)) => *sharing = to,
            None => sharing.push((source.to_string(), to)),
        }
    }

    /// The source's answer to the outcome sent under `key`.
    fn recorded_answer(&mut self, source: &str, key: &str, answer: ShareAnswer) {
        let now = self.now;
        let Some(following) = self.runbooks.shared.following.as_mut() else {
            return;
        };
        let Some(index) = following.pending.iter().position(|p| p.key() == key) else {
            // Already seen recorded in the run (its event came first).
            if let ShareAnswer::Run(run) = answer {
                self.take_shared_run(source, *run);
            }
            return;
        };
        match answer {
            ShareAnswer::Run(run) => {
                following.pending.remove(index);
                self.take_shared_run(source, *run);
            }
            ShareAnswer::NoAnswer(why) => {
                let pending = &mut following.pending[index];
                pending.in_flight = false;
                pending.problem = Some(clean(&why).into_owned());
                pending.retry_at = Some(now + RESEND_AFTER);
            }
            ShareAnswer::Conflict { detail, current } => {
                let gate_told = (current.as_ref())
                    .and_then(|run| gate_recorded(run, &following.pending[index]));
                // A gate every console watches: the first to see it met records it, and what
                // this console recorded after it still stands on the run.
                let refused: Vec<Pending> = match gate_told {
                    Some(_) => following.pending.remove(index).into_iter().collect(),
                    // What follows a refused outcome was recorded on a run that did not happen.
                    None => following.pending.drain(index..).collect(),
                };
                let detail = clean(&detail).into_owned();
                for pending in refused {
                    match &gate_told {
                        Some(by) => self.log(
                            None,
                            Level::Info,
                            format!(
                                "step {}'s gate was recorded by {} first",
                                pending.line.step,
                                clean(by)
                            ),
                        ),
                        None => self.refuse(&pending, &detail),
                    }
                }
                if let Some(current) = current {
                    self.take_shared_run(source, *current);
                }
            }
            ShareAnswer::Refused(why) | ShareAnswer::NoEndpoints(why) => {
                if let Some(pending) = following.pending.remove(index) {
                    self.refuse(&pending, &clean(&why));
                }
            }
            ShareAnswer::Listed(_) => {}
        }
    }

    /// An outcome the source did not take: told in the run's view and the timeline.
    fn refuse(&mut self, pending: &Pending, why: &str) {
        let line = &pending.line;
        let text = format!(
            "not recorded by the source: your {} at step {}: {why}",
            line.outcome.describe(),
            line.step
        );
        self.log(None, Level::Warning, text.clone());
        if let Some(following) = self.runbooks.shared.following.as_mut() {
            following.refused.push(text);
        }
    }

    /// Follows `run` of `source`: its record, who is on it, its live changes.
    pub(in crate::app) fn follow_shared(&mut self, source: &str, run: RunbookRun) {
        self.runbooks.pending_command = None;
        self.runbooks.shared.following = Some(Following {
            source: source.to_string(),
            run: run.clone(),
            pending: VecDeque::new(),
            refused: Vec::new(),
            told_step: None,
        });
        self.take_shared_run(source, run);
        self.runbooks.run_open = true;
    }

    /// Starts a run of `runbook` on the source that shares runs.
    pub(in crate::app) fn start_shared_run(&mut self, source: &str, id: &str) -> Vec<Effect> {
        let Some(version) = (self.runbooks.catalog.as_ref())
            .and_then(|c| c.find(id))
            .map(|r| r.front.version)
        else {
            return Vec::new();
        };
        self.runbooks.shared.starting = Some(id.to_string());
        let key = self.fresh_key();
        vec![Effect::ShareRun(ShareOrder::Start {
            source: source.to_string(),
            runbook: id.to_string(),
            version,
            key,
        })]
    }

    /// An outcome recorded here on the followed shared run: journaled with its key, sent
    /// when the ones before it are recorded.
    pub(in crate::app) fn share_line(&mut self, mut line: RunLine) -> Vec<Effect> {
        let Some(source) = (self.runbooks.shared.following.as_ref()).map(|f| f.source.clone())
        else {
            return vec![Effect::RecordRun(line)];
        };
        let key = self.fresh_key();
        line.shared = Some(SharedMark { source, key });
        if let Some(following) = self.runbooks.shared.following.as_mut() {
            following.pending.push_back(Pending {
                line: line.clone(),
                sent_on: None,
                in_flight: false,
                problem: None,
                retry_at: None,
            });
        }
        let mut effects = vec![Effect::RecordRun(line)];
        effects.extend(self.sync_followed());
        effects
    }

    /// On each tick: an outcome the source did not answer is sent again once it is live.
    pub(in crate::app) fn resend_shared(&mut self) -> Vec<Effect> {
        let waiting = (self.runbooks.shared.following.as_ref())
            .and_then(|f| f.pending.front())
            .is_some_and(|p| !p.in_flight && p.retry_at.is_some_and(|at| self.now >= at));
        if waiting {
            self.sync_followed()
        } else {
            Vec::new()
        }
    }

    /// After any change of the followed run: drops what the source has recorded, rebuilds
    /// the run as this console shows it, sends the next outcome, and says which step this
    /// console is on.
    pub(in crate::app) fn sync_followed(&mut self) -> Vec<Effect> {
        let me = self.identity().map(|who| who.name.clone());
        let now = self.now;
        let live_sources: Vec<String> = (self.sources.iter())
            .filter(|s| matches!(s.connection, Connection::Live))
            .map(|s| s.name.clone())
            .collect();
        let Some(following) = self.runbooks.shared.following.as_mut() else {
            return Vec::new();
        };
        confirm_recorded(following, me.as_deref());
        let Some(runbook) = (self.runbooks.catalog.as_ref())
            .and_then(|c| c.find(&following.run.runbook_id))
            .filter(|r| r.front.version == following.run.runbook_version)
        else {
            return Vec::new();
        };
        let mut run = Run::from_shared(runbook, &following.run);
        for pending in &following.pending {
            run.apply(runbook, pending.line.clone());
        }
        let current = run.current.map(|i| i as u32 + 1);
        self.runbooks.run = Some(run);
        let mut effects = Vec::new();
        let source = following.source.clone();
        let live = live_sources.contains(&source);
        if let Some(next) = following.pending.front_mut()
            && !next.in_flight
            && (next.retry_at.is_none() || (live && next.retry_at.is_some_and(|at| now >= at)))
            && let Some(order) = next.order(&source, &following.run)
        {
            next.in_flight = true;
            next.sent_on = Some(following.run.revision);
            next.retry_at = None;
            effects.push(Effect::ShareRun(order));
        }
        let told = following.told_step;
        if following.pending.is_empty()
            && following.run.state == RunState::Active
            && let Some(step) = current.filter(|step| told != Some(*step))
        {
            following.told_step = Some(step);
            effects.push(Effect::ShareRun(ShareOrder::Presence {
                source,
                run: following.run.id.clone(),
                step,
            }));
        }
        effects
    }
}

/// Drops the pending outcomes the run shows recorded by this console: the one sent on
/// revision `r` is the run's step record `r` (an answer lost on the way is found here).
fn confirm_recorded(following: &mut Following, me: Option<&str>) {
    let run = &following.run;
    following.pending.retain(|pending| {
        let Some(sent_on) = pending.sent_on else {
            return true;
        };
        if let Outcome::Ended { .. } = pending.line.outcome {
            return run.state == RunState::Active;
        }
        // A run's revision starts at 1 with no records: revision r makes record r.
        let made = (sent_on as usize)
            .checked_sub(1)
            .and_then(|i| run.steps.get(i));
        !made.is_some_and(|record| {
            Some(record.by.as_str()) == me
                && record.step as usize == pending.line.step
                && Some(&record.outcome) == pending.line.outcome.to_wire().as_ref()
        })
    });
}

/// Who recorded the gate of `pending`'s step in `run`, when `pending` is that gate's outcome.
fn gate_recorded(run: &RunbookRun, pending: &Pending) -> Option<String> {
    if !matches!(
        pending.line.outcome,
        Outcome::GateMet { .. } | Outcome::GateTimedOut { .. }
    ) {
        return None;
    }
    (run.steps.iter().rev())
        .find(|record| {
            record.step as usize == pending.line.step
                && matches!(
                    record.outcome,
                    StepOutcome::GateMet { .. } | StepOutcome::GateTimedOut { .. }
                )
        })
        .map(|record| record.by.clone())
}

/// What a failure says, for the operator.
fn failure_text(answer: &ShareAnswer) -> String {
    let text = match answer {
        ShareAnswer::NoEndpoints(why) | ShareAnswer::Refused(why) | ShareAnswer::NoAnswer(why) => {
            why.clone()
        }
        ShareAnswer::Conflict { detail, .. } => detail.clone(),
        ShareAnswer::Listed(_) | ShareAnswer::Run(_) => String::new(),
    };
    clean(&text).into_owned()
}
