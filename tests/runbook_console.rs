//! Issue 12: following `provider-outage.md` from the console against a real lab playing the
//! provider-outage scenario. The App is fed by the real source worker, its command goes out
//! through the runner's real dispatcher (journal, idempotency key, delivery), and the run's
//! record is checked step by step: the check turns ✓ once openai@us-east fails, the action
//! goes through the normal confirmation and the breaker is open in the lab, the gate waits
//! until the share has moved, and the record names who, when and the outcome of each step.

mod console_support;
mod lab_support;

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lab::LabServer;
use tokio::sync::{mpsc, watch};

use console_support::{console, screen};
use protocol::BreakerState;
use switchboard::app::{App, Effect, Msg, View};
use switchboard::journal::Journal;
use switchboard::runbook::catalog::Catalog;
use switchboard::runbook::run::Outcome;
use switchboard::runner::commands::Dispatcher;
use switchboard::sources::{Client, SourceOptions, SourceSpec, spawn_source_with};

const WAIT: Duration = Duration::from_secs(60);

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn current(app: &App) -> Option<usize> {
    app.runbooks.run.as_ref().and_then(|run| run.current)
}

async fn until(
    app: &mut App,
    rx: &mut mpsc::Receiver<Msg>,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    console_support::until(app, rx, WAIT, what, done).await
}

/// A console on `lab` with the shipped runbooks and the Runbooks view open, and what the
/// runner wires for it: the real source worker feeding `rx`, and the real dispatcher
/// journaling into a folder of its own (kept while the test runs).
struct Wired {
    app: App,
    rx: mpsc::Receiver<Msg>,
    dispatcher: Dispatcher,
    _stop: watch::Sender<bool>,
    _state: tempfile::TempDir,
}

