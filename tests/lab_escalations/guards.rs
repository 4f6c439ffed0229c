//! What the escalation routes refuse, as their spec says: free text that is not printable,
//! and bodies that are not what the schema describes (400 problems, never stored).

use super::*;

/// `POST /v1/escalations/{id}/{action}` as `who` with a raw body, not checked against the
/// spec (these bodies are wrong on purpose).
async fn post_raw(
    lab: &LabServer,
    id: &str,
    action: &str,
    who: &str,
    body: &str,
) -> reqwest::Response {
    let request = client()
        .post(format!("{}/v1/escalations/{id}/{action}", lab.url()))
        .bearer_auth(token(lab, who))
        .header(CONTENT_TYPE, "application/json")
        .header(IDEMPOTENCY_KEY, format!("guard-{}", body.len()))
        .body(body.to_string());
    send(request).await
}

#[tokio::test]
async fn notes_reasons_and_outputs_with_control_characters_are_refused_not_stored() {
    let lab = lab(20, 1.0, None).await;
    let id = first_claimed_by(&lab, "bob").await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("release", json!({"note": "back \u{1b}[2J soon"}), "note"),
        (
            "resolve",
            json!({"resolution": {"kind": "abort"}, "note": "done\u{7}"}),
            "note",
        ),
        (
            "resolve",
            json!({"resolution": {"kind": "reject", "reason": "dup \u{202e}licate"}, "note": "seen"}),
            "reason",
        ),
        (
            "resolve",
            json!({"resolution": {"kind": "submit", "output": "ok\u{1b}]0;owned\u{7}"}, "note": "fixed"}),
            "submitted output",
        ),
    ];
    for (action, body, field) in cases {
        let response = post_raw(&lab, &id, action, "bob", &body.to_string()).await;
        let (problem, _) = expect_problem(response, StatusCode::BAD_REQUEST).await;
        let detail = problem.detail.unwrap();
        assert!(
            detail.contains(field) && detail.contains("printable"),
            "{action} {body}: {detail}"
        );
    }
    let task = detail(&lab, &id).await;
    assert_eq!(
        task.summary.state,
        EscalationState::Claimed,
        "nothing was applied"
    );
    assert!(
        task.history.iter().all(|entry| entry.note.is_none()),
        "{:?}",
        task.history
    );
    // Outputs are multi-line text: newlines are printable there.
    let multiline =
        json!({"resolution": {"kind": "submit", "output": "line one\nline two"}, "note": "fixed"});
    let response = post_raw(&lab, &id, "resolve", "bob", &multiline.to_string()).await;
    assert_eq!(response.status(), StatusCode::OK);
    lab.shutdown().await;
}

#[tokio::test]
async fn bodies_of_the_wrong_shape_or_type_are_400_problems_on_every_route() {
    let lab = lab(20, 1.0, None).await;
    let id = first_claimed_by(&lab, "bob").await;
    let cases = [
        // The spec says integer: null is not "absent".
        ("claim", r#"{"lease_s": null}"#),
        ("claim", r#"{"lease_s": "60"}"#),
        ("claim", r#"{"lease_s": -5}"#),
        ("claim", "[]"),
        ("release", r#"{"note": null}"#),
        ("release", r#"{"note": 5}"#),
        ("release", "not json"),
        (
            "resolve",
            r#"{"resolution": {"kind": "retry", "model": null}, "note": "again"}"#,
        ),
        (
            "resolve",
            r#"{"resolution": {"kind": "submit", "output": "x", "based_on": null}, "note": "n"}"#,
        ),
        ("resolve", r#"{"resolution": {"kind": "abort"}, "note": 7}"#),
    ];
    for (action, body) in cases {
        let response = post_raw(&lab, &id, action, "bob", body).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{action} {body}"
        );
        let (problem, _) = expect_problem(response, StatusCode::BAD_REQUEST).await;
        assert!(problem.detail.unwrap().contains("body"), "{action} {body}");
    }
    assert_eq!(
        detail(&lab, &id).await.summary.state,
        EscalationState::Claimed
    );
    // An empty body is still "no body": the defaults apply.
    let response = post_raw(&lab, &id, "release", "bob", "").await;
    assert_eq!(response.status(), StatusCode::OK);
    lab.shutdown().await;
}
