use std::time::{Duration, Instant};

use chrono::TimeDelta;
use crossterm::event::KeyCode;

use super::{RunInputKind, ShareAnswer, ShareOrder};
use crate::app::{App, Effect, Msg, View};
use crate::keymap::Layer;
use crate::runbook::catalog::Catalog;
use crate::runbook::run::{Outcome, RunLine};
use crate::sources::SourceEvent;
use crate::testing::{
    accepted, fixture_wall, from_source, key, outage_fleet, runbooks_app, type_text,
};
use protocol::{BreakerState, FleetDelta};

/// Every line the effects ask to record.
fn recorded(effects: &[Effect]) -> Vec<RunLine> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::RecordRun(line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

fn press(app: &mut App, code: KeyCode, log: &mut Vec<RunLine>) {
    log.extend(recorded(&app.update(key(code))));
}

fn current(app: &App) -> Option<usize> {
    app.runbooks.run.as_ref().and_then(|r| r.current)
}

/// The wall clock reads `seconds` past the fixture's; the source's data stays fresh (its
/// reports would keep coming in a real run).
fn tick(app: &mut App, seconds: i64, log: &mut Vec<RunLine>) {
    let msg = Msg::Tick {
        now: app.now + Duration::from_secs(1),
        wall: fixture_wall() + TimeDelta::seconds(seconds),
    };
    log.extend(recorded(&app.update(msg)));
}

/// openai@us-east's breaker and share, as the lab reports them after the action.
fn breaker_opened(app: &mut App, share: f64) {
    let mut provider = outage_fleet().providers[0].clone();
    provider.breaker.state = BreakerState::Open;
    provider.traffic_share = share;
    app.update(from_source(SourceEvent::Delta(FleetDelta {
        revision: 8,
        providers: vec![provider],
        ..FleetDelta::default()
    })));
}

/// provider-outage opened, step 1 done, and step 2's action sent and accepted.
fn at_the_gate(log: &mut Vec<RunLine>) -> App {
    let mut app = runbooks_app(100, 30, Instant::now(), Vec::new());
    press(&mut app, KeyCode::Enter, log);
    assert_eq!(current(&app), Some(0), "the run starts at step 1");
    press(&mut app, KeyCode::Char('n'), log);
    assert_eq!(current(&app), Some(1));

    press(&mut app, KeyCode::Char('n'), log);
    assert_eq!(current(&app), Some(1), "an action step is not done unsent");

    press(&mut app, KeyCode::Char('x'), log);
    let confirm = app.overlays.confirm().expect("the normal confirmation");
    assert_eq!(
        confirm.command.to_string(),
        "breaker force-open openai@us-east for 30m00s"
    );
    assert_eq!(app.top_layer(), Layer::Confirm);
    // Enter without a reason sends nothing.
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    type_text(&mut app, "provider outage runbook");
    let effects = app.update(key(KeyCode::Enter));
    let Some(Effect::SendCommand(request)) = effects.first() else {
        panic!("sent through the one command path: {effects:?}");
    };
    let id = request.id;
    log.extend(recorded(&app.update(Msg::CommandJournaled {
        id,
        key: "key-1".into(),
    })));
    log.extend(recorded(&app.update(Msg::CommandFinished {
        id,
        result: Ok(accepted(41)),
    })));
    press(&mut app, KeyCode::Char('n'), log);
    assert_eq!(current(&app), Some(2), "on to the gate");
    app
}

#[test]
fn the_list_puts_the_runbooks_that_apply_now_first_with_why() {
    let app = runbooks_app(100, 30, Instant::now(), Vec::new());
    assert_eq!(app.view, View::Runbooks);
    let listed = app.runbook_list();
    let ids: Vec<Option<&str>> = listed.iter().map(|l| l.entry.id()).collect();
    assert_eq!(ids.len(), crate::runbook::catalog::SHIPPED.len());
    assert_eq!(ids[0], Some("provider-outage"));
    let applying = listed.iter().take_while(|l| !l.why.is_empty()).count();
    assert!(
        listed[applying..].iter().all(|l| l.why.is_empty()),
        "the ones that apply now come first: {ids:?}"
    );
    let storm = listed
        .iter()
        .find(|l| l.entry.id() == Some("rate-limit-storm"))
        .unwrap();
    assert!(storm.why.is_empty(), "no 429 storm here: {:?}", storm.why);
    let why = &listed[0].why;
    assert!(
        why.contains(&"error_rate(openai@us-east) = 90.0% > 20%".to_string()),
        "{why:?}"
    );
    assert!(why.contains(&"the lab plays provider-outage".to_string()));
    assert!(why.contains(&"risk-scorer is degraded".to_string()));
    assert!(why.contains(&"openai@us-east is down".to_string()));
}

#[test]
fn the_filter_matches_id_title_and_owner_and_a_broken_file_stays_listed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.md"), "no front matter").unwrap();
    let mut app = runbooks_app(100, 30, Instant::now(), Vec::new());
    app.update(Msg::RunbooksLoaded {
        catalog: Box::new(Catalog::load(Some(dir.path()), &[])),
        record: Ok(Vec::new()),
    });
    assert_eq!(
        app.runbook_list().len(),
        crate::runbook::catalog::SHIPPED.len() + 1,
        "the broken file is listed"
    );
    let broken = app
        .runbook_list()
        .into_iter()
        .find(|l| l.entry.id().is_none());
    assert!(broken.unwrap().entry.parsed.is_err());
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "429");
    let ids: Vec<_> = app.runbook_list().iter().map(|l| l.entry.id()).collect();
    assert_eq!(ids, [Some("rate-limit-storm")]);
}

