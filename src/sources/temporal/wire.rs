//! Temporal's HTTP API as JSON: the few shapes the connector reads, payload decoding, and the
//! cleaning of every string that comes from a workflow.
//!
//! Payloads come two ways: as the JSON value itself ("shorthand", what the frontend sends for
//! `json/plain` payloads in memos, inputs, results and query answers) or as
//! `{"metadata": {"encoding": base64}, "data": base64}` (search attributes, other encodings).
//! int64 fields (event ids) arrive as strings, durations as `"0.200s"`.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use protocol::sanitize;

/// gRPC status codes the connector tells apart (`google.rpc.Code`).
pub mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// The body of an error answer (`google.rpc.Status`).
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
pub struct RpcStatus {
    #[serde(default)]
    pub code: i32,
    #[serde(default)]
    pub message: String,
}

/// The value a payload holds.
pub fn payload(value: &Value) -> Result<Value, String> {
    let Some(encoding) = value
        .get("metadata")
        .and_then(|m| m.get("encoding"))
        .and_then(Value::as_str)
    else {
        return Ok(value.clone());
    };
    let decode = |text: &str| {
        STANDARD
            .decode(text)
            .map_err(|e| format!("payload is not base64: {e}"))
    };
    let encoding = String::from_utf8_lossy(&decode(encoding)?).into_owned();
    match encoding.as_str() {
        "binary/null" => Ok(Value::Null),
        "json/plain" => {
            let data = value.get("data").and_then(Value::as_str).unwrap_or("");
            serde_json::from_slice(&decode(data)?)
                .map_err(|e| format!("json/plain payload is not JSON: {e}"))
        }
        other => Err(format!(
            "payload encoding {:?} is not readable (only json/plain)",
            sanitize::truncate(&sanitize::clean(other), 40)
        )),
    }
}

/// The payloads of a `Payloads` field: a list (shorthand) or `{"payloads": [...]}`.
pub fn payloads(value: Option<&Value>) -> Vec<Value> {
    let list = match value {
        Some(Value::Array(list)) => list.as_slice(),
        Some(Value::Object(object)) => object
            .get("payloads")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default(),
        _ => &[],
    };
    list.iter().filter_map(|p| payload(p).ok()).collect()
}

/// Keys whose strings may span lines: outputs, notes and messages keep their newlines.
const MULTILINE_KEYS: [&str; 5] = ["output", "note", "detail", "message", "reason"];

/// Cleans every string of a value from a workflow and drops `null` members, so that it reads
/// as the protocol's types (absent and null mean the same there).
pub fn cleaned(value: Value) -> Value {
    cleaned_under(value, false)
}

fn cleaned_under(value: Value, multiline: bool) -> Value {
    match value {
        Value::String(text) => Value::String(match multiline {
            true => sanitize::clean_multiline(&text).into_owned(),
            false => sanitize::clean(&text).into_owned(),
        }),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| cleaned_under(item, multiline))
                .collect(),
        ),
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let multiline = MULTILINE_KEYS.contains(&k.as_str());
                    (
                        sanitize::clean(&k).into_owned(),
                        cleaned_under(v, multiline),
                    )
                })
                .collect(),
        ),
        other => other,
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub workflow_id: String,
    #[serde(default)]
    pub run_id: String,
}

#[derive(Deserialize, Debug, Clone, Default)]
pub struct Named {
    #[serde(default)]
    pub name: String,
}

#[derive(Deserialize, Debug, Clone, Default)]
pub struct Memo {
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct SearchAttributes {
    #[serde(default)]
    pub indexed_fields: BTreeMap<String, Value>,
}

/// One workflow execution of a list answer (or of a describe answer's `workflowExecutionInfo`).
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionInfo {
    pub execution: Execution,
    #[serde(rename = "type", default)]
    pub workflow_type: Named,
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub memo: Memo,
    #[serde(default)]
    pub search_attributes: SearchAttributes,
}

impl ExecutionInfo {
    /// A search attribute's value, when set and readable.
    pub fn attribute(&self, name: &str) -> Option<Value> {
        let value = payload(self.search_attributes.indexed_fields.get(name)?).ok()?;
        (!value.is_null()).then_some(value)
    }

