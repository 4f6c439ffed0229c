//! `switchboard silences` and `switchboard journal` from a shell against the real
//! Alertmanager: a silence made from the command line is in Alertmanager's API with its
//! matchers, createdBy and the journal's key in its comment, listed, expired; refusals exit 2
//! with the problem; the journal's silences whose answer was lost are settled once.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use switchboard::journal::Journal;
use switchboard::sources::prometheus::silences::{Silence, SilenceState};
use switchboard::sources::prometheus::{AlertmanagerClient, Matcher};

use super::*;

/// Who the command line runs as: `createdBy` when no source names the user.
const LOGIN: &str = "cli-tester";

/// A home with a config of one context: the stack's Prometheus and Alertmanager, after
/// `extra` (more sources, listed first).
fn home_with(stack: &Stack, extra: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "default_context = \"metrics\"\n[contexts.metrics]\n{extra}\
         [[contexts.metrics.sources]]\nname = \"metrics\"\nkind = \"prometheus\"\nurl = \"{}\"\n\
         [contexts.metrics.sources.prometheus]\nalertmanager_url = \"{}\"\n",
        stack.prometheus_url, stack.alertmanager_url
    );
    std::fs::write(home.path().join("config.toml"), config).unwrap();
    home
}

fn run(home: &Path, token: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env_clear()
        .env("HOME", home)
        .env("USER", LOGIN)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("SWITCHBOARD_TOKEN", token)
        .arg("--config")
        .arg(home.join("config.toml"))
        .args(args)
        .output()
        .unwrap()
}

fn switchboard(home: &Path, args: &[&str]) -> Output {
    run(home, "unused", args)
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {output:?}"))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn journal_path(home: &Path) -> PathBuf {
    home.join("state/switchboard/commands.jsonl")
}

async fn with_key(client: &AlertmanagerClient, key: &str) -> Vec<Silence> {
    (client.silences().await.unwrap().into_iter())
        .filter(|s| s.key.as_deref() == Some(key))
        .collect()
}

#[tokio::test]
async fn a_silence_made_from_the_shell_is_in_alertmanager_listed_and_expired() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let client = source_of(stack).alertmanager().unwrap().clone();
    let home = home_with(stack, "");
    let home = home.path();

    let created = switchboard(
        home,
        &[
            "silences",
            "create",
            "alertname=ProviderErrorRateHigh",
            "region=cli-1",
            "api_provider!=azure",
            "model=~gpt-4.*",
            "--for",
            "20m",
            "--reason",
            "vendor incident INC-9",
            "--yes",
            "--json",
        ],
    );
    let report = json_of(&created);
    assert_eq!(created.status.code(), Some(0), "{report}");
    assert_eq!(report["outcome"], "created", "{report}");
    let key = report["idempotency_key"].as_str().unwrap().to_string();
    let id = report["silence_id"].as_str().unwrap().to_string();

    // Alertmanager holds it as asked, under the journal's key, made by the login name.
    let ours = with_key(&client, &key).await;
    assert_eq!(ours.len(), 1, "{ours:?}");
    let silence = &ours[0];
    assert_eq!(silence.id, id);
    let matcher = |name: &str, value: &str, is_regex, is_equal| Matcher {
        name: name.into(),
        value: value.into(),
        is_regex,
        is_equal,
    };
    assert_eq!(
        silence.matchers,
        [
            matcher("alertname", "ProviderErrorRateHigh", false, true),
            matcher("region", "cli-1", false, true),
            matcher("api_provider", "azure", false, false),
            matcher("model", "gpt-4.*", true, true),
        ]
    );
    assert_eq!(silence.created_by, LOGIN);
    assert_eq!(silence.comment, "vendor incident INC-9");
    let length = silence.ends_at - silence.starts_at;
    assert!((length.num_seconds() - 1200).abs() <= 2, "{length}");
    let journal = Journal::open(&journal_path(home)).unwrap();
    let record = journal.recent(1).remove(0);
    assert_eq!(record.entry.idempotency_key, key);
    assert_eq!(record.entry.command.verb, "silence create");
    assert!(journal.pending().is_empty());

    // Listed, as text and as JSON.
    let listed = switchboard(home, &["silences", "list", "--json"]);
    assert_eq!(listed.status.code(), Some(0), "{listed:?}");
    let list = json_of(&listed);
    let shown = (list["silences"].as_array().unwrap().iter())
        .find(|s| s["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(shown["created_by"], LOGIN);
    assert_eq!(shown["comment"], "vendor incident INC-9");
    assert_eq!(shown["state"], "active");
    assert_eq!(shown["idempotency_key"], key.as_str());
    assert!(
        shown["matchers"]
            .as_array()
            .unwrap()
            .contains(&Value::from("model=~gpt-4.*")),
        "{shown}"
    );
    assert!(shown["until"].as_str().unwrap().ends_with('Z'), "{shown}");
    let text = switchboard(home, &["silences", "list"]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    let line = (text.lines())
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("{text}"));
    for part in [
        "until ",
        "by cli-tester",
        "region=cli-1",
        "api_provider!=azure",
        "vendor incident INC-9",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }

    // Expired: no longer active; listed again only with --expired.
    let expired = switchboard(
        home,
        &[
            "silences", "expire", &id, "--reason", "fixed", "--yes", "--json",
        ],
    );
    let report = json_of(&expired);
    assert_eq!(expired.status.code(), Some(0), "{report}");
    assert_eq!(report["outcome"], "expired", "{report}");
    assert_eq!(
        client.silence(&id).await.unwrap().state,
        SilenceState::Expired
    );
    let active = json_of(&switchboard(home, &["silences", "list", "--json"]));
    assert!(
        (active["silences"].as_array().unwrap().iter()).all(|s| s["id"] != id.as_str()),
        "{active}"
    );
    let all = json_of(&switchboard(
        home,
        &["silences", "list", "--expired", "--json"],
    ));
    assert!(
        (all["silences"].as_array().unwrap().iter())
            .any(|s| s["id"] == id.as_str() && s["state"] == "expired"),
        "{all}"
    );
}

#[tokio::test]
async fn a_silence_the_shell_cannot_make_exits_2_with_the_problem_and_sends_nothing() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let client = source_of(stack).alertmanager().unwrap().clone();
    let home = home_with(stack, "");
    let home = home.path();
    let made_for_cli_2 = async || {
        let silences = client.silences().await.unwrap();
        let on_cli_2 = |s: &&Silence| s.matchers.iter().any(|m| m.value == "cli-2");
        silences.iter().filter(on_cli_2).count()
    };
    let cases: [(&[&str], &str); 5] = [
        (
            &["region~cli-2", "--reason", "r"],
            "use label=value, label!=value, label=~regex or label!~regex",
        ),
        (&["region=cli-2"], "--reason"),
        (&["region=cli-2", "--reason", "  "], "--reason must say why"),
        (
            &["region=cli-2", "--for", "8d", "--reason", "r"],
            "a silence lasts from 1 second to 7d",
        ),
        (&["--reason", "r"], "MATCHER"),
    ];
    for (args, problem) in cases {
        let mut full = vec!["silences", "create"];
        full.extend_from_slice(args);
        full.push("--yes");
        let out = switchboard(home, &full);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let said = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
        assert!(said.contains(problem), "{args:?}: {problem:?} in {said}");
    }
    let refused = switchboard(
        home,
        &[
            "--read-only",
            "silences",
            "create",
            "region=cli-2",
            "--reason",
            "r",
            "--yes",
            "--json",
        ],
    );
    let report = json_of(&refused);
    assert_eq!(refused.status.code(), Some(2), "{report}");
    assert_eq!(report["outcome"], "refused", "{report}");
    assert!(
        report["message"].as_str().unwrap().contains("read-only"),
        "{report}"
    );
    let expire = switchboard(
        home,
        &[
            "--read-only",
            "silences",
            "expire",
            "x",
            "--reason",
            "r",
            "--yes",
        ],
    );
    assert_eq!(expire.status.code(), Some(2), "{expire:?}");
    assert_eq!(made_for_cli_2().await, 0);
    assert!(
        !journal_path(home).exists()
            || Journal::open(&journal_path(home))
                .unwrap()
                .recent(10)
                .is_empty()
    );
}

