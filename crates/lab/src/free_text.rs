//! Free text a caller sends (command reasons, notes, reject reasons, submitted outputs) is
//! kept and shown to other operators, so it must arrive printable: refused with what is
//! wrong, never stored with control, escape, bidi or invisible characters, and never cleaned
//! silently into something its sender did not write.

use protocol::sanitize;

/// Whether a field may span lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// Refuses `text` unless sanitizing it would change nothing; the error names `field`.
pub fn check_printable(field: &str, text: &str, lines: Lines) -> Result<(), String> {
    let cleaned = match lines {
        Lines::One => sanitize::clean(text),
        Lines::Many => sanitize::clean_multiline(text),
    };
    if cleaned == text {
        return Ok(());
    }
    Err(match lines {
        Lines::One => format!("the {field} must be one line of printable text"),
        Lines::Many => format!(
            "the {field} must be printable text: no control, escape, tab or invisible characters"
        ),
    })
}
