//! Promotions performed by Patroni, from the console and the CLI alike: the cluster is read
//! again and the promotion planned against it (refused when the cluster moved since the
//! operator confirmed), journaled before it is sent, sent naming the leader it was planned
//! against, and followed until the new leader runs. Patroni keeps no idempotency key: a
//! promotion whose answer was lost is never sent again, its fate is read from the cluster.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use super::commands::Dispatcher;
use super::journaling::write_journal;
use crate::app::{CommandFailure, CommandRequest, FailureKind, Msg};
use crate::domain::command::Command;
use crate::journal::{Entry, Journal, Outcome, SentCommand};
use crate::sources::Timeouts;
use crate::sources::patroni::{Cluster, PatroniClient, PatroniError, PatroniSpec, Promotion};
use protocol::commands::{CommandAccepted, Operation, OperationState};

/// How long a promotion is followed before its outcome is called unknown: a switchover
/// restarts the old leader, which takes seconds, more on a loaded machine.
pub const FOLLOW_FOR: Duration = Duration::from_secs(60);

/// A switchover answers once Patroni has done it: give it longer than a read.
pub fn timeouts() -> Timeouts {
    Timeouts {
        request: Duration::from_secs(40),
        ..Timeouts::default()
    }
}

/// A promotion ready to be journaled and sent.
#[derive(Debug)]
pub struct Prepared {
    pub plan: crate::sources::patroni::PromotionPlan,
    pub entry: Entry,
    /// The plan's warnings (lag, failover), as the operator saw them.
    pub warnings: Vec<String>,
}

/// Reads the cluster and plans `command` (a promotion) against it. `confirmed_on` is the
/// leader's timeline the operator confirmed on: a cluster that has moved since is not acted
/// on. Nothing is sent here.
pub async fn prepare(
    client: &PatroniClient,
    context: &str,
    url: &str,
    command: &Command,
    reason: &str,
    confirmed_on: Option<u64>,
) -> Result<Prepared, PatroniError> {
    let Command::Promote { service, replica } = command else {
        return Err(PatroniError::NotSendable(format!(
            "Patroni has no {}",
            command.verb()
        )));
    };
    let cluster = client.cluster().await?;
    let max_lag = client.max_lag_on_failover().await?;
    // A cluster that moved since the operator looked is said so first: that is the news.
    let timeline = leader_timeline(&cluster);
    if let Some(confirmed) = confirmed_on.filter(|t| *t != timeline) {
        let leads = cluster
            .healthy_leader()
            .map_or("no member leads".to_string(), |m| {
                format!("{} leads", m.name)
            });
        return Err(PatroniError::NotSendable(format!(
            "the cluster changed since it was confirmed (timeline {confirmed} -> {timeline}, \
             {leads} now): read it again"
        )));
    }
    let plan = (cluster.plan_promotion(replica, max_lag)).map_err(PatroniError::NotSendable)?;
    let (verb, path, body) = match &plan.promotion {
        Promotion::Switchover { leader } => (
            "switchover",
            "switchover",
            json!({"leader": leader, "candidate": replica}),
        ),
        Promotion::Failover => ("failover", "failover", json!({"candidate": replica})),
    };
    let sent = SentCommand {
        verb: format!("promote ({verb})"),
        target: format!("{service}/{replica}"),
        path: path.to_string(),
        body,
    };
    let key = uuid::Uuid::new_v4().to_string();
    let entry = Entry::for_request(context, url, sent, reason, &key, Some(timeline));
    Ok(Prepared {
        warnings: plan.warnings.clone(),
        plan,
        entry,
    })
}

fn leader_timeline(cluster: &Cluster) -> u64 {
    cluster
        .healthy_leader()
        .and_then(|m| m.timeline)
        .unwrap_or(0)
}

/// Sends the prepared promotion and follows it until the candidate leads and runs; the
/// outcome to journal comes with the result. An answer that never came is settled by
/// reading the cluster, never by sending again.
pub async fn send(
    client: &PatroniClient,
    prepared: &Prepared,
) -> (Result<Cluster, PatroniError>, Outcome) {
    let candidate = &prepared.plan.candidate;
    let result = match client.promote(&prepared.plan).await {
        Ok(_) => client.follow(candidate, FOLLOW_FOR).await,
        Err(error) if error.outcome_unknown() => match client.follow(candidate, FOLLOW_FOR).await {
            Ok(cluster) => Ok(cluster),
            Err(_) => Err(error),
        },
        Err(error) => Err(error),
    };
    let outcome = match &result {
        Ok(cluster) => Outcome::Applied {
            detail: led_by(cluster, candidate),
        },
        Err(error) if error.outcome_unknown() => Outcome::Unknown {
            message: error.to_string(),
        },
        Err(error) => Outcome::Rejected {
            status: match error {
                PatroniError::Refused { status, .. } => Some(*status),
                _ => None,
            },
            message: error.to_string(),
        },
    };
    (result, outcome)
}

fn led_by(cluster: &Cluster, candidate: &str) -> String {
    let timeline = (cluster.member(candidate).and_then(|m| m.timeline))
        .map_or(String::new(), |t| format!(" on timeline {t}"));
    format!("{candidate} leads and runs{timeline}")
}

