//! `switchboard runbook list|show|lint|check`, run as a script would run them: runbooks from
//! the config's `runbook_dirs`, `check` against the embedded lab (a real server on a loopback
//! port), exit codes as the README lists them.

mod lab_support;

use std::path::Path;
use std::process::{Command, Output};

const FRONT: &str = "+++\nid = \"ID\"\ntitle = \"T\"\nversion = 3\nowner = \"team\"\nlast_reviewed = 2026-12-01\n+++\n";

fn runbook(id: &str, body: &str) -> String {
    format!("{}{body}", FRONT.replace("ID", id))
}

/// A home with a config naming `team-runbooks/` (relative: against the config's folder)
/// holding `files`.
fn home_with(files: &[(&str, String)]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("team-runbooks");
    std::fs::create_dir(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(
        home.path().join("sb.toml"),
        "runbook_dirs = [\"team-runbooks\"]\n",
    )
    .unwrap();
    home
}

fn run(home: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--config")
        .arg(home.join("sb.toml"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_configs_runbooks_are_listed_beside_the_shipped_and_lint_finds_their_problems() {
    let home = home_with(&[
        (
            "healthy.md",
            runbook(
                "all-well",
                "\n## 1. Look\n\n```check\nhealth(us-east) == ok\n```\n",
            ),
        ),
        (
            "broken.md",
            runbook(
                "broken",
                "\n## 1. Look\n\n```check\nshare(us-east) <\n```\n",
            ),
        ),
    ]);

    let (code, out, err) = run(home.path(), &["runbook", "list", "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let runbooks = json["runbooks"].as_array().unwrap();
    let ids: Vec<&str> = runbooks.iter().filter_map(|r| r["id"].as_str()).collect();
    assert!(
        ids.contains(&"provider-outage") && ids.contains(&"all-well"),
        "{ids:?}"
    );
    let broken = runbooks
        .iter()
        .find(|r| r["origin"].as_str().unwrap().ends_with("broken.md"))
        .unwrap();
    assert!(
        broken["id"].is_null(),
        "a broken file is listed, not hidden: {broken}"
    );

    let (code, out, _) = run(home.path(), &["runbook", "lint"]);
    assert_eq!(code, Some(2), "{out}");
    let broken_path = home.path().join("team-runbooks").join("broken.md");
    assert!(
        out.contains(&format!(
            "{}:12:17: expected a value, found the end",
            broken_path.display()
        )),
        "{out}"
    );

    let healthy = home.path().join("team-runbooks").join("healthy.md");
    let (code, out, _) = run(home.path(), &["runbook", "lint", healthy.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (Some(0), "1 runbook, no problem\n"));

    let (code, out, _) = run(home.path(), &["runbook", "show", "all-well"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("1. Look") && out.contains("check    health(us-east) == ok"),
        "{out}"
    );
    let (code, _, err) = run(home.path(), &["runbook", "show", "nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no runbook \"nope\""), "{err}");
}

#[test]
fn check_reads_the_live_fleet_without_acting_and_exits_by_what_holds() {
    let home = home_with(&[(
        "healthy.md",
        runbook(
            "all-well",
            "\n## 1. Look\n\n```check\nhealth(us-east) == ok and share(us-east) > 1%\n```\n",
        ),
    )]);

    let (code, out, err) = run(home.path(), &["--lab", "runbook", "check", "all-well"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("✓ step 1 check"), "{out}");
    assert!(
        out.contains("health(us-east) = ok == ok"),
        "the values read: {out}"
    );

    // A quiet lab has no outage: the shipped runbook's conditions do not hold, with values.
    let (code, out, err) = run(
        home.path(),
        &["--lab", "runbook", "check", "provider-outage", "--json"],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let applies = &json["checked"][0];
    assert_eq!(applies["what"], "applies when");
    assert_eq!(applies["truth"], "✗", "{json}");
    let readings = applies["readings"].to_string();
    assert!(
        readings.contains("breaker(openai@us-east) = closed"),
        "{readings}"
    );

    let (code, _, err) = run(home.path(), &["--lab", "runbook", "check", "nope"]);
    assert_eq!(code, Some(2), "{err}");
}

/// A home whose config's one context is the lab at `url` (its token in the environment).
fn home_on_lab(url: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "default_context = \"drill\"\n[contexts.drill]\n\
         [[contexts.drill.sources]]\nname = \"lab\"\nurl = \"{url}\"\n"
    );
    std::fs::write(home.path().join("sb.toml"), config).unwrap();
    home
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_counts_the_open_escalations_of_a_lab_with_a_backlog() {
    let lab = lab_support::start_lab_with_escalations(120).await;
    let token = lab.token_for("alice").unwrap().to_string();
    let open = lab_support::open_escalations_by_priority(&lab, &token).await;
    let all: u64 = open.iter().sum();
    assert!(all >= 120, "{open:?}");

    let home = home_on_lab(&lab.url());
    let args = ["runbook", "check", "escalation-burst", "--json"];
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("--config")
            .arg(home.path().join("sb.toml"))
            .args(args)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_STATE_HOME", home.path().join("state"))
            .env("SWITCHBOARD_TOKEN", token)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap();
    // The gate (no P1 left) does not hold with a backlog: exit 1, every count read.
    assert_eq!(code, Some(1), "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let applies = &json["checked"][0];
    assert_eq!(applies["what"], "applies when");
    assert_eq!(applies["truth"], "✓", "{json}");
    let readings = applies["readings"].to_string();
    assert!(
        readings.contains(&format!("open_escalations(p1) = {} > 5", open[0]))
            && readings.contains(&format!("open_escalations(all) = {all} > 50")),
        "{readings}"
    );
    let gate = (json["checked"].as_array().unwrap().iter())
        .find(|c| c["what"] == "step 4 gate")
        .unwrap();
    assert_eq!(
        gate["readings"][0],
        format!("open_escalations(p1) = {} == 0", open[0])
    );
    assert!(
        !out.contains("not reported") && !err.contains("read ?"),
        "{out}{err}"
    );
}
