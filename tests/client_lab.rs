//! The protocol-v1 client, the source worker and `switchboard status`, over real HTTP on
//! 127.0.0.1: first against small scripted servers (error answers, stream edge cases), then
//! against the lab.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use futures::StreamExt;
use lab::{LabOptions, LabServer};
use protocol::{FleetSnapshot, Health, PROBLEM_JSON, Problem, Role, WhoAmI};
use switchboard::cli::status::run_status;
use switchboard::sources::backoff::BackoffPolicy;
use switchboard::sources::{
    Client, ClientError, SourceEvent, SourceMsg, SourceOptions, SourceSpec, StreamEvent, Timeouts,
    spawn_source_with,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Bound of every single wait; generous, only there to turn a hang into a failure.
const WAIT: Duration = Duration::from_secs(10);

fn quick_options() -> SourceOptions {
    SourceOptions {
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(2),
            stream_idle: Duration::from_secs(5),
        },
        backoff: BackoffPolicy {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(400),
            healthy_after: Duration::from_secs(10),
        },
    }
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = serde_json::to_string(&Problem::new(status.as_u16(), title, detail)).unwrap();
    (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response()
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn snapshot(revision: u64) -> FleetSnapshot {
    FleetSnapshot {
        revision,
        ..switchboard::testing::small_fleet()
    }
}

fn delta_event(revision: u64) -> String {
    format!(
        "id: {revision}\nevent: fleet.delta\ndata: {{\"revision\":{revision},\"generated_at\":\"{}\"}}\n\n",
        Utc::now().to_rfc3339()
    )
}

// ---------------------------------------------------------------- client against scripted answers

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

async fn closed_port_url() -> String {
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

fn sse_response(body: String, then_silent: bool) -> Response {
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

// ---------------------------------------------------------------- source worker against a script

/// A protocol-v1 server whose answers are scripted per request: each `GET /v1/fleet` takes
/// the next revision (the last one repeats), each `GET /v1/events` the next SSE body.
#[derive(Clone)]
struct FakeServer {
    token: &'static str,
    fleet_revisions: Arc<Mutex<VecDeque<u64>>>,
    streams: Arc<Mutex<VecDeque<String>>>,
}

impl FakeServer {
    fn new(fleet_revisions: &[u64], streams: &[String]) -> Self {
        FakeServer {
            token: "good-token",
            fleet_revisions: Arc::new(Mutex::new(fleet_revisions.iter().copied().collect())),
            streams: Arc::new(Mutex::new(streams.iter().cloned().collect())),
        }
    }

    async fn start(self) -> String {
        let router = Router::new()
            .route("/v1/whoami", get(fake_whoami))
            .route("/v1/fleet", get(fake_fleet))
            .route("/v1/operators", get(fake_operators))
            .route("/v1/events", get(fake_events))
            .with_state(self);
        serve(router).await
    }

    /// The 401 answer when the request does not carry the expected token.
    fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
        let expected = format!("Bearer {}", self.token);
        match headers.get(header::AUTHORIZATION) {
            Some(value) if value == expected.as_str() => None,
            _ => Some(problem(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "token not recognized",
            )),
        }
    }
}

async fn fake_whoami(State(server): State<FakeServer>, headers: HeaderMap) -> Response {
    if let Some(refused) = server.refusal(&headers) {
        return refused;
    }
    let who = WhoAmI {
        name: "alice".into(),
        role: Role::Operator,
    };
    json(serde_json::to_string(&who).unwrap())
}

async fn fake_fleet(State(server): State<FakeServer>, headers: HeaderMap) -> Response {
    if let Some(refused) = server.refusal(&headers) {
        return refused;
    }
    let mut revisions = server.fleet_revisions.lock().unwrap();
    let revision = if revisions.len() > 1 {
        revisions.pop_front()
    } else {
        revisions.front().copied()
    };
    json(serde_json::to_string(&snapshot(revision.unwrap_or(1))).unwrap())
}

async fn fake_operators(State(server): State<FakeServer>, headers: HeaderMap) -> Response {
    if let Some(refused) = server.refusal(&headers) {
        return refused;
    }
    json("[]".into())
}

async fn fake_events(State(server): State<FakeServer>, headers: HeaderMap) -> Response {
    if let Some(refused) = server.refusal(&headers) {
        return refused;
    }
    // Once the script is used up, the stream stays open and silent, like a quiet fleet.
    match server.streams.lock().unwrap().pop_front() {
        Some(body) => sse_response(body, false),
        None => sse_response(": quiet\n\n".into(), true),
    }
}

struct WorkerUnderTest {
    rx: mpsc::Receiver<SourceMsg>,
    shutdown: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl WorkerUnderTest {
    fn start(url: &str, token: &str) -> Self {
        let (tx, rx) = mpsc::channel(256);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let spec = SourceSpec {
            name: "test".into(),
            url: url.to_string(),
            token: Some(token.into()),
        };
        let handle = spawn_source_with(spec, tx, shutdown_rx, quick_options());
        WorkerUnderTest {
            rx,
            shutdown,
            handle,
        }
    }

    async fn next(&mut self) -> SourceEvent {
        let message = timeout(WAIT, self.rx.recv())
            .await
            .expect("no source message in time");
        let message = message.expect("source worker ended");
        assert_eq!(message.source, "test");
        message.event
    }

    /// Skips messages until one matches, returning it.
    async fn until(&mut self, wanted: impl Fn(&SourceEvent) -> bool) -> SourceEvent {
        loop {
            let event = self.next().await;
            if wanted(&event) {
                return event;
            }
        }
    }

    async fn stop(self) {
        self.shutdown.send(true).unwrap();
        timeout(WAIT, self.handle)
            .await
            .expect("worker did not stop")
            .unwrap();
    }
}

fn revision(event: &SourceEvent) -> Option<u64> {
    match event {
        SourceEvent::Snapshot(snapshot) => Some(snapshot.revision),
        SourceEvent::Delta(delta) => Some(delta.revision),
        _ => None,
    }
}

fn describe(event: &SourceEvent) -> String {
    match event {
        SourceEvent::Connecting { attempt } => format!("connecting {attempt}"),
        SourceEvent::Identity(who) => format!("identity {}", who.name),
        SourceEvent::Snapshot(snapshot) => format!("snapshot {}", snapshot.revision),
        SourceEvent::Delta(delta) => format!("delta {}", delta.revision),
        SourceEvent::Operators(operators) => format!("operators {}", operators.len()),
        SourceEvent::Down { error, .. } => format!("down: {error}"),
        SourceEvent::Audit(entry) => format!("audit {}", entry.id),
        SourceEvent::Escalation(event) => format!("escalation {}", event.summary.id),
    }
}

async fn describe_next(worker: &mut WorkerUnderTest, count: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..count {
        seen.push(describe(&worker.next().await));
    }
    seen
}

#[tokio::test]
async fn worker_reports_identity_snapshot_deltas_and_follows_resnapshots() {
    let stream = format!(
        "{}{}event: resnapshot\ndata: {{\"revision\":20,\"reason\":\"history trimmed\"}}\n\n{}",
        delta_event(11),
        delta_event(10), // a replay: already held, so not reported
        delta_event(21),
    );
    let url = FakeServer::new(&[10, 20], &[stream]).start().await;
    let mut worker = WorkerUnderTest::start(&url, "good-token");
    assert_eq!(
        describe_next(&mut worker, 7).await,
        vec![
            "connecting 1",
            "identity alice",
            "snapshot 10",
            "operators 0",
            "delta 11",
            "snapshot 20",
            "delta 21",
        ]
    );
    worker.stop().await;
}

#[tokio::test]
async fn worker_takes_a_lower_revision_after_the_server_restarted() {
    // The first connection ends (server gone); the next one finds a younger server, whose
    // deltas must not be mistaken for replays of the older one's.
    let url = FakeServer::new(&[100, 3], &[delta_event(101), delta_event(4)])
        .start()
        .await;
    let mut worker = WorkerUnderTest::start(&url, "good-token");
    let closed = format!("down: connection to {url} dropped: the server closed the event stream");
    let expected = [
        "connecting 1",
        "identity alice",
        "snapshot 100",
        "operators 0",
        "delta 101",
        &closed,
        "connecting 2",
        "identity alice",
        "snapshot 3",
        "operators 0",
        "delta 4",
        &closed,
        "connecting 3",
    ];
    assert_eq!(describe_next(&mut worker, expected.len()).await, expected);
    worker.stop().await;
}

#[tokio::test]
async fn worker_reports_a_malformed_delta_and_reconnects() {
    let broken = "event: fleet.delta\ndata: {\"revision\": \"soon\"}\n\n".to_string();
    let url = FakeServer::new(&[5, 6], &[broken, delta_event(7)])
        .start()
        .await;
    let mut worker = WorkerUnderTest::start(&url, "good-token");
    let down = worker
        .until(|e| matches!(e, SourceEvent::Down { .. }))
        .await;
    let SourceEvent::Down { error, .. } = down else {
        unreachable!()
    };
    assert!(
        error.starts_with("malformed fleet.delta event: "),
        "{error}"
    );
    assert_eq!(describe(&worker.next().await), "connecting 2");
    let delta = worker.until(|e| matches!(e, SourceEvent::Delta(_))).await;
    assert_eq!(revision(&delta), Some(7));
    worker.stop().await;
}

#[tokio::test]
async fn worker_with_a_rejected_token_keeps_retrying_at_the_cap() {
    let url = FakeServer::new(&[1], &[]).start().await;
    let mut worker = WorkerUnderTest::start(&url, "wrong-token");
    for attempt in 1..=2 {
        assert_eq!(
            describe(&worker.next().await),
            format!("connecting {attempt}")
        );
        match worker.next().await {
            SourceEvent::Down { error, retry_in } => {
                assert_eq!(error, "401: token not recognized — run `switchboard login`");
                assert_eq!(retry_in, quick_options().backoff.cap);
            }
            other => panic!("expected down, got {}", describe(&other)),
        }
    }
    worker.stop().await;
}

#[tokio::test]
async fn worker_stops_when_its_receiver_is_dropped() {
    let url = closed_port_url().await;
    let worker = WorkerUnderTest::start(&url, "good-token");
    drop(worker.rx);
    timeout(WAIT, worker.handle)
        .await
        .expect("worker did not stop")
        .unwrap();
}

// ---------------------------------------------------------------- against the lab

async fn start_lab(options: LabOptions, listen: SocketAddr) -> LabServer {
    timeout(WAIT, LabServer::start(options, listen))
        .await
        .unwrap()
        .expect("lab starts")
}

fn lab_spec(lab: &LabServer, token: &str) -> SourceSpec {
    SourceSpec {
        name: "lab".into(),
        url: lab.url(),
        token: Some(token.into()),
    }
}

#[tokio::test]
async fn worker_follows_the_lab_with_increasing_revisions() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let token = lab.token_for("alice").unwrap().to_string();
    let mut worker = WorkerUnderTest::start(&lab.url(), &token);
    assert_eq!(describe(&worker.next().await), "connecting 1");
    match worker.next().await {
        SourceEvent::Identity(who) => {
            assert_eq!((who.name.as_str(), who.role), ("alice", Role::Admin))
        }
        other => panic!("expected identity, got {}", describe(&other)),
    }
    let snapshot = worker.next().await;
    let mut last = revision(&snapshot).expect("a snapshot after the identity");
    assert!(
        matches!(worker.next().await, SourceEvent::Operators(operators) if !operators.is_empty())
    );
    for _ in 0..3 {
        let delta = worker
            .until(|e| !matches!(e, SourceEvent::Operators(_)))
            .await;
        let SourceEvent::Delta(delta) = delta else {
            panic!("expected a delta, got {}", describe(&delta));
        };
        assert!(
            delta.revision > last,
            "revision {} after {last}",
            delta.revision
        );
        last = delta.revision;
    }
    worker.stop().await;
    lab.shutdown().await;
}

#[tokio::test]
async fn worker_recovers_by_itself_when_the_lab_comes_back_on_the_same_port() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = lab.addr;
    let token = lab.token_for("bob").unwrap().to_string();
    let mut worker = WorkerUnderTest::start(&lab.url(), &token);
    worker.until(|e| matches!(e, SourceEvent::Delta(_))).await;

    lab.shutdown().await;
    let is_refused = |e: &SourceEvent| matches!(e, SourceEvent::Down { error, .. } if error.starts_with("cannot reach"));
    let SourceEvent::Down { error, .. } = worker.until(is_refused).await else {
        unreachable!()
    };
    assert_eq!(
        error,
        format!("cannot reach http://{addr}: connection refused")
    );
    // Still trying: another attempt, refused again.
    let SourceEvent::Connecting { attempt } = worker
        .until(|e| matches!(e, SourceEvent::Connecting { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(attempt >= 2, "attempt {attempt}");
    worker.until(is_refused).await;

    // Same seed, same tokens: the worker needs no help to get back.
    let lab = start_lab(LabOptions::default(), addr).await;
    worker
        .until(|e| matches!(e, SourceEvent::Snapshot(_)))
        .await;
    worker.until(|e| matches!(e, SourceEvent::Delta(_))).await;
    worker.stop().await;
    lab.shutdown().await;
}

#[tokio::test]
async fn worker_with_a_bad_token_reports_the_401() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let mut worker = WorkerUnderTest::start(&lab.url(), "not-a-lab-token");
    let SourceEvent::Down { error, retry_in } = worker
        .until(|e| matches!(e, SourceEvent::Down { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(error.starts_with("401: "), "{error}");
    assert!(error.ends_with(" — run `switchboard login`"), "{error}");
    assert_eq!(retry_in, quick_options().backoff.cap);
    worker.stop().await;
    lab.shutdown().await;
}

async fn status_of(sources: Vec<SourceSpec>) -> (i32, serde_json::Value) {
    let mut out = Vec::new();
    let code = timeout(WAIT, run_status(sources, true, &mut out))
        .await
        .unwrap()
        .unwrap();
    let json = serde_json::from_slice(&out).expect("status --json prints valid JSON");
    (code, json)
}

#[tokio::test]
async fn status_reports_a_healthy_lab_with_exit_zero() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let spec = lab_spec(&lab, lab.token_for("victor").unwrap());
    let fleet = Client::new(&spec.url, spec.token.clone())
        .unwrap()
        .fleet()
        .await
        .unwrap();
    let (code, json) = status_of(vec![spec.clone()]).await;
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["verdict"], "healthy");
    assert_eq!(
        json["regions"].as_array().unwrap().len(),
        fleet.regions.len()
    );
    assert_eq!(json["summary"]["regions_ok"], fleet.regions.len());

    let mut human = Vec::new();
    let code = timeout(WAIT, run_status(vec![spec], false, &mut human))
        .await
        .unwrap()
        .unwrap();
    let human = String::from_utf8(human).unwrap();
    assert_eq!(code, 0);
    assert!(human.starts_with("fleet healthy: "), "{human}");
    for region in &fleet.regions {
        assert!(human.contains(&format!("● {}", region.id)), "{human}");
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn status_reports_a_region_down_with_exit_two() {
    // At 60x, the scenario's region-down inject (15 s in) lands within a second.
    let options = LabOptions {
        speed: 60.0,
        scenario: Some("region-down".into()),
        ..LabOptions::default()
    };
    let lab = start_lab(options, "127.0.0.1:0".parse().unwrap()).await;
    let spec = lab_spec(&lab, lab.token_for("alice").unwrap());
    let client = Client::new(&spec.url, spec.token.clone()).unwrap();
    let us_east_down = async {
        loop {
            let fleet = client.fleet().await.unwrap();
            if fleet
                .regions
                .iter()
                .any(|r| r.id == "us-east" && r.health == Health::Down)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    timeout(WAIT, us_east_down)
        .await
        .expect("us-east goes down");
    let (code, json) = status_of(vec![spec]).await;
    assert_eq!(code, 2, "{json:#}");
    assert_eq!(json["exit_code"], 2);
    let regions = json["regions"].as_array().unwrap();
    let us_east = regions.iter().find(|r| r["region"] == "us-east").unwrap();
    assert_eq!(us_east["health"], "down");
    lab.shutdown().await;
}

#[tokio::test]
async fn status_counts_an_unreachable_source_as_exit_two() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let reachable = lab_spec(&lab, lab.token_for("alice").unwrap());
    let url = closed_port_url().await;
    let gone = SourceSpec {
        name: "gone".into(),
        url: url.clone(),
        token: None,
    };
    let (code, json) = status_of(vec![reachable, gone]).await;
    assert_eq!(code, 2, "{json:#}");
    assert_eq!(json["summary"]["unreachable_sources"], 1);
    assert_eq!(
        json["unreachable"],
        serde_json::json!([{
            "source": "gone",
            "url": url,
            "error": format!("cannot reach {url}: connection refused"),
        }])
    );
    lab.shutdown().await;
}
