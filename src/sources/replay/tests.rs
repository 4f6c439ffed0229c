use super::*;
use crate::testing::{drill_records, recording_text};
use protocol::exercise::ObjectiveStatus;
use protocol::exercise::record::read_recording;

fn drill() -> Recording {
    read_recording(&recording_text(&drill_records())).expect("the drill reads")
}

/// What `seek` fed, in words: `rewound`, `fleet@<revision>`, `audit#<id>`, `frame T+..`.
fn fed(events: &[SourceEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| match event {
            SourceEvent::ReplayRewound => "rewound".to_string(),
            SourceEvent::Snapshot(s) => format!("fleet@{}", s.revision),
            SourceEvent::Audit(a) => format!("audit#{}", a.id),
            SourceEvent::Replayed(frame) => format!(
                "frame {} fleet {:?} {} notes {}",
                clock_label(frame.clock_s),
                frame.fleet_at_s,
                frame.drill.phase.word(),
                frame.notes.len()
            ),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn marks_are_the_injects_and_the_players_actions() {
    let marks = marks(&drill());
    let marks: Vec<(f64, &str)> = marks.iter().map(|m| (m.t_s, m.what.as_str())).collect();
    assert_eq!(
        marks,
        [
            (60.0, "inject outage"),
            (95.0, "breaker force-open openai@us-east (alice)")
        ]
    );
}

#[test]
fn seeking_feeds_what_the_run_showed_up_to_the_clock_and_rewinds_from_t0() {
    let mut player = Player::new(Arc::new(drill()));
    assert_eq!(
        fed(&player.seek(0.0)),
        ["fleet@1", "frame T+00:00 fleet Some(0.0) running notes 1"]
    );
    assert_eq!(
        fed(&player.seek(100.0)),
        [
            "fleet@6",
            "fleet@61",
            "audit#1",
            "fleet@96",
            "frame T+01:40 fleet Some(95.0) running notes 1"
        ]
    );
    // Nothing new between two samples: only the frame.
    assert_eq!(
        fed(&player.seek(101.0)),
        ["frame T+01:41 fleet Some(95.0) running notes 0"]
    );
    assert_eq!(
        fed(&player.seek(30.0)),
        [
            "rewound",
            "fleet@1",
            "fleet@6",
            "frame T+00:30 fleet Some(5.0) running notes 1"
        ]
    );
    let to_end = player.seek(180.0);
    assert_eq!(
        fed(&to_end).last().unwrap(),
        "frame T+03:00 fleet Some(180.0) ended notes 4"
    );
    let SourceEvent::Replayed(frame) = to_end.last().unwrap() else {
        panic!("a frame ends every seek");
    };
    let texts: Vec<&str> = frame.notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "T+01:00 inject outage: openai@us-east outage (503s, 90% errors) — Pages fire for openai@us-east",
            "T+02:00 message from scenario: Support: customers report timeouts",
            "T+02:05 note by fran: good call on the breaker",
            "T+03:00 fran: exercise end",
        ]
    );
    assert!(frame.notes[0].urgent && !frame.notes[1].urgent);
    assert_eq!(
        frame.notes[0].at,
        crate::testing::fixture_wall() + TimeDelta::seconds(60)
    );
}

/// The drill of the last frame `seek` fed.
fn drill_at(player: &mut Player, t_s: f64) -> (ExerciseState, Option<String>) {
    let events = player.seek(t_s);
    let Some(SourceEvent::Replayed(frame)) = events.last() else {
        panic!("a frame ends every seek");
    };
    (*frame.drill.clone(), frame.report.clone())
}

/// Each objective's id and status word with its time: `traffic-off met T+01:35`.
fn objectives(state: &ExerciseState) -> Vec<String> {
    (state.objectives.iter())
        .map(|o| match &o.status {
            ObjectiveStatus::Pending => match o.deadline_s {
                Some(by) => format!("{} pending by {}", o.id, clock_label(by)),
                None => format!("{} pending", o.id),
            },
            ObjectiveStatus::Met { at_s } => format!("{} met {}", o.id, clock_label(*at_s)),
            ObjectiveStatus::Missed { at_s, .. } => {
                format!("{} missed {}", o.id, clock_label(*at_s))
            }
        })
        .collect()
}

#[test]
fn each_frame_carries_the_drill_its_facilitator_saw_at_the_clock() {
    let mut player = Player::new(Arc::new(drill()));
    let (state, report) = drill_at(&mut player, 30.0);
    assert_eq!(
        objectives(&state),
        ["traffic-off pending", "promote pending", "no-force pending"]
    );
    assert_eq!((state.clock_s, state.phase), (30.0, ExercisePhase::Running));
    assert_eq!(state.you, ExerciseRole::Facilitator);
    let upcoming = &state.injects[0];
    assert_eq!(
        (upcoming.id.as_str(), upcoming.fired_at_s),
        ("outage", None)
    );
    assert_eq!(report, None);
    // The outage fired at T+01:00: deadlines count from it.
    let (state, _) = drill_at(&mut player, 80.0);
    assert_eq!(
        objectives(&state),
        [
            "traffic-off pending by T+03:00",
            "promote pending by T+01:30",
            "no-force pending"
        ]
    );
    // The deadline passes with the clock, between two records.
    let (state, _) = drill_at(&mut player, 91.0);
    assert_eq!(objectives(&state)[1], "promote missed T+01:30");
    let (state, _) = drill_at(&mut player, 100.0);
    assert_eq!(
        objectives(&state),
        [
            "traffic-off met T+01:35",
            "promote missed T+01:30",
            "no-force missed T+01:35"
        ]
    );
    assert_eq!((state.score.earned, state.score.possible), (3, 6));
    assert_eq!(state.risky_actions.len(), 1);
    assert!(state.risky_actions[0].forced);
    assert_eq!(state.measures[0].detect_s, Some(35.0));
    assert_eq!(state.measures[0].mitigate_s, Some(35.0));
    let (state, report) = drill_at(&mut player, 180.0);
    assert_eq!(state.phase, ExercisePhase::Ended);
    assert_eq!(state.notes.len(), 1);
    let tracker = Tracker::from_records(&drill_records()).unwrap();
    assert_eq!(report, Some(report_markdown(&tracker.report())));
}

#[test]
fn seeking_back_gives_the_drill_as_it_was_then() {
    let mut player = Player::new(Arc::new(drill()));
    let (at_end, _) = drill_at(&mut player, 180.0);
    let (back, report) = drill_at(&mut player, 80.0);
    assert_eq!(back.phase, ExercisePhase::Running);
    assert_eq!(report, None, "no report before the end");
    assert_eq!(
        objectives(&back),
        [
            "traffic-off pending by T+03:00",
            "promote pending by T+01:30",
            "no-force pending"
        ]
    );
    assert!(back.risky_actions.is_empty() && back.messages.is_empty());
    // Forward again: the same drill as the first time through.
    let (again, _) = drill_at(&mut player, 180.0);
    assert_eq!(again, at_end);
    let mut fresh = Player::new(Arc::new(drill()));
    assert_eq!(drill_at(&mut fresh, 80.0).0, back);
}
