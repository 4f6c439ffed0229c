//! The binding table: lookups, layers, hints and the palette it feeds.

use super::*;
use crossterm::event::KeyEventKind;

use Action as A;
use KeyCode as K;

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
    let hints = hints(Layer::Global, true);
    assert!(hints.contains(&("q".to_string(), "quit")));
    assert!(hints.contains(&("?".to_string(), "help")));
    assert!(super::hints(Layer::Palette, true).contains(&("↑/↓".to_string(), "move")));
    let palette = palette_actions(true);
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
    let palette = palette_actions(true);
    for (i, (a, _)) in palette.iter().enumerate() {
        for (b, _) in &palette[i + 1..] {
            assert_ne!(a.command_name(), b.command_name());
        }
    }
}

#[test]
fn mutating_actions_hide_when_the_user_may_not_mutate() {
    assert!(
        hints(Layer::Global, true)
            .iter()
            .any(|(_, what)| *what == "actions")
    );
    assert!(
        !hints(Layer::Global, false)
            .iter()
            .any(|(_, what)| *what == "actions")
    );
    assert!(
        palette_actions(true)
            .iter()
            .any(|(a, _)| *a == A::Run(Verb::Drain))
    );
    assert!(!palette_actions(false).iter().any(|(a, _)| a.is_mutating()));
    assert!(
        !help_rows(false)
            .iter()
            .any(|(_, _, what)| what.starts_with("Drain"))
    );
}

#[test]
fn esc_coalesced_with_the_next_key_is_split_back_outside_text_editors() {
    let alt_q = key(K::Char('q'), KeyModifiers::ALT);
    let [esc, q] = split_coalesced_escape(Layer::Help, &alt_q).expect("split on the help layer");
    assert_eq!((esc.code, esc.modifiers), (K::Esc, KeyModifiers::NONE));
    assert_eq!((q.code, q.modifiers), (K::Char('q'), KeyModifiers::NONE));
    let alt_shift_g = key(K::Char('G'), KeyModifiers::ALT | KeyModifiers::SHIFT);
    let [_, g] = split_coalesced_escape(Layer::Global, &alt_shift_g).expect("shift kept");
    assert_eq!(g.modifiers, KeyModifiers::SHIFT);
    // Alt moves by words in a text editor; Ctrl+Alt and plain keys are not an Esc.
    for layer in [Layer::Confirm, Layer::Editor, Layer::Resolve] {
        assert!(split_coalesced_escape(layer, &alt_q).is_none(), "{layer:?}");
    }
    let ctrl_alt_q = key(K::Char('q'), KeyModifiers::ALT | KeyModifiers::CONTROL);
    assert!(split_coalesced_escape(Layer::Global, &ctrl_alt_q).is_none());
    assert!(
        split_coalesced_escape(Layer::Global, &key(K::Char('q'), KeyModifiers::NONE)).is_none()
    );
}
