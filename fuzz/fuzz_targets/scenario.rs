//! The lab's scenario file parser (`Scenario::parse`, against the default topology) on
//! arbitrary text, then a scenario it accepts played to its end.
//!
//! Properties: nothing panics; an error names a line and column inside the file and a reason
//! safe to print; an accepted scenario plays.
#![no_main]

use std::sync::LazyLock;

use chrono::DateTime;
use lab::scenario::Scenario;
use lab::sim::Sim;
use lab::topology::Topology;
use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::assert_located;

static TOPOLOGY: LazyLock<Topology> = LazyLock::new(Topology::embedded_default);

fuzz_target!(|text: &str| {
    let scenario = match Scenario::parse("scenario.toml", text, &TOPOLOGY) {
        Ok(scenario) => scenario,
        Err(error) => return assert_located(text, &error),
    };
    for inject in &scenario.injects {
        let _ = inject.summary();
    }
    let end = scenario
        .injects
        .iter()
        .map(|i| i.end_s())
        .fold(0.0, f64::max);
    let epoch = DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
    let mut sim = Sim::new(TOPOLOGY.clone(), Some(scenario), 7, epoch);
    // Twenty steps reach past the last inject, however long the scenario.
    let step = (end / 19.0).clamp(1.0, 86_400.0);
    for _ in 0..20 {
        sim.tick(step);
    }
    let _ = sim.view();
});
