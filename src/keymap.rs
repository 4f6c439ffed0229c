//! One table maps `layer + key chord -> Action`. Help, key hints and the command palette
//! are derived from it, so they never disagree with the bindings.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Who gets a key first: the topmost open layer, then the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// Help overlay.
    Help,
    /// `:` command palette (typing goes to its input).
    Palette,
    /// `/` filter input.
    Filter,
    /// The views; always at the bottom.
    Global,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    Palette,
    Filter,
    ClearFilter,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextView,
    PrevView,
    ShowFleet,
    ShowServices,
    ShowTimeline,
    /// Close the topmost layer.
    Close,
    /// Run the selected palette entry / accept the filter.
    Accept,
    /// Cycle through themes.
    NextTheme,
}

impl Action {
    /// What the action does, for help and the palette.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "Quit Switchboard",
            Action::Help => "Show keys and what they do",
            Action::Palette => "Open the command palette",
            Action::Filter => "Filter regions, providers and services",
            Action::ClearFilter => "Clear the filter",
            Action::Up => "Move up",
            Action::Down => "Move down",
            Action::Left => "Move left",
            Action::Right => "Move right",
            Action::PageUp => "Page up",
            Action::PageDown => "Page down",
            Action::Top => "Go to the first row",
            Action::Bottom => "Go to the last row",
            Action::NextView => "Next view",
            Action::PrevView => "Previous view",
            Action::ShowFleet => "Fleet view: region x provider health",
            Action::ShowServices => "Services view: replicas, standbys, degraded modes",
            Action::ShowTimeline => "Timeline view: injects and connection events",
            Action::Close => "Close",
            Action::Accept => "Accept",
            Action::NextTheme => "Switch to the next colour theme",
        }
    }

    /// The palette's name of the action (`:name`).
    pub fn command_name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Palette => "palette",
            Action::Filter => "filter",
            Action::ClearFilter => "clear-filter",
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "left",
            Action::Right => "right",
            Action::PageUp => "page-up",
            Action::PageDown => "page-down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::NextView => "next-view",
            Action::PrevView => "prev-view",
            Action::ShowFleet => "fleet",
            Action::ShowServices => "services",
            Action::ShowTimeline => "timeline",
            Action::Close => "close",
            Action::Accept => "accept",
            Action::NextTheme => "theme",
        }
    }

    /// Whether the action belongs in the palette (movement keys would only clutter it).
    pub fn in_palette(self) -> bool {
        !matches!(
            self,
            Action::Up
                | Action::Down
                | Action::Left
                | Action::Right
                | Action::PageUp
                | Action::PageDown
                | Action::Top
                | Action::Bottom
                | Action::Close
                | Action::Accept
                | Action::Palette
        )
    }
}

/// A key with its modifiers, as bound in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chord {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl Chord {
    const fn plain(code: KeyCode) -> Self {
        Chord {
            code,
            modifiers: KeyModifiers::NONE,
        }
    }

    const fn ctrl(c: char) -> Self {
        Chord {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::CONTROL,
        }
    }

    fn matches(&self, key: &KeyEvent) -> bool {
        // Shift is part of the character itself for printable keys ('?', 'G').
        let modifiers = match key.code {
            KeyCode::Char(_) => key.modifiers - KeyModifiers::SHIFT,
            _ => key.modifiers,
        };
        self.code == key.code && self.modifiers == modifiers
    }

    pub fn label(&self) -> String {
        let key = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::Enter => "enter".to_string(),
            KeyCode::Esc => "esc".to_string(),
            KeyCode::Tab => "tab".to_string(),
            KeyCode::BackTab => "shift-tab".to_string(),
            KeyCode::PageUp => "pgup".to_string(),
            KeyCode::PageDown => "pgdn".to_string(),
            KeyCode::Home => "home".to_string(),
            KeyCode::End => "end".to_string(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}").to_lowercase(),
        };
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            format!("ctrl-{key}")
        } else {
            key
        }
    }
}

