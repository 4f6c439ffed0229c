//! The inbox filter's matching: nucleo's query syntax (`'exact`, `!exclude`, `^prefix`,
//! `suffix$`), but only match or no match, because the inbox keeps SLA order and never sorts
//! by score. Matching runs on background threads over the rows' texts in SLA order, can be
//! cancelled by the next keystroke, and narrows the previous matches when the query grows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, channel};
use std::thread;
use std::time::Duration;

use nucleo::pattern::{Atom, AtomKind, CaseMatching, Normalization};
use nucleo::{Matcher, Utf32Str};

/// Rows matched between two looks at the cancel flag: a cancelled job stops within microseconds.
const CANCEL_CHECK_ROWS: usize = 1024;

/// Stands for a char that stays outside ASCII once folded: equal to no needle byte.
const NOT_ASCII: u8 = 0xFF;

/// One word of a query, with what the fast byte-wise test needs.
struct Word {
    atom: Atom,
    /// The needle's bytes when it is ASCII (nucleo lowercases it when the case is ignored).
    ascii: Option<Box<[u8]>>,
    /// Smart case: a needle without capitals ignores the case.
    ignore_case: bool,
}

/// A parsed filter query: a row matches when every word does.
pub struct Query {
    words: Vec<Word>,
}

impl Query {
    pub fn parse(text: &str) -> Query {
        let pattern =
            nucleo::pattern::Pattern::parse(text, CaseMatching::Smart, Normalization::Smart);
        let words = pattern
            .atoms
            .into_iter()
            .map(|atom| {
                let ascii = match atom.needle_text() {
                    Utf32Str::Ascii(bytes) => Some(Box::from(bytes)),
                    Utf32Str::Unicode(_) => None,
                };
                let ignore_case = !atom.needle_text().chars().any(char::is_uppercase);
                Word {
                    atom,
                    ascii,
                    ignore_case,
                }
            })
            .collect();
        Query { words }
    }

    /// Whether `text` passes every word. `matcher` serves the words and texts the byte-wise
    /// test does not cover (Unicode, anchored kinds), with nucleo's own rules.
    pub fn matches(&self, text: &str, matcher: &mut Option<Matcher>) -> bool {
        self.words.iter().all(|word| word.matches(text, matcher))
    }
}

impl Word {
    fn matches(&self, text: &str, matcher: &mut Option<Matcher>) -> bool {
        let fast = match (&self.ascii, self.atom.kind) {
            (Some(needle), AtomKind::Fuzzy) if text.is_ascii() => {
                Some(is_subsequence(needle, text.as_bytes(), self.ignore_case))
            }
            (Some(needle), AtomKind::Substring) if text.is_ascii() => {
                Some(contains(needle, text.as_bytes(), self.ignore_case))
            }
            // A Unicode text: folded as nucleo folds it (a grapheme is its first char,
            // accents dropped, case lowered); what is still not ASCII matches no ASCII needle.
            (Some(needle), AtomKind::Fuzzy | AtomKind::Substring) => {
                let folded: Vec<u8> = nucleo::chars::graphemes(text)
                    .map(|c| {
                        let c = nucleo::chars::normalize(c);
                        let c = if self.ignore_case {
                            nucleo::chars::to_lower_case(c)
                        } else {
                            c
                        };
                        u8::try_from(c)
                            .ok()
                            .filter(u8::is_ascii)
                            .unwrap_or(NOT_ASCII)
                    })
                    .collect();
                Some(match self.atom.kind {
                    AtomKind::Fuzzy => is_subsequence(needle, &folded, self.ignore_case),
                    _ => contains(needle, &folded, self.ignore_case),
                })
            }
            _ => None,
        };
        match fast {
            Some(found) => found != self.atom.negative,
            None => {
                let matcher = matcher.get_or_insert_with(Matcher::default);
                let mut buffer = Vec::new();
                // `score` already inverts a negative word.
                self.atom
                    .score(Utf32Str::new(text, &mut buffer), matcher)
                    .is_some()
            }
        }
    }
}

fn same(byte: u8, needle: u8, ignore_case: bool) -> bool {
    byte == needle || (ignore_case && byte.to_ascii_lowercase() == needle)
}

fn is_subsequence(needle: &[u8], haystack: &[u8], ignore_case: bool) -> bool {
    let mut wanted = needle.iter().peekable();
    for &byte in haystack {
        match wanted.peek() {
            Some(&&next) if same(byte, next, ignore_case) => {
                wanted.next();
            }
            Some(_) => {}
            None => break,
        }
    }
    wanted.peek().is_none()
}

fn contains(needle: &[u8], haystack: &[u8], ignore_case: bool) -> bool {
    needle.is_empty()
        || haystack.windows(needle.len()).any(|window| {
            window
                .iter()
                .zip(needle)
                .all(|(&byte, &want)| same(byte, want, ignore_case))
        })
}

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

/// A match running on background threads; dropping it cancels it.
pub struct Job {
    cancelled: Arc<AtomicBool>,
    results: Receiver<Vec<u32>>,
}

/// What [`Job::poll`] found.
pub enum Polled {
    Running,
    /// The slots that match, in the order they were given.
    Done(Vec<u32>),
    /// The job ended without a result (a matching thread failed).
    Lost,
}

