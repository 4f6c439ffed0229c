//! The console on a service backed by a real Patroni cluster (etcd and two PostgreSQL nodes,
//! tests/patroni_support), in a real terminal (tmux): the services view shows leader and
//! replica with their lag, the engineer promotes the replica through the confirmation with a
//! reason, and the screen shows the roles swapped. Needs tmux and the Patroni stack.

mod patroni_support;
mod tmux_support;

use std::time::Duration;

use patroni_support::{Cluster, role_state};
use tmux_support::Tmux;

/// A switchover restarts the old leader: on a loaded machine that takes a while.
const WAIT: Duration = Duration::from_secs(90);

#[test]
fn the_replica_is_promoted_from_the_services_view_and_the_roles_swap_on_screen() {
    let Some(real) = Cluster::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("orders.toml");
    let urls = real.api_urls();
    std::fs::write(
        &config,
        format!(
            "default_context = \"orders\"\n[notify]\nmode = \"off\"\n[contexts.orders]\n\
             [[contexts.orders.sources]]\nname = \"orders-db\"\nkind = \"patroni\"\n\
             url = \"{}\"\n[contexts.orders.sources.patroni]\nservice = \"orders\"\n\
             members = [\"{}\"]\npoll_interval = 1\n\
             [contexts.orders.sources.patroni.regions]\nnode1 = \"us-east\"\nnode2 = \"eu-west\"\n",
            urls[0], urls[1]
        ),
    )
    .unwrap();
    let tmux = Tmux::start(140, 40, home.path());
    tmux.start_console("unused", &config);

    // The services view: the cluster's members, leader and replica, the replica's lag.
    tmux.send(&["2"]);
    tmux.wait_for("patroni orders-db · read", WAIT);
    let screen = tmux.wait_for("lag 0 B", WAIT);
    for line in ["node1      leader", "node2      replica"] {
        assert!(screen.contains(line), "{line:?} in\n{screen}");
    }

    // Promote node2: the confirmation says what Patroni will do; a reason, then enter.
    tmux.send(&[":"]);
    tmux.send(&["-l", "promote orders node2"]);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("node1 hands over to node2", WAIT);
    assert!(screen.contains("switchover"), "{screen}");
    tmux.send(&["-l", "switchover drill from tmux"]);
    tmux.send(&["Enter"]);

    // Followed until the new leader runs; the pane shows the roles swapped.
    tmux.wait_for("node2 leads and runs", WAIT);
    let screen = tmux.wait_for("node2      leader", WAIT);
    assert!(screen.contains("node1      replica"), "{screen}");
    let members = real.members();
    assert_eq!(
        role_state(&members, "node2").map(|(role, _)| role),
        Some("leader".to_string())
    );

    tmux.send(&["q"]);
    let screen = tmux.wait_for("END-42", WAIT);
    assert!(screen.contains("END-42 exit=0"), "{screen}");
}
