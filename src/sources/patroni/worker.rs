//! The worker (a tokio task) that polls one Patroni source: its cluster and its
//! `maximum_lag_on_failover`, every poll interval. No member answering is reported as `Down`
//! with Patroni's own error and tried again after a growing, jittered delay.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{PatroniClient, PatroniError, PatroniSpec};
use crate::domain::fleet::DownKind;
use crate::sources::worker::{Outbox, PolledSource, poll_until_stopped, spawn_until_shutdown};
use crate::sources::{ClientError, SourceEvent, SourceMsg, SourceOptions};
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

/// A Patroni source as the polling loop reads it.
struct Polled {
    spec: PatroniSpec,
    /// The client, or why it could not be made (reported as `Down` at every poll).
    client: Result<PatroniClient, ClientError>,
}

async fn run<M: From<SourceMsg> + Send>(
    spec: PatroniSpec,
    tx: mpsc::Sender<M>,
    options: SourceOptions,
) {
    let outbox = Outbox {
        source: spec.name.clone(),
        tx,
    };
    // Patroni knows no roles: whoever holds its credentials may switch over.
    let me = WhoAmI {
        name: operator_name(&spec),
        role: Role::Operator,
    };
    if outbox.send(SourceEvent::Identity(me)).await.is_err() {
        return;
    }
    let client = spec.client(options.timeouts);
    let polled = Polled { spec, client };
    poll_until_stopped(polled, outbox, options.backoff, rand::random::<f64>).await;
}

impl PolledSource for Polled {
    type Error = PatroniError;

    async fn poll<M: From<SourceMsg> + Send>(
        &mut self,
        outbox: &Outbox<M>,
    ) -> Result<bool, PatroniError> {
        let client = self
            .client
            .as_ref()
            .map_err(|invalid| PatroniError::Unreachable {
                tried: 0,
                first: invalid.clone(),
            })?;
        let read = self.spec.read(client).await?;
        Ok(outbox
            .send(SourceEvent::Cluster(Box::new(read)))
            .await
            .is_ok())
    }

    /// What no member could answer is judged by the first member's error; of the answers,
    /// only a refused login waits for the user.
    fn only_the_user_can_fix(error: &PatroniError) -> bool {
        match error {
            PatroniError::Unreachable { first, .. } => first.is_persistent(),
            other => matches!(other.down_kind(), DownKind::Unauthorized),
        }
    }

    fn down_kind(error: &PatroniError) -> DownKind {
        error.down_kind()
    }

    fn poll_interval(&self) -> Duration {
        self.spec.settings.poll_interval
    }
}
