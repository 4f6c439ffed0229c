//! What the fuzz targets share: a console to feed decoded data to, a terminal-safety check of
//! what it draws, the forbidden-character rule, byte chunkings and a reference SSE framer.

use std::sync::LazyLock;
use std::time::Instant;

use finl_unicode::categories::CharacterCategories;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use switchboard::app::{App, Msg};
use switchboard::sources::SourceEvent;
use switchboard::testing::{from_source, key, lab_app, small_fleet};
use switchboard::theme::{self, Theme};

/// One runtime for every execution: `parse_events` needs tokio's timer.
pub static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime")
});

static THEME: LazyLock<Theme> = LazyLock::new(|| theme::load("dark", false).0);

/// Characters that must never reach a terminal cell: C0, DEL and C1 controls, bidirectional
/// controls, format characters (Cf: zero-width, joiners, BOM, tags...), variation selectors and
/// the line and paragraph separators. Judged from the Unicode tables, independently of
/// `protocol::sanitize`'s own list.
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || c.is_format()
        || c.is_separator_line()
        || c.is_separator_paragraph()
        || matches!(c, '\u{fe00}'..='\u{fe0f}' | '\u{e0100}'..='\u{e01ef}' | '\u{180b}'..='\u{180f}')
}

/// The console at a size chosen by `shape`, as alice (admin) with the small fleet loaded.
pub fn console(shape: u8) -> App {
    let (width, height) = match shape % 3 {
        0 => (80, 24),
        1 => (120, 40),
        _ => (60, 16),
    };
    let mut app = lab_app(width, height, Instant::now());
    app.update(from_source(SourceEvent::Identity(protocol::WhoAmI {
        name: "alice".into(),
        role: protocol::Role::Admin,
    })));
    app.update(from_source(SourceEvent::Snapshot(small_fleet())));
    app
}

/// Shows `view` (the keys `1`..`5`), draws it, hands the screen map back as the runner does,
/// and checks that no cell holds a character a terminal must not receive.
pub fn draw_view(app: &mut App, view: u8) {
    let digit = char::from(b'1' + view % 5);
    app.update(key(crossterm::event::KeyCode::Char(digit)));
    let buffer = draw(app);
    assert_terminal_safe(&buffer);
}

/// Draws `app` once and gives it the frame's report; returns what was drawn.
pub fn draw(app: &mut App) -> Buffer {
    let area = app.area;
    let mut terminal =
        Terminal::new(TestBackend::new(area.width, area.height)).expect("a test terminal");
    let mut map = Default::default();
    terminal
        .draw(|frame| map = switchboard::views::draw(app, &THEME, frame))
        .expect("drawing on a test backend");
    app.update(Msg::Drawn(map));
    terminal.backend().buffer().clone()
}

/// Panics, naming the cell, when a drawn cell holds a forbidden character.
pub fn assert_terminal_safe(buffer: &Buffer) {
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            let symbol = buffer[(x, y)].symbol();
            if let Some(c) = symbol.chars().find(|&c| is_forbidden(c)) {
                panic!("cell ({x}, {y}) holds U+{:04X} in {symbol:?}", u32::from(c));
            }
        }
    }
}

/// Cuts `bytes` into chunks of 1 to 16 bytes, their sizes drawn from `seed`, so that two seeds
/// give two different cuts of the same stream.
pub fn chunked(bytes: &[u8], seed: u8) -> Vec<Vec<u8>> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let mut chunks = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let size = ((state >> 16) % 16 + 1) as usize;
        let (head, tail) = rest.split_at(size.min(rest.len()));
        chunks.push(head.to_vec());
        rest = tail;
    }
    chunks
}

/// One frame of an event stream as the HTML standard's parser reads it: its event name and
/// its data, for each frame that the standard dispatches.
#[derive(Debug, PartialEq)]
pub struct Frame {
    pub event: String,
    pub data: String,
}

/// The frames of `text` per the HTML standard (9.2.6, interpreting an event stream): lines end
/// at CRLF, LF or CR; a blank line dispatches the frame when its data buffer is not empty;
/// `data` lines join with LF; a leading BOM is dropped; a frame the stream cut off before its
/// blank line is dropped.
pub fn reference_frames(text: &str) -> Vec<Frame> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut frames = Vec::new();
    let (mut event, mut data) = (String::new(), String::new());
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\r', '\n']);
        let (line, after) = match end {
            Some(i) => {
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                (&rest[..i], &rest[i + skip..])
            }
            None => (rest, ""),
        };
        let complete = end.is_some();
        rest = after;
        if !complete {
            // The last line has no end: the standard never processes it.
            break;
        }
        if line.is_empty() {
            if !data.is_empty() {
                data.pop();
                frames.push(Frame {
                    event: if event.is_empty() {
                        "message".into()
                    } else {
                        event.clone()
                    },
                    data: data.clone(),
                });
            }
            (event, data) = (String::new(), String::new());
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => event = value.to_string(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            _ => {}
        }
    }
    frames
}

/// Checks a `file:line:column` error of a file the lab reads: the position lies inside `text`
/// (1-based, columns in characters) and the reason is safe to print on one line.
pub fn assert_located(text: &str, error: &lab::config_error::ConfigError) {
    let lines: Vec<&str> = text.split('\n').collect();
    let (line, column) = (error.line, error.column);
    assert!(
        (1..=lines.len()).contains(&line),
        "line {line} outside the file: {error:?}"
    );
    let width = lines[line - 1].chars().count();
    assert!(
        (1..=width + 1).contains(&column),
        "column {column} outside line {line}: {error:?}"
    );
    assert!(
        !error.reason.chars().any(is_forbidden),
        "unsafe reason: {error:?}"
    );
}
