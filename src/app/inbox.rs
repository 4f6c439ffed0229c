//! Escalated tasks as the console knows them: every summary from every source, the newest
//! revision of each kept (events may repeat after a stream resumes), the open ones in SLA
//! order, narrowed by a fuzzy filter.
//!
//! Built for a queue of 100,000 tasks: the SLA order and the P1 deadlines are kept
//! incrementally (a binary search per change), the filter matches on background threads
//! (see `inbox_filter`) while the console keeps drawing, and views format only the rows on
//! screen.

use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::inbox_filter::{Candidate, Haystack, Job, Polled, Wake, narrows};
use super::inbox_query::{Query, Scratch};
use super::inbox_row::{CompactSummary, Names};
use super::shared_vec::SharedVec;
use crate::domain::steps::StepTally;
use crate::runbook::eval::OpenEscalations;
use protocol::escalations::{EscalationSummary, Priority};

/// Under this much time left, an SLA countdown turns red and gets its `!`.
pub const SLA_WARNING: TimeDelta = TimeDelta::minutes(5);

/// One task of the inbox, open or not (a closed one stays for its detail view).
#[derive(Clone)]
pub struct InboxItem {
    /// Index of its source in [`App::sources`](super::App::sources).
    pub source: usize,
    task: CompactSummary,
    /// The load of its source that last confirmed it (see [`Inbox::begin_load`]).
    seen: u32,
    /// In the inbox: open, and not dropped by a reload that no longer lists it.
    listed: bool,
}

impl InboxItem {
    pub fn is_open(&self) -> bool {
        self.listed && !self.task.state.is_closed()
    }

    pub fn id(&self) -> &str {
        self.task.id()
    }

    /// The task as its source sent it last (built on demand: the inbox keeps it compact).
    pub fn summary(&self) -> EscalationSummary {
        self.task.expand()
    }
}

impl Haystack for InboxItem {
    fn filter_text(&self) -> &str {
        let (text, end) = self.task.filter_text();
        &text[..end as usize]
    }
}

impl Candidate for OrderKey {
    fn slot(&self) -> usize {
        self.slot as usize
    }
}

/// The position of an open task: soonest deadline first, then most urgent, then arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrderKey {
    deadline_ms: i64,
    priority: Priority,
    pub slot: u32,
}

/// What an upsert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    /// A task not known before.
    New,
    /// A newer revision of a known task.
    Newer,
    /// A revision already known (or older): nothing changed.
    Known,
}

/// Progress of the list requests of one source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceLoad {
    /// Counts the loads started; items seen in the current one carry it.
    generation: u32,
    pub loading: bool,
    /// A load finished once: later ones are reloads after a reconnect.
    pub loaded: bool,
    /// Why the last load stopped short (sanitized).
    pub error: Option<String>,
    /// Open escalations the source's list holds, as it said while loading.
    pub expected: Option<u64>,
    /// Escalations received in the current load.
    pub received: u64,
}

/// The filter: nucleo's query syntax over "id service reason input" of every task.
#[derive(Default)]
struct Filter {
    query: String,
    /// `query` parsed; `None` while it is empty.
    parsed: Option<Arc<Query>>,
    /// Open and matched, in SLA order; while `job` runs, the previous query's rows when the
    /// query narrowed them, or nothing. Shared with the job that narrows them.
    rows: Arc<Vec<OrderKey>>,
    /// The match of `query` running in the background.
    job: Option<Job<OrderKey>>,
    /// Slots changed while `job` runs: matched again when its result arrives.
    touched: Vec<u32>,
    /// How many rows the latest match looked at (a narrowing query, only the previous ones).
    checked: usize,
    /// For matching a changed task on this thread.
    scratch: Scratch,
    /// Tells the console that a match is done (see [`Inbox::wake_on_matches`]).
    wake: Option<Wake>,
}

impl Filter {
    /// Matches one task's text on this thread (a task that arrives or changes while
    /// filtering); false without a query.
    fn admits(&mut self, slot: u32, item: &InboxItem) -> bool {
        let Some(parsed) = &self.parsed else {
            return false;
        };
        if self.job.is_some() {
            self.touched.push(slot);
        }
        parsed.matches(item.filter_text(), &mut self.scratch)
    }
}

