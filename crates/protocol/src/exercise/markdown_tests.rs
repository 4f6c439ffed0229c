//! The after-action report of a scripted drill, as Markdown (an insta snapshot), and the
//! pieces a reader relies on: sparklines, escaping, provisional reports.

use super::*;
use crate::commands::{ApprovalState, AuditOutcome, PreflightSeen, PreflightVerdict};
use crate::escalations::Priority;
use crate::exercise::record::{ObjectiveCondition, RunRecord};
use crate::exercise::tracker::Tracker;
use crate::exercise::tracker::tests::{
    annotation, approval, audit, calm, closed, control, end, fired, fleet, header, objective,
    opened, request, traffic_off, with_preflight,
};
use crate::exercise::{Control, ExerciseMessage, Tone};

/// provider-outage played with a fixed script: one objective met, one missed, one held, a
/// forced drain, an escalation past its SLA, a message and notes.
fn scripted_report() -> ExerciseReport {
    let objectives = vec![
        traffic_off(Some(60.0)),
        objective(
            "promote",
            2,
            Some("outage"),
            Some(120.0),
            ObjectiveCondition::Action {
                action: "promote".into(),
                target: Some("credit-decision@us-west".into()),
            },
        ),
        objective(
            "no-overload",
            2,
            None,
            None,
            ObjectiveCondition::NoOverload { for_s: 60.0 },
        ),
        objective("no-force", 1, None, None, ObjectiveCondition::NoForce),
    ];
    let mut records = vec![
        RunRecord::Header(header(objectives)),
        control(0.0, "fran", Control::Start),
    ];
    for t in [0.0, 5.0] {
        records.push(calm(t));
    }
    records.push(fired(10.0, "outage"));
    for t in [15.0, 20.0, 25.0, 30.0] {
        records.push(fleet(t, (0.5, 0.45, 60.0), 0.6));
    }
    records.extend([
        opened(31.0, "esc-7", Priority::P1, 91.0),
        audit(
            33.0,
            "alice",
            "breaker force-open",
            "openai@us-east",
            AuditOutcome::Accepted,
        ),
        fleet(35.0, (0.45, 0.08, 60.0), 0.02),
        // Forced, so the two-person rule holds it until alice approves.
        approval(
            40.0,
            request("apr-000001", "bob", ApprovalState::Pending, None),
        ),
        approval(
            50.0,
            request("apr-000001", "bob", ApprovalState::Approved, Some("alice")),
        ),
        with_preflight(
            audit(50.0, "bob", "drain", "us-east", AuditOutcome::Accepted),
            PreflightSeen {
                verdict: PreflightVerdict::Block,
                findings: vec!["us-west would run at 130% of capacity".into()],
                forced: true,
                needs_approval: None,
                approval_expires_after_s: None,
            },
        ),
        fleet(55.0, (0.0, 0.0, 0.0), 0.0),
        annotation(60.0, Tone::ToImprove, "drained | without checking us-west"),
        fleet(100.0, (0.3, 0.01, 40.0), 0.0),
        closed(120.0, "esc-7"),
        RunRecord::Message {
            t_s: 130.0,
            message: ExerciseMessage {
                at_s: 130.0,
                from: "scenario".into(),
                text: "Support: merchants report payments stuck".into(),
            },
        },
        annotation(140.0, Tone::WentWell, "breaker held open within 25 s"),
        fleet(150.0, (0.5, 0.004, 60.0), 0.6),
        end(180.0),
    ]);
    Tracker::from_records(&records).unwrap().report()
}

/// Why this snapshot exists: it is the report players read after every drill; a change here
/// is a change of what they read, so it is reviewed as such.
#[test]
fn the_report_of_a_scripted_drill() {
    insta::assert_snapshot!(report_markdown(&scripted_report()));
}

#[test]
fn the_same_report_renders_the_same_text() {
    let report = scripted_report();
    assert_eq!(report_markdown(&report), report_markdown(&report.clone()));
}

#[test]
fn a_report_before_the_end_says_it_is_provisional() {
    let mut report = scripted_report();
    report.ended = false;
    assert!(report_markdown(&report).contains("> Provisional: the drill has not ended"));
}

#[test]
fn sparklines_fit_their_width_and_keep_short_spikes() {
    assert_eq!(sparkline(&[0.0, 0.5, 1.0], 1.0), "▁▅█");
    let mut long = vec![0.0; 480];
    long[241] = 1.0;
    let line = sparkline(&long, 1.0);
    assert_eq!(line.chars().count(), SPARK_WIDTH);
    assert_eq!(line.chars().filter(|c| *c == '█').count(), 1);
    assert_eq!(sparkline(&[], 1.0), "");
    // Above the scale stays on the top level.
    assert_eq!(sparkline(&[3.0], 1.0), "█");
}

#[test]
fn text_from_players_cannot_break_the_markdown_or_the_terminal() {
    let mut report = scripted_report();
    report.scenario = "drill\x1b[2J\nsecond line".into();
    report.timeline[0].what = "a | b\nc".into();
    let markdown = report_markdown(&report);
    assert!(
        markdown.starts_with("# After-action report: drill second line\n"),
        "{markdown}"
    );
    assert!(markdown.contains("| a \\| b c |"), "{markdown}");
    assert!(!markdown.contains('\x1b'));
}

/// The budget and cost sections of a drill whose fleet is priced (the tracker's cost tests
/// compute its figures by hand).
#[test]
fn the_report_says_the_budget_spent_and_the_cost_of_the_actions_taken() {
    let records = crate::exercise::tracker::cost_tests::priced_drill();
    let mut all = vec![RunRecord::Header(header(Vec::new()))];
    all.extend(records);
    let markdown = report_markdown(&Tracker::from_records(&all).unwrap().report());
    let from = markdown
        .find("## Error budget spent")
        .expect("a budget section");
    let to = markdown.find("## Timeline").expect("a timeline");
    insta::assert_snapshot!(&markdown[from..to]);
}
