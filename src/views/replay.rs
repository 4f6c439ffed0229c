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
