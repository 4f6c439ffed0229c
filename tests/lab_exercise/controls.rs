//! The drill's phase, roles, idempotency and events.

use super::*;
use lab_support::{event_data, expect_problem, get, get_json_as, next_event, open_events};
use protocol::commands::{AuditOutcome, AuditPage};
use protocol::escalations::IDEMPOTENT_REPLAYED;
use protocol::exercise::{ExerciseChanged, ExercisePhase, ExerciseRole};

/// Long enough for a running lab at 60x to move its clock several seconds.
const A_WHILE: Duration = Duration::from_millis(600);

#[tokio::test]
async fn a_drill_waits_at_t0_and_only_the_facilitator_steers_it() {
    let drill = Drill::start("provider-outage", 60.0).await;
    let first = drill.state(FACILITATOR).await;
    assert_eq!((first.phase, first.clock_s), (ExercisePhase::Ready, 0.0));
    assert_eq!(first.you, ExerciseRole::Facilitator);
    let outage = inject(&first, "outage").expect("the facilitator sees what is coming");
    assert!(outage.fired_at_s.is_none());
    let player = drill.state(OPERATOR).await;
    assert_eq!(player.you, ExerciseRole::Operator);
    assert!(
        player.injects.is_empty(),
        "players do not see what is coming"
    );
    assert!(!player.briefing.is_empty());
    tokio::time::sleep(A_WHILE).await;
    assert_eq!(
        drill.sim_elapsed().await,
        0.0,
        "nothing moves before the start"
    );

    for (who, control) in [
        (COMMANDER, json!({"action": "start"})),
        (OPERATOR, json!({"action": "end"})),
        (
            OBSERVER,
            json!({"action": "acknowledge", "inject": "outage"}),
        ),
    ] {
        let refused = drill.post(who, control, &fresh_key()).await;
        let (problem, _) = expect_problem(refused, StatusCode::FORBIDDEN).await;
        assert!(problem.detail.unwrap().contains(who));
    }

    let key = fresh_key();
    let start = json!({"action": "start"});
    let first = drill.post(FACILITATOR, start.clone(), &key).await;
    assert!(first.headers().get(IDEMPOTENT_REPLAYED).is_none());
    let (started, first_bytes) = accepted_state(first, &start).await;
    assert_eq!(started.phase, ExercisePhase::Running);
    // A retry after a lost answer: the first answer again, and one start.
    let replay = drill.post(FACILITATOR, start.clone(), &key).await;
    assert_eq!(replay.headers()[IDEMPOTENT_REPLAYED], "true");
    let (_, replay_bytes) = accepted_state(replay, &start).await;
    assert_eq!(first_bytes, replay_bytes);
    let other = drill
        .post(FACILITATOR, json!({"action": "pause"}), &key)
        .await;
    expect_problem(other, StatusCode::UNPROCESSABLE_ENTITY).await;
    let again = drill.post(FACILITATOR, start.clone(), &fresh_key()).await;
    let (problem, _) = expect_problem(again, StatusCode::CONFLICT).await;
    assert!(problem.detail.unwrap().contains("starts once"));

    drill
        .until(FACILITATOR, "the clock to run", |s| s.clock_s > 0.0)
        .await;
    let paused = drill.control(FACILITATOR, json!({"action": "pause"})).await;
    assert_eq!(paused.phase, ExercisePhase::Paused);
    let frozen = drill.sim_elapsed().await;
    tokio::time::sleep(A_WHILE).await;
    assert_eq!(
        drill.sim_elapsed().await,
        frozen,
        "paused: the simulation stands"
    );
    let still = drill.state(OPERATOR).await;
    assert_eq!(
        (still.phase, still.clock_s),
        (ExercisePhase::Paused, paused.clock_s)
    );

    drill
        .control(FACILITATOR, json!({"action": "resume"}))
        .await;
    let faster = drill
        .control(FACILITATOR, json!({"action": "speed", "speed": 120}))
        .await;
    assert_eq!(faster.speed, 120.0);
    assert_eq!(drill.fleet().await.lab.unwrap().speed, 120.0);
    let too_fast = drill
        .post(
            FACILITATOR,
            json!({"action": "speed", "speed": 5000}),
            &fresh_key(),
        )
        .await;
    expect_problem(too_fast, StatusCode::BAD_REQUEST).await;

    let ended = drill.control(FACILITATOR, json!({"action": "end"})).await;
    assert_eq!(ended.phase, ExercisePhase::Ended);
    for control in [json!({"action": "end"}), json!({"action": "resume"})] {
        let refused = drill.post(FACILITATOR, control, &fresh_key()).await;
        expect_problem(refused, StatusCode::CONFLICT).await;
    }
    let at_end = drill.sim_elapsed().await;
    tokio::time::sleep(A_WHILE).await;
    assert_eq!(
        drill.sim_elapsed().await,
        at_end,
        "ended: the simulation stands"
    );

    // The report is written beside the recording, and everyone may read it now.
    let run_id = &drill.lab.exercise.as_ref().unwrap().run_id;
    for file in [".jsonl", ".report.md", ".report.json"] {
        let path = drill.dir().join(format!("{run_id}{file}"));
        assert!(path.exists(), "{}", path.display());
    }
    let report: protocol::exercise::report::ExerciseReport =
        get_json(&drill.lab, "/v1/exercise/report", drill.token(OBSERVER)).await;
    assert!(report.ended);

    // Each control is in the audit log, accepted or refused, with who sent it.
    let audit: AuditPage = get_json_as(
        &drill.lab,
        "/v1/audit?limit=100",
        "/v1/audit",
        drill.token(OBSERVER),
    )
    .await;
    let starts: Vec<(&str, AuditOutcome)> = audit
        .entries
        .iter()
        .filter(|e| e.action == "exercise start")
        .map(|e| (e.actor.as_str(), e.outcome))
        .rev()
        .collect();
    assert_eq!(
        starts,
        [
            (COMMANDER, AuditOutcome::Rejected),
            (FACILITATOR, AuditOutcome::Accepted),
            (FACILITATOR, AuditOutcome::Rejected),
        ]
    );
    drill.shutdown().await;
}

