//! A workflow's event history as protocol v1's [`Lineage`]: each activity type is a step and
//! each activity an attempt (model, provider and region from its input or summary, as
//! docs/temporal.md says); child workflows, signals and Updates are steps of their own, named
//! `child:TYPE`, `signal:NAME`, `update:NAME`; a timer between two attempts of a step is the
//! backoff of the later one.
//!
//! Temporal keeps only the last attempt of a retried activity (its number and the failure
//! before it). The lineage says so instead of inventing the attempts it did not see.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::wire::{self, Event, Failure};
use protocol::escalations::{
    Attempt, AttemptError, AttemptErrorKind, AttemptOutcome, Candidate, Lineage, LineageStep,
    StepOutcome,
};
use protocol::sanitize;

/// Which execution, and what the escalation's Query said about it.
pub struct Subject<'a> {
    pub workflow_id: &'a str,
    pub run_id: &'a str,
    pub workflow_type: &'a str,
    /// The escalated step (activity type): its step's outcome is `escalated`.
    pub escalated_step: &'a str,
    /// Candidates name the attempt (activity id) that produced them; their verdicts go on it.
    pub candidates: &'a [Candidate],
}

/// An attempt in progress: scheduled, maybe started, not closed yet.
struct Open {
    step: usize,
    attempt: Attempt,
    max_attempts: u32,
    last_failure: Option<String>,
}

#[derive(Default)]
struct Builder {
    steps: Vec<LineageStep>,
    by_name: HashMap<String, usize>,
    open: HashMap<u64, Open>,
    /// Timers started and fired since the last attempt began, in ms.
    backoff_ms: u64,
    timers: HashMap<u64, u64>,
    /// Update id -> Update name, from the accepted events (the completed ones lack the name).
    update_names: HashMap<String, String>,
}

pub fn lineage(subject: &Subject<'_>, events: &[Event]) -> Lineage {
    let mut builder = Builder::default();
    let mut started_at = events.first().map(|e| e.event_time);
    for event in events {
        let attributes = event.attributes();
        match event.kind() {
            "WORKFLOW_EXECUTION_STARTED" => started_at = Some(event.event_time),
            "ACTIVITY_TASK_SCHEDULED" => builder.scheduled(event, attributes),
            "ACTIVITY_TASK_STARTED" => builder.started(event, attributes),
            "ACTIVITY_TASK_COMPLETED" => builder.closed(event, attributes, AttemptOutcome::Ok),
            "ACTIVITY_TASK_FAILED" | "ACTIVITY_TASK_CANCELED" => {
                builder.closed(event, attributes, AttemptOutcome::Error)
            }
            "ACTIVITY_TASK_TIMED_OUT" => builder.closed(event, attributes, AttemptOutcome::Timeout),
            "TIMER_STARTED" => {
                let ms = wire::duration_ms(&attributes["startToFireTimeout"]).unwrap_or(0);
                builder.timers.insert(event.event_id, ms);
            }
            "TIMER_FIRED" => {
                let started = wire::number(&attributes["startedEventId"]).unwrap_or(0);
                builder.backoff_ms += builder.timers.remove(&started).unwrap_or(0);
            }
            "START_CHILD_WORKFLOW_EXECUTION_INITIATED" => {
                builder.child_initiated(event, attributes)
            }
            "CHILD_WORKFLOW_EXECUTION_COMPLETED" => {
                builder.child_closed(event, attributes, AttemptOutcome::Ok)
            }
            "CHILD_WORKFLOW_EXECUTION_FAILED"
            | "CHILD_WORKFLOW_EXECUTION_CANCELED"
            | "CHILD_WORKFLOW_EXECUTION_TERMINATED" => {
                builder.child_closed(event, attributes, AttemptOutcome::Error)
            }
            "CHILD_WORKFLOW_EXECUTION_TIMED_OUT" => {
                builder.child_closed(event, attributes, AttemptOutcome::Timeout)
            }
            "WORKFLOW_EXECUTION_SIGNALED" => {
                let name = text(&attributes["signalName"]);
                builder.instant(event, format!("signal:{name}"), AttemptOutcome::Ok);
            }
            "WORKFLOW_EXECUTION_UPDATE_ACCEPTED" => {
                let request = &attributes["acceptedRequest"];
                let id = text(&request["meta"]["updateId"]);
                builder
                    .update_names
                    .insert(id, text(&request["input"]["name"]));
            }
            "WORKFLOW_EXECUTION_UPDATE_COMPLETED" => builder.update_completed(event, attributes),
            _ => {}
        }
    }
    // Attempts still running at the time of reading are not attempts yet: left out.
    let mut steps = builder.steps;
    for step in &mut steps {
        if step.name == subject.escalated_step {
            step.outcome = StepOutcome::Escalated;
        }
        for attempt in &mut step.attempts {
            judge(attempt, subject.candidates);
        }
    }
    Lineage {
        workflow_id: sanitize::clean(subject.workflow_id).into_owned(),
        run_id: sanitize::clean(subject.run_id).into_owned(),
        workflow_type: sanitize::clean(subject.workflow_type).into_owned(),
        started_at: started_at.unwrap_or_default(),
        steps,
    }
}

