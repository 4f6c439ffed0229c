//! The one flow of every idempotent POST (the commands and resolutions of escalations): the
//! `Idempotency-Key` is required; the first answer to a key is kept, so that a replay (a
//! retry after a timeout, a double press) gets that answer again, marked
//! `Idempotent-Replayed: true`, and acts only once; the same key for another request is a
//! 422. The keys themselves are kept by [`crate::idempotency::IdempotencyStore`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::problem::ApiError;
use super::state::{LabCore, to_json};
use crate::idempotency::{Fingerprint, Lookup, StoredAnswer};
use protocol::commands::IDEMPOTENCY_KEY;
use protocol::escalations::IDEMPOTENT_REPLAYED;

const KEY_MAX_CHARS: usize = 128;

/// The `Idempotency-Key` header: absent, valid, or a 400.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key)
            if (1..=KEY_MAX_CHARS).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_string()))
        }
        _ => Err(ApiError::bad_request(format!(
            "{IDEMPOTENCY_KEY} must be 1-{KEY_MAX_CHARS} visible ASCII characters"
        ))),
    }
}

/// How the problems about a key name the endpoint and what one key stands for.
#[derive(Clone, Copy)]
pub(super) struct KeyWording {
    /// E.g. `commands need`.
    pub(super) needed_by: &'static str,
    /// E.g. `action`: a fresh key per action.
    pub(super) one_key_per: &'static str,
}

/// One idempotent POST as it arrived.
pub(super) struct IdempotentPost<'a> {
    /// Keys are the caller's own: two callers may use the same key.
    pub(super) caller: &'a str,
    /// The key as [`idempotency_key`] read it.
    pub(super) key: &'a Result<Option<String>, ApiError>,
    /// The endpoint and target, e.g. `drain us-east`: with the body, what a replay repeats.
    pub(super) request: String,
    pub(super) body: &'a [u8],
    pub(super) wording: KeyWording,
}

impl IdempotentPost<'_> {
    /// Answers the request once. A new key runs `act` (given the key), and the answer it
    /// accepts with is remembered; a refusal is not, as it had no effect, so a retry after
    /// fixing the cause is judged again.
    pub(super) fn answer<T: Serialize>(
        self,
        core: &mut LabCore,
        act: impl FnOnce(&mut LabCore, &str) -> Result<(StatusCode, T), ApiError>,
    ) -> Result<Response, ApiError> {
        let KeyWording {
            needed_by,
            one_key_per,
        } = self.wording;
        let key = self.key.clone()?.ok_or_else(|| {
            ApiError::bad_request(format!(
                "{needed_by} an {IDEMPOTENCY_KEY} header: a fresh unique value per {one_key_per}, the same one on a retry"
            ))
        })?;
        let fingerprint = Fingerprint::of(&self.request, self.body);
        match core.idempotency.lookup(self.caller, &key, fingerprint) {
            Lookup::Replay(answer) => return Ok(answer_response(answer, true)),
            Lookup::Mismatch => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "{IDEMPOTENCY_KEY} {key:?} was used for a different request: use a new key for a new {one_key_per}"
                    ),
                ));
            }
            Lookup::New => {}
        }
        let (status, body) = act(core, &key)?;
        let answer = StoredAnswer {
            status: status.as_u16(),
            body: Arc::from(to_json(&body).into_bytes()),
        };
        let response = answer_response(&answer, false);
        core.idempotency
            .remember(self.caller, &key, fingerprint, answer);
        Ok(response)
    }
}

/// A kept answer, exactly as first sent; a replay says so in `Idempotent-Replayed`.
fn answer_response(answer: &StoredAnswer, replayed: bool) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Bytes::copy_from_slice(&answer.body),
    )
        .into_response();
    if replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}
