//! Adaptive redundancy in a real terminal: on the Services view, warm credit-decision's cold
//! standby with a reason, see the operation's progress, and the standby become warm.
//! Needs tmux on PATH (`.ci/run` installs it).

mod tmux_support;

use std::time::Duration;

use tmux_support::Tmux;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn warming_a_cold_standby_shows_its_progress_and_then_a_warm_standby() {
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(120, 36, home.path());
    let bin = env!("CARGO_BIN_EXE_switchboard");
    // Cold to warm takes 300 sim-seconds: 15 s at x20, long enough to see it run.
    tmux.type_line(&format!(
        "{bin} --lab --seed 7 --speed 20; echo \"END-$((40+2)) exit=$?\""
    ));
    tmux.wait_for("lab live", WAIT);
    tmux.send(&["2"]);
    let screen = tmux.wait_for("credit-decision", WAIT);
    assert!(screen.contains("hot ✓ cold ✗"), "{screen}");
    tmux.send(&[":"]);
    tmux.send(&["-l", "standby credit-decision credit-decision@eu-west warm"]);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("cold standby -> warm standby", WAIT);
    assert!(
        screen.contains("not ready at its new role for ~5m"),
        "{screen}"
    );
    tmux.send(&["-l", "storm warning"]);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("⧗", WAIT);
    assert!(
        screen.contains("hot ✓ cold ✗"),
        "not warm yet while it runs:\n{screen}"
    );
    let screen = tmux.wait_for("hot ✓ warm ✓", WAIT);
    assert!(screen.contains("credit-decision"), "{screen}");
    tmux.send(&["q"]);
    let screen = tmux.wait_for("END-42", WAIT);
    assert!(screen.contains("END-42 exit=0"), "{screen}");
}
