//! Effects of the inbox: reading escalations, claiming and releasing them, and resolving
//! them exactly once (journaled first, sent again with the same key when no answer comes).

use crate::app::{ConfirmedResolution, EscalationFailure, FailureKind, Msg};
use crate::journal::{Entry, Outcome};
use crate::sources::delivery::{ATTEMPTS, deliver_with};
use crate::sources::paging::{self, Page};
use crate::sources::{BackendError, Client, EscalationBackend};
use futures::StreamExt;
use protocol::escalations::ResolveRequest as WireResolve;
use tokio::sync::mpsc;

use super::commands::Dispatcher;
use super::journaling::{failure_kind, write_journal};

impl Dispatcher {
    /// Pages through the open escalations of `source`, one message a page. A new load of a
    /// source replaces the one still running, so a reconnecting source never has two.
    pub fn fetch_escalations(&mut self, source: String) {
        let Some(backend) = self.backend(&source) else {
            return;
        };
        let tx = self.tx.clone();
        let slot = source.clone();
        let load = tokio::spawn(async move {
            match backend {
                EscalationBackend::Native(client) => load_pages(client, source, tx).await,
                EscalationBackend::Temporal { client, .. } => {
                    // Temporal's list is read whole (its own pages): one message.
                    let result = client.escalations(&[]).await.map_err(|e| e.to_string());
                    let loaded = Msg::EscalationsLoaded {
                        source,
                        result,
                        done: true,
                    };
                    let _ = tx.send(loaded).await;
                }
            }
        });
        if let Some(previous) = self.escalation_loads.insert(slot, load.abort_handle()) {
            previous.abort();
        }
    }

    pub fn fetch_escalation(&self, source: String, id: String) {
        let Some(backend) = self.backend(&source) else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = backend
                .escalation(&id)
                .await
                .map(Box::new)
                .map_err(|e| e.to_string());
            let _ = tx.send(Msg::EscalationLoaded { source, id, result }).await;
        });
    }

    pub fn claim(&self, source: String, id: String) {
        let Some(backend) = self.backend(&source) else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = match backend.claim(&id).await {
                Ok(summary) => summary.lease.ok_or_else(|| EscalationFailure {
                    kind: FailureKind::Rejected,
                    message: format!("{id} was not claimed: the server returned no lease"),
                    holder: None,
                    resolved_by: None,
                }),
                Err(error) => Err(failure_of(&error)),
            };
            let _ = tx.send(Msg::ClaimFinished { source, id, result }).await;
        });
    }

    pub fn release(&self, source: String, id: String) {
        let Some(backend) = self.backend(&source) else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = backend
                .release(&id, None)
                .await
                .map(|_| ())
                .map_err(|e| failure_of(&e));
            let _ = tx.send(Msg::ReleaseFinished { source, id, result }).await;
        });
    }

    pub fn resolve(&self, request: ConfirmedResolution) {
        let Some(backend) = self.backend(&request.source) else {
            return;
        };
        let (journal, tx, context) = (self.journal.clone(), self.tx.clone(), self.context.clone());
        tokio::spawn(async move {
            let key = uuid::Uuid::new_v4().to_string();
            let wire = WireResolve {
                resolution: request.resolution.clone(),
                note: request.note.clone(),
            };
            // Nothing is sent that the journal does not hold.
            let journaled =
                match Entry::for_resolution(&context, backend.url(), &request.id, &wire, &key) {
                    Ok(entry) => {
                        let sent = entry.clone();
                        write_journal(&journal, move |j| j.record_sent(&sent))
                            .await
                            .map(|()| entry)
                            .map_err(|error| format!("the journal cannot be written ({error})"))
                    }
                    Err(error) => Err(error.to_string()),
                };
            let entry = match journaled {
                Ok(entry) => entry,
                Err(why) => {
                    let failure = EscalationFailure {
                        kind: FailureKind::Rejected,
                        message: format!("not sent: {why}"),
                        holder: None,
                        resolved_by: None,
                    };
                    let result = Err(failure);
                    let _ = tx
                        .send(Msg::ResolveFinished {
                            local_id: request.local_id,
                            result,
                        })
                        .await;
                    return;
                }
            };
            let _ = tx
                .send(Msg::ResolveJournaled {
                    local_id: request.local_id,
                    key: key.clone(),
                })
                .await;
            let (result, _tries) =
                deliver_with(&key, ATTEMPTS, || backend.resolve(&request.id, &wire, &key)).await;
            let outcome = match &result {
                Ok(answer) => Outcome::Applied {
                    detail: protocol::sanitize::clean(&answer.consequence).into_owned(),
                },
                Err(error) => Outcome::failed(error),
            };
            let id = entry.id.clone();
            if let Err(error) =
                write_journal(&journal, move |j| j.record_result(&id, outcome)).await
            {
                tracing::error!(%error, "cannot record a resolution's answer in the journal");
            }
            let result = result.map_err(|e| failure_of(&e));
            let _ = tx
                .send(Msg::ResolveFinished {
                    local_id: request.local_id,
                    result,
                })
                .await;
        });
    }
}

/// Pages through a protocol v1 source's open escalations, one message a page, with the
/// list's length as progress when it says it.
async fn load_pages(client: Client, source: String, tx: mpsc::Sender<Msg>) {
    let mut pages = std::pin::pin!(paging::open_escalations(client, paging::MAX_PAGES));
    let mut counted = None;
    while let Some(Page {
        result,
        done,
        total,
    }) = pages.next().await
    {
        // The progress on screen: told when the list says how long it is.
        if let Some(total) = total
            && counted != Some(total)
        {
            counted = Some(total);
            let counted = Msg::EscalationsCounted {
                source: source.clone(),
                total,
            };
            if tx.send(counted).await.is_err() {
                return;
            }
        }
        let loaded = Msg::EscalationsLoaded {
            source: source.clone(),
            result,
            done,
        };
        if tx.send(loaded).await.is_err() {
            return;
        }
    }
}

/// A refused claim or resolution, with who holds or closed the task when the source says.
fn failure_of(error: &BackendError) -> EscalationFailure {
    EscalationFailure {
        kind: failure_kind(error.is_conflict(), error),
        message: error.to_string(),
        holder: error.holder(),
        resolved_by: error.resolved_by(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::journal::Journal;
    use crate::sources::SourceSpec;
    use crate::testing::endless_escalation_source;

    #[tokio::test]
    async fn a_new_load_replaces_the_running_one() {
        let (url, requests) =
            endless_escalation_source(0, false, std::time::Duration::from_millis(5)).await;
        let folder = tempfile::tempdir().unwrap();
        let journal = Journal::open(&folder.path().join("journal.jsonl")).unwrap();
        let (tx, mut rx) = mpsc::channel(4096);
        let spec = SourceSpec {
            name: "lab".into(),
            url,
            token: None,
        };
        let mut dispatcher = Dispatcher::new("test", &[spec], &[], journal, tx);
        // A reconnect storm: three loads asked for at once.
        for _ in 0..3 {
            dispatcher.fetch_escalations("lab".into());
        }
        let mut ends = 0;
        while let Some(msg) = rx.recv().await {
            if let Msg::EscalationsLoaded { done: true, .. } = msg {
                ends += 1;
                break;
            }
        }
        drop(dispatcher);
        // Only the last load ran to its end; each replaced one sent at most its first request.
        assert_eq!(ends, 1);
        let sent = requests.load(Ordering::SeqCst);
        assert!(sent <= paging::MAX_PAGES + 2, "{sent} requests");
    }
}
