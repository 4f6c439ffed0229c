//! One configured Temporal source as the console uses it: its address and API key, with the
//! settings of its `[contexts.NAME.sources.temporal]` table (crate::config::temporal).

use std::path::PathBuf;
use std::time::Duration;

use super::TemporalSpec;
use crate::config::temporal::TemporalSettings;

/// One configured Temporal source: how to reach it and how the console uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct TemporalSource {
    pub spec: TemporalSpec,
    pub ca_file: Option<PathBuf>,
    pub poll_interval: Duration,
    /// See [`TemporalSettings::operator`].
    pub operator: String,
}

impl TemporalSource {
    /// The source `name` at `url` with these settings and the API key from the keyring.
    pub fn new(
        name: &str,
        url: &str,
        api_key: Option<String>,
        settings: &TemporalSettings,
    ) -> TemporalSource {
        TemporalSource {
            spec: TemporalSpec {
                name: name.to_string(),
                url: url.to_string(),
                namespace: settings.namespace.clone(),
                api_key,
                names: settings.names.clone(),
            },
            ca_file: settings.ca_file.clone(),
            poll_interval: settings.poll_interval(),
            operator: settings.operator(),
        }
    }
}
