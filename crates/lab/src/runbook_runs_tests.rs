use chrono::TimeZone;

use super::*;
use protocol::runbook_runs::CheckTruth;

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, second).unwrap()
}

fn check() -> StepOutcome {
    StepOutcome::Check {
        truth: CheckTruth::True,
        readings: "breaker(openai@us-east) = open == open".into(),
    }
}

#[test]
fn a_step_record_moves_the_revision_and_the_recorder_but_presence_moves_neither_revision() {
    let mut board = RunBoard::default();
    let run = board.start("provider-outage", 1, "alice", at(0)).unwrap();
    assert_eq!((run.id.as_str(), run.revision), ("run-000001", 1));
    assert_eq!(run.participants[0].step, 1);

    let run = board.presence(&run.id, 2, "bob", at(1)).unwrap();
    assert_eq!(run.revision, 1, "following is no change of the record");
    let run = board
        .record(&run.id, 1, 1, check(), "alice", at(2))
        .unwrap();
    assert_eq!(run.revision, 2);
    assert_eq!(run.steps.len(), 1);
    assert_eq!(
        (run.steps[0].by.as_str(), run.steps[0].at),
        ("alice", at(2))
    );
    let on: Vec<(&str, u32)> = run
        .participants
        .iter()
        .map(|p| (p.name.as_str(), p.step))
        .collect();
    assert_eq!(on, [("alice", 1), ("bob", 2)]);
    assert_eq!(board.take_events().len(), 3, "start, presence, record");
    assert!(board.take_events().is_empty());
}

#[test]
fn a_stale_revision_or_an_ended_run_is_a_conflict_with_the_run_as_it_is() {
    let mut board = RunBoard::default();
    let id = board.start("p", 1, "alice", at(0)).unwrap().id;
    board.record(&id, 1, 1, check(), "alice", at(1)).unwrap();
    let Err(RunError::Conflict { detail, current }) =
        board.record(&id, 1, 1, check(), "bob", at(2))
    else {
        panic!("a stale revision must conflict");
    };
    assert_eq!(current.revision, 2);
    assert!(
        detail.contains("step 1 was recorded by alice (check)"),
        "{detail}"
    );

    board
        .end(&id, 2, RunState::Finished, "", "alice", at(3))
        .unwrap();
    let Err(RunError::Conflict { detail, current }) = board.presence(&id, 2, "bob", at(4)) else {
        panic!("an ended run takes nothing more");
    };
    assert_eq!(current.state, RunState::Finished);
    assert!(detail.contains("was finished by alice"), "{detail}");
    assert_eq!(
        board.record("run-000009", 1, 1, check(), "bob", at(5)),
        Err(RunError::NotFound)
    );
}

#[test]
fn skips_and_abandons_need_a_reason_and_texts_must_be_printable() {
    let mut board = RunBoard::default();
    let id = board.start("p", 1, "alice", at(0)).unwrap().id;
    let skip = |reason: &str| StepOutcome::Skipped {
        reason: reason.into(),
    };
    let Err(RunError::Invalid(why)) = board.record(&id, 1, 2, skip("  "), "alice", at(1)) else {
        panic!("a skip needs a reason");
    };
    assert!(why.contains("reason is required to skip"), "{why}");
    let Err(RunError::Invalid(why)) = board.record(&id, 1, 2, skip("\u{1b}[2J"), "alice", at(1))
    else {
        panic!("escape sequences are refused");
    };
    assert!(why.contains("printable"), "{why}");
    assert!(matches!(
        board.record(&id, 1, 0, skip("x"), "alice", at(1)),
        Err(RunError::Invalid(_))
    ));
    assert!(matches!(
        board.end(&id, 1, RunState::Abandoned, "", "alice", at(1)),
        Err(RunError::Invalid(_))
    ));
    let run = board
        .end(&id, 1, RunState::Abandoned, "wrong runbook", "alice", at(2))
        .unwrap();
    assert_eq!(run.ended.unwrap().reason, "wrong runbook");
}

#[test]
fn beyond_capacity_the_oldest_ended_run_goes_first() {
    let mut board = RunBoard::default();
    let first = board.start("p", 1, "alice", at(0)).unwrap().id;
    let second = board.start("p", 1, "alice", at(0)).unwrap().id;
    board
        .end(&second, 1, RunState::Finished, "", "alice", at(1))
        .unwrap();
    for _ in 0..RUNS_KEPT - 1 {
        board.start("p", 1, "alice", at(2)).unwrap();
    }
    assert!(board.get(&first).is_some(), "the active one stays");
    assert!(board.get(&second).is_none());
    assert_eq!(board.list().len(), RUNS_KEPT);
}
