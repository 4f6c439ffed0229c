//! A tabletop drill in real terminals (issue 13): `switchboard lab serve --exercise
//! provider-outage` as its own process, its facilitator's and a player's consoles in two tmux
//! sessions with the tokens the lab printed. The facilitator starts and pauses the drill; the
//! player sees the briefing on joining and the inject the facilitator fires; the facilitator
//! ends it and the after-action report appears in the Exercise view of both; the recording
//! gives the lab's report again (`switchboard exercise report`) and, replayed, the drill and
//! its report in the Exercise view. Needs tmux on PATH (`.ci/run` installs it).

mod tmux_support;

use std::process::{Child, Command};
use std::time::Duration;

use switchboard::testing::free_port;
use tmux_support::{Tmux, run_console_on, serve_lab_for};

const WAIT: Duration = Duration::from_secs(30);

/// The last heading of the report (Markdown), at its bottom: the report is on screen.
const REPORT_END: &str = "## What to improve";

/// The lab's process, stopped however the test ends.
struct Lab(Child);

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_facilitator_runs_a_drill_a_player_follows_it_and_both_see_the_report() {
    let (facilitator_home, player_home) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let records = tempfile::tempdir().unwrap();
    let port = free_port();
    let record_dir = records.path().display().to_string();
    let (lab, tokens) = serve_lab_for(
        port,
        &["--exercise", "provider-outage", "--record-dir", &record_dir],
        &["facilitator", "bob"],
    );
    let lab = Lab(lab);
    let facilitator = Tmux::start(120, 40, facilitator_home.path());
    run_console_on(&facilitator, facilitator_home.path(), port, &tokens[0]);
    let player = Tmux::start(120, 40, player_home.path());
    run_console_on(&player, player_home.path(), port, &tokens[1]);

    // Everyone is briefed on joining, each told their role.
    facilitator.wait_for("You are facilitator in this drill.", WAIT);
    let screen = player.wait_for("You are operator in this drill.", WAIT);
    assert!(
        screen.contains("Briefing: provider-outage")
            && screen.contains("on call for the AI gateway fleet"),
        "{screen}"
    );
    player.send(&["Escape"]);
    player.wait_for("EXERCISE provider-outage T+00:00 ready", WAIT);

    // The facilitator starts the drill from the Exercise view, then pauses it.
    facilitator.send(&["Escape", "7"]);
    facilitator.wait_for("READY", WAIT);
    facilitator.send(&["Space"]);
    facilitator.wait_for("✓ start", WAIT);
    player.wait_for("running", WAIT);
    facilitator.send(&["Space"]);
    facilitator.wait_for("✓ pause", WAIT);
    facilitator.wait_for("PAUSED", WAIT);
    player.wait_for("paused", WAIT);

    // Fired now, the outage reaches the player: a banner over the view, a line in the timeline.
    facilitator.send(&["n"]);
    facilitator.wait_for("✓ next-inject", WAIT);
    player.wait_for("⚑ DRILL", WAIT);
    player.wait_for("inject outage: OpenAI's us-east deployment", WAIT);
    player.send(&["3"]);
    player.wait_for("inject outage", WAIT);

    // The facilitator ends it (asked first); the report shows on both screens.
    facilitator.send(&["E"]);
    facilitator.wait_for("End the drill?", WAIT);
    facilitator.send(&["Enter"]);
    facilitator.wait_for("✓ end", WAIT);
    facilitator.wait_for("ENDED", WAIT);
    facilitator.send(&["End"]);
    let screen = facilitator.wait_for(REPORT_END, WAIT);
    assert!(screen.contains("Nothing noted."), "{screen}");
    player.send(&["7"]);
    player.wait_for("ENDED", WAIT);
    player.send(&["End"]);
    player.wait_for(REPORT_END, WAIT);

    for console in [&facilitator, &player] {
        console.send(&["q"]);
        let screen = console.wait_for("END-42", WAIT);
        assert!(screen.contains("END-42 exit=0"), "{screen}");
    }
    drop(lab);
    // The lab recorded the run and wrote its report beside the recording; the recording gives
    // the same report again, and replayed, the drill and its report in the Exercise view.
    let recording = std::fs::read_dir(records.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .expect("the lab recorded the drill");
    let bin = env!("CARGO_BIN_EXE_switchboard");
    facilitator.type_line(&format!(
        "clear; {bin} replay {}; echo \"END-$((40+3)) exit=$?\"",
        recording.display()
    ));
    facilitator.wait_for("REPLAY ", WAIT);
    facilitator.send(&["$"]);
    facilitator.wait_for("⏸  ended", WAIT);
    facilitator.send(&["7"]);
    facilitator.wait_for("replay: as the facilitator saw it", WAIT);
    facilitator.send(&["End"]);
    facilitator.wait_for(REPORT_END, WAIT);
    facilitator.send(&["q"]);
    facilitator.wait_for("END-43 exit=0", WAIT);
    let written = std::fs::read_to_string(recording.with_extension("report.md"))
        .expect("the lab wrote the report at the end");
    let again = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["exercise", "report"])
        .arg(&recording)
        .output()
        .unwrap();
    assert!(again.status.success(), "{again:?}");
    assert_eq!(String::from_utf8_lossy(&again.stdout), written);
}
