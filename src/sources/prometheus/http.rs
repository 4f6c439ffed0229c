//! One HTTP endpoint of Prometheus or Alertmanager: requests with timeouts, bounded answers,
//! and error answers turned into the system's own words.

use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

use super::error::{PromError, System};
use crate::sources::client::{MAX_BODY_BYTES, Timeouts, http_for, read_bounded};
use crate::sources::error::ClientError;

/// Largest error answer read for its message.
const MAX_ERROR_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub(crate) struct Endpoint {
    pub system: System,
    http: reqwest::Client,
    base: Url,
    timeouts: Timeouts,
    /// Sent as a bearer token with every request; from the keyring, never logged.
    token: Option<String>,
}

/// The token never reaches a log or a panic message.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("system", &self.system)
            .field("url", &self.url())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Endpoint {
    pub fn new(system: System, base_url: &str, timeouts: Timeouts) -> Result<Self, PromError> {
        let (http, base) =
            http_for(base_url, timeouts).map_err(|e| PromError::transport(system, e))?;
        Ok(Endpoint {
            system,
            http,
            base,
            timeouts,
            token: None,
        })
    }

    /// The base URL as shown in messages, without a trailing '/'.
    pub fn url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// A request to the path of `segments` below the base URL (which may carry a prefix);
    /// each segment is percent-encoded, so an id from outside cannot name another path.
    pub fn request(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> RequestBuilder {
        let mut url = self.base.clone();
        // An http(s) base always has path segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = self
            .http
            .request(method, url)
            .timeout(self.timeouts.request);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    /// Sends `request`; a success answer's body is parsed as `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        what: &str,
    ) -> Result<T, PromError> {
        let body = self.send(request, what).await?;
        serde_json::from_slice(&body).map_err(|e| PromError::malformed(self.system, what, e))
    }

    /// Sends `request` and reads a success answer's body.
    pub async fn send(&self, request: RequestBuilder, what: &str) -> Result<Vec<u8>, PromError> {
        let response = request.send().await.map_err(|e| {
            self.transport(ClientError::from_transport(
                self.url(),
                &e,
                self.timeouts.request,
            ))
        })?;
        let status = response.status();
        if status.is_success() {
            return self.read(response, MAX_BODY_BYTES, what).await;
        }
        // An unreadable error body still leaves the status, which says the most.
        let words = self
            .read(response, MAX_ERROR_BYTES, "error answer")
            .await
            .map(|body| error_words(&body))
            .unwrap_or_default();
        let words = match words.is_empty() {
            true => status.canonical_reason().unwrap_or("error").to_string(),
            false => words,
        };
        Err(PromError::refused(self.system, status.as_u16(), &words))
    }

    async fn read(
        &self,
        response: Response,
        limit: usize,
        what: &str,
    ) -> Result<Vec<u8>, PromError> {
        read_bounded(response, limit, what, self.url(), self.timeouts.request)
            .await
            .map_err(|e| self.transport(e))
    }

    fn transport(&self, error: ClientError) -> PromError {
        PromError::transport(self.system, error)
    }
}

/// The words of an error answer: Prometheus's `{"status":"error","errorType":..,"error":..}`,
/// Alertmanager's JSON string or plain text.
fn error_words(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::String(words)) => words,
        Ok(serde_json::Value::Object(object)) => {
            let field = |name: &str| object.get(name).and_then(|v| v.as_str());
            match (field("errorType"), field("error").or(field("message"))) {
                (Some(kind), Some(words)) => format!("{kind}: {words}"),
                (None, Some(words)) => words.to_string(),
                _ => String::new(),
            }
        }
        _ => String::from_utf8_lossy(body).trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_words_of_each_system() {
        let prometheus = br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error"}"#;
        assert_eq!(error_words(prometheus), "bad_data: 1:5: parse error");
        assert_eq!(
            error_words(br#""silence invalid: end time must not be in the past""#),
            "silence invalid: end time must not be in the past"
        );
        assert_eq!(error_words(b"  not found\n"), "not found");
        assert_eq!(error_words(br#"{"other":1}"#), "");
    }
}
