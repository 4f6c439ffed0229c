//! The console in a real terminal: tmux runs the binary, send-keys types, capture-pane reads.
//! Needs tmux on PATH (`.ci/run` installs it).

mod tmux_support;

use std::process::Child;
use std::time::Duration;

use switchboard::testing::free_port;
use tmux_support::{Tmux, run_console_on, serve_lab};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn console_on_the_embedded_lab_navigates_and_restores_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(100, 30, home.path());
    let bin = env!("CARGO_BIN_EXE_switchboard");
    let marks = home.path().display();
    // The closing line is built by the shell, so the typed command itself never matches it.
    tmux.type_line(&format!(
        "stty -g > {marks}/before; {bin} --lab --seed 7; code=$?; stty -g > {marks}/after; \
         cmp -s {marks}/before {marks}/after && restored=yes || restored=no; echo \"END-$((40+2)) exit=$code restored=$restored\""
    ));
    let screen = tmux.wait_for("us-east", WAIT);
    assert!(screen.contains("LAB"), "status bar says LAB:\n{screen}");
    tmux.wait_for("lab live", WAIT);

    // Move to the first provider of the second region: the detail pane follows.
    tmux.send(&["Down", "Right"]);
    let screen = tmux.wait_for("openai@us-west · gpt-4o", WAIT);
    assert!(screen.contains("breaker"), "{screen}");

    tmux.send(&["2"]);
    tmux.wait_for("credit-decision", WAIT);
    tmux.send(&["?"]);
    tmux.wait_for("Keys (esc closes", WAIT);
    tmux.send(&["Escape"]);
    tmux.send(&["q"]);
    let screen = tmux.wait_for("END-42", WAIT);
    assert!(screen.contains("END-42 exit=0 restored=yes"), "{screen}");
    assert!(
        !screen.contains("Regions × providers"),
        "alternate screen left:\n{screen}"
    );
}

/// Quits the console (it must exit 0), then stops the lab it ran on.
fn quit_and_stop(tmux: &Tmux, mut lab: Child) {
    tmux.send(&["q"]);
    let screen = tmux.wait_for("END-42", WAIT);
    assert!(screen.contains("END-42 exit=0"), "{screen}");
    lab.kill().unwrap();
    lab.wait().unwrap();
}

/// Issue 9: eight regions x twelve vendors at 120x40 in a real terminal. Every region column
/// is drawn, the providers that do not fit are counted in the border, and → scrolls the last
/// vendor into view with the ones passed counted on the left.
#[test]
fn a_wide_fleet_scrolls_its_provider_columns() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let topology = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/topologies/8x12.toml");
    let (lab, token) = serve_lab(port, &["--topology", topology]);
    let tmux = Tmux::start(120, 40, home.path());
    run_console_on(&tmux, home.path(), port, &token);
    tmux.wait_for("fleet live", WAIT);
    let screen = tmux.wait_for("more ▶", WAIT);
    for column in ["SHARE", "ROOM", "ap-northeast", "ANTHRO…"] {
        assert!(screen.contains(column), "{column}:\n{screen}");
    }
    tmux.send(&["Right"; 12]);
    let screen = tmux.wait_for("azure@us-east", WAIT);
    assert!(screen.contains("◀") && screen.contains("AZURE"), "{screen}");
    quit_and_stop(&tmux, lab);
}

#[test]
fn console_survives_its_lab_dying_and_reconnects_when_it_returns() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut lab, token) = serve_lab(port, &[]);
    let tmux = Tmux::start(100, 30, home.path());
    run_console_on(&tmux, home.path(), port, &token);
    tmux.wait_for("fleet live", WAIT);
    let screen = tmux.wait_for("us-east", WAIT);
    assert!(
        screen.contains("drill") && !screen.contains(" LAB "),
        "a configured context, not the embedded lab:\n{screen}"
    );

    lab.kill().unwrap();
    lab.wait().unwrap();
    let screen = tmux.wait_for("fleet unreachable", WAIT);
    assert!(
        screen.contains("us-east"),
        "the last known fleet stays on screen:\n{screen}"
    );
    // The first report is the dropped stream; the retries find the port closed.
    tmux.wait_for("cannot reach", WAIT);

    let (lab, _) = serve_lab(port, &[]);
    tmux.wait_for("fleet live", WAIT);
    tmux.send(&["3"]);
    tmux.wait_for("connection restored", WAIT);
    quit_and_stop(&tmux, lab);
}

