//! Issue 14 in the console, through a real lab whose topology holds every drain for a second
//! operator. Two consoles (alice's and bob's), each an `App` fed by its own real source
//! worker, their effects carried out by the runner's real dispatcher (journal, keys,
//! delivery). Alice drains ap-south: her console says it is held, never accepted, and her
//! journal knows it as held (nothing to recover). Bob's console shows the banner and the
//! count, refuses to let alice approve her own, and bob approves with a reason: both consoles
//! see ap-south drained, alice hears bob's approval, and the audit entry names both.

mod console_support;
mod lab_support;

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::{mpsc, watch};

use console_support::screen;
use lab::LabServer;
use protocol::approvals::ApprovalState;
use protocol::commands::AuditOutcome;
use switchboard::app::{App, Effect, Msg, SentState, View};
use switchboard::journal::Journal;
use switchboard::runner::commands::Dispatcher;
use switchboard::sources::{Client, SourceSpec, spawn_source};

const WAIT: Duration = Duration::from_secs(30);

/// One console: its App, the messages of its worker and of its dispatcher's tasks.
struct Console {
    app: App,
    rx: mpsc::Receiver<Msg>,
    dispatcher: Dispatcher,
    journal: std::path::PathBuf,
    _stop: watch::Sender<bool>,
    _state: tempfile::TempDir,
}

impl Console {
    fn open(lab: &LabServer, who: &str) -> Console {
        let (tx, rx) = mpsc::channel::<Msg>(1024);
        let (stop, shutdown) = watch::channel(false);
        let spec = SourceSpec {
            name: "lab".into(),
            url: lab.url(),
            token: lab.token_for(who).map(str::to_string),
        };
        spawn_source(spec.clone(), tx.clone(), shutdown);
        let state = tempfile::tempdir().unwrap();
        let journal = state.path().join("commands.jsonl");
        let dispatcher =
            Dispatcher::new("drill", &[spec], &[], Journal::open(&journal).unwrap(), tx);
        Console {
            app: console_support::console("drill", &lab.url(), 120, 40),
            rx,
            dispatcher,
            journal,
            _stop: stop,
            _state: state,
        }
    }

    /// Feeds `msg` to the app and carries out what it asks, as the runner does.
    fn update(&mut self, msg: Msg) {
        for effect in self.app.update(msg) {
            match effect {
                Effect::SendCommand(request) => self.dispatcher.send_command(request),
                Effect::Decide(order) => self.dispatcher.decide(order),
                _ => {}
            }
        }
    }

    fn press(&mut self, code: KeyCode) {
        self.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c));
        }
    }

    /// Feeds every message waiting (then the clock) until `done` holds.
    async fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.app) {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {WAIT:?}; screen:\n{}",
                screen(&self.app)
            );
            if let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(100), self.rx.recv()).await
            {
                self.update(msg);
                while let Ok(msg) = self.rx.try_recv() {
                    self.update(msg);
                }
            }
            self.update(Msg::Tick {
                now: Instant::now(),
                wall: chrono::Utc::now(),
            });
        }
    }

    async fn until_screen(&mut self, what: &str) -> String {
        self.until(what, |app| screen(app).contains(what)).await;
        screen(&self.app)
    }

    fn flash(&self) -> String {
        self.app
            .flash
            .as_ref()
            .map(|f| f.text.clone())
            .unwrap_or_default()
    }
}

