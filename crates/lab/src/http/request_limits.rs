//! Limits on what a request may be, checked before any route so that each refusal is a
//! problem document: a target longer than [`URI_LIMIT`] (`414`), more than [`MAX_HEADERS`]
//! headers or a head larger than [`HEAD_LIMIT`] (`431`), a body larger than any route reads
//! (`413`) or slower than the body deadline (`408`, and the connection is closed).
//!
//! hyper itself refuses what it cannot parse (a malformed request line or header, a head
//! beyond its buffer) before a request exists; those answers carry no body, as
//! docs/openapi.yaml says.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::problem::ApiError;

/// Longest request target (path and query) accepted, in bytes.
pub const URI_LIMIT: usize = 8 * 1024;
/// Most header lines a request may carry.
pub const MAX_HEADERS: usize = 64;
/// Largest request head (target and headers) accepted, in bytes.
pub const HEAD_LIMIT: usize = 16 * 1024;

/// What the middleware needs to know: the largest body any route reads, and how long a
/// client may take to send one.
#[derive(Clone, Copy)]
pub(crate) struct BodyRules {
    pub(crate) max_bytes: usize,
    pub(crate) timeout: Duration,
}

/// Middleware: refuses requests beyond the limits, and reads the body under its deadline
/// before the route sees it (so that a trickling body holds no handler, and no lock).
pub(crate) async fn within_limits(
    State(rules): State<BodyRules>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(refusal) = check_head(&request, rules.max_bytes) {
        return closing(refusal);
    }
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(rules.timeout, read_body(body, rules.max_bytes)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(refusal)) => return closing(refusal),
        Err(_) => {
            // The rest may still be on its way: closing is the only way to stop reading it.
            return closing(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} ms",
                    rules.timeout.as_millis()
                ),
            ));
        }
    };
    if !bytes.is_empty() && !is_json(&parts.headers) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request bodies are JSON: send Content-Type: application/json",
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

/// The whole body, or a `413` once it is longer than `max_bytes`, or a `400` if it broke off.
async fn read_body(body: Body, max_bytes: usize) -> Result<Vec<u8>, ApiError> {
    let mut chunks = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::bad_request(format!("the body broke off: {error}")))?;
        if bytes.len() + chunk.len() > max_bytes {
            return Err(too_large(max_bytes));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn check_head(request: &Request, max_body: usize) -> Result<(), ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > URI_LIMIT {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the request target is {target} bytes; the lab reads at most {URI_LIMIT}"),
        ));
    }
    let headers = request.headers();
    if headers.len() > MAX_HEADERS {
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "the request has {} headers; the lab reads at most {MAX_HEADERS}",
                headers.len()
            ),
        ));
    }
    // Each line as sent: name, ": ", value, CRLF.
    let head = target
        + headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if head > HEAD_LIMIT {
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request head is {head} bytes; the lab reads at most {HEAD_LIMIT}"),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body as u64) {
        return Err(too_large(max_body));
    }
    Ok(())
}

fn too_large(max_bytes: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than any endpoint reads ({max_bytes} bytes)"),
    )
}

/// A refusal after which the rest of the body is not worth reading: the connection closes.
fn closing(refusal: ApiError) -> Response {
    let mut response = refusal.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
