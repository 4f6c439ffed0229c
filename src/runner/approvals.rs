//! Decisions on requests of the two-person rule: approve, deny or withdraw, each sent under its
//! own idempotency key (the same one on every retry, and on the operator's next try when no
//! answer came), so the source decides once. Not journaled: the source's audit log records each
//! decision under its key, and one whose answer was lost is asked again under the same key.

use super::commands::Dispatcher;
use super::journaling::failure_kind;
use crate::app::{DecisionFailure, DecisionOrder, Msg};
use crate::sources::ClientError;
use crate::sources::approvals::decided_request;
use crate::sources::delivery::{ATTEMPTS, deliver_with};

impl Dispatcher {
    pub fn decide(&self, order: DecisionOrder) {
        let tx = self.tx.clone();
        let key = (order.key.clone()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let Some(client) = self.client(&order.source) else {
            let failure = DecisionFailure {
                kind: crate::app::FailureKind::Rejected,
                status: None,
                message: format!("no connection to source {}", order.source),
                current: None,
            };
            let _ = tx.try_send(Msg::Decided {
                id: order.id,
                key,
                result: Err(failure),
            });
            return;
        };
        tokio::spawn(async move {
            let verb = order.kind.word();
            tracing::info!(source = %order.source, approval = %order.approval, verb, %key, "decision");
            let (result, tries) = deliver_with(&key, ATTEMPTS, || {
                client.decide_approval(&order.approval, order.kind, &order.reason, &key)
            })
            .await;
            let result = result.map(Box::new).map_err(|error| {
                tracing::warn!(approval = %order.approval, verb, %key, tries, %error, "decision failed");
                failure_of(&error)
            });
            let _ = tx
                .send(Msg::Decided {
                    id: order.id,
                    key,
                    result,
                })
                .await;
        });
    }
}

fn failure_of(error: &ClientError) -> DecisionFailure {
    DecisionFailure {
        kind: failure_kind(matches!(error, ClientError::Conflict { .. }), error),
        status: error.status(),
        message: error.to_string(),
        current: decided_request(error).map(Box::new),
    }
}
