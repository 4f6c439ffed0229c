//! The one owner of console state. `App::update` is the only mutator: messages in,
//! effects out, no I/O, so every behaviour is testable without a terminal or network.

mod palette;
#[cfg(test)]
mod tests;
mod update;
mod visible;

use std::collections::VecDeque;
use std::time::Instant;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyEvent, MouseEvent};
use ratatui::layout::Rect;

pub use palette::PaletteState;
pub use visible::{ProviderCell, RegionRow, ServiceRow, Visible};

use crate::domain::fleet::SourceData;
use crate::sources::SourceMsg;

/// Everything that can happen to the console.
#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize {
        width: u16,
        height: u16,
    },
    /// The clock moved; `now` drives ages, `wall` the displayed clock.
    Tick {
        now: Instant,
        wall: DateTime<Utc>,
    },
    Source(SourceMsg),
    /// A problem found outside `update` (e.g. a theme file that does not parse).
    Problem(String),
    /// The process was asked to stop (SIGTERM, SIGHUP when the SSH link drops).
    Terminate,
}

impl From<SourceMsg> for Msg {
    fn from(msg: SourceMsg) -> Self {
        Msg::Source(msg)
    }
}

/// Work for the runner: everything that touches the world outside the state.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Quit,
    LoadTheme(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Fleet,
    Services,
    Timeline,
}

impl View {
    pub const ALL: [View; 3] = [View::Fleet, View::Services, View::Timeline];

    pub fn title(self) -> &'static str {
        match self {
            View::Fleet => "Fleet",
            View::Services => "Services",
            View::Timeline => "Timeline",
        }
    }
}

/// What the console is connected to, as the status bar says it.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextInfo {
    pub name: String,
    /// The embedded lab: the status bar says "LAB".
    pub lab: bool,
    pub read_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub source: String,
    pub level: Level,
    pub text: String,
}

/// Timeline entries kept; older ones scroll away.
pub const TIMELINE_LEN: usize = 500;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterState {
    pub query: String,
    /// The input has the keyboard.
    pub editing: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Selection {
    /// Row in the fleet matrix (visible regions).
    pub fleet_row: usize,
    /// Column in the fleet matrix: 0 is the region itself, 1.. the visible vendors.
    pub fleet_col: usize,
    pub service_row: usize,
    pub timeline_row: usize,
    pub help_scroll: usize,
}

pub struct App {
    pub context: ContextInfo,
    pub sources: Vec<SourceData>,
    pub view: View,
    pub selection: Selection,
    pub filter: FilterState,
    pub palette: Option<PaletteState>,
    pub help_open: bool,
    /// Config or theme problems: shown until the user dismisses them.
    pub problems: Vec<String>,
    pub timeline: VecDeque<TimelineEntry>,
    pub theme_name: String,
    pub themes: Vec<String>,
    pub now: Instant,
    pub wall: DateTime<Utc>,
    pub area: Rect,
    /// Rows and columns that pass the filter, recomputed when data or filter change.
    pub visible: Visible,
    /// Something on screen changed since the last draw.
    pub dirty: bool,
    matcher: nucleo::Matcher,
}

pub struct AppInit {
    pub context: ContextInfo,
    /// `(name, url)` of each source, in display order.
    pub sources: Vec<(String, String)>,
    pub problems: Vec<String>,
    pub theme_name: String,
    pub themes: Vec<String>,
    pub now: Instant,
    pub wall: DateTime<Utc>,
    pub area: Rect,
}

impl App {
    pub fn new(init: AppInit) -> Self {
        let mut app = App {
            context: init.context,
            sources: init
                .sources
                .iter()
                .map(|(name, url)| SourceData::new(name, url))
                .collect(),
            view: View::Fleet,
            selection: Selection::default(),
            filter: FilterState::default(),
            palette: None,
            help_open: false,
            problems: init.problems,
            timeline: VecDeque::new(),
            theme_name: init.theme_name,
            themes: init.themes,
            now: init.now,
            wall: init.wall,
            area: init.area,
            visible: Visible::default(),
            dirty: true,
            matcher: nucleo::Matcher::new(nucleo::Config::DEFAULT),
        };
        for problem in app.problems.clone() {
            app.log(None, Level::Warning, problem);
        }
        app.refresh_visible();
        app
    }

    fn log(&mut self, source: Option<&str>, level: Level, text: String) {
        let at = self.wall;
        self.push_timeline(TimelineEntry {
            at,
            source: source.unwrap_or("console").to_string(),
            level,
            text,
        });
    }

    fn push_timeline(&mut self, entry: TimelineEntry) {
        if self.timeline.len() == TIMELINE_LEN {
            self.timeline.pop_front();
        }
        self.timeline.push_back(entry);
    }

    pub fn source(&self, index: usize) -> &SourceData {
        &self.sources[index]
    }

    /// The identity of the first source that told us who we are.
    pub fn identity(&self) -> Option<&crate::api::WhoAmI> {
        self.sources.iter().find_map(|s| s.identity.as_ref())
    }
}
