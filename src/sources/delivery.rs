//! Getting one request to the server exactly once, over a flaky link.
//!
//! The same idempotency key goes with every try, so the server acts at most once and
//! answers a repeat with its first answer; a try is repeated only when the previous one
//! may or may not have arrived (timeout, dropped connection, unreachable, 502-504).

use std::future::Future;
use std::time::Duration;

use super::backoff::{Backoff, BackoffPolicy};
use super::client::Client;
use super::error::ClientError;
use crate::domain::command::Command;
use protocol::commands::CommandAccepted;

/// Tries at most this many times before reporting the outcome as unknown.
pub const ATTEMPTS: u32 = 5;

/// Delays between tries: short, since an operator is waiting for the answer.
pub fn policy() -> BackoffPolicy {
    BackoffPolicy {
        base: Duration::from_millis(300),
        cap: Duration::from_secs(4),
        ..BackoffPolicy::default()
    }
}

/// Calls `send` (which must carry `idempotency_key`) until the server answers or `attempts`
/// tries have failed with an unknown outcome; returns the answer (or the last error) and how
/// many tries it took.
pub async fn deliver_with<T, Send, Sent>(
    idempotency_key: &str,
    attempts: u32,
    mut send: Send,
) -> (Result<T, ClientError>, u32)
where
    Send: FnMut() -> Sent,
    Sent: Future<Output = Result<T, ClientError>>,
{
    let mut backoff = Backoff::new(policy());
    let mut tries = 0;
    loop {
        tries += 1;
        match send().await {
            Err(error) if error.outcome_unknown() && tries < attempts => {
                let delay = backoff.delay_after(&error, None, rand::random::<f64>());
                tracing::warn!(%error, tries, ?delay, key = idempotency_key, "no answer; sending again with the same key");
                tokio::time::sleep(delay).await;
            }
            result => return (result, tries),
        }
    }
}

/// [`deliver_with`] for a command on the fleet.
pub async fn deliver(
    client: &Client,
    command: &Command,
    reason: &str,
    idempotency_key: &str,
    if_match: u64,
    attempts: u32,
) -> (Result<CommandAccepted, ClientError>, u32) {
    deliver_with(idempotency_key, attempts, || {
        client.command(command, reason, idempotency_key, if_match)
    })
    .await
}
