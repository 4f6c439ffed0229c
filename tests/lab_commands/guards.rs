//! What keeps a command from acting twice or wrongly: idempotent replays, and the guards
//! (roles, keys, reasons, targets, revisions) that answer with problems, audited.

use super::*;

#[tokio::test]
async fn a_replayed_command_returns_the_first_answer_and_acts_once() {
    let lab = start_lab(SPEED, None).await;
    let command = drain("ap-south", Some(3600));
    let revision = command.control_revision(&fleet(&lab).await).unwrap();
    let key = fresh_key();
    let first = send_command(&lab, "bob", &command, Some(&key), Some(revision)).await;
    assert!(first.headers().get(IDEMPOTENT_REPLAYED).is_none());
    let (answer, first_bytes) = accepted(first, &command, StatusCode::OK).await;
    // A retry (the answer was lost, say): same key, same request, now-stale If-Match.
    let replay = send_command(&lab, "bob", &command, Some(&key), Some(revision)).await;
    assert_eq!(replay.headers()[IDEMPOTENT_REPLAYED], "true");
    let (_, replay_bytes) = accepted(replay, &command, StatusCode::OK).await;
    assert_eq!(first_bytes, replay_bytes, "the exact first answer");

    let snapshot = fleet(&lab).await;
    assert_eq!(
        region(&snapshot, "ap-south").control_revision,
        revision + 1,
        "one effect"
    );
    let audited = audit_page(&lab, &format!("?idempotency_key={key}")).await;
    assert_eq!(audited.entries.len(), 1, "{:?}", audited.entries);
    assert_eq!(audited.entries[0].id, answer.audit_id);

    // The same key for another request is refused, and that is audited.
    let other = post(
        &lab,
        "bob",
        &command,
        &command.body("another reason"),
        Some(&key),
        Some(revision + 1),
    )
    .await;
    let (problem, _) = expect_problem(other, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(problem.detail.unwrap().contains("different request"));
    let audited = audit_page(&lab, &format!("?idempotency_key={key}")).await;
    let outcomes: Vec<AuditOutcome> = audited.entries.iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, [AuditOutcome::Rejected, AuditOutcome::Accepted]);
    // Keys belong to their caller: alice's same key is a new command.
    let alice = send_command(
        &lab,
        "alice",
        &undrain("ap-south"),
        Some(&key),
        Some(revision + 1),
    )
    .await;
    accepted(alice, &undrain("ap-south"), StatusCode::OK).await;
    lab.shutdown().await;
}

#[tokio::test]
async fn guards_answer_with_problems_and_rejections_are_audited() {
    let lab = start_lab(SPEED, None).await;
    let command = drain("us-east", None);
    let revision = command.control_revision(&fleet(&lab).await).unwrap();
    let expect = |response, status| async move { expect_problem(response, status).await.0 };

    let missing_key = send_command(&lab, "bob", &command, None, Some(revision)).await;
    let problem = expect(missing_key, StatusCode::BAD_REQUEST).await;
    assert!(problem.detail.unwrap().contains(IDEMPOTENCY_KEY));

    let missing_revision = send_command(&lab, "bob", &command, Some(&fresh_key()), None).await;
    expect(missing_revision, StatusCode::PRECONDITION_REQUIRED).await;

    // Someone else drained it first: bob's view is stale.
    run(&lab, "alice", &command).await;
    let stale = send_command(&lab, "bob", &command, Some(&fresh_key()), Some(revision)).await;
    let problem = expect(stale, StatusCode::CONFLICT).await;
    let current: Region = serde_json::from_value(problem.extensions["current"].clone()).unwrap();
    assert_eq!(current.drain.as_ref().unwrap().set_by, "alice");
    assert_eq!(current.control_revision, revision + 1);
    assert_eq!(
        problem.extensions["current_control_revision"],
        json!(revision + 1)
    );

    let viewer = send_command(
        &lab,
        "victor",
        &undrain("us-east"),
        Some(&fresh_key()),
        Some(revision + 1),
    )
    .await;
    let problem = expect(viewer, StatusCode::FORBIDDEN).await;
    assert!(problem.detail.unwrap().contains("victor is a viewer"));
    let newest = &audit_page(&lab, "?limit=1").await.entries[0];
    assert_eq!(
        (
            newest.actor.as_str(),
            newest.action.as_str(),
            newest.target.as_str(),
            newest.outcome
        ),
        ("victor", "undrain", "us-east", AuditOutcome::Rejected)
    );

    let cases: Vec<(Command, Value, StatusCode, &str)> = vec![
        (
            drain("mars", None),
            drain("mars", None).body("drill"),
            StatusCode::NOT_FOUND,
            "no region \"mars\"",
        ),
        (
            drain("us-west", None),
            json!({"reason": "  "}),
            StatusCode::BAD_REQUEST,
            "a reason is required",
        ),
        (
            drain("us-west", None),
            json!({"reason": "a\u{1b}[2Jb"}),
            StatusCode::BAD_REQUEST,
            "printable",
        ),
        (
            drain("us-west", None),
            json!({"why": "no reason field"}),
            StatusCode::BAD_REQUEST,
            "not a valid drain request",
        ),
        (
            Command::Promote {
                service: "credit-decision".into(),
                replica: "credit-decision@mars".into(),
            },
            json!({"replica": "credit-decision@mars", "reason": "drill"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "has no replica",
        ),
        (
            Command::Weights {
                service: "risk-scorer".into(),
                scope: WeightScope::Regions,
                weights: BTreeMap::new(),
            },
            json!({"scope": {"kind": "regions"}, "weights": {"us-east": 0.0, "us-west": 0.0, "eu-west": 0.0, "ap-south": 0.0}, "reason": "drill"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "without traffic",
        ),
    ];
    for (command, body, status, detail) in cases {
        let revision = command.control_revision(&fleet(&lab).await).unwrap_or(1);
        let response = post(
            &lab,
            "bob",
            &command,
            &body,
            Some(&fresh_key()),
            Some(revision),
        )
        .await;
        let problem = expect(response, status).await;
        let text = problem.detail.unwrap();
        assert!(text.contains(detail), "{command}: {text}");
        let newest = &audit_page(&lab, "?limit=1").await.entries[0];
        assert_eq!(
            (newest.actor.as_str(), newest.outcome),
            ("bob", AuditOutcome::Rejected),
            "{command}"
        );
        assert_eq!(newest.detail.as_deref(), Some(text.as_str()));
    }

    let anonymous = send(
        client()
            .post(format!("{}/v1/regions/us-east/drain", lab.url()))
            .header(CONTENT_TYPE, "application/json")
            .body(json!({"reason": "x"}).to_string()),
    )
    .await;
    expect(anonymous, StatusCode::UNAUTHORIZED).await;
    lab.shutdown().await;
}
