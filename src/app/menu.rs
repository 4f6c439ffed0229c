//! The menu of commands that fit the selection, and where each goes: when several sources
//! report the target, each one's commands are offered, named, and the engineer picks.

use super::{App, Level, Overlay};
use crate::domain::command::{self, Command, Target, Verb};
use crate::domain::performer;

pub struct MenuState {
    pub title: String,
    pub commands: Vec<Command>,
    /// The source each command goes to: when several report the target, the menu offers
    /// the command once per source, named, and the engineer picks.
    pub sources: Vec<usize>,
    pub selected: usize,
}

impl MenuState {
    /// Whether the menu's commands go to more than one source (each line names its own).
    pub fn names_sources(&self) -> bool {
        self.sources.iter().any(|s| Some(s) != self.sources.first())
    }
}

impl App {
    /// `a`, `enter` or a command key: the commands of `verb` (or all) that fit the selection.
    pub(super) fn start_command(&mut self, verb: Option<Verb>) {
        let selected = self.selected_id();
        if self.refused_as_read_only(verb, selected.as_deref()) {
            return;
        }
        if let Some(refusal) = self.mutation_refusal() {
            self.flash(Level::Warning, refusal);
            return;
        }
        let Some((source, target)) = self.selected_target() else {
            self.flash(
                Level::Warning,
                "select a region, a provider or a service first",
            );
            return;
        };
        // Several protocol v1 sources may report the target (two labs): each one's commands
        // are offered, named, so that where a command goes is never chosen silently.
        let has = |s: &protocol::FleetSnapshot| match &target {
            Target::Region(id) => s.regions.iter().any(|r| &r.id == id),
            Target::Provider(id) => s.providers.iter().any(|p| &p.id == id),
            Target::Service(id) => s.services.iter().any(|x| &x.id == id),
        };
        let mut reporting = self.reporting(has);
        if !reporting.contains(&source) {
            reporting.insert(0, source);
        }
        let (mut offered, mut refused) = (Vec::new(), None);
        for source in reporting {
            let Some(snapshot) = self.sources[source].snapshot.as_ref() else {
                continue;
            };
            let mut fitting = command::commands_for(&target, snapshot);
            if let Target::Service(id) = &target {
                for promotion in self.patroni_promotions(id) {
                    if !fitting.contains(&promotion) {
                        fitting.push(promotion);
                    }
                }
            }
            let fitting = fitting
                .into_iter()
                .filter(|c| verb.is_none_or(|v| c.kind() == v));
            // What no source can perform here is left out; when that is all, the reason is told.
            for command in fitting {
                match performer::performer(&self.sources, source, &command) {
                    Ok(_) => offered.push((source, command)),
                    Err(refusal) => refused = refused.or(Some(refusal)),
                }
            }
        }
        if let (true, Some(refusal)) = (offered.is_empty(), refused) {
            self.flash(Level::Warning, refusal);
            return;
        }
        let label = match &target {
            Target::Region(id) | Target::Provider(id) | Target::Service(id) => id.clone(),
        };
        match offered.len() {
            0 => {
                let what = verb.map_or("command", Verb::word);
                self.flash(Level::Warning, format!("no {what} fits {label}"));
            }
            1 => {
                let (source, command) = offered.remove(0);
                self.open_confirm(source, command)
            }
            _ => self.open_menu(label, offered),
        }
    }

    fn open_menu(&mut self, title: String, offered: Vec<(usize, Command)>) {
        let (sources, commands) = offered.into_iter().unzip();
        self.overlays.open(Overlay::Menu(MenuState {
            title,
            commands,
            sources,
            selected: 0,
        }));
    }

    /// The protocol v1 sources whose fleet `has` the target, in the config's order (a Patroni
    /// source's service is not one: domain::performer sends its promotions).
    fn reporting(&self, has: impl Fn(&protocol::FleetSnapshot) -> bool) -> Vec<usize> {
        (self.sources.iter().enumerate())
            .filter(|(_, data)| data.patroni.is_none() && data.snapshot.as_ref().is_some_and(&has))
            .map(|(index, _)| index)
            .collect()
    }

    /// A command typed in the palette with its arguments.
    pub(super) fn start_typed_command(&mut self, verb: Verb, args: &[&str]) {
        if self.refused_as_read_only(Some(verb), None) {
            return;
        }
        if let Some(refusal) = self.mutation_refusal() {
            self.flash(Level::Warning, refusal);
            return;
        }
        let selected = self.selected_target();
        match command::parse(verb, args, selected.as_ref().map(|(_, t)| t)) {
            Ok(command) => {
                let known = self.source_of(&command);
                if known.is_none()
                    && self.refused_as_read_only(Some(verb), Some(command.target_id()))
                {
                    return;
                }
                // A target several protocol v1 sources report: the engineer picks where.
                let reporting = self.reporting(|s| command.control_revision(s).is_some());
                if reporting.len() > 1 {
                    let label = command.target_id().to_string();
                    let offered = reporting
                        .into_iter()
                        .map(|s| (s, command.clone()))
                        .collect();
                    self.open_menu(label, offered);
                    return;
                }
                let source = known.or(selected.map(|(s, _)| s));
                match source {
                    Some(source) => self.open_confirm(source, command),
                    None => self.flash(
                        Level::Warning,
                        format!("{} is not in the fleet", command.target_id()),
                    ),
                }
            }
            Err(problem) => self.flash(Level::Warning, problem),
        }
    }

    /// The source whose fleet has the command's target.
    fn source_of(&self, command: &Command) -> Option<usize> {
        self.sources.iter().position(|s| {
            s.snapshot
                .as_ref()
                .is_some_and(|snap| command.control_revision(snap).is_some())
        })
    }
}
