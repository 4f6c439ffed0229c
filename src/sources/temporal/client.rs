//! The client of one Temporal namespace over its HTTP API: the list of escalations (a
//! visibility query over search attributes, rows from the memo), a task's detail (the Query,
//! with the lineage from the event history), and claim, release and resolve as Updates whose
//! id is the idempotency key.

use std::fmt;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::TemporalError;
use super::lineage::{Subject, lineage};
use super::settings::TemporalSource;
use super::wire::{
    self, Described, Event, ExecutionInfo, HistoryPage, ListPage, QueryAnswer, RpcStatus,
    UpdateAnswer, cleaned,
};
use super::{Names, TemporalSpec};
use crate::config::temporal::read_roots;
use crate::sources::client::{MAX_BODY_BYTES, Timeouts, http_trusting, read_bounded};
use crate::sources::error::{ClientError, bounded};
use protocol::escalations::{
    Candidate, ClaimRequest, Escalation, EscalationState, EscalationSummary, Priority,
    ReleaseRequest, ResolveOutcome, ResolveRequest,
};

/// Executions asked for per list page (the most the frontend gives by default).
const LIST_PAGE_SIZE: u32 = 1000;
/// Events asked for per history page.
const HISTORY_PAGE_SIZE: u32 = 1000;
/// Pages read at most for one list or one history, so that a server sending tokens forever
/// cannot keep a request going.
const MAX_PAGES: usize = 1000;
/// How much sooner than the HTTP timeout the server is asked to give up, so that its own
/// answer ("deadline exceeded") arrives and says what happened.
const SERVER_MARGIN: Duration = Duration::from_secs(1);
/// Largest error body read.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// A client of one Temporal namespace. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct TemporalClient {
    http: reqwest::Client,
    base: Url,
    namespace: String,
    api_key: Option<String>,
    names: Names,
    timeouts: Timeouts,
}

impl fmt::Debug for TemporalClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporalClient")
            .field("base", &self.base.as_str())
            .field("namespace", &self.namespace)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// Which workflow a request is about and what it does, for the errors that name them.
struct About<'a> {
    workflow_id: &'a str,
    what: &'a str,
}

impl TemporalClient {
    pub fn new(spec: &TemporalSpec, timeouts: Timeouts) -> Result<Self, ClientError> {
        Self::trusting(spec, timeouts, Vec::new())
    }

    /// The client of a configured source: its CA file, if any, trusted beside the system's.
    pub fn for_source(source: &TemporalSource, timeouts: Timeouts) -> Result<Self, ClientError> {
        let roots = match &source.ca_file {
            Some(path) => read_roots(path).map_err(|reason| ClientError::InvalidUrl {
                url: bounded(&source.spec.url),
                reason,
            })?,
            None => Vec::new(),
        };
        Self::trusting(&source.spec, timeouts, roots)
    }

