//! The evaluator over several sources: a metrics source's facts (Prometheus) beside the
//! protocol v1 snapshots, each value with its source, disagreements said, stale sources
//! unknown.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use protocol::Health;

use super::*;
use crate::domain::fleet::Connection;
use crate::domain::measured::{Fact as Measure, Facts, ProviderFacts, RegionFacts};
use crate::runbook::Position;
use crate::runbook::expr::parse;

fn facts(values: &[(FactKind, f64)]) -> Facts {
    let at = Utc.with_ymd_and_hms(2026, 12, 2, 5, 0, 0).unwrap();
    (values.iter())
        .map(|(kind, value)| (*kind, Measure { value: *value, at }))
        .collect()
}

/// What Prometheus reads: us-east slow and healthy (the lab says 1174ms), a region and a
/// provider only it knows, one of them rate limited.
fn measured() -> Measured {
    Measured {
        regions: vec![
            RegionFacts {
                id: "us-east".into(),
                health: Health::Ok,
                facts: facts(&[(FactKind::P95Ms, 2600.0), (FactKind::ErrorRate, 0.004)]),
            },
            RegionFacts {
                id: "mars-north".into(),
                health: Health::Degraded,
                facts: facts(&[(FactKind::P95Ms, 2500.0), (FactKind::TrafficShare, 0.25)]),
            },
        ],
        providers: vec![ProviderFacts {
            id: "openai@mars-north".into(),
            vendor: "openai".into(),
            region: "mars-north".into(),
            model: None,
            health: Health::Unknown,
            facts: facts(&[(FactKind::RateLimitedRate, 0.08)]),
        }],
        ..Measured::default()
    }
}

fn lab() -> FleetSnapshot {
    crate::testing::default_fleet()
}

fn read(text: &str, view: &FleetView) -> (Truth, Vec<String>) {
    let evaluation = evaluate(&parse(text, Position::START).unwrap(), view);
    let texts = evaluation.readings.into_iter().map(|r| r.text).collect();
    (evaluation.truth, texts)
}

fn both<'a>(snapshot: &'a FleetSnapshot, measured: &'a Measured) -> FleetView<'a> {
    FleetView {
        snapshots: vec![Sourced {
            source: "lab",
            data: snapshot,
        }],
        measured: vec![Sourced {
            source: "metrics",
            data: measured,
        }],
        open_escalations: None,
    }
}

#[test]
fn a_fact_only_a_metrics_source_reports_is_read_with_its_source() {
    let (snapshot, measured) = (lab(), measured());
    let view = both(&snapshot, &measured);
    assert_eq!(
        read("p95(mars-north) > 2s", &view),
        (
            Truth::True,
            vec!["p95(mars-north) = 2500ms (metrics) > 2s".to_string()]
        )
    );
    assert_eq!(
        read("rate_limited(openai@mars-north) > 5%", &view),
        (
            Truth::True,
            vec!["rate_limited(openai@mars-north) = 8.0% (metrics) > 5%".to_string()]
        )
    );
    assert_eq!(read("share(mars-north) < 20%", &view).0, Truth::False);
    assert_eq!(read("health(mars-north) == degraded", &view).0, Truth::True);
    // Facts no query gives, and a health the source could not judge, stay unknown.
    for unknown in [
        "headroom(mars-north) > 10%",
        "error_rate(mars-north) < 1%",
        "health(openai@mars-north) == ok",
    ] {
        let (truth, texts) = read(unknown, &view);
        assert_eq!(truth, Truth::Unknown, "{unknown}");
        assert!(texts[0].contains("? (not reported)"), "{texts:?}");
    }
}

#[test]
fn sources_that_disagree_are_each_shown_and_none_is_picked() {
    let (snapshot, measured) = (lab(), measured());
    let view = both(&snapshot, &measured);
    // The lab says 1174ms, Prometheus 2600ms: which one holds is not known.
    let (truth, texts) = read("p95(us-east) > 2s", &view);
    assert_eq!(truth, Truth::Unknown);
    assert_eq!(
        texts,
        ["p95(us-east) > 2s: lab says 1174ms, metrics says 2600ms: the sources disagree"]
    );
    // Both values hold the condition: it holds, and the disagreement is still said.
    let (truth, texts) = read("p95(us-east) > 1s", &view);
    assert_eq!(truth, Truth::True);
    assert!(texts[0].ends_with("the sources disagree"), "{texts:?}");
    // Sources that agree are named together.
    assert_eq!(
        read("health(us-east) == ok", &view),
        (
            Truth::True,
            vec!["health(us-east) = ok (lab, metrics) == ok".to_string()]
        )
    );
    // Two protocol v1 sources are two sources as well.
    let mut other = lab();
    other.regions[0].health = Health::Down;
    let view = FleetView {
        snapshots: vec![
            Sourced {
                source: "lab",
                data: &snapshot,
            },
            Sourced {
                source: "lab-b",
                data: &other,
            },
        ],
        ..FleetView::default()
    };
    assert_eq!(
        read("health(us-east) != down", &view),
        (
            Truth::Unknown,
            vec![
                "health(us-east) != down: lab says ok, lab-b says down: the sources disagree"
                    .to_string()
            ]
        )
    );
}

#[test]
fn a_stale_metrics_source_reads_unknown_while_the_live_one_still_answers() {
    let now = Instant::now();
    let every = Duration::from_secs(5);
    let mut metrics = SourceData::metrics("metrics", "http://127.0.0.1:1", every);
    metrics.measured = Some(measured());
    metrics.connection = Connection::Live;
    metrics.received_at = Some(now);
    let mut native = SourceData::new("lab", "http://127.0.0.1:2");
    native.apply_snapshot(lab(), now);
    native.connection = Connection::Live;
    let sources = [native, metrics];

    let fresh = FleetView::of_sources(&sources, now);
    assert_eq!(read("p95(mars-north) > 2s", &fresh).0, Truth::True);

    // Three polls missed: Prometheus's facts are no longer taken as current.
    let later = now + every * 3;
    let stale = FleetView::of_sources(&sources, later);
    assert_eq!(
        read("p95(mars-north) > 2s", &stale),
        (
            Truth::Unknown,
            vec!["p95(mars-north) = ? (not reported) > 2s".to_string()]
        )
    );
}

#[test]
fn open_escalations_of_an_unknown_priority_are_not_reported() {
    let view = FleetView::default().with_open_escalations(Some([1, 2, 3, 4]));
    assert_eq!(
        read("open_escalations(all) == 10", &view),
        (
            Truth::True,
            vec!["open_escalations(all) = 10 == 10".to_string()]
        )
    );
    assert_eq!(read("open_escalations(p5) == 0", &view).0, Truth::Unknown);
}
