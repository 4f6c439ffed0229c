//! Issue 12 in a real terminal: the console on a lab serving the provider-outage scenario,
//! `provider-outage.md` followed from the Runbooks view with the keys a newcomer would press:
//! `6` (the view), enter (follow it), `n` (step 1 done), `x` (the action into the
//! confirmation), a reason and enter (sent), `n` (step 2 done), nothing while the gate waits,
//! `1` (the decision). The console restarts mid-run and resumes it where it stopped (the run
//! is shared through the lab, which keeps it).

mod tmux_support;

use std::time::Duration;

use switchboard::testing::free_port;
use tmux_support::{Tmux, run_console_on, serve_lab};

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn provider_outage_is_followed_in_a_real_terminal_and_resumed_after_a_restart() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut lab, token) = serve_lab(port, &["--speed", "5", "--scenario", "provider-outage"]);
    let tmux = Tmux::start(120, 40, home.path());
    run_console_on(&tmux, home.path(), port, &token);
    tmux.wait_for("fleet live", WAIT);

    tmux.send(&["6"]);
    tmux.wait_for("why: the lab plays provider-outage", WAIT);
    tmux.send(&["Enter"]);
    tmux.wait_for("▶ 1. Confirm the outage", WAIT);
    tmux.wait_for("✓ check error_rate(openai@us-east)", WAIT);
    tmux.send(&["n"]);
    tmux.wait_for("▶ 2. Open the breaker", WAIT);
    tmux.send(&["x"]);
    tmux.wait_for("reason", WAIT);
    tmux.send(&["-l", "provider outage runbook"]);
    tmux.send(&["Enter"]);
    tmux.wait_for("accepted (audit #", WAIT);
    tmux.send(&["n"]);
    // The gate may be met at once (the lab is five times faster): no need to see it wait.
    tmux.wait_for("step 2: done", WAIT);

    // A restart mid-run: the record is read back and the run resumes where it stopped.
    tmux.send(&["Escape", "q"]);
    tmux.wait_for("END-42 exit=0", WAIT);
    tmux.send(&["-l", "clear"]);
    tmux.send(&["Enter"]);
    run_console_on(&tmux, home.path(), port, &token);
    tmux.wait_for("fleet live", WAIT);
    tmux.send(&["6"]);
    tmux.wait_for("provider-outage in progress at step", WAIT);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("step 2: done", WAIT);
    assert!(screen.contains("accepted (audit #"), "{screen}");
    // The gate waits for the fleet: no key until the share has moved.
    tmux.wait_for("▶ 4. Check the backup path", WAIT);
    tmux.send(&["1"]);
    let screen = tmux.wait_for("step 4: decided 1.", WAIT);
    // The lab keeps runbook runs: the run is shared, and read back from it after the restart.
    assert!(
        screen.contains("shared run run-000001 on fleet"),
        "{screen}"
    );
    assert!(screen.contains("step 3: gate met"), "{screen}");
    tmux.send(&["Escape", "q"]);
    tmux.wait_for("END-42 exit=0", WAIT);
    lab.kill().unwrap();
    lab.wait().unwrap();
}
