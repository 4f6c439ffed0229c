//! An open task as `update` sees it: claims, resolutions and their outcomes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::*;
use crate::sources::{EscalationEventKind, SourceEvent};
use crate::testing::{
    SOURCE, as_user, escalation_event as event, from_source as source, inbox_ids, key, lease,
    open_task_where, operator_inbox as inbox_app, small_fleet, type_text,
};
use lab::escalations::EscalationQueue;
use protocol::Role;
use protocol::escalations::{
    AppliedResolution, Escalation, EscalationState, Resolution, ResolutionBrief, ResolutionKind,
    ResolveOutcome,
};

fn with_candidates(e: &Escalation) -> bool {
    !e.candidates.is_empty()
}

fn claimed(app: &mut App, id: &str) -> Vec<Effect> {
    let lease = lease("alice", app);
    app.update(Msg::ClaimFinished {
        source: SOURCE.into(),
        id: id.into(),
        result: Ok(lease),
    })
}

/// The answer of the source to a resolution of `id`: closed, one revision later.
fn outcome(queue: &EscalationQueue, id: &str, resolution: Resolution, key: &str) -> ResolveOutcome {
    let mut summary = queue.detail(id).unwrap().summary;
    summary.state = EscalationState::Resolved;
    summary.revision += 2;
    let at = summary.created_at;
    summary.resolution = Some(ResolutionBrief {
        by: "alice".into(),
        kind: resolution.kind(),
        at,
    });
    ResolveOutcome {
        escalation: summary,
        applied: AppliedResolution {
            resolution,
            note: "looks right".into(),
            by: "alice".into(),
            at,
            idempotency_key: key.into(),
        },
        consequence: "the workflow resumes from its checkpoint".into(),
    }
}

#[test]
fn approving_claims_first_then_sends_once_with_the_note() {
    let (mut app, queue) = inbox_app(40);
    let id = open_task_where(&mut app, &queue, with_candidates);
    let candidate = queue.detail(&id).unwrap().candidates[0].id.clone();
    assert_eq!(app.top_layer(), crate::keymap::Layer::Task);

    let effects = app.update(key(KeyCode::Char('a')));
    assert_eq!(
        effects,
        vec![Effect::Claim {
            source: SOURCE.into(),
            id: id.clone()
        }]
    );
    assert!(app.overlays.resolve_form().is_some());
    // Enter without a note sends nothing.
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(
        app.overlays
            .resolve_form()
            .unwrap()
            .problem
            .as_ref()
            .unwrap()
            .contains("note is required")
    );
    type_text(&mut app, "looks right");
    // The claim has not come back: the resolution waits for it.
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(app.overlays.resolve_form().unwrap().waiting_for_claim);
    let effects = claimed(&mut app, &id);
    let expected = ConfirmedResolution {
        local_id: 1,
        source: SOURCE.into(),
        id: id.clone(),
        resolution: Resolution::Approve {
            candidate: candidate.clone(),
        },
        note: "looks right".into(),
    };
    assert_eq!(effects, vec![Effect::Resolve(expected.clone())]);
    assert!(app.overlays.resolve_form().is_none());

    app.update(Msg::ResolveJournaled {
        local_id: 1,
        key: "k-1".into(),
    });
    let done = outcome(&queue, &id, expected.resolution, "k-1");
    let effects = app.update(Msg::ResolveFinished {
        local_id: 1,
        result: Ok(done),
    });
    assert!(
        effects.is_empty(),
        "a resolution ends the claim: no release"
    );
    assert!(app.task.is_none(), "back to the inbox");
    assert!(!inbox_ids(&app).contains(&id), "the task left the inbox");
    assert_eq!(app.resolutions.len(), 1);
    assert!(matches!(app.resolutions[0].state, ResolutionState::Done(_)));
}

#[test]
fn every_resolution_needs_a_note_and_a_rejection_its_reason() {
    let (mut app, queue) = inbox_app(40);
    let id = open_task_where(&mut app, &queue, |_| true);
    claimed(&mut app, &id);
    app.update(key(KeyCode::Char('r')));
    assert_eq!(app.top_layer(), crate::keymap::Layer::Resolve);
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    let problem = || app_problem(&app);
    assert!(problem().contains("reason"), "{}", problem());
    type_text(&mut app, "outputs contradict the ledger");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(app_problem(&app).contains("note"), "{}", app_problem(&app));
    app.update(key(KeyCode::Tab));
    type_text(&mut app, "ledger wins");
    let effects = app.update(key(KeyCode::Enter));
    match effects.as_slice() {
        [Effect::Resolve(request)] => {
            assert_eq!(
                request.resolution,
                Resolution::Reject {
                    reason: "outputs contradict the ledger".into()
                }
            );
            assert_eq!(request.note, "ledger wins");
        }
        other => panic!("{other:?}"),
    }
}