#[tokio::test]
async fn the_provisional_report_is_the_facilitators_and_a_lab_without_a_drill_has_none() {
    let drill = Drill::start("provider-outage", 60.0).await;
    let early = get(
        &drill.lab,
        "/v1/exercise/report",
        Some(drill.token(OPERATOR)),
        Default::default(),
    )
    .await;
    expect_problem(early, StatusCode::FORBIDDEN).await;
    let report: protocol::exercise::report::ExerciseReport =
        get_json(&drill.lab, "/v1/exercise/report", drill.token(FACILITATOR)).await;
    assert!(!report.ended);
    drill.shutdown().await;

    let plain = lab_support::start_lab(60.0, None).await;
    let token = plain.token_for("alice").unwrap().to_string();
    for path in ["/v1/exercise", "/v1/exercise/report"] {
        let none = get(&plain, path, Some(&token), Default::default()).await;
        expect_problem(none, StatusCode::NOT_FOUND).await;
    }
    let control = client()
        .post(format!("{}/v1/exercise/control", plain.url()))
        .bearer_auth(&token)
        .header(IDEMPOTENCY_KEY, fresh_key())
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"control": {"action": "start"}}).to_string());
    expect_problem(send(control).await, StatusCode::NOT_FOUND).await;
    plain.shutdown().await;
}

#[tokio::test]
async fn every_change_of_the_drill_is_an_event_of_the_stream() {
    let drill = Drill::start("provider-outage", 60.0).await;
    let revision = drill.fleet().await.revision;
    let mut events = open_events(
        &drill.lab,
        drill.token(OPERATOR),
        Some(revision.to_string()),
    )
    .await;
    drill.control(FACILITATOR, json!({"action": "start"})).await;
    let mut last = 0;
    let mut phases = Vec::new();
    let mut pause_sent = false;
    while phases.last() != Some(&ExercisePhase::Paused) {
        let event = next_event(&mut events).await;
        if event.event != protocol::exercise::EVENT_CHANGED {
            continue;
        }
        let changed: ExerciseChanged = event_data(&event, "ExerciseChanged");
        assert!(changed.exercise_revision > last, "revisions grow");
        last = changed.exercise_revision;
        if phases.last() != Some(&changed.phase) {
            phases.push(changed.phase);
        }
        if phases == [ExercisePhase::Running] && !pause_sent {
            drill.control(FACILITATOR, json!({"action": "pause"})).await;
            pause_sent = true;
        }
    }
    assert_eq!(phases, [ExercisePhase::Running, ExercisePhase::Paused]);
    drill.shutdown().await;
}
