//! `:` command palette: fuzzy search (nucleo) over the actions of the keymap. The first
//! word picks the command; the words after it are its arguments (`drain eu-west 30m`).

use nucleo::pattern::{CaseMatching, Normalization, Pattern};

use super::{App, Effect, Level};
use crate::keymap::{self, Action, Layer};

/// Nucleo's score of a command's name and of its description (`None`: no match).
type NameAndDescriptionScores = (Option<u32>, Option<u32>);

#[derive(Clone, Debug, PartialEq)]
pub struct PaletteEntry {
    pub action: Action,
    pub keys: String,
    /// Why it cannot be done here, said in the list instead of hiding the command.
    pub refused: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PaletteState {
    pub input: String,
    pub entries: Vec<PaletteEntry>,
    /// Indices into `entries`, best match first.
    pub matches: Vec<usize>,
    pub selected: usize,
}

impl PaletteState {
    /// The palette lists only what the user may do: no mutating commands without `can_mutate`.
    pub fn open(matcher: &mut nucleo::Matcher, can_mutate: bool) -> Self {
        let entries = keymap::palette_actions(can_mutate)
            .into_iter()
            .map(|(action, keys)| PaletteEntry {
                action,
                keys,
                refused: None,
            })
            .collect();
        let mut state = PaletteState {
            input: String::new(),
            entries,
            matches: Vec::new(),
            selected: 0,
        };
        state.rematch(matcher);
        state
    }

    pub fn rematch(&mut self, matcher: &mut nucleo::Matcher) {
        let name = self.input.split_whitespace().next().unwrap_or("");
        let pattern = Pattern::parse(name, CaseMatching::Smart, Normalization::Smart);
        let mut buf = Vec::new();
        let mut score = |text: &str| pattern.score(nucleo::Utf32Str::new(text, &mut buf), matcher);
        // A match in the command's name beats one in its description.
        let mut scored: Vec<(usize, NameAndDescriptionScores)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                (
                    i,
                    (score(e.action.command_name()), score(e.action.describe())),
                )
            })
            .filter(|(_, (name, describe))| name.is_some() || describe.is_some())
            .collect();
        // Best first; ties keep the keymap's order.
        scored.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        self.matches = scored.into_iter().map(|(i, _)| i).collect();
        self.selected = self.selected.min(self.matches.len().saturating_sub(1));
    }

    /// Lists `action` (adding it when the palette hid it) with why it cannot be done.
    pub fn refuse(&mut self, action: Action, keys: String, why: String) {
        match self.entries.iter_mut().find(|e| e.action == action) {
            Some(entry) => entry.refused = Some(why),
            None => self.entries.push(PaletteEntry {
                action,
                keys,
                refused: Some(why),
            }),
        }
    }

    pub fn chosen(&self) -> Option<Action> {
        self.matches
            .get(self.selected)
            .map(|&i| self.entries[i].action)
    }
}

impl App {
    /// Keys of the open palette: move, run the chosen command with the words typed after its
    /// name, close.
    pub(super) fn perform_in_palette(&mut self, action: Action) -> Vec<Effect> {
        let Some(palette) = self.overlays.palette_mut() else {
            return Vec::new();
        };
        match action {
            Action::Up => palette.selected = palette.selected.saturating_sub(1),
            Action::Down => {
                palette.selected =
                    (palette.selected + 1).min(palette.matches.len().saturating_sub(1))
            }
            Action::Accept => {
                let chosen = palette.chosen();
                let input = std::mem::take(&mut palette.input);
                self.overlays.close(Layer::Palette);
                let args: Vec<&str> = input.split_whitespace().skip(1).collect();
                let text = input
                    .trim()
                    .split_once(char::is_whitespace)
                    .map_or("", |(_, t)| t);
                match chosen {
                    Some(Action::Drill(drill)) => return self.drill(drill, text),
                    Some(Action::Decide(kind)) => return self.decide(kind, text),
                    Some(Action::Run(verb)) if !args.is_empty() => {
                        self.start_typed_command(verb, &args)
                    }
                    Some(action) => return self.run(action),
                    None => self.flash(
                        Level::Warning,
                        format!("no command matches {:?}", input.trim()),
                    ),
                }
            }
            _ => self.overlays.close(Layer::Palette),
        }
        Vec::new()
    }
}
