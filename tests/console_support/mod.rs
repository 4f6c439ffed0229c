//! A console fed by real sources' workers, as the runner feeds it: an `App` on a context of
//! the test's, [`until`] to hand it the workers' messages and the clock until a condition
//! holds, and [`screen`] to draw it as an engineer would see it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use switchboard::app::{App, AppInit, ContextInfo, Msg, ScreenMap};
use tokio::sync::mpsc;

/// A console on `context` whose first source is the lab at `lab_url`, drawn on `width` x
/// `height`.
pub fn console(context: &str, lab_url: &str, width: u16, height: u16) -> App {
    console_of(context, &[("lab", lab_url)], width, height)
}

/// A console on `context` whose sources are `(name, url)`, in this order.
pub fn console_of(context: &str, sources: &[(&str, &str)], width: u16, height: u16) -> App {
    App::new(AppInit {
        context: ContextInfo {
            name: context.into(),
            lab: false,
            read_only: false,
            production: false,
        },
        sources: (sources.iter())
            .map(|(name, url)| (name.to_string(), url.to_string()))
            .collect(),
        problems: Vec::new(),
        theme_name: "dark".into(),
        themes: vec!["dark".into()],
        now: Instant::now(),
        wall: chrono::Utc::now(),
        area: Rect::new(0, 0, width, height),
        notify_at: None,
        approval_policy: None,
        cost: Default::default(),
    })
}

/// Feeds the workers' messages to `app` (with the clock) until `done` holds; panics naming
/// `what` after `wait`.
pub async fn until(
    app: &mut App,
    rx: &mut mpsc::Receiver<Msg>,
    wait: Duration,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    let deadline = Instant::now() + wait;
    while !done(app) {
        assert!(Instant::now() < deadline, "{what}: not within {wait:?}");
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(250), rx.recv()).await {
            app.update(msg);
        }
        app.update(Msg::Tick {
            now: Instant::now(),
            wall: chrono::Utc::now(),
        });
    }
}

/// The console as drawn now, with its styles.
pub fn buffer(app: &App) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(app.area.width, app.area.height)).unwrap();
    let mut map = ScreenMap::default();
    terminal
        .draw(|frame| {
            map = switchboard::views::draw(app, &switchboard::theme::load("dark", false).0, frame)
        })
        .unwrap();
    terminal.backend().buffer().clone()
}

/// The console as drawn now, one line per row.
pub fn screen(app: &App) -> String {
    let buffer = buffer(app);
    let symbols: Vec<&str> = buffer.content.iter().map(|c| c.symbol()).collect();
    symbols
        .chunks(buffer.area.width as usize)
        .map(|row| row.concat())
        .collect::<Vec<_>>()
        .join("\n")
}
