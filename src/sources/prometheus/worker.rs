//! The worker (a tokio task) that polls one Prometheus source: its facts, the history of its
//! charts and, when configured, the alerts firing in its Alertmanager and its silences, every poll
//! interval.
//! Prometheus out of reach is reported as `Down` (with the specific error) and tried again
//! after a growing, jittered delay; Alertmanager out of reach only fails the alerts.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{PromError, PrometheusSource, PrometheusSpec};
use crate::sources::backoff::Backoff;
use crate::sources::error::ClientError;
use crate::sources::worker::{report_down, spawn_until_shutdown, wait_for_next_poll};
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

async fn run<M: From<SourceMsg>>(
    spec: PrometheusSpec,
    tx: mpsc::Sender<M>,
    options: SourceOptions,
) {
    let name = spec.name.clone();
    let send = |event: SourceEvent| {
        let message = M::from(SourceMsg {
            source: name.clone(),
            event,
        });
        let tx = tx.clone();
        async move { tx.send(message).await.is_ok() }
    };
    let every = spec.settings.poll_interval;
    let source = PrometheusSource::new(&spec.name, &spec.url, spec.settings, options.timeouts)
        .map(|source| source.with_token(spec.token));
    let mut backoff = Backoff::new(options.backoff);
    let mut live = false;
    loop {
        // Only a source not yet (or no longer) read is connecting: a live one's polls are
        // not news, and would flicker its facts to stale on screen.
        let attempt = backoff.failures().saturating_add(1);
        if !live && !send(SourceEvent::Connecting { attempt }).await {
            return;
        }
        let polled = match &source {
            Ok(source) => poll(source, &send).await,
            Err(invalid) => Err(invalid.clone()),
        };
        let wait = match polled {
            Ok(false) => return,
            Ok(true) => {
                backoff = Backoff::new(options.backoff);
                live = true;
                every
            }
            Err(error) => {
                live = false;
                let retry_in = match &error {
                    PromError::Transport { error, .. } => {
                        backoff.delay_after(error, None, rand::random::<f64>())
                    }
                    other => backoff.delay_after(
                        &ClientError::dropped(&spec.url, &other.to_string()),
                        None,
                        rand::random::<f64>(),
                    ),
                };
                if !report_down(&send, &spec.name, &error, error.down_kind(), retry_in).await {
                    return;
                }
                retry_in
            }
        };
        if !wait_for_next_poll(&tx, wait).await {
            return;
        }
    }
}

/// One poll: facts, history, alerts. `Ok(false)` when the app stopped listening.
async fn poll<F, Fut>(source: &PrometheusSource, send: &F) -> Result<bool, PromError>
where
    F: Fn(SourceEvent) -> Fut,
    Fut: Future<Output = bool>,
{
    let facts = source.facts().await?;
    let history = source.history(chrono::Utc::now()).await?;
    if !send(SourceEvent::Measured(Box::new(facts))).await
        || !send(SourceEvent::MeasuredHistory(history)).await
    {
        return Ok(false);
    }
    if let Some(alertmanager) = &source.alertmanager {
        let alerts = alertmanager.firing().await.map_err(|e| e.to_string());
        let silences = alertmanager.silences().await.map_err(|e| e.to_string());
        return Ok(
            send(SourceEvent::Alerts(alerts)).await && send(SourceEvent::Silences(silences)).await
        );
    }
    Ok(true)
}
