//! The drill over HTTP (the contract is in [`protocol::exercise`]): `GET /v1/exercise` as the
//! caller's drill role may see it, `GET /v1/exercise/report`, and `POST /v1/exercise/control`.
//!
//! A control is judged like a command, under the lab's lock: `Idempotency-Key` (400; a replay
//! answers the first outcome, the same key for another request is 422), body (400), then the
//! drill's rules: who may send it (403: every control but `acknowledge` is the facilitator's,
//! observers send none), the phase (409: a drill starts once, ends once), its text (400),
//! the inject it names (404). Each, accepted or rejected, is an audit entry `exercise <word>`;
//! a replay is not, as it does nothing. A lab without a drill answers 404.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use super::idempotent::{IdempotentPost, KeyWording, idempotency_key};
use super::problem::{ApiError, plain};
use super::state::{LabCore, RouterState};
use crate::audit::AuditRecord;
use crate::exercise::{ControlRefusal, Exercise, custom_inject};
use protocol::commands::AuditOutcome;
use protocol::exercise::report::ExerciseReport;
use protocol::exercise::{Control, ControlRequest, ExerciseRole, ExerciseState, MAX_TEXT_CHARS};
use protocol::{WhoAmI, request_body};

/// Largest body accepted: a control's texts, with room for JSON escapes.
pub(super) const BODY_LIMIT: usize = 4 * MAX_TEXT_CHARS + 4096;

pub(super) async fn state(
    caller: Caller,
    State(state): State<RouterState>,
) -> Result<Json<ExerciseState>, ApiError> {
    let core = state.lab.lock();
    let exercise = drill(&core)?;
    let role = player_role(exercise, &caller.identity)?;
    Ok(Json(exercise.state(role)))
}

pub(super) async fn report(
    caller: Caller,
    State(state): State<RouterState>,
) -> Result<Json<ExerciseReport>, ApiError> {
    let core = state.lab.lock();
    let exercise = drill(&core)?;
    let role = player_role(exercise, &caller.identity)?;
    let report = exercise.report();
    if !report.ended && role != ExerciseRole::Facilitator {
        return Err(ApiError::forbidden(
            "the report is the facilitator's until the drill ends",
        ));
    }
    Ok(Json(report))
}

pub(super) async fn control(
    caller: Caller,
    State(state): State<RouterState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lab = &state.lab;
    let who = &caller.identity;
    let mut core = lab.lock();
    if let Err(error) = drill(&core) {
        return error.into_response();
    }
    let request: Result<ControlRequest, String> = request_body::parse("control request", &body);
    let key = idempotency_key(&headers);
    let post = IdempotentPost {
        caller: &who.name,
        key: &key,
        request: "exercise control".into(),
        body: &body,
        wording: KeyWording {
            needed_by: "exercise controls need",
            one_key_per: "control",
        },
    };
    let answered = post.answer(&mut core, |core, key| {
        let request = request.clone().map_err(ApiError::bad_request)?;
        let (role, target) = apply(core, who, &request)?;
        lab.publish(core);
        let record = audit_record(core, who, &request, target, Some(key), Ok(()));
        lab.audit(core, record);
        let state = core.exercise.as_ref().expect("a drill").state(role);
        Ok((StatusCode::OK, state))
    });
    answered.unwrap_or_else(|error| {
        if let Ok(request) = &request {
            let target = scenario_name(&core);
            let key = key.ok().flatten();
            let record = audit_record(&core, who, request, target, key.as_deref(), Err(&error));
            lab.audit(&mut core, record);
        }
        error.into_response()
    })
}

/// Judges and applies a control: the drill's own change, then the simulation's (an inject
/// fired now or added). Answers the caller's drill role and what the control acted on.
fn apply(
    core: &mut LabCore,
    who: &WhoAmI,
    request: &ControlRequest,
) -> Result<(ExerciseRole, String), ApiError> {
    let t_s = core.sim.elapsed_s();
    let control = &request.control;
    let LabCore { exercise, sim, .. } = core;
    let exercise = exercise.as_mut().expect("a drill");
    let role = exercise
        .judge(&who.name, control, &request.reason)
        .map_err(refusal_error)?;
    let target = match control {
        Control::NextInject => {
            let index = sim.next_pending_inject().ok_or_else(|| {
                ApiError::new(StatusCode::CONFLICT, "no upcoming inject is left to fire")
            })?;
            exercise.apply(t_s, &who.name, control);
            sim.fire_now(index);
            exercise.inject_id(index).to_string()
        }
        Control::Inject { .. } => {
            let inject = custom_inject(control, sim.topology()).map_err(refusal_error)?;
            let id = exercise.add_custom(t_s, &inject);
            exercise.apply(t_s, &who.name, control);
            sim.add_inject(inject);
            id
        }
        Control::Acknowledge { inject } => {
            exercise.apply(t_s, &who.name, control);
            inject.clone()
        }
        _ => {
            exercise.apply(t_s, &who.name, control);
            exercise.header().scenario.clone()
        }
    };
    Ok((role, target))
}

/// The audit entry of a control: `exercise <word>` on what it acted on, accepted or refused.
fn audit_record(
    core: &LabCore,
    who: &WhoAmI,
    request: &ControlRequest,
    target: String,
    key: Option<&str>,
    outcome: Result<(), &ApiError>,
) -> AuditRecord {
    let control = &request.control;
    let said = match control {
        Control::Speed { speed } => Some(format!("speed {speed}x")),
        Control::Message { text } | Control::Annotate { text, .. } => Some(text.clone()),
        Control::Inject {
            kind, narrative, ..
        } => Some(format!("{kind}: {narrative}")),
        _ => None,
    };
    let (outcome, detail) = match outcome {
        Ok(()) => (AuditOutcome::Accepted, said),
        Err(error) => (AuditOutcome::Rejected, Some(error.detail.clone())),
    };
    AuditRecord {
        at: core.sim.now(),
        actor: who.name.clone(),
        action: format!("exercise {}", control.word()),
        target: plain(&target, 100),
        reason: plain(request.reason.trim(), 500),
        idempotency_key: key.map(str::to_string),
        outcome,
        detail: detail.map(|d| plain(&d, 500)),
        preflight: None,
    }
}

fn scenario_name(core: &LabCore) -> String {
    core.exercise
        .as_ref()
        .map_or_else(String::new, |e| e.header().scenario.clone())
}

/// The drill this lab plays; 404 when it plays none.
fn drill(core: &LabCore) -> Result<&Exercise, ApiError> {
    core.exercise.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "this lab runs no exercise (start one with switchboard lab serve --exercise SCENARIO)",
        )
    })
}

fn player_role(exercise: &Exercise, who: &WhoAmI) -> Result<ExerciseRole, ApiError> {
    exercise
        .role_of(&who.name)
        .ok_or_else(|| ApiError::forbidden(format!("{} does not play in this drill", who.name)))
}

fn refusal_error(refusal: ControlRefusal) -> ApiError {
    match refusal {
        ControlRefusal::Forbidden(detail) => ApiError::forbidden(detail),
        ControlRefusal::Invalid(detail) => ApiError::bad_request(detail),
        ControlRefusal::Conflict(detail) => ApiError::new(StatusCode::CONFLICT, detail),
        ControlRefusal::NotFound(detail) => ApiError::new(StatusCode::NOT_FOUND, detail),
    }
}
