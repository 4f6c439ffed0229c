//! Request bodies read as the spec describes them, the same way on every route: a body that
//! is not JSON, has a member of the wrong type, an unknown member, or `null` where the spec
//! gives a type, is the caller's mistake (400), named in one bounded, clean line.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::sanitize;

/// Parses `body` as `what` (e.g. "drain request"), or says why it is not one. Every request
/// body of the spec is an object (serde alone would also take an array for a struct).
pub fn parse<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, String> {
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(format!(
            "the body is not a valid {what}: a JSON object is expected"
        ));
    }
    serde_json::from_slice(body).map_err(|error| {
        let error = error.to_string();
        format!(
            "the body is not a valid {what}: {}",
            sanitize::truncate(&sanitize::clean(&error), 200)
        )
    })
}

/// Like [`parse`] for a body the spec makes optional: an empty body is the defaults.
pub fn parse_optional<T: DeserializeOwned + Default>(what: &str, body: &[u8]) -> Result<T, String> {
    if body.trim_ascii().is_empty() {
        return Ok(T::default());
    }
    parse(what, body)
}

/// `deserialize_with` for an optional member: absent is `None` (with `#[serde(default)]`),
/// present must be a value of its type, as the spec has no `null` for it.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}
