//! HTTP client of protocol v1: snapshot, identity, roster, the live event stream, commands,
//! operations and the audit log.

use std::fmt;
use std::time::Duration;

use futures::{Stream, TryStreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

use super::error::{ClientError, bounded, root_cause};
use super::sse::{StreamEvent, parse_events};
use crate::domain::command::Command;
use protocol::commands::{AuditPage, CommandAccepted, IDEMPOTENCY_KEY, IF_MATCH, Operation};
use protocol::endpoints::{self, Endpoint};
use protocol::escalations::{
    ClaimRequest, Escalation, EscalationPage, EscalationState, EscalationSummary, ReleaseRequest,
    ResolveOutcome, ResolveRequest,
};
use protocol::{FleetSnapshot, Operator, PROBLEM_JSON, Problem, WhoAmI};

/// Largest JSON answer accepted, so a broken server cannot exhaust memory.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Largest error body read for its problem document.
const MAX_PROBLEM_BYTES: usize = 64 * 1024;

/// Filters of `GET /v1/escalations`; `None` and empty leave a filter out.
#[derive(Clone, Copy, Debug, Default)]
pub struct EscalationQuery<'a> {
    pub states: &'a [EscalationState],
    /// Comma-separated priorities, e.g. `p1,p2`.
    pub priority: Option<&'a str>,
    pub service: Option<&'a str>,
    /// An operator, or `none` for unassigned.
    pub assignee: Option<&'a str>,
    pub limit: Option<u32>,
    pub cursor: Option<&'a str>,
}

/// How long each stage of a request may take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection.
    pub connect: Duration,
    /// A whole request/response exchange; for the event stream, until the headers arrive.
    pub request: Duration,
    /// The event stream receiving no byte at all, keep-alive comments included.
    pub stream_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(3),
            request: Duration::from_secs(10),
            stream_idle: Duration::from_secs(30),
        }
    }
}