#[derive(Default)]
pub struct Inbox {
    /// Shared with the filter's matching threads.
    items: SharedVec<InboxItem>,
    /// Slot by a hash of source and id (the id itself is in the item).
    by_id: HashMap<u64, u32>,
    /// The rare task whose hash another one had first.
    by_colliding_id: HashMap<(usize, String), u32>,
    names: Names,
    /// Open tasks in SLA order, shared with the filter's matching threads (a change while
    /// they read it copies it).
    order: Arc<Vec<OrderKey>>,
    /// By source: its open P1 tasks by deadline, for the near-breach count of every frame.
    p1_order: Vec<Vec<OrderKey>>,
    /// By source: how many open tasks of each priority (P1 first), for the runbooks'
    /// `open_escalations` of every tick.
    open_counts: Vec<OpenEscalations>,
    /// By workflow step (see [`write_step_key`]): its open tasks of each source in SLA order,
    /// for the Cost view's counts of every frame.
    steps: HashMap<Vec<u8>, OpenAtStep>,
    step_key: Vec<u8>,
    filter: Filter,
    /// The selected task, by slot, so that it stays selected while rows come and go.
    selected: Option<u32>,
    loads: Vec<SourceLoad>,
}

/// The open tasks that stop at one workflow step.
struct OpenAtStep {
    workflow_type: String,
    step: String,
    service: String,
    /// By source, in SLA order.
    by_source: Vec<Vec<OrderKey>>,
}

impl OpenAtStep {
    fn insert(&mut self, source: usize, key: OrderKey) {
        if self.by_source.len() <= source {
            self.by_source.resize(source + 1, Vec::new());
        }
        insert_sorted(&mut self.by_source[source], key);
    }
}

/// Writes a task's workflow step as one key into `key`: its workflow type, step and service,
/// the first two length-prefixed so that no two steps share a key. A buffer kept for it, and
/// no formatting: a load of 100k tasks allocates a key only for a step not known yet.
fn write_step_key(key: &mut Vec<u8>, task: &CompactSummary) {
    key.clear();
    for part in [task.workflow_type(), task.step()] {
        key.extend_from_slice(&(part.len() as u64).to_le_bytes());
        key.extend_from_slice(part.as_bytes());
    }
    key.extend_from_slice(task.service().as_bytes());
}

/// Whether two revisions of a task stop at different workflow steps.
fn other_step(a: &CompactSummary, b: &CompactSummary) -> bool {
    (a.workflow_type(), a.step(), a.service()) != (b.workflow_type(), b.step(), b.service())
}

fn key_of(slot: u32, summary: &CompactSummary) -> OrderKey {
    OrderKey {
        deadline_ms: summary.sla_deadline.timestamp_millis(),
        priority: summary.priority,
        slot,
    }
}

/// What the filter searches in a task: its id, service, reason and input, on one line.
pub fn filter_text(summary: &EscalationSummary) -> String {
    format!(
        "{} {} {} {} {}",
        summary.id,
        summary.service,
        summary.reason.word(),
        summary.reason_text,
        summary.input_preview
    )
}

fn id_hash(source: usize, id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (source, id).hash(&mut hasher);
    hasher.finish()
}

fn insert_sorted(keys: &mut Vec<OrderKey>, key: OrderKey) {
    if let Err(at) = keys.binary_search(&key) {
        keys.insert(at, key);
    }
}

fn remove_sorted(keys: &mut Vec<OrderKey>, key: OrderKey) {
    if let Ok(at) = keys.binary_search(&key) {
        keys.remove(at);
    }
}

impl Inbox {
    /// Keeps `summary` unless a newer revision of it is already known.
    pub fn upsert(&mut self, source: usize, summary: EscalationSummary) -> Upserted {
        let generation = self.load(source).generation;
        let Some(slot) = self.slot_of(source, &summary.id) else {
            let slot = self.items.len() as u32;
            match self.by_id.entry(id_hash(source, &summary.id)) {
                Entry::Vacant(entry) => {
                    entry.insert(slot);
                }
                Entry::Occupied(_) => {
                    self.by_colliding_id
                        .insert((source, summary.id.clone()), slot);
                }
            }
            self.items.push(InboxItem {
                source,
                task: CompactSummary::new(summary, &mut self.names),
                seen: generation,
                listed: true,
            });
            self.place(slot, None, true);
            return Upserted::New;
        };
        let item = self.items.get_mut(slot as usize);
        item.seen = generation;
        if item.task.revision >= summary.revision {
            if !item.listed {
                // Listed again by a reload: it was only missing from an earlier one.
                let before = self.open_key(slot);
                self.items.get_mut(slot as usize).listed = true;
                self.place(slot, before, false);
            }
            return Upserted::Known;
        }
        let before = self.open_key(slot);
        let task = CompactSummary::new(summary, &mut self.names);
        let item = self.items.get_mut(slot as usize);
        let refiled =
            task.filter_text() != item.task.filter_text() || other_step(&task, &item.task);
        item.task = task;
        item.listed = true;
        self.place(slot, before, refiled);
        Upserted::Newer
    }

