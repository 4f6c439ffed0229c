//! The two-person rule over HTTP: a lab whose topology names an approval policy holds the
//! commands it names until a second operator decides (alice is admin, bob operator, victor
//! viewer in the default topology; carol, another operator, is added here).

use super::*;
use protocol::approvals::{ApprovalList, ApprovalRequest, ApprovalState};

/// A lab that holds every drain and forced command until `expires_after_s` (simulated).
async fn lab_with_policy(speed: f64, expires_after_s: u64) -> LabServer {
    let topology = format!(
        "{}\n[[operator]]\nname = \"carol\"\nrole = \"operator\"\non_call = true\n\n[approvals]\nverbs = [\"drain\", \"breaker force-open\"]\nexpires_after_s = {expires_after_s}\n",
        lab::topology::DEFAULT_TOPOLOGY_TOML
    );
    let path = std::env::temp_dir().join(format!("approvals-{}.toml", fresh_key()));
    std::fs::write(&path, topology).unwrap();
    let options = lab::LabOptions {
        speed,
        topology: Some(path),
        ..lab::LabOptions::default()
    };
    LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn drain_ap_south() -> Command {
    drain("ap-south", None)
}

/// alice asks to drain ap-south: held, nothing drained; the answer and request as sent.
async fn held_drain(lab: &LabServer) -> (ApprovalRequest, String) {
    let command = drain_ap_south();
    let revision = command.control_revision(&fleet(lab).await).unwrap();
    let key = fresh_key();
    let response = send_command(lab, "alice", &command, Some(&key), Some(revision)).await;
    let (answer, _) = accepted(response, &command, StatusCode::ACCEPTED).await;
    let request = *answer.pending_approval.expect("held for approval");
    assert_eq!(request.state, ApprovalState::Pending);
    assert_eq!(request.why_approval, "every drain needs a second approver");
    assert_eq!(
        (request.requested_by.as_str(), request.if_match),
        ("alice", revision)
    );
    assert!(answer.operation.is_none());
    let region = region(lab, "ap-south").await;
    assert!(region.drain.is_none(), "nothing happens before approval");
    (request, key)
}

async fn region(lab: &LabServer, id: &str) -> Region {
    fleet(lab)
        .await
        .regions
        .into_iter()
        .find(|r| r.id == id)
        .unwrap()
}

/// Sends a decision (`approve`, `deny`, `withdraw`) on `id` as `name`.
async fn decide(
    lab: &LabServer,
    name: &str,
    id: &str,
    decision: &str,
    key: &str,
    reason: &str,
) -> reqwest::Response {
    let body = json!({ "reason": reason });
    SPEC.assert_valid(
        SPEC.request("post", &format!("/v1/approvals/{{id}}/{decision}")),
        &body,
        "the decision",
    );
    let request = client()
        .post(format!("{}/v1/approvals/{id}/{decision}", lab.url()))
        .bearer_auth(lab.token_for(name).unwrap())
        .header(CONTENT_TYPE, "application/json")
        .header(IDEMPOTENCY_KEY, key)
        .body(body.to_string());
    send(request).await
}

/// A decision's 200 answer, checked against the spec.
async fn decided(response: reqwest::Response, decision: &str) -> (ApprovalRequest, Vec<u8>) {
    assert_eq!(response.status(), StatusCode::OK, "{decision}");
    let bytes = response.bytes().await.unwrap().to_vec();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let spec_path = format!("/v1/approvals/{{id}}/{decision}");
    SPEC.assert_valid(
        SPEC.response("post", &spec_path, 200, "application/json"),
        &body,
        decision,
    );
    (serde_json::from_value(body).unwrap(), bytes)
}

async fn entries_with_key(lab: &LabServer, key: &str) -> Vec<AuditEntry> {
    let page: AuditPage = get_json_as(
        lab,
        &format!("/v1/audit?idempotency_key={key}"),
        "/v1/audit",
        lab.token_for("victor").unwrap(),
    )
    .await;
    page.entries
}

#[tokio::test]
async fn a_held_drain_runs_once_when_another_operator_approves_and_the_audit_names_both() {
    let lab = lab_with_policy(SPEED, 600).await;
    let mut events = open_events(&lab, lab.token_for("victor").unwrap(), None).await;
    let (request, key) = held_drain(&lab).await;
    let listed: ApprovalList = get_json(&lab, "/v1/approvals", lab.token_for("bob").unwrap()).await;
    assert_eq!(listed.requests, std::slice::from_ref(&request));
    // Nobody approves their own request; a viewer approves nothing.
    let own = decide(&lab, "alice", &request.id, "approve", &fresh_key(), "fine").await;
    let (problem, _) = expect_problem(own, StatusCode::FORBIDDEN).await;
    let detail = problem.detail.unwrap_or_default();
    assert!(detail.contains("another operator"), "{detail}");
    let viewer = decide(&lab, "victor", &request.id, "approve", &fresh_key(), "fine").await;
    expect_problem(viewer, StatusCode::FORBIDDEN).await;

    let approval_key = fresh_key();
    let response = decide(
        &lab,
        "bob",
        &request.id,
        "approve",
        &approval_key,
        "ap-south idle",
    )
    .await;
    let (approved, first_bytes) = decided(response, "approve").await;
    assert_eq!(approved.state, ApprovalState::Approved);
    let decision = approved.decision.clone().unwrap();
    assert_eq!(
        (decision.by.as_str(), decision.reason.as_str()),
        ("bob", "ap-south idle")
    );
    assert!(region(&lab, "ap-south").await.drain.is_some(), "drained");

    // The same approval again answers the same, and drains nothing twice.
    let again = decide(
        &lab,
        "bob",
        &request.id,
        "approve",
        &approval_key,
        "ap-south idle",
    )
    .await;
    assert_eq!(again.headers()[IDEMPOTENT_REPLAYED], "true");
    let (_, replayed_bytes) = decided(again, "approve").await;
    assert_eq!(replayed_bytes, first_bytes);

    // The command's own key: held by alice, then carried out as alice, approved by bob.
    let entries = entries_with_key(&lab, &key).await;
    let outcomes: Vec<(AuditOutcome, &str)> = entries
        .iter()
        .map(|e| (e.outcome, e.actor.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (AuditOutcome::Accepted, "alice"),
            (AuditOutcome::Held, "alice")
        ]
    );
    let carried = &entries[0];
    assert_eq!(carried.id, decision.audit_id.unwrap());
    assert!(
        carried
            .detail
            .as_deref()
            .unwrap()
            .starts_with("approved by bob: ap-south idle"),
        "{carried:?}"
    );
    let approvals = entries_with_key(&lab, &approval_key).await;
    assert_eq!(approvals.len(), 1);
    assert_eq!(
        (approvals[0].actor.as_str(), approvals[0].action.as_str()),
        ("bob", "approval approve")
    );

    // Each change was an `approval` event that keeps to the spec.
    let mut states = Vec::new();
    while states.len() < 2 {
        let event = next_event(&mut events).await;
        if event.event == protocol::approvals::EVENT_APPROVAL {
            let seen: ApprovalRequest = event_data(&event, "ApprovalRequest");
            states.push(seen.state);
        }
    }
    assert_eq!(states, [ApprovalState::Pending, ApprovalState::Approved]);
    lab.shutdown().await;
}

#[tokio::test]
async fn two_approvers_racing_carry_the_command_out_once() {
    let lab = lab_with_policy(SPEED, 600).await;
    let (request, key) = held_drain(&lab).await;
    let (bob_key, carol_key) = (fresh_key(), fresh_key());
    let (first, second) = tokio::join!(
        decide(&lab, "bob", &request.id, "approve", &bob_key, "go"),
        decide(&lab, "carol", &request.id, "approve", &carol_key, "go")
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let carried = entries_with_key(&lab, &key)
        .await
        .into_iter()
        .filter(|e| e.outcome == AuditOutcome::Accepted)
        .count();
    assert_eq!(carried, 1, "carried out once");
    lab.shutdown().await;
}

#[tokio::test]
async fn a_denied_or_withdrawn_request_is_never_carried_out() {
    let lab = lab_with_policy(SPEED, 600).await;
    let (request, _) = held_drain(&lab).await;
    let own = decide(&lab, "alice", &request.id, "deny", &fresh_key(), "no").await;
    expect_problem(own, StatusCode::FORBIDDEN).await;
    let response = decide(
        &lab,
        "bob",
        &request.id,
        "deny",
        &fresh_key(),
        "ap-south is fine",
    )
    .await;
    let (denied, _) = decided(response, "deny").await;
    assert_eq!(denied.state, ApprovalState::Denied);
    let late = decide(
        &lab,
        "bob",
        &request.id,
        "approve",
        &fresh_key(),
        "changed my mind",
    )
    .await;
    let (problem, _) = expect_problem(late, StatusCode::CONFLICT).await;
    assert_eq!(
        problem.detail,
        Some(format!("{} is denied by bob", request.id))
    );

    let (request, _) = held_drain(&lab).await;
    let other = decide(
        &lab,
        "bob",
        &request.id,
        "withdraw",
        &fresh_key(),
        "not mine",
    )
    .await;
    expect_problem(other, StatusCode::FORBIDDEN).await;
    let response = decide(&lab, "alice", &request.id, "withdraw", &fresh_key(), "over").await;
    assert_eq!(
        decided(response, "withdraw").await.0.state,
        ApprovalState::Withdrawn
    );
    assert!(region(&lab, "ap-south").await.drain.is_none());
    lab.shutdown().await;
}

#[tokio::test]
async fn a_target_changed_before_approval_fails_the_request_with_409() {
    let lab = lab_with_policy(SPEED, 600).await;
    let force_open = breaker("openai@eu-west", BreakerAction::ForceOpen, None);
    let revision = force_open.control_revision(&fleet(&lab).await).unwrap();
    let response = send_command(
        &lab,
        "alice",
        &force_open,
        Some(&fresh_key()),
        Some(revision),
    )
    .await;
    let (answer, _) = accepted(response, &force_open, StatusCode::ACCEPTED).await;
    let request = *answer.pending_approval.expect("held for approval");
    // Meanwhile bob pins the same breaker (a pin is not held): its revision moves on.
    run(
        &lab,
        "bob",
        &breaker("openai@eu-west", BreakerAction::Pin, None),
    )
    .await;
    let response = decide(&lab, "bob", &request.id, "approve", &fresh_key(), "go").await;
    let (problem, _) = expect_problem(response, StatusCode::CONFLICT).await;
    let detail = problem.detail.unwrap_or_default();
    assert!(
        detail.contains("changed since control revision"),
        "{detail}"
    );
    let now: ApprovalRequest = get_json_as(
        &lab,
        &format!("/v1/approvals/{}", request.id),
        "/v1/approvals/{id}",
        lab.token_for("alice").unwrap(),
    )
    .await;
    assert_eq!(now.state, ApprovalState::Failed);
    assert!(now.decision.unwrap().error.unwrap().contains("changed"));
    let provider = fleet(&lab)
        .await
        .providers
        .into_iter()
        .find(|p| p.id == "openai@eu-west")
        .unwrap();
    assert!(provider.quarantine.is_none(), "not forced open");
    lab.shutdown().await;
}

#[tokio::test]
async fn a_request_nobody_decides_expires_and_is_audited() {
    // 30 simulated seconds at 100x: a third of a second.
    let lab = lab_with_policy(100.0, 30).await;
    let (request, _) = held_drain(&lab).await;
    let path = format!("/v1/approvals/{}", request.id);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now: ApprovalRequest = get_json_as(
            &lab,
            &path,
            "/v1/approvals/{id}",
            lab.token_for("bob").unwrap(),
        )
        .await;
        if now.state == ApprovalState::Expired {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "expired in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let late = decide(&lab, "bob", &request.id, "approve", &fresh_key(), "sorry").await;
    expect_problem(late, StatusCode::CONFLICT).await;
    let page: AuditPage = get_json_as(
        &lab,
        "/v1/audit?limit=20",
        "/v1/audit",
        lab.token_for("victor").unwrap(),
    )
    .await;
    assert!(
        page.entries
            .iter()
            .any(|e| e.action == "approval expire" && e.actor == "system"),
        "{:?}",
        page.entries
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn a_command_forced_past_its_preflight_waits_whatever_its_verb() {
    let lab = lab_with_policy(SPEED, 600).await;
    let command = degrade("risk-scorer", DegradedModeKind::ServeCache, true, None);
    let revision = command.control_revision(&fleet(&lab).await).unwrap();
    let mut body = command.body("cache while openai is out");
    body["preflight"] = json!({
        "verdict": "block",
        "findings": ["risk-scorer would serve stale answers to P1 traffic"],
        "forced": true
    });
    let response = post(
        &lab,
        "bob",
        &command,
        &body,
        Some(&fresh_key()),
        Some(revision),
    )
    .await;
    let (answer, _) = accepted(response, &command, StatusCode::ACCEPTED).await;
    let request = answer.pending_approval.expect("held for approval");
    assert_eq!(request.why_approval, "it overrides a blocking preflight");
    assert!(request.preflight.as_ref().unwrap().forced);
    // The same command, not forced, is not one the policy names: it runs at once.
    let revision = command.control_revision(&fleet(&lab).await).unwrap();
    let plain = send_command(&lab, "bob", &command, Some(&fresh_key()), Some(revision)).await;
    let (ran, _) = accepted(plain, &command, StatusCode::OK).await;
    assert!(ran.pending_approval.is_none());
    lab.shutdown().await;
}

#[tokio::test]
async fn a_command_its_sender_asks_to_hold_waits_in_a_lab_without_a_policy() {
    let lab = start_lab(SPEED, None).await;
    let command = drain_ap_south();
    let revision = command.control_revision(&fleet(&lab).await).unwrap();
    let mut body = command.body("ap-south maintenance");
    body["preflight"] = json!({
        "verdict": "ok",
        "needs_approval": "every drain needs a second approver"
    });
    SPEC.assert_valid(
        SPEC.request("post", spec_path(&command)),
        &body,
        "the request",
    );
    let key = fresh_key();
    let response = post(&lab, "alice", &command, &body, Some(&key), Some(revision)).await;
    let (answer, _) = accepted(response, &command, StatusCode::ACCEPTED).await;
    let request = answer.pending_approval.expect("held for approval");
    assert_eq!(request.why_approval, "every drain needs a second approver");
    assert_eq!(
        request.expires_at - request.requested_at,
        chrono::Duration::seconds(protocol::approvals::DEFAULT_EXPIRES_AFTER_S as i64)
    );
    assert!(region(&lab, "ap-south").await.drain.is_none(), "held");
    let held = entries_with_key(&lab, &key).await;
    assert_eq!(held[0].outcome, AuditOutcome::Held);
    // Approved by another operator, it runs as one the lab's own policy held.
    let response = decide(&lab, "bob", &request.id, "approve", &fresh_key(), "ok").await;
    assert_eq!(
        decided(response, "approve").await.0.state,
        ApprovalState::Approved
    );
    assert!(region(&lab, "ap-south").await.drain.is_some(), "drained");

    // The sender's why is text for other people's screens: one printable line.
    let command = undrain("ap-south");
    let revision = command.control_revision(&fleet(&lab).await).unwrap();
    let mut body = command.body("back");
    body["preflight"] = json!({"verdict": "ok", "needs_approval": "line\nbreak"});
    let response = post(
        &lab,
        "alice",
        &command,
        &body,
        Some(&fresh_key()),
        Some(revision),
    )
    .await;
    let (problem, _) = expect_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(
        problem
            .detail
            .unwrap_or_default()
            .contains("needs_approval"),
        "names the field"
    );

    // The sender's policy may let a request wait less than the lab would: the shorter holds;
    // an expiry beyond a week is refused.
    for (expiry, status) in [
        (120, StatusCode::ACCEPTED),
        (8 * 86_400, StatusCode::BAD_REQUEST),
    ] {
        let revision = command.control_revision(&fleet(&lab).await).unwrap();
        body["preflight"] = json!({
            "verdict": "ok",
            "needs_approval": "every undrain needs a second approver",
            "approval_expires_after_s": expiry
        });
        let response = post(
            &lab,
            "alice",
            &command,
            &body,
            Some(&fresh_key()),
            Some(revision),
        )
        .await;
        if status == StatusCode::BAD_REQUEST {
            let (problem, _) = expect_problem(response, status).await;
            assert!(
                problem
                    .detail
                    .unwrap_or_default()
                    .contains("approval_expires_after_s")
            );
            continue;
        }
        let (answer, _) = accepted(response, &command, status).await;
        let request = answer.pending_approval.expect("held for approval");
        assert_eq!(
            request.expires_at - request.requested_at,
            chrono::Duration::seconds(120),
            "the sender's shorter expiry"
        );
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn a_held_command_that_could_not_run_is_refused_at_once_not_at_its_approval() {
    let lab = lab_with_policy(SPEED, 600).await;
    // The policy holds every force-open; the simulation refuses one for longer than a week.
    let week_and_a_day = 8 * 86_400;
    let command = breaker(
        "openai@eu-west",
        BreakerAction::ForceOpen,
        Some(week_and_a_day),
    );
    let revision = command.control_revision(&fleet(&lab).await).unwrap();
    let key = fresh_key();
    // (Past what the spec allows too: sent as is, to see the lab judge it.)
    let body = command.body("drill");
    let response = post(&lab, "alice", &command, &body, Some(&key), Some(revision)).await;
    let (problem, _) = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        problem.detail.unwrap_or_default().contains("expires_in_s"),
        "the simulation's own reason"
    );
    // A stale If-Match is refused before anything is held, too.
    let drain = drain_ap_south();
    let current = drain.control_revision(&fleet(&lab).await).unwrap();
    let stale = send_command(&lab, "alice", &drain, Some(&fresh_key()), Some(current + 1)).await;
    expect_problem(stale, StatusCode::CONFLICT).await;
    let listed: ApprovalList = get_json(&lab, "/v1/approvals", lab.token_for("bob").unwrap()).await;
    assert!(listed.requests.is_empty(), "nothing held: {listed:?}");
    let entries = entries_with_key(&lab, &key).await;
    assert_eq!(
        entries.iter().map(|e| e.outcome).collect::<Vec<_>>(),
        [AuditOutcome::Rejected]
    );
    lab.shutdown().await;
}
