//! `protocol::sanitize` on arbitrary text.
//!
//! Properties: the one-line form holds no control (C0, DEL, C1), bidi, format (Cf),
//! zero-width, variation-selector, line or paragraph separator character; the multi-line form
//! holds none either but LF; cleaning twice changes nothing; text that needs no change comes
//! back as it was, unchanged and not copied.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use protocol::sanitize::{clean, clean_multiline};
use switchboard_fuzz::is_forbidden;

fuzz_target!(|text: &str| {
    let line = clean(text);
    if let Some(c) = line.chars().find(|&c| is_forbidden(c)) {
        panic!("clean left U+{:04X} in {line:?}", u32::from(c));
    }
    assert_eq!(clean(&line), line, "cleaning twice changed the text");
    if text.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        assert!(
            matches!(line, Cow::Borrowed(t) if t == text),
            "plain text was changed"
        );
    }

    let lines = clean_multiline(text);
    if let Some(c) = lines.chars().find(|&c| c != '\n' && is_forbidden(c)) {
        panic!("clean_multiline left U+{:04X} in {lines:?}", u32::from(c));
    }
    assert_eq!(
        clean_multiline(&lines),
        lines,
        "cleaning twice changed the text"
    );
});
