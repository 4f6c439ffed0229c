//! Issue 11: a region two protocol v1 sources report (here two real labs on 127.0.0.1, fed
//! to the App by the real source workers) is ONE row of the fleet view, whose detail holds
//! each lab's facts under its name and age; a lab stopped greys only its own lines; where the
//! labs disagree it is written out; a command on the one row goes to the lab the engineer
//! picks in the menu, never to one chosen silently.

mod console_support;
mod lab_support;

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lab::LabServer;
use ratatui::buffer::Buffer;
use ratatui::style::Modifier;
use tokio::sync::{mpsc, watch};

use protocol::commands::BreakerAction;
use switchboard::app::{App, Effect, Msg, SentState};
use switchboard::domain::command::Command;
use switchboard::domain::fleet::Connection;
use switchboard::journal::Journal;
use switchboard::runner::commands::Dispatcher;
use switchboard::sources::{Client, SourceOptions, SourceSpec, spawn_source_with};

const WAIT: Duration = Duration::from_secs(30);
const REGION: &str = "us-east";
const PROVIDER: &str = "openai@us-east";

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Two labs with the same fleet, each streamed to one console by its own worker, and the
/// runner's dispatcher sending to either.
struct TwoLabs {
    labs: Vec<LabServer>,
    specs: Vec<SourceSpec>,
    app: App,
    rx: mpsc::Receiver<Msg>,
    dispatcher: Dispatcher,
    _state: tempfile::TempDir,
    _stop: watch::Sender<bool>,
}

impl TwoLabs {
    async fn start() -> TwoLabs {
        let labs = vec![
            lab_support::start_lab(1.0, None).await,
            lab_support::start_lab(1.0, None).await,
        ];
        let specs: Vec<SourceSpec> = (labs.iter().zip(["lab-a", "lab-b"]))
            .map(|(lab, name)| SourceSpec {
                name: name.into(),
                url: lab.url(),
                token: lab.token_for("alice").map(str::to_string),
            })
            .collect();
        let (tx, rx) = mpsc::channel::<Msg>(1024);
        let (stop, shutdown) = watch::channel(false);
        for spec in &specs {
            spawn_source_with(
                spec.clone(),
                tx.clone(),
                shutdown.clone(),
                SourceOptions::default(),
            );
        }
        let state = tempfile::tempdir().unwrap();
        let journal = Journal::open(&state.path().join("commands.jsonl")).unwrap();
        let dispatcher = Dispatcher::new("two-labs", &specs, &[], journal, tx);
        let sources: Vec<(&str, &str)> = (specs.iter())
            .map(|s| (s.name.as_str(), s.url.as_str()))
            .collect();
        let app = console_support::console_of("two-labs", &sources, 120, 36);
        let mut two = TwoLabs {
            labs,
            specs,
            app,
            rx,
            dispatcher,
            _state: state,
            _stop: stop,
        };
        two.until("both labs live, and who I am", |app| {
            app.identity().is_some()
                && (app.sources.iter()).all(|s| s.connection == Connection::Live)
        })
        .await;
        two
    }

    fn client(&self, lab: usize) -> Client {
        Client::new(&self.specs[lab].url, self.specs[lab].token.clone()).unwrap()
    }

    /// Feeds the workers' and the dispatcher's messages (with the clock) until `done` holds;
    /// the commands the app asks for go out through the dispatcher.
    async fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.app) {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {WAIT:?}\n{}",
                text(&self.buffer())
            );
            let next = tokio::time::timeout(Duration::from_millis(250), self.rx.recv()).await;
            if let Ok(Some(msg)) = next {
                self.update(msg);
            }
            self.update(Msg::Tick {
                now: Instant::now(),
                wall: chrono::Utc::now(),
            });
        }
    }

    fn update(&mut self, msg: Msg) {
        for effect in self.app.update(msg) {
            if let Effect::SendCommand(request) = effect {
                self.dispatcher.send_command(request);
            }
        }
    }

    fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.update(key(KeyCode::Char(c)));
        }
    }

    /// Selects `region`'s row (and the region itself, not one of its providers).
    fn select_region(&mut self, region: &str) {
        self.keys("1");
        let row = (self.app.visible.regions.iter())
            .position(|&row| self.app.region_at(row).id == region)
            .unwrap_or_else(|| panic!("{region} is a row"));
        self.app.selection.fleet_row = row;
        self.app.selection.fleet_col = 0;
    }

    /// Selects the cell of `provider` (`vendor@region`).
    fn select_provider(&mut self, provider: &str) {
        let (vendor, region) = provider.split_once('@').unwrap();
        self.select_region(region);
        let column = (self.app.visible.vendors.iter()).position(|v| v == vendor);
        self.app.selection.fleet_col = column.expect("the vendor is a column") + 1;
    }

    fn buffer(&self) -> Buffer {
        console_support::buffer(&self.app)
    }
}

