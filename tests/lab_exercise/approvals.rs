//! A drill whose scenario turns the two-person rule on: a held command waits for a second
//! player, and the report tells who asked, who approved and how long it waited.

use super::*;
use protocol::command::Command;
use protocol::commands::ApprovalState;
use protocol::exercise::report::{ExerciseReport, TimelineKind};
use protocol::exercise::span_label;
use switchboard::domain::preflight::preflight;
use switchboard::sources::Client;

/// provider-outage, with every drain held for a second player.
const SCENARIO: &str = r#"
name = "held-drain"
briefing = "Drain us-east if you must; a second player approves."
[[inject]]
id = "outage"
at = "10s"
kind = "provider-outage"
target = "openai@us-east"
duration = "4m"
[approvals]
verbs = ["drain"]
"#;

#[tokio::test]
async fn a_held_command_waits_for_a_second_player_and_the_report_says_how_long() {
    let scenario = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
    std::fs::write(scenario.path(), SCENARIO).unwrap();
    let drill = Drill::start(scenario.path().to_str().unwrap(), 60.0).await;
    let commander = Client::new(&drill.lab.url(), Some(drill.token(COMMANDER).into())).unwrap();
    let drain = Command::Drain {
        region: "us-east".into(),
        expires_in_s: None,
    };
    let fleet = commander.fleet().await.unwrap();
    let seen = preflight(&drain, &fleet).seen(false);
    let revision = drain.control_revision(&fleet).unwrap();
    let answer = commander
        .command(&drain, "us-east fails", Some(&seen), &fresh_key(), revision)
        .await
        .unwrap();
    let request = answer.pending_approval.expect("the scenario holds drains");
    drill.control(FACILITATOR, json!({"action": "start"})).await;
    drill
        .until(COMMANDER, "the outage", |s| inject(s, "outage").is_some())
        .await;
    let approve = client()
        .post(format!(
            "{}/v1/approvals/{}/approve",
            drill.lab.url(),
            request.id
        ))
        .bearer_auth(drill.token(OPERATOR))
        .header(IDEMPOTENCY_KEY, fresh_key())
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"reason": "seen the errors too"}).to_string());
    assert_eq!(send(approve).await.status(), StatusCode::OK);
    let ended = drill.control(FACILITATOR, json!({"action": "end"})).await;
    assert!(ended.clock_s >= 10.0);

    // Checked against the spec on the way.
    let report: ExerciseReport =
        get_json(&drill.lab, "/v1/exercise/report", drill.token(COMMANDER)).await;
    let [wait] = report.approvals.as_slice() else {
        panic!("one held command: {:?}", report.approvals);
    };
    assert_eq!(
        (
            wait.command.as_str(),
            wait.requested_by.as_str(),
            wait.requested_at_s
        ),
        ("drain us-east", COMMANDER, 0.0)
    );
    assert_eq!(wait.state, ApprovalState::Approved);
    assert_eq!(wait.decided_by.as_deref(), Some(OPERATOR));
    let decided = wait.decided_at_s.unwrap();
    assert!(
        decided >= 10.0,
        "approved after the outage fired: {decided}"
    );
    assert_eq!(wait.waited_s, Some(decided));
    let told: Vec<_> = report
        .timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::Approval || e.kind == TimelineKind::Action)
        .map(|e| (e.kind, e.who.as_str(), e.what.as_str()))
        .collect();
    let approved = format!(
        "approved {COMMANDER}'s drain us-east ({}), held {}",
        request.id,
        span_label(decided)
    );
    assert_eq!(
        told,
        [
            (
                TimelineKind::Action,
                COMMANDER,
                "drain us-east (held for approval)"
            ),
            // Carried out under the approval: the request is approved once it has run.
            (TimelineKind::Action, COMMANDER, "drain us-east (accepted)"),
            (TimelineKind::Approval, OPERATOR, approved.as_str()),
        ]
    );
    drill.shutdown().await;
}
