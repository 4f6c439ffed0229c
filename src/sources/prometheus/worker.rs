//! The worker (a tokio task) that polls one Prometheus source: its facts, the history of its
//! charts and, when configured, the alerts firing in its Alertmanager and its silences, every poll
//! interval.
//! Prometheus out of reach is reported as `Down` (with the specific error) and tried again
//! after a growing, jittered delay; Alertmanager out of reach only fails the alerts.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{PromError, PrometheusSource, PrometheusSpec};
use crate::domain::fleet::DownKind;
use crate::sources::worker::{Outbox, PolledSource, poll_until_stopped, spawn_until_shutdown};
use crate::sources::{SourceEvent, SourceMsg, SourceOptions};

/// Starts the worker of one Prometheus source; it stops as the protocol v1 worker does
/// (shutdown, the receiver gone, or the handle aborted).
pub fn spawn_prometheus<M>(
    spec: PrometheusSpec,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
    options: SourceOptions,
) -> JoinHandle<()>
where
    M: From<SourceMsg> + Send + 'static,
{
    spawn_until_shutdown(run(spec, tx, options), shutdown)
}

/// A Prometheus source as the polling loop reads it: its clients, or why they could not be
/// made (reported as `Down` at every poll).
struct Polled {
    source: Result<PrometheusSource, PromError>,
    every: Duration,
}

async fn run<M: From<SourceMsg> + Send>(
    spec: PrometheusSpec,
    tx: mpsc::Sender<M>,
    options: SourceOptions,
) {
    let every = spec.settings.poll_interval;
    let source = PrometheusSource::new(&spec.name, &spec.url, spec.settings, options.timeouts)
        .map(|source| source.with_token(spec.token));
    let outbox = Outbox {
        source: spec.name,
        tx,
    };
    let polled = Polled { source, every };
    poll_until_stopped(polled, outbox, options.backoff, rand::random::<f64>).await;
}

impl PolledSource for Polled {
    type Error = PromError;

    /// One poll: facts, history, alerts.
    async fn poll<M: From<SourceMsg> + Send>(
        &mut self,
        outbox: &Outbox<M>,
    ) -> Result<bool, PromError> {
        let source = self.source.as_ref().map_err(Clone::clone)?;
        let facts = source.facts().await?;
        let history = source.history(chrono::Utc::now()).await?;
        let send = |event| async { outbox.send(event).await.is_ok() };
        if !send(SourceEvent::Measured(Box::new(facts))).await
            || !send(SourceEvent::MeasuredHistory(history)).await
        {
            return Ok(false);
        }
        if let Some(alertmanager) = &source.alertmanager {
            let alerts = alertmanager.firing().await.map_err(|e| e.to_string());
            let silences = alertmanager.silences().await.map_err(|e| e.to_string());
            return Ok(send(SourceEvent::Alerts(alerts)).await
                && send(SourceEvent::Silences(silences)).await);
        }
        Ok(true)
    }

    /// Only a refused token or a bad URL, as Prometheus's transport says; any other failure
    /// (an answer Prometheus refused, a bad query) backs off and tries again.
    fn only_the_user_can_fix(error: &PromError) -> bool {
        matches!(error, PromError::Transport { error, .. } if error.is_persistent())
    }

    fn down_kind(error: &PromError) -> DownKind {
        error.down_kind()
    }

    fn poll_interval(&self) -> Duration {
        self.every
    }
}
