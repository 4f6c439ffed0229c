//! The inbox at scale: 100,000 escalated tasks loaded, drawn (and 1,000 for comparison) and
//! filtered until every match is known, the same filter run by fzf on the same lines in the
//! same run for comparison, and the latency of each typed key of a filter (from the key to
//! the drawn frame that shows it) while matching runs in the background.
//! Run: `cargo bench --bench inbox` (fzf on PATH for the comparison; skipped without it).
//! Memory: `benches/inbox_memory.rs`.
//!
//! Issue 9, release, 2 cores shared with other builds (before at load ~9-10, after ~5):
//! filter until every match is known / fzf in the same run, before -> after:
//! credit-decision 305/1988 ms 0.15x -> 46.0/1168 ms 0.04x; validator-failed 283/2040 0.14x
//! -> 47.7/718 0.07x; merchant=CryptoBridge 202/351 0.58x -> 20.6/143 0.14x; riskpaymnt gbp
//! 397/1514 0.26x -> 27.1/518 0.05x; 'esc-054321 398/345 1.16x -> 23.5/121 0.19x.
//! Key to frame (154 keys): p50 20.7 / p90 36.1 / p99 52.1 ms -> 0.67 / 2.4 / 8.8 ms (update
//! p99 0.1 ms); key to the frame with all matches p50 14.9 / p99 40 ms; the matches' message
//! to its frame p99 2.4 ms.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::escalations::EscalationSummary;
use switchboard::app::{App, Msg, View, filter_text};
use switchboard::sources::SourceEvent;
use switchboard::testing::{
    default_fleet, escalation_queue, escalation_summaries, escalations_loaded,
    from_source as source, lab_app, settle_filter, small_fleet,
};

const TASKS: usize = 100_000;
/// Queries an operator types: a service, a reason, an input field, a fuzzy mix, an id.
const QUERIES: [&str; 5] = [
    "credit-decision",
    "validator-failed",
    "merchant=CryptoBridge",
    "riskpaymnt gbp",
    "'esc-054321",
];

fn tasks() -> Vec<EscalationSummary> {
    let started = Instant::now();
    let summaries = escalation_summaries(&escalation_queue(7, TASKS));
    eprintln!(
        "generated {} tasks with the lab's backlog generator in {:?}",
        summaries.len(),
        started.elapsed()
    );
    summaries
}

fn inbox_app(width: u16, height: u16, summaries: &[EscalationSummary]) -> App {
    let mut app = lab_app(width, height, Instant::now());
    app.update(source(SourceEvent::Snapshot(small_fleet())));
    app.update(escalations_loaded(summaries.to_vec()));
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('5'),
        KeyModifiers::NONE,
    )));
    app
}

fn load_and_render(c: &mut Criterion) {
    let summaries = tasks();
    c.bench_function("load 100k tasks into the inbox", |b| {
        b.iter_batched(
            || (lab_app(160, 48, Instant::now()), summaries.clone()),
            |(mut app, page)| app.update(escalations_loaded(page)),
            BatchSize::LargeInput,
        )
    });
    let (theme, _) = switchboard::theme::load("dark", false);
    for (tasks, width, height) in [(TASKS, 80u16, 24u16), (TASKS, 160, 48), (1_000, 160, 48)] {
        let app = inbox_app(width, height, &summaries[..tasks]);
        assert_eq!(app.inbox.open_count(), tasks);
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        let name = format!("render inbox of {}k {width}x{height}", tasks / 1000);
        c.bench_function(&name, |b| {
            b.iter(|| {
                terminal
                    .draw(|frame| {
                        switchboard::views::draw(&app, &theme, frame);
                    })
                    .unwrap();
            })
        });
    }
}

/// The Cost view counts the open tasks of each workflow step on every frame it draws.
fn cost_view(c: &mut Criterion) {
    let summaries = tasks();
    let (theme, _) = switchboard::theme::load("dark", false);
    // The lab's default fleet: its services carry a posture, so the Cost view is there.
    let mut app = lab_app(160, 48, Instant::now());
    app.update(source(SourceEvent::Snapshot(default_fleet())));
    app.update(escalations_loaded(summaries));
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('9'),
        KeyModifiers::NONE,
    )));
    assert_eq!((app.view, app.inbox.open_count()), (View::Cost, TASKS));
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    c.bench_function("render the Cost view with 100k open tasks 160x48", |b| {
        b.iter(|| {
            terminal
                .draw(|frame| {
                    switchboard::views::draw(&app, &theme, frame);
                })
                .unwrap();
        })
    });
}

