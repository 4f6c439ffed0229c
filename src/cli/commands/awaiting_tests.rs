use super::*;
use protocol::approvals::Decision;

fn request(state: ApprovalState, error: Option<&str>) -> ApprovalRequest {
    let at = "2026-12-01T08:00:00Z".parse().unwrap();
    ApprovalRequest {
        id: "apr-000003".into(),
        state,
        action: "drain".into(),
        target: "us-east".into(),
        path: "/v1/regions/us-east/drain".into(),
        body: serde_json::json!({"reason": "maintenance"}),
        idempotency_key: "k".into(),
        if_match: 3,
        requested_by: "alice".into(),
        reason: "maintenance".into(),
        why_approval: "every drain needs a second approver".into(),
        preflight: None,
        requested_at: at,
        expires_at: at,
        decision: Some(Decision {
            by: "bob".into(),
            reason: "\u{1b}[2Jlooks fine".into(),
            at,
            audit_id: Some(12).filter(|_| state == ApprovalState::Approved),
            error: error.map(str::to_string),
        }),
    }
}

fn report() -> Report {
    Report::new(None, "prod", "http://127.0.0.1:7300")
}

#[test]
fn a_held_command_exits_5_naming_the_request_and_what_to_ask() {
    let mut report = report();
    held(&mut report, request(ApprovalState::Pending, None));
    assert_eq!(
        (report.outcome, report.exit_code),
        ("pending", EXIT_PENDING)
    );
    assert_eq!(
        report.message.as_deref(),
        Some(
            "pending approval apr-000003: every drain needs a second approver; ask another \
             operator: switchboard approvals approve apr-000003 --reason ..."
        )
    );
}

#[test]
fn each_decision_has_its_exit_code_and_names_who_and_why() {
    let cases = [
        (
            ApprovalState::Approved,
            None,
            EXIT_APPLIED,
            "approved by bob: looks fine",
        ),
        (
            ApprovalState::Denied,
            None,
            EXIT_DENIED,
            "denied by bob: looks fine",
        ),
        (
            ApprovalState::Withdrawn,
            None,
            EXIT_WITHDRAWN,
            "withdrawn by bob: looks fine",
        ),
        (
            ApprovalState::Failed,
            Some("us-east changed since control revision 3"),
            EXIT_CONFLICT,
            "approved by bob but not carried out: us-east changed since control revision 3",
        ),
    ];
    for (state, error, code, message) in cases {
        let mut report = report();
        decided(&mut report, request(state, error));
        assert_eq!(report.exit_code, code, "{state:?}");
        assert_eq!(report.message.as_deref(), Some(message), "{state:?}");
    }
    let mut approved = report();
    decided(&mut approved, request(ApprovalState::Approved, None));
    assert_eq!(approved.audit_id, Some(12));
    let mut expired = report();
    decided(&mut expired, request(ApprovalState::Expired, None));
    assert_eq!(expired.exit_code, EXIT_EXPIRED);
}
