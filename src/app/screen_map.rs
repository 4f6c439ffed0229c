//! Where the last draw put things, as the views report it (see [`Msg::Drawn`]): the targets
//! of a mouse click and the extent of the open task's pane. Only a view knows its layout, so
//! `update` reads this record of the last frame instead of asking the views; a click or a
//! scroll key acts on what the operator saw.
//!
//! [`Msg::Drawn`]: super::Msg::Drawn

use ratatui::layout::{Position, Rect};

use super::{TaskPane, View};

/// What a mouse click landed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    Tab(View),
    FleetCell {
        row: usize,
        col: usize,
    },
    ServiceRow(usize),
    TimelineRow(usize),
    AuditRow(usize),
    InboxRow(usize),
    /// A row of the Runbooks list: a run in progress or a runbook, by its place in the list.
    RunbookRow(usize),
    /// A row of the Approvals list, by its place in the list.
    ApprovalRow(usize),
}

/// The parts of the last frame that answer to the mouse or bound a scroll.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScreenMap {
    /// Each tab of the header and the cells it covers.
    pub tabs: Vec<(View, Rect)>,
    /// The list the view on screen shows, if it shows one.
    pub list: Option<ListMap>,
    /// The open task's pane, if a task is on screen.
    pub task_pane: Option<PaneExtent>,
    /// The Runbooks list's selectable rows (its other lines are headers and reasons): the
    /// cells each covers and its place in the list.
    pub runbook_rows: Vec<(Rect, usize)>,
    /// The Exercise view's last row that can be scrolled to the top (its content less its
    /// height), when it is on screen.
    pub exercise_scroll_max: Option<usize>,
}

/// A list as drawn: where its rows are and which item the top one shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ListMap {
    pub view: View,
    /// The cells the list's item rows cover, one item per screen row.
    pub rows: Rect,
    /// The item shown on the top row.
    pub first: usize,
    /// Items in the list, shown or not.
    pub len: usize,
    /// The fleet matrix's columns; `None` for a list of whole rows.
    pub columns: Option<MatrixColumns>,
}

/// The columns of the fleet matrix: the region's own, then one cell per vendor drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatrixColumns {
    /// Where the region's columns start.
    pub x: u16,
    /// Width of the region's columns together (column 0 of a hit).
    pub region_width: u16,
    /// Width of each vendor's cell, with its gap.
    pub cell_width: u16,
    /// The first vendor drawn (the columns scrolled past it are hidden) and how many are.
    pub first_vendor: usize,
    pub shown: usize,
}

/// The first vendor column to draw when `shown` of `vendors` fit: the operator's `scroll`,
/// moved just enough to keep the selected column (`0` the region, `1..` the vendors) in view,
/// and never so far right that the window has room left.
pub fn first_vendor_shown(
    scroll: usize,
    selected_col: usize,
    shown: usize,
    vendors: usize,
) -> usize {
    let shown = shown.max(1);
    let first = scroll.min(vendors.saturating_sub(shown));
    match selected_col.checked_sub(1) {
        Some(vendor) if vendor < first => vendor,
        Some(vendor) if vendor >= first + shown => vendor + 1 - shown,
        _ => first,
    }
}

/// The open task's pane as drawn: its content's rows (wrapped at its width) and its height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaneExtent {
    pub pane: TaskPane,
    pub rows: usize,
    pub height: usize,
}

impl PaneExtent {
    /// The furthest the pane scrolls: its last row at the bottom.
    pub fn max_scroll(&self) -> usize {
        self.rows.saturating_sub(self.height)
    }
}

impl ScreenMap {
    /// What is under the cell `(x, y)`, if anything a click selects.
    pub fn hit(&self, x: u16, y: u16) -> Option<Hit> {
        let at = Position::new(x, y);
        if let Some((view, _)) = self.tabs.iter().find(|(_, area)| area.contains(at)) {
            return Some(Hit::Tab(*view));
        }
        if let Some((_, row)) = self.runbook_rows.iter().find(|(area, _)| area.contains(at)) {
            return Some(Hit::RunbookRow(*row));
        }
        let list = self.list.as_ref().filter(|l| l.rows.contains(at))?;
        let row = list.first + usize::from(y - list.rows.y);
        if row >= list.len {
            return None;
        }
        match list.view {
            View::Fleet => {
                let col = list.columns?.column_at(x)?;
                Some(Hit::FleetCell { row, col })
            }
            View::Services => Some(Hit::ServiceRow(row)),
            View::Timeline => Some(Hit::TimelineRow(row)),
            View::Audit => Some(Hit::AuditRow(row)),
            View::Inbox => Some(Hit::InboxRow(row)),
            View::Approvals => Some(Hit::ApprovalRow(row)),
            View::Runbooks | View::Exercise | View::Cost => None,
        }
    }
}

impl MatrixColumns {
    /// 0 for the region's columns, 1.. for the vendors' cells (counting those scrolled past).
    fn column_at(&self, x: u16) -> Option<usize> {
        let rel = x.checked_sub(self.x)?;
        if rel < self.region_width {
            return Some(0);
        }
        let drawn = usize::from((rel - self.region_width) / self.cell_width.max(1));
        (drawn < self.shown).then_some(1 + self.first_vendor + drawn)
    }
}
