//! The client against scripted answers: error bodies, closed ports, silence, bad URLs, SSE edge cases.

use super::*;

#[tokio::test]
async fn error_answers_become_specific_errors() {
    let router = Router::new()
        .route(
            "/unauthorized/v1/fleet",
            get(|| async { problem(StatusCode::UNAUTHORIZED, "Unauthorized", "token expired") }),
        )
        .route(
            "/forbidden/v1/fleet",
            get(|| async {
                problem(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "role viewer may not read the fleet",
                )
            }),
        )
        .route(
            "/conflict/v1/fleet",
            get(|| async { problem(StatusCode::CONFLICT, "Conflict", "revision 7 is stale") }),
        )
        .route(
            "/broken/v1/fleet",
            get(|| async { json("{\"revision\": 1,".into()) }),
        )
        .route(
            "/proxy/v1/fleet",
            get(|| async { (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").into_response() }),
        );
    let url = serve(router).await;
    let fleet_error = |path: &'static str| {
        let url = format!("{url}/{path}");
        async move { Client::new(&url, None).unwrap().fleet().await.unwrap_err() }
    };

    let unauthorized = fleet_error("unauthorized").await;
    assert_eq!(
        unauthorized.to_string(),
        "401: token expired — run `switchboard login`"
    );
    let forbidden = fleet_error("forbidden").await;
    assert_eq!(
        forbidden.to_string(),
        "403: role viewer may not read the fleet"
    );
    let conflict = fleet_error("conflict").await;
    assert!(matches!(
        conflict,
        ClientError::Http {
            status: 409,
            problem: Some(_)
        }
    ));
    assert_eq!(conflict.to_string(), "409: Conflict: revision 7 is stale");
    let broken = fleet_error("broken").await;
    assert!(
        broken
            .to_string()
            .starts_with("malformed fleet snapshot: EOF while parsing"),
        "{broken}"
    );
    let proxy = fleet_error("proxy").await;
    assert_eq!(proxy.to_string(), "502 Bad Gateway");
}

#[tokio::test]
async fn a_closed_port_is_reported_as_unreachable() {
    let url = closed_port_url().await;
    let error = Client::new(&url, None).unwrap().whoami().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("cannot reach {url}: connection refused")
    );
}

pub(crate) async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let router = Router::new().route("/v1/fleet", get(futures::future::pending::<&'static str>));
    let url = serve(router).await;
    let timeouts = Timeouts {
        request: Duration::from_millis(300),
        ..Timeouts::default()
    };
    let client = Client::with_timeouts(&url, None, timeouts).unwrap();
    let error = timeout(WAIT, client.fleet()).await.unwrap().unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("no answer from {url} within 0.3 s")
    );
}

#[tokio::test]
async fn bad_urls_are_refused_without_echoing_credentials() {
    let ftp = Client::new("ftp://example.test", None).unwrap_err();
    assert!(matches!(ftp, ClientError::InvalidUrl { .. }), "{ftp}");
    let with_password = Client::new("http://bob:hunter2@127.0.0.1:9", None).unwrap_err();
    assert!(
        !with_password.to_string().contains("hunter2"),
        "{with_password}"
    );
}

#[test]
fn debug_output_never_shows_the_token() {
    let client = Client::new("http://127.0.0.1:9", Some("s3cret-token".into())).unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains("s3cret-token"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

/// An events endpoint that records `Last-Event-ID` and answers with a fixed SSE body, then
/// either closes or stays silent.
#[derive(Clone)]
struct EventsScript {
    body: String,
    then_silent: bool,
    seen_last_event_ids: Arc<Mutex<Vec<Option<String>>>>,
}

async fn scripted_events(State(script): State<EventsScript>, headers: HeaderMap) -> Response {
    let last_event_id = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    script
        .seen_last_event_ids
        .lock()
        .unwrap()
        .push(last_event_id);
    sse_response(script.body, script.then_silent)
}

pub(crate) fn sse_response(body: String, then_silent: bool) -> Response {
    let chunks = futures::stream::iter([Ok::<_, std::io::Error>(body)]);
    let body = if then_silent {
        Body::from_stream(chunks.chain(futures::stream::pending()))
    } else {
        Body::from_stream(chunks)
    };
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

#[tokio::test]
async fn event_stream_sends_last_event_id_and_skips_unknown_events() {
    let script = EventsScript {
        body: format!(
            ": hello\n\nevent: escalation.created\ndata: {{}}\n\n{}{}",
            delta_event(42),
            delta_event(43)
        ),
        then_silent: false,
        seen_last_event_ids: Arc::default(),
    };
    let seen = Arc::clone(&script.seen_last_event_ids);
    let url = serve(
        Router::new()
            .route("/v1/events", get(scripted_events))
            .with_state(script),
    )
    .await;
    let client = Client::new(&url, Some("t".into())).unwrap();
    let events: Vec<_> = timeout(WAIT, client.events(Some(41)).collect())
        .await
        .unwrap();
    let revisions: Vec<u64> = events
        .iter()
        .map(|e| match e {
            Ok(StreamEvent::Delta(delta)) => delta.revision,
            other => panic!("expected deltas only, got {other:?}"),
        })
        .collect();
    assert_eq!(revisions, vec![42, 43]);
    assert_eq!(*seen.lock().unwrap(), vec![Some("41".to_string())]);
}

#[tokio::test]
async fn a_silent_event_stream_is_treated_as_dropped() {
    let script = EventsScript {
        body: delta_event(1),
        then_silent: true,
        seen_last_event_ids: Arc::default(),
    };
    let url = serve(
        Router::new()
            .route("/v1/events", get(scripted_events))
            .with_state(script),
    )
    .await;
    let timeouts = Timeouts {
        stream_idle: Duration::from_millis(300),
        ..Timeouts::default()
    };
    let client = Client::with_timeouts(&url, None, timeouts).unwrap();
    let events: Vec<_> = timeout(WAIT, client.events(None).collect()).await.unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(matches!(events[0], Ok(StreamEvent::Delta(_))));
    assert_eq!(
        events[1].as_ref().unwrap_err().to_string(),
        format!("event stream from {url} silent for 0.3 s: treated as dropped")
    );
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_malformed_not_unreachable() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(b"garbage, not HTTP\r\n\r\n").await;
        }
    });
    let error = Client::new(&url, None).unwrap().fleet().await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("malformed answer from {url}")),
        "{message}"
    );
}
