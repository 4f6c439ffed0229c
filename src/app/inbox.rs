//! Escalated tasks as the console knows them: every summary from every source, the newest
//! revision of each kept (events may repeat after a stream resumes), the open ones in SLA
//! order, narrowed by a fuzzy filter.
//!
//! Built for a queue of 100,000 tasks: the SLA order is kept incrementally (a binary search
//! per change), the filter runs on nucleo's worker threads and is ticked within a frame
//! budget, and views format only the rows on screen.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use nucleo::pattern::{CaseMatching, Normalization};
use nucleo::{Nucleo, Utf32String};

use super::{App, Effect, Level};
use crate::sources::{EscalationEvent, EscalationEventKind};
use protocol::escalations::{EscalationSummary, Priority};
use protocol::sanitize::clean;

/// Under this much time left, an SLA countdown turns red and gets its `!`.
pub const SLA_WARNING: TimeDelta = TimeDelta::minutes(5);
/// How long one matcher tick may block `update`: well within a 16 ms frame.
pub const MATCH_BUDGET_MS: u64 = 8;

/// One task of the inbox, open or not (a closed one stays for its detail view).
#[derive(Clone, Debug, PartialEq)]
pub struct InboxItem {
    /// Index of its source in [`App::sources`].
    pub source: usize,
    pub summary: EscalationSummary,
    /// The load of its source that last confirmed it (see [`Inbox::begin_load`]).
    seen: u32,
    /// In the inbox: open, and not dropped by a reload that no longer lists it.
    listed: bool,
}

impl InboxItem {
    pub fn is_open(&self) -> bool {
        self.listed && !self.summary.state.is_closed()
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
}

/// The fuzzy filter: nucleo's matcher over "id service reason input" of every task.
struct Filter {
    query: String,
    /// Started on the first query: a console that never filters runs no matcher threads.
    matcher: Option<Nucleo<u32>>,
    /// Slots handed to the matcher so far (slots are handed over in order).
    injected: usize,
    /// By slot: matched by the matcher's latest results.
    matched: Vec<bool>,
    /// Open and matched, in SLA order.
    rows: Vec<OrderKey>,
    /// The matcher has work the results do not show yet.
    running: bool,
}

pub struct Inbox {
    items: Vec<InboxItem>,
    by_id: HashMap<(usize, String), u32>,
    /// Open tasks in SLA order.
    order: Vec<OrderKey>,
    filter: Filter,
    /// The selected task, by slot, so that it stays selected while rows come and go.
    selected: Option<u32>,
    loads: Vec<SourceLoad>,
}

impl Default for Inbox {
    fn default() -> Self {
        Inbox {
            items: Vec::new(),
            by_id: HashMap::new(),
            order: Vec::new(),
            filter: Filter {
                query: String::new(),
                matcher: None,
                injected: 0,
                matched: Vec::new(),
                rows: Vec::new(),
                running: false,
            },
            selected: None,
            loads: Vec::new(),
        }
    }
}

fn key_of(slot: u32, summary: &EscalationSummary) -> OrderKey {
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
        let id = (source, summary.id.clone());
        let Some(&slot) = self.by_id.get(&id) else {
            let slot = self.items.len() as u32;
            self.by_id.insert(id, slot);
            self.items.push(InboxItem {
                source,
                summary,
                seen: generation,
                listed: true,
            });
            self.filter.matched.push(false);
            self.inject_new();
            self.place(slot, None);
            return Upserted::New;
        };
        let item = &mut self.items[slot as usize];
        item.seen = generation;
        if item.summary.revision >= summary.revision {
            if !item.listed {
                // Listed again by a reload: it was only missing from an earlier one.
                let before = self.open_key(slot);
                self.items[slot as usize].listed = true;
                self.place(slot, before);
            }
            return Upserted::Known;
        }
        let before = self.open_key(slot);
        let item = &mut self.items[slot as usize];
        item.summary = summary;
        item.listed = true;
        self.place(slot, before);
        Upserted::Newer
    }

    fn open_key(&self, slot: u32) -> Option<OrderKey> {
        let item = &self.items[slot as usize];
        item.is_open().then(|| key_of(slot, &item.summary))
    }

    /// Moves a changed task to where it belongs now; `before` is its key before the change.
    fn place(&mut self, slot: u32, before: Option<OrderKey>) {
        let after = self.open_key(slot);
        if before == after {
            return;
        }
        if let Some(old) = before {
            remove_sorted(&mut self.order, old);
            remove_sorted(&mut self.filter.rows, old);
        }
        if let Some(new) = after {
            insert_sorted(&mut self.order, new);
            if self.filter.matched[slot as usize] {
                insert_sorted(&mut self.filter.rows, new);
            }
        }
        self.keep_selection(false);
    }