#[test]
fn a_run_follows_its_steps_the_gate_waits_for_the_fleet_and_a_decision_jumps() {
    let mut log = Vec::new();
    let mut app = at_the_gate(&mut log);
    let outcomes: Vec<&Outcome> = log.iter().map(|l| &l.outcome).collect();
    assert!(matches!(outcomes[0], Outcome::Started));
    let Outcome::Done { checks } = outcomes[1] else {
        panic!("{outcomes:?}")
    };
    assert_eq!(checks[0].mark, "✓", "{checks:?}");
    assert_eq!(
        outcomes[2],
        &Outcome::ActionSent {
            command: "breaker force-open openai@us-east for 30m00s".into(),
            key: "key-1".into()
        }
    );
    assert!(
        matches!(outcomes[3], Outcome::ActionResult { result, .. } if result == "accepted (audit #41)")
    );
    assert!(log.iter().all(|l| l.who == "alice"));

    // The share has not moved: the gate waits.
    tick(&mut app, 30, &mut log);
    assert_eq!(current(&app), Some(2));
    assert_eq!(app.update(key(KeyCode::Char('n'))), Vec::new());
    assert_eq!(current(&app), Some(2), "a gate is not marked done by hand");

    breaker_opened(&mut app, 0.0);
    tick(&mut app, 31, &mut log);
    assert_eq!(
        current(&app),
        Some(3),
        "the gate is met once the share moved"
    );
    assert!(matches!(&log.last().unwrap().outcome, Outcome::GateMet { seen } if seen.mark == "✓"));

    press(&mut app, KeyCode::Char('n'), &mut log);
    assert_eq!(current(&app), Some(3), "a decision wants a choice");
    press(&mut app, KeyCode::Char('2'), &mut log);
    assert_eq!(current(&app), Some(4), "choice 2 jumps to step 5");
    assert!(
        matches!(&log.last().unwrap().outcome, Outcome::Decided { choice: 2, label, .. } if label == "Backup path short of headroom")
    );
    // Every outcome is in the timeline too.
    assert!(app.timeline.iter().any(|e| {
        e.text
            .contains("runbook provider-outage step 4: decided 2.")
    }));
}

#[test]
fn a_gate_that_times_out_leads_where_it_says() {
    let mut log = Vec::new();
    let mut app = at_the_gate(&mut log);
    tick(&mut app, 299, &mut log);
    assert_eq!(current(&app), Some(2), "4m59s: still waiting");
    tick(&mut app, 300, &mut log);
    assert_eq!(current(&app), Some(4), "on_timeout: step 5");
    assert!(
        matches!(&log.last().unwrap().outcome, Outcome::GateTimedOut { then, .. } if then == "step 5")
    );
}

#[test]
fn a_skip_needs_a_reason_and_a_note_stays_on_its_step() {
    let mut log = Vec::new();
    let mut app = runbooks_app(100, 30, Instant::now(), Vec::new());
    press(&mut app, KeyCode::Enter, &mut log);
    press(&mut app, KeyCode::Char('s'), &mut log);
    assert_eq!(
        app.overlays.run_input().map(|f| f.kind.clone()),
        Some(RunInputKind::Skip)
    );
    press(&mut app, KeyCode::Enter, &mut log);
    assert_eq!(current(&app), Some(0), "no reason, no skip");
    assert!(app.overlays.run_input().unwrap().problem.is_some());
    type_text(&mut app, "already confirmed by the provider's status page");
    press(&mut app, KeyCode::Enter, &mut log);
    assert_eq!(current(&app), Some(1));
    assert!(
        matches!(&log.last().unwrap().outcome, Outcome::Skipped { reason } if reason.starts_with("already"))
    );

    press(&mut app, KeyCode::Char('e'), &mut log);
    type_text(&mut app, "paged the provider");
    press(&mut app, KeyCode::Enter, &mut log);
    assert_eq!(current(&app), Some(1), "a note does not move the run");
    assert!(
        matches!(&log.last().unwrap().outcome, Outcome::Note { text } if text == "paged the provider")
    );
}

#[test]
fn a_run_recorded_before_a_restart_resumes_where_it_stopped() {
    let mut log = Vec::new();
    let app = at_the_gate(&mut log);
    let before = app.runbooks.run.clone().unwrap();

    let mut restarted = runbooks_app(100, 30, Instant::now(), log);
    let resumed = restarted
        .runbooks
        .run
        .clone()
        .expect("resumed from the record");
    assert_eq!(resumed, before);
    assert_eq!(resumed.current, Some(2));
    assert!(
        !restarted.runbooks.run_open,
        "the list first, the run a key away"
    );
    restarted.update(key(KeyCode::Enter));
    assert!(restarted.runbooks.run_open);
    assert_eq!(
        restarted.runbooks.run.as_ref().unwrap().record.len(),
        before.record.len(),
        "enter resumes the run, it does not start another"
    );
}

