//! The inbox filter's matching: nucleo's query syntax (`'exact`, `!exclude`, `^prefix`,
//! `suffix$`), but only match or no match, because the inbox keeps SLA order and never sorts
//! by score. Matching runs on background threads over the rows' texts in SLA order, can be
//! cancelled by the next keystroke, and narrows the previous matches when the query grows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, channel};
use std::thread;
use std::time::Duration;

use super::inbox_query::{Query, Scratch};
use super::shared_vec::SharedVec;

/// Rows matched between two looks at the cancel flag: a cancelled job stops within microseconds.
const CANCEL_CHECK_ROWS: usize = 1024;

/// Whether every row that matches `grown` also matches `previous`, so that matching `grown`
/// need only look at `previous`'s matches: the query only gained characters, and they do not
/// change the meaning of its last word (a negative word widens as it grows, `foo$x` is no
/// longer anchored, a trailing `\` escapes what follows, a lone `^` or `'` is not a word yet).
pub fn narrows(previous: &str, grown: &str) -> bool {
    if previous.is_empty() || !grown.starts_with(previous) {
        return false;
    }
    if previous.ends_with(' ') && !previous.ends_with("\\ ") {
        // A new word: every word must still match.
        return true;
    }
    let last = previous.rsplit(' ').next().unwrap_or(previous);
    let needle = last.trim_start_matches(['^', '\'']);
    !last.starts_with('!') && !last.ends_with(['$', '\\']) && !needle.is_empty()
}

/// A task as a match reads it (the inbox's task; the module does not depend on the inbox).
pub trait Haystack: Clone + Send + Sync + 'static {
    fn filter_text(&self) -> &str;
}

/// A row a match looks at: the slot of its task.
pub trait Candidate: Copy + Send + Sync + 'static {
    fn slot(&self) -> usize;
}

/// Called on the matching thread once a job's result can be taken: the console sends itself
/// a message ([`crate::app::Msg::FilterMatched`]) so the matches show in the next frame.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// A match running on background threads; dropping it cancels it.
pub struct Job<K> {
    cancelled: Arc<AtomicBool>,
    results: Receiver<Vec<K>>,
}

/// What [`Job::poll`] found.
pub enum Polled<K> {
    Running,
    /// The candidates that match, in the order they were given.
    Done(Vec<K>),
    /// The job ended without a result (a matching thread failed).
    Lost,
}

impl<K: Candidate> Job<K> {
    /// Matches `query` over the tasks of `candidates` (in SLA order) on as many threads as
    /// there are cores, off the caller's thread. `items` and `candidates` are the inbox's
    /// own, shared: the caller copies nothing.
    pub fn start<T: Haystack>(
        query: Arc<Query>,
        items: SharedVec<T>,
        candidates: Arc<Vec<K>>,
        wake: Option<Wake>,
    ) -> Job<K> {
        let cancelled = Arc::new(AtomicBool::new(false));
        let (sender, results) = channel();
        let flag = cancelled.clone();
        thread::spawn(move || {
            let matched = match_in_parallel(&query, &items, &candidates, &flag);
            // Let go of the inbox's rows first: a change to them then copies nothing.
            drop((items, candidates));
            // The receiver is gone when the job was dropped: nobody waits for it.
            if let Some(matched) = matched
                && sender.send(matched).is_ok()
                && let Some(wake) = wake
            {
                wake();
            }
        });
        Job { cancelled, results }
    }

    pub fn poll(&self) -> Polled<K> {
        match self.results.try_recv() {
            Ok(matched) => Polled::Done(matched),
            Err(TryRecvError::Empty) => Polled::Running,
            Err(TryRecvError::Disconnected) => Polled::Lost,
        }
    }