    fn open_key(&self, slot: u32) -> Option<OrderKey> {
        let item = &self.items[slot as usize];
        item.is_open().then(|| key_of(slot, &item.task))
    }

    /// Moves a changed task to where it belongs now; `before` is its key before the change,
    /// `refiled` says its filter text or its workflow step changed.
    fn place(&mut self, slot: u32, before: Option<OrderKey>, refiled: bool) {
        let after = self.open_key(slot);
        if before == after && !refiled {
            return;
        }
        let source = self.items[slot as usize].source;
        if self.p1_order.len() <= source {
            self.p1_order.resize(source + 1, Vec::new());
            self.open_counts.resize(source + 1, [0; 4]);
        }
        if let Some(old) = before {
            self.open_counts[source][old.priority as usize] -= 1;
            remove_sorted(Arc::make_mut(&mut self.order), old);
            remove_sorted(Arc::make_mut(&mut self.filter.rows), old);
            remove_sorted(&mut self.p1_order[source], old);
            // Its step as it was (a newer revision may name another): wherever it is.
            for at in self.steps.values_mut() {
                if let Some(keys) = at.by_source.get_mut(source) {
                    remove_sorted(keys, old);
                }
            }
            (self.steps).retain(|_, at| at.by_source.iter().any(|keys| !keys.is_empty()));
        }
        if let Some(new) = after {
            self.open_counts[source][new.priority as usize] += 1;
            let task = &self.items[slot as usize].task;
            write_step_key(&mut self.step_key, task);
            match self.steps.get_mut(self.step_key.as_slice()) {
                Some(at) => at.insert(source, new),
                None => {
                    let mut at = OpenAtStep {
                        workflow_type: task.workflow_type().to_string(),
                        step: task.step().to_string(),
                        service: task.service().to_string(),
                        by_source: Vec::new(),
                    };
                    at.insert(source, new);
                    self.steps.insert(self.step_key.clone(), at);
                }
            }
            insert_sorted(Arc::make_mut(&mut self.order), new);
            if new.priority == Priority::P1 {
                insert_sorted(&mut self.p1_order[source], new);
            }
            if self.filter.admits(slot, &self.items[slot as usize]) {
                insert_sorted(Arc::make_mut(&mut self.filter.rows), new);
            }
        }
        self.keep_selection(false);
    }

    pub(super) fn load(&mut self, source: usize) -> &mut SourceLoad {
        if self.loads.len() <= source {
            self.loads.resize(source + 1, SourceLoad::default());
        }
        &mut self.loads[source]
    }

    /// Whether a list of `source`'s escalations was read whole once.
    pub fn has_loaded(&self, source: usize) -> bool {
        self.loads.get(source).is_some_and(|load| load.loaded)
    }

    /// `source`'s open tasks by priority, P1 first.
    pub fn open_by_priority(&self, source: usize) -> OpenEscalations {
        self.open_counts.get(source).copied().unwrap_or_default()
    }

    pub fn source_load(&self, source: usize) -> SourceLoad {
        self.loads.get(source).cloned().unwrap_or_default()
    }

    /// A full list of `source` starts: what it does not list again leaves the inbox at
    /// [`Inbox::end_load`] (it was closed while the console was not listening).
    pub fn begin_load(&mut self, source: usize) {
        let load = self.load(source);
        load.generation += 1;
        load.loading = true;
        load.error = None;
        load.expected = None;
        load.received = 0;
    }

