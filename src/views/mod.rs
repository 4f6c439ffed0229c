//! Pure rendering: every function here reads `&App` and draws; none changes state. What the
//! mouse and scrolling need of the layout, `draw` returns as a [`ScreenMap`] for `update`.

mod actions;
mod alerts;
mod approvals;
mod audit;
mod chrome;
mod clock;
mod cost;
mod escalation_text;
pub mod exercise;
mod fleet;
mod inbox;
mod overlays;
mod patroni;
mod replay;
mod resolve;
mod runbooks;
mod scrolling;
mod services;
mod silences;
mod task;
mod timeline;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::{App, ListMap, Overlay, ScreenMap, View};
use crate::theme::Theme;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Where the parts of the screen are.
struct Screen {
    header: Rect,
    replay: Rect,
    banners: Rect,
    body: Rect,
    hints: Rect,
    status: Rect,
}

fn screen(app: &App) -> Screen {
    let banner_rows = chrome::banner_rows(app, app.area.width);
    let [header, replay, banners, body, hints, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(replay::rows(app)),
        Constraint::Length(banner_rows),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(app.area);
    Screen {
        header,
        replay,
        banners,
        body,
        hints,
        status,
    }
}

/// Draws the whole screen; returns where the mouse's targets and the task's pane landed.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame) -> ScreenMap {
    let screen = screen(app);
    let body = screen.body;
    let mut map = ScreenMap {
        tabs: chrome::tab_areas(app, screen.header),
        ..ScreenMap::default()
    };
    chrome::draw_header(app, theme, frame, screen.header);
    replay::draw(app, theme, frame, screen.replay);
    chrome::draw_banners(app, theme, frame, screen.banners);
    match (app.view, &app.task) {
        (View::Fleet, _) => {
            fleet::draw(app, theme, frame, body);
            map.list = Some(fleet::matrix_map(app, body));
        }
        (View::Services, _) => {
            services::draw(app, theme, frame, body);
            map.list = Some(services::list_map(app, body));
        }
        (View::Timeline, _) => {
            timeline::draw(app, theme, frame, body);
            map.list = Some(bordered_list_map(
                View::Timeline,
                body,
                app.selection.timeline_row,
                app.timeline.len(),
            ));
        }
        (View::Audit, _) => {
            audit::draw(app, theme, frame, body);
            map.list = Some(bordered_list_map(
                View::Audit,
                body,
                app.selection.audit_row,
                app.audit_rows(),
            ));
        }
        // An open task takes the inbox's place.
        (View::Inbox, Some(task)) => {
            map.task_pane = Some(task::draw(app, task, theme, frame, body))
        }
        (View::Inbox, None) => {
            inbox::draw(app, theme, frame, body);
            map.list = Some(inbox::list_map(app, body));
        }
        (View::Runbooks, _) => map.runbook_rows = runbooks::draw(app, theme, frame, body),
        (View::Exercise, _) => {
            map.exercise_scroll_max = Some(exercise::draw(app, theme, frame, body))
        }
        (View::Approvals, _) => map.list = Some(approvals::draw(app, theme, frame, body)),
        (View::Cost, _) => cost::draw(app, theme, frame, body),
    }
    chrome::draw_hints(app, theme, frame, screen.hints);
    chrome::draw_status(app, theme, frame, screen.status);
    for overlay in app.overlays.iter() {
        match overlay {
            Overlay::Palette(palette) => overlays::draw_palette(palette, theme, frame, app.area),
            Overlay::Help { scroll, from } => {
                overlays::draw_help(app, *scroll, *from, theme, frame, app.area)
            }
            Overlay::Menu(menu) => actions::draw_menu(app, menu, theme, frame, app.area),
            Overlay::Confirm(confirm) => {
                actions::draw_confirm(app, confirm, theme, frame, app.area)
            }
            Overlay::Resolve(form) => resolve::draw_form(app, form, theme, frame, app.area),
            Overlay::Editor(editor) => resolve::draw_editor(app, editor, theme, frame, app.area),
            Overlay::Silence(form) => silences::draw_form(app, form, theme, frame, app.area),
            Overlay::Silences(list) => silences::draw_list(app, list, theme, frame, app.area),
            Overlay::RunInput(form) => runbooks::draw_input(form, theme, frame, app.area),
            Overlay::Briefing { scroll } => {
                exercise::draw_briefing(app, *scroll, theme, frame, app.area)
            }
            Overlay::EndDrill(form) => exercise::draw_end(form, theme, frame, app.area),
        }
    }
    map
}

