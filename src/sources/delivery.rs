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
use protocol::commands::{CommandAccepted, PreflightSeen};

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

/// What a failed send says about its fate, whatever kind of source it went to.
pub trait SendFailure: std::fmt::Display {
    /// The request may or may not have taken effect: sending it again with the same key is
    /// the way to learn which.
    fn outcome_unknown(&self) -> bool;
    /// The HTTP status of an error answer; `None` when no answer came.
    fn status(&self) -> Option<u16>;
}

impl SendFailure for ClientError {
    fn outcome_unknown(&self) -> bool {
        ClientError::outcome_unknown(self)
    }

    fn status(&self) -> Option<u16> {
        ClientError::status(self)
    }
}

/// Calls `send` (which must carry `idempotency_key`) until the server answers or `attempts`
/// tries have failed with an unknown outcome; returns the answer (or the last error) and how
/// many tries it took.
pub async fn deliver_with<T, E, Send, Sent>(
    idempotency_key: &str,
    attempts: u32,
    mut send: Send,
) -> (Result<T, E>, u32)
where
    E: SendFailure,
    Send: FnMut() -> Sent,
    Sent: Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::new(policy());
    let mut tries = 0;
    loop {
        tries += 1;
        match send().await {
            Err(error) if error.outcome_unknown() && tries < attempts => {
                // Only an unknown outcome is sent again, and that is never the user's to fix.
                let delay = backoff.delay(false, None, rand::random::<f64>());
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
    preflight: Option<&PreflightSeen>,
    idempotency_key: &str,
    if_match: u64,
    attempts: u32,
) -> (Result<CommandAccepted, ClientError>, u32) {
    deliver_with(idempotency_key, attempts, || {
        client.command(command, reason, preflight, idempotency_key, if_match)
    })
    .await
}