    /// A memo entry's value, cleaned.
    pub fn memo(&self, key: &str) -> Option<Value> {
        let value = payload(self.memo.fields.get(key)?).ok()?;
        Some(cleaned(value))
    }
}

/// `GET /api/v1/namespaces/{ns}/workflows`
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListPage {
    #[serde(default)]
    pub executions: Vec<ExecutionInfo>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// `GET /api/v1/namespaces/{ns}/workflows/{id}`
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Described {
    pub workflow_execution_info: ExecutionInfo,
}

/// `GET .../workflows/{id}/history`
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    #[serde(default)]
    pub history: History,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
pub struct History {
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One history event: its id, time and type, and its attributes as they came.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(deserialize_with = "int64")]
    pub event_id: u64,
    pub event_time: DateTime<Utc>,
    pub event_type: String,
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

impl Event {
    /// The event's `...EventAttributes` object.
    pub fn attributes(&self) -> &Value {
        self.rest
            .iter()
            .find(|(key, _)| key.ends_with("EventAttributes"))
            .map(|(_, value)| value)
            .unwrap_or(&Value::Null)
    }

    /// The type without its `EVENT_TYPE_` prefix, e.g. `ACTIVITY_TASK_FAILED`.
    pub fn kind(&self) -> &str {
        self.event_type
            .strip_prefix("EVENT_TYPE_")
            .unwrap_or(&self.event_type)
    }
}

/// An int64 as protobuf JSON writes it (a string), or as a number.
fn int64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    number(&Value::deserialize(deserializer)?)
        .ok_or_else(|| serde::de::Error::custom("expected an int64"))
}

/// An int64 field's value (string or number).
pub fn number(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => text.parse().ok(),
        other => other.as_u64(),
    }
}

/// A protobuf duration (`"1.5s"`) in milliseconds.
pub fn duration_ms(value: &Value) -> Option<u64> {
    let seconds: f64 = value.as_str()?.strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

/// A `Failure`, as activities, Updates and Queries report them.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub application_failure_info: Option<ApplicationFailureInfo>,
    #[serde(default)]
    pub timeout_failure_info: Option<Value>,
    #[serde(default)]
    pub cause: Option<Box<Failure>>,
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationFailureInfo {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub non_retryable: bool,
    #[serde(default)]
    pub details: Option<Value>,
}

impl Failure {
    /// The first detail payload of an application failure, cleaned.
    pub fn detail(&self) -> Option<Value> {
        let info = self.application_failure_info.as_ref()?;
        payloads(info.details.as_ref())
            .into_iter()
            .next()
            .map(cleaned)
    }

    /// The application failure type, or "" for other failures.
    pub fn kind(&self) -> &str {
        self.application_failure_info
            .as_ref()
            .map_or("", |info| info.kind.as_str())
    }
}

/// `POST .../workflows/{id}/update/{name}`
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAnswer {
    #[serde(default)]
    pub outcome: Option<UpdateOutcome>,
    #[serde(default)]
    pub stage: String,
}

#[derive(Deserialize, Debug, Default)]
pub struct UpdateOutcome {
    #[serde(default)]
    pub success: Option<Value>,
    #[serde(default)]
    pub failure: Option<Failure>,
}

/// `POST .../workflows/{id}/query/{name}`
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct QueryAnswer {
    #[serde(default)]
    pub query_result: Option<Value>,
    #[serde(default)]
    pub query_rejected: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_read_in_both_forms() {
        let encoded = json!({
            "metadata": {"encoding": STANDARD.encode("json/plain"), "type": STANDARD.encode("Keyword")},
            "data": STANDARD.encode("\"pending\""),
        });
        assert_eq!(payload(&encoded), Ok(json!("pending")));
        assert_eq!(payload(&json!({"a": 1})), Ok(json!({"a": 1})));
        let null = json!({"metadata": {"encoding": STANDARD.encode("binary/null")}});
        assert_eq!(payload(&null), Ok(Value::Null));
        let proto =
            json!({"metadata": {"encoding": STANDARD.encode("binary/protobuf")}, "data": ""});
        assert!(payload(&proto).unwrap_err().contains("binary/protobuf"));
        assert_eq!(
            payloads(Some(&json!({"payloads": [encoded]}))),
            vec![json!("pending")]
        );
        assert_eq!(payloads(Some(&json!([1, 2]))), vec![json!(1), json!(2)]);
    }

    #[test]
    fn strings_from_workflows_are_cleaned_and_nulls_dropped() {
        let dirty = json!({
            "holder": "mallory\u{1b}[2J\nx",
            "output": "line one\nline two\u{1b}]0;title\u{7}",
            "lease": null,
            "list": ["a\u{202e}b"],
        });
        assert_eq!(
            cleaned(dirty),
            json!({"holder": "mallory x", "output": "line one\nline two", "list": ["ab"]})
        );
    }

    #[test]
    fn int64s_and_durations_read_as_numbers() {
        let event: Event = serde_json::from_value(json!({
            "eventId": "42",
            "eventTime": "2026-12-01T16:29:18.146150923Z",
            "eventType": "EVENT_TYPE_TIMER_FIRED",
            "timerFiredEventAttributes": {"timerId": "1", "startedEventId": "20"},
        }))
        .unwrap();
        assert_eq!(event.event_id, 42);
        assert_eq!(event.kind(), "TIMER_FIRED");
        assert_eq!(number(&event.attributes()["startedEventId"]), Some(20));
        assert_eq!(duration_ms(&json!("0.200s")), Some(200));
        assert_eq!(duration_ms(&json!("10s")), Some(10_000));
        assert_eq!(duration_ms(&json!("-1s")), None);
    }
}
