//! The console's side of a Temporal source against a real dev server and the reference worker
//! (see temporal_support): the polling worker's reports folded into the app, through an outage
//! of the server and back. One server for the binary.

mod temporal_support;

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use switchboard::app::{App, AppInit, ContextInfo, Msg};
use switchboard::domain::fleet::{Connection, DownKind, Freshness};
use switchboard::sources::backoff::BackoffPolicy;
use switchboard::sources::temporal::{TemporalSettings, TemporalSource, spawn_temporal};
use switchboard::sources::{SourceEvent, SourceMsg, SourceOptions, Timeouts};
use temporal_support::{TemporalDev, WAIT};

const PATHS: &str = r#"[
  {"model": "gpt-4o", "provider": "openai", "region": "us-east", "simulate": "429"}
]"#;

fn app() -> App {
    App::new(AppInit {
        context: ContextInfo {
            name: "agents".into(),
            lab: false,
            read_only: false,
            production: false,
        },
        sources: vec![("workflows".into(), "http://127.0.0.1".into())],
        problems: Vec::new(),
        theme_name: "dark".into(),
        themes: Vec::new(),
        now: Instant::now(),
        wall: chrono::Utc::now(),
        area: ratatui::layout::Rect::new(0, 0, 120, 40),
        notify_at: None,
        approval_policy: None,
        cost: Default::default(),
    })
}

/// Feeds the worker's reports to `app` until one satisfies `wanted`, which it returns.
async fn until(
    rx: &mut mpsc::Receiver<SourceMsg>,
    app: &mut App,
    wanted: impl Fn(&SourceEvent) -> bool,
) -> SourceEvent {
    let started = Instant::now();
    loop {
        let left = WAIT.saturating_sub(started.elapsed());
        let msg = tokio::time::timeout(left, rx.recv())
            .await
            .expect("the worker reported in time")
            .expect("the worker runs");
        let event = msg.event.clone();
        app.update(Msg::Source(msg));
        if wanted(&event) {
            return event;
        }
    }
}

fn lists(id: &str) -> impl Fn(&SourceEvent) -> bool + '_ {
    move |event| matches!(event, SourceEvent::Listed { rows, .. } if rows.iter().any(|r| r.id == id))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_source_polls_shows_unreachable_with_its_age_then_recovers() {
    let Some(mut dev) = TemporalDev::start() else {
        return;
    };
    let id = dev
        .start_workflows("poll", 1, &["--paths", PATHS, "--max-attempts", "2"])
        .remove(0);
    let settings = TemporalSettings {
        poll_interval_s: 1,
        operator: Some("olga".into()),
        ..TemporalSettings::default()
    };
    let source = TemporalSource::new("workflows", &dev.http_url(), None, &settings);
    let options = SourceOptions {
        timeouts: Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(5),
            ..Timeouts::default()
        },
        backoff: BackoffPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            healthy_after: Duration::from_secs(10),
        },
    };
    let (tx, mut rx) = mpsc::channel::<SourceMsg>(64);
    let (_stop, shutdown) = watch::channel(false);
    spawn_temporal(source, tx, shutdown, options);
    let mut app = app();

    until(&mut rx, &mut app, lists(&id)).await;
    assert!(matches!(app.sources[0].connection, Connection::Live));
    assert_eq!(app.sources[0].identity.as_ref().unwrap().name, "olga");
    assert!(app.inbox.get(0, &id).is_some(), "the task is in the inbox");
    assert_eq!(app.inbox.open_count(), 1);

    dev.stop_server();
    let down = until(&mut rx, &mut app, |e| matches!(e, SourceEvent::Down { .. })).await;
    let SourceEvent::Down {
        kind,
        retry_in,
        error,
    } = down
    else {
        unreachable!()
    };
    assert_eq!(kind, DownKind::Unreachable, "{error}");
    assert!(retry_in <= Duration::from_secs(1), "{retry_in:?}");
    // The last list stays on screen, marked with its age.
    let later = Instant::now() + Duration::from_secs(30);
    app.update(Msg::Tick {
        now: later,
        wall: chrono::Utc::now(),
    });
    assert!(
        matches!(app.sources[0].freshness(later), Freshness::Stale(age) if age >= Duration::from_secs(30))
    );
    assert!(matches!(
        &app.sources[0].connection,
        Connection::Down {
            kind: DownKind::Unreachable,
            ..
        }
    ));
    assert_eq!(app.inbox.open_count(), 1, "the last known list is kept");

    dev.start_server();
    until(&mut rx, &mut app, lists(&id)).await;
    assert!(matches!(app.sources[0].connection, Connection::Live));
    assert!(
        app.timeline.iter().any(|e| e.text == "connection restored"),
        "the recovery is in the timeline"
    );
}
