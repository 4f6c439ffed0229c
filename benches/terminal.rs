//! What the console sends to the terminal: writes per frame, bytes per frame, bytes per
//! second on a live fleet view and on an idle screen where only the clock changes.
//! Run: `cargo bench --bench terminal`. Prints figures (no criterion: they are counts).
//!
//! Issue 9 on the 2-core machine (release, 120x40): the fleet view on a live lab whose
//! metrics stay within their deadbands (a clock-only delta every 2 s, charts on screen)
//! 833.0 -> 46.3 B/s (load 10.1 -> 10.0): the status bar's revision, the detail pane's age
//! and the charts' time axis no longer move with the clock-only deltas; 90 frames, 60 writes
//! (a frame that changes nothing writes nothing).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use protocol::{FleetDelta, FleetSnapshot};
use switchboard::app::{App, Msg};
use switchboard::sources::SourceEvent;
use switchboard::terminal::FrameBackend;
use switchboard::testing::{default_fleet, fixture_wall, from_source as source, key, lab_app};
use switchboard::theme::Theme;

const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;
/// The console's tick: the clock and the ages move on it.
const TICK: Duration = Duration::from_millis(250);

/// Counts the writes and bytes the terminal receives.
#[derive(Clone, Default)]
struct Meter(Arc<Mutex<(usize, usize)>>);

impl Meter {
    fn take(&self) -> (usize, usize) {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Write for Meter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut counts = self.0.lock().unwrap();
        counts.0 += 1;
        counts.1 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A console drawing into a [`Meter`] the way the runner does: a frame after every message.
struct Console {
    app: App,
    theme: Theme,
    terminal: Terminal<FrameBackend<Meter>>,
    meter: Meter,
    start: Instant,
    frames: usize,
}

impl Console {
    fn new() -> Self {
        let start = Instant::now();
        let meter = Meter::default();
        let options = TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, WIDTH, HEIGHT)),
        };
        let terminal = Terminal::with_options(FrameBackend::new(meter.clone()), options).unwrap();
        Console {
            app: lab_app(WIDTH, HEIGHT, start),
            theme: switchboard::theme::load("dark", false).0,
            terminal,
            meter,
            start,
            frames: 0,
        }
    }

    fn handle(&mut self, msg: Msg) {
        self.app.update(msg);
        if self.app.dirty {
            let (app, theme) = (&self.app, &self.theme);
            let mut map = Default::default();
            self.terminal
                .draw(|frame| map = switchboard::views::draw(app, theme, frame))
                .unwrap();
            self.app.dirty = false;
            self.app.update(Msg::Drawn(map));
            self.frames += 1;
        }
    }

    fn tick(&mut self, at: Duration) {
        self.handle(Msg::Tick {
            now: self.start + at,
            wall: fixture_wall() + at,
        });
    }
}

/// A delta like the lab's simulation sends every tick: the latencies move.
fn moving_delta(snapshot: &FleetSnapshot, step: u64) -> FleetDelta {
    let mut regions = snapshot.regions.clone();
    for region in &mut regions {
        region.latency.p95_ms += (step % 13) as f64 * 7.0;
        region.latency.p50_ms += (step % 5) as f64 * 3.0;
    }
    FleetDelta {
        revision: snapshot.revision + step,
        generated_at: snapshot.generated_at + chrono::Duration::milliseconds(250 * step as i64),
        regions,
        ..FleetDelta::default()
    }
}

fn per_second(bytes: usize, span: Duration) -> f64 {
    bytes as f64 / span.as_secs_f64()
}

/// Draws `ticks` ticks after `from`; returns the bytes per second the terminal received.
fn idle(console: &mut Console, from: Duration, span: Duration) -> (f64, usize, usize) {
    console.tick(from);
    console.meter.take();
    let frames_before = console.frames;
    for step in 1..=(span.as_millis() / TICK.as_millis()) as u32 {
        console.tick(from + TICK * step);
    }
    let (writes, bytes) = console.meter.take();
    (
        per_second(bytes, span),
        console.frames - frames_before,
        writes,
    )
}

fn main() {
    let idle_span = Duration::from_secs(60);
    // Only the clock changes: the console waits for its source's first answer.
    let mut console = Console::new();
    let (rate, frames, writes) = idle(&mut console, Duration::ZERO, idle_span);
    println!(
        "idle, only the clock changing: {rate:.1} B/s ({frames} frames, {writes} writes in {}s)",
        idle_span.as_secs()
    );

    let snapshot = default_fleet();
    let mut console = Console::new();
    console.handle(source(SourceEvent::Snapshot(snapshot.clone())));
    let (writes, bytes) = console.meter.take();
    println!("first frame, fleet view {WIDTH}x{HEIGHT}: {writes} write(s), {bytes} bytes");

    // The fleet view while the lab's simulation moves: one delta and one tick every 250 ms.
    let span = Duration::from_secs(30);
    let ticks = (span.as_millis() / TICK.as_millis()) as u64;
    let frames_before = console.frames;
    for step in 1..=ticks {
        console.handle(source(SourceEvent::Delta(moving_delta(&snapshot, step))));
        console.tick(TICK * step as u32);
    }
    let (writes, bytes) = console.meter.take();
    let frames = console.frames - frames_before;
    println!(
        "fleet view, live deltas 4/s: {:.0} B/s, {frames} frames, {writes} writes, {:.0} bytes/frame",
        per_second(bytes, span),
        bytes as f64 / frames.max(1) as f64
    );

    // The fleet view on a live lab whose metrics stay within their deadbands: the lab sends
    // only a clock-only delta (revision and time) every 2 seconds.
    let span = Duration::from_secs(60);
    let from = TICK * ticks as u32;
    let last = moving_delta(&snapshot, ticks);
    console.tick(from);
    console.meter.take();
    let frames_before = console.frames;
    let quiet_ticks = (span.as_millis() / TICK.as_millis()) as u64;
    for step in 1..=quiet_ticks {
        if step % 8 == 0 {
            console.handle(source(SourceEvent::Delta(FleetDelta {
                revision: last.revision + step / 8,
                generated_at: last.generated_at + chrono::Duration::milliseconds(250 * step as i64),
                ..FleetDelta::default()
            })));
        }
        console.tick(from + TICK * step as u32);
    }
    let (writes, bytes) = console.meter.take();
    println!(
        "fleet view, live lab with steady metrics (a clock-only delta every 2 s): {:.1} B/s, {} frames, {writes} writes",
        per_second(bytes, span),
        console.frames - frames_before
    );

    // The source falls silent: the inbox marks the last data with its age, second by second.
    console.handle(key(KeyCode::Char('5')));
    let (rate, frames, writes) = idle(
        &mut console,
        from + span + Duration::from_secs(10),
        idle_span,
    );
    println!(
        "inbox, silent source (clock and data ages changing): {rate:.1} B/s ({frames} frames, {writes} writes)"
    );
}
