//! `switchboard standby` and `switchboard pool` against the embedded lab: the binary as a
//! script runs it, with its preflight in `--json` and its exit codes.

use std::process::Command;

use serde_json::Value;

/// Runs `switchboard --lab --speed 600 ARGS` in an empty home: exit code, stdout, stderr.
fn on_lab(args: &[&str]) -> (Option<i32>, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--lab", "--speed", "600"])
        .args(args)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn warming_a_standby_waits_for_its_operation_and_reports_the_preflight() {
    let (code, out, err) = on_lab(&[
        "standby",
        "warm",
        "credit-decision@eu-west",
        "--for",
        "2h",
        "--reason",
        "storm warning",
        "--yes",
        "--wait",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let report = json(&out);
    assert_eq!(report["command"], "standby warm");
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(report["operation"]["kind"], "standby");
    let readiness = &report["preflight"]["readiness"];
    assert_eq!(readiness["role_before"], "cold-standby");
    assert_eq!(readiness["role_after"], "warm-standby");
    assert_eq!(readiness["takes_s"], 300.0);
    assert_eq!(readiness["reverts_after_s"], 7200);
}

#[test]
fn borrowing_reports_the_pool_left_and_giving_back_an_own_replica_is_refused() {
    let (code, out, err) = on_lab(&[
        "pool",
        "borrow",
        "shared-us-west",
        "--service",
        "credit-decision",
        "--reason",
        "launch day",
        "--yes",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let report = json(&out);
    assert_eq!(report["command"], "borrow");
    assert_eq!(report["outcome"], "accepted");
    assert_eq!(report["preflight"]["readiness"]["pool_left"], 1);
    let spend = report["preflight"]["readiness"]["spend_after_per_hour"].as_f64();
    assert!((spend.unwrap() - 4.8).abs() < 1e-9, "{spend:?}");

    let (code, out, err) = on_lab(&[
        "pool",
        "return",
        "credit-decision@us-west",
        "--reason",
        "done",
        "--yes",
    ]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.contains("only one borrowed from a pool"), "{out}{err}");

    let (code, out, err) = on_lab(&[
        "standby",
        "warm",
        "credit-decision@eu-west",
        "--to",
        "cold",
        "--reason",
        "oops",
        "--yes",
    ]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.contains("warm goes to warm or hot"), "{out}{err}");
}
