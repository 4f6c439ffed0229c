//! `switchboard cost report` as the binary against real labs on 127.0.0.1: the default fleet
//! audits clean (exit 0); a fleet built with a hidden SPOF and ghost spend exits 1 naming both,
//! its unpriced provider path is unknown until the context's `[cost]` prices it (and the report
//! says the price came from the config); an unreachable source exits 2.

use std::path::{Path, PathBuf};

use lab::{LabOptions, LabServer};
use serde_json::Value;

async fn lab_with(topology: Option<&str>) -> LabServer {
    let options = LabOptions {
        topology: topology.map(PathBuf::from),
        ..LabOptions::default()
    };
    LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A home whose config's `audit` context reads `url`, with `extra` appended to the context.
fn config_for(home: &Path, url: &str, extra: &str) -> PathBuf {
    let config = home.join("sb.toml");
    std::fs::write(
        &config,
        format!(
            "default_context = \"audit\"\n[contexts.audit]\n[[contexts.audit.sources]]\nname = \"gw\"\nurl = \"{url}\"\n{extra}"
        ),
    )
    .unwrap();
    config
}

/// `switchboard cost report ARGS` with `config` as bob; exit code and stdout.
async fn report(lab: &LabServer, home: &Path, config: &Path, args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["cost", "report"])
        .args(args)
        .arg("--config")
        .arg(config)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SWITCHBOARD_TOKEN", lab.token_for("bob").unwrap())
        .env_remove("SWITCHBOARD_CONFIG")
        .env_remove("SWITCHBOARD_CONTEXT")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("killed: {stderr}"));
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn the_default_fleet_audits_clean_with_every_service_priced() {
    let lab = lab_with(None).await;
    let home = tempfile::tempdir().unwrap();
    let config = config_for(home.path(), &lab.url(), "");
    let (code, text) = report(&lab, home.path(), &config, &[]).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("cost audit of gw\n"), "{text}");
    assert!(text.contains("findings:\n  none\n"), "{text}");
    let credit = text
        .lines()
        .find(|l| l.starts_with("credit-decision"))
        .unwrap();
    // Active $4.50 + hot $4.50 + cold 5 % of $4.50; 35 % of its budget spent before the lab.
    for column in ["critical", "active-passive", "99%/30d", "65%", "$9.22"] {
        assert!(credit.contains(column), "{column} in {credit}");
    }
    assert!(text.contains("idle standbys $4.72/h"), "{text}");
    lab.shutdown().await;
}

#[tokio::test]
async fn a_spof_and_ghost_spend_exit_1_and_the_configs_price_fills_the_unknown_path() {
    let lab = lab_with(Some("fixtures/topologies/cost-audit.toml")).await;
    let home = tempfile::tempdir().unwrap();
    let bare = config_for(home.path(), &lab.url(), "");
    let (code, text) = report(&lab, home.path(), &bare, &[]).await;
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("⚠ hidden SPOF: payments (critical): one ready replica, in us-east"),
        "{text}"
    );
    assert!(
        text.contains("⚠ ghost spend: chat-summary (nice-to-have) pays $1.50/h for hot standbys"),
        "{text}"
    );
    assert!(text.contains("total ?/h"), "in-house has no price: {text}");

    let priced = config_for(
        home.path(),
        &lab.url(),
        "[contexts.audit.cost]\nprices_per_1k_tokens = { in-house = 0.0005 }\n",
    );
    let (code, json) = report(&lab, home.path(), &priced, &["--json"]).await;
    assert_eq!(code, 1, "{json}");
    let audits: Value = serde_json::from_str(&json).unwrap();
    let report = &audits[0]["report"];
    let kinds: Vec<&str> = (report["findings"].as_array().unwrap().iter())
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["hidden-spof", "ghost-spend"]);
    assert!(report["total_per_hour"].as_f64().unwrap() > 0.0, "{report}");
    let chat = (report["services"].as_array().unwrap().iter())
        .find(|s| s["service"] == "chat-summary")
        .unwrap();
    assert_eq!(
        chat["from_config"],
        serde_json::json!(["price of in-house@us-east"])
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_source_is_said_and_exits_2() {
    let lab = lab_with(None).await;
    let home = tempfile::tempdir().unwrap();
    let config = config_for(home.path(), "http://127.0.0.1:9", "");
    let (code, text) = report(&lab, home.path(), &config, &[]).await;
    assert_eq!(code, 2, "{text}");
    assert!(
        text.starts_with("cost audit of gw: cannot read the fleet: "),
        "{text}"
    );
    lab.shutdown().await;
}
