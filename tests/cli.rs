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

/// A config whose source has a key the file format does not know (line 7, column 1).
const BAD_CONFIG: &str = "default_context = \"prod\"\n[contexts.prod]\nproduction = true\n\
[[contexts.prod.sources]]\nname = \"gw\"\nurl = \"http://127.0.0.1:9\"\ntimeout = 5\n";
/// The same context, valid: its only source is closed (port 9, discard), so a run that
/// reaches it says so, and one that reaches the embedded lab instead would not.
const DEAD_CONFIG: &str = "[contexts.prod]\nproduction = true\n\
[[contexts.prod.sources]]\nname = \"gw\"\nurl = \"http://127.0.0.1:9\"\n";

/// Runs `switchboard` with `args` (`CONFIG` stands for the config file holding `config`) in
/// an empty home; returns the exit code, stdout and stderr.
fn run_with_config(config: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("sb.toml");
    std::fs::write(&file, config).unwrap();
    let args: Vec<&std::ffi::OsStr> = args
        .iter()
        .map(|arg| match *arg {
            "CONFIG" => file.as_os_str(),
            other => std::ffi::OsStr::new(other),
        })
        .collect();
    let out = run_in(home.path(), "sb_test_token", &args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every verb that reads or changes a fleet, with its own arguments.
const VERBS: [&[&str]; 9] = [
    &["status"],
    &["drain", "eu-west", "--reason", "drill", "--yes"],
    &["undrain", "eu-west", "--reason", "drill", "--yes"],
    &["promote", "chat", "chat-b", "--reason", "drill", "--yes"],
    &[
        "breaker",
        "openai@us-east",
        "force-open",
        "--reason",
        "drill",
        "--yes",
    ],
    &[
        "degrade",
        "chat",
        "serve-cache",
        "on",
        "--reason",
        "drill",
        "--yes",
    ],
    &["weights", "chat", "us-east=1", "--reason", "drill", "--yes"],
    &["escalations", "list"],
    &["audit", "--since", "1h"],
];

/// `flags` written before the verb, then after it.
fn both_placements<'a>(verb: &[&'a str], flags: &[&'a str]) -> [Vec<&'a str>; 2] {
    let before = flags.iter().chain(verb).copied().collect();
    let after = verb.iter().chain(flags).copied().collect();
    [before, after]
}

#[test]
fn an_invalid_config_never_falls_back_to_the_embedded_lab() {
    for verb in VERBS {
        for flags in [
            &["--config", "CONFIG", "--context", "prod"][..],
            &["--config", "CONFIG"],
        ] {
            for args in both_placements(verb, flags) {
                let (code, stdout, stderr) = run_with_config(BAD_CONFIG, &args);
                assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
                assert!(stderr.contains("sb.toml:7:1"), "{args:?}: {stderr}");
                assert!(stderr.contains("timeout"), "{args:?}: {stderr}");
                assert!(!stdout.contains("lab"), "{args:?}: {stdout}");
            }
        }
    }
}

#[test]
fn only_an_explicit_lab_flag_runs_on_the_embedded_lab_despite_a_bad_config() {
    for args in both_placements(&["status", "--json"], &["--config", "CONFIG", "--lab"]) {
        let (code, stdout, stderr) = run_with_config(BAD_CONFIG, &args);
        assert_eq!(code, Some(0), "{args:?}: {stdout}{stderr}");
        assert!(stdout.contains("\"source\": \"lab\""), "{args:?}: {stdout}");
        assert!(stderr.contains("sb.toml:7:1"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_config_with_contexts_but_none_chosen_is_refused_not_run_on_the_lab() {
    for verb in VERBS {
        for args in both_placements(verb, &["--config", "CONFIG"]) {
            let (code, stdout, stderr) = run_with_config(DEAD_CONFIG, &args);
            assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
            assert!(stderr.contains("--context"), "{args:?}: {stderr}");
            assert!(!stdout.contains("lab"), "{args:?}: {stdout}");
        }
    }
}

#[test]
fn global_flags_mean_the_same_before_and_after_the_verb() {
    for verb in VERBS {
        for args in both_placements(verb, &["--config", "CONFIG", "--context", "prod"]) {
            let (code, stdout, stderr) = run_with_config(DEAD_CONFIG, &args);
            assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
            let said = format!("{stdout}{stderr}");
            assert!(
                said.contains("127.0.0.1:9"),
                "{args:?} must reach the context's source: {said}"
            );
        }
        // --read-only, wherever written, refuses the mutating verbs before any network.
        if verb.contains(&"--yes") {
            for args in both_placements(
                verb,
                &["--config", "CONFIG", "--context", "prod", "--read-only"],
            ) {
                let (code, _, stderr) = run_with_config(DEAD_CONFIG, &args);
                assert_eq!(code, Some(2), "{args:?}: {stderr}");
                assert!(stderr.contains("read-only"), "{args:?}: {stderr}");
            }
        }
    }
    // The embedded lab's flags too: a seed before or after gives the same fleet.
    let [before, after] = both_placements(&["status", "--json"], &["--lab", "--seed", "9"]);
    let (_, first, _) = run_with_config("", &before);
    let (_, second, _) = run_with_config("", &after);
    assert!(first.contains("\"source\": \"lab\""), "{first}");
    assert_eq!(first, second);
}

/// A run that sets up the log and exits at once (its config file does not exist).
fn start_and_exit(state: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["status", "--config", "/nonexistent/switchboard.toml"])
        .env("XDG_CONFIG_HOME", state.join("config"))
        .env("XDG_STATE_HOME", state)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn the_log_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let out = start_and_exit(home.path()).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let logs = home.path().join("switchboard/logs");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&logs), 0o700);
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.iter().any(|f| f.is_file()), "{files:?}");
    for file in files.iter().filter(|f| !f.is_symlink()) {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
}

#[test]
fn concurrent_starts_on_an_empty_log_folder_all_set_up_their_log() {
    for _round in 0..20 {
        let home = tempfile::tempdir().unwrap();
        let runs: Vec<_> = (0..16).map(|_| start_and_exit(home.path())).collect();
        for run in runs {
            let out = run.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("log"), "{stderr}");
            assert!(
                stderr.contains("cannot read the configuration file"),
                "{stderr}"
            );
        }
        let link = home.path().join("switchboard/logs/switchboard.log");
        assert!(
            std::fs::metadata(&link).unwrap().is_file(),
            "the latest-log link resolves"
        );
    }
}

/// A run that died after journalling two breaker pins: the first reached the lab (its audit log
/// has it under alice's name), the second never left. Returns the lab, the home and the
/// config file of a context on that lab.
async fn crashed_run() -> (lab::LabServer, tempfile::TempDir, std::path::PathBuf) {
    use switchboard::domain::command::Command as FleetCommand;
    use switchboard::journal::{Entry, Journal};
    let lab = lab::LabServer::start(lab::LabOptions::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("sb.toml");
    let url = lab.url();
    std::fs::write(
        &config,
        format!("default_context = \"drill\"\n[contexts.drill]\n[[contexts.drill.sources]]\nname = \"gw\"\nurl = \"{url}\"\n"),
    )
    .unwrap();
    let client =
        switchboard::sources::Client::new(&url, lab.token_for("alice").map(str::to_string))
            .unwrap();
    let snapshot = client.fleet().await.unwrap();
    let mut journal = Journal::open(&home.path().join("state/switchboard/commands.jsonl")).unwrap();
    for (key, send) in [("key-sent", true), ("key-lost", false)] {
        let command = FleetCommand::Breaker {
            provider: snapshot.providers[0].id.clone(),
            action: protocol::commands::BreakerAction::Pin,
            expires_in_s: None,
        };
        let if_match = command.control_revision(&snapshot).unwrap();
        journal
            .record_sent(&Entry::new(
                "drill", &url, &command, "drill", None, key, if_match,
            ))
            .unwrap();
        if send {
            let (answer, _) = switchboard::sources::delivery::deliver(
                &client, &command, "drill", None, key, if_match, 1,
            )
            .await;
            answer.unwrap();
        }
    }
    (lab, home, config)
}

/// Runs `switchboard` with `args` in `home` (config and state under it), with `token`.
fn run_in(home: &std::path::Path, token: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SWITCHBOARD_TOKEN", token)
        .env_remove("SWITCHBOARD_CONFIG")
        .env_remove("SWITCHBOARD_CONTEXT")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// [`run_in`] with `--config config`, as lab operator `who`.
fn run_on_lab_as(
    lab: &lab::LabServer,
    who: &str,
    home: &std::path::Path,
    config: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    all.extend([std::ffi::OsStr::new("--config"), config.as_os_str()]);
    run_in(home, lab.token_for(who).unwrap(), &all)
}

#[tokio::test(flavor = "multi_thread")]
async fn journal_verb_recovers_pending_commands_from_the_callers_audit() {
    let (lab, home, config) = crashed_run().await;
    let out = run_on_lab_as(&lab, "alice", home.path(), &config, &["journal", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["recovered"], 2, "{report}");
    assert_eq!(report["still_unknown"], 0, "{report}");
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries[0]["idempotency_key"], "key-sent");
    assert_eq!(entries[0]["outcome"]["kind"], "accepted", "{report}");
    assert_eq!(entries[1]["outcome"]["kind"], "never-received", "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mutating_verb_recovers_pending_commands_first_and_only_its_callers() {
    let (lab, home, config) = crashed_run().await;
    // bob's run asks about the journal's commands among his own: neither is his.
    let verb = [
        "breaker",
        "nowhere@nowhere",
        "close",
        "--reason",
        "drill",
        "--yes",
    ];
    let out = run_on_lab_as(&lab, "bob", home.path(), &config, &verb);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Recovery ran before the verb (two lines), and took nothing of alice's as bob's.
    assert_eq!(
        stderr.matches("switchboard: journal: ").count(),
        2,
        "{stderr}"
    );
    assert!(!stderr.contains("journal: accepted"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_verb_prints_the_sources_audit_log_since_a_time() {
    let (lab, home, config) = crashed_run().await;
    let audit = |since: &str, json: bool| {
        let mut args = vec!["audit", "--since", since];
        args.extend(json.then_some("--json"));
        run_on_lab_as(&lab, "bob", home.path(), &config, &args)
    };
    let out = audit("10m", true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let entries = report["entries"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["idempotency_key"] == "key-sent"
            && e["actor"] == "alice"
            && e["reason"] == "drill"),
        "{report}"
    );
    let out = audit("2000-01-01T00:00:00Z", false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("alice accepted breaker pin") && text.contains("key key-sent"),
        "{text}"
    );
    assert_eq!(audit("soon", false).status.code(), Some(2));
}

/// The default lab fleet is N+1 for one region: a first drill can drain us-west and succeed
/// (the others take its traffic with low headroom), while the regions that hold a service's
/// only replica (eu-west, ap-south) or too much traffic (us-east) are refused, saying why.
#[test]
fn the_default_fleet_can_lose_us_west_but_not_a_region_it_cannot_spare() {
    let drain = |region: &str| {
        run_with_config(
            "",
            &["--lab", "drain", region, "--reason", "first drill", "--yes"],
        )
    };
    let (code, out, err) = drain("us-west");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("accepted"), "{out}");
    for (region, why) in [
        (
            "eu-west",
            "email-notifier: no replica would take its traffic",
        ),
        (
            "ap-south",
            "log-aggregator: no replica would take its traffic",
        ),
        ("us-east", "at 10"),
    ] {
        let (code, out, err) = drain(region);
        assert_eq!(code, Some(3), "{region}: {out}{err}");
        assert!(
            out.contains(why) || err.contains(why),
            "{region}: {out}{err}"
        );
    }
}

/// Issue 8 item 9, the CLI's side: a lab at x60 runs its own clock, so its deadlines are
/// printed with its name, not as UTC (time left is counted on it: escalations::tests).
#[test]
fn a_lab_running_its_own_time_labels_every_time_the_cli_prints() {
    let lab = ["--lab", "--speed", "60", "--escalations", "5"];
    let run = |verb: &[&str]| {
        let args: Vec<&str> = lab.iter().chain(verb).copied().collect();
        run_with_config("", &args)
    };
    let (code, list, err) = run(&["escalations", "list"]);
    assert_eq!(code, Some(0), "{list}{err}");
    let id = list.split_whitespace().next().unwrap().to_string();
    let (code, show, err) = run(&["escalations", "show", &id]);
    assert_eq!(code, Some(0), "{show}{err}");
    let deadline = show
        .lines()
        .find(|l| l.starts_with("SLA deadline"))
        .unwrap();
    assert!(deadline.contains(" lab ×60 "), "{deadline}");
    assert!(!deadline.contains("UTC"), "{deadline}");
    let (code, audit, err) = run(&["audit", "--json"]);
    assert_eq!(code, Some(0), "{audit}{err}");
    let report: serde_json::Value = serde_json::from_str(&audit).unwrap();
    assert_eq!(report["clock"], "lab ×60", "{report}");
}

/// A facilitator checks a scenario before a drill: every shipped one passes, and a file with
/// mistakes names each at file:line:column with exit code 2.
#[test]
fn lab_check_passes_the_shipped_scenarios_and_locates_problems() {
    for name in ["provider-outage", "region-down", "standby-not-warm"] {
        let out = stdout_of(&["lab", "check", name]);
        assert!(out.contains(&format!("scenario {name}:")), "{out}");
        assert!(out.contains("objectives ("), "{out}");
    }
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("drill.toml");
    std::fs::write(
        &file,
        "name = \"drill\"\n[[inject]]\nat = \"1s\"\nkind = \"message\"\nnarrative = \"hi\"\n[[objective]]\nid = \"o\"\ntitle = \"t\"\nkind = \"healthy\"\ntarget = \"mars\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["lab", "check"])
        .arg(&file)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains(&format!("{}:10:10: target \"mars\"", file.display())),
        "{stdout}"
    );
}