    pub fn end_load(&mut self, source: usize) {
        let generation = self.load(source).generation;
        let load = self.load(source);
        load.loading = false;
        load.loaded = true;
        let unseen: Vec<u32> = self
            .order
            .iter()
            .filter(|k| {
                let item = &self.items[k.slot as usize];
                item.source == source && item.seen != generation
            })
            .map(|k| k.slot)
            .collect();
        for slot in unseen {
            let before = self.open_key(slot);
            self.items.get_mut(slot as usize).listed = false;
            self.place(slot, before, false);
        }
    }

    fn slot_of(&self, source: usize, id: &str) -> Option<u32> {
        let slot = *self.by_id.get(&id_hash(source, id))?;
        let item = &self.items[slot as usize];
        if item.source == source && item.id() == id {
            return Some(slot);
        }
        self.by_colliding_id.get(&(source, id.to_string())).copied()
    }

    pub fn get(&self, source: usize, id: &str) -> Option<&InboxItem> {
        self.slot_of(source, id)
            .map(|slot| &self.items[slot as usize])
    }

    pub fn item(&self, slot: u32) -> &InboxItem {
        &self.items[slot as usize]
    }

    /// Open tasks, whatever the filter.
    pub fn open_count(&self) -> usize {
        self.order.len()
    }

    /// Every task known, open or closed.
    pub fn known_count(&self) -> usize {
        self.items.len()
    }

    /// Open tasks in SLA order, whatever the filter.
    pub fn open_rows(&self) -> &[OrderKey] {
        &self.order
    }