    /// Waits for the result at most `timeout` (tests and benches: the console is woken).
    pub fn wait(&self, timeout: Duration) -> Polled<K> {
        match self.results.recv_timeout(timeout) {
            Ok(matched) => Polled::Done(matched),
            Err(RecvTimeoutError::Timeout) => Polled::Running,
            Err(RecvTimeoutError::Disconnected) => Polled::Lost,
        }
    }
}

impl<K> Drop for Job<K> {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// The `candidates` whose task matches, in their order, or `None` once cancelled.
fn match_in_parallel<T: Haystack, K: Candidate>(
    query: &Query,
    items: &SharedVec<T>,
    candidates: &[K],
    cancelled: &AtomicBool,
) -> Option<Vec<K>> {
    let threads = thread::available_parallelism().map_or(1, usize::from);
    let part = candidates.len().div_ceil(threads).max(CANCEL_CHECK_ROWS);
    let mut parts = candidates.chunks(part);
    let first = parts.next().unwrap_or_default();
    let parts: Vec<Option<Vec<K>>> = thread::scope(|scope| {
        let running: Vec<_> = parts
            .map(|part| scope.spawn(move || match_part(query, items, part, cancelled)))
            .collect();
        // This thread takes the first part.
        std::iter::once(match_part(query, items, first, cancelled))
            .chain(
                running
                    .into_iter()
                    .map(|thread| thread.join().ok().flatten()),
            )
            .collect()
    });
    let mut matched = Vec::new();
    for part in parts {
        matched.extend(part?);
    }
    Some(matched)
}

fn match_part<T: Haystack, K: Candidate>(
    query: &Query,
    items: &SharedVec<T>,
    candidates: &[K],
    cancelled: &AtomicBool,
) -> Option<Vec<K>> {
    let mut scratch = Scratch::default();
    let mut matched = Vec::new();
    for block in candidates.chunks(CANCEL_CHECK_ROWS) {
        if cancelled.load(Ordering::Relaxed) {
            return None;
        }
        matched.extend(
            block
                .iter()
                .filter(|k| query.matches(items[k.slot()].filter_text(), &mut scratch)),
        );
    }
    Some(matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{escalation_queue, escalation_summaries};

    #[test]
    fn a_query_narrows_only_when_every_new_match_was_an_old_one() {
        for (previous, grown) in [
            ("val", "vali"),
            ("val", "val gbp"),
            ("'esc-05", "'esc-054"),
            ("^esc", "^esc-"),
            ("!credit ", "!credit gbp"),
            ("gbp", "gbp$"),
        ] {
            assert!(narrows(previous, grown), "{previous:?} -> {grown:?}");
        }
        for (previous, grown) in [
            ("", "v"),
            ("vali", "val"),
            ("!credit", "!credit-x"),
            ("gbp$", "gbp$x"),
            ("esc\\", "esc\\ 9"),
            ("^", "^esc"),
            ("'", "'esc"),
            ("val", "vbl"),
        ] {
            assert!(!narrows(previous, grown), "{previous:?} -> {grown:?}");
        }
    }

    #[test]
    fn a_cancelled_match_stops_without_a_result() {
        let mut inbox = super::super::Inbox::default();
        for summary in escalation_summaries(&escalation_queue(3, 3_000)) {
            inbox.upsert(0, summary);
        }
        let (items, order) = inbox.shared_rows();
        let query = Query::parse("gbp");
        let cancelled = AtomicBool::new(true);
        assert_eq!(match_in_parallel(&query, &items, &order, &cancelled), None);
        cancelled.store(false, Ordering::Relaxed);
        let all = match_in_parallel(&query, &items, &order, &cancelled).expect("a result");
        assert!(
            !all.is_empty() && all.windows(2).all(|w| w[0] < w[1]),
            "in the given order"
        );

        // A dropped job is cancelled: it sends nothing, and its result is lost, not waited for.
        let job = Job::start(Arc::new(query), items, order, None);
        let flag = job.cancelled.clone();
        drop(job);
        assert!(flag.load(Ordering::Relaxed));
    }
}
