//! The two-person rule from scripts, run as the binary against a real lab on 127.0.0.1: a
//! context's `[approvals]` policy holds a drain (exit 5 with the id), `switchboard approvals`
//! lists, shows and decides it (403, 404 and 409 each said and coded), and `--wait` ends as the
//! other operator decides (approved: 0, denied: 6) or at Ctrl-C (5: the request stays). The lab
//! has no policy of its own here: every hold comes from the config's.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use lab::{LabOptions, LabServer};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// A lab on loopback at `speed` and a home whose config's `drill` context holds drains,
/// undrains and promotions.
async fn lab_and_config(speed: f64) -> (LabServer, tempfile::TempDir, PathBuf) {
    let options = LabOptions {
        speed,
        ..LabOptions::default()
    };
    let lab = LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("sb.toml");
    let url = lab.url();
    std::fs::write(
        &config,
        format!(
            "default_context = \"drill\"\n[contexts.drill]\n[[contexts.drill.sources]]\nname = \"gw\"\nurl = \"{url}\"\n\n[contexts.drill.approvals]\nverbs = [\"drain\", \"undrain\", \"promote\"]\n"
        ),
    )
    .unwrap();
    (lab, home, config)
}

/// `switchboard ARGS --config CONFIG` as lab operator `who`, started (not awaited).
fn start_as(lab: &LabServer, who: &str, home: &Path, config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SWITCHBOARD_TOKEN", lab.token_for(who).unwrap())
        .env_remove("SWITCHBOARD_CONFIG")
        .env_remove("SWITCHBOARD_CONTEXT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `switchboard ARGS` as `who`; its exit code and stdout (parsed when it is JSON).
async fn run_as(
    lab: &LabServer,
    who: &str,
    home: &Path,
    config: &Path,
    args: &[&str],
) -> (i32, String) {
    let out = start_as(lab, who, home, config, args)
        .output()
        .await
        .unwrap();
    said(out)
}

fn said(out: Output) -> (i32, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("killed: {stderr}"));
    (code, format!("{stdout}{stderr}"))
}

fn json(said: &str) -> Value {
    let end = said.rfind('}').map_or(0, |end| end + 1);
    serde_json::from_str(&said[..end]).unwrap_or_else(|e| panic!("JSON ({e}): {said}"))
}

/// Waits until the lab holds a pending request; its id.
async fn pending_id(lab: &LabServer, home: &Path, config: &Path) -> String {
    for _ in 0..100 {
        let (code, out) = run_as(
            lab,
            "victor",
            home,
            config,
            &["approvals", "list", "--json"],
        )
        .await;
        assert_eq!(code, 0, "{out}");
        let list = json(&out);
        if let Some(pending) =
            (list["requests"].as_array().unwrap().iter()).find(|r| r["state"] == "pending")
        {
            return pending["id"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no request was held");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drain_the_context_holds_exits_5_and_only_another_operator_approves_it() {
    let (lab, home, config) = lab_and_config(1.0).await;
    let (home, config) = (home.path(), config.as_path());
    let drain = [
        "drain", "us-west", "--reason", "brownout", "--yes", "--json",
    ];
    let (code, out) = run_as(&lab, "alice", home, config, &drain).await;
    assert_eq!(code, 5, "{out}");
    let report = json(&out);
    assert_eq!(report["outcome"], "pending", "{report}");
    let id = report["approval"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        report["message"],
        format!(
            "pending approval {id}: every drain needs a second approver; ask another operator: \
             switchboard approvals approve {id} --reason ..."
        )
    );
    assert_eq!(report["approval"]["requested_by"], "alice");

    let (code, out) = run_as(&lab, "bob", home, config, &["approvals", "show", &id]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{id} pending approval: drain us-west")),
        "{out}"
    );
    assert!(
        out.contains("waits     every drain needs a second approver"),
        "{out}"
    );

    // Not the requester's to approve, nor a viewer's; an unknown id is said so.
    let approve = |id: &str| {
        [
            "approvals",
            "approve",
            id,
            "--reason",
            "spare region",
            "--json",
        ]
        .map(str::to_string)
    };
    for (who, needle) in [("alice", "you asked for this"), ("victor", "is a viewer")] {
        let args = approve(&id);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out) = run_as(&lab, who, home, config, &args).await;
        assert_eq!(code, 2, "{who}: {out}");
        let decision = json(&out);
        assert_eq!(decision["outcome"], "forbidden", "{decision}");
        let message = decision["message"].as_str().unwrap();
        assert!(message.starts_with("not yours to approve: "), "{message}");
        assert!(message.contains(needle), "{message}");
    }
    let (code, out) = run_as(
        &lab,
        "bob",
        home,
        config,
        &["approvals", "approve", "apr-999999", "--reason", "x"],
    )
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with("not-found: no approval request \"apr-999999\""),
        "{out}"
    );

    let args = approve(&id);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = run_as(&lab, "bob", home, config, &args).await;
    assert_eq!(code, 0, "{out}");
    let decision = json(&out);
    assert_eq!(decision["outcome"], "approved", "{decision}");
    assert_eq!(decision["request"]["decision"]["by"], "bob");
    assert!(
        decision["request"]["decision"]["audit_id"]
            .as_u64()
            .is_some()
    );
    // Decided already: 409, naming who.
    let (code, out) = run_as(&lab, "bob", home, config, &args).await;
    assert_eq!(code, 4, "{out}");
    let again = json(&out);
    assert_eq!(again["outcome"], "conflict");
    assert_eq!(
        again["message"],
        format!("{id} is approved already by bob (\"spare region\")")
    );
    let (code, out) = run_as(&lab, "victor", home, config, &["approvals", "list"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 pending, 1 kept"), "{out}");
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_ends_when_another_operator_decides() {
    let (lab, home, config) = lab_and_config(1.0).await;
    let (home, config) = (home.path(), config.as_path());
    // Approved: the drain runs, and the waiting run exits 0 with the command's audit id.
    let waiting = start_as(
        &lab,
        "alice",
        home,
        config,
        &[
            "drain", "us-west", "--reason", "brownout", "--yes", "--wait", "--json",
        ],
    )
    .spawn()
    .unwrap();
    let id = pending_id(&lab, home, config).await;
    let (code, out) = run_as(
        &lab,
        "bob",
        home,
        config,
        &["approvals", "approve", &id, "--reason", "spare region"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!(
            "approved {id} (drain us-west, asked by alice): carried out as audit #"
        )),
        "{out}"
    );
    let (code, out) = said(waiting.wait_with_output().await.unwrap());
    assert_eq!(code, 0, "{out}");
    let report = json(&out);
    assert_eq!(report["outcome"], "accepted", "{report}");
    assert_eq!(report["message"], "approved by bob: spare region");
    assert_eq!(
        report["audit_id"],
        report["approval"]["decision"]["audit_id"]
    );

    // Denied: never carried out, exit 6 naming who and why.
    let waiting = start_as(
        &lab,
        "alice",
        home,
        config,
        &[
            "undrain",
            "us-west",
            "--reason",
            "recovered",
            "--yes",
            "--wait",
        ],
    )
    .spawn()
    .unwrap();
    let id = pending_id(&lab, home, config).await;
    let deny = ["approvals", "deny", &id, "--reason", "still browning out"];
    let (code, out) = run_as(&lab, "bob", home, config, &deny).await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = said(waiting.wait_with_output().await.unwrap());
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("waiting for another operator"), "{out}");
    assert!(
        out.contains("denied: denied by bob: still browning out"),
        "{out}"
    );

    // Ctrl-C stops the wait, not the request: exit 5, still pending; its requester withdraws it.
    let undrain = [
        "undrain",
        "us-west",
        "--reason",
        "recovered",
        "--yes",
        "--wait",
    ];
    let mut waiting = start_as(&lab, "alice", home, config, &undrain)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(waiting.stdout.take().unwrap()).lines();
    let mut shown = String::new();
    while !shown.contains("waiting for another operator") {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        shown = line.expect("in time").unwrap().expect("a line");
    }
    // The line comes just before the wait listens for Ctrl-C.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = waiting.id().unwrap().to_string();
    let interrupt = Command::new("kill").args(["-INT", &pid]).status().await;
    assert!(interrupt.unwrap().success());
    let (code, out) = said(waiting.wait_with_output().await.unwrap());
    assert_eq!(code, 5, "{out}");
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
    }
    assert!(
        rest.contains("stopped waiting (Ctrl-C): apr-"),
        "{rest}{out}"
    );
    let id = pending_id(&lab, home, config).await;
    let withdraw = [
        "approvals",
        "withdraw",
        &id,
        "--reason",
        "not now",
        "--json",
    ];
    let (code, out) = run_as(&lab, "alice", home, config, &withdraw).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(json(&out)["request"]["state"], "withdrawn");
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_promotion_is_followed_to_its_end_with_wait() {
    let (lab, home, config) = lab_and_config(20.0).await;
    let (home, config) = (home.path(), config.as_path());
    let promote = [
        "promote",
        "credit-decision",
        "credit-decision@us-west",
        "--reason",
        "us-east maintenance",
        "--yes",
        "--wait",
        "--json",
    ];
    let waiting = start_as(&lab, "alice", home, config, &promote)
        .spawn()
        .unwrap();
    let id = pending_id(&lab, home, config).await;
    let approve = ["approvals", "approve", &id, "--reason", "standby is hot"];
    let (code, out) = run_as(&lab, "bob", home, config, &approve).await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = said(waiting.wait_with_output().await.unwrap());
    assert_eq!(code, 0, "{out}");
    let report = json(&out);
    assert_eq!(report["outcome"], "succeeded", "{report}");
    assert_eq!(report["operation"]["state"], "succeeded", "{report}");
    assert_eq!(report["message"], "approved by bob: standby is hot");
    lab.shutdown().await;
}
