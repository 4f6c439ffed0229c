//! `switchboard cost report` with a Prometheus source measuring SLOs, the binary against a real
//! Prometheus on 127.0.0.1 scraping an exporter whose error ratio per service the test sets
//! (tests/prometheus_support), beside a lab: a service only Prometheus measures gets a row
//! with its budget and the exhaustion finding (exit 1); a lab service Prometheus measures
//! too keeps the lab's own budget and takes only the burn the lab does not report. Skips
//! without Prometheus installed, except under `CI`.

mod prometheus_support;

use std::path::Path;
use std::time::{Duration, Instant};

use lab::{LabOptions, LabServer};
use prometheus_support::WAIT;
use serde_json::Value;
use switchboard::sources::Client;

/// A home whose config's `audit` context holds `sources` (TOML, each a `[[...sources]]`).
fn config_for(home: &Path, sources: &str) -> std::path::PathBuf {
    let config = home.join("sb.toml");
    let text = format!("default_context = \"audit\"\n[contexts.audit]\n{sources}");
    std::fs::write(&config, text).unwrap();
    config
}

/// A Prometheus source named `metrics` reading the SLO (99.9 % over 30 days) of `services`.
fn metrics_source(url: &str, services: &[&str]) -> String {
    let mut text = format!(
        "[[contexts.audit.sources]]\nname = \"metrics\"\nkind = \"prometheus\"\nurl = \"{url}\"\n"
    );
    for service in services {
        text.push_str(&format!(
            "[[contexts.audit.sources.prometheus.slo.services]]\nname = \"{service}\"\ntarget = 0.999\n"
        ));
    }
    text
}

/// `switchboard cost report --json` with `config` (as bob when a lab is given), run until
/// `service`'s 1 h burn is read (Prometheus needs a few scrapes); the exit code and the audits.
async fn report_once_read(
    config: &Path,
    home: &Path,
    lab: Option<&LabServer>,
    service: &str,
) -> (i32, Value) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .args(["cost", "report", "--json", "--config"])
            .arg(config)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env_remove("SWITCHBOARD_CONFIG")
            .env_remove("SWITCHBOARD_CONTEXT");
        if let Some(lab) = lab {
            command.env("SWITCHBOARD_TOKEN", lab.token_for("bob").unwrap());
        }
        let out = command.output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out
            .status
            .code()
            .unwrap_or_else(|| panic!("killed: {stderr}"));
        let audits: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
        if find(&audits, service).is_some_and(|s| !s["burn_rate_1h"].is_null()) {
            return (code, audits);
        }
        assert!(
            Instant::now() < deadline,
            "{service}: burn not read in {WAIT:?}: {audits}\n{stderr}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `service`'s row in any source's audit.
fn find<'a>(audits: &'a Value, service: &str) -> Option<&'a Value> {
    (audits.as_array()?.iter())
        .filter_map(|audit| audit["report"]["services"].as_array())
        .flatten()
        .find(|row| row["service"] == service)
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-6)
}

/// 2% of cost-only's requests fail against 0.1% allowed: 20x, the whole 30-day budget
/// overspent 19 times, spent now. No fleet source reports it: its row sits under the
/// Prometheus source, tier unknown, criticality from the context's `[cost]`.
#[tokio::test]
async fn a_service_only_prometheus_measures_is_audited_with_its_exhaustion() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    stack.exporter.set_service("cost-only", 50.0, 0.02);
    let home = tempfile::tempdir().unwrap();
    let sources = metrics_source(&stack.prometheus_url, &["cost-only"])
        + "[contexts.audit.cost.services.cost-only]\ncriticality = \"critical\"\n";
    let config = config_for(home.path(), &sources);
    let (code, audits) = report_once_read(&config, home.path(), None, "cost-only").await;
    assert_eq!(code, 1, "a finding: {audits}");
    assert_eq!(audits[0]["source"], "metrics", "{audits}");
    let row = find(&audits, "cost-only").unwrap();
    assert!(row["tier"].is_null(), "{row}");
    assert_eq!(row["criticality"], "critical", "{row}");
    assert!(close(&row["slo"]["target"], 0.999), "{row}");
    assert!(close(&row["budget_left"], -19.0), "{row}");
    assert!(close(&row["burn_rate_1h"], 20.0), "{row}");
    assert_eq!(row["measured"]["source"], "metrics", "{row}");
    assert_eq!(row["measured"]["stale"], false, "{row}");
    assert_eq!(
        row["findings"],
        serde_json::json!([{"kind": "budget-exhaustion", "service": "cost-only", "in_s": 0.0}])
    );
}

/// The lab reports credit-decision's budget (and no burn in its first minute) on a 99 % SLO;
/// Prometheus measures it on 99.9 % burning 20x, 19 budgets overspent. The lab's budget and SLO
/// win; only the burn it does not report comes from Prometheus, restated against 99 % (2x),
/// and the finding fires from the two (65 % of 30 days at 2x: 9.75 days).
#[tokio::test]
async fn the_labs_own_budget_wins_over_what_prometheus_measures() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    stack.exporter.set_service("credit-decision", 50.0, 0.02);
    let lab = LabServer::start(LabOptions::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let sources = format!(
        "[[contexts.audit.sources]]\nname = \"gw\"\nurl = \"{}\"\n{}",
        lab.url(),
        metrics_source(&stack.prometheus_url, &["credit-decision"])
    );
    let config = config_for(home.path(), &sources);
    let (code, audits) =
        report_once_read(&config, home.path(), Some(&lab), "credit-decision").await;
    let fleet = Client::new(&lab.url(), Some(lab.token_for("bob").unwrap().to_string()))
        .unwrap()
        .fleet()
        .await
        .unwrap();
    let posture = (fleet.services.iter())
        .find(|s| s.id == "credit-decision")
        .and_then(|s| s.posture.clone())
        .unwrap();
    assert_eq!(
        audits.as_array().unwrap().len(),
        1,
        "no row of its own: {audits}"
    );
    assert_eq!(audits[0]["source"], "gw");
    let row = find(&audits, "credit-decision").unwrap();
    assert!(
        close(&row["budget_left"], posture.budget_left.unwrap()),
        "the lab's budget, not the measured -19: {row}"
    );
    assert!(close(&row["slo"]["target"], posture.slo.target), "{row}");
    let figures = row["measured"]["figures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !figures.iter().any(|f| f == "budget" || f == "SLO"),
        "{row}"
    );
    if posture.burn_rate_1h.is_none() {
        // 2 % failing is 20x of 99.9 %'s allowance, restated as 2x of the lab's 99 %.
        assert!(close(&row["burn_rate_1h"], 2.0), "{row}");
        assert!(
            close(&row["measured"]["converted_from"]["target"], 0.999),
            "{row}"
        );
        assert_eq!(code, 1, "the budget finding: {audits}");
        assert_eq!(row["findings"][0]["kind"], "budget-exhaustion", "{row}");
    }
    lab.shutdown().await;
}
