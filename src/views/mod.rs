//! Pure rendering: every function here reads `&App` and draws; none changes state.

mod actions;
mod audit;
mod chrome;
mod escalation_text;
mod fleet;
mod inbox;
mod overlays;
mod resolve;
mod services;
mod task;
mod timeline;

pub use task::{pane_height as task_pane_height, pane_rows as task_pane_rows};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::{App, View};
use crate::theme::Theme;

/// Where the parts of the screen are, for drawing and for mouse hit tests alike.
pub struct Screen {
    pub header: Rect,
    pub banners: Rect,
    pub body: Rect,
    pub hints: Rect,
    pub status: Rect,
}

pub fn screen(app: &App) -> Screen {
    let banner_rows = chrome::banner_lines(app).len() as u16;
    let [header, banners, body, hints, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner_rows),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(app.area);
    Screen {
        header,
        banners,
        body,
        hints,
        status,
    }
}

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame) {
    let screen = screen(app);
    chrome::draw_header(app, theme, frame, screen.header);
    chrome::draw_banners(app, theme, frame, screen.banners);
    match app.view {
        View::Fleet => fleet::draw(app, theme, frame, screen.body),
        View::Services => services::draw(app, theme, frame, screen.body),
        View::Timeline => timeline::draw(app, theme, frame, screen.body),
        View::Audit => audit::draw(app, theme, frame, screen.body),
        // An open task takes the inbox's place.
        View::Inbox if app.task.is_some() => task::draw(app, theme, frame, screen.body),
        View::Inbox => inbox::draw(app, theme, frame, screen.body),
    }
    chrome::draw_hints(app, theme, frame, screen.hints);
    chrome::draw_status(app, theme, frame, screen.status);
    if let Some(palette) = &app.palette {
        overlays::draw_palette(palette, theme, frame, app.area);
    }
    if app.help_open {
        overlays::draw_help(app, theme, frame, app.area);
    }
    if let Some(menu) = &app.menu {
        actions::draw_menu(menu, theme, frame, app.area);
    }
    if let Some(confirm) = &app.confirm {
        actions::draw_confirm(app, confirm, theme, frame, app.area);
    }
    if let Some(form) = &app.resolve_form {
        resolve::draw_form(app, form, theme, frame, app.area);
    }
    if let Some(editor) = &app.editor {
        resolve::draw_editor(app, editor, theme, frame, app.area);
    }
}

/// What a mouse click landed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    Tab(View),
    FleetCell { row: usize, col: usize },
    ServiceRow(usize),
    TimelineRow(usize),
    AuditRow(usize),
    InboxRow(usize),
}

pub fn hit_test(app: &App, x: u16, y: u16) -> Option<Hit> {
    if app.help_open
        || app.palette.is_some()
        || app.menu.is_some()
        || app.confirm.is_some()
        || app.resolve_form.is_some()
        || app.editor.is_some()
    {
        return None;
    }
    let screen = screen(app);
    if y == screen.header.y {
        return chrome::tab_at(x).map(Hit::Tab);
    }
    if !screen.body.contains((x, y).into()) {
        return None;
    }
    match app.view {
        View::Fleet => {
            fleet::cell_at(app, screen.body, x, y).map(|(row, col)| Hit::FleetCell { row, col })
        }
        View::Services => services::row_at(app, screen.body, y).map(Hit::ServiceRow),
        View::Timeline => bordered_list_row_at(
            screen.body,
            y,
            app.selection.timeline_row,
            app.timeline.len(),
        )
        .map(Hit::TimelineRow),
        View::Audit => {
            bordered_list_row_at(screen.body, y, app.selection.audit_row, app.audit_rows())
                .map(Hit::AuditRow)
        }
        View::Inbox => inbox::row_at(app, screen.body, y).map(Hit::InboxRow),
    }
}

/// The row under `y` of a list drawn in a bordered block over `body`, scrolled to keep
/// `selected` visible.
fn bordered_list_row_at(body: Rect, y: u16, selected: usize, len: usize) -> Option<usize> {
    let first = body.y + 1;
    let height = body.height.saturating_sub(2);
    if y < first || y >= first + height {
        return None;
    }
    let row = scroll_offset(selected, height as usize) + (y - first) as usize;
    (row < len).then_some(row)
}

/// First row to show so that `selected` is visible in a window of `height` rows.
pub fn scroll_offset(selected: usize, height: usize) -> usize {
    if height == 0 {
        0
    } else {
        selected.saturating_sub(height - 1)
    }
}
