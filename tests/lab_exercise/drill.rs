//! Whole drills: the shipped provider-outage scenario played through the console's own
//! protocol client, scored, ended, and re-derived from its recording; and two players and
//! a facilitator acting at once.

use super::*;
use protocol::DegradedModeKind;
use protocol::command::Command;
use protocol::commands::{AuditOutcome, BreakerAction};
use protocol::exercise::record::RunRecord;
use protocol::exercise::report::{ExerciseReport, TimelineKind};
use protocol::exercise::tracker::Tracker;
use protocol::exercise::{Control, ControlRequest, ExercisePhase, ObjectiveStatus, Tone};
use switchboard::domain::preflight::preflight;
use switchboard::sources::Client;

fn client_of(drill: &Drill, who: &str) -> Client {
    Client::new(&drill.lab.url(), Some(drill.token(who).to_string())).unwrap()
}

/// Sends `command` as the console does: on the target's revision, with the preflight shown.
async fn act(client: &Client, command: &Command, reason: &str) {
    let fleet = client.fleet().await.unwrap();
    let seen = preflight(command, &fleet).seen(false);
    let revision = command.control_revision(&fleet).unwrap();
    let accepted = client
        .command(command, reason, Some(&seen), &fresh_key(), revision)
        .await
        .unwrap();
    let page = client
        .audit(Some(1), Some(accepted.audit_id + 1), None)
        .await
        .unwrap();
    let entry = &page.entries[0];
    assert_eq!(
        (entry.id, entry.outcome),
        (accepted.audit_id, AuditOutcome::Accepted)
    );
    assert_eq!(entry.preflight.as_ref(), Some(&seen));
}

/// The records of a recording, one a line.
fn records_of(text: &str) -> Vec<RunRecord> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The report a recording gives, the way `switchboard exercise report RUN` derives it.
fn report_of_recording(path: &Path) -> ExerciseReport {
    let text = std::fs::read_to_string(path).unwrap();
    let records = records_of(&text);
    let RunRecord::Header(header) = &records[0] else {
        panic!("a recording starts with its header");
    };
    let mut tracker = Tracker::new(header.clone());
    for record in &records[1..] {
        tracker.feed(record);
    }
    tracker.report()
}

