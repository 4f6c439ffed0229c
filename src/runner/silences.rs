//! Silences created and expired from the console, the way every mutating action goes: the
//! journal holds the action (fsync) under a fresh idempotency key before it is sent, it is
//! sent again under the same key while no answer comes, its result is journaled, and a console
//! that died before learning it sends it once more on restart ([`recover`]), which finds the
//! silence the first try made rather than making a second (the key rides in the silence's
//! comment: see `sources::prometheus::silences`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::journaling::{failure_kind, write_journal};
use crate::app::{CommandFailure, FailureKind, Msg, SilenceAction, SilenceDone, SilenceOrder};
use crate::journal::{Entry, Journal, Outcome, SentCommand};
use crate::sources::delivery::{ATTEMPTS, deliver_with};
use crate::sources::prometheus::silences::Matcher;
use crate::sources::prometheus::{AlertmanagerClient, PromError, SilenceExpired, SilenceRequest};
use crate::sources::{SourceEvent, SourceMsg};

/// The journal's record of a silence action: enough to tell an operator what was sent, and
/// to send it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "silence")]
enum Journaled {
    Create {
        matchers: Vec<Matcher>,
        duration_s: u64,
        created_by: String,
    },
    Expire {
        id: String,
    },
}

impl Journaled {
    fn of(order: &SilenceOrder, operator: &str) -> Journaled {
        match &order.action {
            SilenceAction::Create { matchers, duration } => Journaled::Create {
                matchers: matchers.clone(),
                duration_s: duration.as_secs(),
                created_by: operator.to_string(),
            },
            SilenceAction::Expire { id } => Journaled::Expire { id: id.clone() },
        }
    }

    /// Sends it under `key`: a create finds the silence an earlier try with the key made.
    async fn send(
        &self,
        client: &AlertmanagerClient,
        reason: &str,
        key: &str,
    ) -> Result<SilenceDone, PromError> {
        match self {
            Journaled::Create {
                matchers,
                duration_s,
                created_by,
            } => {
                let request = SilenceRequest {
                    matchers: matchers.clone(),
                    duration: Duration::from_secs(*duration_s),
                    reason: reason.to_string(),
                    operator: created_by.clone(),
                    idempotency_key: key.to_string(),
                };
                let created = client.create_silence(&request).await?;
                let detail = match created.replayed {
                    true => "already created by an earlier try with this key: nothing new made",
                    false => "created",
                };
                Ok(SilenceDone {
                    id: created.id,
                    detail: detail.into(),
                })
            }
            Journaled::Expire { id } => {
                let detail = match client.expire_silence(id).await? {
                    SilenceExpired::Expired => "expired",
                    SilenceExpired::AlreadyExpired => "had already expired",
                };
                Ok(SilenceDone {
                    id: id.clone(),
                    detail: detail.into(),
                })
            }
        }
    }

    fn sent_command(&self) -> serde_json::Result<SentCommand> {
        let (verb, target, path) = match self {
            Journaled::Create { matchers, .. } => (
                "silence create",
                crate::app::matchers_text(matchers),
                "/api/v2/silences".to_string(),
            ),
            Journaled::Expire { id } => (
                "silence expire",
                id.clone(),
                format!("/api/v2/silence/{id}"),
            ),
        };
        Ok(SentCommand {
            verb: verb.to_string(),
            target,
            path,
            body: serde_json::to_value(self)?,
        })
    }
}

/// Journals `order` under a fresh key, sends it to `client` (again under the same key while
/// no answer comes), journals the result and reports it, then reads the source's alerts and
/// silences again so the screen shows what changed without waiting for the next poll.
pub async fn carry_out(
    order: SilenceOrder,
    client: AlertmanagerClient,
    journal: Arc<Mutex<Journal>>,
    context: String,
    tx: mpsc::Sender<Msg>,
) {
    let local_id = order.local_id;
    let finish = |result| Msg::SilenceFinished { local_id, result };
    let operator = order
        .operator
        .clone()
        .unwrap_or_else(crate::config::temporal::login_name);
    let journaled = Journaled::of(&order, &operator);
    let key = uuid::Uuid::new_v4().to_string();
    let entry = match journal_entry(&context, client.url(), &order, &operator, &key) {
        Ok(entry) => entry,
        Err(error) => {
            let _ = tx.send(finish(Err(not_sent(&error.to_string())))).await;
            return;
        }
    };
    // Nothing is sent that the journal does not hold: a crash must never hide an action.
    let written = write_journal(&journal, {
        let entry = entry.clone();
        move |j| j.record_sent(&entry)
    })
    .await;
    if let Err(error) = written {
        let why = format!("the journal cannot be written ({error})");
        let _ = tx.send(finish(Err(not_sent(&why)))).await;
        return;
    }
    let _ = tx
        .send(Msg::SilenceJournaled {
            local_id,
            key: key.clone(),
        })
        .await;
    let (result, _tries) = deliver_with(&key, ATTEMPTS, || {
        journaled.send(&client, &order.reason, &key)
    })
    .await;
    let outcome = outcome_of(&result);
    let entry_id = entry.id.clone();
    if let Err(error) = write_journal(&journal, move |j| j.record_result(&entry_id, outcome)).await
    {
        tracing::error!(%error, "cannot record a silence's result in the journal");
    }
    let result = result.map_err(|error| CommandFailure {
        kind: failure_kind(false, &error),
        message: error.to_string(),
    });
    if tx.send(finish(result)).await.is_err() {
        return;
    }
    let alerts = client.firing().await.map_err(|e| e.to_string());
    let silences = client.silences().await.map_err(|e| e.to_string());
    for event in [SourceEvent::Alerts(alerts), SourceEvent::Silences(silences)] {
        let source = order.source.clone();
        let _ = tx.send(Msg::Source(SourceMsg { source, event })).await;
    }
}

/// The journal's entry of `order` sent to the Alertmanager at `url` under `key`, made by
/// `operator` (its `createdBy`).
pub fn journal_entry(
    context: &str,
    url: &str,
    order: &SilenceOrder,
    operator: &str,
    key: &str,
) -> serde_json::Result<Entry> {
    let sent = Journaled::of(order, operator).sent_command()?;
    Ok(Entry::for_request(
        context,
        url,
        sent,
        &order.reason,
        key,
        None,
    ))
}

pub(super) fn not_sent(why: &str) -> CommandFailure {
    CommandFailure {
        kind: FailureKind::Rejected,
        message: format!("not sent: {why}"),
    }
}

fn outcome_of(result: &Result<SilenceDone, PromError>) -> Outcome {
    match result {
        Ok(done) => Outcome::Applied {
            detail: format!("silence {}: {}", done.id, done.detail),
        },
        Err(error) => Outcome::failed(error),
    }
}

/// What became of a journaled silence action whose answer never came: sent once more under
/// its key, which finds the silence an earlier try made (or expires one already expired)
/// rather than acting twice.
pub async fn recover(client: &AlertmanagerClient, entry: &Entry) -> Outcome {
    let journaled = match serde_json::from_value::<Journaled>(entry.command.body.clone()) {
        Ok(journaled) => journaled,
        Err(error) => {
            return Outcome::Unknown {
                message: format!("the journal's silence cannot be read ({error})"),
            };
        }
    };
    let key = &entry.idempotency_key;
    let (result, _tries) =
        deliver_with(key, ATTEMPTS, || journaled.send(client, &entry.reason, key)).await;
    outcome_of(&result)
}
