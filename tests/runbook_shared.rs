//! Issue 12: two consoles follow ONE runbook run shared through a real lab. Each console is an
//! `App` fed by its own real source worker (alice's and bob's tokens), whose effects go out
//! through the runner's real dispatcher: commands (journal, key, delivery) and the shared-run
//! requests. Console A starts provider-outage and advances a step; B joins it (no second run),
//! sees the step with who and when and A's presence, records the next one, A sees it; both
//! take the decision at once and the one that comes second gets the 409 with the run as it is
//! now; and B's link to the lab losing answers while B records a step: the step is pending
//! on B's screen and reaches the lab's record exactly once when the link is back.

mod console_support;
mod lab_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use console_support::screen;
use lab::LabServer;
use protocol::runbook_runs::{RunState, StepOutcome};
use switchboard::app::{App, Effect, Msg, View};
use switchboard::journal::Journal;
use switchboard::runbook::catalog::Catalog;
use switchboard::runner::commands::Dispatcher;
use switchboard::sources::backoff::BackoffPolicy;
use switchboard::sources::{Client, SourceOptions, SourceSpec, spawn_source_with};

const WAIT: Duration = Duration::from_secs(30);

/// One console: its App, the messages of its worker and of its dispatcher's tasks.
struct Console {
    app: App,
    rx: mpsc::Receiver<Msg>,
    dispatcher: Dispatcher,
    _stop: watch::Sender<bool>,
    _state: tempfile::TempDir,
}

impl Console {
    fn open(lab: &LabServer, url: &str, who: &str) -> Console {
        let (tx, rx) = mpsc::channel::<Msg>(1024);
        let (stop, shutdown) = watch::channel(false);
        let spec = SourceSpec {
            name: "lab".into(),
            url: url.to_string(),
            token: lab.token_for(who).map(str::to_string),
        };
        // Reconnect soon after the link is back: the test waits for it.
        let options = SourceOptions {
            backoff: BackoffPolicy {
                base: Duration::from_millis(100),
                cap: Duration::from_millis(500),
                healthy_after: Duration::from_secs(10),
            },
            ..SourceOptions::default()
        };
        spawn_source_with(spec.clone(), tx.clone(), shutdown, options);
        let state = tempfile::tempdir().unwrap();
        let journal = Journal::open(&state.path().join("commands.jsonl")).unwrap();
        let dispatcher = Dispatcher::new("drill", &[spec], &[], journal, tx);
        let mut app = console_support::console("drill", url, 120, 40);
        app.update(Msg::RunbooksLoaded {
            catalog: Box::new(Catalog::load(None, &[])),
            record: Ok(Vec::new()),
        });
        Console {
            app,
            rx,
            dispatcher,
            _stop: stop,
            _state: state,
        }
    }

