//! The console on a context with a Temporal source, in a real terminal (tmux): a workflow of
//! the reference worker escalates, the operator opens its task, reads its lineage (from the
//! workflow's history) and approves a candidate; the workflow completes with that output, by
//! that operator. Needs tmux and the Temporal venv (see temporal_support).

mod temporal_support;
mod tmux_support;

use std::time::{Duration, Instant};

use switchboard::sources::Timeouts;
use switchboard::sources::temporal::{Names, TemporalClient, TemporalSpec};
use temporal_support::TemporalDev;
use tmux_support::Tmux;

const WAIT: Duration = Duration::from_secs(60);

/// A 429 path and a path whose answer the validator refuses: the second leaves a candidate.
const PATHS: &str = r#"[
  {"model": "gpt-4o", "provider": "openai", "region": "us-east", "simulate": "429"},
  {"model": "gemini-pro", "provider": "google", "region": "eu-west", "simulate": "reject"}
]"#;

#[test]
fn a_temporal_task_is_opened_its_lineage_read_and_resolved_from_the_console() {
    let Some(mut dev) = TemporalDev::start() else {
        return;
    };
    let id = dev
        .start_workflows("tmux", 1, &["--paths", PATHS, "--max-attempts", "3"])
        .remove(0);
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("agents.toml");
    std::fs::write(
        &config,
        format!(
            "default_context = \"agents\"\n[notify]\nmode = \"off\"\n[contexts.agents]\n\
             [[contexts.agents.sources]]\nname = \"workflows\"\nkind = \"temporal\"\n\
             url = \"{}\"\n[contexts.agents.sources.temporal]\nnamespace = \"default\"\n\
             poll_interval_s = 1\noperator = \"olga\"\n",
            dev.http_url()
        ),
    )
    .unwrap();
    let tmux = Tmux::start(140, 40, home.path());
    let bin = env!("CARGO_BIN_EXE_switchboard");
    tmux.type_line(&format!(
        "SWITCHBOARD_TOKEN=unused {bin} --config {}; echo \"END-$((40+2)) exit=$?\"",
        config.display()
    ));
    tmux.wait_for("workflows live", WAIT);
    tmux.send(&["5"]);
    tmux.wait_for(&id, WAIT);
    tmux.send(&["/"]);
    tmux.send(&["-l", &id]);
    tmux.send(&["Enter"]);
    tmux.wait_for("match", WAIT);
    tmux.send(&["Enter"]);
    tmux.wait_for("Candidates (", WAIT);

    // The lineage from the history: the 429 path's last attempt, said as Temporal keeps it.
    tmux.send(&["Tab", "Tab", "Tab"]);
    let screen = tmux.wait_for("ESCALATED", WAIT);
    assert!(screen.contains("openai"), "{screen}");
    assert!(screen.contains("attempt 3 of 3"), "{screen}");

    tmux.send(&["a"]);
    tmux.wait_for(&format!("Resolve {id}: approve"), WAIT);
    tmux.send(&["Enter"]);
    tmux.wait_for("a note is required", WAIT);
    tmux.send(&["-l", "read the candidate, it is fine"]);
    tmux.send(&["Enter"]);
    tmux.wait_for(&format!("✓ approve of {id}: accepted"), WAIT);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let spec = TemporalSpec {
        name: "workflows".into(),
        url: dev.http_url(),
        namespace: "default".into(),
        api_key: None,
        names: Names::default(),
    };
    let client = TemporalClient::new(&spec, Timeouts::default()).unwrap();
    let result = completed(&runtime, &client, &id);
    assert_eq!(result["by"], "olga", "{result}");
    assert!(result["output"].is_string(), "{result}");

    // A second task, opened while the worker runs; the worker stops before it is resolved.
    let second = dev
        .start_workflows("tmux-down", 1, &["--paths", PATHS, "--max-attempts", "3"])
        .remove(0);
    tmux.send(&["Escape"]);
    tmux.send(&["/"]);
    tmux.send(&["-l", &second]);
    tmux.send(&["Enter"]);
    // The first task has left the inbox: the one match is the second.
    tmux.wait_for("· 1 match", WAIT);
    tmux.send(&["Enter"]);
    tmux.wait_for("Candidates (", WAIT);
    tmux.send(&["a"]);
    tmux.wait_for(&format!("Resolve {second}: approve"), WAIT);
    // Claimed while the worker runs (the form claims first); then the worker stops.
    tmux.wait_for("claimed until", WAIT);
    dev.stop_worker();
    tmux.send(&["Enter"]);
    tmux.wait_for("a note is required", WAIT);
    tmux.send(&["-l", "approved while the worker is away"]);
    tmux.send(&["Enter"]);
    // Every try under the same key times out: the console says so and what to do.
    let screen = tmux.wait_for(
        "no worker answered the switchboard_resolve",
        Duration::from_secs(150),
    );
    assert!(screen.contains(&second), "{screen}");
    // Out of the task (q closes it), then out of the console.
    tmux.send(&["q"]);
    tmux.wait_for("q quit", WAIT);
    tmux.send(&["q"]);
    let screen = tmux.wait_for("END-42", WAIT);
    assert!(screen.contains("END-42 exit=0"), "{screen}");

    // Nothing is lost: the next console sends the journaled resolution again under its key
    // once a worker runs, and the workflow completes with it, by the same operator.
    dev.start_worker();
    tmux.send(&["clear"]);
    tmux.send(&["Enter"]);
    tmux.type_line(&format!(
        "SWITCHBOARD_TOKEN=unused {bin} --config {}; echo \"END-$((40+3)) exit=$?\"",
        config.display()
    ));
    tmux.wait_for("journal: applied", Duration::from_secs(90));
    let result = completed(&runtime, &client, &second);
    assert_eq!(result["by"], "olga", "{result}");
    tmux.send(&["q"]);
    let screen = tmux.wait_for("END-43", WAIT);
    assert!(screen.contains("END-43 exit=0"), "{screen}");
}

/// The result of workflow `id` once it completed.
fn completed(
    runtime: &tokio::runtime::Runtime,
    client: &TemporalClient,
    id: &str,
) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let events = runtime.block_on(client.history(id, "")).unwrap();
        if let Some(done) = events
            .iter()
            .find(|e| e.kind() == "WORKFLOW_EXECUTION_COMPLETED")
        {
            return done.attributes()["result"][0].clone();
        }
        assert!(started.elapsed() < WAIT, "workflow {id} did not complete");
        std::thread::sleep(Duration::from_millis(200));
    }
}
