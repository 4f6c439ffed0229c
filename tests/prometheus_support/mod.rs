//! A real Prometheus and Alertmanager on free 127.0.0.1 ports in temporary directories,
//! Prometheus scraping an [`Exporter`] the test controls every second and sending the
//! alerts of [`RULES`] to the Alertmanager. One stack per test binary ([`shared`]); a test
//! that must stop Prometheus starts its own ([`Stack::start`]).
//!
//! `.ci/run` installs both (`apt-get install prometheus prometheus-alertmanager`). Without
//! them a test skips, saying so on stderr; under `CI` (`1`, `true`) a missing binary fails the test.
#![allow(dead_code)]

mod exporter;
#[path = "../process_support/mod.rs"]
mod process_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use switchboard::testing::{free_port, missing_system};

// Not every test binary names `Traffic`.
#[allow(unused_imports)]
pub use exporter::{Exporter, Traffic};
use process_support::Supervised as Process;

/// Bound of every wait for the real systems, so a broken install fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(30);

/// Alert rules of the test stack: a provider's error rate (429s apart) above 20% over 5 s.
/// Labels and annotations carry the region and provider, as a real rule's would.
pub const RULES: &str = r#"groups:
  - name: switchboard-test
    rules:
      - alert: ProviderErrorRateHigh
        expr: >
          sum by (region, api_provider) (rate(litellm_deployment_failure_responses_total{exception_status!="429"}[5s]))
          / sum by (region, api_provider) (rate(litellm_deployment_total_requests_total[5s])) > 0.2
        for: 0s
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.api_provider }} at {{ $labels.region }} fails {{ $value | humanizePercentage }} of requests"
"#;

const ALERTMANAGER_CONFIG: &str = r#"route:
  receiver: "null"
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: "null"
"#;

/// The binaries, or `None` (after saying so) when they are not installed outside CI.
pub fn binaries() -> Option<(&'static str, &'static str)> {
    let found = |name: &str| {
        Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    let (prometheus, alertmanager) = ("prometheus", "prometheus-alertmanager");
    if found(prometheus) && found(alertmanager) {
        return Some((prometheus, alertmanager));
    }
    let message = "prometheus and prometheus-alertmanager are not installed \
        (apt-get install -y --no-install-recommends prometheus prometheus-alertmanager)";
    missing_system(message);
    None
}

/// The stack every test of the binary shares, started by the first that asks; `None` when
/// the binaries are missing outside CI (the caller returns, the test skips).
pub fn shared() -> Option<&'static Stack> {
    static STACK: OnceLock<Option<Stack>> = OnceLock::new();
    STACK.get_or_init(Stack::start).as_ref()
}

/// A running Prometheus + Alertmanager + exporter. Dropping it stops both by PID; if the test
/// process dies first, each one's supervisor sees its stdin close and stops it.
pub struct Stack {
    pub exporter: Exporter,
    pub prometheus_url: String,
    pub alertmanager_url: String,
    prometheus: Process,
    prometheus_command: ProgramCommand,
    alertmanager: Process,
    _dir: tempfile::TempDir,
}

impl Stack {
    pub fn start() -> Option<Stack> {
        let (prometheus_bin, alertmanager_bin) = binaries()?;
        let started = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let exporter = Exporter::start();

        let alertmanager_port = free_port();
        let am_config = dir.path().join("alertmanager.yml");
        std::fs::write(&am_config, ALERTMANAGER_CONFIG).unwrap();
        let alertmanager = Process::start(
            alertmanager_bin,
            &[
                format!("--config.file={}", am_config.display()),
                format!("--web.listen-address=127.0.0.1:{alertmanager_port}"),
                "--cluster.listen-address=".into(),
                format!("--storage.path={}", dir.path().join("am-data").display()),
            ],
            &dir.path().join("alertmanager.log"),
        );

        let prometheus_port = free_port();
        let rules = dir.path().join("rules.yml");
        std::fs::write(&rules, RULES).unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            prometheus_config(&exporter.target(), alertmanager_port, &rules),
        )
        .unwrap();
        let prometheus_command = ProgramCommand {
            program: prometheus_bin,
            args: vec![
                format!("--config.file={}", config.display()),
                format!("--web.listen-address=127.0.0.1:{prometheus_port}"),
                format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
                "--web.enable-lifecycle".into(),
            ],
            log: dir.path().join("prometheus.log"),
        };
        let prometheus = prometheus_command.start();

        let stack = Stack {
            exporter,
            prometheus_url: format!("http://127.0.0.1:{prometheus_port}"),
            alertmanager_url: format!("http://127.0.0.1:{alertmanager_port}"),
            prometheus,
            prometheus_command,
            alertmanager,
            _dir: dir,
        };
        wait_ready(&stack.alertmanager_url, &stack.alertmanager);
        wait_ready(&stack.prometheus_url, &stack.prometheus);
        eprintln!(
            "prometheus + alertmanager ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Some(stack)
    }

    /// Stops Prometheus (its port then refuses connections); the Alertmanager keeps running.
    pub fn stop_prometheus(&mut self) {
        self.prometheus.stop();
    }

    /// Starts the stopped Prometheus again, on the same port and data, and waits until ready.
    pub fn restart_prometheus(&mut self) {
        self.prometheus = self.prometheus_command.start();
        wait_ready(&self.prometheus_url, &self.prometheus);
    }
}

/// How to start a program of the stack, kept to start it again.
struct ProgramCommand {
    program: &'static str,
    args: Vec<String>,
    log: std::path::PathBuf,
}

impl ProgramCommand {
    fn start(&self) -> Process {
        Process::start(self.program, &self.args, &self.log)
    }
}

fn prometheus_config(exporter: &str, alertmanager_port: u16, rules: &Path) -> String {
    format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:{alertmanager_port}"]
scrape_configs:
  - job_name: exporter
    static_configs:
      - targets: ["{exporter}"]
"#,
        rules = rules.display()
    )
}

/// Polls `/-/ready` until it answers 200; panics with the program's log after [`WAIT`].
fn wait_ready(base: &str, process: &Process) {
    let deadline = Instant::now() + WAIT;
    let addr = base.trim_start_matches("http://");
    while Instant::now() < deadline {
        if process_support::answers_ok(addr, "/-/ready") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{base}/-/ready not ready within {WAIT:?}; log:\n{}",
        std::fs::read_to_string(&process.log).unwrap_or_default()
    );
}
