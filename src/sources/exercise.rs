//! The client of protocol v1's tabletop exercises ([`protocol::exercise`]): the drill as the
//! caller may see it, its controls, and its after-action report. Changes arrive on the event
//! stream as `exercise.changed`, after which the worker reads the drill again.

use super::client::Client;
use super::error::ClientError;
use super::runbook_runs::to_body;
use protocol::commands::IDEMPOTENCY_KEY;
use protocol::endpoints;
use protocol::exercise::report::ExerciseReport;
use protocol::exercise::{ControlRequest, ExerciseState};

impl Client {
    /// `GET /v1/exercise`: the drill as the caller may see it; `None` when the source runs
    /// none (404).
    pub async fn exercise(&self) -> Result<Option<ExerciseState>, ClientError> {
        let url = self.url_of(endpoints::EXERCISE, "")?;
        match self.get_url(url, "exercise").await {
            Ok(state) => Ok(Some(state)),
            Err(error) if error.status() == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `POST /v1/exercise/control` under `idempotency_key`: the same key again gets the first
    /// answer, never a second start, inject or end.
    pub async fn exercise_control(
        &self,
        request: &ControlRequest,
        idempotency_key: &str,
    ) -> Result<ExerciseState, ClientError> {
        let url = self.url_of(endpoints::EXERCISE_CONTROL, "")?;
        let body = to_body("exercise control", request)?;
        let headers = [(IDEMPOTENCY_KEY, idempotency_key)];
        self.post_json(url, &body, &headers, "exercise").await
    }

    /// `GET /v1/exercise/report`: the after-action report (provisional until the drill ends).
    pub async fn exercise_report(&self) -> Result<ExerciseReport, ClientError> {
        let url = self.url_of(endpoints::EXERCISE_REPORT, "")?;
        self.get_url(url, "exercise report").await
    }
}