/// A lab that holds every drain for a second operator.
async fn lab_holding_drains() -> LabServer {
    let topology = format!(
        "{}\n[approvals]\nverbs = [\"drain\"]\n",
        lab::topology::DEFAULT_TOPOLOGY_TOML
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topology.toml");
    std::fs::write(&path, topology).unwrap();
    let options = lab::LabOptions {
        topology: Some(path),
        ..lab::LabOptions::default()
    };
    LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn ap_south_drained(app: &App) -> bool {
    (app.sources[0].snapshot.iter())
        .flat_map(|s| &s.regions)
        .any(|r| r.id == "ap-south" && r.drain.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_held_by_alice_runs_when_bob_approves_and_both_consoles_see_it() {
    let lab = lab_holding_drains().await;
    let mut alice = Console::open(&lab, "alice");
    let mut bob = Console::open(&lab, "bob");
    for console in [&mut alice, &mut bob] {
        console
            .until("the fleet and who we are", |app| {
                app.identity().is_some() && app.sources[0].snapshot.is_some()
            })
            .await;
    }

    // Alice drains ap-south past its blocking preflight (log-aggregator runs only there):
    // held, not accepted.
    alice.press(KeyCode::Char(':'));
    alice.type_text("drain ap-south");
    alice.press(KeyCode::Enter);
    alice.type_text("ap-south idle, take it out for the upgrade");
    alice.press(KeyCode::Tab);
    alice.press(KeyCode::Tab);
    alice.type_text("FORCE");
    alice.press(KeyCode::Enter);
    alice
        .until("the drain's answer", |app| {
            matches!(app.sent.first().map(|s| &s.state), Some(SentState::Held(_)))
        })
        .await;
    let said = alice.flash();
    assert!(
        said.starts_with("⚖ drain ap-south: held for approval apr-")
            && said.contains("it overrides a blocking preflight; expires"),
        "{said}"
    );
    assert!(!ap_south_drained(&alice.app));
    // The journal knows the answer: nothing for a restart to recover.
    assert!(Journal::open(&alice.journal).unwrap().pending().is_empty());
    // Alice may not approve her own.
    alice.press(KeyCode::Char('8'));
    assert_eq!(alice.app.view, View::Approvals);
    alice.press(KeyCode::Char('a'));
    assert!(
        alice.flash().contains("your own request"),
        "{}",
        alice.flash()
    );
    alice.press(KeyCode::Char('1'));

    // Bob sees the banner and the count at once, opens the request and approves it.
    let screen = bob
        .until_screen(
            "⚖ alice asks to drain ap-south (forced): ap-south idle, take it out for the upgrade — 8 Approvals",
        )
        .await;
    assert!(screen.contains("⚖ 1 waiting"), "{screen}");
    bob.press(KeyCode::Char('8'));
    let screen = bob
        .until_screen("preflight alice saw: BLOCK (forced past it)")
        .await;
    assert!(screen.contains("preflight now: BLOCK"), "{screen}");
    assert!(
        screen.contains("log-aggregator: no replica would take its traffic"),
        "{screen}"
    );
    bob.press(KeyCode::Char('a'));
    bob.type_text("checked the other regions' headroom");
    bob.press(KeyCode::Enter);
    bob.until("bob's approval answered", |app| {
        app.approvals.sent.is_empty()
            && app.approvals.rows()[0].request.state == ApprovalState::Approved
    })
    .await;
    assert!(bob.flash().starts_with("✓ approve apr-"), "{}", bob.flash());

    // Both see the drain happen; alice hears who approved it and why.
    bob.until("ap-south drained on bob's screen", ap_south_drained)
        .await;
    alice
        .until("ap-south drained on alice's screen", ap_south_drained)
        .await;
    alice
        .until_screen(
            "✓ bob approved your drain ap-south (forced): checked the other regions' headroom",
        )
        .await;

    // The audit entry of the drain names both.
    let client = Client::new(&lab.url(), lab.token_for("alice").map(str::to_string)).unwrap();
    let page = client.audit(Some(50), None, None).await.unwrap();
    let carried = (page.entries.iter())
        .find(|e| e.action == "drain" && e.outcome == AuditOutcome::Accepted)
        .expect("the drain ran");
    assert_eq!(carried.actor, "alice");
    assert!(
        (carried.detail.as_deref().unwrap_or_default())
            .starts_with("approved by bob: checked the other regions' headroom"),
        "{carried:?}"
    );
    lab.shutdown().await;
}
