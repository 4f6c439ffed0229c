//! One filter query, matched yes or no against a row's text exactly as nucleo would match it,
//! but byte-wise: a row's text is folded once (as nucleo folds it: the first char of each
//! grapheme, accents dropped, case lowered when the word ignores case) into a buffer reused
//! from row to row, then each ASCII word is a `memchr` subsequence walk (fuzzy), a `memmem`
//! search (`'exact`), or a comparison at the ends (`^prefix`, `suffix$`, `^whole$`). What this
//! does not cover (a word with Unicode text, an anchored word on a Unicode row) goes to
//! nucleo's own matcher.

use memchr::memmem::Finder;
use nucleo::pattern::{Atom, AtomKind, CaseMatching, Normalization};
use nucleo::{Matcher, Utf32Str};

/// Stands for a char that stays outside ASCII once folded: equal to no needle byte.
const NOT_ASCII: u8 = 0xFF;

/// One word of a query, with what the byte-wise test needs.
struct Word {
    atom: Atom,
    /// The needle's bytes when it is ASCII (nucleo lowercases it when the case is ignored).
    ascii: Option<Box<[u8]>>,
    /// For an `'exact` word: the needle's searcher, built once per query.
    finder: Option<Finder<'static>>,
    /// Smart case: a needle without capitals ignores the case.
    ignore_case: bool,
}

/// A parsed filter query: a row matches when every word does.
pub struct Query {
    words: Vec<Word>,
}

/// What one matching thread reuses from row to row: no allocation per row.
#[derive(Default)]
pub struct Scratch {
    /// The current row folded, by `ignore_case as usize`; `ready` says which are filled.
    folded: [Vec<u8>; 2],
    ready: [bool; 2],
    /// nucleo's view of a Unicode row, for the words nucleo matches itself.
    chars: Vec<char>,
    matcher: Option<Matcher>,
}

impl Scratch {
    /// The current row's text as the byte-wise tests see it.
    fn folded<'a>(&'a mut self, text: &'a str, ignore_case: bool) -> &'a [u8] {
        let which = usize::from(ignore_case);
        if text.is_ascii() && !ignore_case {
            return text.as_bytes();
        }
        if !self.ready[which] {
            fold(text, ignore_case, &mut self.folded[which]);
            self.ready[which] = true;
        }
        &self.folded[which]
    }
}

impl Query {
    pub fn parse(text: &str) -> Query {
        let pattern =
            nucleo::pattern::Pattern::parse(text, CaseMatching::Smart, Normalization::Smart);
        let words = pattern
            .atoms
            .into_iter()
            .map(|atom| {
                let ascii: Option<Box<[u8]>> = match atom.needle_text() {
                    Utf32Str::Ascii(bytes) => Some(Box::from(bytes)),
                    Utf32Str::Unicode(_) => None,
                };
                let finder = ascii
                    .as_deref()
                    .filter(|_| atom.kind == AtomKind::Substring)
                    .map(|needle| Finder::new(needle).into_owned());
                let ignore_case = !atom.needle_text().chars().any(char::is_uppercase);
                Word {
                    atom,
                    ascii,
                    finder,
                    ignore_case,
                }
            })
            .collect();
        Query { words }
    }

    /// Whether `text` passes every word.
    pub fn matches(&self, text: &str, scratch: &mut Scratch) -> bool {
        scratch.ready = [false; 2];
        self.words.iter().all(|word| word.matches(text, scratch))
    }
}

impl Word {
    fn matches(&self, text: &str, scratch: &mut Scratch) -> bool {
        let found = match (&self.ascii, self.atom.kind) {
            (Some(needle), AtomKind::Fuzzy) => {
                is_subsequence(needle, scratch.folded(text, self.ignore_case))
            }
            (Some(_), AtomKind::Substring) => {
                let haystack = scratch.folded(text, self.ignore_case);
                self.finder
                    .as_ref()
                    .is_some_and(|finder| finder.find(haystack).is_some())
            }
            (Some(needle), kind) if text.is_ascii() => {
                anchored(needle, text.as_bytes(), kind, self.ignore_case)
            }
            _ => {
                let matcher = scratch.matcher.get_or_insert_with(Matcher::default);
                // `score` already inverts a negative word.
                return self
                    .atom
                    .score(Utf32Str::new(text, &mut scratch.chars), matcher)
                    .is_some();
            }
        };
        found != self.atom.negative
    }
}

