//! Where a source's escalated tasks live and how they are acted on: a protocol v1 source, or
//! Temporal workflows (docs/temporal.md). The runner and the CLI open, claim, release and
//! resolve through this one type whatever the source's kind, so that the journal, the retries
//! under one idempotency key and the read-back are the same for both.

use protocol::escalations::{
    ClaimRequest, Escalation, EscalationSummary, ReleaseRequest, ResolveOutcome, ResolveRequest,
};

use super::delivery::SendFailure;
use super::temporal::{TemporalClient, TemporalError};
use super::{Client, ClientError};

#[derive(Clone, Debug)]
pub enum EscalationBackend {
    Native(Client),
    /// Temporal workflows; `operator` is who claims and resolves (Temporal knows no operators).
    Temporal {
        client: Box<TemporalClient>,
        operator: String,
    },
}

/// A failed request to either kind of source.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Native(#[from] ClientError),
    #[error(transparent)]
    Temporal(#[from] TemporalError),
}

impl EscalationBackend {
    /// The source's URL as messages and the journal name it.
    pub fn url(&self) -> &str {
        match self {
            EscalationBackend::Native(client) => client.url(),
            EscalationBackend::Temporal { client, .. } => client.url(),
        }
    }

    /// A task's detail with its lineage.
    pub async fn escalation(&self, id: &str) -> Result<Escalation, BackendError> {
        match self {
            EscalationBackend::Native(client) => Ok(client.escalation(id).await?),
            EscalationBackend::Temporal { client, .. } => Ok(client.escalation(id).await?),
        }
    }

    /// A lease on the task for the operator (renewed when they hold it already).
    pub async fn claim(&self, id: &str) -> Result<EscalationSummary, BackendError> {
        match self {
            EscalationBackend::Native(client) => Ok(client.claim(id, None).await?),
            EscalationBackend::Temporal { client, operator } => {
                let key = uuid::Uuid::new_v4().to_string();
                let request = ClaimRequest { lease_s: None };
                Ok(client.claim(id, operator, &key, &request).await?)
            }
        }
    }

    /// Gives the task back (only its holder may), with why when there is something to say.
    pub async fn release(
        &self,
        id: &str,
        note: Option<&str>,
    ) -> Result<EscalationSummary, BackendError> {
        match self {
            EscalationBackend::Native(client) => Ok(client.release(id, note).await?),
            EscalationBackend::Temporal { client, operator } => {
                let key = uuid::Uuid::new_v4().to_string();
                let request = ReleaseRequest {
                    note: note.map(str::to_string),
                };
                Ok(client.release(id, operator, &key, &request).await?)
            }
        }
    }

    /// Resolves the task under `key`: sent again with the same key, it acts once.
    pub async fn resolve(
        &self,
        id: &str,
        request: &ResolveRequest,
        key: &str,
    ) -> Result<ResolveOutcome, BackendError> {
        match self {
            EscalationBackend::Native(client) => Ok(client.resolve(id, request, key).await?),
            EscalationBackend::Temporal { client, operator } => {
                Ok(client.resolve(id, operator, key, request).await?)
            }
        }
    }
}

impl BackendError {
    /// Someone else holds or closed the task.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            BackendError::Native(ClientError::Conflict { .. })
                | BackendError::Temporal(TemporalError::Held { .. } | TemporalError::Closed { .. })
        )
    }

    /// Who holds the task, when that is why the request was refused.
    pub fn holder(&self) -> Option<String> {
        match self {
            BackendError::Native(error) => conflict_member(error, "holder"),
            BackendError::Temporal(TemporalError::Held { holder, .. }) => Some(holder.clone()),
            BackendError::Temporal(_) => None,
        }
    }

    /// Who resolved the task, when that is why the request was refused.
    pub fn resolved_by(&self) -> Option<String> {
        match self {
            BackendError::Native(error) => conflict_member(error, "resolved_by"),
            BackendError::Temporal(TemporalError::Closed { by, .. }) => Some(by.clone()),
            BackendError::Temporal(_) => None,
        }
    }
}

/// A member of a 409's current state (`holder`, `resolved_by`), cleaned for the screen.
fn conflict_member(error: &ClientError, name: &str) -> Option<String> {
    match error {
        ClientError::Conflict {
            current: Some(members),
            ..
        } => members
            .get(name)
            .and_then(|v| v.as_str())
            .map(|v| protocol::sanitize::clean(v).into_owned()),
        _ => None,
    }
}

impl SendFailure for BackendError {
    fn outcome_unknown(&self) -> bool {
        match self {
            BackendError::Native(error) => error.outcome_unknown(),
            BackendError::Temporal(error) => error.outcome_unknown(),
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            BackendError::Native(error) => error.status(),
            BackendError::Temporal(error) => error.status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_holder_or_the_resolver_whatever_the_kind() {
        let held = BackendError::from(TemporalError::Held {
            holder: "alice".into(),
            until: "T".into(),
        });
        assert!(held.is_conflict());
        assert_eq!(held.holder().as_deref(), Some("alice"));
        let closed = BackendError::from(TemporalError::Closed {
            by: "bob".into(),
            kind: "approve".into(),
            at: "T".into(),
        });
        assert_eq!(closed.resolved_by().as_deref(), Some("bob"));
        assert_eq!(closed.status(), Some(409));
        let down = BackendError::from(TemporalError::WorkerDown {
            workflow_id: "wf".into(),
            what: "switchboard_resolve".into(),
            after: std::time::Duration::from_secs(9),
        });
        assert!(down.outcome_unknown() && !down.is_conflict());
        assert_eq!(down.holder(), None);
    }
}
