//! How soon the console shows its first frame, with and without a backlog of escalations in
//! the embedded lab, and when the backlog is in view (the status bar's `✉ N`). Runs the
//! release binary in tmux (needed) at 120x40. Run: `cargo bench --bench first_frame`.

use std::process::Command;
use std::time::{Duration, Instant};

use switchboard::sources::paging::{MAX_PAGES, PAGE_SIZE};

const BACKLOG: usize = 100_000;
const RUNS: usize = 3;
const GIVE_UP: Duration = Duration::from_secs(30);
/// Its own tmux server, so the bench never touches the user's sessions.
const SOCKET: &str = "switchboard-first-frame";

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(["-L", SOCKET])
        .args(args)
        .output()
        .expect("tmux is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The open-task count in the status bar, once there is one.
fn open_tasks(screen: &str) -> Option<usize> {
    let after = screen.split('✉').nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

/// Seconds to the first frame, and to `backlog` tasks in view when asked for.
fn run(args: &[&str], backlog: Option<usize>) -> (f64, Option<f64>) {
    let home = tempfile::tempdir().unwrap();
    let session = format!("first-frame-{}", std::process::id());
    let command = format!(
        "HOME={} {} {}",
        home.path().display(),
        env!("CARGO_BIN_EXE_switchboard"),
        args.join(" ")
    );
    let start = Instant::now();
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);
    let (mut first, mut in_view) = (None, None);
    while start.elapsed() < GIVE_UP && (first.is_none() || (backlog.is_some() && in_view.is_none()))
    {
        let screen = tmux(&["capture-pane", "-p", "-t", &session]);
        let at = start.elapsed().as_secs_f64();
        if first.is_none() && screen.contains("Switchboard") {
            first = Some(at);
        }
        if backlog.is_some_and(|wanted| open_tasks(&screen).is_some_and(|n| n >= wanted)) {
            in_view = Some(at);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let last = tmux(&["capture-pane", "-p", "-t", &session]);
    tmux(&["kill-session", "-t", &session]);
    let first = first.unwrap_or_else(|| panic!("no frame in {GIVE_UP:?}; screen:\n{last}"));
    (first, in_view)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let empty = median((0..RUNS).map(|_| run(&["--lab"], None).0).collect());
    println!("first frame, no backlog: {empty:.3} s (median of {RUNS})");
    // One load reads at most this many: what "the backlog in view" can mean today.
    let loadable = BACKLOG.min(MAX_PAGES * PAGE_SIZE as usize);
    let count = BACKLOG.to_string();
    let runs: Vec<(f64, Option<f64>)> = (0..RUNS)
        .map(|_| run(&["--lab", "--escalations", &count], Some(loadable)))
        .collect();
    let first = median(runs.iter().map(|r| r.0).collect());
    println!(
        "first frame, --escalations {BACKLOG}: {first:.3} s ({:.1}x without; goal <= 1.2x)",
        first / empty
    );
    match runs.iter().map(|r| r.1).collect::<Option<Vec<f64>>>() {
        Some(times) => {
            let in_view = median(times);
            println!(
                "backlog in view ({loadable} tasks): {in_view:.3} s after start, {:.3} s after the first frame",
                in_view - first
            );
        }
        None => println!("backlog not in view within {} s", GIVE_UP.as_secs()),
    }
}
