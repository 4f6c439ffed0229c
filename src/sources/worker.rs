//! The worker (a tokio task) that keeps one source connected and reports what it learns.
//!
//! Each attempt fetches identity, snapshot and roster, then follows the event stream from the
//! snapshot's revision. Any failure is reported as `Down` and retried after a jittered,
//! growing delay. Every attempt starts from a fresh snapshot, so a server that restarted with
//! a lower revision simply replaces what we held.

use std::convert::Infallible;

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backoff::{Backoff, BackoffPolicy};
use super::client::{Client, Timeouts};
use super::error::ClientError;
use super::sse::StreamEvent;
use super::{SourceEvent, SourceMsg, SourceSpec};

/// Timing of a source worker; the defaults suit real use, tests shorten them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SourceOptions {
    pub timeouts: Timeouts,
    pub backoff: BackoffPolicy,
}

/// Starts the worker of one source with the default timing.
///
/// The worker stops when `shutdown` turns true or its sender is dropped, or when `tx` is closed.
/// Aborting the returned handle stops it at once too: it holds nothing that needs cleaning up.
pub fn spawn_source<M>(
    spec: SourceSpec,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()>
where
    M: From<SourceMsg> + Send + 'static,
{
    spawn_source_with(spec, tx, shutdown, SourceOptions::default())
}

/// [`spawn_source`] with explicit timing.
pub fn spawn_source_with<M>(
    spec: SourceSpec,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
    options: SourceOptions,
) -> JoinHandle<()>
where
    M: From<SourceMsg> + Send + 'static,
{
    spawn_until_shutdown(run(spec, tx, options), shutdown)
}

/// Runs a worker on its own task until it ends or `shutdown` turns true.
pub(crate) fn spawn_until_shutdown<F>(
    worker: F,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()>
where
    F: std::future::Future + Send + 'static,
{
    tokio::spawn(async move {
        tokio::select! {
            _ = worker => {}
            // An error means the sender is gone: nobody can ask us to stop any more.
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
    })
}

/// The app stopped listening; the worker has no reason to go on.
pub(crate) struct ReceiverGone;

enum SessionEnd {
    Failed(ClientError),
    ReceiverGone,
}

impl From<ClientError> for SessionEnd {
    fn from(error: ClientError) -> Self {
        SessionEnd::Failed(error)
    }
}

impl From<ReceiverGone> for SessionEnd {
    fn from(_: ReceiverGone) -> Self {
        SessionEnd::ReceiverGone
    }
}

/// Where a worker's reports go, each marked with its source's name.
pub(crate) struct Outbox<M> {
    pub(crate) source: String,
    pub(crate) tx: mpsc::Sender<M>,
}

impl<M: From<SourceMsg>> Outbox<M> {
    pub(crate) async fn send(&self, event: SourceEvent) -> Result<(), ReceiverGone> {
        let message = SourceMsg {
            source: self.source.clone(),
            event,
        };
        self.tx
            .send(M::from(message))
            .await
            .map_err(|_| ReceiverGone)
    }
}

async fn run<M: From<SourceMsg>>(spec: SourceSpec, tx: mpsc::Sender<M>, options: SourceOptions) {
    let outbox = Outbox {
        source: spec.name.clone(),
        tx,
    };
    let client = Client::with_timeouts(&spec.url, spec.token, options.timeouts);
    let mut backoff = Backoff::new(options.backoff);
    loop {
        let attempt = backoff.failures().saturating_add(1);
        if outbox
            .send(SourceEvent::Connecting { attempt })
            .await
            .is_err()
        {
            return;
        }
        let mut live_since = None;
        let end = match &client {
            Ok(client) => follow(client, &outbox, &mut live_since).await,
            Err(invalid) => Err(SessionEnd::Failed(invalid.clone())),
        };
        let error = match end {
            Ok(never) => match never {},
            Err(SessionEnd::ReceiverGone) => return,
            Err(SessionEnd::Failed(error)) => error,
        };
        let live_for = live_since.map(|since: Instant| since.elapsed());
        let retry_in = backoff.delay_after(&error, live_for, rand::random::<f64>());
        tracing::warn!(
            source = %spec.name,
            %error,
            retry_in_ms = retry_in.as_millis() as u64,
            "source down"
        );
        let down = SourceEvent::Down {
            error: error.to_string(),
            kind: error.down_kind(),
            retry_in,
        };
        if outbox.send(down).await.is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(retry_in) => {}
            () = outbox.tx.closed() => return,
        }
    }
}

/// One connection: identity, snapshot, roster, then the event stream until something fails.
/// `live_since` is set once the snapshot is delivered, to tell a healthy session from a flap.
async fn follow<M: From<SourceMsg>>(
    client: &Client,
    outbox: &Outbox<M>,
    live_since: &mut Option<Instant>,
) -> Result<Infallible, SessionEnd> {
    let identity = client.whoami().await?;
    outbox.send(SourceEvent::Identity(identity)).await?;
    let mut held_revision = deliver_snapshot(client, outbox).await?;
    *live_since = Some(Instant::now());
    let operators = client.operators().await?;
    outbox.send(SourceEvent::Operators(operators)).await?;
    tracing::info!(source = %outbox.source, revision = held_revision, "source live");

    let events = client.events(Some(held_revision));
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event? {
            // A replay of what the snapshot already holds.
            StreamEvent::Delta(delta) if delta.revision <= held_revision => {}
            StreamEvent::Delta(delta) => {
                held_revision = delta.revision;
                outbox.send(SourceEvent::Delta(delta)).await?;
            }
            StreamEvent::Operators(changed) => {
                outbox
                    .send(SourceEvent::Operators(changed.operators))
                    .await?;
            }
            StreamEvent::Audit(entry) => outbox.send(SourceEvent::Audit(entry)).await?,
            StreamEvent::Escalation(event) => outbox.send(SourceEvent::Escalation(event)).await?,
            StreamEvent::RunbookRun(run) => outbox.send(SourceEvent::RunbookRun(run)).await?,
            StreamEvent::Resnapshot(resnapshot) => {
                tracing::info!(
                    source = %outbox.source,
                    reason = %protocol::sanitize::clean(&resnapshot.reason),
                    "server asked for a resnapshot"
                );
                held_revision = deliver_snapshot(client, outbox).await?;
            }
        }
    }
    Err(ClientError::dropped(client.url(), "the server closed the event stream").into())
}

async fn deliver_snapshot<M: From<SourceMsg>>(
    client: &Client,
    outbox: &Outbox<M>,
) -> Result<u64, SessionEnd> {
    let snapshot = client.fleet().await?;
    let revision = snapshot.revision;
    outbox.send(SourceEvent::Snapshot(snapshot)).await?;
    Ok(revision)
}

/// A polled source (Prometheus, LiteLLM, Patroni) that failed: logged, and reported as
/// `Down` with its own error, its class and when it is tried again; false when the app
/// stopped listening.
pub(crate) async fn report_down<F, Fut>(
    send: &F,
    source: &str,
    error: &(dyn std::fmt::Display + Sync),
    kind: crate::domain::fleet::DownKind,
    retry_in: std::time::Duration,
) -> bool
where
    F: Fn(SourceEvent) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    tracing::warn!(source, %error, "polled source down");
    let error = error.to_string();
    send(SourceEvent::Down {
        error,
        kind,
        retry_in,
    })
    .await
}

/// Waits `wait` before a polled source's next read; false when the app stopped listening
/// meanwhile.
pub(crate) async fn wait_for_next_poll<M>(tx: &mpsc::Sender<M>, wait: std::time::Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(wait) => true,
        () = tx.closed() => false,
    }
}
