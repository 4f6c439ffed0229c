//! Measures (detect, mitigate, recover), phase and speed, what each role sees, the report's
//! timeline, determinism, and reading recordings.

use super::tests::*;
use super::*;
use crate::commands::AuditOutcome;
use crate::exercise::report::TimelineKind;
use crate::exercise::{Control, ExerciseMessage, InjectState};

/// An inject's id with its detect, mitigate and recover seconds.
type Measured = (String, Option<f64>, Option<f64>, Option<f64>);

fn measures(tracker: &Tracker) -> Vec<Measured> {
    tracker
        .state(ExerciseRole::Observer)
        .measures
        .into_iter()
        .map(|m| (m.inject, m.detect_s, m.mitigate_s, m.recover_s))
        .collect()
}

/// us-east failing: errors at 50%.
fn failing(t_s: f64) -> RunRecord {
    fleet(t_s, (0.5, 0.5, 60.0), 0.6)
}

#[test]
fn detect_mitigate_and_recover_count_from_the_inject() {
    let tracker = run(
        vec![],
        &[
            fired(10.0, "outage"),
            // The facilitator's doings and the lab's are not the players' detection.
            audit(12.0, "fran", "exercise message", "", AuditOutcome::Accepted),
            audit(
                13.0,
                "system",
                "drain reverted",
                "us-east",
                AuditOutcome::Reverted,
            ),
            failing(15.0),
            audit(40.0, "bob", "claim", "esc-1", AuditOutcome::Accepted),
            audit(50.0, "bob", "drain", "us-east", AuditOutcome::Rejected),
            // Impact over, but nothing mitigated and the outage still on: not recovered.
            calm(55.0),
            audit(
                70.0,
                "alice",
                "breaker force-open",
                "openai@us-east",
                AuditOutcome::Accepted,
            ),
            failing(75.0),
            calm(100.0),
            calm(105.0),
        ],
    );
    assert_eq!(
        measures(&tracker),
        [("outage".to_string(), Some(30.0), Some(60.0), Some(90.0))]
    );
}

#[test]
fn an_acknowledgement_detects_its_inject_and_an_inject_that_ends_recovers_alone() {
    let tracker = run(
        vec![],
        &[
            fired(10.0, "outage"),
            control(
                25.0,
                "bob",
                Control::Acknowledge {
                    inject: "outage".into(),
                },
            ),
            // The facilitator acknowledging is no detection.
            control(
                20.0,
                "fran",
                Control::Acknowledge {
                    inject: "outage".into(),
                },
            ),
            failing(200.0),
            // The outage lasts 240 s: over at T+04:10, and the fleet is calm after it.
            calm(250.0),
            calm(255.0),
            // A message has no measures.
            fired(260.0, "call"),
        ],
    );
    assert_eq!(
        measures(&tracker),
        [("outage".to_string(), Some(15.0), None, Some(240.0))]
    );
}

#[test]
fn controls_set_phase_and_speed_from_the_header_speed() {
    let mut tracker = Tracker::new(RunHeader {
        speed: 4.0,
        ..header(vec![])
    });
    let state = tracker.state(ExerciseRole::Operator);
    assert_eq!(
        (state.phase, state.speed, state.clock_s),
        (ExercisePhase::Ready, 4.0, 0.0)
    );
    for (t, control, phase) in [
        (0.0, Control::Start, ExercisePhase::Running),
        (30.0, Control::Pause, ExercisePhase::Paused),
        (30.0, Control::Speed { speed: 8.0 }, ExercisePhase::Paused),
        (30.0, Control::Resume, ExercisePhase::Running),
        (90.0, Control::End, ExercisePhase::Ended),
    ] {
        tracker.feed(&RunRecord::Control {
            t_s: t,
            by: "fran".into(),
            control,
        });
        assert_eq!(tracker.phase(), phase);
    }
    let state = tracker.state(ExerciseRole::Operator);
    assert_eq!((state.speed, state.clock_s), (8.0, 90.0));
    // Nothing after the end is scored or moves the clock.
    tracker.feed(&fired(100.0, "outage"));
    assert!(tracker.state(ExerciseRole::Facilitator).measures.is_empty());
    assert_eq!(tracker.report().duration_s, 90.0);
}