/// A candidate's verdicts and confidence go on the attempt that produced it; an answer a
/// validator refused is `rejected`.
fn judge(attempt: &mut Attempt, candidates: &[Candidate]) {
    let Some(candidate) = candidates.iter().find(|c| c.attempt == attempt.id) else {
        return;
    };
    attempt.confidence = Some(candidate.confidence);
    attempt.verdicts = candidate.verdicts.clone();
    if attempt.outcome == AttemptOutcome::Ok && attempt.verdicts.iter().any(|v| !v.passed) {
        attempt.outcome = AttemptOutcome::Rejected;
    }
}

impl Builder {
    fn step(&mut self, name: String) -> usize {
        if let Some(&index) = self.by_name.get(&name) {
            return index;
        }
        self.steps.push(LineageStep {
            name: name.clone(),
            outcome: StepOutcome::Completed,
            attempts: Vec::new(),
        });
        self.by_name.insert(name, self.steps.len() - 1);
        self.steps.len() - 1
    }

    fn scheduled(&mut self, event: &Event, attributes: &Value) {
        let name = text(&attributes["activityType"]["name"]);
        let step = self.step(name);
        let path = ModelPath::of(attributes, event);
        let max_attempts = attributes["retryPolicy"]["maximumAttempts"]
            .as_u64()
            .unwrap_or(0) as u32;
        let previous = self.steps[step].attempts.last().cloned();
        let failover_reason = self.failover_reason(previous.as_ref(), &path);
        let attempt = Attempt {
            parent: previous.map(|p| p.id),
            model: path.model,
            provider: path.provider,
            region: path.region,
            failover_reason,
            ..bare_attempt(text(&attributes["activityId"]), event.event_time)
        };
        self.open.insert(
            event.event_id,
            Open {
                step,
                attempt,
                max_attempts,
                last_failure: None,
            },
        );
    }

    /// Why this attempt follows the step's previous one: another path, after a backoff.
    fn failover_reason(&mut self, previous: Option<&Attempt>, path: &ModelPath) -> Option<String> {
        let backoff = std::mem::take(&mut self.backoff_ms);
        let previous = previous?;
        let moved = previous.provider != path.provider
            || previous.region != path.region
            || previous.model != path.model;
        let failed = previous
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .or_else(|| {
                (previous.outcome != AttemptOutcome::Ok).then(|| "no usable answer".into())
            });
        let mut words = match (moved, failed) {
            (true, Some(failed)) => format!("{} failed ({failed})", where_of(previous)),
            (true, None) => format!("moved on from {}", where_of(previous)),
            (false, Some(failed)) => format!("tried again after: {failed}"),
            (false, None) => "tried again".to_string(),
        };
        if backoff > 0 {
            words.push_str(&format!("; after a {} backoff timer", seconds(backoff)));
        }
        Some(words)
    }