fn wire(lab: &LabServer, token: Option<String>) -> Wired {
    let (tx, rx) = mpsc::channel::<Msg>(1024);
    let (stop, shutdown) = watch::channel(false);
    let spec = SourceSpec {
        name: "lab".into(),
        url: lab.url(),
        token,
    };
    spawn_source_with(spec.clone(), tx.clone(), shutdown, SourceOptions::default());
    let state = tempfile::tempdir().unwrap();
    let journal = Journal::open(&state.path().join("commands.jsonl")).unwrap();
    let mut app = console("drill", &lab.url(), 120, 36);
    app.update(Msg::RunbooksLoaded {
        catalog: Box::new(Catalog::load(None, &[])),
        record: Ok(Vec::new()),
    });
    app.update(key(KeyCode::Char('6')));
    Wired {
        app,
        rx,
        dispatcher: Dispatcher::new("drill", &[spec], &[], journal, tx),
        _stop: stop,
        _state: state,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_outage_is_followed_from_the_console_step_by_step_against_the_lab() {
    // Five times real time: the outage starts two seconds in, the breaker follows.
    let lab = lab_support::start_lab(5.0, Some("provider-outage")).await;
    let token = lab.token_for("alice").map(str::to_string);
    let Wired {
        mut app,
        mut rx,
        dispatcher,
        _stop,
        _state,
    } = wire(&lab, token.clone());

    assert_eq!(app.view, View::Runbooks);
    until(&mut app, &mut rx, "provider-outage applies now", |app| {
        app.identity().is_some()
            && app
                .runbook_list()
                .first()
                .is_some_and(|l| l.entry.id() == Some("provider-outage") && !l.why.is_empty())
    })
    .await;
    assert!(screen(&app).contains("why: the lab plays provider-outage"));

    app.update(key(KeyCode::Enter));
    assert_eq!(current(&app), Some(0));
    until(&mut app, &mut rx, "step 1's check turns ✓", |app| {
        screen(app).contains("✓ check error_rate(openai@us-east)")
    })
    .await;
    app.update(key(KeyCode::Char('n')));
    assert_eq!(current(&app), Some(1));

    // The action: the normal confirmation, a reason, then the runner's one command path.
    app.update(key(KeyCode::Char('x')));
    let confirm = app.overlays.confirm().expect("the normal confirmation");
    assert_eq!(
        confirm.command.to_string(),
        "breaker force-open openai@us-east for 30m00s"
    );
    for c in "provider outage runbook".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    let effects = app.update(key(KeyCode::Enter));
    let sent: Vec<_> = effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::SendCommand(request) => Some(request),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "one command, through the confirmation");
    dispatcher.send_command(sent.into_iter().next().unwrap());
    until(
        &mut app,
        &mut rx,
        "the action's result is recorded",
        |app| {
            let run = app.runbooks.run.as_ref().unwrap();
            run.record
                .iter()
                .any(|l| matches!(l.outcome, Outcome::ActionResult { .. }))
        },
    )
    .await;
    let client = Client::new(&lab.url(), token).unwrap();
    let fleet = client.fleet().await.unwrap();
    let provider = fleet
        .providers
        .iter()
        .find(|p| p.id == "openai@us-east")
        .unwrap();
    assert_eq!(
        provider.breaker.state,
        BreakerState::Open,
        "open in the lab"
    );
    app.update(key(KeyCode::Char('n')));
    assert_eq!(current(&app), Some(2), "on to the gate");

    until(
        &mut app,
        &mut rx,
        "the gate is met once the share moved",
        |app| current(app) == Some(3),
    )
    .await;
    app.update(key(KeyCode::Char('1')));
    assert_eq!(current(&app), None, "choice 1 ends the run");

    let run = app.runbooks.run.as_ref().unwrap();
    let steps: Vec<(usize, &str)> = run
        .record
        .iter()
        .map(|l| {
            let kind = match &l.outcome {
                Outcome::Started => "started",
                Outcome::Done { .. } => "done",
                Outcome::ActionSent { .. } => "sent",
                Outcome::ActionResult { .. } => "result",
                Outcome::GateMet { .. } => "gate met",
                Outcome::Decided { .. } => "decided",
                other => panic!("unexpected {other:?}"),
            };
            (l.step, kind)
        })
        .collect();
    assert_eq!(
        steps,
        [
            (1, "started"),
            (1, "done"),
            (2, "sent"),
            (2, "result"),
            (2, "done"),
            (3, "gate met"),
            (4, "decided")
        ]
    );
    assert!(run.record.iter().all(|l| l.who == "alice"));
    let Outcome::ActionResult { result, .. } = &run.record[3].outcome else {
        unreachable!()
    };
    assert!(result.starts_with("accepted (audit #"), "{result}");
    let Outcome::GateMet { seen } = &run.record[5].outcome else {
        unreachable!()
    };
    assert!(
        seen.readings[0].starts_with("share(openai@us-east) = 0.0%"),
        "{seen:?}"
    );
    let text = screen(&app);
    assert!(text.contains("step 3: gate met"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_burst_reads_the_inboxs_open_escalations_from_a_lab_with_a_backlog() {
    let lab = lab_support::start_lab_with_escalations(120).await;
    let token = lab.token_for("alice").map(str::to_string);
    let Wired {
        mut app,
        mut rx,
        mut dispatcher,
        _stop,
        _state,
    } = wire(&lab, token.clone());

    // The runner's part: each snapshot asks for the escalation list, loaded page by page.
    let deadline = std::time::Instant::now() + WAIT;
    while !app.inbox.has_loaded(0) {
        assert!(std::time::Instant::now() < deadline, "the inbox loads");
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(250), rx.recv()).await {
            for effect in app.update(msg) {
                if let Effect::FetchEscalations { source } = effect {
                    dispatcher.fetch_escalations(source);
                }
            }
        }
    }
    let open = lab_support::open_escalations_by_priority(&lab, token.as_deref().unwrap()).await;
    let all: u64 = open.iter().sum();
    assert!(all >= 120, "{open:?}");
    let expected = format!("open_escalations(all) = {all} > 50");
    until(&mut app, &mut rx, "escalation-burst applies now", |app| {
        app.runbook_list().first().is_some_and(|l| {
            l.entry.id() == Some("escalation-burst") && l.why.iter().any(|w| w.contains(&expected))
        })
    })
    .await;

    app.update(key(KeyCode::Enter));
    assert_eq!(current(&app), Some(0));
    let shown = screen(&app);
    assert!(shown.contains("✓ check"), "{shown}");
    assert!(
        shown.contains(&format!("open_escalations(p1) = {} > 5", open[0])),
        "{shown}"
    );
    assert!(shown.contains(&expected), "{shown}");
}
