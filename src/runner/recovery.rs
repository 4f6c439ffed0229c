//! What became of journaled actions whose answer never came, asked of the system each one
//! went to: a protocol v1 source by its audit log, a Temporal resolution sent again under its
//! key, a Patroni promotion read from the cluster (never sent again), an Alertmanager silence
//! sent again under its key (which finds the one the first try made). The console settles
//! them on start and `switchboard journal` on demand, both through [`Recoverers::settle`].

use std::io;

use super::commands::Dispatcher;
use super::journaling::write_journal;
use crate::app::Msg;

use crate::journal::{Entry, Journal, Outcome, describe_recovered, resolve_pending};
use crate::sources::delivery::{ATTEMPTS, deliver_with};
use crate::sources::patroni::{PatroniClient, PatroniSpec};
use crate::sources::prometheus::{AlertmanagerClient, PrometheusSpec};
use crate::sources::temporal::{TemporalClient, TemporalSource};
use crate::sources::{Client, EscalationBackend, SourceSpec, Timeouts};
use protocol::escalations::ResolveRequest;

/// The systems of a context a journal entry may have gone to, each known by its URL.
#[derive(Clone, Default)]
pub struct Recoverers {
    /// Protocol v1 and Temporal sources: fleet commands and resolutions.
    pub backends: Vec<EscalationBackend>,
    /// Patroni clusters, with the URL that names each in the journal.
    pub patroni: Vec<(String, PatroniClient)>,
    /// The Alertmanagers of the metrics sources: silences.
    pub alertmanagers: Vec<AlertmanagerClient>,
}

impl Recoverers {
    /// Every system of a context's sources (a client that cannot be made is logged and left
    /// out: its entries stay unknown).
    pub fn of_context(
        sources: &[SourceSpec],
        temporal: &[TemporalSource],
        prometheus: &[PrometheusSpec],
        patroni: &[PatroniSpec],
    ) -> Recoverers {
        let skipped = |name: &str, error: &dyn std::fmt::Display| {
            tracing::error!(source = %name, %error, "no client to settle the journal with");
        };
        let mut recoverers = Recoverers::default();
        for spec in sources {
            match Client::new(&spec.url, spec.token.clone()) {
                Ok(client) => recoverers.backends.push(EscalationBackend::Native(client)),
                Err(error) => skipped(&spec.name, &error),
            }
        }
        for source in temporal {
            match TemporalClient::for_source(source, Timeouts::default()) {
                Ok(client) => recoverers.backends.push(EscalationBackend::Temporal {
                    client: Box::new(client),
                    operator: source.operator.clone(),
                }),
                Err(error) => skipped(&source.spec.name, &error),
            }
        }
        for spec in patroni {
            match spec.client(super::patroni::timeouts()) {
                Ok(client) => recoverers.patroni.push((spec.url().to_string(), client)),
                Err(error) => skipped(&spec.name, &error),
            }
        }
        for spec in prometheus {
            match spec.alertmanager() {
                Ok(alertmanager) => recoverers.alertmanagers.extend(alertmanager),
                Err(error) => skipped(&spec.name, &error),
            }
        }
        recoverers
    }

    /// Whether `entry` went to one of these systems.
    pub fn knows(&self, entry: &Entry) -> bool {
        (self.patroni.iter()).any(|(url, _)| entry.was_sent_to(url))
            || (self.alertmanagers.iter()).any(|c| entry.was_sent_to(c.url()))
            || (self.backends.iter()).any(|b| entry.was_sent_to(b.url()))
    }

    /// What became of `entry`, asked of the system it went to; unknown when it went to none
    /// of these.
    pub async fn settle(&self, entry: &Entry) -> Outcome {
        if let Some((_, cluster)) = (self.patroni.iter()).find(|(url, _)| entry.was_sent_to(url)) {
            return super::patroni::recover(cluster, entry).await;
        }
        if let Some(alertmanager) = (self.alertmanagers.iter()).find(|c| entry.was_sent_to(c.url()))
        {
            return super::silences::recover(alertmanager, entry).await;
        }
        match (self.backends.iter()).find(|b| entry.was_sent_to(b.url())) {
            Some(backend) => recover(backend, entry).await,
            None => Outcome::Unknown {
                message: format!(
                    "{} is not a source of this context: ask it there",
                    entry.source
                ),
            },
        }
    }
}

impl Recoverers {
    /// Settles each pending entry of `journal` sent to one of these systems and journals what
    /// is learnt; returns each with its outcome (still unknown ones too). The command line
    /// does this before it acts; the console, on start, reports each as it is settled.
    pub async fn settle_pending(&self, journal: &mut Journal) -> io::Result<Vec<(Entry, Outcome)>> {
        let mut settled = Vec::new();
        for entry in (journal.pending().into_iter()).filter(|e| self.knows(e)) {
            let outcome = self.settle(&entry).await;
            if !outcome.is_unknown() {
                journal.record_result(&entry.id, outcome.clone())?;
            }
            settled.push((entry, outcome));
        }
        Ok(settled)
    }
}

impl Dispatcher {
    /// Commands an earlier run sent without learning their fate (it crashed, or no answer
    /// came): asks each one's system what became of it ([`Recoverers::settle`]), records what
    /// it learns, and tells the console (its audit row and the problems).
    pub fn recover_pending(&self) {
        let pending = self
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pending();
        if pending.is_empty() {
            return;
        }
        let recoverers = Recoverers {
            backends: self.backends.values().cloned().collect(),
            patroni: self.patroni.values().cloned().collect(),
            alertmanagers: self.alertmanagers.values().cloned().collect(),
        };
        let (journal, tx) = (self.journal.clone(), self.tx.clone());
        tokio::spawn(async move {
            for entry in pending {
                let outcome = recoverers.settle(&entry).await;
                let text = format!("journal: {}", describe_recovered(&entry, &outcome));
                let settled = Msg::JournalSettled {
                    entry_id: entry.id.clone(),
                    outcome: super::history::journaled_outcome(Some(&outcome)),
                };
                if !outcome.is_unknown() {
                    let id = entry.id.clone();
                    if let Err(error) =
                        write_journal(&journal, move |j| j.record_result(&id, outcome)).await
                    {
                        tracing::error!(%error, "cannot record a recovered outcome in the journal");
                    }
                }
                if tx.send(settled).await.is_err() || tx.send(Msg::Problem(text)).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// What became of a journaled request whose answer never came: a protocol v1 source is asked
/// by its audit log; a resolution of a Temporal workflow is sent again under its key, which
/// Temporal answers with the first outcome, acting once.
async fn recover(backend: &EscalationBackend, entry: &Entry) -> Outcome {
    if let EscalationBackend::Native(client) = backend {
        return resolve_pending(client, entry).await;
    }
    let request = match serde_json::from_value::<ResolveRequest>(entry.command.body.clone()) {
        Ok(request) => request,
        Err(error) => {
            return Outcome::Unknown {
                message: format!("the journal's resolution cannot be read ({error})"),
            };
        }
    };
    let (id, key) = (&entry.command.target, &entry.idempotency_key);
    let (result, _tries) = deliver_with(key, ATTEMPTS, || backend.resolve(id, &request, key)).await;
    match result {
        Ok(answer) => Outcome::Applied {
            detail: protocol::sanitize::clean(&answer.consequence).into_owned(),
        },
        Err(error) => Outcome::failed(&error),
    }
}
