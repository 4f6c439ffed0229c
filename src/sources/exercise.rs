//! The client of a lab's tabletop exercise ([`protocol::exercise`]): the drill as this
//! player may see it, the facilitator's and players' controls, the after-action report.
//! Changes arrive on the event stream as `exercise.changed`: fetch the state again then.

use super::client::Client;
use super::error::ClientError;
use protocol::commands::IDEMPOTENCY_KEY;
use protocol::endpoints;
use protocol::exercise::report::ExerciseReport;
use protocol::exercise::{Control, ControlRequest, ExerciseState};

impl Client {
    /// `GET /v1/exercise`: the drill as our role may see it; a 404 means the source runs none.
    pub async fn exercise(&self) -> Result<ExerciseState, ClientError> {
        let url = self.url_of(endpoints::EXERCISE, "")?;
        self.get_url(url, "exercise").await
    }

    /// `GET /v1/exercise/report`: the after-action report so far, final once the drill ended.
    pub async fn exercise_report(&self) -> Result<ExerciseReport, ClientError> {
        let url = self.url_of(endpoints::EXERCISE_REPORT, "")?;
        self.get_url(url, "exercise report").await
    }

    /// `POST /v1/exercise/control` under `idempotency_key`: the same key again is answered
    /// with the first outcome and does not act twice. Answers the drill as it is after it.
    pub async fn exercise_control(
        &self,
        control: Control,
        reason: &str,
        idempotency_key: &str,
    ) -> Result<ExerciseState, ClientError> {
        let word = control.word();
        let request = ControlRequest {
            control,
            reason: reason.to_string(),
        };
        let url = self.url_of(endpoints::EXERCISE_CONTROL, "")?;
        let body = serde_json::to_value(&request)
            .map_err(|e| ClientError::malformed("exercise control", e))?;
        let headers = [(IDEMPOTENCY_KEY, idempotency_key)];
        self.post_json(url, &body, &headers, "exercise state")
            .await
            .map_err(|e| e.for_command(&format!("exercise {word}")))
    }
}