/// What became of a journaled promotion whose answer never came, read from the cluster:
/// applied when its candidate leads; otherwise said as not applied, and not sent again.
pub async fn recover(client: &PatroniClient, entry: &Entry) -> Outcome {
    let Some(candidate) = entry.command.body.get("candidate").and_then(|c| c.as_str()) else {
        return Outcome::Unknown {
            message: "the journal entry names no candidate".into(),
        };
    };
    match client.cluster().await {
        Ok(cluster) => match cluster.healthy_leader() {
            Some(leader) if leader.name == candidate => Outcome::Applied {
                detail: led_by(&cluster, candidate),
            },
            Some(leader) => Outcome::Rejected {
                status: None,
                message: format!(
                    "not applied: {} leads (read from the cluster; nothing was sent again)",
                    leader.name
                ),
            },
            None => Outcome::Unknown {
                message: "no member leads yet: read again later".into(),
            },
        },
        Err(error) => Outcome::Unknown {
            message: error.to_string(),
        },
    }
}

impl Dispatcher {
    /// Makes the Patroni source `spec` one the console promotes through.
    pub fn add_patroni(&mut self, spec: &PatroniSpec) {
        match spec.client(timeouts()) {
            Ok(client) => {
                let entry = (spec.url().to_string(), client);
                self.patroni.insert(spec.name.clone(), entry);
            }
            Err(error) => tracing::error!(source = %spec.name, %error, "no client for the source"),
        }
    }

    /// Sends `request` through Patroni when its source is a Patroni cluster; false otherwise.
    pub(super) fn send_to_patroni(&self, request: &CommandRequest) -> bool {
        let Some((url, client)) = self.patroni.get(&request.source).cloned() else {
            return false;
        };
        let (journal, tx, context) = (self.journal.clone(), self.tx.clone(), self.context.clone());
        let request = request.clone();
        tokio::spawn(async move { perform(&client, &journal, &context, &url, request, &tx).await });
        true
    }
}

/// Carries out a console's promotion request on the cluster `client` reaches (its first
/// member at `url`): prepared against the cluster now, journaled, sent, followed; what
/// became of it is reported to the app as the other commands' results are.
pub async fn perform(
    client: &PatroniClient,
    journal: &Arc<Mutex<Journal>>,
    context: &str,
    url: &str,
    request: CommandRequest,
    tx: &mpsc::Sender<Msg>,
) {
    let finished = |result| Msg::CommandFinished {
        id: request.id,
        result,
    };
    let prepared = prepare(
        client,
        context,
        url,
        &request.command,
        &request.reason,
        Some(request.if_match),
    )
    .await;
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            let _ = tx.send(finished(Err(failure(&error)))).await;
            return;
        }
    };
    let entry = prepared.entry.clone();
    // Nothing is sent that the journal does not hold.
    if let Err(error) = write_journal(journal, move |j| j.record_sent(&entry)).await {
        let failure = CommandFailure {
            kind: FailureKind::Rejected,
            message: format!("not sent: the journal cannot be written ({error})"),
        };
        let _ = tx.send(finished(Err(failure))).await;
        return;
    }
    let key = prepared.entry.idempotency_key.clone();
    let _ = tx
        .send(Msg::CommandJournaled {
            id: request.id,
            key,
        })
        .await;
    let (result, outcome) = send(client, &prepared).await;
    let entry_id = prepared.entry.id.clone();
    if let Err(error) = write_journal(journal, move |j| j.record_result(&entry_id, outcome)).await {
        tracing::error!(%error, "cannot record a promotion's result in the journal");
    }
    let result = match result {
        Ok(cluster) => Ok(accepted(&prepared, &cluster)),
        Err(error) => Err(failure(&error)),
    };
    let _ = tx.send(finished(result)).await;
}

/// A followed promotion as the console shows an accepted command: no audit id (Patroni
/// keeps no audit log of ours; the console's own audit rows and the journal hold it), the
/// new leader's timeline as the control revision, the promotion as a finished operation.
fn accepted(prepared: &Prepared, cluster: &Cluster) -> CommandAccepted {
    let candidate = &prepared.plan.candidate;
    let now = chrono::Utc::now();
    CommandAccepted {
        audit_id: 0,
        revision: 0,
        control_revision: leader_timeline(cluster),
        operation: Some(Operation {
            id: prepared.entry.idempotency_key.clone(),
            kind: prepared.entry.command.verb.clone(),
            target: prepared.entry.command.target.clone(),
            state: OperationState::Succeeded,
            progress: 1.0,
            message: led_by(cluster, candidate),
            started_at: prepared.entry.at,
            finished_at: Some(now),
            eta: None,
        }),
        warnings: prepared.warnings.clone(),
        pending_approval: None,
    }
}

fn failure(error: &PatroniError) -> CommandFailure {
    let kind = match error {
        e if e.outcome_unknown() => FailureKind::Unknown,
        PatroniError::LeaderChanged { .. } => FailureKind::Conflict,
        _ => FailureKind::Rejected,
    };
    CommandFailure {
        kind,
        message: error.to_string(),
    }
}
