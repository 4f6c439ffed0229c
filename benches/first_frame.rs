//! How soon the console shows its first frame, with and without a backlog of escalations in
//! the embedded lab; when the backlog is in view (the status bar's `✉ N`); whether its
//! loading showed progress on the way; and the resident memory of the one process (embedded
//! lab and console) once it is all loaded. Runs the release binary in tmux (needed) at
//! 120x40. Run: `cargo bench --bench first_frame`; `SWITCHBOARD_BIN=path` measures another
//! build of the binary (an older one, to compare).

use std::process::Command;
use std::time::{Duration, Instant};

const BACKLOG: usize = 100_000;
const RUNS: usize = 3;
const GIVE_UP: Duration = Duration::from_secs(30);
/// Once the backlog is in view, memory is read after this (what loading freed is returned).
const SETTLE: Duration = Duration::from_secs(1);
/// Its own tmux server, so the bench never touches the user's sessions.
const SOCKET: &str = "switchboard-first-frame";
/// Times a tmux session is asked for before the bench gives up.
const NEW_SESSION_TRIES: usize = 5;
/// What the status bar says while the inbox loads.
const PROGRESS: &str = " loading ";

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

/// A line of /proc/PID/status in MB, e.g. `VmRSS`.
fn proc_status_mb(pid: &str, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1_000_000.0)
}

#[derive(Default)]
struct Run {
    first: f64,
    in_view: Option<f64>,
    /// Distinct progress texts seen before the backlog was in view.
    progress_frames: usize,
    /// RSS and peak RSS once loaded.
    rss_mb: Option<(f64, f64)>,
}

/// One start of the console: seconds to the first frame, and to `backlog` tasks in view.
fn run(binary: &str, args: &[&str], backlog: Option<usize>) -> Run {
    let home = tempfile::tempdir().unwrap();
    let session = format!("first-frame-{}", std::process::id());
    // `exec`: the pane's process is the console itself, whose memory is read.
    let command = format!(
        "HOME={} exec {binary} {}",
        home.path().display(),
        args.join(" ")
    );
    let mut start = Instant::now();
    let mut refused = None;
    // The previous run's session ending stops the tmux server; a session created in that
    // moment hears "server exited unexpectedly": ask again.
    for _ in 0..NEW_SESSION_TRIES {
        start = Instant::now();
        let answer = Command::new("tmux")
            .args(["-L", SOCKET, "new-session", "-d", "-s", &session])
            .args(["-x", "120", "-y", "40", command.as_str()])
            .output()
            .expect("tmux is installed");
        if answer.status.success() {
            refused = None;
            break;
        }
        refused = Some(String::from_utf8_lossy(&answer.stderr).into_owned());
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(error) = refused {
        panic!("tmux new-session: {error}");
    }
    let pid = tmux(&["display-message", "-p", "-t", &session, "#{pane_pid}"])
        .trim()
        .to_string();
    let mut result = Run::default();
    let (mut first, mut last_progress) = (None, String::new());
    while start.elapsed() < GIVE_UP
        && (first.is_none() || (backlog.is_some() && result.in_view.is_none()))
    {
        let screen = tmux(&["capture-pane", "-p", "-t", &session]);
        let at = start.elapsed().as_secs_f64();
        if first.is_none() && screen.contains("Switchboard") {
            first = Some(at);
        }
        if let Some(line) = screen.lines().find(|l| l.contains(PROGRESS))
            && line != last_progress
        {
            result.progress_frames += 1;
            last_progress = line.to_string();
        }
        if backlog.is_some_and(|wanted| open_tasks(&screen).is_some_and(|n| n >= wanted)) {
            result.in_view = Some(at);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if result.in_view.is_some() {
        std::thread::sleep(SETTLE);
        result.rss_mb = proc_status_mb(&pid, "VmRSS:").zip(proc_status_mb(&pid, "VmHWM:"));
    }
    let last = tmux(&["capture-pane", "-p", "-t", &session]);
    tmux(&["kill-session", "-t", &session]);
    result.first = first.unwrap_or_else(|| panic!("no frame in {GIVE_UP:?}; screen:\n{last}"));
    result
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let binary = std::env::var("SWITCHBOARD_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_switchboard").into());
    println!("{binary}; load average {}", load_average());
    let empty = median(
        (0..RUNS)
            .map(|_| run(&binary, &["--lab"], None).first)
            .collect(),
    );
    println!("first frame, no backlog: {empty:.3} s (median of {RUNS})");
    let count = BACKLOG.to_string();
    let runs: Vec<Run> = (0..RUNS)
        .map(|_| run(&binary, &["--lab", "--escalations", &count], Some(BACKLOG)))
        .collect();
    let first = median(runs.iter().map(|r| r.first).collect());
    println!(
        "first frame, --escalations {BACKLOG}: {first:.3} s ({:.2}x without; goal <= 1.2x)",
        first / empty
    );
    match runs.iter().map(|r| r.in_view).collect::<Option<Vec<f64>>>() {
        Some(times) => {
            let in_view = median(times);
            println!(
                "backlog in view ({BACKLOG} tasks): {in_view:.3} s after start, {:.3} s after the first frame (goal <= 0.5 s)",
                in_view - first
            );
        }
        None => println!("backlog not in view within {} s", GIVE_UP.as_secs()),
    }
    let progress: Vec<usize> = runs.iter().map(|r| r.progress_frames).collect();
    println!("progress texts seen while loading, per run: {progress:?}");
    if let Some(memory) = runs.iter().map(|r| r.rss_mb).collect::<Option<Vec<_>>>() {
        let rss = median(memory.iter().map(|m| m.0).collect());
        let peak = median(memory.iter().map(|m| m.1).collect());
        println!(
            "embedded lab + console with {BACKLOG} loaded: RSS {rss:.1} MB, peak {peak:.1} MB (goal <= 120 MB)"
        );
    }
    println!("load average {}", load_average());
}
