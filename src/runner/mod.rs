//! The event loop: gathers messages (keys, source reports, ticks) into one channel, feeds
//! them to `App::update`, carries out the effects, and draws when something changed, at
//! most ~60 times a second.

mod approvals;
pub mod commands;
mod escalations;
mod exercise;
pub mod history;
mod journaling;
pub mod patroni;
pub mod recovery;
pub mod replay;
mod runbooks;
pub mod silences;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use ratatui::layout::Rect;
use tokio::sync::{mpsc, watch};

use crate::app::{App, AppInit, ContextInfo, Effect, Msg, ScreenMap};
use crate::config::{DesktopEscape, NotifyConfig, NotifyMode};
use crate::sources::litellm::{LiteLlmSpec, spawn_litellm};
use crate::sources::patroni::{PatroniSpec, spawn_patroni};
use crate::sources::prometheus::{PrometheusSpec, spawn_prometheus};
use crate::sources::temporal::{TemporalSource, spawn_temporal};
use crate::sources::{SourceOptions, SourceSpec, spawn_source};
use crate::theme;

const FRAME_BUDGET: Duration = Duration::from_millis(16);
const TICK: Duration = Duration::from_millis(250);
/// Messages handled before the next draw at most, so a flood cannot starve the screen.
const BATCH: usize = 512;

pub struct ConsoleOptions {
    pub context: ContextInfo,
    pub sources: Vec<SourceSpec>,
    /// Temporal sources, after the protocol v1 ones.
    pub temporal: Vec<TemporalSource>,
    /// Prometheus sources (polled; their facts merge with the protocol v1 sources').
    pub prometheus: Vec<PrometheusSpec>,
    /// LiteLLM proxies (polled; their deployments merge as providers and routes).
    pub litellm: Vec<LiteLlmSpec>,
    /// Patroni sources (polled; each cluster is the service it backs).
    pub patroni: Vec<PatroniSpec>,
    /// The context's two-person rule, applied to every command sent.
    pub approvals: Option<protocol::approvals::ApprovalPolicy>,
    /// The context's `[cost]`.
    pub cost: crate::domain::prices::CostConfig,
    pub problems: Vec<String>,
    pub theme_name: String,
    pub no_color: bool,
    /// The command journal (JSON Lines, fsync'd before each command is sent).
    pub journal: PathBuf,
    /// How new urgent escalations are announced.
    pub notify: NotifyConfig,
    /// The config's `runbook_dirs`, read beside the shipped runbooks and the user's.
    pub runbook_dirs: Vec<PathBuf>,
}

