//! The worker (a tokio task) of one Temporal source: Temporal has no push for visibility, so
//! it lists the open escalations every poll interval and reports each list whole
//! ([`SourceEvent::Listed`]); a failed list is reported `Down` with its error and the retry,
//! and tried again after a growing, jittered delay until Temporal answers.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{TemporalClient, TemporalSource};
use crate::sources::backoff::Backoff;
use crate::sources::worker::{Outbox, ReceiverGone, spawn_until_shutdown};
use crate::sources::{SourceEvent, SourceMsg, SourceOptions};
use protocol::{Role, WhoAmI};

/// Starts the worker of one Temporal source; it stops as [`crate::sources::spawn_source`]'s
/// does (shutdown, or the receiver gone).
pub fn spawn_temporal<M>(
    source: TemporalSource,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
    options: SourceOptions,
) -> JoinHandle<()>
where
    M: From<SourceMsg> + Send + 'static,
{
    spawn_until_shutdown(run(source, tx, options), shutdown)
}

async fn run<M: From<SourceMsg>>(
    source: TemporalSource,
    tx: mpsc::Sender<M>,
    options: SourceOptions,
) -> Result<(), ReceiverGone> {
    let outbox = Outbox {
        source: source.spec.name.clone(),
        tx,
    };
    outbox.send(SourceEvent::Connecting { attempt: 1 }).await?;
    // Temporal knows no operators: the console acts under the configured name.
    let me = WhoAmI {
        name: source.operator.clone(),
        role: Role::Operator,
    };
    outbox.send(SourceEvent::Identity(me)).await?;
    let client = TemporalClient::for_source(&source, options.timeouts);
    let mut backoff = Backoff::new(options.backoff);
    loop {
        let listed = match &client {
            Ok(client) => client.escalations(&[]).await,
            Err(invalid) => Err(invalid.clone().into()),
        };
        let wait = match listed {
            Ok(rows) => {
                backoff.succeeded();
                let next_in = source.poll_interval;
                outbox.send(SourceEvent::Listed { rows, next_in }).await?;
                next_in
            }
            Err(error) => {
                let retry_in = backoff.delay(error.is_persistent(), None, rand::random::<f64>());
                tracing::warn!(source = %outbox.source, %error, retry_in_ms = retry_in.as_millis() as u64, "temporal source down");
                let down = SourceEvent::Down {
                    error: error.to_string(),
                    kind: error.down_kind(),
                    retry_in,
                };
                outbox.send(down).await?;
                retry_in
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = outbox.tx.closed() => return Err(ReceiverGone),
        }
    }
}
