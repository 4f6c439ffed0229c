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

/// The lab's open escalations by (workflow type, step): how many, and how many past their SLA
/// on the lab's clock now, as `GET /v1/escalations` lists them.
async fn lab_steps(lab: &LabServer) -> std::collections::BTreeMap<(String, String), (u64, u64)> {
    use futures::StreamExt;
    use switchboard::sources::Client;
    use switchboard::sources::paging::{MAX_PAGES, open_escalations};
    let client = Client::new(&lab.url(), Some(lab.token_for("bob").unwrap().to_string())).unwrap();
    let now = client.fleet().await.unwrap().generated_at;
    let mut steps = std::collections::BTreeMap::new();
    let mut pages = std::pin::pin!(open_escalations(client, MAX_PAGES));
    while let Some(page) = pages.next().await {
        for task in page.result.unwrap() {
            let (open, past) = steps
                .entry((task.workflow_type, task.step))
                .or_insert((0, 0));
            *open += 1;
            *past += u64::from(task.sla_deadline < now);
        }
    }
    steps
}

/// With 60 escalated tasks, the report lists each workflow step they stop at with its
/// service's criticality and budget, and counts that match the lab's own list (read before and
/// after: a deadline passing or a task escalating in between moves a count within the two).
#[tokio::test]
async fn the_report_lists_the_workflow_steps_of_the_labs_open_escalations() {
    let options = LabOptions {
        escalations: 60,
        ..LabOptions::default()
    };
    let lab = LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = config_for(home.path(), &lab.url(), "");
    let before = lab_steps(&lab).await;
    let (code, json) = report(&lab, home.path(), &config, &["--json"]).await;
    let after = lab_steps(&lab).await;
    assert_eq!(code, 0, "{json}");
    let audits: Value = serde_json::from_str(&json).unwrap();
    let steps = audits[0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), after.len(), "{json}");
    for step in steps {
        let key = (
            step["workflow_type"].as_str().unwrap().to_string(),
            step["step"].as_str().unwrap().to_string(),
        );
        let (open, past) = (
            step["open"].as_u64().unwrap(),
            step["past_sla"].as_u64().unwrap(),
        );
        let (open_before, past_before) = before.get(&key).copied().unwrap_or_default();
        let (open_after, past_after) = after[&key];
        assert!(
            open_before.min(open_after) <= open && open <= open_before.max(open_after),
            "{key:?}: {open} open, the lab listed {open_before} then {open_after}"
        );
        assert!(
            past_before.min(past_after) <= past && past <= past_before.max(past_after),
            "{key:?}: {past} past their SLA, the lab {past_before} then {past_after}"
        );
        assert!(
            step["criticality"].is_string(),
            "every step's service has a posture: {step}"
        );
    }
    let total: u64 = after.values().map(|(open, _)| open).sum();
    assert!(total >= 60, "{after:?}");
    let (code, text) = report(&lab, home.path(), &config, &[]).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("workflow steps · "), "{text}");
    assert!(text.contains("WORKFLOW / STEP"), "{text}");
    lab.shutdown().await;
}

/// A Prometheus source whose `[slo]` the audit needs but which does not answer is said by
/// name and exits 2, beside the lab's audit.
#[tokio::test]
async fn an_unreachable_prometheus_slo_source_is_said_and_exits_2() {
    let lab = lab_with(None).await;
    let home = tempfile::tempdir().unwrap();
    let metrics = "[[contexts.audit.sources]]\nname = \"metrics\"\nkind = \"prometheus\"\n\
        url = \"http://127.0.0.1:9\"\n[[contexts.audit.sources.prometheus.slo.services]]\n\
        name = \"checkout\"\ntarget = 0.999\n";
    let config = config_for(home.path(), &lab.url(), metrics);
    let (code, text) = report(&lab, home.path(), &config, &[]).await;
    assert_eq!(code, 2, "{text}");
    assert!(text.starts_with("cost audit of gw\n"), "{text}");
    assert!(
        text.contains("cost audit of metrics: cannot read its SLO burn rates: "),
        "{text}"
    );
    lab.shutdown().await;
}
