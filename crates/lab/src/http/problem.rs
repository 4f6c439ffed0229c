//! Every error the lab answers is an RFC 9457 problem document (`application/problem+json`),
//! including axum's own rejections, unknown routes, wrong methods and panics.

use std::panic::AssertUnwindSafe;

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;

use protocol::sanitize;
use protocol::{PROBLEM_JSON, Problem};

/// Longest plain-text error body carried over into a problem's detail.
const DETAIL_LIMIT: usize = 4096;

/// An error answered as a problem document.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// `WWW-Authenticate` challenge of a 401.
    pub challenge: Option<&'static str>,
    /// `Retry-After` (seconds) of a 503.
    pub retry_after_s: Option<u32>,
    /// Extension members of the problem, e.g. `current` on a 409.
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            challenge: None,
            retry_after_s: None,
            extensions: serde_json::Map::new(),
        }
    }

    /// Adds an extension member to the problem document.
    pub fn with_extension(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extensions.insert(name.to_string(), value);
        self
    }

    pub fn unauthorized(detail: impl Into<String>, challenge: &'static str) -> Self {
        ApiError {
            challenge: Some(challenge),
            ..ApiError::new(StatusCode::UNAUTHORIZED, detail)
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    /// `503`: not yet, ask again in `retry_after_s` seconds.
    pub fn unavailable(detail: impl Into<String>, retry_after_s: u32) -> Self {
        ApiError {
            retry_after_s: Some(retry_after_s),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = problem_response(self.status, self.detail, self.extensions);
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn problem_response(
    status: StatusCode,
    detail: String,
    extensions: serde_json::Map<String, serde_json::Value>,
) -> Response {
    let problem = Problem {
        extensions,
        ..Problem::new(
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
            detail,
        )
    };
    let body = serde_json::to_vec(&problem).expect("a problem document serializes");
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

/// Untrusted text made fit for a problem's detail or the audit log: one clean line, bounded.
pub(super) fn plain(text: &str, max_chars: usize) -> String {
    sanitize::truncate(&sanitize::clean(text), max_chars).into_owned()
}

/// Fallback for paths that are not part of the protocol.
pub async fn unknown_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint in protocol v1 (see docs/openapi.yaml)",
    )
}

/// Middleware: answers a panic with a 500 problem, and rewrites any other error response
/// that is not yet a problem document (axum's rejections, 405s) into one, keeping its
/// headers (such as `Allow`) and its text as the detail.
pub async fn problem_json_errors(request: Request, next: Next) -> Response {
    let response = match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!("lab request handler panicked");
            return problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the lab failed to answer this request".to_string(),
                serde_json::Map::new(),
            );
        }
    };
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = to_bytes(body, DETAIL_LIMIT).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text
    };
    let problem = problem_response(status, detail, serde_json::Map::new());
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    Response::from_parts(parts, problem.into_body())
}

#[cfg(test)]
#[path = "problem_tests.rs"]
mod tests;
