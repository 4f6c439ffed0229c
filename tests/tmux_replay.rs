//! `switchboard replay FILE` in a real terminal: a recording the test writes (the drill of
//! `switchboard::testing::drill_records`: fleet samples, the outage inject at T+01:00, alice's
//! breaker at T+01:35, the end at T+03:00) is played, paused, jumped through, refused a
//! command, and quit; a damaged recording is refused before the screen is taken, naming its
//! line.

mod tmux_support;

use std::time::Duration;

use switchboard::testing::{DRILL_RUN, drill_records, recording_text};
use tmux_support::Tmux;

const WAIT: Duration = Duration::from_secs(60);

fn replay(tmux: &Tmux, file: &std::path::Path) {
    let bin = env!("CARGO_BIN_EXE_switchboard");
    tmux.type_line(&format!(
        "{bin} replay {}; echo \"END-$((40+2)) exit=$?\"",
        file.display()
    ));
}

#[test]
fn a_recorded_drill_is_replayed_paused_jumped_and_read_only() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("drill.jsonl");
    std::fs::write(&file, recording_text(&drill_records())).unwrap();
    let tmux = Tmux::start(100, 30, home.path());
    replay(&tmux, &file);
    tmux.wait_for(&format!("REPLAY  {DRILL_RUN} T+00:0"), WAIT);
    tmux.wait_for("running", WAIT);
    tmux.wait_for("OPENAI", WAIT);

    tmux.send(&["Space"]);
    tmux.wait_for("×1 ⏸", WAIT);
    tmux.send(&["n"]);
    tmux.wait_for("T+01:00 / T+03:00 ×1 ⏸", WAIT);
    tmux.wait_for("T+01:00 inject outage", WAIT);
    tmux.send(&["n"]);
    tmux.wait_for("T+01:35 / T+03:00", WAIT);
    tmux.send(&["3"]);
    tmux.wait_for("inject outage: openai@us-east outage", WAIT);
    tmux.send(&["4"]);
    tmux.wait_for("breaker force-open", WAIT);

    tmux.send(&["1", "d"]);
    tmux.wait_for("replay is read-only", WAIT);

    tmux.send(&["+", "+"]);
    tmux.wait_for("×4 ⏸", WAIT);
    tmux.send(&["$"]);
    tmux.wait_for("T+03:00 / T+03:00 ×4 ⏸", WAIT);
    // The drill's phase at the end, from the facilitator's last control.
    tmux.wait_for("⏸  ended", WAIT);
    tmux.send(&["<"]);
    tmux.wait_for("T+02:30 / T+03:00", WAIT);
    tmux.send(&["q"]);
    tmux.wait_for("END-42 exit=0", WAIT);
}

#[test]
fn a_damaged_recording_is_refused_naming_its_line() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("damaged.jsonl");
    let text =
        recording_text(&drill_records()).replacen("\"record\":\"fleet\"", "\"record\":\"flet\"", 1);
    std::fs::write(&file, text).unwrap();
    let tmux = Tmux::start(120, 20, home.path());
    replay(&tmux, &file);
    let screen = tmux.wait_for("END-42 exit=2", WAIT);
    assert!(
        screen.contains(&format!(
            "cannot replay {}: line 3: unknown variant `flet`",
            file.display()
        )),
        "{screen}"
    );
}
