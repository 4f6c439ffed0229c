//! HTTP client of protocol v1: snapshot, identity, roster and the live event stream.

use std::fmt;
use std::time::Duration;

use futures::{Stream, TryStreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

use super::error::{ClientError, bounded, root_cause};
use super::sse::{StreamEvent, parse_events};
use crate::api::{FleetSnapshot, Operator, PROBLEM_JSON, Problem, WhoAmI};

/// Largest JSON answer accepted, so a broken server cannot exhaust memory.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Largest error body read for its problem document.
const MAX_PROBLEM_BYTES: usize = 64 * 1024;

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
        self.get_json("v1/fleet", "fleet snapshot").await
    }

    /// `GET /v1/whoami`
    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.get_json("v1/whoami", "identity").await
    }

    /// `GET /v1/operators`
    pub async fn operators(&self) -> Result<Vec<Operator>, ClientError> {
        self.get_json("v1/operators", "operator roster").await
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
        let url = self.endpoint("v1/events")?;
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
        path: &str,
        what: &str,
    ) -> Result<T, ClientError> {
        let url = self.endpoint(path)?;
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

    fn endpoint(&self, path: &str) -> Result<Url, ClientError> {
        self.base.join(path).map_err(|e| ClientError::InvalidUrl {
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