    /// Feeds `msg` to the app and carries out what it asks, as the runner does.
    fn update(&mut self, msg: Msg) {
        for effect in self.app.update(msg) {
            match effect {
                Effect::SendCommand(request) => self.dispatcher.send_command(request),
                Effect::ShareRun(order) => self.dispatcher.share_run(order),
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

    fn current(&self) -> Option<usize> {
        self.app.runbooks.run.as_ref().and_then(|run| run.current)
    }

    /// The view on provider-outage once the source has said it shares runs.
    async fn open_provider_outage(&mut self) {
        self.press(KeyCode::Char('6'));
        assert_eq!(self.app.view, View::Runbooks);
        self.until("provider-outage applies now and runs are shared", |app| {
            app.sharing_source().is_some()
                && app
                    .runbook_list()
                    .first()
                    .is_some_and(|l| l.entry.id() == Some("provider-outage") && !l.why.is_empty())
        })
        .await;
        self.press(KeyCode::Enter);
    }
}

async fn lab_record(lab: &LabServer) -> protocol::runbook_runs::RunbookRun {
    let client = Client::new(&lab.url(), lab.token_for("alice").map(str::to_string)).unwrap();
    let list = client.runbook_runs().await.unwrap();
    assert_eq!(list.runs.len(), 1, "one shared run, never a second");
    list.runs.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consoles_follow_one_shared_run_and_the_second_to_decide_gets_the_409() {
    let lab = lab_support::start_lab(5.0, Some("provider-outage")).await;
    let mut a = Console::open(&lab, &lab.url(), "alice");
    let mut b = Console::open(&lab, &lab.url(), "bob");

    a.open_provider_outage().await;
    let text = a.until_screen("shared run run-000001 on lab").await;
    assert!(!text.contains("only this console"), "{text}");
    a.press(KeyCode::Char('n'));
    assert_eq!(a.current(), Some(1), "A moves on at once");
    a.until("step 1 recorded by the lab", |app| {
        let following = app.runbooks.shared.following.as_ref().unwrap();
        following.run.steps.len() == 1 && following.pending.is_empty()
    })
    .await;

    // B opens the same runbook: it joins A's run instead of starting a second one.
    b.open_provider_outage().await;
    let text = b.until_screen("alice on step 2").await;
    assert!(text.contains("shared run run-000001 on lab"), "{text}");
    assert!(text.contains("alice step 1: done"), "who and what: {text}");
    assert!(text.contains("▶ 2. Open the breaker"), "{text}");
    assert_eq!(b.current(), Some(1));

    // B records step 2: the action through the normal confirmation, then done.
    b.press(KeyCode::Char('x'));
    assert!(
        b.app.overlays.confirm().is_some(),
        "the normal confirmation"
    );
    b.type_text("provider outage runbook");
    b.press(KeyCode::Enter);
    b.until("the action's answer is in the shared record", |app| {
        let run = &app.runbooks.shared.following.as_ref().unwrap().run;
        run.steps.iter().any(|s| {
            matches!(&s.outcome, StepOutcome::Action { result, .. } if result.starts_with("accepted"))
        })
    })
    .await;
    b.press(KeyCode::Char('n'));
    assert_eq!(b.current(), Some(2));

    let text = a.until_screen("bob step 2: done").await;
    assert!(
        text.contains("bob step 2: action sent: breaker force-open"),
        "{text}"
    );
    assert!(
        text.contains("bob (") || text.contains("bob on step"),
        "{text}"
    );

    // The gate is met once traffic has moved; both consoles reach the decision.
    a.until("A at the decision", |app| {
        app.runbooks.run.as_ref().and_then(|r| r.current) == Some(3)
    })
    .await;
    b.until("B at the decision", |app| {
        app.runbooks.run.as_ref().and_then(|r| r.current) == Some(3)
    })
    .await;

    // Both choose before hearing of the other: A's lands first, B's is refused with the run
    // as it is now and what became of its choice.
    a.press(KeyCode::Char('1'));
    a.until("A's choice recorded and the run finished", |app| {
        let run = &app.runbooks.shared.following.as_ref().unwrap().run;
        run.state == RunState::Finished
    })
    .await;
    b.press(KeyCode::Char('2'));
    let text = b.until_screen("✖ not recorded by the source").await;
    assert!(text.contains("decided 2."), "B's choice is told: {text}");
    assert!(
        text.contains("alice step 4: decided 1."),
        "A's is shown: {text}"
    );
    assert!(text.contains("by alice"), "what happened: {text}");
    assert_eq!(b.current(), None, "B shows the run as it is: ended");

    let run = lab_record(&lab).await;
    let decisions: Vec<_> = (run.steps.iter())
        .filter(|s| matches!(s.outcome, StepOutcome::Decision { .. }))
        .map(|s| s.by.as_str())
        .collect();
    assert_eq!(decisions, ["alice"], "one decision, A's");
    assert_eq!(run.state, RunState::Finished);
}

/// A link to the lab that passes, loses every answer (the request arrives, the answer never
/// comes back: the worst case of a source going down mid-request) or is cut (nothing gets
/// through), and is restored.
struct Link {
    url: String,
    mode: Arc<AtomicU8>,
}

const PASS: u8 = 0;
const LOSE_ANSWERS: u8 = 1;
const CUT: u8 = 2;

impl Link {
    async fn to(lab: &LabServer) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = lab.url().trim_start_matches("http://").to_string();
        let mode = Arc::new(AtomicU8::new(PASS));
        let link_mode = mode.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let mode = link_mode.clone();
                if mode.load(Ordering::SeqCst) == CUT {
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(&upstream).await {
                        relay(inbound, outbound, mode).await;
                    }
                });
            }
        });
        Link { url, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

/// Requests pass unless the link is cut; answers pass unless it loses them or is cut: then
/// the connection drops instead.
async fn relay(inbound: TcpStream, outbound: TcpStream, mode: Arc<AtomicU8>) {
    let (mut in_read, mut in_write) = inbound.into_split();
    let (mut out_read, mut out_write) = outbound.into_split();
    let requests = async {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = in_read.read(&mut buf).await {
            if mode.load(Ordering::SeqCst) == CUT || out_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let answers = async {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = out_read.read(&mut buf).await {
            if mode.load(Ordering::SeqCst) != PASS || in_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = requests => {}
        _ = answers => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_recorded_while_the_source_is_down_is_pending_then_recorded_exactly_once() {
    let lab = lab_support::start_lab(5.0, Some("provider-outage")).await;
    let link = Link::to(&lab).await;
    let mut a = Console::open(&lab, &lab.url(), "alice");
    let mut b = Console::open(&lab, &link.url, "bob");

    a.open_provider_outage().await;
    a.until_screen("shared run run-000001 on lab").await;
    b.open_provider_outage().await;
    b.until_screen("bob (you) on step 1").await;

    // The lab takes B's step but its answer is lost, and the stream with it.
    link.set(LOSE_ANSWERS);
    b.press(KeyCode::Char('n'));
    assert_eq!(b.current(), Some(1), "B moves on at once");
    let text = b.until_screen("sent again when the source is back").await;
    assert!(text.contains("bob ⧗ pending · step 1: done"), "{text}");
    let text = a.until_screen("bob step 1: done").await;
    assert!(text.contains("▶ 2. Open the breaker"), "{text}");

    // Back: B's step is confirmed, not recorded a second time.
    link.set(PASS);
    b.until("B's step confirmed by the lab", |app| {
        let following = app.runbooks.shared.following.as_ref().unwrap();
        following.pending.is_empty() && following.run.steps.len() == 1
    })
    .await;
    let text = screen(&b.app);
    assert!(!text.contains("pending"), "{text}");
    assert!(!text.contains("not recorded"), "{text}");

    // Cut, nothing gets through: the note waits, then is sent once.
    link.set(CUT);
    b.press(KeyCode::Char('e'));
    b.type_text("paged the provider");
    b.press(KeyCode::Enter);
    b.until_screen("sent again when the source is back").await;
    assert_eq!(lab_record(&lab).await.steps.len(), 1, "not in the lab yet");
    link.set(PASS);
    b.until("B's note recorded", |app| {
        let following = app.runbooks.shared.following.as_ref().unwrap();
        following.pending.is_empty() && following.run.steps.len() == 2
    })
    .await;
    a.until_screen("bob step 2: note: paged the provider").await;

    let run = lab_record(&lab).await;
    let by_bob: Vec<(u32, &str)> = (run.steps.iter())
        .filter(|s| s.by == "bob")
        .map(|s| (s.step, s.outcome.kind()))
        .collect();
    assert_eq!(by_bob, [(1, "check"), (2, "note")], "each exactly once");
}
