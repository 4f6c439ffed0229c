//! Issue 12 in real terminals: two consoles in one tmux server (alice's and bob's) on one lab
//! playing provider-outage. Alice starts the runbook's run and marks step 1 done; bob's list
//! shows the run in progress, shared, and bob joins it: his screen shows alice's step with who,
//! and where alice is. Bob adds a note to step 2: alice's screen shows it.

mod tmux_support;

use std::time::Duration;

use switchboard::testing::free_port;
use tmux_support::{Tmux, run_console_on, serve_lab_for};

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn a_step_one_console_records_shows_on_the_others_screen() {
    let (alice_home, bob_home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let port = free_port();
    let (mut lab, tokens) = serve_lab_for(
        port,
        &["--speed", "5", "--scenario", "provider-outage"],
        &["alice", "bob"],
    );
    let alice = Tmux::start(120, 40, alice_home.path());
    let bob = Tmux::start(120, 40, bob_home.path());
    run_console_on(&alice, alice_home.path(), port, &tokens[0]);
    run_console_on(&bob, bob_home.path(), port, &tokens[1]);
    alice.wait_for("fleet live", WAIT);
    bob.wait_for("fleet live", WAIT);

    alice.send(&["6"]);
    alice.wait_for("why: the lab plays provider-outage", WAIT);
    alice.send(&["Enter"]);
    alice.wait_for("shared run run-000001 on fleet", WAIT);
    alice.send(&["n"]);
    alice.wait_for("alice (you) on step 2", WAIT);

    bob.send(&["6"]);
    bob.wait_for(
        "provider-outage in progress at step 2/5 · shared run run-000001",
        WAIT,
    );
    bob.send(&["Enter"]);
    let screen = bob.wait_for("alice step 1: done", WAIT);
    assert!(screen.contains("alice on step 2"), "{screen}");
    assert!(screen.contains("▶ 2. Open the breaker"), "{screen}");

    bob.send(&["e"]);
    bob.wait_for("Note for this step", WAIT);
    bob.send(&["-l", "paged the provider"]);
    bob.send(&["Enter"]);
    let screen = alice.wait_for("bob step 2: note: paged the provider", WAIT);
    assert!(screen.contains("bob on step 2"), "{screen}");

    for console in [&alice, &bob] {
        console.send(&["Escape", "q"]);
        console.wait_for("END-42 exit=0", WAIT);
    }
    lab.kill().unwrap();
    lab.wait().unwrap();
}
