//! Escalations from Temporal workflows, over Temporal's HTTP API (the frontend's grpc-gateway
//! JSON; no gRPC stack). The contract a workflow follows is docs/temporal.md: search
//! attributes and a memo for the list, a Query for the detail, Updates for claim, release and
//! resolve (the Update id is the idempotency key), the event history for the lineage.
//!
//! Everything read from Temporal is untrusted: strings are cleaned with
//! [`protocol::sanitize`] as they are decoded, errors are bounded to one line.

pub mod client;
pub mod error;
pub mod lineage;
pub mod settings;
pub mod wire;
pub mod worker;

pub use crate::config::temporal::{Names, TemporalSettings};
pub use client::TemporalClient;
pub use error::TemporalError;
pub use settings::TemporalSource;
pub use worker::spawn_temporal;

/// How to reach one Temporal namespace.
#[derive(Clone, PartialEq)]
pub struct TemporalSpec {
    /// The source's configured name.
    pub name: String,
    /// The frontend's HTTP API, e.g. `http://127.0.0.1:7243`.
    pub url: String,
    pub namespace: String,
    /// Sent as `Authorization: Bearer`; never logged.
    pub api_key: Option<String>,
    pub names: Names,
}

/// The API key never reaches a log or a panic message.
impl std::fmt::Debug for TemporalSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporalSpec")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("namespace", &self.namespace)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("names", &self.names)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_change_a_query_are_refused() {
        assert_eq!(Names::default().check(), Ok(()));
        for bad in ["", "State' OR 'x'='x", "a b", "a/b", "a\u{1b}[31m"] {
            let names = Names {
                state: bad.into(),
                ..Names::default()
            };
            let error = names.check().unwrap_err();
            assert!(error.starts_with("the state name"), "{error}");
        }
    }

    #[test]
    fn the_api_key_is_not_in_debug_output() {
        let spec = TemporalSpec {
            name: "prod".into(),
            url: "https://temporal.example:7243".into(),
            namespace: "agents".into(),
            api_key: Some("secret-key".into()),
            names: Names::default(),
        };
        let shown = format!("{spec:?}");
        assert!(!shown.contains("secret-key"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