fn text(buffer: &Buffer) -> String {
    let width = buffer.area.width as usize;
    let symbols: Vec<&str> = buffer.content.iter().map(|c| c.symbol()).collect();
    (symbols.chunks(width))
        .map(|row| row.concat().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a snapshot holds of the screen: the matrix, and each source's line and each
/// disagreement of the detail pane; every figure (with its unit) as `#` and runs of spaces as
/// one: the labs' simulations move their figures every second, the rows and words stay.
fn masked(buffer: &Buffer) -> String {
    let screen = text(buffer);
    let kept = (screen.lines()).filter(|line| {
        line.starts_with("│source ")
            || line.starts_with("│≠")
            || line.starts_with('┌')
            || line.starts_with('└')
            || matrix_rows(&screen).contains(line)
            || line.contains("REGION")
    });
    let mut out = Vec::new();
    for line in kept {
        let (mut shown, mut chars) = (String::new(), line.chars().peekable());
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() {
                while chars
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '%')
                {
                    chars.next();
                }
                shown.push('#');
            } else if c == ' ' || c == '─' {
                if !shown.ends_with(c) {
                    shown.push(c);
                }
            } else {
                shown.push(c);
            }
        }
        // The charts beside the facts count their samples: not the point here.
        if let Some(at) = shown.find(" history:") {
            shown.truncate(at);
        }
        out.push(shown);
    }
    out.join("\n")
}

/// The matrix's rows (between its header and its bottom border).
fn matrix_rows(screen: &str) -> Vec<&str> {
    (screen.lines())
        .skip_while(|line| !line.contains("REGION"))
        .skip(1)
        .take_while(|line| !line.starts_with('└'))
        .collect()
}

/// Whether the `n`th line of the screen holding `needle` is drawn stale (italic grey) there.
fn stale_at(buffer: &Buffer, needle: &str, n: usize) -> bool {
    let screen = text(buffer);
    let (y, line) = (screen.lines().enumerate())
        .filter(|(_, line)| line.contains(needle))
        .nth(n)
        .unwrap_or_else(|| panic!("{needle:?} #{n} on screen:\n{screen}"));
    let x = line[..line.find(needle).unwrap()].chars().count();
    let style = buffer[(x as u16, y as u16)].style();
    style.add_modifier.contains(Modifier::ITALIC)
}

/// lab-b forces `PROVIDER`'s breaker open; lab-a leaves it closed.
async fn open_the_breaker_on_lab_b(two: &TwoLabs) {
    let client = two.client(1);
    let snapshot = client.fleet().await.unwrap();
    let command = Command::Breaker {
        provider: PROVIDER.into(),
        action: BreakerAction::ForceOpen,
        expires_in_s: None,
    };
    let if_match = command.control_revision(&snapshot).unwrap();
    let (answer, _) = switchboard::sources::delivery::deliver(
        &client, &command, "drill", None, "k-b", if_match, 3,
    )
    .await;
    answer.unwrap();
}

fn region_health(app: &App, source: usize) -> Option<protocol::Health> {
    let snapshot = app.sources[source].snapshot.as_ref()?;
    (snapshot.regions.iter())
        .find(|r| r.id == REGION)
        .map(|r| r.health)
}

fn breaker_open_in(app: &App, source: usize) -> bool {
    (app.sources[source].snapshot.as_ref()).is_some_and(|s| {
        (s.providers.iter())
            .any(|p| p.id == PROVIDER && p.breaker.state == protocol::BreakerState::Open)
    })
}

/// The region both labs report is one row; its detail has lab-a's facts and lab-b's, each
/// under its name and age; the provider both report shows each lab's breaker and the
/// disagreement written out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_two_labs_report_is_one_row_with_each_labs_facts_at_120x36() {
    let mut two = TwoLabs::start().await;
    open_the_breaker_on_lab_b(&two).await;
    two.until(
        "lab-b's breaker open and its us-east degraded in the console",
        |app| breaker_open_in(app, 1) && region_health(app, 1) != region_health(app, 0),
    )
    .await;

    two.select_region(REGION);
    let buffer = two.buffer();
    let screen = text(&buffer);
    let rows = matrix_rows(&screen);
    let regions = two.app.source(0).snapshot.as_ref().unwrap().regions.len();
    assert_eq!(rows.len(), regions, "one row per region:\n{screen}");
    assert_eq!(
        rows.iter().filter(|r| r.contains(REGION)).count(),
        1,
        "{screen}"
    );
    assert!(screen.contains("source lab-a · live"), "{screen}");
    assert!(screen.contains("source lab-b · live"), "{screen}");
    insta::assert_snapshot!("two_labs_region_120x36", masked(&buffer));

    two.select_provider(PROVIDER);
    let buffer = two.buffer();
    let screen = text(&buffer);
    assert!(
        screen.contains("≠ lab-a says breaker closed, lab-b says breaker open: the sources"),
        "{screen}"
    );
    insta::assert_snapshot!("two_labs_provider_120x36", masked(&buffer));
}

