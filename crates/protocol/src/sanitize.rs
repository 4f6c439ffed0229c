//! Untrusted text (names, messages, payloads from backends) must never drive the terminal.
//!
//! `clean` removes escape sequences (CSI, OSC, DCS and friends, in their 7-bit and 8-bit
//! forms), every other C0/C1 control character and DEL, bidirectional controls (which can make
//! text read differently from what it is), and every invisible character: format characters
//! (Unicode category Cf: zero-width space and joiners, word joiner, BOM, soft hyphen, tags...),
//! variation selectors and the other default-ignorable code points. Those occupy no terminal
//! cell, or a cell the terminal and ratatui disagree about, and they make look-alike ids
//! (`us-west` and `us-west\u{200b}`). The line and paragraph separators (U+2028, U+2029) are
//! line breaks: a space in one line, a newline in multi-line text, never a character that
//! shifts the rest of a row. Text that needs no change is borrowed, so the common case costs
//! one scan and no allocation.

use std::borrow::Cow;

/// One line of untrusted text: newlines and tabs become spaces.
pub fn clean(text: &str) -> Cow<'_, str> {
    sanitize(text, false)
}

/// Untrusted text that may span lines: newlines stay, tabs become spaces.
pub fn clean_multiline(text: &str) -> Cow<'_, str> {
    sanitize(text, true)
}

fn sanitize(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| needs_work(c, keep_newlines)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // 8-bit introducers of CSI, OSC, DCS, SOS, PM, APC take a body like their 7-bit forms.
            '\u{9b}' => skip_csi_body(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string_body(&mut chars),
            '\n' | LINE_SEPARATOR | PARAGRAPH_SEPARATOR if keep_newlines => out.push('\n'),
            '\n' | LINE_SEPARATOR | PARAGRAPH_SEPARATOR | '\t' => out.push(' '),
            c if is_dropped(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

const LINE_SEPARATOR: char = '\u{2028}';
const PARAGRAPH_SEPARATOR: char = '\u{2029}';

fn needs_work(c: char, keep_newlines: bool) -> bool {
    match c {
        '\n' => !keep_newlines,
        '\t' | LINE_SEPARATOR | PARAGRAPH_SEPARATOR => true,
        c => is_dropped(c),
    }
}

/// Characters that never reach a terminal cell. `char::is_control` covers C0, DEL and C1.
fn is_dropped(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// Format characters (general category Cf, Unicode 16) and the other default-ignorable code
/// points (variation selectors, Hangul fillers, combining grapheme joiner, unassigned
/// ignorables): all render as nothing or as a blank that is not a space.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{034f}'
            | '\u{0600}'..='\u{0605}'
            | '\u{06dd}'
            | '\u{070f}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08e2}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// After ESC: the sequence's kind decides how far it reaches.
fn skip_escape(chars: &mut Chars<'_>) {
    match chars.next() {
        Some('[') => skip_csi_body(chars),
        Some(']' | 'P' | 'X' | '^' | '_') => skip_string_body(chars),
        // nF sequences: intermediates, then one final byte.
        Some(' '..='/') => {
            while let Some(&c) = chars.peek() {
                chars.next();
                if !(' '..='/').contains(&c) {
                    break;
                }
            }
        }
        // Any other single character after ESC is a two-character sequence, already consumed.
        _ => {}
    }
}

/// CSI: parameter and intermediate bytes, then a final byte in `@`..`~`.
fn skip_csi_body(chars: &mut Chars<'_>) {
    for c in chars.by_ref() {
        // A control character inside a CSI aborts it (and is dropped with it).
        if ('@'..='~').contains(&c) || c.is_control() {
            break;
        }
    }
}

/// OSC, DCS, SOS, PM, APC: everything up to BEL or String Terminator (ESC \ or 0x9C).
fn skip_string_body(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

/// Cuts text to at most `max` characters, marking the cut with an ellipsis.
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    Cow::Owned(out)
}

#[cfg(test)]
#[path = "sanitize_tests.rs"]
mod tests;