fn filter(c: &mut Criterion) {
    let summaries = tasks();
    let mut app = inbox_app(160, 48, &summaries);
    // The first query starts the matcher and hands it every task once.
    let started = Instant::now();
    app.inbox.set_query("warm");
    settle_filter(&mut app);
    eprintln!("matcher started with 100k tasks in {:?}", started.elapsed());

    let lines: String = summaries.iter().map(|s| filter_text(s) + "\n").collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file().write_all(lines.as_bytes()).unwrap();
    let fzf = Command::new("fzf").arg("--version").output().is_ok();
    if !fzf {
        eprintln!("fzf is not on PATH: the comparison with fzf is skipped (apt-get install fzf)");
    }

    let mut figures = Vec::new();
    for query in QUERIES {
        app.inbox.set_query("");
        app.inbox.set_query(query);
        settle_filter(&mut app);
        let ours = app.inbox.rows().len();
        c.bench_function(&format!("nucleo filter 100k {query:?}"), |b| {
            b.iter(|| {
                app.inbox.set_query("");
                app.inbox.set_query(query);
                settle_filter(&mut app);
            })
        });
        let fzf_count = fzf.then(|| {
            let run = || {
                let out = Command::new("fzf")
                    .args(["--filter", query])
                    .stdin(Stdio::from(std::fs::File::open(file.path()).unwrap()))
                    .output()
                    .expect("fzf runs");
                out.stdout.iter().filter(|b| **b == b'\n').count()
            };
            let count = run();
            c.bench_function(&format!("fzf --filter 100k {query:?}"), |b| b.iter(run));
            count
        });
        figures.push((query, ours, fzf_count));
    }
    for (query, ours, theirs) in figures {
        match theirs {
            Some(theirs) => eprintln!("{query:?}: console matches {ours}, fzf matches {theirs}"),
            None => eprintln!("{query:?}: console matches {ours}"),
        }
    }
}

/// The p50, p90, p99 and max of `times`.
fn percentiles(times: &mut [Duration]) -> String {
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    format!(
        "p50 {:?} p90 {:?} p99 {:?} max {:?}",
        at(0.5),
        at(0.9),
        at(0.99),
        times[times.len() - 1]
    )
}

/// Types each query at 120 ms a key, as an operator does, with the console's loop between
/// keys: woken by the match's own message (`Msg::FilterMatched`), or by the 250 ms tick.
/// Measures from each key to the end of the frame that shows it, the part of it spent in
/// `update`, and from a key to the frame with all its matches (when no key came first).
fn keystroke_latency(_: &mut Criterion) {
    let summaries = tasks();
    let mut app = inbox_app(160, 48, &summaries);
    let (woken, wakes) = std::sync::mpsc::channel();
    app.inbox.wake_on_matches(std::sync::Arc::new(move || {
        let _ = woken.send(Msg::FilterMatched);
    }));
    let (theme, _) = switchboard::theme::load("dark", false);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let mut draw = |app: &App| {
        terminal
            .draw(|frame| {
                switchboard::views::draw(app, &theme, frame);
            })
            .unwrap();
    };
    let key = |code| Msg::Key(KeyEvent::new(code, KeyModifiers::NONE));
    let (mut key_to_frame, mut in_update, mut key_to_matches, mut message_to_frame) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..2 {
        for query in QUERIES {
            app.update(key(KeyCode::Char('/')));
            for c in query.chars() {
                let pressed = Instant::now();
                app.update(key(KeyCode::Char(c)));
                in_update.push(pressed.elapsed());
                draw(&app);
                key_to_frame.push(pressed.elapsed());
                assert!(app.filter_query().ends_with(c));
                let next_key = pressed + Duration::from_millis(120);
                while let Some(left) = next_key.checked_duration_since(Instant::now()) {
                    let msg = match wakes.recv_timeout(left.min(Duration::from_millis(250))) {
                        Ok(msg) => msg,
                        Err(_) => Msg::Tick {
                            now: Instant::now(),
                            wall: app.wall,
                        },
                    };
                    let woken = Instant::now();
                    app.update(msg);
                    draw(&app);
                    if !app.inbox.matching() && key_to_matches.len() < key_to_frame.len() {
                        message_to_frame.push(woken.elapsed());
                        key_to_matches.push(pressed.elapsed());
                    }
                }
            }
            app.update(key(KeyCode::Esc));
        }
    }
    let keys = key_to_frame.len();
    eprintln!(
        "key to frame while filtering 100k ({keys} keys, 120 ms apart): {}",
        percentiles(&mut key_to_frame)
    );
    eprintln!("  of which update: {}", percentiles(&mut in_update));
    eprintln!(
        "key to the frame with all its matches ({} of {keys} keys, the others cancelled by the next): {}",
        key_to_matches.len(),
        percentiles(&mut key_to_matches)
    );
    eprintln!(
        "  the matches' message to its frame: {}",
        percentiles(&mut message_to_frame)
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    targets = load_and_render, cost_view, filter, keystroke_latency
}
criterion_main!(benches);
