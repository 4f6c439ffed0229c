//! Effects that talk to the sources on the operator's behalf: commands (journaled before
//! they are sent) and audit reads. Each runs in its own tokio task and reports a message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::journaling::{failure_kind, write_journal};
use super::silences;
use crate::app::{CommandFailure, CommandRequest, FailureKind, Msg, SilenceOrder};
use crate::journal::{Entry, Journal, Outcome};
use crate::sources::approvals::refused_unheld;
use crate::sources::delivery::{ATTEMPTS, deliver};
use crate::sources::patroni::PatroniClient;
use crate::sources::prometheus::AlertmanagerClient;
use crate::sources::temporal::{TemporalClient, TemporalSource};
use crate::sources::{Client, ClientError, EscalationBackend, SourceSpec, Timeouts};

/// Audit entries asked for per page; later ones arrive as events.
const AUDIT_PAGE: u32 = 200;
/// Pages read to catch up after a reconnection: as many as the console keeps, so a server
/// that always answers with another page cannot keep the fetch going.
const AUDIT_CATCH_UP_PAGES: usize = crate::app::AUDIT_KEPT / AUDIT_PAGE as usize;

/// Carries out the effects that reach the sources (commands here, escalations in
/// `escalations.rs`): one client per source, the journal, and the channel results return by.
pub struct Dispatcher {
    pub(super) context: String,
    clients: HashMap<String, Client>,
    /// Shared with the tasks that write to it; never touched by the UI.
    pub(super) journal: Arc<Mutex<Journal>>,
    pub(super) tx: mpsc::Sender<Msg>,
    /// The inbox load running for each source: one slot per source.
    pub(super) escalation_loads: HashMap<String, AbortHandle>,
    /// Where each source's escalated tasks live, whatever its kind.
    pub(super) backends: HashMap<String, EscalationBackend>,
    /// The Patroni clusters promotions go to, by source name, with the URL that names each in
    /// the journal (see `runner/patroni.rs`).
    pub(super) patroni: HashMap<String, (String, PatroniClient)>,
    /// The Alertmanager of each metrics source that has one: silences go there.
    pub(super) alertmanagers: HashMap<String, AlertmanagerClient>,
}

impl Dispatcher {
    pub fn new(
        context: &str,
        sources: &[SourceSpec],
        temporal: &[TemporalSource],
        journal: Journal,
        tx: mpsc::Sender<Msg>,
    ) -> Dispatcher {
        let no_client = |name: &str, error: &ClientError| {
            tracing::error!(source = %name, %error, "no client for the source");
        };
        let clients: HashMap<String, Client> = sources
            .iter()
            .filter_map(|s| match Client::new(&s.url, s.token.clone()) {
                Ok(client) => Some((s.name.clone(), client)),
                Err(error) => {
                    no_client(&s.name, &error);
                    None
                }
            })
            .collect();
        let mut backends: HashMap<String, EscalationBackend> = (clients.iter())
            .map(|(name, client)| (name.clone(), EscalationBackend::Native(client.clone())))
            .collect();
        for source in temporal {
            match TemporalClient::for_source(source, Timeouts::default()) {
                Ok(client) => {
                    let backend = EscalationBackend::Temporal {
                        client: Box::new(client),
                        operator: source.operator.clone(),
                    };
                    backends.insert(source.spec.name.clone(), backend);
                }
                Err(error) => no_client(&source.spec.name, &error),
            }
        }
        Dispatcher {
            context: context.to_string(),
            clients,
            journal: Arc::new(Mutex::new(journal)),
            tx,
            escalation_loads: HashMap::new(),
            backends,
            patroni: HashMap::new(),
            alertmanagers: HashMap::new(),
        }
    }

    /// Creates or expires a silence in the source's Alertmanager (see [`silences::carry_out`]).
    pub fn silence(&self, order: SilenceOrder) {
        let Some(client) = self.alertmanagers.get(&order.source).cloned() else {
            let why = format!("source {} has no alertmanager_url", order.source);
            let _ = self.tx.try_send(Msg::SilenceFinished {
                local_id: order.local_id,
                result: Err(silences::not_sent(&why)),
            });
            return;
        };
        let (journal, tx, context) = (self.journal.clone(), self.tx.clone(), self.context.clone());
        tokio::spawn(silences::carry_out(order, client, journal, context, tx));
    }

