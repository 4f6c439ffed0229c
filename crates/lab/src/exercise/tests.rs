use std::path::Path;

use super::*;
use crate::scenario::InjectKind;
use crate::topology::Topology;
use protocol::exercise::{Control, Tone};

fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T07:15:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn drill(dir: &Path) -> Exercise {
    let topology = Topology::embedded_default();
    let scenario =
        Scenario::load(Path::new("provider-outage"), &topology).expect("a shipped scenario");
    let players = scenario.players.clone();
    Exercise::load(&scenario, players, 42, 60.0, epoch(), dir).unwrap()
}

fn records(exercise: &Exercise) -> Vec<RunRecord> {
    std::fs::read_to_string(exercise.recording())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn facilitator(exercise: &Exercise) -> String {
    exercise
        .header()
        .players
        .iter()
        .find(|p| p.role == ExerciseRole::Facilitator)
        .unwrap()
        .name
        .clone()
}

fn player(exercise: &Exercise, role: ExerciseRole) -> String {
    let found = exercise.header().players.iter().find(|p| p.role == role);
    found.unwrap().name.clone()
}

#[test]
fn a_drill_loads_paused_at_t0_with_its_header_recorded_first() {
    let dir = tempfile::tempdir().unwrap();
    let exercise = drill(dir.path());
    assert_eq!(exercise.phase(), ExercisePhase::Ready);
    assert_eq!(
        exercise.sim_seconds(1.0),
        0.0,
        "nothing moves before the start"
    );
    let header = exercise.header();
    assert_eq!(header.run_id, "ex-20261202-071500-provider-outage");
    assert_eq!(
        exercise.recording(),
        dir.path().join("ex-20261202-071500-provider-outage.jsonl")
    );
    assert!(header.injects.iter().all(|i| i.fired_at_s.is_none()));
    assert_eq!(records(&exercise), [RunRecord::Header(header.clone())]);
}

#[test]
fn only_the_facilitator_steers_and_observers_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exercise = drill(dir.path());
    let boss = facilitator(&exercise);
    let commander = player(&exercise, ExerciseRole::IncidentCommander);
    let observer = player(&exercise, ExerciseRole::Observer);
    assert_eq!(
        exercise.judge(&boss, &Control::Start, ""),
        Ok(ExerciseRole::Facilitator)
    );
    for control in [Control::Start, Control::End, Control::NextInject] {
        let refused = exercise.judge(&commander, &control, "");
        assert!(
            matches!(&refused, Err(ControlRefusal::Forbidden(why)) if why.contains("only the facilitator")),
            "{refused:?}"
        );
    }
    let acknowledge = Control::Acknowledge {
        inject: "outage".into(),
    };
    assert!(matches!(
        exercise.judge(&observer, &acknowledge, ""),
        Err(ControlRefusal::Forbidden(_))
    ));
    assert!(matches!(
        exercise.judge("mallory", &Control::Start, ""),
        Err(ControlRefusal::Forbidden(_))
    ));
    // A player may acknowledge an inject once it has happened, and one that exists.
    assert!(matches!(
        exercise.judge(&commander, &acknowledge, ""),
        Err(ControlRefusal::Conflict(_))
    ));
    let unknown = Control::Acknowledge {
        inject: "meteor".into(),
    };
    assert!(matches!(
        exercise.judge(&commander, &unknown, ""),
        Err(ControlRefusal::NotFound(_))
    ));
}

#[test]
fn the_phase_decides_which_control_fits_and_a_drill_ends_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut exercise = drill(dir.path());
    let boss = facilitator(&exercise);
    let conflict = |e: &Exercise, control: Control| {
        matches!(
            e.judge(&boss, &control, ""),
            Err(ControlRefusal::Conflict(_))
        )
    };
    assert!(conflict(&exercise, Control::Pause));
    assert!(conflict(&exercise, Control::Resume));
    exercise.apply(0.0, &boss, &Control::Start);
    assert_eq!(exercise.phase(), ExercisePhase::Running);
    assert_eq!(exercise.sim_seconds(0.25), 15.0, "at the drill's speed");
    assert!(conflict(&exercise, Control::Start), "a drill starts once");
    exercise.apply(12.0, &boss, &Control::Pause);
    assert_eq!(exercise.sim_seconds(0.25), 0.0, "paused: the clock stands");
    exercise.apply(12.0, &boss, &Control::Speed { speed: 120.0 });
    exercise.apply(12.0, &boss, &Control::Resume);
    assert_eq!(exercise.sim_seconds(0.25), 30.0);
    for speed in [0.0, -1.0, f64::NAN, 1e9] {
        assert!(matches!(
            exercise.judge(&boss, &Control::Speed { speed }, ""),
            Err(ControlRefusal::Invalid(_))
        ));
    }
    exercise.apply(40.0, &boss, &Control::End);
    assert_eq!(exercise.phase(), ExercisePhase::Ended);
    assert_eq!(exercise.sim_seconds(1.0), 0.0);
    assert!(conflict(&exercise, Control::End), "a drill ends once");
    assert!(conflict(&exercise, Control::Resume));
}