/// A list over `body` whose items take the `height` rows from `top`, scrolled to keep
/// `selected` in view.
fn list_map(view: View, body: Rect, top: u16, height: u16, selected: usize, len: usize) -> ListMap {
    ListMap {
        view,
        rows: Rect {
            y: top,
            height,
            ..body
        }
        .intersection(body),
        first: scroll_offset(selected, height as usize),
        len,
        columns: None,
    }
}

/// A list drawn in a bordered block over `body`.
fn bordered_list_map(view: View, body: Rect, selected: usize, len: usize) -> ListMap {
    list_map(
        view,
        body,
        body.y + 1,
        body.height.saturating_sub(2),
        selected,
        len,
    )
}

/// `text` in at most `width` terminal columns, ending in `…` when cut: a table cell is never
/// silently cut at its column's edge. Columns, not characters: a CJK name takes two per glyph.
pub fn fit(text: &str, width: u16) -> String {
    let width = usize::from(width);
    if text.width() <= width {
        return text.to_string();
    }
    let room = width.saturating_sub(1);
    let mut used = 0;
    let mut out: String = text
        .chars()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= room
        })
        .collect();
    out.push('…');
    out
}

/// The width of each column `constraints` give a table `width` wide with one column between
/// cells; the table is then given these widths, so its cells can be fitted to them.
pub fn column_widths(constraints: &[Constraint], width: u16) -> Vec<u16> {
    Layout::horizontal(constraints.iter().copied())
        .spacing(1)
        .split(Rect::new(0, 0, width, 1))
        .iter()
        .map(|column| column.width)
        .collect()
}

/// Length constraints of `widths`, for the table they were computed for.
pub fn lengths(widths: &[u16]) -> Vec<Constraint> {
    widths.iter().map(|&w| Constraint::Length(w)).collect()
}

/// First row to show so that `selected` is visible in a window of `height` rows.
pub fn scroll_offset(selected: usize, height: usize) -> usize {
    if height == 0 {
        0
    } else {
        selected.saturating_sub(height - 1)
    }
}

/// A replication lag as people read it: `250ms`, `4.2s`, and past a minute `35m58s` (never
/// `2158s`).
pub fn lag_text(seconds: f64) -> String {
    if seconds < 60.0 {
        crate::format::ms(seconds * 1000.0)
    } else {
        crate::format::age(std::time::Duration::from_secs_f64(seconds))
    }
}

#[cfg(test)]
mod fit_tests {
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn a_cut_cell_ends_in_an_ellipsis_within_its_columns() {
        assert_eq!(super::fit("anthropic", 9), "anthropic");
        assert_eq!(super::fit("anthropic", 7), "anthro…");
        // Double-width glyphs: counted as characters, '東京リージョン' in 7 "characters" took 13 columns.
        let cut = super::fit("東京リージョン", 7);
        assert_eq!(cut, "東京リ…");
        assert!(cut.width() <= 7, "{cut:?} is {} columns", cut.width());
        assert_eq!(super::fit("東京", 3), "東…");
        assert_eq!(super::fit("anything", 1), "…");
    }
}

#[cfg(test)]
mod lag_tests {
    #[test]
    fn long_lags_read_in_minutes() {
        assert_eq!(super::lag_text(2158.0), "35m58s");
        assert!(super::lag_text(0.25).ends_with("ms"));
    }
}