fn app_problem(app: &App) -> String {
    app.overlays
        .resolve_form()
        .and_then(|f| f.problem.clone())
        .unwrap_or_default()
}

#[test]
fn a_task_claimed_by_someone_else_is_refused_locally_with_their_name() {
    let (mut app, queue) = inbox_app(40);
    let id = open_task_where(&mut app, &queue, with_candidates);
    let mut summary = app.task_summary().unwrap().clone();
    summary.revision += 1;
    summary.state = EscalationState::Claimed;
    summary.lease = Some(lease("bob", &app));
    let effects = app.update(event(EscalationEventKind::Claimed, summary));
    assert_eq!(
        effects,
        vec![Effect::FetchEscalation {
            source: SOURCE.into(),
            id: id.clone()
        }],
        "a change of the open task reads it again"
    );
    for resolution_key in ['a', 'r', 'x', 't', 'h'] {
        assert!(app.update(key(KeyCode::Char(resolution_key))).is_empty());
        assert!(app.overlays.resolve_form().is_none());
        let flash = &app.flash.as_ref().unwrap().text;
        assert!(flash.contains("claimed by bob"), "{flash}");
    }
}

#[test]
fn the_claim_is_released_when_the_task_is_left() {
    let (mut app, queue) = inbox_app(40);
    let id = open_task_where(&mut app, &queue, with_candidates);
    app.update(key(KeyCode::Char('a')));
    claimed(&mut app, &id);
    app.update(key(KeyCode::Esc)); // closes the form, keeps the claim
    assert!(app.task.is_some());
    let effects = app.update(key(KeyCode::Esc));
    assert_eq!(
        effects,
        vec![Effect::Release {
            source: SOURCE.into(),
            id: id.clone()
        }]
    );
    assert!(app.task.is_none());

    // Quitting gives a held claim back too.
    open_task_where(&mut app, &queue, |e| e.summary.id == id);
    app.update(key(KeyCode::Char('x')));
    claimed(&mut app, &id);
    app.update(key(KeyCode::Esc));
    let quit = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(
        quit,
        vec![
            Effect::Release {
                source: SOURCE.into(),
                id: id.clone()
            },
            Effect::Quit
        ]
    );

    // A claim that lands after the task was left is given back at once.
    let other = open_task_where(&mut app, &queue, |e| e.summary.id != id);
    app.update(key(KeyCode::Char('x')));
    app.update(key(KeyCode::Esc));
    assert!(app.update(key(KeyCode::Esc)).is_empty(), "nothing held yet");
    assert_eq!(
        claimed(&mut app, &other),
        vec![Effect::Release {
            source: SOURCE.into(),
            id: other.clone()
        }]
    );
}

#[test]
fn a_lost_answer_then_the_retrys_answer_make_one_resolution() {
    let (mut app, queue) = inbox_app(40);
    let id = open_task_where(&mut app, &queue, |_| true);
    claimed(&mut app, &id);
    app.update(key(KeyCode::Char('x')));
    type_text(&mut app, "duplicate of an approved task");
    let effects = app.update(key(KeyCode::Enter));
    assert!(matches!(effects.as_slice(), [Effect::Resolve(_)]));
    app.update(Msg::ResolveJournaled {
        local_id: 1,
        key: "k-1".into(),
    });
    // The source committed, the answer was lost: no answer within the runner's retries.
    let effects = app.update(Msg::ResolveFinished {
        local_id: 1,
        result: Err(EscalationFailure {
            kind: FailureKind::Unknown,
            message: "timed out".into(),
            holder: None,
            resolved_by: None,
        }),
    });
    assert_eq!(
        effects,
        vec![Effect::FetchEscalation {
            source: SOURCE.into(),
            id: id.clone()
        }],
        "the task is read again to learn what happened"
    );
    // Meanwhile nothing else can be sent for it.
    assert!(app.update(key(KeyCode::Char('x'))).is_empty());
    assert!(app.overlays.resolve_form().is_none());
    assert!(
        app.flash
            .as_ref()
            .unwrap()
            .text
            .contains("awaiting its outcome")
    );

    // The retry with the same key gets the first answer replayed, and a second copy follows.
    let done = outcome(&queue, &id, Resolution::Abort, "k-1");
    app.update(Msg::ResolveFinished {
        local_id: 1,
        result: Ok(done.clone()),
    });
    app.update(Msg::ResolveFinished {
        local_id: 1,
        result: Ok(done.clone()),
    });
    app.update(event(
        EscalationEventKind::Resolved,
        done.escalation.clone(),
    ));
    let of_task: Vec<_> = app.resolutions.iter().filter(|r| r.id == id).collect();
    assert_eq!(of_task.len(), 1);
    assert!(matches!(of_task[0].state, ResolutionState::Done(_)));
    assert!(!inbox_ids(&app).contains(&id));
}

