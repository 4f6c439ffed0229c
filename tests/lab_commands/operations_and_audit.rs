//! Operations followed by SSE until they end, and the audit log read by pages and by key.

use super::*;

#[tokio::test]
async fn a_promotion_reports_progress_by_sse_until_it_succeeds() {
    // A cold start takes 300 sim-seconds: five ticks at this speed.
    let lab = start_lab(240.0, None).await;
    let snapshot = fleet(&lab).await;
    let mut events = open_events(
        &lab,
        lab.token_for("alice").unwrap(),
        Some(snapshot.revision.to_string()),
    )
    .await;
    let command = Command::Promote {
        service: "credit-decision".into(),
        replica: "credit-decision@eu-west".into(),
    };
    let answer = run(&lab, "bob", &command).await;
    let started = answer.operation.unwrap();
    assert_eq!(
        (started.state, started.progress),
        (OperationState::Running, 0.0)
    );
    assert!(started.eta.is_some());
    assert!(
        answer
            .warnings
            .iter()
            .any(|w| w.starts_with("replication lag")),
        "{:?}",
        answer.warnings
    );

    let mut progress = Vec::new();
    let done = wait_for_event(&mut events, "the promotion to succeed", |event| {
        if event.event != event_name::FLEET_DELTA {
            return None;
        }
        let delta: FleetDelta = event_data(event, "FleetDelta");
        let operation = delta.operations.iter().find(|o| o.id == started.id)?;
        progress.push(operation.progress);
        (operation.state != OperationState::Running).then_some(delta)
    })
    .await;
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        progress.iter().any(|p| *p > 0.0 && *p < 1.0),
        "progress in between: {progress:?}"
    );
    let finished = done.operations.iter().find(|o| o.id == started.id).unwrap();
    assert_eq!(
        (finished.state, finished.progress),
        (OperationState::Succeeded, 1.0)
    );
    let credit = done
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    let role = |id: &str| credit.replicas.iter().find(|r| r.id == id).unwrap().role;
    assert_eq!(role("credit-decision@eu-west"), ReplicaRole::Active);
    assert_eq!(role("credit-decision@us-east"), ReplicaRole::HotStandby);

    let path = format!("/v1/operations/{}", started.id);
    let operation: Operation = get_json_as(
        &lab,
        &path,
        "/v1/operations/{id}",
        lab.token_for("victor").unwrap(),
    )
    .await;
    assert_eq!(&operation, finished);
    let missing = get(
        &lab,
        "/v1/operations/op-999",
        lab.token_for("victor"),
        Default::default(),
    )
    .await;
    expect_problem(missing, StatusCode::NOT_FOUND).await;
    let ended = audit_page(&lab, "?limit=1").await.entries.remove(0);
    assert_eq!(
        (ended.actor.as_str(), ended.action.as_str(), ended.outcome),
        ("system", "promote", AuditOutcome::Succeeded)
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn the_audit_log_pages_newest_first_and_filters_by_key() {
    let lab = start_lab(SPEED, None).await;
    let mut keys = Vec::new();
    for i in 0..5 {
        let command = if i % 2 == 0 {
            drain("ap-south", None)
        } else {
            undrain("ap-south")
        };
        let revision = command.control_revision(&fleet(&lab).await).unwrap();
        let key = format!("audit-test-{i}");
        let response = send_command(&lab, "bob", &command, Some(&key), Some(revision)).await;
        accepted(response, &command, StatusCode::OK).await;
        keys.push(key);
    }
    let mut ids = Vec::new();
    let mut query = "?limit=2".to_string();
    loop {
        let page = audit_page(&lab, &query).await;
        assert!(page.entries.len() <= 2);
        ids.extend(page.entries.iter().map(|e| e.id));
        let Some(before) = page.next_before else {
            break;
        };
        query = format!("?limit=2&before={before}");
    }
    assert_eq!(
        ids,
        [5, 4, 3, 2, 1],
        "newest first, nothing lost or repeated"
    );

    let page = audit_page(&lab, &format!("?idempotency_key={}", keys[3])).await;
    assert_eq!(page.entries.len(), 1);
    let entry = &page.entries[0];
    assert_eq!(
        (
            entry.id,
            entry.action.as_str(),
            entry.reason.as_str(),
            entry.idempotency_key.as_deref()
        ),
        (4, "undrain", "drill", Some(keys[3].as_str()))
    );
    let bad = get(
        &lab,
        "/v1/audit?limit=0",
        lab.token_for("victor"),
        Default::default(),
    )
    .await;
    expect_problem(bad, StatusCode::BAD_REQUEST).await;
    lab.shutdown().await;
}

/// Audit events a consumer that falls behind the lab must still get (more than the lab's
/// live buffer of 256 events).
const AUDITED_WHILE_BEHIND: usize = 600;

#[tokio::test]
async fn a_consumer_that_falls_far_behind_gets_every_audit_event_or_a_resnapshot() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let lab = start_lab(SPEED, None).await;
    // A stream read by nobody for a while, through a small receive window. Loopback buffers
    // may absorb it all; the lab's own test (`http::fleet::tests`) overtakes a stream for sure.
    let address: std::net::SocketAddr = lab.url().trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let token = lab.token_for("victor").unwrap();
    let request = format!(
        "GET /v1/events HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Each refusal (a stale If-Match) is audited with its 500-character reason.
    let command = drain("ap-south", Some(600));
    let body = command.body(&"r".repeat(500));
    for _ in 0..AUDITED_WHILE_BEHIND {
        let refused = post(&lab, "bob", &command, &body, Some(&fresh_key()), Some(0)).await;
        assert_eq!(refused.status(), StatusCode::CONFLICT);
    }
    let last_audit_id = audit_page(&lab, "?limit=1").await.entries[0].id;

    // Now read it all: every audit entry arrives, in order, or a resnapshot says to refetch.
    let mut text = String::new();
    let mut buffer = vec![0; 64 * 1024];
    let seen_all = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the stream stays open");
            text.push_str(&String::from_utf8_lossy(&buffer[..read]));
            if text.contains("event: resnapshot")
                || text.contains(&format!("\"id\":{last_audit_id},"))
            {
                return;
            }
        }
    })
    .await;
    let audited = text.matches("event: audit").count();
    assert!(
        seen_all.is_ok(),
        "{audited} of {AUDITED_WHILE_BEHIND} audit events and no resnapshot"
    );
    if !text.contains("event: resnapshot") {
        assert_eq!(audited, AUDITED_WHILE_BEHIND, "none lost, none twice");
    }
    lab.shutdown().await;
}

