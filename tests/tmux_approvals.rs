//! Issue 14 in real terminals: two consoles in one tmux server (alice's and bob's) on one lab
//! whose topology turns the two-person rule on. Alice forces a drain of ap-south past its
//! blocking preflight: her console says it is held for approval. Bob's console shows the
//! banner and the count at once; bob opens the request, sees the preflight alice saw and the
//! one now, and approves it with a reason. Both consoles show ap-south drained, alice hears
//! bob's approval, and the audit entry of the drain names both.

mod tmux_support;

use std::time::Duration;

use switchboard::testing::free_port;
use tmux_support::{Tmux, run_console_on, serve_lab_for};

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn alice_forces_a_drain_bob_approves_it_and_both_see_it_happen() {
    let (alice_home, bob_home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The default fleet, holding commands forced past a blocking preflight (the policy's
    // default) for a second operator.
    let topology = alice_home.path().join("topology.toml");
    std::fs::write(
        &topology,
        format!(
            "{}\n[approvals]\nforced = true\n",
            lab::topology::DEFAULT_TOPOLOGY_TOML
        ),
    )
    .unwrap();
    let port = free_port();
    let (mut lab, tokens) = serve_lab_for(
        port,
        &["--topology", &topology.display().to_string()],
        &["alice", "bob"],
    );
    let alice = Tmux::start(120, 40, alice_home.path());
    let bob = Tmux::start(120, 40, bob_home.path());
    run_console_on(&alice, alice_home.path(), port, &tokens[0]);
    run_console_on(&bob, bob_home.path(), port, &tokens[1]);
    alice.wait_for("fleet live", WAIT);
    bob.wait_for("fleet live", WAIT);

    // Alice drains ap-south; its preflight blocks it, and she forces it.
    alice.send(&[":"]);
    alice.send(&["-l", "drain ap-south"]);
    alice.send(&["Enter"]);
    alice.wait_for("type FORCE to send anyway", WAIT);
    alice.send(&["-l", "gateway flapping, move traffic off"]);
    alice.send(&["Tab", "Tab"]);
    alice.send(&["-l", "FORCE"]);
    alice.send(&["Enter"]);
    alice.wait_for(
        "⚖ drain ap-south: held for approval apr-000001: it overrides a blocking preflight",
        WAIT,
    );

    // Bob sees it at once, opens it and approves it with a reason.
    let screen = bob.wait_for(
        "⚖ alice asks to drain ap-south (forced): gateway flapping, move traffic off — 8 Approvals",
        WAIT,
    );
    assert!(screen.contains("⚖ 1 waiting"), "{screen}");
    bob.send(&["8"]);
    let screen = bob.wait_for("preflight alice saw: BLOCK (forced past it)", WAIT);
    assert!(screen.contains("preflight now: "), "{screen}");
    bob.send(&["a"]);
    bob.wait_for("Approve apr-000001: why?", WAIT);
    bob.send(&["-l", "the other regions have the headroom"]);
    bob.send(&["Enter"]);
    bob.wait_for("✓ approve apr-000001", WAIT);

    // Both see the drain happen; alice hears who approved it.
    alice.wait_for(
        "✓ bob approved your drain ap-south (forced): the other regions have the headroom",
        WAIT,
    );
    for console in [&alice, &bob] {
        // The audit log: alice's drain held, bob's approval, and the drain carried out as
        // alice's command approved by bob (the second row, newest first).
        console.send(&["4"]);
        let screen = console.wait_for("approval approve", WAIT);
        assert!(screen.contains("held for approval #1"), "{screen}");
        console.send(&["g", "j"]);
        let screen = console.wait_for("approved by bob: the other regions have the headroom", WAIT);
        assert!(screen.contains("alice    drain"), "{screen}");
        console.send(&["1"]);
        console.wait_for("⇣ drained", WAIT);
    }

    for console in [&alice, &bob] {
        console.send(&["Escape", "q"]);
        console.wait_for("END-42 exit=0", WAIT);
    }
    lab.kill().unwrap();
    lab.wait().unwrap();
}
