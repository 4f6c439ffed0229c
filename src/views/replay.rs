//! The replay bar, always on screen in a replay: which run, where its clock stands, how fast,
//! playing or paused, the drill's phase then, and how old the fleet on screen is on the
//! exercise clock when it lags (a gap in the recording, a source the drill made unreachable).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, Replay};
use crate::theme::Theme;
use protocol::exercise::clock_label;
use protocol::sanitize::clean;

/// A fleet sample older than this on the exercise clock is said in the bar (the lab samples
/// every 5 s while a drill runs).
const FLEET_LAG_S: f64 = 10.0;

/// What the status bar says of a replay where a live console names its user.
pub const READ_ONLY_BADGE: &str = "replay: read-only";
/// The Inbox of a replay: a recording keeps no tasks.
pub const NO_TASKS: &str = "A replay shows no tasks: the recording keeps when escalations opened and closed and who closed them (timeline, 3; Exercise, 7).";
/// The Runbooks view of a replay: it follows none.
pub const NO_RUNBOOKS: &str =
    "A replay follows no runbook: the steps players took are in the recorded audit log (4).";

/// What a replay says of its source's data where a live console says how fresh it is:
/// `recorded at T+01:35` (its fleet sample's exercise second); `None` for any other source.
pub fn recorded(app: &App, source: &str) -> Option<String> {
    let replay = app.replay.as_ref().filter(|r| r.source == source)?;
    Some(match replay.shown.as_ref().and_then(|s| s.fleet_at_s) {
        Some(at) => format!("recorded at {}", clock_label(at)),
        None => "no fleet sample yet".to_string(),
    })
}

/// The replay's clock in words, `T+03:12`; `None` outside a replay.
pub fn clock(app: &App) -> Option<String> {
    app.replay.as_ref().map(|r| clock_label(r.clock_s))
}

/// Rows the bar takes: one in a replay, none otherwise.
pub fn rows(app: &App) -> u16 {
    u16::from(app.replay.is_some())
}

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(replay) = &app.replay else {
        return;
    };
    let mut spans = vec![
        Span::styled(" REPLAY ", theme.accent.patch(theme.selection)),
        Span::styled(format!(" {} ", bar_text(replay)), theme.status_bar),
    ];
    if let Some(shown) = &replay.shown {
        spans.push(Span::styled(
            format!(" {} ", shown.phase.word()),
            theme.status_bar,
        ));
        let lag = shown.fleet_at_s.map(|at| (shown.clock_s - at, at));
        match lag {
            None => spans.push(Span::styled(" no fleet sample yet ", theme.stale)),
            Some((lag, at)) if lag > FLEET_LAG_S => spans.push(Span::styled(
                format!(" fleet as of {} ", clock_label(at)),
                theme.stale,
            )),
            Some(_) => {}
        }
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.status_bar),
        area,
    );
}

/// `run_id T+mm:ss / T+mm:ss ×N ▶` (or `⏸`).
pub fn bar_text(replay: &Replay) -> String {
    let state = if replay.playing { "▶" } else { "⏸" };
    format!(
        "{} {} ×{} {state}",
        clean(&replay.run_id),
        replay.position(),
        replay.speed
    )
}