pub async fn run_console(options: ConsoleOptions) -> anyhow::Result<()> {
    let (theme_loaded, theme_problem) = theme::load(&options.theme_name, options.no_color);
    let mut current_theme = theme_loaded;
    let mut problems = options.problems;
    problems.extend(theme_problem);

    // Opened before the terminal is taken, so a failure reads as a plain error.
    let journal = crate::journal::Journal::open(&options.journal).map_err(|error| {
        anyhow::anyhow!(
            "cannot open the command journal {}: {error}",
            options.journal.display()
        )
    })?;
    let history = history::read(&journal, &options.context.name, &options.journal);
    let mut guard = crate::terminal::TerminalGuard::enter()?;
    let size = guard.size()?;
    let (tx, mut rx) = mpsc::channel::<Msg>(4096);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let mut dispatcher = commands::Dispatcher::new(
        &options.context.name,
        &options.sources,
        &options.temporal,
        journal,
        tx.clone(),
    );
    let notify = options.notify;
    let mut notifier = Notifier::new(notify);
    let mut app = App::new(AppInit {
        context: options.context,
        sources: options
            .sources
            .iter()
            .map(|s| (s.name.clone(), s.url.clone()))
            .chain((options.temporal.iter()).map(|t| (t.spec.name.clone(), t.spec.url.clone())))
            .collect(),
        problems,
        theme_name: options.theme_name,
        themes: theme_cycle(),
        now: Instant::now(),
        wall: chrono::Utc::now(),
        area: Rect::new(0, 0, size.width, size.height),
        notify_at: notify.threshold(),
        approval_policy: options.approvals,
        cost: options.cost,
    });

    // The filter's matching threads wake the loop when their rows are ready.
    let matched_tx = tx.clone();
    app.inbox.wake_on_matches(std::sync::Arc::new(move || {
        // Off the runtime, on a matching thread; an error means the console is closing.
        let _ = matched_tx.blocking_send(Msg::FilterMatched);
    }));

    for spec in &options.prometheus {
        match spec.alertmanager() {
            Ok(Some(alertmanager)) => dispatcher.add_alertmanager(&spec.name, alertmanager),
            Ok(None) => {}
            // The worker reports it as the source being down.
            Err(error) => tracing::error!(source = %spec.name, %error, "no alertmanager client"),
        }
    }
    // The embedded lab is born with this process: nothing an earlier run sent can be its.
    for spec in &options.patroni {
        dispatcher.add_patroni(spec);
    }
    if !app.context.lab {
        app.update(Msg::JournalRead(history));
        dispatcher.recover_pending();
    }
    for spec in options.sources {
        spawn_source(spec, tx.clone(), shutdown_rx.clone());
    }
    for source in options.temporal {
        spawn_temporal(
            source,
            tx.clone(),
            shutdown_rx.clone(),
            SourceOptions::default(),
        );
    }
    for spec in options.prometheus {
        app.add_metrics_source(&spec.name, &spec.url, spec.settings.poll_interval);
        let options = SourceOptions::default();
        spawn_prometheus(spec, tx.clone(), shutdown_rx.clone(), options);
    }
    for spec in options.litellm {
        app.add_gateway_source(&spec.name, &spec.url, spec.settings.poll_interval);
        spawn_litellm(
            spec,
            tx.clone(),
            shutdown_rx.clone(),
            SourceOptions::default(),
        );
    }
    for spec in options.patroni {
        app.add_patroni_source(&spec.name, spec.url(), spec.settings.poll_interval);
        spawn_patroni(
            spec,
            tx.clone(),
            shutdown_rx.clone(),
            SourceOptions::default(),
        );
    }
    let run_record = runbooks::RunRecord::new(runbooks::record_path(&options.journal));
    run_record.load(options.runbook_dirs.clone(), tx.clone());
    tokio::spawn(forward_terminal_events(tx.clone()));
    tokio::spawn(tick(tx.clone()));
    tokio::spawn(forward_signals(tx.clone()));

    let mut last_draw = Instant::now() - FRAME_BUDGET;
    'main: loop {
        if let Some(batch) = next_batch(&mut rx, app.dirty, last_draw).await {
            for msg in batch {
                for effect in app.update(msg) {
                    match effect {
                        Effect::Quit => break 'main,
                        Effect::SendCommand(request) => dispatcher.send_command(request),
                        Effect::FetchAudit { source, newer_than } => {
                            dispatcher.fetch_audit(source, newer_than)
                        }
                        Effect::FetchEscalations { source } => dispatcher.fetch_escalations(source),
                        Effect::FetchEscalation { source, id } => {
                            dispatcher.fetch_escalation(source, id)
                        }
                        Effect::Claim { source, id } => dispatcher.claim(source, id),
                        Effect::Release { source, id } => dispatcher.release(source, id),
                        Effect::Resolve(request) => dispatcher.resolve(request),
                        Effect::Silence(order) => dispatcher.silence(order),
                        Effect::RecordRun(line) => run_record.append(line, tx.clone()),
                        Effect::ShareRun(order) => dispatcher.share_run(order),
                        // Only a replay moves a replay's clock (runner/replay.rs).
                        Effect::ReplayTo { .. } => {}
                        Effect::ControlExercise(order) => dispatcher.control_exercise(order),
                        Effect::Decide(order) => dispatcher.decide(order),
                        Effect::FetchExerciseReport { source } => {
                            dispatcher.fetch_exercise_report(source)
                        }
                        Effect::Notify { title, body } => {
                            if let Some(escape) = notifier.announce(Instant::now(), &title, &body) {
                                let backend = guard.backend_mut();
                                if let Err(error) = backend
                                    .write_all(escape.as_bytes())
                                    .and_then(|()| backend.flush())
                                {
                                    tracing::warn!(%error, "cannot write a notification");
                                }
                            }
                        }
                        Effect::LoadTheme(name) => {
                            current_theme = reload_theme(&name, options.no_color, &tx);
                            app.dirty = true;
                        }
                    }
                }
            }
        }
        draw_when_due(&mut app, &mut guard, &current_theme, &mut last_draw)?;
    }
    let _ = shutdown_tx.send(true);
    Ok(())
}