    fn started(&mut self, event: &Event, attributes: &Value) {
        let scheduled = wire::number(&attributes["scheduledEventId"]).unwrap_or(0);
        let Some(open) = self.open.get_mut(&scheduled) else {
            return;
        };
        open.attempt.number = attributes["attempt"].as_u64().unwrap_or(1) as u32;
        open.attempt.started_at = event.event_time;
        open.last_failure = attributes
            .get("lastFailure")
            .and_then(|f| serde_json::from_value::<Failure>(f.clone()).ok())
            .map(|f| one_line(&f.message));
    }

    fn closed(&mut self, event: &Event, attributes: &Value, outcome: AttemptOutcome) {
        let scheduled = wire::number(&attributes["scheduledEventId"]).unwrap_or(0);
        let Some(Open {
            step,
            mut attempt,
            max_attempts,
            last_failure,
        }) = self.open.remove(&scheduled)
        else {
            return;
        };
        attempt.outcome = outcome;
        attempt.duration_ms = elapsed_ms(attempt.started_at, event.event_time);
        if outcome != AttemptOutcome::Ok {
            let failure = attributes
                .get("failure")
                .and_then(|f| serde_json::from_value::<Failure>(f.clone()).ok())
                .unwrap_or_default();
            attempt.error = Some(attempt_error(&failure, outcome));
        }
        if attempt.number > 1 {
            let of = match max_attempts {
                0 => String::new(),
                max => format!(" of {max}"),
            };
            let before = last_failure.map_or(String::new(), |f| format!(", last failure: {f}"));
            attempt.retry_reason = Some(format!(
                "attempt {}{of}{before} (Temporal keeps only the last attempt)",
                attempt.number
            ));
        }
        self.steps[step].attempts.push(attempt);
    }

    fn child_initiated(&mut self, event: &Event, attributes: &Value) {
        let name = format!("child:{}", text(&attributes["workflowType"]["name"]));
        let step = self.step(name);
        let attempt = bare_attempt(text(&attributes["workflowId"]), event.event_time);
        let open = Open {
            step,
            attempt,
            max_attempts: 0,
            last_failure: None,
        };
        self.open.insert(event.event_id, open);
    }

    fn child_closed(&mut self, event: &Event, attributes: &Value, outcome: AttemptOutcome) {
        let initiated = wire::number(&attributes["initiatedEventId"]).unwrap_or(0);
        let Some(mut open) = self.open.remove(&initiated) else {
            return;
        };
        open.attempt.outcome = outcome;
        open.attempt.duration_ms = elapsed_ms(open.attempt.started_at, event.event_time);
        if outcome != AttemptOutcome::Ok {
            let failure = attributes
                .get("failure")
                .and_then(|f| serde_json::from_value::<Failure>(f.clone()).ok())
                .unwrap_or_else(|| Failure {
                    message: event.kind().to_lowercase().replace('_', " "),
                    ..Failure::default()
                });
            open.attempt.error = Some(attempt_error(&failure, outcome));
        }
        self.steps[open.step].attempts.push(open.attempt);
    }

    fn update_completed(&mut self, event: &Event, attributes: &Value) {
        let id = text(&attributes["meta"]["updateId"]);
        let failure = attributes["outcome"]
            .get("failure")
            .and_then(|f| serde_json::from_value::<Failure>(f.clone()).ok());
        let name = self.update_names.remove(&id).unwrap_or_default();
        let outcome = match failure {
            Some(_) => AttemptOutcome::Error,
            None => AttemptOutcome::Ok,
        };
        let index = self.instant(event, format!("update:{name}"), outcome);
        let attempt = self.steps[index].attempts.last_mut().expect("just pushed");
        attempt.id = id;
        attempt.error = failure.map(|failure| attempt_error(&failure, outcome));
    }

    /// A step with one attempt that took no time (a signal, an Update); returns its index.
    fn instant(&mut self, event: &Event, name: String, outcome: AttemptOutcome) -> usize {
        let step = self.step(name);
        self.steps[step].attempts.push(Attempt {
            outcome,
            ..bare_attempt(event.event_id.to_string(), event.event_time)
        });
        step
    }
}

