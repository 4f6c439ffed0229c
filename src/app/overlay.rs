//! The layers drawn over the views (help, the command palette, a command's menu and
//! confirmation, a resolution's confirmation, the output editor), kept as one stack. The
//! stack alone decides what is on top: the views draw it bottom first, the top layer gets
//! the keys first (its keymap [`Layer`] is [`Overlay::layer`]), and while any layer is
//! open a click lands on nothing beneath.

use super::{
    ConfirmState, EditorState, EndDrill, MenuState, PaletteState, ResolveForm, RunInput,
    SilenceForm, SilenceList,
};
use crate::keymap::Layer;

/// One layer over the views. The states with text inputs are boxed: they are many times the
/// size of the others.
pub enum Overlay {
    Palette(PaletteState),
    /// The key help, scrolled by `scroll` rows, opened from layer `from` (its keys first).
    Help {
        scroll: usize,
        from: Layer,
    },
    Menu(MenuState),
    Confirm(Box<ConfirmState>),
    /// A resolution's confirmation.
    Resolve(Box<ResolveForm>),
    Editor(Box<EditorState>),
    /// A silence's confirmation (create or expire).
    Silence(Box<SilenceForm>),
    /// The active silences of a metrics source.
    Silences(SilenceList),
    /// A skip reason or a note for the current step of a runbook run.
    RunInput(Box<RunInput>),
    /// A drill's briefing, scrolled by `scroll` rows.
    Briefing {
        scroll: usize,
    },
    /// The confirmation that ends the drill.
    EndDrill(Box<EndDrill>),
}

impl Overlay {
    /// The keymap layer whose keys this overlay takes.
    pub fn layer(&self) -> Layer {
        match self {
            Overlay::Palette(_) => Layer::Palette,
            Overlay::Help { .. } => Layer::Help,
            Overlay::Menu(_) => Layer::Menu,
            Overlay::Confirm(_) => Layer::Confirm,
            Overlay::Resolve(_) => Layer::Resolve,
            Overlay::Editor(_) => Layer::Editor,
            Overlay::Silence(_) => Layer::Silence,
            Overlay::Silences(_) => Layer::Silences,
            Overlay::RunInput(_) => Layer::RunInput,
            Overlay::Briefing { .. } => Layer::Briefing,
            Overlay::EndDrill(_) => Layer::EndDrill,
        }
    }
}

/// The open overlays, the top one last.
#[derive(Default)]
pub struct Overlays {
    stack: Vec<Overlay>,
}

impl Overlays {
    /// The overlay that gets the keys.
    pub fn top(&self) -> Option<&Overlay> {
        self.stack.last()
    }

    /// Every open overlay, bottom first: the order they are drawn in.
    pub fn iter(&self) -> impl Iterator<Item = &Overlay> {
        self.stack.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.stack.is_empty()
    }

    pub fn is_open(&self, layer: Layer) -> bool {
        self.stack.iter().any(|o| o.layer() == layer)
    }

    /// Puts `overlay` on top, in place of an open one of its kind.
    pub(super) fn open(&mut self, overlay: Overlay) {
        self.close(overlay.layer());
        self.stack.push(overlay);
    }

    pub(super) fn close(&mut self, layer: Layer) {
        self.stack.retain(|o| o.layer() != layer);
    }

    /// The help's scroll, while it is open.
    pub(super) fn help_scroll_mut(&mut self) -> Option<&mut usize> {
        self.stack.iter_mut().rev().find_map(|o| match o {
            Overlay::Help { scroll, .. } => Some(scroll),
            _ => None,
        })
    }
}

/// The state of each overlay that carries one (`palette()`, `palette_mut()`...): the open
/// one's, if any.
macro_rules! state_of {
    ($($variant:ident($state:ty) => $get:ident, $get_mut:ident;)*) => {
        impl Overlays {
            $(
                pub fn $get(&self) -> Option<&$state> {
                    self.stack.iter().rev().find_map(|o| -> Option<&$state> {
                        match o {
                            Overlay::$variant(state) => Some(state),
                            _ => None,
                        }
                    })
                }

                pub fn $get_mut(&mut self) -> Option<&mut $state> {
                    self.stack.iter_mut().rev().find_map(|o| -> Option<&mut $state> {
                        match o {
                            Overlay::$variant(state) => Some(state),
                            _ => None,
                        }
                    })
                }
            )*
        }
    };
}

state_of! {
    Palette(PaletteState) => palette, palette_mut;
    Menu(MenuState) => menu, menu_mut;
    Confirm(ConfirmState) => confirm, confirm_mut;
    Resolve(ResolveForm) => resolve_form, resolve_form_mut;
    Editor(EditorState) => editor, editor_mut;
    Silence(SilenceForm) => silence_form, silence_form_mut;
    Silences(SilenceList) => silence_list, silence_list_mut;
    RunInput(RunInput) => run_input, run_input_mut;
    EndDrill(EndDrill) => end_drill, end_drill_mut;
}