#[test]
fn upcoming_injects_and_notes_are_the_facilitators_until_the_end() {
    let records = [
        fired(10.0, "outage"),
        annotation(20.0, Tone::ToImprove, "missed the lag warning"),
    ];
    let tracker = run(vec![], &records);
    let facilitator = tracker.state(ExerciseRole::Facilitator);
    let ids: Vec<(&str, Option<f64>)> = facilitator
        .injects
        .iter()
        .map(|i| (i.id.as_str(), i.fired_at_s))
        .collect();
    assert_eq!(ids, [("outage", Some(10.0)), ("call", None)]);
    assert_eq!(
        facilitator.injects[0].facilitator_note.as_deref(),
        Some("outage note")
    );
    assert_eq!(facilitator.notes.len(), 1);
    for role in [
        ExerciseRole::IncidentCommander,
        ExerciseRole::Operator,
        ExerciseRole::Observer,
    ] {
        let player = tracker.state(role);
        assert_eq!(player.injects.len(), 1, "{role:?}: fired only");
        assert_eq!(player.injects[0].facilitator_note, None, "{role:?}");
        assert!(player.notes.is_empty(), "{role:?}");
        assert_eq!(player.you, role);
    }
    let mut tracker = tracker;
    tracker.feed(&end(30.0));
    // Notes written after the end still reach the report.
    tracker.feed(&annotation(
        40.0,
        Tone::WentWell,
        "good call on the breaker",
    ));
    assert_eq!(tracker.state(ExerciseRole::Observer).notes.len(), 2);
    let report = tracker.report();
    assert_eq!(report.went_well[0].text, "good call on the breaker");
    assert_eq!(report.to_improve[0].text, "missed the lag warning");
}

/// A short drill touching every kind of record, in the order the lab writes them.
fn drill() -> Vec<RunRecord> {
    let custom = InjectState {
        id: "custom-1".into(),
        ..header(vec![]).injects[0].clone()
    };
    vec![
        RunRecord::Header(header(vec![traffic_off(Some(60.0))])),
        control(0.0, "fran", Control::Start),
        calm(5.0),
        fired(10.0, "outage"),
        failing(15.0),
        audit(
            30.0,
            "alice",
            "breaker force-open",
            "openai@us-east",
            AuditOutcome::Accepted,
        ),
        fleet(31.0, (0.5, 0.01, 60.0), 0.0),
        audit(
            35.0,
            "bob",
            "runbook step done",
            "provider-outage",
            AuditOutcome::Accepted,
        ),
        opened(36.0, "esc-1", Priority::P1, 96.0),
        closed(50.0, "esc-1"),
        control(
            60.0,
            "fran",
            Control::Inject {
                kind: "region-down".into(),
                target: "us-west".into(),
                duration_s: None,
                magnitude: None,
                narrative: String::new(),
            },
        ),
        RunRecord::Inject {
            t_s: 60.0,
            inject: custom,
        },
        RunRecord::Message {
            t_s: 70.0,
            message: ExerciseMessage {
                at_s: 70.0,
                from: "fran".into(),
                text: "Support is on the line".into(),
            },
        },
        annotation(80.0, Tone::WentWell, "good call"),
        end(90.0),
    ]
}

#[test]
fn the_timeline_merges_every_kind_of_happening_in_time_order() {
    let tracker = Tracker::from_records(&drill()).unwrap();
    let report = tracker.report();
    let lines: Vec<(f64, TimelineKind, &str, &str)> = report
        .timeline
        .iter()
        .map(|e| (e.at_s, e.kind, e.who.as_str(), e.what.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (0.0, TimelineKind::Control, "fran", "started the drill"),
            (
                10.0,
                TimelineKind::Inject,
                "scenario",
                "outage summary (outage)"
            ),
            (
                30.0,
                TimelineKind::Action,
                "alice",
                "breaker force-open openai@us-east (accepted)"
            ),
            (
                35.0,
                TimelineKind::RunbookStep,
                "bob",
                "runbook step done provider-outage (accepted)"
            ),
            (
                50.0,
                TimelineKind::Escalation,
                "bob",
                "escalation esc-1 (P1) closed after 14 s, within its SLA"
            ),
            (
                60.0,
                TimelineKind::Inject,
                "fran",
                "outage summary (custom-1)"
            ),
            (
                70.0,
                TimelineKind::Message,
                "fran",
                "Support is on the line"
            ),
            (80.0, TimelineKind::Note, "fran", "went well: good call"),
            (90.0, TimelineKind::Control, "fran", "ended the drill"),
        ]
    );
    assert_eq!(
        report.objectives[0].status,
        ObjectiveStatus::Met { at_s: 31.0 }
    );
    assert!(report.ended);
    let east = &report.series[0];
    assert_eq!((east.region.as_str(), east.t_s.len()), ("us-east", 3));
    assert_eq!(east.error_rate, [0.004, 0.5, 0.01]);
}

#[test]
fn the_same_records_give_the_same_report_through_a_recording() {
    let records = drill();
    let text: String = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    let read = read_recording(&text).unwrap();
    assert_eq!(RunRecord::Header(read.header.clone()), records[0]);
    assert_eq!(read.records, records[1..]);
    let live = Tracker::from_records(&records).unwrap().report();
    let again = Tracker::from_recording(&read).report();
    assert_eq!(
        serde_json::to_string(&live).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
}
