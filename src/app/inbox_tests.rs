//! The inbox, an open task, claims and resolutions, as `update` sees them.

use std::time::Instant;

use chrono::TimeDelta;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::sources::{EscalationEvent, EscalationEventKind, SourceEvent};
use crate::testing::{
    SOURCE, escalation_queue, escalation_summaries, escalations_loaded, from_source as source,
    lab_app, open_task_where, settle_filter, small_fleet,
};
use lab::escalations::EscalationQueue;
use protocol::escalations::{
    AppliedResolution, EscalationReason, EscalationState, Priority, Resolution, ResolutionBrief,
    ResolutionKind,
};
use protocol::{Role, WhoAmI};

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| app.update(key(KeyCode::Char(c))))
        .collect()
}

fn event(kind: EscalationEventKind, summary: EscalationSummary) -> Msg {
    source(SourceEvent::Escalation(EscalationEvent { kind, summary }))
}

fn as_user(app: &mut App, name: &str, role: Role) {
    app.update(source(SourceEvent::Identity(WhoAmI {
        name: name.into(),
        role,
    })));
}

/// A console as alice (operator) on the small fleet, its inbox loaded with `count` tasks of
/// the lab's backlog, showing the inbox.
fn inbox_app(count: usize) -> (App, EscalationQueue) {
    let mut app = lab_app(100, 30, Instant::now());
    as_user(&mut app, "alice", Role::Operator);
    let effects = app.update(source(SourceEvent::Snapshot(small_fleet())));
    assert_eq!(
        effects,
        vec![Effect::FetchEscalations {
            source: SOURCE.into()
        }],
        "a snapshot asks for the escalation list"
    );
    let queue = escalation_queue(7, count);
    app.update(escalations_loaded(escalation_summaries(&queue)));
    app.update(key(KeyCode::Char('5')));
    (app, queue)
}

fn with_candidates(e: &Escalation) -> bool {
    !e.candidates.is_empty()
}

fn lease(holder: &str, app: &App) -> Lease {
    Lease {
        holder: holder.into(),
        claimed_at: app.source_clock(0),
        expires_at: app.source_clock(0) + TimeDelta::seconds(300),
    }
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

fn row_ids(app: &App) -> Vec<String> {
    app.inbox
        .rows()
        .iter()
        .map(|k| app.inbox.item(k.slot).summary.id.clone())
        .collect()
}

#[test]
fn the_inbox_is_in_sla_order_and_keeps_the_newest_revision_of_each_task() {
    let (mut app, queue) = inbox_app(300);
    assert_eq!(app.inbox.open_count(), 300);
    let deadlines: Vec<_> = app
        .inbox
        .rows()
        .iter()
        .map(|k| app.inbox.item(k.slot).summary.sla_deadline)
        .collect();
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]));

    let first = escalation_summaries(&queue)[0].clone();
    let mut claimed = first.clone();
    claimed.revision = 5;
    claimed.state = EscalationState::Claimed;
    claimed.lease = Some(lease("bob", &app));
    app.update(event(EscalationEventKind::Claimed, claimed));
    // A replay of an older revision after a resume changes nothing.
    app.update(event(EscalationEventKind::New, first.clone()));
    let item = app.inbox.get(0, &first.id).unwrap();
    assert_eq!(item.summary.revision, 5);
    assert_eq!(item.summary.lease.as_ref().unwrap().holder, "bob");

    let mut resolved = item.summary.clone();
    resolved.revision = 6;
    resolved.state = EscalationState::Resolved;
    resolved.lease = None;
    app.update(event(EscalationEventKind::Resolved, resolved));
    assert_eq!(app.inbox.open_count(), 299);
    assert!(!row_ids(&app).contains(&first.id));
    // Still known, for a detail that is open.
    assert!(app.inbox.get(0, &first.id).is_some());
}

#[test]
fn a_reload_drops_what_the_source_no_longer_lists() {
    let (mut app, queue) = inbox_app(20);
    let all = escalation_summaries(&queue);
    // The stream dropped; on reconnect the list no longer has the first task.
    app.update(source(SourceEvent::Snapshot(small_fleet())));
    app.update(escalations_loaded(all[1..].to_vec()));
    assert_eq!(app.inbox.open_count(), 19);
    assert!(!row_ids(&app).contains(&all[0].id));
}

#[test]
fn the_filter_matches_id_service_reason_and_input_with_nucleo() {
    let (mut app, queue) = inbox_app(500);
    let all = escalation_summaries(&queue);
    let target = &all[123];
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, &format!("'{}", target.id));
    settle_filter(&mut app);
    assert_eq!(row_ids(&app), vec![target.id.clone()]);
    assert_eq!(app.filter_query(), format!("'{}", target.id));
    assert!(app.filter.query.is_empty(), "the fleet's filter is its own");

    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "validator-failed");
    settle_filter(&mut app);
    let rows = row_ids(&app);
    let expected = all
        .iter()
        .filter(|s| s.reason == EscalationReason::ValidatorFailed)
        .count();
    assert!(
        rows.len() >= expected && rows.len() < all.len(),
        "{}",
        rows.len()
    );
    // Still in SLA order.
    let deadlines: Vec<_> = app
        .inbox
        .rows()
        .iter()
        .map(|k| app.inbox.item(k.slot).summary.sla_deadline)
        .collect();
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]));

    // A task that arrives while filtering shows once the matcher has seen it.
    let mut new = target.clone();
    new.id = "esc-999999".into();
    new.reason = EscalationReason::ValidatorFailed;
    app.update(event(EscalationEventKind::New, new));
    settle_filter(&mut app);
    assert!(row_ids(&app).contains(&"esc-999999".to_string()));

    app.update(key(KeyCode::Esc));
    assert_eq!(app.inbox.rows().len(), all.len() + 1);
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
    assert!(!row_ids(&app).contains(&id), "the task left the inbox");
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
    assert!(!row_ids(&app).contains(&id));
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
    assert!(!row_ids(&app).contains(&id));
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
fn urgent_new_tasks_are_notified_once_and_only_above_the_threshold() {
    let (mut app, queue) = inbox_app(10);
    app.notify_at = Some(Priority::P2);
    let mut task = escalation_summaries(&queue)[0].clone();
    task.id = "esc-777777".into();
    task.priority = Priority::P1;
    let effects = app.update(event(EscalationEventKind::New, task.clone()));
    match effects.as_slice() {
        [Effect::Notify { body, .. }] => assert!(body.contains("esc-777777"), "{body}"),
        other => panic!("{other:?}"),
    }
    assert!(
        app.update(event(EscalationEventKind::New, task.clone()))
            .is_empty(),
        "a replay is not news"
    );
    let mut calm = task.clone();
    calm.id = "esc-777778".into();
    calm.priority = Priority::P3;
    assert!(app.update(event(EscalationEventKind::New, calm)).is_empty());
    let mut claim = task.clone();
    claim.revision += 1;
    assert!(
        app.update(event(EscalationEventKind::Claimed, claim))
            .is_empty()
    );
    app.notify_at = None;
    let mut other = task;
    other.id = "esc-777779".into();
    assert!(
        app.update(event(EscalationEventKind::New, other))
            .is_empty()
    );
}