pub struct Binding {
    pub layer: Layer,
    pub chord: Chord,
    pub action: Action,
    /// Shown in the one-line key hints of its layer.
    pub hint: bool,
}

const fn bind(layer: Layer, chord: Chord, action: Action, hint: bool) -> Binding {
    Binding {
        layer,
        chord,
        action,
        hint,
    }
}

use Action as A;
use KeyCode as K;
use Layer as L;

/// The bindings, in the order help lists them.
pub const BINDINGS: &[Binding] = &[
    bind(L::Help, Chord::plain(K::Esc), A::Close, true),
    bind(L::Help, Chord::plain(K::Char('?')), A::Close, false),
    bind(L::Help, Chord::plain(K::Char('q')), A::Close, false),
    bind(L::Help, Chord::plain(K::Down), A::Down, false),
    bind(L::Help, Chord::plain(K::Up), A::Up, false),
    bind(L::Palette, Chord::plain(K::Enter), A::Accept, true),
    bind(L::Palette, Chord::plain(K::Esc), A::Close, true),
    bind(L::Palette, Chord::plain(K::Up), A::Up, true),
    bind(L::Palette, Chord::plain(K::Down), A::Down, true),
    bind(L::Palette, Chord::ctrl('p'), A::Up, false),
    bind(L::Palette, Chord::ctrl('n'), A::Down, false),
    bind(L::Filter, Chord::plain(K::Enter), A::Accept, true),
    bind(L::Filter, Chord::plain(K::Esc), A::ClearFilter, true),
    bind(L::Global, Chord::plain(K::Char('q')), A::Quit, true),
    bind(L::Global, Chord::ctrl('c'), A::Quit, false),
    bind(L::Global, Chord::plain(K::Char('?')), A::Help, true),
    bind(L::Global, Chord::plain(K::Char(':')), A::Palette, true),
    bind(L::Global, Chord::plain(K::Char('/')), A::Filter, true),
    bind(L::Global, Chord::plain(K::Esc), A::ClearFilter, false),
    bind(L::Global, Chord::plain(K::Tab), A::NextView, true),
    bind(L::Global, Chord::plain(K::BackTab), A::PrevView, false),
    bind(L::Global, Chord::plain(K::Char('1')), A::ShowFleet, false),
    bind(
        L::Global,
        Chord::plain(K::Char('2')),
        A::ShowServices,
        false,
    ),
    bind(
        L::Global,
        Chord::plain(K::Char('3')),
        A::ShowTimeline,
        false,
    ),
    bind(L::Global, Chord::plain(K::Up), A::Up, false),
    bind(L::Global, Chord::plain(K::Char('k')), A::Up, false),
    bind(L::Global, Chord::plain(K::Down), A::Down, false),
    bind(L::Global, Chord::plain(K::Char('j')), A::Down, false),
    bind(L::Global, Chord::plain(K::Left), A::Left, false),
    bind(L::Global, Chord::plain(K::Char('h')), A::Left, false),
    bind(L::Global, Chord::plain(K::Right), A::Right, false),
    bind(L::Global, Chord::plain(K::Char('l')), A::Right, false),
    bind(L::Global, Chord::plain(K::PageUp), A::PageUp, false),
    bind(L::Global, Chord::plain(K::PageDown), A::PageDown, false),
    bind(L::Global, Chord::plain(K::Home), A::Top, false),
    bind(L::Global, Chord::plain(K::Char('g')), A::Top, false),
    bind(L::Global, Chord::plain(K::End), A::Bottom, false),
    bind(L::Global, Chord::plain(K::Char('G')), A::Bottom, false),
    bind(L::Global, Chord::plain(K::Char('t')), A::NextTheme, false),
];

/// The action bound to `key` in `layer`, if any.
pub fn lookup(layer: Layer, key: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.layer == layer && b.chord.matches(key))
        .map(|b| b.action)
}

