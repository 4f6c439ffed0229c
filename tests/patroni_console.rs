//! The console and the CLI on a context whose service is backed by a real Patroni cluster
//! (etcd and two PostgreSQL nodes under Patroni, tests/patroni_support), on 127.0.0.1: the
//! worker reports the members into the app (leader and replica with their lag), a lagging
//! replica's promotion warns, a promotion confirmed in the console goes through the journal
//! to Patroni and is followed until the roles swap, a second console acting on what it read
//! before is refused, and `switchboard promote` swaps them back from the shell.
//! One cluster for the binary (it takes ~14 s to start): one test.

mod patroni_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use patroni_support::{Cluster as RealCluster, lag};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use switchboard::app::{App, AppInit, ContextInfo, Effect, Msg, SentState};
use switchboard::domain::patroni::{ClusterRead, Lag};
use switchboard::journal::Journal;
use switchboard::runner::patroni::{perform, timeouts};
use switchboard::sources::SourceOptions;
use switchboard::sources::patroni::{PatroniClient, PatroniSettings, PatroniSpec, spawn_patroni};
use tokio::sync::{mpsc, watch};

const SERVICE: &str = "orders";
const CLUSTER: &str = "orders-db";
/// A switchover restarts the old leader; on a loaded machine that takes a while.
const WAIT: Duration = Duration::from_secs(90);

/// One console: its app fed by its own Patroni worker, its promotions carried out as the
/// runner carries them out (`runner::patroni::perform`), with its own journal.
struct Console {
    app: App,
    tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    _stop: watch::Sender<bool>,
    client: PatroniClient,
    url: String,
    journal: Arc<Mutex<Journal>>,
}

impl Console {
    fn start(real: &RealCluster, journal: &Path) -> Console {
        let mut app = App::new(AppInit {
            context: ContextInfo {
                name: SERVICE.into(),
                lab: false,
                read_only: false,
                production: false,
            },
            sources: Vec::new(),
            problems: Vec::new(),
            theme_name: "dark".into(),
            themes: vec!["dark".into()],
            now: Instant::now(),
            wall: chrono::Utc::now(),
            area: Rect::new(0, 0, 120, 32),
            notify_at: None,
            approval_policy: None,
            cost: Default::default(),
        });
        let spec = PatroniSpec {
            name: CLUSTER.into(),
            urls: real.api_urls(),
            credentials: None,
            settings: PatroniSettings {
                service: SERVICE.into(),
                members: Vec::new(),
                regions: BTreeMap::from([
                    ("node1".to_string(), "us-east".to_string()),
                    ("node2".to_string(), "eu-west".to_string()),
                ]),
                poll_interval: Duration::from_secs(1),
            },
        };
        app.add_patroni_source(CLUSTER, spec.url(), spec.settings.poll_interval);
        let (tx, rx) = mpsc::channel(1024);
        let (stop, shutdown) = watch::channel(false);
        let client = spec.client(timeouts()).unwrap();
        let url = spec.url().to_string();
        spawn_patroni(spec, tx.clone(), shutdown, SourceOptions::default());
        let journal = Arc::new(Mutex::new(Journal::open(journal).unwrap()));
        Console {
            app,
            tx,
            rx,
            _stop: stop,
            client,
            url,
            journal,
        }
    }

    fn update(&mut self, msg: Msg) {
        for effect in self.app.update(msg) {
            if let Effect::SendCommand(request) = effect {
                let (client, journal, url, tx) = (
                    self.client.clone(),
                    self.journal.clone(),
                    self.url.clone(),
                    self.tx.clone(),
                );
                tokio::spawn(async move {
                    perform(&client, &journal, SERVICE, &url, request, &tx).await;
                });
            }
        }
    }

