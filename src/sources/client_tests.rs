//! The client against a small scripted server: what a command sends, how refusals and
//! silence map to errors, how audit and operations are read.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::*;
use protocol::commands::{AuditOutcome, OperationState};

/// What the scripted server saw of the last request.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn problem(status: StatusCode, detail: &str, extra: serde_json::Value) -> Response {
    let mut body =
        json!({"title": status.canonical_reason(), "status": status.as_u16(), "detail": detail});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    (
        status,
        [(header::CONTENT_TYPE, PROBLEM_JSON)],
        body.to_string(),
    )
        .into_response()
}

async fn drain(
    State(seen): State<Seen>,
    Path(region): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string()
    };
    seen.push(format!(
        "{region} key={} if-match={} type={} body={body}",
        header(IDEMPOTENCY_KEY),
        header(IF_MATCH),
        header("content-type")
    ));
    match region.as_str() {
        "stale" => problem(
            StatusCode::CONFLICT,
            "stale changed since control revision 3 (it is at 7 now)",
            json!({"current": {"id": "stale", "control_revision": 7}}),
        ),
        "gone" => problem(
            StatusCode::CONFLICT,
            "changed\u{1b}[2J under you",
            json!({}),
        ),
        "bare" => problem(
            StatusCode::PRECONDITION_REQUIRED,
            "commands need If-Match",
            json!({}),
        ),
        "reused" => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Idempotency-Key \"k\" was used for a different request",
            json!({}),
        ),
        _ => {
            let accepted = json!({"audit_id": 12, "revision": 40, "control_revision": 4,
                "warnings": ["eu-west is over capacity"]});
            (
                [(header::CONTENT_TYPE, "application/json")],
                accepted.to_string(),
            )
                .into_response()
        }
    }
}

async fn audit(State(seen): State<Seen>, RawQuery(query): RawQuery) -> Response {
    seen.push(format!("audit ?{}", query.unwrap_or_default()));
    let page = json!({"entries": [{"id": 5, "at": "2026-11-22T14:03:00Z", "actor": "bob",
        "action": "drain", "target": "us-east", "reason": "r", "idempotency_key": "k-1",
        "outcome": "accepted"}], "next_before": 5});
    (
        [(header::CONTENT_TYPE, "application/json")],
        page.to_string(),
    )
        .into_response()
}

async fn operation(Path(id): Path<String>) -> Response {
    let op = json!({"id": id, "kind": "promote", "target": "s/r", "state": "running",
        "progress": 0.5, "message": "warming up", "started_at": "2026-11-22T14:03:00Z"});
    ([(header::CONTENT_TYPE, "application/json")], op.to_string()).into_response()
}

async fn scripted() -> (Client, Seen) {
    let seen = Seen::default();
    let router = Router::new()
        .route("/v1/regions/{id}/drain", post(drain))
        .route("/v1/audit", get(audit))
        .route("/v1/operations/{id}", get(operation))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (Client::new(&url, Some("t0ken".into())).unwrap(), seen)
}

fn drain_of(region: &str) -> Command {
    Command::Drain {
        region: region.into(),
        expires_in_s: Some(600),
    }
}

#[tokio::test]
async fn a_command_carries_its_key_revision_and_reason() {
    let (client, seen) = scripted().await;
    let accepted = client
        .command(&drain_of("us-east"), "brownout", None, "k-1", 3)
        .await
        .unwrap();
    assert_eq!((accepted.audit_id, accepted.control_revision), (12, 4));
    assert_eq!(accepted.warnings, ["eu-west is over capacity"]);
    assert_eq!(
        seen.lines(),
        [concat!(
            "us-east key=k-1 if-match=\"3\" type=application/json ",
            "body={\"expires_in_s\":600,\"reason\":\"brownout\"}"
        )]
    );
}

#[tokio::test]
async fn command_refusals_map_to_specific_errors() {
    let (client, _) = scripted().await;
    let send = |region: &'static str| {
        let client = client.clone();
        async move {
            client
                .command(&drain_of(region), "r", None, "k", 3)
                .await
                .unwrap_err()
        }
    };
    let stale = send("stale").await;
    assert_eq!(
        stale.to_string(),
        "409: stale changed since you looked (now control revision 7) — review and retry"
    );
    let ClientError::Conflict { current, .. } = &stale else {
        panic!("{stale:?}");
    };
    assert_eq!(current.as_ref().unwrap()["control_revision"], 7);
    assert_eq!(stale.status(), Some(409));
    assert!(!stale.outcome_unknown());
    // Without the current state, the server's words, cleaned.
    assert_eq!(
        send("gone").await.to_string(),
        "409: gone changed since you looked: changed under you — review and retry"
    );
    let bare = send("bare").await;
    assert_eq!(bare.to_string(), "428: commands need If-Match");
    assert!(matches!(bare, ClientError::PreconditionRequired { .. }));
    let reused = send("reused").await;
    assert_eq!(
        reused.to_string(),
        "422: Idempotency-Key \"k\" was used for a different request"
    );
    assert!(matches!(reused, ClientError::Unprocessable { .. }));
}

#[tokio::test]
async fn no_id_sends_a_request_to_another_endpoint() {
    let (client, seen) = scripted().await;
    for id in [".", ".."] {
        let error = client
            .command(&drain_of(id), "r", None, "k", 3)
            .await
            .unwrap_err();
        assert!(matches!(error, ClientError::InvalidUrl { .. }), "{error:?}");
        let error = client.operation(id).await.unwrap_err();
        assert!(matches!(error, ClientError::InvalidUrl { .. }), "{error:?}");
    }
    assert!(seen.lines().is_empty(), "{:?}", seen.lines());
}

#[tokio::test]
async fn audit_and_operations_are_read_with_their_parameters() {
    let (client, seen) = scripted().await;
    let page = client
        .audit(Some(20), Some(99), Some("k 1&x"))
        .await
        .unwrap();
    assert_eq!(page.entries[0].outcome, AuditOutcome::Accepted);
    assert_eq!(page.next_before, Some(5));
    assert_eq!(
        seen.lines(),
        ["audit ?limit=20&before=99&idempotency_key=k+1%26x"]
    );
    let operation = client.operation("op 1/x").await.unwrap();
    assert_eq!(operation.id, "op 1/x", "the id travels as one path segment");
    assert_eq!(operation.state, OperationState::Running);
}

#[tokio::test]
async fn no_answer_leaves_the_outcome_unknown() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = Client::new(&url, None).unwrap();
    let error = client
        .command(&drain_of("us-east"), "r", None, "k", 1)
        .await
        .unwrap_err();
    assert!(error.outcome_unknown(), "{error:?}");
    assert_eq!(error.status(), None);
}

#[test]
fn only_a_client_that_may_meet_tls_reads_the_systems_certificate_roots() {
    let needs = |url: &str| needs_tls_roots(&Url::parse(url).unwrap());
    for plain_to_this_machine in [
        "http://127.0.0.1:7300/",
        "http://localhost:9090/",
        "http://[::1]:8233/",
    ] {
        assert!(!needs(plain_to_this_machine), "{plain_to_this_machine}");
    }
    for may_meet_tls in [
        "https://127.0.0.1:7300/",
        "https://lab.example/",
        "http://prometheus.example:9090/",
        "http://10.0.0.7/",
    ] {
        assert!(needs(may_meet_tls), "{may_meet_tls}");
    }
}