/// lab-b stopped: its lines in the one row's detail say STALE with their age and are greyed;
/// lab-a's stay live, and the row's own cells follow the live lab.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_lab_stopped_greys_only_its_own_lines_with_their_age() {
    let mut two = TwoLabs::start().await;
    let stopped = two.labs.remove(1);
    stopped.shutdown().await;
    two.until("lab-b down", |app| {
        matches!(app.sources[1].connection, Connection::Down { .. })
    })
    .await;
    two.select_region(REGION);
    let buffer = two.buffer();
    let screen = text(&buffer);
    assert!(screen.contains("source lab-a · live"), "{screen}");
    assert!(
        screen.contains("source lab-b · STALE: last known"),
        "{screen}"
    );
    // lab-a's lines first, then lab-b's: only the second are greyed.
    assert!(!stale_at(&buffer, "source lab-a · live", 0), "{screen}");
    assert!(!stale_at(&buffer, "latency p50", 0), "{screen}");
    assert!(stale_at(&buffer, "source lab-b · STALE", 0), "{screen}");
    assert!(stale_at(&buffer, "latency p50", 1), "{screen}");
    assert!(stale_at(&buffer, "load ", 1), "{screen}");
    let rows = matrix_rows(&screen);
    let row = rows.iter().find(|r| r.contains(REGION)).unwrap();
    assert!(
        !row.contains('?'),
        "the row follows the live lab, not the stopped one: {row}"
    );
}

/// A drain on the one row: the menu offers it on each lab (named), the engineer picks lab-b,
/// the confirmation says lab-b, and lab-b (only) drains the region. Typed in the palette, the
/// same choice is asked, never made silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_on_the_one_row_goes_to_the_lab_the_engineer_picks() {
    let mut two = TwoLabs::start().await;
    two.select_region(REGION);
    two.keys("d");
    let menu = two.app.overlays.menu().expect("a menu: which lab drains");
    let offered: Vec<String> = (menu.commands.iter())
        .zip(&menu.sources)
        .map(|(command, source)| format!("{command} → {}", two.app.sources[*source].name))
        .collect();
    assert_eq!(
        offered,
        [
            format!("drain {REGION} → lab-a"),
            format!("drain {REGION} → lab-b")
        ]
    );
    let screen = text(&two.buffer());
    assert!(screen.contains("→ lab-b"), "{screen}");
    two.update(key(KeyCode::Down));
    two.update(key(KeyCode::Enter));
    let confirm = two.app.overlays.confirm().expect("the confirmation");
    assert_eq!(two.app.sources[confirm.source].name, "lab-b");
    assert!(text(&two.buffer()).contains("on lab-b (two-labs)"));
    // Draining us-east overloads the others (the preflight says so): sent anyway, with FORCE.
    two.keys("drill on lab-b only");
    two.update(key(KeyCode::Tab));
    two.update(key(KeyCode::Tab));
    two.keys("FORCE");
    two.update(key(KeyCode::Enter));
    two.until("the drain accepted", |app| {
        app.sent
            .last()
            .is_some_and(|s| matches!(s.state, SentState::Accepted(_)))
    })
    .await;
    assert_eq!(two.app.sent[0].source, "lab-b");
    let drained = |snapshot: protocol::FleetSnapshot| {
        (snapshot.regions.iter()).any(|r| r.id == REGION && r.drain.is_some())
    };
    assert!(
        drained(two.client(1).fleet().await.unwrap()),
        "lab-b drained"
    );
    assert!(
        !drained(two.client(0).fleet().await.unwrap()),
        "lab-a untouched"
    );

    // Typed in the palette, a region both labs report: the same choice.
    two.keys(":drain eu-west");
    two.update(key(KeyCode::Enter));
    let menu = two
        .app
        .overlays
        .menu()
        .expect("a menu: which lab drains eu-west");
    assert_eq!(menu.sources, [0, 1]);
    assert!(two.app.overlays.confirm().is_none());
}
