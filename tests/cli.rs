//! The one-shot commands, run as a script would run them.

use std::process::Command;

#[test]
fn status_command_exits_with_the_fleet_verdict() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["status", "--lab", "--seed", "7", "--json"])
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json prints JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let code = out.status.code().unwrap();
    assert_eq!(json["exit_code"].as_i64(), Some(code as i64), "{json}");
    // A fresh lab with no scenario is healthy.
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["verdict"], "healthy", "{json}");
}

#[test]
fn status_command_reports_an_unreachable_context_with_exit_code_2() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    // Port 9 (discard) is closed on loopback: the source is unreachable.
    std::fs::write(
        &config,
        "default_context = \"dead\"\n[contexts.dead]\n[[contexts.dead.sources]]\nname = \"gw\"\nurl = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["status", "--config"])
        .arg(&config)
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("SWITCHBOARD_TOKEN", "sb_test_token")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("cannot reach http://127.0.0.1:9"),
        "{stdout}"
    );
}

/// Runs `switchboard` with `args` in an empty home; returns its stdout (it must succeed).
fn stdout_of(args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completion_scripts_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        assert!(!script.trim().is_empty(), "{shell}: empty script");
        for subcommand in ["status", "drain", "escalations", "promote", "login", "man"] {
            assert!(
                script.contains(subcommand),
                "{shell} completions do not name {subcommand}"
            );
        }
    }
}

#[test]
fn man_page_is_roff_and_lists_the_subcommands() {
    let page = stdout_of(&["man"]);
    assert!(page.starts_with('.'), "roff requests first: {page:.80}");
    assert!(
        page.lines().any(|l| l.starts_with(".TH switchboard 1")),
        "a .TH title line: {page:.200}"
    );
    let subcommands = page
        .split(".SH SUBCOMMANDS")
        .nth(1)
        .expect("a SUBCOMMANDS section");
    for subcommand in ["status", "drain", "escalations", "completions", "man"] {
        assert!(
            subcommands.contains(&format!("switchboard\\-{subcommand}(1)")),
            "man page lists {subcommand}"
        );
    }
}
