//! The worker (a tokio task) that keeps one source connected and reports what it learns.
//!
//! Each attempt fetches identity, snapshot and roster, then follows the event stream from the
//! snapshot's revision. Any failure is reported as `Down` and retried after a jittered,
//! growing delay. Every attempt starts from a fresh snapshot, so a server that restarted with
//! a lower revision simply replaces what we held.

use std::convert::Infallible;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backoff::{Backoff, BackoffPolicy};
use super::client::{Client, Timeouts};
use super::error::ClientError;
use super::sse::StreamEvent;
use super::{SourceEvent, SourceMsg, SourceSpec};

/// How often a source's drill is read while its stream is down: a `source-unreachable` inject
/// takes the fleet and the stream away, not the drill, which the players must still follow.
pub const EXERCISE_POLL: Duration = Duration::from_secs(3);

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
    // Whether the source runs a drill, as last read: it is then read while the stream is down.
    let mut drill = false;
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
            Ok(client) => follow(client, &outbox, &mut live_since, &mut drill).await,
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
        let waited = match &client {
            Ok(client) if drill => {
                read_drill_while_waiting(client, &outbox, retry_in, &mut drill).await
            }
            _ => wait(&outbox, retry_in).await,
        };
        if waited.is_err() {
            return;
        }
    }
}

/// Waits `length`, or until the app stops listening.
async fn wait<M>(outbox: &Outbox<M>, length: Duration) -> Result<(), ReceiverGone> {
    tokio::select! {
        () = tokio::time::sleep(length) => Ok(()),
        () = outbox.tx.closed() => Err(ReceiverGone),
    }
}

/// Waits `length`, reading the drill every [`EXERCISE_POLL`] meanwhile.
async fn read_drill_while_waiting<M: From<SourceMsg>>(
    client: &Client,
    outbox: &Outbox<M>,
    length: Duration,
    drill: &mut bool,
) -> Result<(), ReceiverGone> {
    let until = Instant::now() + length;
    while *drill {
        let left = until.saturating_duration_since(Instant::now());
        if left <= EXERCISE_POLL {
            break;
        }
        wait(outbox, EXERCISE_POLL).await?;
        deliver_exercise(client, outbox, drill).await?;
    }
    wait(outbox, until.saturating_duration_since(Instant::now())).await
}

/// Reads the source's drill and reports it; `drill` learns whether it runs one (a failed read
/// leaves it as it was). A source that runs none, and ran none, has nothing to report.
async fn deliver_exercise<M: From<SourceMsg>>(
    client: &Client,
    outbox: &Outbox<M>,
    drill: &mut bool,
) -> Result<(), ReceiverGone> {
    let read = client.exercise().await;
    let had = *drill;
    if let Ok(state) = &read {
        *drill = state.is_some();
    }
    if !had && !*drill {
        return Ok(());
    }
    let read = read
        .map(|state| state.map(Box::new))
        .map_err(|e| e.to_string());
    outbox.send(SourceEvent::Exercise(read)).await
}

/// One connection: identity, snapshot, roster, then the event stream until something fails.
/// `live_since` is set once the snapshot is delivered, to tell a healthy session from a flap.
async fn follow<M: From<SourceMsg>>(
    client: &Client,
    outbox: &Outbox<M>,
    live_since: &mut Option<Instant>,
    drill: &mut bool,
) -> Result<Infallible, SessionEnd> {
    let identity = client.whoami().await?;
    outbox.send(SourceEvent::Identity(identity)).await?;
    // Before the fleet: a drill can hide the fleet from its players, never itself.
    deliver_exercise(client, outbox, drill).await?;
    let mut held_revision = deliver_snapshot(client, outbox).await?;
    *live_since = Some(Instant::now());
    let operators = client.operators().await?;
    outbox.send(SourceEvent::Operators(operators)).await?;
    // What waited for a second operator while we were away; the stream brings the rest.
    let approvals = client.approvals().await;
    let approvals = approvals
        .map(|list| list.requests)
        .map_err(|e| e.to_string());
    outbox.send(SourceEvent::Approvals(approvals)).await?;
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
            StreamEvent::ExerciseChanged(_) => deliver_exercise(client, outbox, drill).await?,
            StreamEvent::Approval(request) => outbox.send(SourceEvent::Approval(request)).await?,
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

/// What a source read by polling (Prometheus, LiteLLM, Patroni) brings to the one loop that
/// polls them all ([`poll_until_stopped`]): its read with its own data mapping, and its retry
/// rule.
pub(crate) trait PolledSource: Send {
    type Error: std::fmt::Display + Send + Sync;

    /// Reads the source once and reports what it read through `outbox`; `Ok(false)` when the
    /// app stopped listening.
    fn poll<M: From<SourceMsg> + Send>(
        &mut self,
        outbox: &Outbox<M>,
    ) -> impl std::future::Future<Output = Result<bool, Self::Error>> + Send;

    /// The retry rule: whether only the user can fix `error` (credentials, the URL), so that
    /// the next try waits the whole backoff cap instead of a jittered, growing delay.
    fn only_the_user_can_fix(error: &Self::Error) -> bool;

    fn down_kind(error: &Self::Error) -> crate::domain::fleet::DownKind;

    /// The wait after a good read.
    fn poll_interval(&self) -> std::time::Duration;
}

/// Polls `source` until the app stops listening: `Connecting` while it is not (or no longer)
/// read, its read every poll interval, a failure reported as `Down` with its own error and
/// tried again after a backoff (`jitter` in `[0, 1)` picks the delay) that a good read resets.
/// Run it under [`spawn_until_shutdown`] to stop it on shutdown.
pub(crate) async fn poll_until_stopped<S, M>(
    mut source: S,
    outbox: Outbox<M>,
    policy: BackoffPolicy,
    jitter: fn() -> f64,
) where
    S: PolledSource,
    M: From<SourceMsg> + Send,
{
    let mut backoff = Backoff::new(policy);
    let mut live = false;
    loop {
        // Only a source not yet (or no longer) read is connecting: a live one's polls are
        // not news, and would flicker its facts to stale on screen.
        let attempt = backoff.failures().saturating_add(1);
        if !live
            && outbox
                .send(SourceEvent::Connecting { attempt })
                .await
                .is_err()
        {
            return;
        }
        let wait = match source.poll(&outbox).await {
            Ok(false) => return,
            Ok(true) => {
                backoff.succeeded();
                live = true;
                source.poll_interval()
            }
            Err(error) => {
                live = false;
                let persistent = S::only_the_user_can_fix(&error);
                let retry_in = backoff.delay(persistent, None, jitter());
                tracing::warn!(source = %outbox.source, %error, "polled source down");
                let down = SourceEvent::Down {
                    error: error.to_string(),
                    kind: S::down_kind(&error),
                    retry_in,
                };
                if outbox.send(down).await.is_err() {
                    return;
                }
                retry_in
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = outbox.tx.closed() => return,
        }
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
