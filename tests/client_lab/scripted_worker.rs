//! The source worker against a scripted protocol-v1 server: identity, snapshot, deltas,
//! resnapshots, restarts, malformed events, rejected tokens.

use super::scripted_client::{closed_port_url, sse_response};
use super::*;

/// A protocol-v1 server whose answers are scripted per request: each `GET /v1/fleet` takes
/// the next revision (the last one repeats), each `GET /v1/events` the next SSE body.
#[derive(Clone)]
struct FakeServer {
    token: &'static str,
    fleet_revisions: Arc<Mutex<VecDeque<u64>>>,
    streams: Arc<Mutex<VecDeque<String>>>,
    /// Every stream sends one byte a second of an event that never ends.
    trickle: bool,
}

impl FakeServer {
    fn new(fleet_revisions: &[u64], streams: &[String]) -> Self {
        FakeServer {
            token: "good-token",
            fleet_revisions: Arc::new(Mutex::new(fleet_revisions.iter().copied().collect())),
            streams: Arc::new(Mutex::new(streams.iter().cloned().collect())),
            trickle: false,
        }
    }

    async fn start(self) -> String {
        let router = Router::new()
            .route("/v1/whoami", get(fake_whoami))
            .route("/v1/fleet", get(fake_fleet))
            .route("/v1/operators", get(fake_operators))
            .route("/v1/approvals", get(fake_approvals))
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

async fn fake_approvals(State(server): State<FakeServer>, headers: HeaderMap) -> Response {
    if let Some(refused) = server.refusal(&headers) {
        return refused;
    }
    json(r#"{"requests": []}"#.into())
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
    if server.trickle {
        return trickling_events();
    }
    // Once the script is used up, the stream stays open and silent, like a quiet fleet.
    match server.streams.lock().unwrap().pop_front() {
        Some(body) => sse_response(body, false),
        None => sse_response(": quiet\n\n".into(), true),
    }
}

pub(crate) struct WorkerUnderTest {
    rx: mpsc::Receiver<SourceMsg>,
    shutdown: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl WorkerUnderTest {
    pub(crate) fn start(url: &str, token: &str) -> Self {
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

    pub(crate) async fn next(&mut self) -> SourceEvent {
        let message = timeout(WAIT, self.rx.recv())
            .await
            .expect("no source message in time");
        let message = message.expect("source worker ended");
        assert_eq!(message.source, "test");
        message.event
    }

    /// Skips messages until one matches, returning it.
    pub(crate) async fn until(&mut self, wanted: impl Fn(&SourceEvent) -> bool) -> SourceEvent {
        loop {
            let event = self.next().await;
            if wanted(&event) {
                return event;
            }
        }
    }

    /// Skips messages until the worker reports the source down, returning its error.
    pub(crate) async fn down_error(&mut self) -> String {
        match self.until(|e| matches!(e, SourceEvent::Down { .. })).await {
            SourceEvent::Down { error, .. } => error,
            _ => unreachable!(),
        }
    }

    pub(crate) async fn stop(self) {
        self.shutdown.send(true).unwrap();
        timeout(WAIT, self.handle)
            .await
            .expect("worker did not stop")
            .unwrap();
    }
}

pub(crate) fn revision(event: &SourceEvent) -> Option<u64> {
    match event {
        SourceEvent::Snapshot(snapshot) => Some(snapshot.revision),
        SourceEvent::Delta(delta) => Some(delta.revision),
        _ => None,
    }
}

pub(crate) fn describe(event: &SourceEvent) -> String {
    match event {
        SourceEvent::Connecting { attempt } => format!("connecting {attempt}"),
        SourceEvent::Identity(who) => format!("identity {}", who.name),
        SourceEvent::Snapshot(snapshot) => format!("snapshot {}", snapshot.revision),
        SourceEvent::Delta(delta) => format!("delta {}", delta.revision),
        SourceEvent::Operators(operators) => format!("operators {}", operators.len()),
        SourceEvent::Down { error, .. } => format!("down: {error}"),
        SourceEvent::Audit(entry) => format!("audit {}", entry.id),
        SourceEvent::Escalation(event) => format!("escalation {}", event.summary.id),
        SourceEvent::RunbookRun(run) => format!("runbook run {} r{}", run.id, run.revision),
        SourceEvent::Listed { rows, .. } => format!("listed {}", rows.len()),
        SourceEvent::Measured(facts) => format!("measured {} regions", facts.regions.len()),
        SourceEvent::MeasuredHistory(history) => format!("history of {}", history.len()),
        SourceEvent::Alerts(alerts) => format!("alerts {:?}", alerts.as_ref().map(Vec::len)),
        SourceEvent::Gateway(read) => format!("gateway {} deployments", read.deployments.len()),
        SourceEvent::Cluster(read) => format!("cluster of {}", read.service),
        SourceEvent::Silences(silences) => {
            format!("silences {:?}", silences.as_ref().map(Vec::len))
        }
        SourceEvent::ReplayRewound => "replay rewound".to_string(),
        SourceEvent::Replayed(frame) => format!("replayed to {}", frame.clock_s),
        SourceEvent::Exercise(read) => match read {
            Ok(Some(state)) => format!("drill {} {}", state.scenario, state.phase.word()),
            Ok(None) => "no drill".to_string(),
            Err(error) => format!("drill not read: {error}"),
        },
        SourceEvent::Approvals(read) => match read {
            Ok(requests) => format!("approvals {}", requests.len()),
            Err(error) => format!("approvals not read: {error}"),
        },
        SourceEvent::Approval(request) => {
            format!("approval {} {}", request.id, request.state.word())
        }
    }
}

pub(crate) async fn describe_next(worker: &mut WorkerUnderTest, count: usize) -> Vec<String> {
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
        describe_next(&mut worker, 8).await,
        vec![
            "connecting 1",
            "identity alice",
            "snapshot 10",
            "operators 0",
            "approvals 0",
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
        "approvals 0",
        "delta 101",
        &closed,
        "connecting 2",
        "identity alice",
        "snapshot 3",
        "operators 0",
        "approvals 0",
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
    let error = worker.down_error().await;
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
            SourceEvent::Down {
                error,
                kind,
                retry_in,
            } => {
                assert_eq!(error, "401: token not recognized — run `switchboard login`");
                assert_eq!(kind, switchboard::domain::fleet::DownKind::Unauthorized);
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

/// An event stream that sends one byte a second of an event that never ends.
fn trickling_events() -> Response {
    let bytes = futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Some((Ok::<_, std::io::Error>("x"), ()))
    });
    let body = Body::from_stream(futures::stream::once(async { Ok("data: ") }).chain(bytes));
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

#[tokio::test]
async fn worker_reconnects_from_a_stream_that_trickles_bytes() {
    let server = FakeServer {
        trickle: true,
        ..FakeServer::new(&[5], &[])
    };
    let url = server.start().await;
    let mut worker = WorkerUnderTest::start(&url, "good-token");
    let error = worker.down_error().await;
    let idle = quick_options().timeouts.stream_idle;
    assert_eq!(
        error,
        format!(
            "event stream from {url} silent for {:.1} s: treated as dropped",
            idle.as_secs_f64()
        )
    );
    assert_eq!(describe(&worker.next().await), "connecting 2");
    worker.stop().await;
}

/// Issue 8 item 19: the worker reports the kind of each failure with its text, so the
/// console can say "login refused" or "malformed answer" rather than "unreachable".
#[tokio::test]
async fn worker_reports_the_kind_of_each_failure() {
    use switchboard::domain::fleet::DownKind;
    let answers = Router::new()
        .route(
            "/forbidden/v1/whoami",
            get(|| async { problem(StatusCode::FORBIDDEN, "Forbidden", "not yours") }),
        )
        .route(
            "/failing/v1/whoami",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response() }),
        )
        .route(
            "/garbled/v1/whoami",
            get(|| async { json("{\"name\": ".into()) }),
        );
    let base = serve(answers).await;
    let refused = FakeServer::new(&[1], &[]).start().await;
    let cases = [
        (format!("{base}/forbidden"), DownKind::Forbidden),
        (
            format!("{base}/failing"),
            DownKind::ServerError { status: 503 },
        ),
        (format!("{base}/garbled"), DownKind::Malformed),
        (refused, DownKind::Unauthorized),
        (closed_port_url().await, DownKind::Unreachable),
    ];
    for (url, expected) in cases {
        let mut worker = WorkerUnderTest::start(&url, "wrong-token");
        let SourceEvent::Down { kind, error, .. } = worker
            .until(|e| matches!(e, SourceEvent::Down { .. }))
            .await
        else {
            unreachable!()
        };
        assert_eq!(kind, expected, "{url}: {error}");
        worker.stop().await;
    }
}
