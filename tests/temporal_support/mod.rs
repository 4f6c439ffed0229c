//! A real Temporal dev server and the reference worker (assets/temporal/) on 127.0.0.1, for
//! the Temporal test suites. Both come from the Python venv that `.ci/run` installs
//! (`$SWITCHBOARD_TEMPORAL_VENV`, by default `~/.cache/switchboard/temporal-venv`). Without
//! it a test is skipped with a loud message, except under `CI=1`, where it fails.
//!
//! The server listens on free ports with the contract's search attributes registered and keeps
//! its SQLite file in a temporary directory, so that it can be stopped and started again with
//! its workflows. Everything started is stopped by its PID when the value is dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "../process_support/mod.rs"]
mod process_support;

use switchboard::testing::{free_port, missing_system};

/// Bound on every wait, so that a broken server fails the test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(30);
/// How many sets of ports the first start of a dev server tries.
const PORT_ATTEMPTS: usize = 3;

/// The contract's search attributes (docs/temporal.md) with their types.
pub const SEARCH_ATTRIBUTES: [&str; 6] = [
    "SwitchboardState=Keyword",
    "SwitchboardPriority=Keyword",
    "SwitchboardDeadline=Datetime",
    "SwitchboardService=Keyword",
    "SwitchboardReason=Keyword",
    "SwitchboardAssignee=Keyword",
];

pub struct TemporalDev {
    venv: PathBuf,
    dir: tempfile::TempDir,
    server: Option<Child>,
    worker: Option<Child>,
    grpc_port: u16,
    http_port: u16,
    metrics_port: u16,
}

/// The venv, or `None` (after saying so loudly) when it is missing outside CI.
fn venv() -> Option<PathBuf> {
    let venv = std::env::var_os("SWITCHBOARD_TEMPORAL_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| Path::new(&home).join(".cache/switchboard/temporal-venv"))
        })
        .expect("HOME or SWITCHBOARD_TEMPORAL_VENV is set");
    let ready = venv.join("bin/temporal").is_file() && venv.join("bin/python").is_file();
    if ready {
        return Some(venv);
    }
    let message = format!(
        "the Temporal venv is missing at {}: run .ci/run, or `python3 -m venv {0} && {0}/bin/pip \
         install -r assets/temporal/requirements.txt`",
        venv.display()
    );
    missing_system(&message);
    None
}

impl TemporalDev {
    /// Starts the dev server and the worker; `None` when the test must be skipped.
    pub fn start() -> Option<TemporalDev> {
        let mut dev = TemporalDev {
            venv: venv()?,
            dir: tempfile::tempdir().unwrap(),
            server: None,
            worker: None,
            grpc_port: free_port(),
            http_port: free_port(),
            metrics_port: free_port(),
        };
        // A port picked free may be taken before the server binds it (another test's server
        // takes ports of its own): then again on other ports, a few times.
        for _ in 1..PORT_ATTEMPTS {
            match dev.launch_server() {
                Ok(()) => break,
                Err(log) if log.contains("address already in use") => {
                    dev.server = None;
                    (dev.grpc_port, dev.http_port) = (free_port(), free_port());
                    dev.metrics_port = free_port();
                }
                Err(log) => panic!("the dev server exited: {log}"),
            }
        }
        if dev.server.is_none() {
            dev.start_server();
        }
        dev.start_worker();
        Some(dev)
    }

    /// The HTTP API's base URL, e.g. `http://127.0.0.1:40123`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// CPU time the server process has used so far (user + system), from /proc: its own
    /// share of a measured time, whatever else the machine runs.
    pub fn server_cpu(&self) -> Duration {
        let pid = self.server.as_ref().expect("the server runs").id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc is mounted");
        // Fields after the command name (in parentheses, which may hold spaces): utime and
        // stime are the 12th and 13th.
        let after_name = &stat[stat.rfind(')').expect("a stat line") + 2..];
        let fields: Vec<u64> = after_name
            .split(' ')
            .skip(11)
            .take(2)
            .map(|f| f.parse().expect("clock ticks"))
            .collect();
        // Linux reports these in USER_HZ, which is 100 on every platform it runs on.
        Duration::from_millis((fields[0] + fields[1]) * 10)
    }