    fn trusting(
        spec: &TemporalSpec,
        timeouts: Timeouts,
        roots: Vec<reqwest::Certificate>,
    ) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: bounded(&spec.url),
            reason: reason.to_string(),
        };
        spec.names.check().map_err(|reason| invalid(&reason))?;
        if spec.namespace.is_empty() {
            return Err(invalid("no namespace"));
        }
        let (http, mut base) = http_trusting(&spec.url, timeouts, roots)?;
        base.path_segments_mut()
            .map_err(|()| invalid("the URL cannot have a path"))?
            .pop_if_empty()
            .extend(["api", "v1", "namespaces", &spec.namespace]);
        Ok(TemporalClient {
            http,
            base,
            namespace: spec.namespace.clone(),
            api_key: spec.api_key.clone(),
            names: spec.names.clone(),
            timeouts,
        })
    }

    /// The namespace's URL as shown in messages.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// The visibility query for escalations in `states` (all open ones when empty). Open
    /// states are asked of running workflows only: a workflow terminated, timed out or failed
    /// while it waited keeps its last `pending` or `claimed` attribute, but nobody can resolve
    /// it any more.
    pub fn visibility_query(&self, states: &[EscalationState]) -> String {
        let states = match states {
            [] => &[EscalationState::Pending, EscalationState::Claimed][..],
            some => some,
        };
        let words: Vec<String> = states.iter().map(|s| format!("'{}'", s.word())).collect();
        let query = format!("{} IN ({})", self.names.state, words.join(","));
        let open =
            |s: &EscalationState| matches!(s, EscalationState::Pending | EscalationState::Claimed);
        if states.iter().all(open) {
            format!("{query} AND ExecutionStatus = 'Running'")
        } else {
            query
        }
    }

    /// Every escalation in `states`, soonest SLA deadline first (sorted here: not every
    /// visibility store can order by a custom search attribute).
    ///
    /// The server's cost is per row returned (about half a millisecond of its CPU each, see
    /// benches/temporal_list.rs), so the list is read as disjoint slices at once, one per
    /// priority and one for every other value, each page by page: a server with cores to
    /// spare (or a cluster) serves them side by side. A workflow that changes slice between
    /// two reads can show twice: it is kept once, at its highest revision.
    pub async fn escalations(
        &self,
        states: &[EscalationState],
    ) -> Result<Vec<EscalationSummary>, TemporalError> {
        let query = self.visibility_query(states);
        let slices = self.priority_slices(&query);
        let pages = futures::future::try_join_all(slices.iter().map(|q| self.all_pages(q)));
        let mut rows: Vec<EscalationSummary> = pages.await?.into_iter().flatten().collect();
        rows.sort_by(|a, b| a.id.cmp(&b.id).then(b.revision.cmp(&a.revision)));
        rows.dedup_by(|later, kept| later.id == kept.id);
        rows.sort_by(|a, b| a.sla_deadline.cmp(&b.sla_deadline).then(a.id.cmp(&b.id)));
        Ok(rows)
    }

    /// `query` cut into disjoint slices that together hold all of it: one per priority of
    /// the contract, and one for a missing or unknown priority.
    pub fn priority_slices(&self, query: &str) -> Vec<String> {
        let attribute = &self.names.priority;
        let mut slices: Vec<String> = Priority::ALL
            .iter()
            .map(|p| format!("({query}) AND {attribute} = '{}'", p.word()))
            .collect();
        let unknown: Vec<String> = Priority::ALL
            .iter()
            .map(|p| format!("{attribute} != '{}'", p.word()))
            .collect();
        slices.push(format!(
            "({query}) AND ({attribute} IS NULL OR ({}))",
            unknown.join(" AND ")
        ));
        slices
    }

    /// Every row of one visibility query, page by page.
    async fn all_pages(&self, query: &str) -> Result<Vec<EscalationSummary>, TemporalError> {
        let about = About {
            workflow_id: "",
            what: "list",
        };
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = self.url_of(&["workflows"]);
            url.query_pairs_mut()
                .append_pair("query", query)
                .append_pair("pageSize", &LIST_PAGE_SIZE.to_string());
            if let Some(token) = &token {
                url.query_pairs_mut().append_pair("nextPageToken", token);
            }
            let page: ListPage = self.call(Method::GET, url, None, &about).await?;
            rows.extend(page.executions.iter().map(|e| self.summary(e)));
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(rows)
    }

    /// One inbox row: the memo's summary, or what the search attributes say when the memo is
    /// missing or unreadable (the row then says so).
    fn summary(&self, execution: &ExecutionInfo) -> EscalationSummary {
        if let Some(memo) = execution.memo(&self.names.memo)
            && let Ok(summary) = serde_json::from_value::<EscalationSummary>(memo)
        {
            return summary;
        }
        let attribute = |name: &str| execution.attribute(name).map(cleaned);
        let word = |name: &str, default: &str| {
            attribute(name).unwrap_or_else(|| Value::String(default.into()))
        };
        let id = bounded(&execution.execution.workflow_id);
        let started = execution.start_time.unwrap_or_default();
        let fallback = json!({
            "id": id,
            "workflow_id": id,
            "run_id": bounded(&execution.execution.run_id),
            "workflow_type": bounded(&execution.workflow_type.name),
            "step": "",
            "service": word(&self.names.service, "unknown"),
            "priority": word(&self.names.priority, "p1"),
            "sla_deadline": attribute(&self.names.deadline).unwrap_or_else(|| json!(started)),
            "reason": word(&self.names.reason, "policy"),
            "reason_text": format!("no readable '{}' memo: see docs/temporal.md", self.names.memo),
            "input_preview": "",
            "state": word(&self.names.state, "pending"),
            "assignee": attribute(&self.names.assignee),
            "created_at": started,
            "attempts": 0,
            "revision": 0,
        });
        serde_json::from_value(cleaned(fallback.clone())).unwrap_or_else(|_| {
            // Words outside the contract (a priority "urgent"): the row still shows, as P1.
            let mut fallback = fallback;
            fallback["priority"] = json!("p1");
            fallback["reason"] = json!("policy");
            fallback["state"] = json!("pending");
            fallback["sla_deadline"] = json!(started);
            serde_json::from_value(cleaned(fallback)).expect("the fallback row is well formed")
        })
    }

    /// The escalation's detail: the Query's answer, with the lineage from the history.
    pub async fn escalation(&self, workflow_id: &str) -> Result<Escalation, TemporalError> {
        let about = About {
            workflow_id,
            what: "query",
        };
        let url = self.url_of(&["workflows", workflow_id, "query", &self.names.query]);
        let body = json!({"query": {"queryType": self.names.query}});
        let answer: QueryAnswer = self.call(Method::POST, url, Some(body), &about).await?;
        if let Some(rejected) = answer.query_rejected {
            let detail = format!("query rejected: {}", bounded(&rejected.to_string()));
            return Err(TemporalError::Refused { detail });
        }
        let Some(value) = wire::payloads(answer.query_result.as_ref())
            .into_iter()
            .next()
        else {
            return Err(ClientError::malformed("escalation query answer", "no result").into());
        };
        let mut value = cleaned(value);
        let summary: EscalationSummary = serde_json::from_value(value["summary"].clone())
            .map_err(|e| ClientError::malformed("escalation query answer", e))?;
        let events = self.history(workflow_id, &summary.run_id).await?;
        let candidates: Vec<Candidate> =
            serde_json::from_value(value["candidates"].clone()).unwrap_or_default();
        let subject = Subject {
            workflow_id: &summary.workflow_id,
            run_id: &summary.run_id,
            workflow_type: &summary.workflow_type,
            escalated_step: &summary.step,
            candidates: &candidates,
        };
        value["lineage"] = serde_json::to_value(lineage(&subject, &events))
            .map_err(|e| ClientError::malformed("lineage", e))?;
        serde_json::from_value(value).map_err(|e| ClientError::malformed("escalation", e).into())
    }

    /// Every event of a run's history, page by page.
    pub async fn history(
        &self,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<Vec<Event>, TemporalError> {
        let about = About {
            workflow_id,
            what: "history",
        };
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = self.url_of(&["workflows", workflow_id, "history"]);
            url.query_pairs_mut()
                .append_pair("maximumPageSize", &HISTORY_PAGE_SIZE.to_string());
            if !run_id.is_empty() {
                url.query_pairs_mut().append_pair("execution.runId", run_id);
            }
            if let Some(token) = &token {
                url.query_pairs_mut().append_pair("nextPageToken", token);
            }
            let page: HistoryPage = self.call(Method::GET, url, None, &about).await?;
            events.extend(page.history.events);
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(events)
    }

    /// The workflow as its describe answer has it (memo, search attributes, status).
    pub async fn describe(&self, workflow_id: &str) -> Result<ExecutionInfo, TemporalError> {
        let about = About {
            workflow_id,
            what: "describe",
        };
        let url = self.url_of(&["workflows", workflow_id]);
        let described: Described = self.call(Method::GET, url, None, &about).await?;
        Ok(described.workflow_execution_info)
    }

    /// The claim Update: a lease for `operator`; `key` is the Update id.
    pub async fn claim(
        &self,
        workflow_id: &str,
        operator: &str,
        key: &str,
        request: &ClaimRequest,
    ) -> Result<EscalationSummary, TemporalError> {
        let mut argument = json!({"operator": operator});
        if let Some(lease_s) = request.lease_s {
            argument["lease_s"] = json!(lease_s);
        }
        self.update(workflow_id, &self.names.claim, operator, key, argument)
            .await
    }

    /// The release Update; only the holder may release.
    pub async fn release(
        &self,
        workflow_id: &str,
        operator: &str,
        key: &str,
        request: &ReleaseRequest,
    ) -> Result<EscalationSummary, TemporalError> {
        let mut argument = json!({"operator": operator});
        if let Some(note) = &request.note {
            argument["note"] = json!(note);
        }
        self.update(workflow_id, &self.names.release, operator, key, argument)
            .await
    }

    /// The resolve Update, `key` being the resolution's idempotency key: sent again with the
    /// same key it answers the first outcome and acts once, even after the workflow closed.
    /// A workflow that closed under another key is read back to say who resolved it and how
    /// (as for every Update).
    pub async fn resolve(
        &self,
        workflow_id: &str,
        operator: &str,
        key: &str,
        request: &ResolveRequest,
    ) -> Result<ResolveOutcome, TemporalError> {
        let argument = json!({
            "operator": operator,
            "resolution": request.resolution,
            "note": request.note,
        });
        self.update(workflow_id, &self.names.resolve, operator, key, argument)
            .await
    }

    /// Why a request found the workflow closed: who resolved it and how, from the memo.
    async fn closed_by_whom(&self, workflow_id: &str, detail: String) -> TemporalError {
        let gone = TemporalError::WorkflowGone {
            workflow_id: bounded(workflow_id),
            detail,
        };
        let Ok(execution) = self.describe(workflow_id).await else {
            return gone;
        };
        match self.summary(&execution).resolution {
            Some(brief) => TemporalError::Closed {
                by: brief.by,
                kind: brief.kind.word().to_string(),
                at: brief.at.to_rfc3339(),
            },
            None => gone,
        }
    }

    async fn update<T: DeserializeOwned>(
        &self,
        workflow_id: &str,
        name: &str,
        operator: &str,
        key: &str,
        argument: Value,
    ) -> Result<T, TemporalError> {
        let about = About {
            workflow_id,
            what: name,
        };
        let url = self.url_of(&["workflows", workflow_id, "update", name]);
        let body = json!({
            "request": {
                "meta": {"updateId": key, "identity": operator},
                "input": {"name": name, "args": [argument]},
            },
            "waitPolicy": {"lifecycleStage": "UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED"},
        });
        // A workflow that closed since: who resolved it and how, read back from its memo.
        let answer: UpdateAnswer = match self.call(Method::POST, url, Some(body), &about).await {
            Err(TemporalError::WorkflowGone { detail, .. }) => {
                return Err(self.closed_by_whom(workflow_id, detail).await);
            }
            answer => answer?,
        };
        let Some(outcome) = answer.outcome else {
            // Admitted but not completed before the server's deadline: no worker took it.
            return Err(TemporalError::WorkerDown {
                workflow_id: bounded(workflow_id),
                what: name.to_string(),
                after: self.server_deadline(),
            });
        };
        if let Some(failure) = outcome.failure {
            return Err(rejection(&failure));
        }
        let value = wire::payloads(outcome.success.as_ref())
            .into_iter()
            .next()
            .unwrap_or(Value::Null);
        serde_json::from_value(cleaned(value))
            .map_err(|e| ClientError::malformed(&format!("{name} answer"), e).into())
    }

    /// `segments` below the namespace, each percent-encoded: no workflow id can name another
    /// endpoint.
    fn url_of(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("the base URL has a path")
            .extend(segments);
        url
    }

    fn server_deadline(&self) -> Duration {
        self.timeouts.request.saturating_sub(SERVER_MARGIN)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        about: &About<'_>,
    ) -> Result<T, TemporalError> {
        let deadline = self.server_deadline();
        let mut request = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json")
            // grpc-gateway turns this into the call's deadline on the server.
            .header("Grpc-Timeout", format!("{}m", deadline.as_millis()))
            .timeout(self.timeouts.request);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let timeout = self.timeouts.request;
        let transport = |e: reqwest::Error| {
            TemporalError::from(ClientError::from_transport(self.url(), &e, timeout))
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let body = read_bounded(response, MAX_ERROR_BYTES, about.what, self.url(), timeout);
            let body = body.await.ok();
            let rpc = body.and_then(|b| serde_json::from_slice::<RpcStatus>(&b).ok());
            return Err(TemporalError::from_answer(
                status.as_u16(),
                rpc,
                about.workflow_id,
                about.what,
                deadline,
            ));
        }
        let body = read_bounded(response, MAX_BODY_BYTES, about.what, self.url(), timeout).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::malformed(about.what, e).into())
    }
}