#[test]
fn promoting_a_standby_from_the_keyboard_makes_it_active() {
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(120, 36, home.path());
    let bin = env!("CARGO_BIN_EXE_switchboard");
    // At 10x a hot standby (5 simulated seconds) takes over in about half a second.
    tmux.type_line(&format!(
        "{bin} --lab --seed 7 --speed 10; echo \"END-$((40+2)) exit=$?\""
    ));
    tmux.wait_for("lab live", WAIT);
    // Services view, credit-decision (second row), then `p`: promote its standbys.
    tmux.send(&["2"]);
    tmux.wait_for("credit-decision", WAIT);
    tmux.send(&["Down", "p"]);
    tmux.wait_for("Commands for credit-decision", WAIT);
    let screen = tmux.wait_for("promote credit-decision/credit-decision@us-west", WAIT);
    assert!(
        screen.contains("promote credit-decision/credit-decision@eu-west"),
        "{screen}"
    );
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for(
        "Confirm: promote credit-decision/credit-decision@us-west",
        WAIT,
    );
    assert!(
        screen.contains("takeover"),
        "the preflight shows the takeover:\n{screen}"
    );
    tmux.send(&["-l", "drill: us-east maintenance"]);
    tmux.send(&["Enter"]);
    tmux.wait_for("accepted", WAIT);
    tmux.wait_for("succeeded", WAIT);
    // The replica list of credit-decision now shows us-west active.
    let screen = tmux.wait_for("us-west   active", WAIT);
    assert!(
        screen.contains("us-east   hot standby"),
        "the old active became a hot standby:\n{screen}"
    );
    // And the audit view has the command with the operator's reason.
    tmux.send(&["4"]);
    let screen = tmux.wait_for("promote", WAIT);
    assert!(screen.contains("alice"), "{screen}");
    tmux.send(&["q"]);
    let screen = tmux.wait_for("END-42", WAIT);
    assert!(screen.contains("END-42 exit=0"), "{screen}");
}

/// The id in the title of the open task (`┌ esc-000019 · P1 · ...`).
fn open_task_id(screen: &str) -> String {
    let start = screen.find("┌ esc-").expect("a task is open") + "┌ ".len();
    screen[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

#[test]
fn approving_a_candidate_from_the_inbox_takes_the_task_out_of_it() {
    let home = tempfile::tempdir().unwrap();
    // No bell or desktop notification from a test.
    let config_dir = home.path().join("config").join("switchboard");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(config_dir.join("config.toml"), "[notify]\nmode = \"off\"\n").unwrap();
    let tmux = Tmux::start(120, 36, home.path());
    let bin = env!("CARGO_BIN_EXE_switchboard");
    tmux.type_line(&format!(
        "{bin} --lab --seed 7 --escalations 40; echo \"END-$((40+2)) exit=$?\""
    ));
    tmux.wait_for("lab live", WAIT);
    tmux.send(&["5"]);
    tmux.wait_for("Inbox ·", WAIT);
    tmux.wait_for("low-confidence", WAIT);
    // Low-confidence tasks have candidate outputs: keep only those, open the first.
    tmux.send(&["/"]);
    tmux.send(&["-l", "'low-confidence"]);
    tmux.send(&["Enter"]);
    tmux.wait_for("match", WAIT);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("Candidates (", WAIT);
    let id = open_task_id(&screen);
    assert!(id.starts_with("esc-"), "{screen}");

    // Its lineage: the steps of the workflow down to the one that escalated.
    tmux.send(&["Tab", "Tab", "Tab"]);
    let screen = tmux.wait_for("ESCALATED", WAIT);
    assert!(
        screen.contains("├─ ✓"),
        "completed steps before it:\n{screen}"
    );
    assert!(screen.contains("confidence"), "{screen}");

    tmux.send(&["a"]);
    tmux.wait_for(&format!("Resolve {id}: approve"), WAIT);
    tmux.send(&["Enter"]);
    tmux.wait_for("a note is required", WAIT);
    tmux.send(&["-l", "checked against the ledger"]);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for(&format!("✓ approve of {id}: accepted"), WAIT);
    // Back in the inbox, and the task is not in it.
    assert!(screen.contains("Inbox ·"), "{screen}");
    let rows: Vec<&str> = screen
        .lines()
        .filter(|l| l.starts_with('│') && l.contains(&id))
        .collect();
    assert!(rows.is_empty(), "{id} still listed:\n{screen}");

    tmux.send(&["q"]);
    let screen = tmux.wait_for("END-42", WAIT);
    assert!(screen.contains("END-42 exit=0"), "{screen}");
}
