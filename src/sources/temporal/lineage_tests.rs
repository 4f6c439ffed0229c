//! On a real history, recorded from the reference worker (fixtures/temporal/): `AgentTask`
//! with paths openai@us-east (429 three times), anthropic@us-west (timeouts) and
//! google@eu-west (an answer the validator refused), escalated, signalled, claimed and
//! approved by alice.

use super::*;
use crate::sources::temporal::wire::{HistoryPage, QueryAnswer, cleaned, payloads};
use protocol::escalations::{Escalation, ValidatorVerdict};

fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/temporal/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn events() -> Vec<Event> {
    let page: HistoryPage = serde_json::from_str(&fixture("history_approved.json")).unwrap();
    page.history.events
}

fn candidates() -> Vec<Candidate> {
    let answer: QueryAnswer = serde_json::from_str(&fixture("query_escalated.json")).unwrap();
    let mut value = cleaned(payloads(answer.query_result.as_ref()).remove(0));
    value["lineage"] = serde_json::json!({
        "workflow_id": "", "run_id": "", "workflow_type": "",
        "started_at": "2026-12-01T00:00:00Z", "steps": []
    });
    let escalation: Escalation = serde_json::from_value(value).unwrap();
    escalation.candidates
}

fn built() -> Lineage {
    let candidates = candidates();
    let subject = Subject {
        workflow_id: "fixture2-0",
        run_id: "01a23284-0e89-7299-9d52-0e6b92fe5589",
        workflow_type: "AgentTask",
        escalated_step: "draft-answer",
        candidates: &candidates,
    };
    lineage(&subject, &events())
}

fn step<'a>(lineage: &'a Lineage, name: &str) -> &'a LineageStep {
    lineage
        .steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name} in {:?}", names(lineage)))
}

fn names(lineage: &Lineage) -> Vec<&str> {
    lineage.steps.iter().map(|s| s.name.as_str()).collect()
}

#[test]
fn steps_come_in_the_order_of_the_history() {
    let lineage = built();
    assert_eq!(
        names(&lineage),
        [
            "child:LoadContext",
            "draft-answer",
            "signal:operator_note",
            "update:switchboard_claim",
            "update:switchboard_resolve",
            "record-decision",
        ]
    );
    assert_eq!(lineage.workflow_type, "AgentTask");
    assert_eq!(
        step(&lineage, "draft-answer").outcome,
        StepOutcome::Escalated
    );
    assert_eq!(
        step(&lineage, "record-decision").outcome,
        StepOutcome::Completed
    );
    let child = &step(&lineage, "child:LoadContext").attempts[0];
    assert_eq!(
        (child.id.as_str(), child.outcome),
        ("fixture2-0-context", AttemptOutcome::Ok)
    );
}

#[test]
fn a_retried_activity_says_its_last_attempt_and_the_failure_before_it() {
    let lineage = built();
    let attempts = &step(&lineage, "draft-answer").attempts;
    assert_eq!(attempts.len(), 3);
    let openai = &attempts[0];
    assert_eq!(openai.id, "draft-answer-1-1-openai-us-east");
    assert_eq!(
        (
            openai.model.as_deref(),
            openai.provider.as_deref(),
            openai.region.as_deref()
        ),
        (Some("gpt-4o"), Some("openai"), Some("us-east"))
    );
    assert_eq!(openai.number, 3);
    assert_eq!(openai.outcome, AttemptOutcome::Error);
    let error = openai.error.as_ref().unwrap();
    assert_eq!(error.kind, AttemptErrorKind::RateLimited);
    assert_eq!(error.status, Some(429));
    assert_eq!(error.message, "429 Too Many Requests from openai@us-east");
    assert_eq!(
        openai.retry_reason.as_deref(),
        Some(
            "attempt 3 of 3, last failure: 429 Too Many Requests from openai@us-east \
             (Temporal keeps only the last attempt)"
        )
    );
}

#[test]
fn failovers_name_the_path_left_and_the_backoff_timer() {
    let lineage = built();
    let attempts = &step(&lineage, "draft-answer").attempts;
    let anthropic = &attempts[1];
    // `provider` given as vendor@region is split.
    assert_eq!(
        (anthropic.provider.as_deref(), anthropic.region.as_deref()),
        (Some("anthropic"), Some("us-west"))
    );
    assert_eq!(
        anthropic.parent.as_deref(),
        Some("draft-answer-1-1-openai-us-east")
    );
    assert_eq!(anthropic.outcome, AttemptOutcome::Timeout);
    assert_eq!(
        anthropic.error.as_ref().unwrap().kind,
        AttemptErrorKind::Timeout
    );
    assert_eq!(
        anthropic.failover_reason.as_deref(),
        Some(
            "openai@us-east failed (429 Too Many Requests from openai@us-east); \
             after a 0.2 s backoff timer"
        )
    );
    assert!(
        (900..3000).contains(&anthropic.duration_ms),
        "a 1 s start-to-close timeout: {} ms",
        anthropic.duration_ms
    );
}

#[test]
fn an_answer_the_validator_refused_is_rejected_with_its_verdicts() {
    let lineage = built();
    let google = &step(&lineage, "draft-answer").attempts[2];
    assert_eq!(google.outcome, AttemptOutcome::Rejected);
    assert_eq!(google.confidence, Some(0.55));
    assert_eq!(
        google.verdicts,
        vec![ValidatorVerdict {
            validator: "policy:no-blanket-approval".into(),
            passed: false,
            detail: Some("the answer approves without a limit".into()),
        }]
    );
    assert!(google.error.is_none());
}

#[test]
fn updates_are_named_by_their_id() {
    let lineage = built();
    let claim = &step(&lineage, "update:switchboard_claim").attempts[0];
    assert_eq!(
        (claim.id.as_str(), claim.outcome),
        ("fx-claim", AttemptOutcome::Ok)
    );
    let resolve = &step(&lineage, "update:switchboard_resolve").attempts[0];
    assert_eq!(resolve.id, "fx-resolve");
}

#[test]
fn hostile_text_in_the_history_is_cleaned() {
    let mut events = events();
    let scheduled = events
        .iter_mut()
        .find(|e| e.kind() == "ACTIVITY_TASK_SCHEDULED")
        .unwrap();
    let attributes = scheduled
        .rest
        .get_mut("activityTaskScheduledEventAttributes")
        .unwrap();
    attributes["input"][0]["model"] = "gpt\u{1b}[2J-4o\nnext".into();
    attributes["activityId"] = "id\u{9b}31m".into();
    let subject = Subject {
        workflow_id: "wf\u{1b}]0;x\u{7}",
        run_id: "r",
        workflow_type: "T",
        escalated_step: "draft-answer",
        candidates: &[],
    };
    let lineage = lineage(&subject, &events);
    let first = &step(&lineage, "draft-answer").attempts[0];
    assert_eq!(first.model.as_deref(), Some("gpt-4o next"));
    assert_eq!(first.id, "id");
    assert_eq!(lineage.workflow_id, "wf");
}
