//! The Temporal connector against a real dev server and the reference worker
//! (assets/temporal/), both started by the tests on 127.0.0.1 (see temporal_support).

mod temporal_support;

use temporal_support::TemporalDev;

#[test]
fn the_dev_server_has_the_contracts_search_attributes_and_the_worker_runs() {
    let Some(mut dev) = TemporalDev::start() else {
        return;
    };
    let listed = dev.cli(&["operator", "search-attribute", "list"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    for attribute in temporal_support::SEARCH_ATTRIBUTES {
        let (name, kind) = attribute.split_once('=').unwrap();
        let registered = text.lines().any(|l| l.contains(name) && l.contains(kind));
        assert!(registered, "{name} ({kind}) is not registered: {text}");
    }
    // Stopped and started again, the worker says it is ready again.
    dev.stop_worker();
    dev.start_worker();
}