#[tokio::test]
async fn a_scripted_provider_outage_drill_is_scored_and_its_recording_gives_the_same_report() {
    let drill = Drill::start("provider-outage", 60.0).await;
    let facilitator = client_of(&drill, FACILITATOR);
    let commander = client_of(&drill, COMMANDER);
    let control = |client: &Client, control: Control| {
        let client = client.clone();
        async move {
            client
                .exercise_control(
                    &ControlRequest {
                        control,
                        reason: "drill".into(),
                    },
                    &fresh_key(),
                )
                .await
                .unwrap()
        }
    };
    control(&facilitator, Control::Start).await;
    let fired = drill
        .until(COMMANDER, "the outage", |s| inject(s, "outage").is_some())
        .await;
    assert_eq!(inject(&fired, "outage").unwrap().fired_at_s, Some(10.0));
    // Paused while the commander acts: the times asserted below are the drill's own.
    control(&facilitator, Control::Pause).await;
    let acknowledged = control(
        &commander,
        Control::Acknowledge {
            inject: "outage".into(),
        },
    )
    .await;
    let detect = acknowledged.clock_s;
    let hold = Command::Breaker {
        provider: "openai@us-east".into(),
        action: BreakerAction::ForceOpen,
        expires_in_s: None,
    };
    act(
        &commander,
        &hold,
        "openai@us-east answers 503s: hold it open",
    )
    .await;
    let acted = drill.state(COMMANDER).await.clock_s;
    assert_eq!(acted, detect, "paused: the clock stands");
    control(&facilitator, Control::Speed { speed: 240.0 }).await;
    control(&facilitator, Control::Resume).await;
    drill
        .until(FACILITATOR, "7 minutes after the outage", |s| {
            s.clock_s > 10.0 + 7.0 * 60.0
        })
        .await;
    let note = Control::Annotate {
        tone: Tone::WentWell,
        text: "held the breaker open before the probes".into(),
    };
    control(&facilitator, note).await;
    let ended = control(&facilitator, Control::End).await;
    assert_eq!(ended.phase, ExercisePhase::Ended);

    let report = client_of(&drill, OBSERVER).exercise_report().await.unwrap();
    assert!(report.ended);
    let end = ended.clock_s;
    // Objectives, with their times: the breaker held open at once took the traffic off and
    // met its objective; held open for good, us-east never counts as healthy again.
    let status = |id: &str| {
        let objective = report.objectives.iter().find(|o| o.id == id).unwrap();
        objective.status.clone()
    };
    match status("traffic-off") {
        ObjectiveStatus::Met { at_s } => assert!((10.0..=acted).contains(&at_s), "{at_s}"),
        other => panic!("traffic-off: {other:?}"),
    }
    assert_eq!(status("hold-breaker"), ObjectiveStatus::Met { at_s: acted });
    assert_eq!(status("no-overload"), ObjectiveStatus::Met { at_s: end });
    assert_eq!(status("no-force"), ObjectiveStatus::Met { at_s: end });
    assert_eq!(
        status("recovered"),
        ObjectiveStatus::Missed {
            at_s: 430.0,
            why: "not done by its deadline T+07:10".into()
        }
    );
    assert_eq!((report.score.earned, report.score.possible), (8, 10));
    // Times to detect and mitigate are the acknowledgement's and the action's.
    let outage = &report.measures[0];
    assert_eq!(
        (outage.inject.as_str(), outage.fired_at_s),
        ("outage", 10.0)
    );
    assert_eq!(outage.detect_s, Some(detect - 10.0));
    assert_eq!(outage.mitigate_s, Some(acted - 10.0));
    assert!(outage.recover_s.is_some_and(|s| s <= end - 10.0));
    assert!(
        report.risky_actions.is_empty(),
        "{:?}",
        report.risky_actions
    );
    // The timeline: the injects, the action with its reason, the message and the note.
    let timeline: Vec<_> = report
        .timeline
        .iter()
        .filter(|e| e.kind != TimelineKind::Control)
        .map(|e| (e.at_s, e.kind, e.who.as_str(), e.what.as_str()))
        .collect();
    let expected = [
        (
            10.0,
            TimelineKind::Inject,
            "scenario",
            "openai@us-east outage (503s, 92% errors) (outage)",
        ),
        (
            acted,
            TimelineKind::Action,
            COMMANDER,
            "breaker force-open openai@us-east (accepted)",
        ),
        (
            120.0,
            TimelineKind::Inject,
            "scenario",
            "message to the players (support-call)",
        ),
        (
            120.0,
            TimelineKind::Message,
            "scenario",
            "Support: merchants in the US report payments stuck on 'scoring' for several seconds.",
        ),
        (
            end,
            TimelineKind::Note,
            FACILITATOR,
            "went well: held the breaker open before the probes",
        ),
    ];
    assert_eq!(timeline, expected);
    let action = report
        .timeline
        .iter()
        .find(|e| e.kind == TimelineKind::Action);
    assert_eq!(
        action.unwrap().why,
        "openai@us-east answers 503s: hold it open"
    );
    assert_eq!(
        (report.scenario.as_str(), report.seed),
        ("provider-outage", 42)
    );
    // The same report from the recording, from the file written at the end, and again.
    let recording = drill.recording();
    assert_eq!(report_of_recording(&recording), report);
    let written = recording.with_extension("report.json");
    let written: ExerciseReport =
        serde_json::from_str(&std::fs::read_to_string(written).unwrap()).unwrap();
    assert_eq!(written, report);
    drill.shutdown().await;
}