/// With a protocol v1 source in the context, its name for the user is `createdBy`, and its
/// role decides: a viewer is refused. The lab serves from this runtime while the test waits
/// for the command line: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sources_identity_makes_the_silence_and_a_viewer_is_refused() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let client = source_of(stack).alertmanager().unwrap().clone();
    let lab = lab::LabServer::start(lab::LabOptions::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let lab_source = format!(
        "[[contexts.metrics.sources]]\nname = \"lab\"\nurl = \"{}\"\n",
        lab.url()
    );
    let home = home_with(stack, &lab_source);
    let home = home.path();
    let args = [
        "silences",
        "create",
        "region=cli-3",
        "--reason",
        "planned",
        "--yes",
        "--json",
    ];
    let viewer = run(home, lab.token_for("victor").unwrap(), &args);
    let report = json_of(&viewer);
    assert_eq!(
        viewer.status.code(),
        Some(2),
        "{report} {}",
        stderr(&viewer)
    );
    assert_eq!(report["outcome"], "refused", "{report}");
    assert_eq!(
        report["message"],
        "role viewer may not silence alerts; nothing was sent"
    );

    let operator = run(home, lab.token_for("alice").unwrap(), &args);
    let report = json_of(&operator);
    assert_eq!(operator.status.code(), Some(0), "{report}");
    let ours = with_key(&client, report["idempotency_key"].as_str().unwrap()).await;
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].created_by, "alice");
    lab.shutdown().await;
}

/// `switchboard journal` settles silence actions an earlier run journaled without learning
/// their fate, as the console does on start: the one sent is found by the key in its
/// comment, the one never sent is made; one silence each.
#[tokio::test]
async fn the_journal_verb_settles_journaled_silences_once() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let client = source_of(stack).alertmanager().unwrap().clone();
    let home = home_with(stack, "");
    let home = home.path();
    std::fs::create_dir_all(journal_path(home).parent().unwrap()).unwrap();
    let (sent, lost, first) = super::console_silences::journal_a_lost_answer_and_a_never_sent(
        &client,
        &journal_path(home),
        ["cli-j1", "cli-j2"],
    )
    .await;

    let out = switchboard(home, &["journal"]);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        said.contains(&format!("silence {first}: already created")),
        "{said}"
    );
    assert!(said.contains(&lost) && said.contains(": created"), "{said}");
    for key in [&sent, &lost] {
        assert_eq!(
            with_key(&client, key).await.len(),
            1,
            "one silence for {key}"
        );
    }
    assert!(
        Journal::open(&journal_path(home))
            .unwrap()
            .pending()
            .is_empty()
    );
    let again = switchboard(home, &["journal"]);
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    for key in [&sent, &lost] {
        assert_eq!(
            with_key(&client, key).await.len(),
            1,
            "one silence for {key}"
        );
    }
}
