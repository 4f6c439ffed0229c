//! The worker (a tokio task) of one Temporal source: Temporal has no push for visibility, so
//! it lists the open escalations every poll interval and reports each list whole
//! ([`SourceEvent::Listed`]); a failed list is reported `Down` with its error and the retry,
//! and tried again after a growing, jittered delay until Temporal answers.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{TemporalClient, TemporalSource};
use crate::sources::backoff::Backoff;
use crate::sources::worker::{Outbox, ReceiverGone, spawn_until_shutdown};
use crate::sources::{SourceEvent, SourceMsg, SourceOptions};
use protocol::{Role, WhoAmI};

/// How many times as long as a list took the worker waits at least before the next: the
/// server's cost is per row (about half a millisecond of its CPU each), so a console keeps it
/// listing at most a tenth of the time, and a large backlog is listed less often than the
/// configured interval (10,000 escalations: about once a minute), its age shown as for any source.
const LIST_DUTY: u32 = 10;

/// When to list again after a list that took `took`.
fn next_poll(interval: Duration, took: Duration) -> Duration {
    interval.max(took * LIST_DUTY)
}

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
        let started = tokio::time::Instant::now();
        let listed = match &client {
            Ok(client) => client.escalations(&[]).await,
            Err(invalid) => Err(invalid.clone().into()),
        };
        let wait = match listed {
            Ok(rows) => {
                backoff.succeeded();
                let next_in = next_poll(source.poll_interval, started.elapsed());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_list_is_asked_for_less_often_than_the_interval() {
        let interval = Duration::from_secs(5);
        assert_eq!(next_poll(interval, Duration::from_millis(80)), interval);
        assert_eq!(
            next_poll(interval, Duration::from_millis(6_500)),
            Duration::from_secs(65)
        );
    }
}