/// The themes `t` cycles through: the embedded ones but monochrome (that one is for NO_COLOR).
fn theme_cycle() -> Vec<String> {
    theme::embedded_names()
        .filter(|n| *n != theme::MONOCHROME)
        .map(str::to_string)
        .collect()
}

/// Loads the theme `name`; a problem with it is fed back as a message so the one owner
/// records it.
fn reload_theme(name: &str, no_color: bool, tx: &mpsc::Sender<Msg>) -> theme::Theme {
    let (loaded, problem) = theme::load(name, no_color);
    if let Some(problem) = problem {
        let _ = tx.try_send(Msg::Problem(problem));
    }
    loaded
}

/// The messages to handle next, at most [`BATCH`]; `None` when the frame is due first.
async fn next_batch(
    rx: &mut mpsc::Receiver<Msg>,
    dirty: bool,
    last_draw: Instant,
) -> Option<Vec<Msg>> {
    let next_draw = last_draw + FRAME_BUDGET;
    let msg = if dirty {
        tokio::select! {
            msg = rx.recv() => msg,
            _ = tokio::time::sleep_until(next_draw.into()) => None,
        }
    } else {
        rx.recv().await
    };
    let mut batch = vec![msg?];
    while batch.len() < BATCH {
        match rx.try_recv() {
            Ok(more) => batch.push(more),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Draws when something changed and the frame budget since the last draw has passed.
fn draw_when_due(
    app: &mut App,
    guard: &mut crate::terminal::TerminalGuard,
    theme: &theme::Theme,
    last_draw: &mut Instant,
) -> anyhow::Result<()> {
    if app.dirty && Instant::now() >= *last_draw + FRAME_BUDGET {
        let mut map = ScreenMap::default();
        guard.draw(|frame| map = crate::views::draw(app, theme, frame))?;
        app.dirty = false;
        // Where the frame put things: the mouse and the task's scroll act on it.
        let effects = app.update(Msg::Drawn(map));
        debug_assert!(effects.is_empty(), "a frame's report asks for nothing");
        *last_draw = Instant::now();
    }
    Ok(())
}

async fn forward_terminal_events(tx: mpsc::Sender<Msg>) {
    let mut events = EventStream::new();
    while let Some(event) = events.next().await {
        let msg = match event {
            Ok(Event::Key(key)) => Msg::Key(key),
            Ok(Event::Mouse(mouse)) => Msg::Mouse(mouse),
            Ok(Event::Resize(width, height)) => Msg::Resize { width, height },
            Ok(Event::Paste(text)) => Msg::Paste(text),
            Ok(_) => continue,
            Err(error) => {
                tracing::error!(%error, "terminal input failed");
                break;
            }
        };
        if tx.send(msg).await.is_err() {
            break;
        }
    }
}

/// Announcements ring at most once in this long: a burst of new escalations (a reconnect, an
/// outage raising dozens) is one bell, not dozens; the inbox and the status bar count them all.
const NOTIFY_EVERY: Duration = Duration::from_secs(10);

/// Turns `Effect::Notify` into terminal bytes, at most one per [`NOTIFY_EVERY`].
struct Notifier {
    config: NotifyConfig,
    last: Option<Instant>,
}

impl Notifier {
    fn new(config: NotifyConfig) -> Notifier {
        Notifier { config, last: None }
    }

    fn announce(&mut self, now: Instant, title: &str, body: &str) -> Option<String> {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < NOTIFY_EVERY)
        {
            return None;
        }
        let escape = notification(&self.config, title, body)?;
        self.last = Some(now);
        Some(escape)
    }
}

/// Longest notification text sent to the terminal.
const NOTIFICATION_CHARS: usize = 200;

/// The bytes that announce a new escalation, per the `[notify]` config. The text comes from
/// the sources: it is sanitized, and stripped of the `;` that separates OSC 777's fields.
fn notification(config: &NotifyConfig, title: &str, body: &str) -> Option<String> {
    let safe = |text: &str| {
        protocol::sanitize::truncate(&protocol::sanitize::clean(text), NOTIFICATION_CHARS)
            .replace(';', ",")
    };
    match (config.mode, config.escape) {
        (NotifyMode::Off, _) => None,
        (NotifyMode::Bell, _) => Some("\x07".to_string()),
        (NotifyMode::Desktop, DesktopEscape::Osc777) => Some(format!(
            "\x1b]777;notify;{};{}\x1b\\",
            safe(title),
            safe(body)
        )),
        (NotifyMode::Desktop, DesktopEscape::Osc9) => {
            Some(format!("\x1b]9;{}: {}\x1b\\", safe(title), safe(body)))
        }
    }
}

async fn tick(tx: mpsc::Sender<Msg>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        if tx
            .send(Msg::Tick {
                now: Instant::now(),
                wall: chrono::Utc::now(),
            })
            .await
            .is_err()
        {
            break;
        }
    }
}

/// SIGTERM and SIGHUP (the SSH link dropped) quit cleanly, so the terminal is restored.
async fn forward_signals(tx: mpsc::Sender<Msg>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let _ = tx.send(Msg::Terminate).await;
    }
    #[cfg(not(unix))]
    drop(tx);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_announcements_rings_once() {
        let mut notifier = Notifier::new(config(NotifyMode::Bell, DesktopEscape::Osc777));
        let start = Instant::now();
        let rung = (0..50)
            .filter(|i| {
                let now = start + Duration::from_millis(i * 100);
                notifier.announce(now, "new", "esc").is_some()
            })
            .count();
        assert_eq!(rung, 1);
        let later = start + NOTIFY_EVERY + Duration::from_secs(1);
        assert!(notifier.announce(later, "new", "esc").is_some());
    }

    fn config(mode: NotifyMode, escape: DesktopEscape) -> NotifyConfig {
        NotifyConfig {
            mode,
            escape,
            ..NotifyConfig::default()
        }
    }

    #[test]
    fn notifications_follow_the_config_and_carry_no_escape_from_the_sources() {
        let hostile = "esc-1\x1b]52;c;AAAA\x07 ; rm\x07";
        assert_eq!(
            notification(
                &config(NotifyMode::Off, DesktopEscape::Osc777),
                "t",
                hostile
            ),
            None
        );
        assert_eq!(
            notification(
                &config(NotifyMode::Bell, DesktopEscape::Osc777),
                "t",
                hostile
            ),
            Some("\x07".to_string())
        );
        let osc777 = notification(
            &config(NotifyMode::Desktop, DesktopEscape::Osc777),
            "P1; new",
            hostile,
        )
        .unwrap();
        assert_eq!(osc777, "\x1b]777;notify;P1, new;esc-1 , rm\x1b\\");
        let osc9 = notification(
            &config(NotifyMode::Desktop, DesktopEscape::Osc9),
            "t",
            hostile,
        )
        .unwrap();
        assert_eq!(osc9, "\x1b]9;t: esc-1 , rm\x1b\\");
    }
}
