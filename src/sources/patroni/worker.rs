//! The worker (a tokio task) that polls one Patroni source: its cluster and its
//! `maximum_lag_on_failover`, every poll interval. No member answering is reported as `Down`
//! with Patroni's own error and tried again after a growing, jittered delay.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{PatroniError, PatroniSpec};
use crate::sources::backoff::Backoff;
use crate::sources::worker::{report_down, spawn_until_shutdown, wait_for_next_poll};
use crate::sources::{SourceEvent, SourceMsg, SourceOptions};
use protocol::{Role, WhoAmI};

/// Starts the worker of one Patroni source; it stops as the protocol v1 worker does
/// (shutdown, the receiver gone, or the handle aborted).
pub fn spawn_patroni<M>(
    spec: PatroniSpec,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
    options: SourceOptions,
) -> JoinHandle<()>
where
    M: From<SourceMsg> + Send + 'static,
{
    spawn_until_shutdown(run(spec, tx, options), shutdown)
}

/// The name the console acts under on a cluster: Patroni knows no operators, only the REST
/// API's user (when it asks for one).
pub fn operator_name(spec: &PatroniSpec) -> String {
    let user = spec
        .credentials
        .as_deref()
        .and_then(|c| c.split(':').next());
    format!("patroni:{}", user.unwrap_or("anonymous"))
}

async fn run<M: From<SourceMsg>>(spec: PatroniSpec, tx: mpsc::Sender<M>, options: SourceOptions) {
    let name = spec.name.clone();
    let send = |event: SourceEvent| {
        let message = M::from(SourceMsg {
            source: name.clone(),
            event,
        });
        let tx = tx.clone();
        async move { tx.send(message).await.is_ok() }
    };
    // Patroni knows no roles: whoever holds its credentials may switch over.
    let me = WhoAmI {
        name: operator_name(&spec),
        role: Role::Operator,
    };
    if !send(SourceEvent::Identity(me)).await {
        return;
    }
    let every = spec.settings.poll_interval;
    let client = spec.client(options.timeouts);
    let mut backoff = Backoff::new(options.backoff);
    let mut live = false;
    loop {
        let attempt = backoff.failures().saturating_add(1);
        if !live && !send(SourceEvent::Connecting { attempt }).await {
            return;
        }
        let read = match &client {
            Ok(client) => spec.read(client).await,
            Err(invalid) => Err(PatroniError::Unreachable {
                tried: 0,
                first: invalid.clone(),
            }),
        };
        let wait = match read {
            Ok(read) => {
                if !send(SourceEvent::Cluster(Box::new(read))).await {
                    return;
                }
                backoff.succeeded();
                live = true;
                every
            }
            Err(error) => {
                live = false;
                let retry_in = match &error {
                    PatroniError::Unreachable { first, .. } => {
                        backoff.delay_after(first, None, rand::random::<f64>())
                    }
                    other => backoff.delay(
                        matches!(
                            other.down_kind(),
                            crate::domain::fleet::DownKind::Unauthorized
                        ),
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