    fn load(&mut self, source: usize) -> &mut SourceLoad {
        if self.loads.len() <= source {
            self.loads.resize(source + 1, SourceLoad::default());
        }
        &mut self.loads[source]
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
            self.items[slot as usize].listed = false;
            self.place(slot, before);
        }
    }

    pub fn get(&self, source: usize, id: &str) -> Option<&InboxItem> {
        self.by_id
            .get(&(source, id.to_string()))
            .map(|&slot| &self.items[slot as usize])
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

    /// The matcher has results to deliver: keep ticking.
    pub fn matching(&self) -> bool {
        !self.filter.query.is_empty() && self.filter.running
    }

    pub fn selected_slot(&self) -> Option<u32> {
        self.selected
    }

    /// The selected row's position in [`Inbox::rows`].
    pub fn selected_index(&self) -> Option<usize> {
        let slot = self.selected?;
        let item = &self.items[slot as usize];
        self.rows().binary_search(&key_of(slot, &item.summary)).ok()
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
                match rows.binary_search(&key_of(slot, &item.summary)) {
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

    /// A new filter text. Typing more of the same query narrows the previous matches only.
    pub fn set_query(&mut self, query: &str) {
        if query == self.filter.query {
            return;
        }
        let append = !self.filter.query.is_empty() && query.starts_with(&self.filter.query);
        self.filter.query = query.to_string();
        if query.is_empty() {
            self.filter.running = false;
            self.keep_selection(true);
            return;
        }
        if self.filter.matcher.is_none() {
            self.filter.matcher = Some(Nucleo::new(
                nucleo::Config::DEFAULT,
                // The console ticks the matcher at frame rate while it runs; no wake-up needed.
                Arc::new(|| {}),
                None,
                1,
            ));
            self.inject_new();
        }
        if let Some(matcher) = self.filter.matcher.as_mut() {
            matcher
                .pattern
                .reparse(0, query, CaseMatching::Smart, Normalization::Smart, append);
        }
        self.filter.running = true;
        self.tick(MATCH_BUDGET_MS);
    }

    /// Hands the tasks the matcher has not seen yet to it.
    fn inject_new(&mut self) {
        let Some(matcher) = self.filter.matcher.as_ref() else {
            return;
        };
        let injector = matcher.injector();
        for slot in self.filter.injected..self.items.len() {
            let text = filter_text(&self.items[slot].summary);
            injector.push(slot as u32, |_, columns| {
                columns[0] = Utf32String::from(text.as_str())
            });
        }
        self.filter.injected = self.items.len();
        self.filter.running = true;
    }

    /// Lets the matcher work for at most `budget_ms`; returns whether the rows changed.
    pub fn tick(&mut self, budget_ms: u64) -> bool {
        if self.filter.query.is_empty() {
            return false;
        }
        let Some(matcher) = self.filter.matcher.as_mut() else {
            return false;
        };
        let status = matcher.tick(budget_ms);
        self.filter.running = status.running;
        if !status.changed {
            return false;
        }
        let snapshot = matcher.snapshot();
        self.filter.matched.fill(false);
        for item in snapshot.matched_items(..) {
            self.filter.matched[*item.data as usize] = true;
        }
        let matched = &self.filter.matched;
        self.filter.rows = self
            .order
            .iter()
            .filter(|k| matched[k.slot as usize])
            .copied()
            .collect();
        self.keep_selection(true);
        true
    }

    /// How many open P1 tasks breach their SLA within [`SLA_WARNING`] (or already did), each
    /// judged by the clock of its source.
    pub fn p1_near_breach(&self, clocks: &[DateTime<Utc>]) -> usize {
        let Some(latest) = clocks.iter().max() else {
            return 0;
        };
        let horizon = (*latest + SLA_WARNING).timestamp_millis();
        // The order is by deadline: only its head can be near a breach.
        self.order
            .iter()
            .take_while(|k| k.deadline_ms <= horizon)
            .filter(|k| {
                let item = &self.items[k.slot as usize];
                k.priority == Priority::P1
                    && clocks
                        .get(item.source)
                        .is_some_and(|now| item.summary.sla_deadline - *now <= SLA_WARNING)
            })
            .count()
    }
}

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
                let mut urgent = Vec::new();
                for summary in page {
                    let notable = reload && self.is_notable(&summary);
                    let brief = notable.then(|| notice_text(&summary));
                    if self.inbox.upsert(index, summary) == Upserted::New
                        && let Some(brief) = brief
                    {
                        urgent.push(brief);
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
                    self.inbox.end_load(index);
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

#[cfg(test)]
#[path = "inbox_tests.rs"]
mod tests;