/// All keys bound to `action` in `layer`, as labels ("↑/k").
pub fn keys_for(layer: Layer, action: Action) -> String {
    let labels: Vec<String> = BINDINGS
        .iter()
        .filter(|b| b.layer == layer && b.action == action)
        .map(|b| b.chord.label())
        .collect();
    labels.join("/")
}

/// The one-line hints of a layer: `(keys, short description)`, from the bindings marked as hints.
pub fn hints(layer: Layer) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for binding in BINDINGS.iter().filter(|b| b.layer == layer && b.hint) {
        let what = short(binding.action);
        match out.iter_mut().find(|(_, w)| *w == what) {
            Some((keys, _)) => {
                keys.push('/');
                keys.push_str(&binding.chord.label());
            }
            None => out.push((binding.chord.label(), what)),
        }
    }
    out
}

/// The word a hint uses for an action: shorter than its description.
fn short(action: Action) -> &'static str {
    match action {
        Action::Quit => "quit",
        Action::Help => "help",
        Action::Palette => "commands",
        Action::Filter => "filter",
        Action::ClearFilter => "clear",
        Action::NextView => "next view",
        Action::Close => "close",
        Action::Accept => "run",
        Action::Up | Action::Down => "move",
        other => other.command_name(),
    }
}

/// Help's content: every distinct `(layer, action)` with its keys, in table order.
pub fn help_rows() -> Vec<(Layer, String, &'static str)> {
    let mut seen: Vec<(Layer, Action)> = Vec::new();
    let mut rows = Vec::new();
    for binding in BINDINGS {
        if seen.contains(&(binding.layer, binding.action)) {
            continue;
        }
        seen.push((binding.layer, binding.action));
        rows.push((
            binding.layer,
            keys_for(binding.layer, binding.action),
            binding.action.describe(),
        ));
    }
    rows
}

/// Palette entries: global actions worth running by name, with their keys.
pub fn palette_actions() -> Vec<(Action, String)> {
    let mut out: Vec<(Action, String)> = Vec::new();
    for binding in BINDINGS
        .iter()
        .filter(|b| b.layer == Layer::Global && b.action.in_palette())
    {
        if out.iter().any(|(a, _)| *a == binding.action) {
            continue;
        }
        out.push((binding.action, keys_for(Layer::Global, binding.action)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new_with_kind(code, modifiers, KeyEventKind::Press)
    }

    #[test]
    fn shifted_characters_match_their_plain_binding() {
        assert_eq!(
            lookup(Layer::Global, &key(K::Char('?'), KeyModifiers::SHIFT)),
            Some(A::Help)
        );
        assert_eq!(
            lookup(Layer::Global, &key(K::Char('G'), KeyModifiers::SHIFT)),
            Some(A::Bottom)
        );
    }

    #[test]
    fn layers_bind_independently() {
        assert_eq!(
            lookup(Layer::Help, &key(K::Char('q'), KeyModifiers::NONE)),
            Some(A::Close)
        );
        assert_eq!(
            lookup(Layer::Global, &key(K::Char('q'), KeyModifiers::NONE)),
            Some(A::Quit)
        );
        assert_eq!(
            lookup(Layer::Palette, &key(K::Char('q'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn hints_and_palette_come_from_the_table() {
        let hints = hints(Layer::Global);
        assert!(hints.contains(&("q".to_string(), "quit")));
        assert!(hints.contains(&("?".to_string(), "help")));
        assert!(super::hints(Layer::Palette).contains(&("↑/↓".to_string(), "move")));
        let palette = palette_actions();
        assert!(
            palette
                .iter()
                .any(|(a, keys)| *a == A::ShowServices && keys == "2")
        );
        assert!(!palette.iter().any(|(a, _)| *a == A::Up));
        assert_eq!(keys_for(Layer::Global, A::Up), "↑/k");
    }

    #[test]
    fn every_palette_name_is_unique() {
        let palette = palette_actions();
        for (i, (a, _)) in palette.iter().enumerate() {
            for (b, _) in &palette[i + 1..] {
                assert_ne!(a.command_name(), b.command_name());
            }
        }
    }
}
