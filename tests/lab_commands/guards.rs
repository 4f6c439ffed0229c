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
        // The spec says `additionalProperties: false`: a misspelt expiry must not make the
        // drain indefinite.
        (
            drain("us-west", None),
            json!({"reason": "drill", "expire_in_s": 60}),
            StatusCode::BAD_REQUEST,
            "unknown field `expire_in_s`",
        ),
        // The spec gives `expires_in_s` a type and no null: null must not mean "no expiry".
        (
            drain("us-west", None),
            json!({"reason": "drill", "expires_in_s": null}),
            StatusCode::BAD_REQUEST,
            "not a valid drain request",
        ),
        (
            drain("us-west", None),
            json!(["drill"]),
            StatusCode::BAD_REQUEST,
            "a JSON object is expected",
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

/// Sends `method path` over a raw connection, so that no URL parser normalises the path, and
/// returns the status line and the head.
async fn raw_request(lab: &LabServer, method: &str, path: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = lab.url().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let body = "{}";
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\n{IDEMPOTENCY_KEY}: {}\r\n{IF_MATCH}: \"1\"\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        fresh_key(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut answer))
        .await
        .expect("answer in time")
        .unwrap();
    answer
}

#[tokio::test]
async fn ids_that_are_dot_segments_or_hold_slashes_never_reach_another_endpoint() {
    let lab = start_lab(SPEED, None).await;
    let before = fleet(&lab).await;
    let token = lab.token_for("alice").unwrap();
    let with_id = protocol::endpoints::ALL
        .into_iter()
        .filter(|endpoint| endpoint.path.contains("{id}"));
    for endpoint in with_id {
        for id in [".", "..", "a/b", "%2e%2e"] {
            let path = endpoint.path_for(id);
            let method = endpoint.method.as_str();
            let answer = raw_request(&lab, method, &path, token).await;
            let status_line = answer.lines().next().unwrap_or_default();
            assert!(
                status_line.contains(" 404 ") || status_line.contains(" 400 "),
                "{method} {path}: {status_line}"
            );
            assert!(
                answer.to_lowercase().contains(PROBLEM_JSON),
                "{method} {path}: {answer}"
            );
            // Through reqwest's URL parser too (which collapses `%2E%2E` like `..`).
            let request = client()
                .request(method.parse().unwrap(), format!("{}{path}", lab.url()))
                .bearer_auth(token)
                .header(CONTENT_TYPE, "application/json")
                .header(IDEMPOTENCY_KEY, fresh_key())
                .header(IF_MATCH, "\"1\"")
                .body("{}");
            let response = send(request).await;
            assert!(
                response.status().is_client_error(),
                "{method} {path}: {}",
                response.status()
            );
            assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_JSON, "{path}");
        }
    }
    let after = fleet(&lab).await;
    for (was, is) in before.regions.iter().zip(&after.regions) {
        assert_eq!(was.control_revision, is.control_revision, "{}", was.id);
    }
    let audited = audit_page(&lab, "").await;
    assert!(
        audited
            .entries
            .iter()
            .all(|entry| entry.outcome != AuditOutcome::Accepted),
        "{:?}",
        audited.entries
    );
    lab.shutdown().await;
}
