//! `switchboard replay FILE`: the console on a recording instead of sources. The recording
//! is read (and checked) before the terminal is taken; a worker plays it as the one source
//! (sources::replay); the app owns the replay's clock and is read-only; nothing here reaches
//! a network, a journal or a runbook record.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ratatui::layout::Rect;
use tokio::sync::mpsc;

use super::{
    FRAME_BUDGET, draw_when_due, forward_signals, forward_terminal_events, next_batch,
    reload_theme, theme_cycle, tick,
};
use crate::app::{App, AppInit, ContextInfo, Effect, Msg, ReplayInit};
use crate::sources::replay::{marks, read_recording_file, spawn_replay};
use crate::theme;
use protocol::exercise::record::Recording;

/// The name of the replay's source on screen.
pub const SOURCE: &str = "replay";

pub struct ReplayOptions {
    pub file: PathBuf,
    /// Exercise seconds per real second at the start.
    pub speed: f64,
    pub problems: Vec<String>,
    pub theme_name: String,
    pub no_color: bool,
}

/// What `app` needs to play `recording` from the source [`SOURCE`].
pub fn replay_init(recording: &Recording, speed: f64) -> ReplayInit {
    ReplayInit {
        run_id: recording.header.run_id.clone(),
        source: SOURCE.to_string(),
        end_s: recording.end_s(),
        marks: marks(recording),
        speed,
    }
}

/// A console on `recording` (read from `file`): its one source the replay, a last line cut
/// short said in a banner.
pub fn replay_app(recording: &Recording, file: &str, mut init: AppInit) -> App {
    init.problems.extend(
        (recording.cut_short()).map(|cut| format!("{cut}: replaying what comes before it")),
    );
    App::new(AppInit {
        sources: vec![(SOURCE.to_string(), file.to_string())],
        ..init
    })
}

pub async fn run_replay(options: ReplayOptions) -> anyhow::Result<()> {
    // Read before the terminal is taken, so that a bad file reads as a plain error.
    let recording = Arc::new(
        read_recording_file(&options.file)
            .map_err(|error| anyhow::anyhow!("cannot replay {error}"))?,
    );
    let (mut current_theme, theme_problem) = theme::load(&options.theme_name, options.no_color);
    let mut problems = options.problems;
    problems.extend(theme_problem);
    let mut guard = crate::terminal::TerminalGuard::enter()?;
    let size = guard.size()?;
    let (tx, mut rx) = mpsc::channel::<Msg>(4096);
    let mut app = replay_app(
        &recording,
        &options.file.display().to_string(),
        AppInit {
            context: ContextInfo {
                name: "replay".into(),
                lab: false,
                read_only: true,
                production: false,
            },
            sources: Vec::new(),
            problems,
            theme_name: options.theme_name,
            themes: theme_cycle(),
            now: Instant::now(),
            wall: chrono::Utc::now(),
            area: Rect::new(0, 0, size.width, size.height),
            notify_at: None,
            approval_policy: None,
            cost: Default::default(),
        },
    );
    let (clock_tx, clock_rx) = mpsc::unbounded_channel();
    let player = spawn_replay(
        SOURCE.to_string(),
        Arc::clone(&recording),
        clock_rx,
        tx.clone(),
    );
    tokio::spawn(forward_terminal_events(tx.clone()));
    tokio::spawn(tick(tx.clone()));
    tokio::spawn(forward_signals(tx.clone()));

    let mut pending = app.start_replay(replay_init(&recording, options.speed));
    let mut last_draw = Instant::now() - FRAME_BUDGET;
    'main: loop {
        for effect in pending.drain(..) {
            match effect {
                Effect::Quit => break 'main,
                Effect::ReplayTo { t_s } => {
                    // The worker ends only with the console.
                    let _ = clock_tx.send(t_s);
                }
                Effect::LoadTheme(name) => {
                    current_theme = reload_theme(&name, options.no_color, &tx);
                    app.dirty = true;
                }
                // The app keeps no other effect in a replay (App::keep_in_replay).
                other => tracing::error!(?other, "an effect reached the replay's runner"),
            }
        }
        if let Some(batch) = next_batch(&mut rx, app.dirty, last_draw).await {
            for msg in batch {
                pending.extend(app.update(msg));
            }
        }
        draw_when_due(&mut app, &mut guard, &current_theme, &mut last_draw)?;
    }
    player.abort();
    Ok(())
}