fn is_subsequence(needle: &[u8], haystack: &[u8]) -> bool {
    let mut rest = haystack;
    for &byte in needle {
        match memchr::memchr(byte, rest) {
            Some(at) => rest = &rest[at + 1..],
            None => return false,
        }
    }
    true
}

/// nucleo's prefix, postfix and exact match on an ASCII row: the row's blanks at the anchored
/// ends are skipped unless the needle itself starts (ends) with one.
fn anchored(needle: &[u8], haystack: &[u8], kind: AtomKind, ignore_case: bool) -> bool {
    let (Some(&first), Some(&last)) = (needle.first(), needle.last()) else {
        return true;
    };
    // As nucleo counts them: a row of blanks only has none.
    let leading = if first.is_ascii_whitespace() {
        0
    } else {
        haystack
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0)
    };
    let trailing = if last.is_ascii_whitespace() {
        0
    } else {
        haystack
            .iter()
            .rev()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0)
    };
    let len = haystack.len();
    let range = match kind {
        AtomKind::Prefix if len - leading >= needle.len() => leading..leading + needle.len(),
        AtomKind::Postfix if len - trailing >= needle.len() => {
            len - trailing - needle.len()..len - trailing
        }
        AtomKind::Exact if trailing < len => leading..len - trailing,
        _ => return false,
    };
    let window = &haystack[range];
    window.len() == needle.len()
        && window.iter().zip(needle).all(|(&byte, &want)| {
            let byte = if ignore_case {
                byte.to_ascii_lowercase()
            } else {
                byte
            };
            byte == want
        })
}

fn fold_char(c: char, ignore_case: bool) -> u8 {
    let c = nucleo::chars::normalize(c);
    let c = if ignore_case {
        nucleo::chars::to_lower_case(c)
    } else {
        c
    };
    u8::try_from(c)
        .ok()
        .filter(u8::is_ascii)
        .unwrap_or(NOT_ASCII)
}

fn push_ascii(bytes: &[u8], ignore_case: bool, out: &mut Vec<u8>) {
    if ignore_case {
        out.extend(bytes.iter().map(u8::to_ascii_lowercase));
    } else {
        out.extend_from_slice(bytes);
    }
}

/// `text` as nucleo's matcher sees it, one byte per char, into `out`.
///
/// nucleo takes the first char of each grapheme of a Unicode text; segmenting is slow, so only
/// the stretches around non-ASCII chars are segmented: two ASCII chars side by side always
/// part graphemes (but CR LF, hence a text with a CR is segmented whole), and no rule looks
/// back across one. The ASCII char before a stretch may carry its marks, the one after may
/// follow a prepended mark: both go with it. As nucleo does, a text whose graphemes all start
/// with an ASCII char is matched on its bytes as they are.
fn fold(text: &str, ignore_case: bool, out: &mut Vec<u8>) {
    out.clear();
    let bytes = text.as_bytes();
    if text.is_ascii() {
        push_ascii(bytes, ignore_case, out);
        return;
    }
    let mut unicode = false;
    let mut fold_stretch = |stretch: &str, out: &mut Vec<u8>| {
        for c in nucleo::chars::graphemes(stretch) {
            unicode |= !c.is_ascii();
            out.push(fold_char(c, ignore_case));
        }
    };
    if bytes.contains(&b'\r') {
        fold_stretch(text, out);
    } else {
        let mut at = 0;
        while at < bytes.len() {
            let Some(offset) = bytes[at..].iter().position(|b| !b.is_ascii()) else {
                push_ascii(&bytes[at..], ignore_case, out);
                break;
            };
            let start = (at + offset).saturating_sub(1).max(at);
            push_ascii(&bytes[at..start], ignore_case, out);
            let mut end = at + offset;
            loop {
                while end < bytes.len() && !bytes[end].is_ascii() {
                    end += 1;
                }
                end = (end + 1).min(bytes.len());
                if end == bytes.len() || bytes[end].is_ascii() {
                    break;
                }
            }
            fold_stretch(&text[start..end], out);
            at = end;
        }
    }
    if !unicode {
        out.clear();
        push_ascii(bytes, ignore_case, out);
    }
}

#[cfg(test)]
#[path = "inbox_query_tests.rs"]
mod tests;
