//! Adaptive redundancy in a real terminal: on the Services view (its budget and spend columns
//! read), warm credit-decision's cold standby with a reason, its spend change in the
//! preflight, see the operation's progress, the standby become warm, and the Cost view price
//! the warmer standby.
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
    let header = screen.lines().find(|l| l.contains("SERVICE")).unwrap();
    assert!(
        header.contains("BUDGET") && header.contains("$/h"),
        "{screen}"
    );
    let credit = screen
        .lines()
        .find(|l| l.contains("credit-decision"))
        .unwrap();
    assert!(
        credit.contains("65%"),
        "a third of its budget spent: {screen}"
    );
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
    // Standbys: the hot one $4.50/h, the warm one now 0.4 of $4.50 (it was 0.05 of it).
    tmux.send(&["9"]);
    let screen = tmux.wait_for("idle standbys", WAIT);
    let credit = screen
        .lines()
        .find(|l| l.contains("credit-decision"))
        .unwrap();
    assert!(credit.contains("$6.30"), "{screen}");
    tmux.send(&["q"]);
    let screen = tmux.wait_for("END-42", WAIT);
    assert!(screen.contains("END-42 exit=0"), "{screen}");
}
