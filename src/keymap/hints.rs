//! The one-line hints under the views: each layer's keys in a few words, and in a replay the
//! replay's keys before those of the view it neither takes nor refuses.

use super::{Action, BINDINGS, Binding, Chord, Drill, Layer};

/// The one-line hints of a layer: `(keys, short description)`, from the bindings marked as hints.
pub fn hints(layer: Layer, can_mutate: bool) -> Vec<(String, &'static str)> {
    hints_of(layer, |b| can_mutate || !b.action.is_mutating())
}

/// The hints in a replay over `layer`: the replay's keys first, then those of the view that
/// the replay neither takes (its keys come first) nor refuses (it changes nothing and
/// controls no drill; the briefing it shows).
pub fn replay_hints(layer: Layer) -> Vec<(String, &'static str)> {
    let taken = |chord: Chord| {
        BINDINGS
            .iter()
            .any(|b| b.layer == Layer::Replay && b.chord == chord)
    };
    let mut out = hints_of(Layer::Replay, |_| true);
    out.extend(hints_of(layer, |b| {
        !b.action.is_mutating()
            && !taken(b.chord)
            && !matches!(b.action, Action::Drill(drill) if drill != Drill::Briefing)
    }));
    out
}

/// The hints of the bindings of `layer` (and the global ones under it) that `shown` keeps.
fn hints_of(layer: Layer, shown: impl Fn(&Binding) -> bool) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let shown = &shown;
    let usable = |layer: Layer| {
        BINDINGS
            .iter()
            .filter(move |b| b.layer == layer && shown(b))
    };
    let own = usable(layer).filter(|b| b.hint);
    // Under a view's own keys, the global ones it does not rebind.
    let global = usable(Layer::Global).filter(move |g| {
        layer.falls_through()
            && g.hint
            // Fleet commands want a fleet selection, which a view of tasks does not have.
            && !matches!(g.action, Action::ActionMenu | Action::Run(_))
            && !BINDINGS
                .iter()
                .any(|b| b.layer == layer && b.chord == g.chord)
    });
    for binding in own.chain(global) {
        let what = short(layer, binding.action);
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

/// The word a hint uses for an action in `layer`: shorter than its description.
fn short(layer: Layer, action: Action) -> &'static str {
    match (layer, action) {
        (_, Action::Quit) => "quit",
        (_, Action::Help) => "help",
        (_, Action::Palette) => "commands",
        (_, Action::Filter) => "filter",
        (_, Action::ClearFilter) => "clear",
        (_, Action::NextView) => "next view",
        (Layer::Task, Action::Close) => "back",
        (Layer::Editor, Action::Close) => "cancel",
        (_, Action::Close) => "close",
        (Layer::Editor, Action::Accept) => "done",
        (Layer::Resolve | Layer::Silence, Action::Accept) => "send",
        (Layer::Silence, Action::Up | Action::Down) => "matcher",
        (_, Action::Accept) => "run",
        (Layer::Resolve, Action::Up | Action::Down) => "choose",
        (Layer::Confirm | Layer::Resolve, Action::PageUp | Action::PageDown) => "scroll",
        (_, Action::Up | Action::Down) => "move",
        (_, Action::ActionMenu) => "actions",
        (_, Action::NextField) => "next field",
        (_, Action::NextPane) => "pane",
        (_, Action::HandOff) => "hand off",
        (_, Action::Drill(drill)) => drill.short(),
        (_, other) => other.command_name(),
    }
}
