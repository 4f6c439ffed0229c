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

/// A silence action held by the journal under its idempotency key, not yet answered.
pub struct JournaledSilence {
    entry: Entry,
    journaled: Journaled,
}

impl JournaledSilence {
    pub fn key(&self) -> &str {
        &self.entry.idempotency_key
    }
}

/// Journals `order` (fsync) under a fresh key, to be sent to `client`'s Alertmanager by
/// [`send_journaled`]: nothing is sent that the journal does not hold, so a crash never hides
/// an action. `createdBy` is the order's operator, else the login name. The console and
/// `switchboard silences` both go this way.
pub async fn journal_order(
    order: &SilenceOrder,
    client: &AlertmanagerClient,
    journal: &Arc<Mutex<Journal>>,
    context: &str,
) -> Result<JournaledSilence, CommandFailure> {
    let operator = order
        .operator
        .clone()
        .unwrap_or_else(crate::config::temporal::login_name);
    let key = uuid::Uuid::new_v4().to_string();
    let entry = journal_entry(context, client.url(), order, &operator, &key)
        .map_err(|error| not_sent(&error.to_string()))?;
    let written = write_journal(journal, {
        let entry = entry.clone();
        move |j| j.record_sent(&entry)
    })
    .await;
    if let Err(error) = written {
        return Err(not_sent(&format!(
            "the journal cannot be written ({error})"
        )));
    }
    Ok(JournaledSilence {
        entry,
        journaled: Journaled::of(order, &operator),
    })
}

/// Sends a journaled silence action (again under the same key while no answer comes) and
/// journals its result.
pub async fn send_journaled(
    silence: &JournaledSilence,
    client: &AlertmanagerClient,
    journal: &Arc<Mutex<Journal>>,
) -> Result<SilenceDone, PromError> {
    let (entry, key) = (&silence.entry, silence.key());
    let (result, _tries) = deliver_with(key, ATTEMPTS, || {
        silence.journaled.send(client, &entry.reason, key)
    })
    .await;
    let outcome = outcome_of(&result);
    let entry_id = entry.id.clone();
    if let Err(error) = write_journal(journal, move |j| j.record_result(&entry_id, outcome)).await {
        tracing::error!(%error, "cannot record a silence's result in the journal");
    }
    result
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
    let journaled = match journal_order(&order, &client, &journal, &context).await {
        Ok(journaled) => journaled,
        Err(failure) => {
            let _ = tx.send(finish(Err(failure))).await;
            return;
        }
    };
    let key = journaled.key().to_string();
    let _ = tx.send(Msg::SilenceJournaled { local_id, key }).await;
    let result = send_journaled(&journaled, &client, &journal).await;
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

/// Who a journaled silence action says it came from: the `createdBy` it was made with.
pub(super) fn operator_of(entry: &Entry) -> Option<String> {
    match serde_json::from_value::<Journaled>(entry.command.body.clone()) {
        Ok(Journaled::Create { created_by, .. }) => Some(created_by),
        _ => None,
    }
}
