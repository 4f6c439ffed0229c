use std::sync::{Arc, Mutex};

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::{Terminal, TerminalOptions, Viewport};

use super::*;

const BEGIN: &[u8] = b"\x1b[?2026h";
const END: &[u8] = b"\x1b[?2026l";

/// Every `write` call the terminal receives, one entry each.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

impl Recorder {
    fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Write for Recorder {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().push(bytes.to_vec());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn terminal(width: u16, height: u16) -> (Terminal<FrameBackend<Recorder>>, Recorder) {
    let recorder = Recorder::default();
    let options = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, width, height)),
    };
    let terminal = Terminal::with_options(FrameBackend::new(recorder.clone()), options).unwrap();
    (terminal, recorder)
}

fn draw(terminal: &mut Terminal<FrameBackend<Recorder>>, text: &str) {
    terminal
        .draw(|frame| {
            let lines: Vec<Line> = (0..frame.area().height)
                .map(|row| Line::from(format!("{text}-{row}")))
                .collect();
            frame.render_widget(Paragraph::new(lines), frame.area());
        })
        .unwrap();
}

#[test]
fn a_full_frame_is_one_write_inside_a_synchronized_update() {
    let (mut terminal, recorder) = terminal(80, 24);
    draw(&mut terminal, "first-frame");
    let writes = recorder.take();
    assert_eq!(writes.len(), 1, "one write for the whole first frame");
    let frame = &writes[0];
    assert!(
        frame.len() > ATOMIC_FRAME,
        "the frame is {} bytes",
        frame.len()
    );
    assert!(frame.starts_with(BEGIN), "opens the synchronized update");
    assert!(frame.ends_with(END), "closes it");
    let text = String::from_utf8_lossy(frame);
    assert!(text.contains("first-frame-23"), "the whole frame is in it");
    assert!(
        text.contains("\x1b[?25l"),
        "the cursor is hidden in the same write"
    );
}

#[test]
fn an_unchanged_frame_writes_nothing() {
    let (mut terminal, recorder) = terminal(80, 24);
    draw(&mut terminal, "same");
    recorder.take();
    draw(&mut terminal, "same");
    assert!(recorder.take().is_empty(), "nothing changed, nothing sent");
}

#[test]
fn a_small_change_is_one_short_write_and_the_cursor_is_not_hidden_again() {
    let (mut terminal, recorder) = terminal(80, 24);
    draw(&mut terminal, "clock 12:00:01");
    recorder.take();
    draw(&mut terminal, "clock 12:00:02");
    let writes = recorder.take();
    assert_eq!(writes.len(), 1);
    let text = String::from_utf8_lossy(&writes[0]);
    assert!(!text.contains("\x1b[?25l"), "already hidden: {text:?}");
    assert!(!text.contains("\x1b[?2026"), "too short to tear: {text:?}");
    // 24 rows changed one digit each.
    assert!(writes[0].len() <= ATOMIC_FRAME, "{} bytes", writes[0].len());
}

#[test]
fn bytes_written_between_frames_go_out_on_flush() {
    let (mut terminal, recorder) = terminal(20, 2);
    draw(&mut terminal, "x");
    recorder.take();
    let backend = terminal.backend_mut();
    backend.write_all(b"\x1b]9;ping\x07").unwrap();
    assert!(recorder.take().is_empty(), "kept until the flush");
    Write::flush(backend).unwrap();
    assert_eq!(recorder.take(), vec![b"\x1b]9;ping\x07".to_vec()]);
}
