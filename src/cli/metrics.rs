//! Each Prometheus source of a context read once, as the console holds a metrics source's
//! facts: what `status` and `runbook check` read beside the protocol v1 snapshots.

use std::time::Instant;

use crate::domain::fleet::{Connection, DownKind, SourceData};
use crate::sources::Timeouts;
use crate::sources::prometheus::{PrometheusSource, PrometheusSpec};

/// Each Prometheus source of the context read once, as the console holds a metrics source's
/// facts; one that does not answer is down with its error (its facts read `?`).
pub async fn read_metrics(specs: &[PrometheusSpec], now: Instant) -> Vec<SourceData> {
    futures::future::join_all(specs.iter().map(|spec| async move {
        let mut data = SourceData::metrics(&spec.name, &spec.url, spec.settings.poll_interval);
        let source = PrometheusSource::new(
            &spec.name,
            &spec.url,
            spec.settings.clone(),
            Timeouts::default(),
        );
        let read = match source {
            Ok(source) => source.with_token(spec.token.clone()).facts().await,
            Err(error) => Err(error),
        };
        match read {
            Ok(facts) => {
                let measured = data.measured.get_or_insert_default();
                measured.problems = (facts.failed.iter().map(ToString::to_string))
                    .chain(facts.unplaced)
                    .collect();
                measured.regions = facts.regions;
                measured.providers = facts.providers;
                measured.services = facts.services;
                data.connection = Connection::Live;
                data.received_at = Some(now);
            }
            Err(error) => data.connection = unanswered(error.down_kind(), &error, now),
        }
        data
    }))
    .await
}

/// A source that did not answer a one-shot read: down with its error, not tried again.
pub fn unanswered(kind: DownKind, error: &dyn std::fmt::Display, now: Instant) -> Connection {
    Connection::Down {
        kind,
        error: error.to_string(),
        retry_at: now,
    }
}