impl Job {
    /// Matches `query` over `rows` (slot, and a text whose first bytes are searched, in SLA
    /// order) on as many threads as there
    /// are cores, off the caller's thread.
    pub fn start(query: Arc<Query>, rows: Vec<(u32, Arc<str>, u32)>) -> Job {
        let cancelled = Arc::new(AtomicBool::new(false));
        let (sender, results) = channel();
        let flag = cancelled.clone();
        thread::spawn(move || {
            if let Some(matched) = match_in_parallel(&query, &rows, &flag) {
                // The receiver is gone when the job was dropped: nobody waits for it.
                let _ = sender.send(matched);
            }
        });
        Job { cancelled, results }
    }

    pub fn poll(&self) -> Polled {
        match self.results.try_recv() {
            Ok(matched) => Polled::Done(matched),
            Err(TryRecvError::Empty) => Polled::Running,
            Err(TryRecvError::Disconnected) => Polled::Lost,
        }
    }

    /// Waits for the result at most `timeout` (tests and benches: the console only polls).
    pub fn wait(&self, timeout: Duration) -> Polled {
        match self.results.recv_timeout(timeout) {
            Ok(matched) => Polled::Done(matched),
            Err(RecvTimeoutError::Timeout) => Polled::Running,
            Err(RecvTimeoutError::Disconnected) => Polled::Lost,
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// The matching slots of `rows` in their order, or `None` once cancelled.
fn match_in_parallel(
    query: &Query,
    rows: &[(u32, Arc<str>, u32)],
    cancelled: &AtomicBool,
) -> Option<Vec<u32>> {
    let threads = thread::available_parallelism().map_or(1, usize::from);
    let part = rows.len().div_ceil(threads).max(CANCEL_CHECK_ROWS);
    let parts: Vec<Option<Vec<u32>>> = thread::scope(|scope| {
        let running: Vec<_> = rows
            .chunks(part)
            .map(|chunk| scope.spawn(move || match_part(query, chunk, cancelled)))
            .collect();
        running
            .into_iter()
            .map(|thread| thread.join().ok().flatten())
            .collect()
    });
    let mut matched = Vec::new();
    for part in parts {
        matched.extend(part?);
    }
    Some(matched)
}

fn match_part(
    query: &Query,
    rows: &[(u32, Arc<str>, u32)],
    cancelled: &AtomicBool,
) -> Option<Vec<u32>> {
    let mut matcher = None;
    let mut matched = Vec::new();
    for block in rows.chunks(CANCEL_CHECK_ROWS) {
        if cancelled.load(Ordering::Relaxed) {
            return None;
        }
        matched.extend(
            block
                .iter()
                .filter(|(_, text, end)| query.matches(&text[..*end as usize], &mut matcher))
                .map(|(slot, _, _)| *slot),
        );
    }
    Some(matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::filter_text;
    use crate::testing::{escalation_queue, escalation_summaries};
    use nucleo::pattern::Pattern;

    fn texts() -> Vec<String> {
        let mut texts: Vec<String> = escalation_summaries(&escalation_queue(3, 2_000))
            .iter()
            .map(filter_text)
            .collect();
        texts.push("esc-900001 zürich-payments validator-failed Größe überschritten".into());
        texts.push("  esc-900002 padded input  ".into());
        texts
    }

    #[test]
    fn matching_agrees_with_nucleos_scoring_for_every_kind_of_word() {
        let mut nucleo_matcher = Matcher::default();
        let mut fallback = None;
        let texts = texts();
        for query in [
            "credit-decision",
            "validator-failed",
            "merchant=CryptoBridge",
            "riskpaymnt gbp",
            "'esc-0005",
            "!validator",
            "!^esc-00",
            "^esc-00",
            "^ESC",
            "input$",
            "^esc-900002 input$",
            "'gbp !credit",
            "zurich",
            "Zurich",
            "'rich-pay",
            "garcia",
            "zürich",
            "GRÖSSE",
            "größe",
            "\\!x",
            "esc\\ 9",
        ] {
            let ours = Query::parse(query);
            let theirs = Pattern::parse(query, CaseMatching::Smart, Normalization::Smart);
            for text in &texts {
                let mut buffer = Vec::new();
                let expected = theirs
                    .score(Utf32Str::new(text, &mut buffer), &mut nucleo_matcher)
                    .is_some();
                assert_eq!(
                    ours.matches(text, &mut fallback),
                    expected,
                    "{query:?} on {text:?}"
                );
            }
        }
    }

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
        let rows: Vec<(u32, Arc<str>, u32)> = texts()
            .into_iter()
            .enumerate()
            .map(|(slot, text)| (slot as u32, Arc::from(text.as_str()), text.len() as u32))
            .collect();
        let query = Query::parse("gbp");
        let cancelled = AtomicBool::new(true);
        assert_eq!(match_in_parallel(&query, &rows, &cancelled), None);
        cancelled.store(false, Ordering::Relaxed);
        let all = match_in_parallel(&query, &rows, &cancelled).expect("a result");
        assert!(
            !all.is_empty() && all.windows(2).all(|w| w[0] < w[1]),
            "in the given order"
        );

        // A dropped job is cancelled: it sends nothing, and its result is lost, not waited for.
        let job = Job::start(Arc::new(query), rows);
        let flag = job.cancelled.clone();
        drop(job);
        assert!(flag.load(Ordering::Relaxed));
    }
}
