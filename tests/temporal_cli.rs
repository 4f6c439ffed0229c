//! `switchboard escalations list|show|resolve` on a context whose source is Temporal, against
//! a real dev server and the reference worker (see temporal_support). One server for the binary.

mod temporal_support;

use std::path::Path;
use std::process::{Command, Output};

use temporal_support::TemporalDev;

const PATHS: &str = r#"[
  {"model": "gpt-4o", "provider": "openai", "region": "us-east", "simulate": "429"},
  {"model": "gemini-pro", "provider": "google", "region": "eu-west", "simulate": "reject"}
]"#;

fn switchboard(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("SWITCHBOARD_TOKEN", "unused")
        .arg("--config")
        .arg(home.join("agents.toml"))
        .args(args)
        .output()
        .unwrap()
}

/// `home`'s config: the `agents` context with `dev` as its Temporal source `workflows`, then
/// `extra`.
fn write_config(home: &Path, dev: &TemporalDev, extra: &str) {
    let config = format!(
        "default_context = \"agents\"\n[contexts.agents]\n[[contexts.agents.sources]]\n\
         name = \"workflows\"\nkind = \"temporal\"\nurl = \"{}\"\n{extra}",
        dev.http_url()
    );
    std::fs::write(home.join("agents.toml"), config).unwrap();
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn list_show_and_resolve_work_on_a_temporal_context() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let id = dev
        .start_workflows("cli", 1, &["--paths", PATHS, "--max-attempts", "3"])
        .remove(0);
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &dev,
        "[contexts.agents.sources.temporal]\noperator = \"carla\"\n",
    );

    // The workflow escalates once its paths have failed.
    let started = std::time::Instant::now();
    let listed = loop {
        let listed = switchboard(home.path(), &["escalations", "list"]);
        assert!(listed.status.success(), "{}", text(&listed));
        if text(&listed).contains(&id) {
            break text(&listed);
        }
        assert!(
            started.elapsed() < temporal_support::WAIT,
            "{}",
            text(&listed)
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert!(listed.contains("1 of 1 matching"), "{listed}");

    let shown = switchboard(home.path(), &["escalations", "show", &id]);
    assert!(shown.status.success(), "{}", text(&shown));
    assert!(text(&shown).contains("attempt 3 of 3"), "{}", text(&shown));
    let detail = switchboard(home.path(), &["escalations", "show", &id, "--json"]);
    let detail: serde_json::Value = serde_json::from_slice(&detail.stdout).unwrap();
    let candidate = detail["candidates"][0]["id"].as_str().unwrap().to_string();

    let refused = switchboard(home.path(), &["escalations", "list", "--priority", "p1"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("listed whole"),
        "{}",
        text(&refused)
    );

    let resolved = switchboard(
        home.path(),
        &[
            "escalations",
            "resolve",
            &id,
            "--approve",
            &candidate,
            "--note",
            "fine by me",
            "--yes",
        ],
    );
    assert!(resolved.status.success(), "{}", text(&resolved));
    // A second resolution is refused, naming who resolved it (exit 4: a conflict).
    let again = switchboard(
        home.path(),
        &[
            "escalations",
            "resolve",
            &id,
            "--abort",
            "--note",
            "late",
            "--yes",
        ],
    );
    assert_eq!(again.status.code(), Some(4), "{}", text(&again));
    assert!(text(&again).contains("carla"), "{}", text(&again));
}

/// `switchboard cost report` on a Temporal-only context: the workflow steps its open
/// escalations stop at, counted as `escalations list` lists them, each step's service with
/// what the context's `[cost]` says of it (credit-decision critical; the others unknown).
#[test]
fn the_cost_report_lists_the_workflow_steps_of_a_temporal_context() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let ids = dev.start_workflows("cost", 3, &["--paths", PATHS, "--max-attempts", "2"]);
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &dev,
        "[contexts.agents.cost.services.credit-decision]\ncriticality = \"critical\"\n",
    );

    // Every workflow escalates once its paths have failed.
    let started = std::time::Instant::now();
    let listed = loop {
        let listed = switchboard(home.path(), &["escalations", "list", "--json"]);
        assert!(listed.status.success(), "{}", text(&listed));
        let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        let rows = rows["items"].as_array().cloned().unwrap_or_default();
        if ids.iter().all(|id| rows.iter().any(|r| &r["id"] == id)) {
            break rows;
        }
        assert!(started.elapsed() < temporal_support::WAIT, "{rows:?}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    let mut expected: std::collections::BTreeMap<(String, String, String), u64> =
        Default::default();
    for row in &listed {
        let key =
            ["workflow_type", "step", "service"].map(|k| row[k].as_str().unwrap().to_string());
        *expected.entry(key.into()).or_default() += 1;
    }

    let report = switchboard(home.path(), &["cost", "report", "--json"]);
    assert_eq!(report.status.code(), Some(0), "{}", text(&report));
    let audits: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(audits[0]["source"], "workflows", "{audits}");
    let steps = audits[0]["steps"].as_array().unwrap();
    let counted: std::collections::BTreeMap<(String, String, String), u64> = (steps.iter())
        .map(|s| {
            let key =
                ["workflow_type", "step", "service"].map(|k| s[k].as_str().unwrap().to_string());
            (key.into(), s["open"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(counted, expected, "{audits}");
    for step in steps {
        let criticality = match step["service"].as_str().unwrap() {
            "credit-decision" => serde_json::json!("critical"),
            _ => serde_json::Value::Null,
        };
        assert_eq!(step["criticality"], criticality, "{step}");
    }
    let human = text(&switchboard(home.path(), &["cost", "report"]));
    assert!(
        human.contains("workflow steps · 3 open escalations"),
        "{human}"
    );
}