#[tokio::test]
async fn two_players_and_a_facilitator_play_one_drill_at_once() {
    let drill = Drill::start("provider-outage", 60.0).await;
    let facilitator = client_of(&drill, FACILITATOR);
    let (commander, operator) = (client_of(&drill, COMMANDER), client_of(&drill, OPERATOR));
    facilitator
        .exercise_control(
            &ControlRequest {
                control: Control::Start,
                reason: "".into(),
            },
            &fresh_key(),
        )
        .await
        .unwrap();
    drill
        .until(OPERATOR, "the outage", |s| inject(s, "outage").is_some())
        .await;
    let steer = async {
        for text in ["Support is calling", "Status page?"] {
            let message = Control::Message { text: text.into() };
            facilitator
                .exercise_control(
                    &ControlRequest {
                        control: message,
                        reason: "".into(),
                    },
                    &fresh_key(),
                )
                .await
                .unwrap();
        }
        let added = Control::Inject {
            kind: "latency-brownout".into(),
            target: "eu-west".into(),
            duration_s: Some(120.0),
            magnitude: None,
            narrative: "eu-west slows down".into(),
        };
        facilitator
            .exercise_control(
                &ControlRequest {
                    control: added,
                    reason: "".into(),
                },
                &fresh_key(),
            )
            .await
            .unwrap();
        let note = Control::Annotate {
            tone: Tone::ToImprove,
            text: "nobody checked the standby".into(),
        };
        facilitator
            .exercise_control(
                &ControlRequest {
                    control: note,
                    reason: "".into(),
                },
                &fresh_key(),
            )
            .await
            .unwrap();
    };
    let player = |client: &Client, command: Command| {
        let client = client.clone();
        async move {
            let acknowledge = Control::Acknowledge {
                inject: "outage".into(),
            };
            client
                .exercise_control(
                    &ControlRequest {
                        control: acknowledge,
                        reason: "seen".into(),
                    },
                    &fresh_key(),
                )
                .await
                .unwrap();
            act(&client, &command, "drill").await;
        }
    };
    let hold = Command::Breaker {
        provider: "openai@us-east".into(),
        action: BreakerAction::ForceOpen,
        expires_in_s: None,
    };
    let cache = Command::Degrade {
        service: "risk-scorer".into(),
        mode: DegradedModeKind::ServeCache,
        enabled: true,
        expires_in_s: None,
    };
    tokio::join!(steer, player(&commander, hold), player(&operator, cache));
    facilitator
        .exercise_control(
            &ControlRequest {
                control: Control::End,
                reason: "".into(),
            },
            &fresh_key(),
        )
        .await
        .unwrap();

    // Nothing was lost: every control and action of the three is in the recording, in order.
    let text = std::fs::read_to_string(drill.recording()).unwrap();
    let records = records_of(&text);
    let times: Vec<f64> = records.iter().map(RunRecord::t_s).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "records in time order"
    );
    let controls_by = |who: &str| {
        records
            .iter()
            .filter(|r| matches!(r, RunRecord::Control { by, .. } if by == who))
            .count()
    };
    assert_eq!(
        controls_by(FACILITATOR),
        6,
        "start, 2 messages, an inject, a note, end"
    );
    assert_eq!((controls_by(COMMANDER), controls_by(OPERATOR)), (1, 1));
    let actions: Vec<&str> = records
        .iter()
        .filter_map(|r| match r {
            RunRecord::Audit { entry, .. } if !entry.action.starts_with("exercise") => {
                Some(entry.actor.as_str())
            }
            _ => None,
        })
        .collect();
    assert!(
        actions.contains(&COMMANDER) && actions.contains(&OPERATOR),
        "{actions:?}"
    );
    let report = operator.exercise_report().await.unwrap();
    assert_eq!(report_of_recording(&drill.recording()), report);
    drill.shutdown().await;
}