#[test]
fn a_lost_answer_is_settled_by_reading_the_task() {
    let (mut app, queue) = inbox_app(40);
    let id = open_task_where(&mut app, &queue, |_| true);
    claimed(&mut app, &id);
    app.update(key(KeyCode::Char('x')));
    type_text(&mut app, "customer withdrew");
    app.update(key(KeyCode::Enter));
    app.update(Msg::ResolveJournaled {
        local_id: 1,
        key: "k-1".into(),
    });
    let lost = EscalationFailure {
        kind: FailureKind::Unknown,
        message: "timed out".into(),
        holder: None,
        resolved_by: None,
    };
    app.update(Msg::ResolveFinished {
        local_id: 1,
        result: Err(lost),
    });
    // The task as read now carries our resolution under our key: applied, once.
    let done = outcome(&queue, &id, Resolution::Abort, "k-1");
    let mut detail = queue.detail(&id).unwrap();
    detail.summary = done.escalation.clone();
    detail.applied = Some(done.applied.clone());
    app.update(Msg::EscalationLoaded {
        source: SOURCE.into(),
        id: id.clone(),
        result: Ok(Box::new(detail)),
    });
    assert!(matches!(app.resolutions[0].state, ResolutionState::Done(_)));
    assert!(app.task.is_none());
    assert!(!inbox_ids(&app).contains(&id));
}

#[test]
fn someone_elses_resolution_is_shown_with_their_name() {
    let (mut app, queue) = inbox_app(40);
    let id = open_task_where(&mut app, &queue, |_| true);
    claimed(&mut app, &id);
    app.update(key(KeyCode::Char('x')));
    type_text(&mut app, "dup");
    app.update(key(KeyCode::Enter));
    let effects = app.update(Msg::ResolveFinished {
        local_id: 1,
        result: Err(EscalationFailure {
            kind: FailureKind::Conflict,
            message: "resolved by bob (approve) at 14:02:11".into(),
            holder: None,
            resolved_by: Some("bob".into()),
        }),
    });
    assert_eq!(effects.len(), 1, "reads the task again: {effects:?}");
    let flash = &app.flash.as_ref().unwrap().text;
    assert!(flash.contains("already resolved by bob"), "{flash}");
}

#[test]
fn viewers_and_read_only_consoles_cannot_start_a_resolution() {
    let (mut app, queue) = inbox_app(40);
    as_user(&mut app, "victor", Role::Viewer);
    open_task_where(&mut app, &queue, with_candidates);
    assert!(app.update(key(KeyCode::Char('a'))).is_empty());
    assert!(app.overlays.resolve_form().is_none());
    // Worded for tasks: the inbox changes no fleet.
    let flash = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(
        flash.contains("role viewer may not act on tasks"),
        "{flash}"
    );
    assert!(
        !crate::keymap::hints(crate::keymap::Layer::Task, app.can_mutate())
            .iter()
            .any(|(_, what)| *what == "approve")
    );
}

#[test]
fn retry_offers_the_fleets_paths_and_hand_off_the_roster_but_me() {
    let (mut app, queue) = inbox_app(40);
    app.update(source(SourceEvent::Operators(vec![
        protocol::Operator {
            name: "alice".into(),
            role: Role::Operator,
            on_call: true,
            online: true,
            claimed: Vec::new(),
        },
        protocol::Operator {
            name: "bob".into(),
            role: Role::Admin,
            on_call: false,
            online: true,
            claimed: Vec::new(),
        },
        protocol::Operator {
            name: "victor".into(),
            role: Role::Viewer,
            on_call: true,
            online: true,
            claimed: Vec::new(),
        },
    ])));
    let id = open_task_where(&mut app, &queue, |_| true);
    claimed(&mut app, &id);
    app.update(key(KeyCode::Char('t')));
    let form = app.overlays.resolve_form().unwrap();
    assert_eq!(form.choices.len(), 1 + small_fleet().providers.len());
    app.update(key(KeyCode::Down));
    type_text(&mut app, "openai is back");
    let provider = &small_fleet().providers[0];
    match app.update(key(KeyCode::Enter)).as_slice() {
        [Effect::Resolve(request)] => assert_eq!(
            request.resolution,
            Resolution::Retry {
                model: Some(provider.model.clone()),
                provider: Some(provider.id.clone()),
                region: Some(provider.region.clone()),
            }
        ),
        other => panic!("{other:?}"),
    }
    // Its outcome is not known yet: a hand-off must wait.
    app.update(key(KeyCode::Char('h')));
    assert!(app.overlays.resolve_form().is_none());
    app.update(Msg::ResolveFinished {
        local_id: 1,
        result: Err(EscalationFailure {
            kind: FailureKind::Rejected,
            message: "no such provider".into(),
            holder: None,
            resolved_by: None,
        }),
    });
    app.update(key(KeyCode::Char('h')));
    let names: Vec<_> = app
        .overlays
        .resolve_form()
        .unwrap()
        .choices
        .iter()
        .map(|c| c.resolution.clone())
        .collect();
    assert_eq!(names, vec![Resolution::Handoff { to: "bob".into() }]);
}

