//! `switchboard runbook check` on a context of a lab (protocol v1) and a real Prometheus on
//! 127.0.0.1 (tests/prometheus_support, one stack for the binary): a fact only Prometheus
//! reports reads ✓ or ✗ with its value and its source, and a fact both report differently
//! is written out as a disagreement, never settled by picking one.

mod prometheus_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use prometheus_support::{Traffic, WAIT};
use switchboard::sources::Timeouts;
use switchboard::sources::prometheus::{FactKind, PrometheusSettings, PrometheusSource};

const RUNBOOK: &str = r#"+++
id = "metrics-facts"
title = "Read what Prometheus reads"
version = 1
owner = "team"
last_reviewed = 2026-12-02
+++

## 1. Only Prometheus knows this region

```check
rate_limited(openai@rbk-1) > 5% and p95(rbk-1) > 2s
```

## 2. Nor is it failing

```check
error_rate(openai@rbk-1) > 50%
```

## 3. Both know us-west

```check
p95(us-west) < 2s
```
"#;

/// A home with the runbook and a config of one context: the lab, then Prometheus.
fn home_with(lab_url: &str, prometheus_url: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("runbooks")).unwrap();
    std::fs::write(home.path().join("runbooks/metrics.md"), RUNBOOK).unwrap();
    let config = format!(
        "runbook_dirs = [\"runbooks\"]\ndefault_context = \"drill\"\n[contexts.drill]\n\
         [[contexts.drill.sources]]\nname = \"lab\"\nurl = \"{lab_url}\"\n\
         [[contexts.drill.sources]]\nname = \"metrics\"\nkind = \"prometheus\"\nurl = \"{prometheus_url}\"\n\
         [contexts.drill.sources.prometheus]\nwindow = \"5s\"\n"
    );
    std::fs::write(home.path().join("sb.toml"), config).unwrap();
    home
}

fn check(home: &Path, token: &str) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--config")
        .arg(home.join("sb.toml"))
        .args(["runbook", "check", "metrics-facts"])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SWITCHBOARD_TOKEN", token)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_a_fact_only_prometheus_reports_with_its_source_and_says_where_sources_disagree()
 {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let slow = |latency_ms, rate_limited_share| Traffic {
        latency_ms,
        rate_limited_share,
        ..Traffic::healthy(20.0)
    };
    // rbk-1 is no region of the lab; us-west is, and Prometheus sees it far slower.
    stack
        .exporter
        .set("rbk-1", "openai", "gpt-4o", slow(3000.0, 0.3));
    stack
        .exporter
        .set("us-west", "openai", "gpt-4o", slow(3000.0, 0.0));
    let settings = PrometheusSettings {
        window: "5s".into(),
        ..PrometheusSettings::default()
    };
    let source = PrometheusSource::new(
        "metrics",
        &stack.prometheus_url,
        settings,
        Timeouts::default(),
    )
    .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let facts = source.facts().await.ok();
        let known = |region: &str| {
            facts
                .as_ref()
                .and_then(|f| f.regions.iter().find(|r| r.id == region))
                .is_some_and(|r| r.facts.contains_key(&FactKind::P95Ms))
        };
        if known("rbk-1") && known("us-west") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus reads rbk-1 and us-west"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let lab = lab::LabServer::start(lab::LabOptions::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let token = lab.token_for("alice").unwrap().to_string();
    let home = home_with(&lab.url(), &stack.prometheus_url);

    let home_path = home.path().to_path_buf();
    let (code, out, err) = tokio::task::spawn_blocking(move || check(&home_path, &token))
        .await
        .unwrap();
    assert_eq!(code, Some(1), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("✓ step 1 check"), "{out}");
    assert_eq!(
        lines[1].trim(),
        "rate_limited(openai@rbk-1) = 30.0% (metrics) > 5%",
        "{out}"
    );
    assert!(
        lines[2].trim().starts_with("p95(rbk-1) = ")
            && lines[2].trim().ends_with("ms (metrics) > 2s"),
        "{out}"
    );
    assert!(lines[3].starts_with("✗ step 2 check"), "{out}");
    assert_eq!(
        lines[4].trim(),
        "error_rate(openai@rbk-1) = 0.0% (metrics) > 50%",
        "{out}"
    );
    // The lab's us-west answers in about a second, Prometheus's in three: unknown, both said.
    assert!(lines[5].starts_with("? step 3 check"), "{out}");
    let disagreement = lines[6].trim();
    assert!(
        disagreement.starts_with("p95(us-west) < 2s: lab says ")
            && disagreement.contains("ms, metrics says ")
            && disagreement.ends_with("ms: the sources disagree"),
        "{out}"
    );
}