    /// The gRPC frontend, for the worker and the CLI.
    pub fn grpc_address(&self) -> String {
        format!("127.0.0.1:{}", self.grpc_port)
    }

    fn assets() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/temporal")
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(name))
            .unwrap()
    }

    /// Starts the server (again, after [`TemporalDev::stop_server`], with the same database
    /// and ports) and waits until its HTTP API answers.
    pub fn start_server(&mut self) {
        if let Err(log) = self.launch_server() {
            panic!("the dev server exited: {log}");
        }
    }

    /// Starts the server and waits until its HTTP API answers; the end of its log when it
    /// exits first.
    fn launch_server(&mut self) -> Result<(), String> {
        assert!(self.server.is_none(), "the server is already running");
        let mut command = Command::new(self.venv.join("bin/temporal"));
        command.args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"]);
        command.args(["--port", &self.grpc_port.to_string()]);
        command.args(["--http-port", &self.http_port.to_string()]);
        command.args(["--metrics-port", &self.metrics_port.to_string()]);
        command.args(["--log-level", "warn"]);
        command
            .arg("--db-filename")
            .arg(self.dir.path().join("temporal.sqlite"));
        for attribute in SEARCH_ATTRIBUTES {
            command.args(["--search-attribute", attribute]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(self.log("server.log"))
            .stderr(self.log("server.log"))
            .spawn()
            .expect("temporal server start-dev");
        self.server = Some(child);
        let url = format!("{}/api/v1/namespaces/default", self.http_url());
        let started = Instant::now();
        loop {
            let addr = format!("127.0.0.1:{}", self.http_port);
            if process_support::answers_ok(&addr, "/api/v1/namespaces/default") {
                return Ok(());
            }
            if let Some(status) = self.server.as_mut().unwrap().try_wait().unwrap() {
                let log = self.read_log("server.log");
                // The next attempt's log starts empty.
                let _ = std::fs::remove_file(self.dir.path().join("server.log"));
                return Err(format!("({status}) {log}"));
            }
            assert!(
                started.elapsed() < WAIT,
                "{url} did not answer within {WAIT:?}: {}",
                self.read_log("server.log")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts the reference worker and waits until it polls its task queue.
    pub fn start_worker(&mut self) {
        assert!(self.worker.is_none(), "the worker is already running");
        let mut child = Command::new(self.venv.join("bin/python"))
            .arg(Self::assets().join("worker.py"))
            .args(["--address", &self.grpc_address()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(self.log("worker.log"))
            .spawn()
            .expect("the reference worker");
        let stdout = child.stdout.take().unwrap();
        self.worker = Some(child);
        let (ready, said) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("worker ready") {
                    let _ = ready.send(());
                }
            }
        });
        if said.recv_timeout(WAIT).is_err() {
            panic!(
                "the worker did not say it was ready within {WAIT:?}: {}",
                self.read_log("worker.log")
            );
        }
    }

    pub fn stop_worker(&mut self) {
        stop(self.worker.take());
    }

    pub fn stop_server(&mut self) {
        stop(self.server.take());
    }

    /// Starts `count` example workflows `{prefix}-0..`; `options` are start_workflows.py's
    /// (`--paths JSON` replaces the default mix of failures, `--max-attempts N`). Returns
    /// their ids.
    pub fn start_workflows(&self, prefix: &str, count: usize, options: &[&str]) -> Vec<String> {
        let output = Command::new(self.venv.join("bin/python"))
            .arg(Self::assets().join("start_workflows.py"))
            .args(["--address", &self.grpc_address()])
            .args(["--prefix", prefix, "--count", &count.to_string()])
            .args(options)
            .output()
            .expect("start_workflows.py");
        assert!(
            output.status.success(),
            "start_workflows.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The `temporal` CLI against this server (e.g. `workflow list --query ...`).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(self.venv.join("bin/temporal"))
            .args(args)
            .args(["--address", &self.grpc_address()])
            .output()
            .expect("the temporal CLI")
    }

    pub fn read_log(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

/// SIGTERM, then SIGKILL if it has not exited within 5 s; always reaped.
fn stop(child: Option<Child>) {
    let Some(mut child) = child else { return };
    // By its PID, with kill(1): the child is ours and not reaped yet, so the PID is still its.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for TemporalDev {
    fn drop(&mut self) {
        self.stop_worker();
        self.stop_server();
    }
}
