//! HTTP client of protocol v1: snapshot, identity, roster, the live event stream, commands,
//! operations and the audit log (runbook runs in `runbook_runs.rs`).

use std::fmt;
use std::time::Duration;

use futures::{Stream, TryStreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

use super::error::{ClientError, bounded, root_cause};
use super::sse::{StreamEvent, parse_events};
use crate::domain::command::Command;
use protocol::commands::{
    AuditPage, CommandAccepted, IDEMPOTENCY_KEY, IF_MATCH, Operation, PreflightSeen,
};
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
        let (http, base) = http_for(base_url, timeouts)?;
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

    /// Sends `command` as `POST` with its reason, the preflight the operator saw (when there
    /// was one), `Idempotency-Key` and `If-Match` (the target's control revision the operator saw). Sending it again with the same key is
    /// safe: the server answers with the first outcome and does not act twice.
    pub async fn command(
        &self,
        command: &Command,
        reason: &str,
        preflight: Option<&PreflightSeen>,
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
        let body = command.body_with_preflight(reason, preflight);
        self.post_json(url, &body, &headers, "command answer")
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
    pub(super) async fn post_json<T: DeserializeOwned>(
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

    pub(super) async fn get_url<T: DeserializeOwned>(
        &self,
        url: Url,
        what: &str,
    ) -> Result<T, ClientError> {
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
    pub(super) fn url_of(&self, endpoint: Endpoint, id: &str) -> Result<Url, ClientError> {
        self.join(&endpoint.path_for(id))
    }

    /// `path` (absolute in protocol v1) below the source's base URL, which may have a prefix.
    ///
    /// URL parsers collapse `%2E%2E` like `..`, so the joined URL must still end in `path`
    /// as written: no id may turn a request into one for another endpoint.
    fn join(&self, path: &str) -> Result<Url, ClientError> {
        let invalid = |url: &Url, reason: String| ClientError::InvalidUrl {
            url: bounded(url.as_str()),
            reason,
        };
        let url = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| invalid(&self.base, e.to_string()))?;
        if url.path().ends_with(path) {
            Ok(url)
        } else {
            let reason = format!("{:?} would change which endpoint it names", bounded(path));
            Err(invalid(&url, reason))
        }
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
        response: Response,
        limit: usize,
        what: &str,
    ) -> Result<Vec<u8>, ClientError> {
        read_bounded(response, limit, what, self.url(), self.timeouts.request).await
    }
}

/// The HTTP client and base URL of a source at `base_url`, shared by every kind of source:
/// http(s) only, no credentials in the URL, no proxy for loopback, a base path ending in '/'.
pub(crate) fn http_for(
    base_url: &str,
    timeouts: Timeouts,
) -> Result<(reqwest::Client, Url), ClientError> {
    http_trusting(base_url, timeouts, Vec::new())
}

/// [`http_for`], trusting the CA certificates `roots` beside the system's.
pub(crate) fn http_trusting(
    base_url: &str,
    timeouts: Timeouts,
    roots: Vec<reqwest::Certificate>,
) -> Result<(reqwest::Client, Url), ClientError> {
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
            "credentials in the URL are not accepted; use a token or API key (kept in the keyring)",
        ));
    }
    let loopback = is_loopback(host);
    // Paths are joined relative to the base, which must end with '/' to keep its last segment.
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    let mut builder = reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .tls_certs_merge(roots);
    if loopback {
        // A system-wide HTTP_PROXY must not carry traffic meant for this machine elsewhere.
        builder = builder.no_proxy();
    }
    if !needs_tls_roots(&base) {
        // Reading every root certificate of the system takes tens of milliseconds per
        // client, before the first frame when the source is the embedded lab.
        builder = builder.tls_certs_only([]);
    }
    let http = builder.build().map_err(|e| ClientError::Unreachable {
        url: bounded(base_url),
        reason: format!("cannot set up HTTP client: {}", root_cause(&e)),
    })?;
    Ok((http, base))
}

/// Reads a whole answer, refusing more than `limit` bytes; `url` and `timeout` name a
/// transport failure.
pub(crate) async fn read_bounded(
    mut response: Response,
    limit: usize,
    what: &str,
    url: &str,
    timeout: Duration,
) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ClientError::from_transport(url, &e, timeout))?
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

fn header_str<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .unwrap_or("")
}

/// Whether a client of `base` may verify a server's certificate: all but plain HTTP to this
/// machine (a loopback server that redirects to HTTPS then fails on its certificate).
fn needs_tls_roots(base: &Url) -> bool {
    base.scheme() != "http" || !base.host_str().is_some_and(is_loopback)
}

fn is_loopback(host: &str) -> bool {
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || unbracketed
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
