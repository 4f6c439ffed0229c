//! The endpoint table of protocol v1: every method and path, written once.
//!
//! The client formats its requests from it and the lab registers its routes from it, so the
//! two cannot drift apart; a test checks the table against `docs/openapi.yaml`.

/// An HTTP method protocol v1 uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One endpoint: a method and a path template whose `{id}` stands for an object's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub method: Method,
    /// The path as routers write it, e.g. `/v1/regions/{id}/drain`.
    pub path: &'static str,
}

impl Endpoint {
    const fn get(path: &'static str) -> Endpoint {
        Endpoint {
            method: Method::Get,
            path,
        }
    }

    const fn post(path: &'static str) -> Endpoint {
        Endpoint {
            method: Method::Post,
            path,
        }
    }

    /// The path for the object `id`, percent-encoded (a path without `{id}` is returned as is).
    ///
    /// No id can change which endpoint the path names: `/` is escaped, and so is every dot of
    /// an id that is `.` or `..`, which path normalisers would otherwise collapse.
    pub fn path_for(&self, id: &str) -> String {
        self.path.replace("{id}", &encode(id))
    }
}

pub const HEALTH: Endpoint = Endpoint::get("/v1/health");
pub const FLEET: Endpoint = Endpoint::get("/v1/fleet");
pub const EVENTS: Endpoint = Endpoint::get("/v1/events");
pub const WHOAMI: Endpoint = Endpoint::get("/v1/whoami");
pub const OPERATORS: Endpoint = Endpoint::get("/v1/operators");
pub const OPERATION: Endpoint = Endpoint::get("/v1/operations/{id}");
pub const AUDIT: Endpoint = Endpoint::get("/v1/audit");

pub const PROMOTE: Endpoint = Endpoint::post("/v1/services/{id}/promote");
pub const DRAIN: Endpoint = Endpoint::post("/v1/regions/{id}/drain");
pub const UNDRAIN: Endpoint = Endpoint::post("/v1/regions/{id}/undrain");
pub const BREAKER: Endpoint = Endpoint::post("/v1/providers/{id}/breaker");
pub const DEGRADE: Endpoint = Endpoint::post("/v1/services/{id}/degraded-modes");
pub const WEIGHTS: Endpoint = Endpoint::post("/v1/services/{id}/weights");
pub const STANDBY: Endpoint = Endpoint::post("/v1/services/{id}/standby");
pub const BORROW: Endpoint = Endpoint::post("/v1/services/{id}/borrow");
pub const RETURN: Endpoint = Endpoint::post("/v1/services/{id}/return");

pub const ESCALATIONS: Endpoint = Endpoint::get("/v1/escalations");
pub const ESCALATION: Endpoint = Endpoint::get("/v1/escalations/{id}");
pub const CLAIM: Endpoint = Endpoint::post("/v1/escalations/{id}/claim");
pub const RELEASE: Endpoint = Endpoint::post("/v1/escalations/{id}/release");
pub const RESOLVE: Endpoint = Endpoint::post("/v1/escalations/{id}/resolve");

pub const RUNBOOK_RUNS: Endpoint = Endpoint::get("/v1/runbook-runs");
pub const START_RUN: Endpoint = Endpoint::post("/v1/runbook-runs");
pub const RUNBOOK_RUN: Endpoint = Endpoint::get("/v1/runbook-runs/{id}");
pub const RUN_STEPS: Endpoint = Endpoint::post("/v1/runbook-runs/{id}/steps");
pub const RUN_PRESENCE: Endpoint = Endpoint::post("/v1/runbook-runs/{id}/presence");
pub const RUN_END: Endpoint = Endpoint::post("/v1/runbook-runs/{id}/end");

pub const APPROVALS: Endpoint = Endpoint::get("/v1/approvals");
pub const APPROVAL: Endpoint = Endpoint::get("/v1/approvals/{id}");
pub const APPROVE: Endpoint = Endpoint::post("/v1/approvals/{id}/approve");
pub const DENY: Endpoint = Endpoint::post("/v1/approvals/{id}/deny");
pub const WITHDRAW: Endpoint = Endpoint::post("/v1/approvals/{id}/withdraw");
pub const EXERCISE: Endpoint = Endpoint::get("/v1/exercise");
pub const EXERCISE_CONTROL: Endpoint = Endpoint::post("/v1/exercise/control");
pub const EXERCISE_REPORT: Endpoint = Endpoint::get("/v1/exercise/report");

/// Every endpoint of protocol v1.
pub const ALL: [Endpoint; 35] = [
    HEALTH,
    FLEET,
    EVENTS,
    WHOAMI,
    OPERATORS,
    OPERATION,
    AUDIT,
    PROMOTE,
    DRAIN,
    UNDRAIN,
    BREAKER,
    DEGRADE,
    WEIGHTS,
    STANDBY,
    BORROW,
    RETURN,
    ESCALATIONS,
    ESCALATION,
    CLAIM,
    RELEASE,
    RESOLVE,
    RUNBOOK_RUNS,
    START_RUN,
    RUNBOOK_RUN,
    RUN_STEPS,
    RUN_PRESENCE,
    RUN_END,
    APPROVALS,
    APPROVAL,
    APPROVE,
    DENY,
    WITHDRAW,
    EXERCISE,
    EXERCISE_CONTROL,
    EXERCISE_REPORT,
];

/// Whether `segment` is a dot segment (`.` or `..`), which path normalisers remove.
pub fn is_dot_segment(segment: &str) -> bool {
    matches!(segment, "." | "..")
}

/// Percent-encodes a path segment (ids are `[A-Za-z0-9._@-]` in practice; anything else is
/// escaped, and so are the dots of a dot segment).
fn encode(segment: &str) -> String {
    let dot_segment = is_dot_segment(segment);
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'.' if dot_segment => out.push_str("%2E"),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_percent_encoded_into_the_template() {
        assert_eq!(DRAIN.path_for("us-east"), "/v1/regions/us-east/drain");
        assert_eq!(
            BREAKER.path_for("openai@us-east"),
            "/v1/providers/openai@us-east/breaker"
        );
        assert_eq!(UNDRAIN.path_for("a/b"), "/v1/regions/a%2Fb/undrain");
        assert_eq!(FLEET.path_for("ignored"), "/v1/fleet");
    }

    #[test]
    fn dot_segment_ids_cannot_change_the_path() {
        assert_eq!(DRAIN.path_for("."), "/v1/regions/%2E/drain");
        assert_eq!(ESCALATION.path_for(".."), "/v1/escalations/%2E%2E");
        assert_eq!(CLAIM.path_for("%2e%2e"), "/v1/escalations/%252e%252e/claim");
        // Dots inside a longer id stay as they are: only whole dot segments are collapsed.
        assert_eq!(DRAIN.path_for("..."), "/v1/regions/.../drain");
        assert_eq!(DRAIN.path_for("a.b"), "/v1/regions/a.b/drain");
        for id in [".", "..", "a/b", "%2e%2e", "./..", "../fleet"] {
            for endpoint in ALL.iter().filter(|e| e.path.contains("{id}")) {
                let path = endpoint.path_for(id);
                let segments: Vec<&str> = path.split('/').collect();
                let template: Vec<&str> = endpoint.path.split('/').collect();
                assert_eq!(segments.len(), template.len(), "{id:?} changed {path}");
                assert!(!segments.iter().any(|s| is_dot_segment(s)), "{path}");
            }
        }
    }

    #[test]
    fn no_endpoint_is_listed_twice() {
        let mut seen = std::collections::HashSet::new();
        assert!(ALL.iter().all(|e| seen.insert((e.method, e.path))));
    }
}
