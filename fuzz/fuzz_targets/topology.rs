//! The lab's topology file parser (`Topology::parse`) on arbitrary text, then what the lab
//! does with a topology it accepts: a simulation run for a while and an escalation backlog.
//!
//! Properties: nothing panics; an error names a line and column inside the file and a reason
//! safe to print; an accepted topology runs.
#![no_main]

use chrono::DateTime;
use lab::escalations::EscalationQueue;
use lab::sim::Sim;
use lab::topology::Topology;
use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::assert_located;

fuzz_target!(|text: &str| {
    let topology = match Topology::parse("topology.toml", text) {
        Ok(topology) => topology,
        Err(error) => return assert_located(text, &error),
    };
    let epoch = DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
    let _ = EscalationQueue::new(&topology, 7, 8, epoch);
    let mut sim = Sim::new(topology, None, 7, epoch);
    for _ in 0..20 {
        sim.tick(1.0);
    }
    let _ = sim.view();
});