#[test]
fn an_edited_candidate_is_submitted_with_what_it_was_based_on() {
    let (mut app, queue) = inbox_app(40);
    let id = open_task_where(&mut app, &queue, with_candidates);
    let candidate = queue.detail(&id).unwrap().candidates[0].clone();
    claimed(&mut app, &id);
    app.update(key(KeyCode::Char('e')));
    assert_eq!(app.top_layer(), crate::keymap::Layer::Editor);
    assert_eq!(
        app.overlays.editor().unwrap().input.lines().join("\n"),
        candidate.output.lines().collect::<Vec<_>>().join("\n")
    );
    app.update(key(KeyCode::End));
    type_text(&mut app, " (checked)");
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('s'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(app.top_layer(), crate::keymap::Layer::Resolve);
    type_text(&mut app, "fixed the rounding");
    match app.update(key(KeyCode::Enter)).as_slice() {
        [Effect::Resolve(request)] => match &request.resolution {
            Resolution::Submit { output, based_on } => {
                assert!(output.contains("(checked)"));
                assert_eq!(based_on.as_deref(), Some(candidate.id.as_str()));
                assert_eq!(request.resolution.kind(), ResolutionKind::Submit);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn approving_a_candidate_that_failed_a_validator_says_so() {
    let (mut app, queue) = inbox_app(200);
    let failed_first = |e: &Escalation| {
        e.candidates
            .first()
            .is_some_and(|c| c.verdicts.iter().any(|v| !v.passed))
    };
    open_task_where(&mut app, &queue, failed_first);
    app.update(key(KeyCode::Char('a')));
    let summary = &app.overlays.resolve_form().expect("form open").summary;
    assert!(summary.contains("FAILED"), "{summary}");
}

/// Issue 8 item 13: a retry's outcome names the path it took, when accepted or refused, and a
/// new escalation of the same workflow afterwards says the retry escalated again.
#[test]
fn a_retrys_outcome_names_its_path_and_a_new_escalation_of_its_workflow_is_told() {
    let (mut app, queue) = inbox_app(40);
    let id = open_task_where(&mut app, &queue, |_| true);
    claimed(&mut app, &id);
    let provider = small_fleet().providers[0].clone();
    let retry = Resolution::Retry {
        model: Some(provider.model.clone()),
        provider: Some(provider.id.clone()),
        region: Some(provider.region.clone()),
    };
    let flash = |app: &App| {
        app.flash
            .as_ref()
            .map(|f| f.text.clone())
            .unwrap_or_default()
    };
    let send = |app: &mut App| {
        app.update(key(KeyCode::Char('t')));
        app.update(key(KeyCode::Down));
        type_text(app, "openai is back");
        app.update(key(KeyCode::Enter))
    };
    assert_eq!(send(&mut app).len(), 1);
    app.update(Msg::ResolveFinished {
        local_id: 1,
        result: Err(EscalationFailure {
            kind: FailureKind::Conflict,
            message: "changed since you looked".into(),
            holder: None,
            resolved_by: None,
        }),
    });
    let refused = flash(&app);
    assert!(
        refused.contains(&format!("retry of {id} via {}", provider.id)),
        "{refused}"
    );
    assert_eq!(send(&mut app).len(), 1);
    app.update(Msg::ResolveFinished {
        local_id: 2,
        result: Ok(outcome(&queue, &id, retry, "k-2")),
    });
    let accepted = flash(&app);
    assert!(
        accepted.contains(&format!(
            "retry of {id} via {}: accepted → new attempt to run",
            provider.id
        )),
        "{accepted}"
    );
    // The workflow escalates again: a new task of the same workflow arrives.
    let mut again = queue.detail(&id).unwrap().summary;
    again.id = format!("{id}-again");
    app.update(event(EscalationEventKind::New, again.clone()));
    let told = flash(&app);
    assert!(
        told.contains(&format!(
            "retry of {id} via {}: escalated again as {}",
            provider.id, again.id
        )),
        "{told}"
    );
}