/// A client of one protocol-v1 source. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
    timeouts: Timeouts,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl Client {
    pub fn new(base_url: &str, token: Option<String>) -> Result<Self, ClientError> {
        Self::with_timeouts(base_url, token, Timeouts::default())
    }

    pub fn with_timeouts(
        base_url: &str,
        token: Option<String>,
        timeouts: Timeouts,
    ) -> Result<Self, ClientError> {
        let invalid = |url: &str, reason: &str| ClientError::InvalidUrl {
            url: bounded(url),
            reason: reason.to_string(),
        };
        let mut base = Url::parse(base_url).map_err(|e| invalid(base_url, &e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(base_url, "the scheme must be http or https"));
        }
        let Some(host) = base.host_str() else {
            return Err(invalid(base_url, "no host"));
        };
        if !base.username().is_empty() || base.password().is_some() {
            // Credentials in a URL end up in logs and messages: tokens belong in the keyring.
            let shown = format!("{}://{host}", base.scheme());
            return Err(invalid(
                &shown,
                "credentials in the URL are not accepted; use a token",
            ));
        }
        let loopback = is_loopback(host);
        // Paths are joined relative to the base, which must end with '/' to keep its last segment.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut builder = reqwest::Client::builder().connect_timeout(timeouts.connect);
        if loopback {
            // A system-wide HTTP_PROXY must not carry traffic meant for this machine elsewhere.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| ClientError::Unreachable {
            url: bounded(base_url),
            reason: format!("cannot set up HTTP client: {}", root_cause(&e)),
        })?;
        Ok(Client {
            http,
            base,
            token,
            timeouts,
        })
    }

    /// The base URL as shown in messages, without a trailing '/'.
    pub fn url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// `GET /v1/fleet`
    pub async fn fleet(&self) -> Result<FleetSnapshot, ClientError> {
        self.get_json(endpoints::FLEET, "fleet snapshot").await
    }

    /// `GET /v1/whoami`
    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.get_json(endpoints::WHOAMI, "identity").await
    }

    /// `GET /v1/operators`
    pub async fn operators(&self) -> Result<Vec<Operator>, ClientError> {
        self.get_json(endpoints::OPERATORS, "operator roster").await
    }

    /// Sends `command` as `POST` with its reason, `Idempotency-Key` and `If-Match` (the
    /// target's control revision the operator saw). Sending it again with the same key is
    /// safe: the server answers with the first outcome and does not act twice.
    pub async fn command(
        &self,
        command: &Command,
        reason: &str,
        idempotency_key: &str,
        if_match: u64,
    ) -> Result<CommandAccepted, ClientError> {
        let url = self.join(&command.path())?;
        // An entity tag is quoted (RFC 9110); the server takes it bare too.
        let if_match = format!("\"{if_match}\"");
        let headers = [
            (IDEMPOTENCY_KEY, idempotency_key),
            (IF_MATCH, if_match.as_str()),
        ];
        self.post_json(url, &command.body(reason), &headers, "command answer")
            .await
            .map_err(|e| e.for_command(&command.target_label()))
    }

    /// `GET /v1/escalations` with filters and a cursor.
    pub async fn escalations(
        &self,
        query: &EscalationQuery<'_>,
    ) -> Result<EscalationPage, ClientError> {
        let mut url = self.url_of(endpoints::ESCALATIONS, "")?;
        {
            let mut pairs = url.query_pairs_mut();
            if !query.states.is_empty() {
                let states: Vec<&str> = query.states.iter().map(|s| s.word()).collect();
                pairs.append_pair("state", &states.join(","));
            }
            let optional = [
                ("priority", query.priority),
                ("service", query.service),
                ("assignee", query.assignee),
                ("cursor", query.cursor),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    pairs.append_pair(name, value);
                }
            }
            if let Some(limit) = query.limit {
                pairs.append_pair("limit", &limit.to_string());
            }
        }
        self.get_url(url, "escalation list").await
    }

    /// `GET /v1/escalations/{id}`: context, candidates, checkpoint, lineage.
    pub async fn escalation(&self, id: &str) -> Result<Escalation, ClientError> {
        self.get_url(self.url_of(endpoints::ESCALATION, id)?, "escalation")
            .await
    }

    /// `POST /v1/escalations/{id}/claim`: a lease (renewed when we hold it already).
    pub async fn claim(
        &self,
        id: &str,
        lease_s: Option<u64>,
    ) -> Result<EscalationSummary, ClientError> {
        let url = self.url_of(endpoints::CLAIM, id)?;
        let body = serde_json::to_value(ClaimRequest { lease_s })
            .map_err(|e| ClientError::malformed("claim", e))?;
        self.post_json(url, &body, &[], "claim answer")
            .await
            .map_err(|e| e.for_escalation(id))
    }

    /// `POST /v1/escalations/{id}/release`
    pub async fn release(
        &self,
        id: &str,
        note: Option<&str>,
    ) -> Result<EscalationSummary, ClientError> {
        let url = self.url_of(endpoints::RELEASE, id)?;
        let body = serde_json::to_value(ReleaseRequest {
            note: note.map(str::to_string),
        })
        .map_err(|e| ClientError::malformed("release", e))?;
        self.post_json(url, &body, &[], "release answer")
            .await
            .map_err(|e| e.for_escalation(id))
    }

    /// `POST /v1/escalations/{id}/resolve` with `Idempotency-Key`: the same key again gets
    /// the first answer, never a second resolution.
    pub async fn resolve(
        &self,
        id: &str,
        request: &ResolveRequest,
        idempotency_key: &str,
    ) -> Result<ResolveOutcome, ClientError> {
        let url = self.url_of(endpoints::RESOLVE, id)?;
        let body =
            serde_json::to_value(request).map_err(|e| ClientError::malformed("resolution", e))?;
        self.post_json(
            url,
            &body,
            &[(IDEMPOTENCY_KEY, idempotency_key)],
            "resolve answer",
        )
        .await
        .map_err(|e| e.for_escalation(id))
    }

    /// A JSON `POST` with extra headers, its answer parsed as `T`.
    async fn post_json<T: DeserializeOwned>(
        &self,
        url: Url,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
        what: &str,
    ) -> Result<T, ClientError> {
        let mut request = self
            .authorized(self.http.post(url))
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .timeout(self.timeouts.request);
        for (name, value) in headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| ClientError::malformed(name, "it must be visible ASCII"))?;
            request = request.header(*name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ClientError::from_transport(self.url(), &e, self.timeouts.request))?;
        let response = self.check_status(response).await?;
        let body = self.read_body(response, MAX_BODY_BYTES, what).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::malformed(what, e))
    }

    /// `GET /v1/audit`, newest first: at most `limit` entries older than `before`, only those
    /// sent with `idempotency_key` when given.
    pub async fn audit(
        &self,
        limit: Option<u32>,
        before: Option<u64>,
        idempotency_key: Option<&str>,
    ) -> Result<AuditPage, ClientError> {
        let mut url = self.url_of(endpoints::AUDIT, "")?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(limit) = limit {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(before) = before {
                query.append_pair("before", &before.to_string());
            }
            if let Some(key) = idempotency_key {
                query.append_pair("idempotency_key", key);
            }
        }
        self.get_url(url, "audit log").await
    }

    /// `GET /v1/operations/{id}`
    pub async fn operation(&self, id: &str) -> Result<Operation, ClientError> {
        let url = self.url_of(endpoints::OPERATION, id)?;
        self.get_url(url, "operation").await
    }

    /// `GET /v1/events`, resuming after `last_event_id` when given. The stream ends after
    /// yielding a transport error, or without error when the server closes it; an event whose
    /// payload does not decode yields a `Malformed` error and the stream goes on.
    pub fn events(
        &self,
        last_event_id: Option<u64>,
    ) -> impl Stream<Item = Result<StreamEvent, ClientError>> + Send + 'static {
        let client = self.clone();
        futures::stream::once(async move { client.open_events(last_event_id).await }).try_flatten()
    }

    async fn open_events(
        self,
        last_event_id: Option<u64>,
    ) -> Result<impl Stream<Item = Result<StreamEvent, ClientError>> + Send + 'static, ClientError>
    {
        let url = self.url_of(endpoints::EVENTS, "")?;
        let mut request = self
            .authorized(self.http.get(url))
            .header(ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        // No overall timeout: the stream is meant to stay open. The headers (and the body of
        // an error answer) must come in time; afterwards the idle timer watches the bytes.
        let opened = async {
            let response = request
                .send()
                .await
                .map_err(|e| ClientError::from_transport(self.url(), &e, self.timeouts.request))?;
            self.check_status(response).await
        };
        let response = tokio::time::timeout(self.timeouts.request, opened)
            .await
            .map_err(|_| ClientError::Timeout {
                url: bounded(self.url()),
                after: self.timeouts.request,
            })??;
        let content_type = header_str(&response, CONTENT_TYPE.as_str());
        if !content_type.starts_with("text/event-stream") {
            return Err(ClientError::malformed(
                "event stream",
                format!("content type is {content_type:?}, not text/event-stream"),
            ));
        }
        let bytes = response.bytes_stream().map_err(|e| root_cause(&e));
        Ok(parse_events(
            bytes,
            self.url().to_string(),
            self.timeouts.stream_idle,
        ))
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        what: &str,
    ) -> Result<T, ClientError> {
        self.get_url(self.url_of(endpoint, "")?, what).await
    }

    async fn get_url<T: DeserializeOwned>(&self, url: Url, what: &str) -> Result<T, ClientError> {
        let request = self
            .authorized(self.http.get(url))
            .header(ACCEPT, "application/json")
            .timeout(self.timeouts.request);
        let response = request
            .send()
            .await
            .map_err(|e| ClientError::from_transport(self.url(), &e, self.timeouts.request))?;
        let response = self.check_status(response).await?;
        let body = self.read_body(response, MAX_BODY_BYTES, what).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::malformed(what, e))
    }

    /// The URL of `endpoint` for object `id` (ignored by endpoints without one).
    fn url_of(&self, endpoint: Endpoint, id: &str) -> Result<Url, ClientError> {
        self.join(&endpoint.path_for(id))
    }

    /// `path` (absolute in protocol v1) below the source's base URL, which may have a prefix.
    fn join(&self, path: &str) -> Result<Url, ClientError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| ClientError::InvalidUrl {
                url: bounded(self.base.as_str()),
                reason: e.to_string(),
            })
    }

    fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Passes successful answers through; turns the others into errors, reading their
    /// problem document when there is one.
    async fn check_status(&self, response: Response) -> Result<Response, ClientError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let content_type = header_str(&response, CONTENT_TYPE.as_str());
        let is_problem =
            content_type.starts_with(PROBLEM_JSON) || content_type.starts_with("application/json");
        // A body that cannot be read or parsed still leaves the status, which says the most.
        let problem = match is_problem {
            true => self
                .read_body(response, MAX_PROBLEM_BYTES, "problem document")
                .await
                .ok()
                .and_then(|body| serde_json::from_slice::<Problem>(&body).ok()),
            false => None,
        };
        Err(ClientError::from_status(status.as_u16(), problem))
    }

    async fn read_body(
        &self,
        mut response: Response,
        limit: usize,
        what: &str,
    ) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ClientError::from_transport(self.url(), &e, self.timeouts.request))?
        {
            if body.len() + chunk.len() > limit {
                return Err(ClientError::malformed(
                    what,
                    format!("larger than {limit} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn header_str<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .unwrap_or("")
}

fn is_loopback(host: &str) -> bool {
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || unbracketed
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
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
        let mut body = json!({"title": status.canonical_reason(), "status": status.as_u16(), "detail": detail});
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
            .command(&drain_of("us-east"), "brownout", "k-1", 3)
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
                    .command(&drain_of(region), "r", "k", 3)
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
            .command(&drain_of("us-east"), "r", "k", 1)
            .await
            .unwrap_err();
        assert!(error.outcome_unknown(), "{error:?}");
        assert_eq!(error.status(), None);
    }
}