/// Every command may carry the preflight its sender saw; the lab keeps it in the audit entry
/// (exercise scores count actions sent against the preflight's advice), and a command
/// without one is audited without one.
#[tokio::test]
async fn the_preflight_a_command_carries_lands_in_its_audit_entry() {
    let lab = start_lab(SPEED, None).await;
    let seen = json!({
        "verdict": "warn",
        "findings": ["us-west would run at 130% of capacity"],
        "forced": false
    });
    let commands = [
        drain("ap-south", None),
        undrain("ap-south"),
        breaker("openai@eu-west", BreakerAction::Pin, None),
        degrade("risk-scorer", DegradedModeKind::ServeCache, true, None),
        Command::Weights {
            service: "risk-scorer".into(),
            scope: WeightScope::Regions,
            weights: BTreeMap::from([("us-east".into(), 2.0)]),
        },
        Command::Promote {
            service: "credit-decision".into(),
            replica: "credit-decision@us-west".into(),
        },
    ];
    for command in &commands {
        let mut body = command.body("drill");
        body["preflight"] = seen.clone();
        SPEC.assert_valid(
            SPEC.request("post", spec_path(command)),
            &body,
            "the request",
        );
        let revision = command.control_revision(&fleet(&lab).await).unwrap();
        let key = fresh_key();
        let response = post(&lab, "bob", command, &body, Some(&key), Some(revision)).await;
        assert!(
            response.status().is_success(),
            "{command}: {}",
            response.status()
        );
        let page = audit_page(&lab, &format!("?idempotency_key={key}")).await;
        let entry = &page.entries[0];
        assert_eq!(entry.outcome, AuditOutcome::Accepted, "{command}");
        assert_eq!(
            serde_json::to_value(&entry.preflight).unwrap(),
            seen,
            "{command}"
        );
    }
    let plain = drain("us-east", None);
    run(&lab, "bob", &plain).await;
    let newest = audit_page(&lab, "?limit=1").await.entries.remove(0);
    assert_eq!((newest.action.as_str(), newest.preflight), ("drain", None));
    lab.shutdown().await;
}