/// A validator's refusal (or a failed handler), by the contract's failure types.
fn rejection(failure: &wire::Failure) -> TemporalError {
    let detail = failure.detail().unwrap_or(Value::Null);
    let field = |key: &str| detail.get(key).and_then(Value::as_str).map(bounded);
    match failure.kind() {
        "SwitchboardHeld" => TemporalError::Held {
            holder: field("holder").unwrap_or_else(|| "someone else".into()),
            until: field("lease_expires_at").unwrap_or_else(|| "unknown".into()),
        },
        "SwitchboardClosed" => TemporalError::Closed {
            by: field("resolved_by").unwrap_or_else(|| "someone".into()),
            kind: field("resolution").unwrap_or_else(|| "unknown".into()),
            at: field("resolved_at").unwrap_or_else(|| "unknown".into()),
        },
        _ => TemporalError::Refused {
            detail: bounded(&failure.message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::temporal::wire::Failure;

    fn client(url: &str) -> Result<TemporalClient, ClientError> {
        let spec = TemporalSpec {
            name: "t".into(),
            url: url.into(),
            namespace: "agents prod".into(),
            api_key: None,
            names: Names::default(),
        };
        TemporalClient::new(&spec, Timeouts::default())
    }

    #[test]
    fn workflow_ids_cannot_name_another_endpoint() {
        let client = client("http://127.0.0.1:7243/prefix").unwrap();
        let url = client.url_of(&["workflows", "../../x?y#z", "update", "switchboard_claim"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:7243/prefix/api/v1/namespaces/agents%20prod/workflows/..%2F..%2Fx%3Fy%23z/update/switchboard_claim"
        );
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        let error = client("ftp://x").unwrap_err();
        assert!(error.to_string().contains("http or https"), "{error}");
        let error = client("http://user:pw@127.0.0.1:1").unwrap_err();
        assert!(error.to_string().contains("API key"), "{error}");
        assert!(!error.to_string().contains("pw"));
    }

    #[test]
    fn the_visibility_query_names_the_states() {
        let client = client("http://127.0.0.1:1").unwrap();
        assert_eq!(
            client.visibility_query(&[]),
            "SwitchboardState IN ('pending','claimed') AND ExecutionStatus = 'Running'"
        );
        assert_eq!(
            client.visibility_query(&[EscalationState::Resolved]),
            "SwitchboardState IN ('resolved')"
        );
    }

    #[test]
    fn rejections_name_the_holder_or_the_resolver() {
        let held: Failure = serde_json::from_value(json!({
            "message": "claimed by alice until 2026-12-01T16:30:29Z",
            "applicationFailureInfo": {"type": "SwitchboardHeld", "nonRetryable": true,
                "details": [{"holder": "alice\u{1b}[31m", "lease_expires_at": "2026-12-01T16:30:29Z"}]},
        }))
        .unwrap();
        assert_eq!(
            rejection(&held).to_string(),
            "claimed by alice until 2026-12-01T16:30:29Z"
        );
        let closed: Failure = serde_json::from_value(json!({
            "message": "already resolved",
            "applicationFailureInfo": {"type": "SwitchboardClosed",
                "details": {"payloads": [{"resolved_by": "bob", "resolution": "approve", "resolved_at": "T"}]}},
        }))
        .unwrap();
        assert_eq!(
            rejection(&closed).to_string(),
            "already resolved by bob (approve) at T"
        );
        let invalid: Failure = serde_json::from_value(json!({
            "message": "a note is required\n(1..=4096 bytes)",
            "applicationFailureInfo": {"type": "SwitchboardInvalid"},
        }))
        .unwrap();
        assert_eq!(
            rejection(&invalid).to_string(),
            "refused by the workflow: a note is required (1..=4096 bytes)"
        );
    }
}