    /// Silences of source `name` go to `client`, and its journaled ones are recovered there.
    pub fn add_alertmanager(&mut self, name: &str, client: AlertmanagerClient) {
        self.alertmanagers.insert(name.to_string(), client);
    }

    pub(super) fn backend(&self, source: &str) -> Option<EscalationBackend> {
        let backend = self.backends.get(source).cloned();
        if backend.is_none() {
            tracing::error!(source, "no client for the source");
        }
        backend
    }

    pub(super) fn client(&self, source: &str) -> Option<Client> {
        let client = self.clients.get(source).cloned();
        if client.is_none() {
            tracing::error!(source, "no client for the source");
        }
        client
    }

    pub fn send_command(&self, request: CommandRequest) {
        // The App marked the command for a second approver under the context's policy, on the
        // fleet it was confirmed on; a cluster has no one to hold it for one: refused, never sent.
        let held_why = (request.preflight.as_ref()).and_then(|p| p.needs_approval.as_deref());
        let unheld = match self.patroni.contains_key(&request.source) {
            true => held_why.map(|why| refused_unheld(why, "Patroni")),
            false => None,
        };
        if unheld.is_none() && self.send_to_patroni(&request) {
            return;
        }
        let client = match unheld {
            None => self.client(&request.source),
            Some(_) => None,
        };
        let Some(client) = client else {
            let failure = CommandFailure {
                kind: FailureKind::Rejected,
                message: unheld
                    .unwrap_or_else(|| format!("no connection to source {}", request.source)),
            };
            let _ = self.tx.try_send(Msg::CommandFinished {
                id: request.id,
                result: Err(failure),
            });
            return;
        };
        let (journal, tx, context) = (self.journal.clone(), self.tx.clone(), self.context.clone());
        tokio::spawn(async move {
            let preflight = request.preflight.clone();
            let key = uuid::Uuid::new_v4().to_string();
            let entry = Entry::new(
                &context,
                client.url(),
                &request.command,
                &request.reason,
                preflight.as_ref(),
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
            let (result, _tries) = deliver(
                &client,
                &request.command,
                &request.reason,
                preflight.as_ref(),
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

    /// Reads the newest page of the audit log or, given the newest entry already held, every
    /// page back to it.
    pub fn fetch_audit(&self, source: String, newer_than: Option<u64>) {
        let Some(client) = self.client(&source) else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = audit_since(&client, newer_than)
                .await
                .map_err(|e| e.to_string());
            let _ = tx.send(Msg::AuditLoaded { source, result }).await;
        });
    }
}

/// The newest audit entries, back to `newer_than` (one page without it), page by page; stops
/// at the page cap and when `next_before` does not point past the page's oldest entry.
async fn audit_since(
    client: &Client,
    newer_than: Option<u64>,
) -> Result<Vec<protocol::commands::AuditEntry>, ClientError> {
    let mut entries = Vec::new();
    let mut before = None;
    for _ in 0..AUDIT_CATCH_UP_PAGES {
        let page = client.audit(Some(AUDIT_PAGE), before, None).await?;
        let reached = match newer_than {
            Some(known) => page.entries.iter().any(|e| e.id <= known),
            None => true,
        };
        let oldest = page.entries.iter().map(|e| e.id).min();
        entries.extend(page.entries);
        match page.next_before {
            Some(next) if !reached && oldest.is_some_and(|o| next <= o) => before = Some(next),
            _ => break,
        }
    }
    Ok(entries)
}

fn failure_of(error: &ClientError) -> CommandFailure {
    CommandFailure {
        kind: failure_kind(matches!(error, ClientError::Conflict { .. }), error),
        message: error.to_string(),
    }
}

/// Whether a journal entry's source URL is this client's (the journal drops query and fragment).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::command::Command;
    use lab::{LabOptions, LabServer};
    use protocol::approvals::ApprovalPolicy;
    use protocol::commands::PreflightSeen;

    /// A console that died after sending a command learns on restart what became of it.
    #[tokio::test]
    async fn pending_commands_of_a_crashed_run_are_looked_up_by_key() {
        let lab = LabServer::start(LabOptions::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let spec = SourceSpec {
            name: "lab".into(),
            url: lab.url(),
            token: lab.token_for("bob").map(str::to_string),
        };
        let client = Client::new(&spec.url, spec.token.clone()).unwrap();
        let fleet = client.fleet().await.unwrap();
        let command = Command::Drain {
            region: "ap-south".into(),
            expires_in_s: Some(60),
        };
        let if_match = command.control_revision(&fleet).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("commands.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        // The first run journaled and sent this one, then died before recording the answer...
        let delivered = Entry::new(
            "drill",
            &spec.url,
            &command,
            "drill",
            None,
            "key-delivered",
            if_match,
        );
        journal.record_sent(&delivered).unwrap();
        client
            .command(&command, "drill", None, "key-delivered", if_match)
            .await
            .unwrap();
        // ...and journaled this one but died before sending it.
        let lost = Entry::new(
            "drill", &spec.url, &command, "drill", None, "key-lost", if_match,
        );
        journal.record_sent(&lost).unwrap();
        drop(journal);

        let (tx, mut rx) = mpsc::channel(8);
        let dispatcher = Dispatcher::new("drill", &[spec], &[], Journal::open(&path).unwrap(), tx);
        dispatcher.recover_pending();
        // Each one settled updates its audit row, then is told.
        let (mut told, mut settled) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            match tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await {
                Ok(Some(Msg::Problem(text))) => told.push(text),
                Ok(Some(Msg::JournalSettled { entry_id, outcome })) => {
                    settled.push((entry_id, outcome))
                }
                other => panic!("expected a report, got {other:?}"),
            }
        }
        assert_eq!(settled[0].0, delivered.id);
        assert!(
            matches!(&settled[1], (id, crate::app::JournaledOutcome::NotDone(_)) if *id == lost.id),
            "{settled:?}"
        );
        assert!(
            told[0].contains("key-delivered") && told[0].contains("accepted (audit #"),
            "{told:?}"
        );
        assert!(
            told[1].contains("key-lost") && told[1].contains("never reached the server"),
            "{told:?}"
        );
        // Both outcomes are in the journal now: nothing is pending any more.
        drop(dispatcher);
        assert!(Journal::open(&path).unwrap().pending().is_empty());
        lab.shutdown().await;
    }

    /// The answer of the first command that finishes.
    async fn answer(
        rx: &mut mpsc::Receiver<Msg>,
    ) -> Result<protocol::commands::CommandAccepted, CommandFailure> {
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await {
                Ok(Some(Msg::CommandFinished { result, .. })) => break result,
                Ok(Some(_)) => continue,
                other => panic!("expected the command's answer, got {other:?}"),
            }
        }
    }

    /// A drain the console confirmed under a policy naming drains, marked as the App marks it.
    fn marked_for_approval(command: &Command, fleet: &protocol::FleetSnapshot) -> PreflightSeen {
        let policy: ApprovalPolicy =
            serde_json::from_str(r#"{"verbs": ["drain", "promote"]}"#).unwrap();
        let seen = PreflightSeen {
            verdict: protocol::commands::PreflightVerdict::Ok,
            findings: Vec::new(),
            forced: false,
            needs_approval: None,
            approval_expires_after_s: None,
        };
        protocol::approvals::under_policy(Some(&policy), command, fleet, seen)
    }

    /// The context's policy reaches the source from the console as from the CLI: the lab,
    /// with no policy of its own, holds the drain the console marked.
    #[tokio::test]
    async fn a_command_the_contexts_policy_names_is_held_by_the_source() {
        let lab = LabServer::start(LabOptions::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let spec = SourceSpec {
            name: "lab".into(),
            url: lab.url(),
            token: lab.token_for("bob").map(str::to_string),
        };
        let client = Client::new(&spec.url, spec.token.clone()).unwrap();
        let command = Command::Drain {
            region: "us-west".into(),
            expires_in_s: None,
        };
        let fleet = client.fleet().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("commands.jsonl")).unwrap();
        let (tx, mut rx) = mpsc::channel(8);
        let dispatcher = Dispatcher::new("drill", &[spec], &[], journal, tx);
        dispatcher.send_command(CommandRequest {
            id: 1,
            source: "lab".into(),
            preflight: Some(marked_for_approval(&command, &fleet)),
            if_match: command.control_revision(&fleet).unwrap(),
            command,
            reason: "brownout".into(),
        });
        let held = answer(&mut rx).await.unwrap();
        let request = held.pending_approval.expect("held for a second approver");
        assert_eq!(request.why_approval, "every drain needs a second approver");
        lab.shutdown().await;
    }

    /// A cluster cannot hold a command for a second approver: a promotion the console marked
    /// is refused with the policy's why, nothing journaled, nothing sent (the member address
    /// answers nothing, so a send would fail differently).
    #[tokio::test]
    async fn a_command_held_for_approval_is_not_sent_to_a_cluster_that_cannot_hold_it() {
        use crate::sources::patroni::{PatroniSettings, PatroniSpec};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("commands.jsonl");
        let (tx, mut rx) = mpsc::channel(8);
        let mut dispatcher = Dispatcher::new("drill", &[], &[], Journal::open(&path).unwrap(), tx);
        dispatcher.add_patroni(&PatroniSpec {
            name: "orders-db".into(),
            urls: vec!["http://127.0.0.1:9".into()],
            credentials: None,
            settings: PatroniSettings {
                service: "orders".into(),
                members: Vec::new(),
                regions: Default::default(),
                poll_interval: std::time::Duration::from_secs(5),
            },
        });
        let command = Command::Promote {
            service: "orders".into(),
            replica: "node2".into(),
        };
        let preflight = marked_for_approval(&command, &protocol::FleetSnapshot::default());
        dispatcher.send_command(CommandRequest {
            id: 1,
            source: "orders-db".into(),
            command,
            reason: "failover drill".into(),
            preflight: Some(preflight),
            if_match: 0,
        });
        let refused = answer(&mut rx).await.unwrap_err();
        assert_eq!(
            (refused.kind, refused.message.as_str()),
            (
                FailureKind::Rejected,
                "the context's approval policy asks for a second approver (every promote needs a \
                 second approver), and Patroni cannot hold a command for one: nothing was sent"
            )
        );
        assert!(Journal::open(&path).unwrap().pending().is_empty());
    }

    /// A log of ids 1..=1000 served 200 a page, newest first; `loop_cursor` makes every page
    /// point back at the same cursor, as a broken server might. Counts the requests.
    async fn audit_server(loop_cursor: bool) -> (Client, Arc<Mutex<u32>>) {
        use axum::extract::{Query, State};
        let requests = Arc::new(Mutex::new(0));
        let counted = requests.clone();
        let page = move |State(requests): State<Arc<Mutex<u32>>>,
                         Query(query): Query<HashMap<String, u64>>| async move {
            *requests.lock().unwrap() += 1;
            let top = query.get("before").copied().unwrap_or(1001);
            let ids = (top.saturating_sub(200).max(1)..top).rev();
            let entries: Vec<_> = ids
                .map(|id| {
                    serde_json::json!({"id": id, "at": "2026-11-22T14:03:00Z", "actor": "bob",
                        "action": "drain", "target": "us-east", "reason": "r",
                        "outcome": "accepted"})
                })
                .collect();
            let next = if loop_cursor {
                1001
            } else {
                top.saturating_sub(200)
            };
            axum::Json(serde_json::json!({"entries": entries, "next_before": next}))
        };
        let router = axum::Router::new()
            .route("/v1/audit", axum::routing::get(page))
            .with_state(counted);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (Client::new(&url, None).unwrap(), requests)
    }

    #[tokio::test]
    async fn the_audit_catch_up_pages_back_to_the_newest_entry_held_and_no_further() {
        let (client, requests) = audit_server(false).await;
        let entries = audit_since(&client, Some(500)).await.unwrap();
        // Pages 1000..801, 800..601, 600..401: the third holds entry 500.
        assert_eq!(*requests.lock().unwrap(), 3);
        assert!(entries.iter().any(|e| e.id == 501));
        // Without a known entry, only the newest page is read.
        assert_eq!(audit_since(&client, None).await.unwrap().len(), 200);
        assert_eq!(*requests.lock().unwrap(), 4);
    }

    #[tokio::test]
    async fn a_cursor_that_does_not_go_back_ends_the_audit_catch_up() {
        let (client, requests) = audit_server(true).await;
        audit_since(&client, Some(1)).await.unwrap();
        assert_eq!(*requests.lock().unwrap(), 1);
    }
}