#[test]
fn messages_and_notes_are_recorded_with_who_and_when_and_nothing_after_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut exercise = drill(dir.path());
    let boss = facilitator(&exercise);
    let empty = Control::Message { text: "  ".into() };
    assert!(matches!(
        exercise.judge(&boss, &empty, ""),
        Err(ControlRefusal::Invalid(_))
    ));
    let escape = Control::Annotate {
        tone: Tone::Note,
        text: "red \u{1b}[31m".into(),
    };
    assert!(matches!(
        exercise.judge(&boss, &escape, ""),
        Err(ControlRefusal::Invalid(_))
    ));
    exercise.apply(0.0, &boss, &Control::Start);
    let note = Control::Annotate {
        tone: Tone::WentWell,
        text: "good call on the breaker".into(),
    };
    exercise.apply(30.0, &boss, &note);
    let message = Control::Message {
        text: "Support is on the phone".into(),
    };
    exercise.apply(31.0, &boss, &message);
    exercise.apply(40.0, &boss, &Control::End);
    exercise.apply(50.0, &boss, &message);
    let kept = records(&exercise);
    let annotation = kept.iter().find_map(|r| match r {
        RunRecord::Annotation { t_s, annotation } => Some((*t_s, annotation.clone())),
        _ => None,
    });
    let (t_s, annotation) = annotation.expect("the note is recorded");
    assert_eq!((t_s, annotation.author.as_str()), (30.0, boss.as_str()));
    assert_eq!(annotation.tone, Tone::WentWell);
    let messages: Vec<f64> = kept
        .iter()
        .filter(|r| matches!(r, RunRecord::Message { .. }))
        .map(RunRecord::t_s)
        .collect();
    assert_eq!(messages, [31.0], "nothing is recorded after the end");
    let last = kept.last().unwrap();
    assert!(
        matches!(last, RunRecord::Control { control: Control::End, t_s, .. } if *t_s == 40.0),
        "{last:?}"
    );
    let files = exercise.report_files();
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| f.exists()), "{files:?}");
    let json = std::fs::read_to_string(&files[1]).unwrap();
    let report: ExerciseReport = serde_json::from_str(&json).unwrap();
    assert_eq!(report, exercise.report());
    assert!(report.ended);
}

#[test]
fn every_change_players_can_see_is_one_announced_revision() {
    let dir = tempfile::tempdir().unwrap();
    let mut exercise = drill(dir.path());
    let boss = facilitator(&exercise);
    assert_eq!(
        exercise.take_change(),
        None,
        "nothing happened since the load"
    );
    exercise.apply(0.0, &boss, &Control::Start);
    let started = exercise.take_change().expect("the start is news");
    assert_eq!(started.phase, ExercisePhase::Running);
    assert_eq!(exercise.take_change(), None, "announced once");
    let message = Control::Message {
        text: "hello".into(),
    };
    exercise.apply(3.0, &boss, &message);
    let next = exercise.take_change().unwrap();
    assert!(next.exercise_revision > started.exercise_revision);
}

#[test]
fn a_custom_inject_is_checked_like_one_in_a_file() {
    let topology = Topology::embedded_default();
    let inject = |kind: &str, target: &str, duration_s: Option<f64>| Control::Inject {
        kind: kind.into(),
        target: target.into(),
        duration_s,
        magnitude: None,
        narrative: "added by the facilitator".into(),
    };
    let outage = custom_inject(
        &inject("provider-outage", "openai@eu-west", Some(90.0)),
        &topology,
    )
    .unwrap();
    assert_eq!(
        (outage.kind, outage.duration_s),
        (InjectKind::ProviderOutage, 90.0)
    );
    assert_eq!(outage.narrative, "added by the facilitator");
    let refused = custom_inject(&inject("provider-outage", "mars", Some(90.0)), &topology);
    assert!(
        matches!(&refused, Err(ControlRefusal::Invalid(why)) if why.contains("mars")),
        "{refused:?}"
    );
    assert!(custom_inject(&inject("meteor", "us-east", Some(60.0)), &topology).is_err());
    assert!(custom_inject(&inject("region-down", "us-east", Some(0.5)), &topology).is_err());
}

#[test]
fn players_are_the_operators_with_the_protocol_role_of_their_drill_role() {
    let topology = Topology::embedded_default();
    let players = [
        Player {
            name: "fran".into(),
            role: ExerciseRole::Facilitator,
        },
        Player {
            name: "alice".into(),
            role: ExerciseRole::Observer,
        },
    ];
    let operators = operators_of(&players, &topology.operators);
    let roles: Vec<(&str, protocol::Role)> = operators
        .iter()
        .map(|o| (o.name.as_str(), o.role))
        .collect();
    assert_eq!(
        roles,
        [
            ("fran", protocol::Role::Viewer),
            ("alice", protocol::Role::Viewer)
        ]
    );
}
