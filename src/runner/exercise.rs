//! Effects of a tabletop exercise: a control of the drill, sent under a fresh idempotency key
//! (the same key on every retry, so a start or an end happens once), and the report's read.

use super::commands::Dispatcher;
use crate::app::{ControlOrder, Msg};
use crate::sources::delivery::{ATTEMPTS, deliver_with};

impl Dispatcher {
    pub fn control_exercise(&self, order: ControlOrder) {
        let tx = self.tx.clone();
        let Some(client) = self.client(&order.source) else {
            let result = Err(format!("no connection to source {}", order.source));
            let _ = tx.try_send(Msg::ExerciseControlled {
                id: order.id,
                result,
            });
            return;
        };
        tokio::spawn(async move {
            let key = uuid::Uuid::new_v4().to_string();
            let word = order.request.control.word();
            tracing::info!(source = %order.source, control = word, %key, "drill control");
            let (result, tries) = deliver_with(&key, ATTEMPTS, || {
                client.exercise_control(&order.request, &key)
            })
            .await;
            let result = result.map(Box::new).map_err(|error| {
                tracing::warn!(control = word, %key, tries, %error, "drill control failed");
                error.to_string()
            });
            let _ = tx
                .send(Msg::ExerciseControlled {
                    id: order.id,
                    result,
                })
                .await;
        });
    }

    pub fn fetch_exercise_report(&self, source: String) {
        let tx = self.tx.clone();
        let Some(client) = self.client(&source) else {
            let result = Err(format!("no connection to source {source}"));
            let _ = tx.try_send(Msg::ExerciseReportLoaded { source, result });
            return;
        };
        tokio::spawn(async move {
            let result = client.exercise_report().await;
            let result = result.map(Box::new).map_err(|error| error.to_string());
            let _ = tx.send(Msg::ExerciseReportLoaded { source, result }).await;
        });
    }
}