    /// Feeds the worker's and the promotions' messages (with the clock) until `done` holds.
    async fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.app) {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {WAIT:?}\n{}",
                self.screen()
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

    fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.update(key(KeyCode::Char(c)));
        }
    }

    /// Opens the confirmation of `promote orders MEMBER` from the palette.
    fn confirm_promotion(&mut self, member: &str) {
        self.keys("2");
        self.keys(":");
        self.keys(&format!("promote {SERVICE} {member}"));
        self.update(key(KeyCode::Enter));
    }

    fn screen(&self) -> String {
        let area = self.app.area;
        let mut terminal = Terminal::new(TestBackend::new(area.width, area.height)).unwrap();
        let theme = switchboard::theme::load("dark", false).0;
        terminal
            .draw(|frame| {
                switchboard::views::draw(&self.app, &theme, frame);
            })
            .unwrap();
        let buffer = terminal.backend().buffer();
        let symbols: Vec<&str> = buffer.content.iter().map(|c| c.symbol()).collect();
        (symbols.chunks(area.width as usize))
            .map(|row| row.concat())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn last_sent(&self) -> Option<&SentState> {
        self.app.sent.last().map(|s| &s.state)
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn read(app: &App) -> Option<&ClusterRead> {
    app.source(0).patroni.as_ref()
}

fn leader(app: &App) -> Option<String> {
    read(app)?.cluster.healthy_leader().map(|m| m.name.clone())
}

fn replica_lag(app: &App, name: &str) -> Option<Lag> {
    read(app)?.cluster.member(name)?.lag
}

fn switchboard(home: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("SWITCHBOARD_TOKEN", "unused")
        .arg("--config")
        .arg(home.join("orders.toml"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_promotes_and_races_and_the_cli_promotes_back() {
    let Some(real) = RealCluster::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut first = Console::start(&real, &dir.path().join("first.jsonl"));
    first
        .until("leader and replica with their lag", |app| {
            leader(app).as_deref() == Some("node1")
                && replica_lag(app, "node2") == Some(Lag::Bytes(0))
        })
        .await;
    first.keys("2");
    let screen = first.screen();
    assert!(screen.contains("patroni orders-db · read"), "{screen}");
    for line in [
        "node1      leader         running",
        "node2      replica        ",
        "eu-west   lag 0 B (0 B) ≤ max 1.0 MiB",
    ] {
        assert!(screen.contains(line), "{line:?} in\n{screen}");
    }

    // The replica stops receiving while the leader writes: the promotion warns.
    real.hold_replication(1, true);
    real.write(0, 300_000);
    first
        .until(
            "node2 lags beyond maximum_lag_on_failover",
            |app| matches!(replica_lag(app, "node2"), Some(Lag::Bytes(lag)) if lag > 1 << 20),
        )
        .await;
    first.confirm_promotion("node2");
    let screen = first.screen();
    assert!(screen.contains("node1 hands over to node2"), "{screen}");
    assert!(screen.contains("node2 lags "), "{screen}");
    assert!(screen.contains("maximum_lag_on_failover"), "{screen}");
    first.update(key(KeyCode::Esc));
    real.hold_replication(1, false);
    real.wait_until("node2 caught up", |m| lag(m, "node2") == Some(0));

    // Two consoles read the cluster and confirm the same promotion.
    let mut second = Console::start(&real, &dir.path().join("second.jsonl"));
    for console in [&mut first, &mut second] {
        console
            .until("node2 caught up on screen", |app| {
                replica_lag(app, "node2") == Some(Lag::Bytes(0))
            })
            .await;
        console.confirm_promotion("node2");
        console.keys("switchover drill");
    }
    // The first sends and follows it until node2 leads and runs.
    first.update(key(KeyCode::Enter));
    first
        .until("the first console's promotion followed", |app| {
            !matches!(app.sent.last().map(|s| &s.state), Some(SentState::Sending))
        })
        .await;
    let Some(SentState::Accepted(accepted)) = first.last_sent() else {
        panic!("{:?}\n{}", first.last_sent(), first.screen());
    };
    let followed = accepted.operation.as_ref().unwrap();
    assert!(
        followed.message.starts_with("node2 leads and runs"),
        "{followed:?}"
    );
    assert!(first.app.sent[0].key.is_some(), "journaled under a key");
    first
        .until("the roles swapped on screen", |app| {
            leader(app).as_deref() == Some("node2")
        })
        .await;
    let screen = first.screen();
    assert!(screen.contains("node2      leader"), "{screen}");

    // The second, which has not looked again, sends what it confirmed: refused, clearly.
    second.update(key(KeyCode::Enter));
    second
        .until("the second console's promotion answered", |app| {
            !matches!(app.sent.last().map(|s| &s.state), Some(SentState::Sending))
        })
        .await;
    let Some(SentState::Failed(failure)) = second.last_sent() else {
        panic!("{:?}\n{}", second.last_sent(), second.screen());
    };
    assert!(failure.message.starts_with("not sent: "), "{failure:?}");
    let members = real.members();
    assert_eq!(
        patroni_support::role_state(&members, "node2").map(|(role, _)| role),
        Some("leader".to_string()),
        "nothing changed"
    );

    // From the shell: node1 back, then the same again is refused (exit 2).
    real.wait_until("node1 replicates again", |m| {
        patroni_support::role_state(m, "node1").is_some_and(|(role, state)| {
            role == "replica" && matches!(state.as_str(), "running" | "streaming")
        }) && lag(m, "node1") == Some(0)
    });
    let home = tempfile::tempdir().unwrap();
    let urls = real.api_urls();
    std::fs::write(
        home.path().join("orders.toml"),
        format!(
            "default_context = \"orders\"\n[contexts.orders]\n[[contexts.orders.sources]]\n\
             name = \"{CLUSTER}\"\nkind = \"patroni\"\nurl = \"{}\"\n\
             [contexts.orders.sources.patroni]\nservice = \"{SERVICE}\"\nmembers = [\"{}\"]\n",
            urls[0], urls[1]
        ),
    )
    .unwrap();
    let args = [
        "promote", SERVICE, "node1", "--reason", "back", "--yes", "--json",
    ];
    let promoted = switchboard(home.path(), &args);
    let report: serde_json::Value =
        serde_json::from_slice(&promoted.stdout).unwrap_or_else(|_| panic!("{promoted:?}"));
    assert_eq!(report["outcome"], "succeeded", "{report}");
    assert_eq!(promoted.status.code(), Some(0), "{report}");
    assert!(report["idempotency_key"].is_string(), "{report}");
    let members = real.members();
    assert_eq!(
        patroni_support::role_state(&members, "node1").map(|(role, _)| role),
        Some("leader".to_string())
    );
    let again = switchboard(home.path(), &args);
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again.status.code(), Some(2), "{report}");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("node1 already leads"),
        "{report}"
    );

    // A promotion journaled by a run that never learnt its fate is settled from the cluster,
    // never sent again: applied when its candidate leads, not applied otherwise.
    let pending = |candidate: &str| {
        let sent = switchboard::journal::SentCommand {
            verb: "promote (switchover)".into(),
            target: format!("{SERVICE}/{candidate}"),
            path: "switchover".into(),
            body: serde_json::json!({"leader": "x", "candidate": candidate}),
        };
        switchboard::journal::Entry::for_request(SERVICE, &urls[0], sent, "drill", "k", Some(1))
    };
    let client = first.client.clone();
    let applied = switchboard::runner::patroni::recover(&client, &pending("node1")).await;
    assert!(
        applied
            .describe()
            .starts_with("applied: node1 leads and runs"),
        "{applied:?}"
    );
    let not_applied = switchboard::runner::patroni::recover(&client, &pending("node2")).await;
    assert!(
        not_applied.describe().contains("not applied: node1 leads"),
        "{not_applied:?}"
    );

    // `switchboard journal` settles them the same way, as the console does on start.
    let path = home.path().join("state/switchboard/commands.jsonl");
    let mut journal = Journal::open(&path).unwrap();
    for candidate in ["node1", "node2"] {
        journal.record_sent(&pending(candidate)).unwrap();
    }
    drop(journal);
    let settled = switchboard(home.path(), &["journal"]);
    let said = String::from_utf8_lossy(&settled.stderr);
    assert_eq!(settled.status.code(), Some(0), "{settled:?}");
    assert!(said.contains("applied: node1 leads and runs"), "{said}");
    assert!(said.contains("not applied: node1 leads"), "{said}");
    assert!(Journal::open(&path).unwrap().pending().is_empty());
}
