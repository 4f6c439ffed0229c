//! Resolutions: once only, replayed as first answered, refused to whoever does not hold the
//! task, and handed off by its holder.

use super::*;

#[tokio::test]
async fn a_resolution_happens_once_replays_answer_the_same_and_the_loser_learns_who_and_how() {
    let lab = lab(60, 1.0, None).await;
    let task = first_pending(&lab, EscalationReason::LowConfidence).await;
    let id = task.summary.id.clone();
    let candidate = task.candidates[0].id.clone();
    let approve = json!({
        "resolution": {"kind": "approve", "candidate": candidate},
        "note": "income verified with the applicant by phone",
    });
    let key = "resolve-approve-1";

    // Refused before anything happens: a viewer, no key, no note.
    let viewer = resolve(&lab, &id, "victor", Some(key), approve.clone()).await;
    expect_problem(viewer, StatusCode::FORBIDDEN).await;
    let keyless = resolve(&lab, &id, "bob", None, approve.clone()).await;
    let (problem, _) = expect_problem(keyless, StatusCode::BAD_REQUEST).await;
    assert!(problem.detail.unwrap().contains(IDEMPOTENCY_KEY));
    let mut unnoted = approve.clone();
    unnoted["note"] = json!(" ");
    let unnoted = resolve(&lab, &id, "bob", Some("no-note"), unnoted).await;
    let (problem, _) = expect_problem(unnoted, StatusCode::BAD_REQUEST).await;
    assert!(problem.detail.unwrap().contains("note is required"));

    let before = page(&lab, "limit=1").await.revision;
    let mut events = open_events(&lab, token(&lab, "alice"), Some(before.to_string())).await;
    let first = resolve(&lab, &id, "bob", Some(key), approve.clone()).await;
    assert!(first.headers().get(IDEMPOTENT_REPLAYED).is_none());
    let first_body = first.bytes().await.unwrap();
    let outcome: ResolveOutcome = serde_json::from_slice(&first_body).unwrap();
    SPEC.assert_valid(
        SPEC.response(
            "post",
            "/v1/escalations/{id}/resolve",
            200,
            "application/json",
        ),
        &serde_json::from_slice(&first_body).unwrap(),
        "resolve",
    );
    assert_eq!(outcome.escalation.state, EscalationState::Resolved);
    assert_eq!(outcome.applied.by, "bob");
    assert!(
        outcome.consequence.contains("resumes from checkpoint"),
        "{}",
        outcome.consequence
    );

    // The same key and body: the same bytes, flagged as a replay, nothing done twice.
    let replay = resolve(&lab, &id, "bob", Some(key), approve.clone()).await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.headers()[IDEMPOTENT_REPLAYED], "true");
    assert_eq!(replay.bytes().await.unwrap(), first_body);
    let mut other_body = approve.clone();
    other_body["note"] = json!("something else");
    let mismatch = resolve(&lab, &id, "bob", Some(key), other_body).await;
    expect_problem(mismatch, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Alice, too late, with her own key: 409 naming bob and his approval.
    let abort = json!({"resolution": {"kind": "abort"}, "note": "customer withdrew"});
    let late = resolve(&lab, &id, "alice", Some("alice-abort"), abort).await;
    let (problem, _) = expect_problem(late, StatusCode::CONFLICT).await;
    assert_eq!(problem.extensions["resolved_by"], "bob");
    assert_eq!(problem.extensions["resolution"], approve["resolution"]);
    let late_claim = claim(&lab, &id, "alice", None).await;
    let (problem, _) = expect_problem(late_claim, StatusCode::CONFLICT).await;
    assert_eq!(problem.extensions["resolved_by"], "bob");

    // One event, one accepted audit entry for the key.
    let (name, summary) = next_escalation_event(&mut events).await;
    assert_eq!(
        (name.as_str(), summary.id.as_str()),
        (EVENT_RESOLVED, id.as_str())
    );
    let resolution = summary.resolution.unwrap();
    assert_eq!(
        (resolution.by.as_str(), resolution.kind),
        ("bob", ResolutionKind::Approve)
    );
    let audit: AuditPage = get_json_as(
        &lab,
        &format!("/v1/audit?idempotency_key={key}"),
        "/v1/audit",
        token(&lab, "alice"),
    )
    .await;
    // Newest first: the mismatch, the resolution, the viewer's attempt; the replay did nothing.
    let audited: Vec<(&str, AuditOutcome)> = audit
        .entries
        .iter()
        .map(|e| (e.actor.as_str(), e.outcome))
        .collect();
    assert_eq!(
        audited,
        [
            ("bob", AuditOutcome::Rejected),
            ("bob", AuditOutcome::Accepted),
            ("victor", AuditOutcome::Rejected)
        ]
    );
    assert_eq!(audit.entries[1].action, "resolve approve");
    lab.shutdown().await;
}

#[tokio::test]
async fn a_task_claimed_by_someone_else_cannot_be_resolved_but_can_be_handed_off_by_its_holder() {
    let lab = lab(20, 1.0, None).await;
    let id = first_claimed_by(&lab, "bob").await;
    let reject =
        json!({"resolution": {"kind": "reject", "reason": "duplicate"}, "note": "seen it"});
    let (problem, _) = expect_problem(
        resolve(&lab, &id, "alice", Some("alice-1"), reject.clone()).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem.extensions["holder"], "bob");
    let to_victor = json!({"resolution": {"kind": "handoff", "to": "victor"}, "note": "x"});
    expect_problem(
        resolve(&lab, &id, "bob", Some("bob-0"), to_victor).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let handoff = json!({"resolution": {"kind": "handoff", "to": "alice"}, "note": "alice owns this merchant"});
    let outcome: ResolveOutcome = ok_json(
        resolve(&lab, &id, "bob", Some("bob-1"), handoff).await,
        "/v1/escalations/{id}/resolve",
    )
    .await;
    assert_eq!(outcome.escalation.state, EscalationState::Pending);
    assert_eq!(outcome.escalation.assignee.as_deref(), Some("alice"));
    let mine = page(&lab, "assignee=alice").await;
    assert_eq!(
        mine.items.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    let outcome: ResolveOutcome = ok_json(
        resolve(&lab, &id, "alice", Some("alice-2"), reject).await,
        "/v1/escalations/{id}/resolve",
    )
    .await;
    assert_eq!(
        outcome.escalation.resolution.unwrap().kind,
        ResolutionKind::Reject
    );
    lab.shutdown().await;
}