/// A first attempt that succeeded at once and says nothing more; callers fill in the rest.
fn bare_attempt(id: String, started_at: DateTime<Utc>) -> Attempt {
    Attempt {
        id,
        parent: None,
        number: 1,
        model: None,
        provider: None,
        region: None,
        started_at,
        duration_ms: 0,
        outcome: AttemptOutcome::Ok,
        error: None,
        confidence: None,
        verdicts: Vec::new(),
        retry_reason: None,
        failover_reason: None,
    }
}

/// The model, provider and region of an activity: from its first input argument when that
/// is an object with those keys, else from its summary `MODEL via PROVIDER@REGION`.
#[derive(Default)]
struct ModelPath {
    model: Option<String>,
    provider: Option<String>,
    region: Option<String>,
}

impl ModelPath {
    fn of(attributes: &Value, event: &Event) -> ModelPath {
        let input = wire::payloads(attributes.get("input")).into_iter().next();
        let field = |key: &str| {
            input
                .as_ref()
                .and_then(|i| i.get(key))
                .and_then(Value::as_str)
                .map(one_line)
                .filter(|v| !v.is_empty())
        };
        let mut path = ModelPath {
            model: field("model"),
            provider: field("provider"),
            region: field("region"),
        };
        if path.model.is_none() && path.provider.is_none() {
            path = Self::from_summary(event).unwrap_or_default();
        }
        // `vendor@region` in `provider` says the region too.
        if let Some((vendor, region)) = path
            .provider
            .clone()
            .as_deref()
            .and_then(|p| p.split_once('@'))
        {
            path.provider = Some(vendor.to_string());
            path.region.get_or_insert_with(|| region.to_string());
        }
        path
    }

    fn from_summary(event: &Event) -> Option<ModelPath> {
        let summary = wire::payload(event.rest.get("userMetadata")?.get("summary")?).ok()?;
        let summary = one_line(summary.as_str()?);
        let (model, place) = summary.split_once(" via ")?;
        let (provider, region) = place.split_once('@').unwrap_or((place, ""));
        let some = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_string());
        Some(ModelPath {
            model: some(model),
            provider: some(provider),
            region: some(region),
        })
    }
}

/// A failure as protocol v1's error: the kind from the application failure type (the
/// contract's words), Temporal's own timeouts as `timeout`, the status from the first detail.
fn attempt_error(failure: &Failure, outcome: AttemptOutcome) -> AttemptError {
    let declared =
        serde_json::from_value::<AttemptErrorKind>(Value::String(failure.kind().into())).ok();
    let kind = declared.unwrap_or(match outcome {
        AttemptOutcome::Timeout => AttemptErrorKind::Timeout,
        _ if failure.timeout_failure_info.is_some() => AttemptErrorKind::Timeout,
        _ => AttemptErrorKind::ServerError,
    });
    let status = failure
        .detail()
        .and_then(|d| d.get("status").and_then(Value::as_u64))
        .and_then(|s| u16::try_from(s).ok());
    let mut message = one_line(&failure.message);
    if declared.is_none() && !failure.kind().is_empty() {
        message = format!("{message} (type {})", one_line(failure.kind()));
    }
    if message.is_empty() {
        message = kind.word().to_string();
    }
    AttemptError {
        kind,
        status,
        message,
        non_retryable: failure
            .application_failure_info
            .as_ref()
            .is_some_and(|info| info.non_retryable),
    }
}

fn text(value: &Value) -> String {
    value.as_str().map(one_line).unwrap_or_default()
}

/// Untrusted text as one clean line of bounded length.
fn one_line(text: &str) -> String {
    let clean = sanitize::clean(text);
    sanitize::truncate(clean.trim(), 300).into_owned()
}

fn where_of(attempt: &Attempt) -> String {
    let provider = attempt.provider.as_deref().unwrap_or("?");
    match &attempt.region {
        Some(region) => format!("{provider}@{region}"),
        None => provider.to_string(),
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn elapsed_ms(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from((to - from).num_milliseconds()).unwrap_or(0)
}

#[cfg(test)]
#[path = "lineage_tests.rs"]
mod tests;