/// Every request about shared runs the effects carry.
fn share_orders(effects: &[Effect]) -> Vec<ShareOrder> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ShareRun(order) => Some(order.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_source_without_runbook_runs_keeps_the_run_local_and_says_why() {
    let mut app = runbooks_app(100, 30, Instant::now(), Vec::new());
    let asked = share_orders(&app.update(from_source(SourceEvent::Snapshot(outage_fleet()))));
    assert_eq!(
        asked,
        [ShareOrder::List {
            source: "lab".into()
        }],
        "each connection asks the source for its runs"
    );
    let effects = app.update(Msg::SharedRun {
        order: asked[0].clone(),
        answer: ShareAnswer::NoEndpoints("the source has no runbook runs (404)".into()),
    });
    assert!(effects.is_empty());
    assert_eq!(app.sharing_source(), None);
    assert_eq!(
        app.local_reason(),
        Some("the source has no runbook runs (404)")
    );
    let mut log = Vec::new();
    press(&mut app, KeyCode::Enter, &mut log);
    assert!(matches!(log[0].outcome, Outcome::Started), "a local run");
    assert!(log[0].shared.is_none());
    // Not asked again at the next connection: the source said it keeps none.
    let again = app.update(from_source(SourceEvent::Snapshot(outage_fleet())));
    assert!(share_orders(&again).is_empty());
}

/// provider-outage started and advanced a step, then rate-limit-storm started: two local runs.
fn two_local_runs(log: &mut Vec<RunLine>) -> App {
    let mut app = runbooks_app(100, 30, Instant::now(), Vec::new());
    press(&mut app, KeyCode::Enter, log);
    press(&mut app, KeyCode::Char('n'), log);
    press(&mut app, KeyCode::Esc, log);
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "429");
    app.update(key(KeyCode::Enter));
    // The run in progress is the first row, the runbook found the next.
    app.update(key(KeyCode::Down));
    press(&mut app, KeyCode::Enter, log);
    assert_eq!(
        app.runbooks.run.as_ref().unwrap().runbook,
        "rate-limit-storm"
    );
    press(&mut app, KeyCode::Esc, log);
    app
}

#[test]
fn two_local_runs_stay_in_progress_and_either_is_resumed_also_after_a_restart() {
    let mut log = Vec::new();
    let mut app = two_local_runs(&mut log);
    let in_progress: Vec<String> = (app.runs_in_progress().iter())
        .map(|run| match run {
            super::RunInProgress::Local(run) => format!("{}@{:?}", run.runbook, run.current),
            super::RunInProgress::Shared { run, .. } => run.id.clone(),
        })
        .collect();
    assert_eq!(
        in_progress,
        ["rate-limit-storm@Some(0)", "provider-outage@Some(1)"],
        "both runs in progress, the one followed last first"
    );
    app.update(key(KeyCode::Esc));
    app.runbooks.selected = 1;
    press(&mut app, KeyCode::Enter, &mut log);
    let run = app.runbooks.run.as_ref().unwrap();
    assert_eq!(
        (run.runbook.as_str(), run.current),
        ("provider-outage", Some(1)),
        "resumed where it stopped"
    );

    let restarted = runbooks_app(100, 30, Instant::now(), log);
    let runs: Vec<&str> = (restarted.runs_in_progress().iter())
        .map(|run| match run {
            super::RunInProgress::Local(run) => run.runbook.as_str(),
            super::RunInProgress::Shared { run, .. } => run.id.as_str(),
        })
        .collect();
    assert_eq!(
        runs,
        ["rate-limit-storm", "provider-outage"],
        "the run touched last is followed, the other waits in the list"
    );
}

#[test]
fn ending_a_run_is_explicit_and_needs_a_reason() {
    let mut log = Vec::new();
    let mut app = two_local_runs(&mut log);
    press(&mut app, KeyCode::Enter, &mut log);
    assert!(app.runbooks.run_open);
    press(&mut app, KeyCode::Char('E'), &mut log);
    assert_eq!(app.top_layer(), Layer::RunInput);
    press(&mut app, KeyCode::Enter, &mut log);
    assert_eq!(app.top_layer(), Layer::RunInput, "a reason is required");
    type_text(&mut app, "false alarm");
    press(&mut app, KeyCode::Enter, &mut log);
    let run = app.runbooks.run.as_ref().unwrap();
    assert_eq!(run.current, None, "ended");
    assert_eq!(
        log.last().unwrap().outcome,
        Outcome::Ended {
            state: protocol::runbook_runs::RunState::Abandoned,
            reason: "false alarm".into()
        }
    );
    assert_eq!(
        app.runs_in_progress().len(),
        1,
        "the other run is still going"
    );
}