    /// Every workflow step open tasks stop at, with how many wait there and how many are past
    /// their SLA on their source's clock (`clocks`, by source index; see
    /// [`super::App::source_clocks`]): a few binary searches per step, for every frame.
    pub fn step_tallies(&self, clocks: &[DateTime<Utc>]) -> Vec<StepTally<'_>> {
        (self.steps.values())
            .map(|at| {
                let past = |(source, keys): (usize, &Vec<OrderKey>)| {
                    let now = clocks.get(source).map(DateTime::timestamp_millis);
                    now.map_or(0, |now| keys.partition_point(|k| k.deadline_ms < now))
                };
                StepTally {
                    workflow_type: &at.workflow_type,
                    step: &at.step,
                    service: &at.service,
                    open: at.by_source.iter().map(Vec::len).sum(),
                    past_sla: at.by_source.iter().enumerate().map(past).sum(),
                }
            })
            .collect()
    }

    /// The rows shown: open tasks that pass the filter, in SLA order.
    pub fn rows(&self) -> &[OrderKey] {
        if self.filter.query.is_empty() {
            &self.order
        } else {
            &self.filter.rows
        }
    }

    pub fn query(&self) -> &str {
        &self.filter.query
    }

    /// How many rows the filter's latest match looked at: narrowing looks at fewer.
    pub fn filter_checked(&self) -> usize {
        self.filter.checked
    }

    /// The filter's matches are not all known yet: keep ticking.
    pub fn matching(&self) -> bool {
        self.filter.job.is_some()
    }

    pub fn selected_slot(&self) -> Option<u32> {
        self.selected
    }

    /// The selected row's position in [`Inbox::rows`].
    pub fn selected_index(&self) -> Option<usize> {
        let slot = self.selected?;
        let item = &self.items[slot as usize];
        self.rows().binary_search(&key_of(slot, &item.task)).ok()
    }

    pub fn select_index(&mut self, index: usize) {
        let rows = self.rows();
        self.selected = rows
            .get(index.min(rows.len().saturating_sub(1)))
            .map(|k| k.slot);
    }

    pub fn move_selection(&mut self, delta: isize) {
        let index = self.selected_index().unwrap_or(0);
        self.select_index(index.saturating_add_signed(delta));
    }

    /// When the selected task leaves the rows, the one that took its place is selected (a
    /// task resolved under the cursor), or the top row when `filtered` (a new filter: the row
    /// number means nothing in the new rows, and Enter must not open a task nobody chose).
    fn keep_selection(&mut self, filtered: bool) {
        let rows = self.rows();
        let next = match self.selected {
            None => rows.first().map(|k| k.slot),
            Some(slot) => {
                let item = &self.items[slot as usize];
                match rows.binary_search(&key_of(slot, &item.task)) {
                    Ok(_) => return,
                    Err(_) if filtered => rows.first().map(|k| k.slot),
                    Err(at) => rows
                        .get(at.min(rows.len().saturating_sub(1)))
                        .map(|k| k.slot),
                }
            }
        };
        self.selected = next;
    }

    /// A new filter text: shown at once, matched in the background (see [`Inbox::tick`]).
    /// Typing more of the same query re-checks only the previous matches.
    pub fn set_query(&mut self, query: &str) {
        if query == self.filter.query {
            return;
        }
        // The previous match is outdated: dropping it cancels it.
        let finished = self.filter.job.take().is_none();
        let narrowing = finished && narrows(&self.filter.query, query);
        self.filter.query = query.to_string();
        self.filter.touched.clear();
        if query.is_empty() {
            self.filter.parsed = None;
            self.keep_selection(true);
            return;
        }
        let parsed = Arc::new(Query::parse(query));
        self.filter.parsed = Some(parsed.clone());
        // The job reads the inbox's own rows and tasks: nothing is copied per keystroke.
        let candidates = if narrowing {
            self.filter.rows.clone()
        } else {
            self.filter.rows = Arc::default();
            self.order.clone()
        };
        self.filter.checked = candidates.len();
        self.filter.job = Some(Job::start(
            parsed,
            self.items.clone(),
            candidates,
            self.filter.wake.clone(),
        ));
        self.keep_selection(true);
    }

    /// The tasks and SLA order a match reads (tests).
    #[cfg(test)]
    pub(super) fn shared_rows(&self) -> (SharedVec<InboxItem>, Arc<Vec<OrderKey>>) {
        (self.items.clone(), self.order.clone())
    }

    /// `wake` is called (on a matching thread) each time a match is done, so the console
    /// takes the matches at once ([`crate::app::Msg::FilterMatched`]) instead of on its tick.
    pub fn wake_on_matches(&mut self, wake: Wake) {
        self.filter.wake = Some(wake);
    }

    /// Takes the filter's matches if they have arrived; returns whether the rows changed.
    pub fn tick(&mut self) -> bool {
        let polled = match &self.filter.job {
            Some(job) => job.poll(),
            None => return false,
        };
        self.take_matches(polled)
    }

    /// Blocks until the filter's matches are known, at most `timeout` (tests and benches).
    pub fn wait_for_matches(&mut self, timeout: Duration) -> bool {
        let polled = match &self.filter.job {
            Some(job) => job.wait(timeout),
            None => return false,
        };
        self.take_matches(polled)
    }

    fn take_matches(&mut self, polled: Polled<OrderKey>) -> bool {
        let matches = match polled {
            Polled::Running => return false,
            Polled::Done(matches) => matches,
            // Not expected (a matching thread failed): no row rather than a wrong one; the
            // next keystroke matches again.
            Polled::Lost => Vec::new(),
        };
        self.filter.job = None;
        let mut rows = matches;
        // Tasks that changed while matching were matched as they were: match them as they are.
        let touched: HashSet<u32> = std::mem::take(&mut self.filter.touched)
            .into_iter()
            .collect();
        if !touched.is_empty() {
            rows.retain(|k| !touched.contains(&k.slot));
            for slot in touched {
                if let Some(key) = self.open_key(slot)
                    && self.filter.admits(slot, &self.items[slot as usize])
                {
                    insert_sorted(&mut rows, key);
                }
            }
        }
        self.filter.rows = Arc::new(rows);
        self.keep_selection(true);
        true
    }

    /// How many open P1 tasks breach their SLA within [`SLA_WARNING`] (or already did), each
    /// judged by the clock of its source.
    pub fn p1_near_breach(&self, clocks: &[DateTime<Utc>]) -> usize {
        // Each source's P1 tasks are by deadline: a binary search finds where "near" ends.
        self.p1_order
            .iter()
            .zip(clocks)
            .map(|(keys, now)| {
                let horizon = *now + SLA_WARNING;
                let horizon_ms = horizon.timestamp_millis();
                let before = keys.partition_point(|k| k.deadline_ms < horizon_ms);
                // Within the horizon's millisecond, the exact deadline decides.
                let within = keys[before..]
                    .iter()
                    .take_while(|k| k.deadline_ms == horizon_ms)
                    .filter(|k| self.items[k.slot as usize].task.sla_deadline <= horizon)
                    .count();
                before + within
            })
            .sum()
    }
}

#[cfg(test)]
#[path = "inbox_tests.rs"]
mod tests;
