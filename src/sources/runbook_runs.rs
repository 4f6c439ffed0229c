//! The client of protocol v1's runbook runs ([`protocol::runbook_runs`]): list, start, read,
//! record a step, say which step we are on, end. Changes by others arrive on the event stream
//! as [`super::SourceEvent::RunbookRun`].

use super::client::Client;
use super::error::ClientError;
use protocol::commands::{IDEMPOTENCY_KEY, IF_MATCH};
use protocol::endpoints;
use protocol::runbook_runs::{
    EndRunRequest, PresenceRequest, RecordStepRequest, RunList, RunState, RunbookRun,
    StartRunRequest, StepOutcome,
};

impl Client {
    /// `GET /v1/runbook-runs`: every run kept, newest first, and the stream revision to
    /// follow them from.
    pub async fn runbook_runs(&self) -> Result<RunList, ClientError> {
        let url = self.url_of(endpoints::RUNBOOK_RUNS, "")?;
        self.get_url(url, "runbook runs").await
    }

    /// `GET /v1/runbook-runs/{id}`
    pub async fn runbook_run(&self, id: &str) -> Result<RunbookRun, ClientError> {
        let url = self.url_of(endpoints::RUNBOOK_RUN, id)?;
        self.get_url(url, "runbook run").await
    }

    /// `POST /v1/runbook-runs` under `idempotency_key`: the same key again gets the same run.
    pub async fn start_run(
        &self,
        runbook_id: &str,
        runbook_version: u32,
        idempotency_key: &str,
    ) -> Result<RunbookRun, ClientError> {
        let request = StartRunRequest {
            runbook_id: runbook_id.to_string(),
            runbook_version,
        };
        let url = self.url_of(endpoints::START_RUN, "")?;
        let body = to_body("start request", &request)?;
        let headers = [(IDEMPOTENCY_KEY, idempotency_key)];
        self.post_json(url, &body, &headers, "started run").await
    }

    /// `POST /v1/runbook-runs/{id}/steps` on the run's `revision` we saw: a conflict
    /// ([`ClientError::Conflict`]) carries the run as it is now.
    pub async fn record_step(
        &self,
        run: &str,
        revision: u64,
        step: u32,
        outcome: StepOutcome,
        idempotency_key: &str,
    ) -> Result<RunbookRun, ClientError> {
        let request = RecordStepRequest { step, outcome };
        let url = self.url_of(endpoints::RUN_STEPS, run)?;
        let body = to_body("step record", &request)?;
        self.post_on_revision(url, &body, revision, idempotency_key, "step record")
            .await
            .map_err(|e| e.for_command(run))
    }

    /// `POST /v1/runbook-runs/{id}/presence`: we are on `step`. No key: saying it twice is
    /// saying it once.
    pub async fn run_presence(&self, run: &str, step: u32) -> Result<RunbookRun, ClientError> {
        let url = self.url_of(endpoints::RUN_PRESENCE, run)?;
        let body = to_body("presence", &PresenceRequest { step })?;
        self.post_json(url, &body, &[], "presence answer")
            .await
            .map_err(|e| e.for_command(run))
    }

    /// `POST /v1/runbook-runs/{id}/end`: finished, or abandoned with a reason.
    pub async fn end_run(
        &self,
        run: &str,
        revision: u64,
        state: RunState,
        reason: &str,
        idempotency_key: &str,
    ) -> Result<RunbookRun, ClientError> {
        let request = EndRunRequest {
            state,
            reason: reason.to_string(),
        };
        let url = self.url_of(endpoints::RUN_END, run)?;
        let body = to_body("end request", &request)?;
        self.post_on_revision(url, &body, revision, idempotency_key, "ended run")
            .await
            .map_err(|e| e.for_command(run))
    }

    async fn post_on_revision(
        &self,
        url: reqwest::Url,
        body: &serde_json::Value,
        revision: u64,
        idempotency_key: &str,
        what: &str,
    ) -> Result<RunbookRun, ClientError> {
        // An entity tag is quoted (RFC 9110); the server takes it bare too.
        let if_match = format!("\"{revision}\"");
        let headers = [
            (IDEMPOTENCY_KEY, idempotency_key),
            (IF_MATCH, if_match.as_str()),
        ];
        self.post_json(url, body, &headers, what).await
    }
}

/// The run as it is now, from a refused step record, presence or end (another console
/// recorded first, or the run ended).
pub fn conflicting_run(error: &ClientError) -> Option<RunbookRun> {
    match error {
        ClientError::Conflict {
            current: Some(current),
            ..
        } => serde_json::from_value(current.clone()).ok(),
        _ => None,
    }
}

pub(super) fn to_body(
    what: &str,
    request: &impl serde::Serialize,
) -> Result<serde_json::Value, ClientError> {
    serde_json::to_value(request).map_err(|e| ClientError::malformed(what, e))
}
