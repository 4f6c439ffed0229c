//! Untrusted text (names, messages, payloads from backends) must never drive the terminal.
//!
//! `clean` removes escape sequences (CSI, OSC, DCS and friends, in their 7-bit and 8-bit
//! forms), every other C0/C1 control character and bidirectional overrides (which can make
//! text read differently from what it is). Text that needs no change is borrowed, so the
//! common case costs one scan and no allocation.

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
            '\n' if keep_newlines => out.push('\n'),
            '\n' | '\t' => out.push(' '),
            c if is_dropped(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_work(c: char, keep_newlines: bool) -> bool {
    match c {
        '\n' => !keep_newlines,
        '\t' => true,
        c => is_dropped(c),
    }
}

fn is_dropped(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
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
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(clean("us-east ok"), Cow::Borrowed(_)));
        assert!(matches!(clean_multiline("a\nb"), Cow::Borrowed(_)));
    }

    #[test]
    fn csi_sequences_are_removed() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m text"), "red text");
        assert_eq!(clean("\u{1b}[2J\u{1b}[Hcleared"), "cleared");
        assert_eq!(clean("a\u{9b}31mb"), "ab");
    }

    #[test]
    fn osc_and_dcs_strings_are_removed_whatever_their_terminator() {
        assert_eq!(clean("\u{1b}]0;pwned title\u{7}after"), "after");
        assert_eq!(
            clean("\u{1b}]8;;http://evil\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "link"
        );
        assert_eq!(clean("\u{1b}Pq#0;2;0;0;0\u{1b}\\x"), "x");
        assert_eq!(clean("\u{9d}52;c;AAAA\u{9c}ok"), "ok");
    }

    #[test]
    fn controls_and_bidi_overrides_are_dropped() {
        assert_eq!(clean("a\u{7}b\u{8}c\rd\u{0}e"), "abcde");
        assert_eq!(clean("abc\u{202e}fed"), "abcfed");
        assert_eq!(clean("one\ntwo\tthree"), "one two three");
        assert_eq!(clean_multiline("one\ntwo\tthree"), "one\ntwo three");
    }

    #[test]
    fn an_unterminated_escape_swallows_only_its_own_tail() {
        assert_eq!(clean("ok\u{1b}"), "ok");
        assert_eq!(clean("ok\u{1b}[12"), "ok");
        assert_eq!(clean("ok\u{1b}]title never ends"), "ok");
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
