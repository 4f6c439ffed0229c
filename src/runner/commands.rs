//! Effects that talk to the sources on the operator's behalf: commands (journaled before
//! they are sent) and audit reads. Each runs in its own tokio task and reports a message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::app::{CommandFailure, CommandRequest, FailureKind, Msg};
use crate::journal::{Entry, Journal, Outcome};
use crate::sources::delivery::{ATTEMPTS, deliver};
use crate::sources::{Client, ClientError, SourceSpec};

/// Audit entries fetched when the audit view opens; later ones arrive as events.
const AUDIT_PAGE: u32 = 200;

pub struct Dispatcher {
    context: String,
    clients: HashMap<String, Client>,
    /// Shared with the tasks that write to it; never touched by the UI.
    journal: Arc<Mutex<Journal>>,
    tx: mpsc::Sender<Msg>,
}

impl Dispatcher {
    pub fn new(
        context: &str,
        sources: &[SourceSpec],
        journal: Journal,
        tx: mpsc::Sender<Msg>,
    ) -> Dispatcher {
        let clients = sources
            .iter()
            .filter_map(|s| match Client::new(&s.url, s.token.clone()) {
                Ok(client) => Some((s.name.clone(), client)),
                Err(error) => {
                    tracing::error!(source = %s.name, %error, "no client for the source");
                    None
                }
            })
            .collect();
        Dispatcher {
            context: context.to_string(),
            clients,
            journal: Arc::new(Mutex::new(journal)),
            tx,
        }
    }

    pub fn send_command(&self, request: CommandRequest) {
        let Some(client) = self.clients.get(&request.source).cloned() else {
            let failure = CommandFailure {
                kind: FailureKind::Rejected,
                message: format!("no connection to source {}", request.source),
            };
            let _ = self.tx.try_send(Msg::CommandFinished {
                id: request.id,
                result: Err(failure),
            });
            return;
        };
        let (journal, tx, context) = (self.journal.clone(), self.tx.clone(), self.context.clone());
        tokio::spawn(async move {
            let key = uuid::Uuid::new_v4().to_string();
            let entry = Entry::new(
                &context,
                client.url(),
                &request.command,
                &request.reason,
                &key,
                request.if_match,
            );
            // Nothing is sent that the journal does not hold: a crash must never hide an action.
            if let Err(error) = write_journal(&journal, {
                let entry = entry.clone();
                move |j| j.record_sent(&entry)
            })
            .await
            {
                let failure = CommandFailure {
                    kind: FailureKind::Rejected,
                    message: format!("not sent: the journal cannot be written ({error})"),
                };
                let _ = tx
                    .send(Msg::CommandFinished {
                        id: request.id,
                        result: Err(failure),
                    })
                    .await;
                return;
            }
            let _ = tx
                .send(Msg::CommandJournaled {
                    id: request.id,
                    key: key.clone(),
                })
                .await;
            let result = deliver(
                &client,
                &request.command,
                &request.reason,
                &key,
                request.if_match,
                ATTEMPTS,
            )
            .await;
            let outcome = match &result {
                Ok(accepted) => Outcome::accepted(accepted),
                Err(error) => Outcome::failed(error),
            };
            let entry_id = entry.id.clone();
            if let Err(error) =
                write_journal(&journal, move |j| j.record_result(&entry_id, outcome)).await
            {
                tracing::error!(%error, "cannot record a command's result in the journal");
            }
            let result = result.map_err(|error| failure_of(&error));
            let _ = tx
                .send(Msg::CommandFinished {
                    id: request.id,
                    result,
                })
                .await;
        });
    }

    pub fn fetch_audit(&self, source: String) {
        let Some(client) = self.clients.get(&source).cloned() else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = client
                .audit(Some(AUDIT_PAGE), None, None)
                .await
                .map(|page| page.entries)
                .map_err(|e| e.to_string());
            let _ = tx.send(Msg::AuditLoaded { source, result }).await;
        });
    }
}

/// fsync can take a while on a busy disk: it runs off the async workers.
async fn write_journal(
    journal: &Arc<Mutex<Journal>>,
    write: impl FnOnce(&mut Journal) -> std::io::Result<()> + Send + 'static,
) -> std::io::Result<()> {
    let journal = journal.clone();
    tokio::task::spawn_blocking(move || {
        let mut journal = journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        write(&mut journal)
    })
    .await
    .map_err(std::io::Error::other)?
}

fn failure_of(error: &ClientError) -> CommandFailure {
    let kind = if matches!(error, ClientError::Conflict { .. }) {
        FailureKind::Conflict
    } else if error.outcome_unknown() {
        FailureKind::Unknown
    } else {
        FailureKind::Rejected
    };
    CommandFailure {
        kind,
        message: error.to_string(),
    }
}
