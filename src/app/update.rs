use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;

use super::{
    App, Effect, Hit, Level, Msg, Overlay, PAGE, PaletteState, ScreenMap, View, first_vendor_shown,
};
use crate::keymap::{self, Action, Layer};
use protocol::sanitize::clean;

impl App {
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let effects = self.handle(msg);
        self.keep_in_replay(effects)
    }

    fn handle(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Mouse(mouse) => self.on_mouse(mouse),
            Msg::Drawn(map) => {
                self.drawn(map);
                Vec::new()
            }
            Msg::Resize { width, height } => {
                self.area = Rect::new(0, 0, width, height);
                self.dirty = true;
                Vec::new()
            }
            Msg::Tick { now, wall } => {
                let replayed = self.advance_replay(now);
                // Ages and the clock are shown to the second.
                if wall.timestamp() != self.wall.timestamp() {
                    self.dirty = true;
                }
                self.now = now;
                self.wall = wall;
                if self.flash.as_ref().is_some_and(|f| f.until <= now) {
                    self.flash = None;
                    self.dirty = true;
                }
                // A fallback: the match's own message normally takes its rows first.
                let mut effects = self.take_filter_matches();
                effects.extend(self.renew_claim());
                effects.extend(self.watch_gate());
                effects.extend(self.resend_shared());
                effects.extend(replayed);
                effects
            }
            Msg::FilterMatched => self.take_filter_matches(),
            Msg::CommandJournaled { id, key } => {
                self.command_journaled(id, key);
                self.dirty = true;
                self.runbook_command_moved(id)
            }
            Msg::CommandFinished { id, result } => {
                let mut effects = self.command_finished(id, result);
                self.dirty = true;
                effects.extend(self.runbook_command_moved(id));
                effects
            }
            Msg::AuditLoaded { source, result } => {
                match result {
                    Ok(entries) => self.add_audit(&source, entries),
                    Err(error) => self.flash(
                        Level::Error,
                        format!("{source}: cannot read the audit log: {}", clean(&error)),
                    ),
                }
                self.dirty = true;
                Vec::new()
            }
            Msg::Source(msg) => self.on_source(msg),
            Msg::Paste(text) => {
                self.editor_paste(&text);
                self.dirty = true;
                Vec::new()
            }
            Msg::EscalationsCounted { source, total } => {
                self.dirty = true;
                self.escalations_counted(&source, total);
                Vec::new()
            }
            Msg::EscalationsLoaded {
                source,
                result,
                done,
            } => {
                self.dirty = true;
                self.escalations_loaded(&source, result, done)
            }
            Msg::EscalationLoaded { source, id, result } => {
                self.dirty = true;
                self.escalation_loaded(&source, &id, result)
            }
            Msg::ClaimFinished { source, id, result } => {
                self.dirty = true;
                self.claim_finished(&source, &id, result)
            }
            Msg::ReleaseFinished { source, id, result } => {
                self.release_finished(&source, &id, result);
                Vec::new()
            }
            Msg::ResolveJournaled { local_id, key } => {
                self.resolve_journaled(local_id, key);
                self.dirty = true;
                Vec::new()
            }
            Msg::ResolveFinished { local_id, result } => {
                self.dirty = true;
                self.resolve_finished(local_id, result)
            }
            Msg::SilenceJournaled { local_id, key } => {
                self.silence_journaled(local_id, key);
                self.dirty = true;
                Vec::new()
            }
            Msg::SilenceFinished { local_id, result } => {
                self.silence_finished(local_id, result);
                self.dirty = true;
                Vec::new()
            }
            Msg::JournalRead(history) => {
                self.journal_read(history);
                self.dirty = true;
                Vec::new()
            }
            Msg::JournalSettled { entry_id, outcome } => {
                self.journal_settled(&entry_id, outcome);
                self.dirty = true;
                Vec::new()
            }
            Msg::RunbooksLoaded { catalog, record } => {
                self.runbooks_loaded(*catalog, record);
                self.dirty = true;
                self.sync_followed()
            }
            Msg::SharedRun { order, answer } => self.shared_answer(order, answer),
            Msg::ExerciseControlled { id, result } => {
                self.exercise_controlled(id, result.map(|s| *s))
            }
            Msg::ExerciseReportLoaded { source, result } => {
                self.exercise_report_loaded(&source, result.map(|r| *r));
                Vec::new()
            }
            Msg::Decided { id, key, result } => {
                self.dirty = true;
                self.decided(id, key, result.map(|r| *r))
            }
            Msg::Terminate => self.quit(),
            Msg::Problem(problem) => {
                self.log(None, Level::Warning, problem.clone());
                self.problems.push(problem);
                self.dirty = true;
                Vec::new()
            }
        }
    }

    /// The layer that gets keys first.
    pub fn top_layer(&self) -> Layer {
        if let Some(overlay) = self.overlays.top() {
            overlay.layer()
        } else if self.filter.editing {
            Layer::Filter
        } else if self.view == View::Inbox && self.task.is_some() {
            Layer::Task
        } else if self.view == View::Inbox {
            Layer::Inbox
        } else if self.view == View::Runbooks && self.runbooks.run_open {
            Layer::Run
        } else if self.view == View::Runbooks {
            Layer::Runbooks
        } else if self.view == View::Exercise {
            Layer::Exercise
        } else if self.view == View::Approvals {
            Layer::Approvals
        } else {
            Layer::Global
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let layer = self.top_layer();
        if let Some(keys) = keymap::split_coalesced_escape(layer, &key) {
            return keys.into_iter().flat_map(|k| self.on_key(k)).collect();
        }
        // A replay's keys come before the views' own, never before an overlay or an input.
        let replay_keys =
            self.replay.is_some() && (layer == Layer::Global || layer.falls_through());
        let replay_action = replay_keys
            .then(|| keymap::lookup(Layer::Replay, &key))
            .flatten();
        if let Some(Action::Replay(control)) = replay_action {
            self.dirty = true;
            return self.control_replay(control);
        }
        if let Some((bound_in, action)) = keymap::dispatch(layer, &key) {
            self.dirty = true;
            return self.perform(bound_in, action);
        }
        match layer {
            Layer::Palette | Layer::Filter => self.edit_input(layer, key),
            Layer::Confirm => {
                self.confirm_input(key);
                self.dirty = true;
            }
            Layer::Editor => {
                self.editor_input(key);
                self.dirty = true;
            }
            Layer::Resolve => {
                self.form_input(key);
                self.dirty = true;
            }
            Layer::Silence => {
                self.silence_input(key);
                self.dirty = true;
            }
            Layer::RunInput => {
                self.run_input(key);
                self.dirty = true;
            }
            Layer::EndDrill => {
                self.end_drill_input(key);
                self.dirty = true;
            }
            Layer::Briefing
            | Layer::Approvals
            | Layer::Exercise
            | Layer::Run
            | Layer::Runbooks
            | Layer::Replay
            | Layer::Silences
            | Layer::Menu
            | Layer::Help
            | Layer::Task
            | Layer::Inbox
            | Layer::Global => {}
        }
        Vec::new()
    }

    /// The filter of the view on screen: the inbox has its own.
    pub fn filter_query(&self) -> &str {
        match self.view {
            View::Inbox => self.inbox.query(),
            View::Runbooks => &self.runbooks.query,
            _ => &self.filter.query,
        }
    }

    /// Typing into the palette or filter input.
    fn edit_input(&mut self, layer: Layer, key: KeyEvent) {
        // The inbox and the runbooks keep their own query, set back once edited.
        let mut own_query = self.filter_query().to_string();
        let input = match layer {
            Layer::Palette => match self.overlays.palette_mut() {
                Some(p) => &mut p.input,
                None => return,
            },
            _ if matches!(self.view, View::Inbox | View::Runbooks) => &mut own_query,
            _ => &mut self.filter.query,
        };
        match key.code {
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                input.push(c)
            }
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => input.clear(),
            _ => return,
        }
        self.dirty = true;
        match layer {
            Layer::Palette => {
                if let Some(p) = self.overlays.palette_mut() {
                    p.selected = 0;
                    p.rematch(&mut self.matcher);
                }
            }
            _ if self.view == View::Inbox => {
                self.open_when_matched = false;
                self.inbox.set_query(&own_query);
            }
            _ if self.view == View::Runbooks => self.set_runbook_query(&own_query),
            _ => self.refresh_visible(),
        }
    }

    fn perform(&mut self, layer: Layer, action: Action) -> Vec<Effect> {
        match layer {
            Layer::Editor => self.perform_in_editor(action),
            Layer::Resolve => self.perform_in_form(action),
            Layer::Silence => self.perform_in_silence_form(action),
            Layer::Silences => {
                self.perform_in_silence_list(action);
                Vec::new()
            }
            Layer::Task => self.perform_in_task(action),
            Layer::Run => self.perform_in_run(action),
            Layer::RunInput => self.perform_in_run_input(action),
            Layer::Replay => match action {
                Action::Replay(control) => self.control_replay(control),
                _ => Vec::new(),
            },
            Layer::Runbooks => match action {
                Action::OpenRunbook => self.open_runbook(),
                _ => Vec::new(),
            },
            Layer::Exercise => match action {
                Action::Drill(drill) => self.drill(drill, ""),
                _ => Vec::new(),
            },
            Layer::Approvals => self.perform_in_approvals(action),
            Layer::Briefing => {
                self.perform_in_briefing(action);
                Vec::new()
            }
            Layer::EndDrill => self.perform_in_end_drill(action),
            Layer::Inbox => match (action, self.inbox.selected_slot()) {
                (Action::OpenTask, _) if self.inbox.matching() => {
                    self.open_when_matched = true;
                    Vec::new()
                }
                (Action::OpenTask, Some(slot)) => self.open_task(slot),
                _ => Vec::new(),
            },
            Layer::Confirm => {
                match action {
                    Action::Accept => {
                        let for_runbook = self.overlays.confirm().is_some_and(|c| c.for_runbook);
                        let effects = self.submit_confirm();
                        if for_runbook {
                            self.runbook_command_sent(&effects);
                        }
                        return effects;
                    }
                    Action::NextField => self.move_confirm_focus(true),
                    Action::PrevField => self.move_confirm_focus(false),
                    Action::PageUp | Action::PageDown => {
                        self.scroll_confirm(action == Action::PageDown)
                    }
                    _ => self.overlays.close(Layer::Confirm),
                }
                Vec::new()
            }
            Layer::Menu => {
                let Some(menu) = self.overlays.menu_mut() else {
                    return Vec::new();
                };
                match action {
                    Action::Up => menu.selected = menu.selected.saturating_sub(1),
                    Action::Down => {
                        menu.selected =
                            (menu.selected + 1).min(menu.commands.len().saturating_sub(1))
                    }
                    Action::Accept => {
                        let (source, command) = (
                            menu.sources[menu.selected],
                            menu.commands[menu.selected].clone(),
                        );
                        self.open_confirm(source, command);
                    }
                    _ => self.overlays.close(Layer::Menu),
                }
                Vec::new()
            }
            Layer::Help => {
                match (action, self.overlays.help_scroll_mut()) {
                    (Action::Down, Some(scroll)) => *scroll += 1,
                    (Action::Up, Some(scroll)) => *scroll = scroll.saturating_sub(1),
                    _ => self.overlays.close(Layer::Help),
                }
                Vec::new()
            }
            Layer::Palette => self.perform_in_palette(action),
            Layer::Filter => {
                match action {
                    Action::ClearFilter => self.clear_filter(),
                    _ => self.filter.editing = false,
                }
                Vec::new()
            }
            Layer::Global => self.run(action),
        }
    }

    /// Runs a global action, from a key or from the palette.
    pub(super) fn run(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Quit => return self.quit(),
            Action::Help => {
                let from = self.top_layer();
                self.overlays.open(Overlay::Help { scroll: 0, from })
            }
            Action::Palette => {
                let can_mutate = self.can_mutate();
                let mut palette = PaletteState::open(&mut self.matcher, can_mutate);
                self.note_read_only_refusals(&mut palette);
                self.add_drill_entries(&mut palette);
                self.add_decision_entries(&mut palette);
                palette.rematch(&mut self.matcher);
                self.overlays.open(Overlay::Palette(palette));
            }
            Action::Filter => self.filter.editing = true,
            Action::ClearFilter => {
                if self.filter_query().is_empty() {
                    // Esc with nothing to clear dismisses the problem banner.
                    self.problems.clear();
                }
                self.clear_filter();
            }
            Action::NextView => return self.show(cycle(&self.views(), self.view, 1)),
            Action::PrevView => return self.show(cycle(&self.views(), self.view, -1)),
            Action::ShowFleet => return self.show(View::Fleet),
            Action::ShowServices => return self.show(View::Services),
            Action::ShowTimeline => return self.show(View::Timeline),
            Action::ShowAudit => return self.show(View::Audit),
            Action::ShowInbox => return self.show(View::Inbox),
            Action::ShowRunbooks => return self.show(View::Runbooks),
            Action::ShowExercise => return self.show(View::Exercise),
            Action::ShowApprovals => return self.show(View::Approvals),
            Action::ShowCost => return self.show(View::Cost),
            Action::Decide(kind) => return self.decide(kind, ""),
            Action::Drill(drill) => return self.drill(drill, ""),
            Action::ActionMenu => self.start_command(None),
            Action::Run(verb) => self.start_command(Some(verb)),
            Action::Silence => self.start_silence(),
            Action::ShowSilences => self.show_silences(),
            Action::NextTheme => {
                if let Some(pos) = self.themes.iter().position(|t| *t == self.theme_name) {
                    self.theme_name = self.themes[(pos + 1) % self.themes.len()].clone();
                    let keys = crate::keymap::keys_for(Layer::Global, Action::NextTheme);
                    self.flash(
                        Level::Info,
                        format!("theme {} ({keys}: next theme)", self.theme_name),
                    );
                    return vec![Effect::LoadTheme(self.theme_name.clone())];
                }
            }
            Action::Up => self.move_rows(-1),
            Action::Down => self.move_rows(1),
            Action::PageUp => self.move_rows(-(PAGE as isize)),
            Action::PageDown => self.move_rows(PAGE as isize),
            Action::Top => self.move_rows(isize::MIN / 2),
            Action::Bottom => self.move_rows(isize::MAX / 2),
            Action::Left => self.move_cols(-1),
            Action::Right => self.move_cols(1),
            Action::Close
            | Action::Accept
            | Action::NextField
            | Action::PrevField
            | Action::OpenTask
            | Action::NextPane
            | Action::PrevPane
            | Action::Approve
            | Action::EditOutput
            | Action::WriteOutput
            | Action::Reject
            | Action::Abort
            | Action::RetryPath
            | Action::HandOff
            | Action::ExpireSilence
            | Action::OpenRunbook
            | Action::StepDone
            | Action::StepAction
            | Action::StepSkip
            | Action::StepNote
            | Action::EndRun
            | Action::Replay(_)
            | Action::Choose(_) => {}
        }
        Vec::new()
    }

    fn clear_filter(&mut self) {
        self.filter.editing = false;
        if self.view == View::Inbox {
            self.inbox.set_query("");
        } else if self.view == View::Runbooks {
            self.set_runbook_query("");
        } else {
            self.filter.query.clear();
            self.refresh_visible();
        }
    }

    /// Switches view; the audit log is fetched the first time it is shown, then kept live by
    /// events and refetched after every (re)connection.
    fn show(&mut self, view: View) -> Vec<Effect> {
        if view == View::Exercise && self.exercise.is_none() {
            self.flash(
                Level::Info,
                "no drill: no source runs a tabletop exercise (lab serve --exercise SCENARIO)",
            );
            return Vec::new();
        }
        if view == View::Approvals && !self.has_approvals() {
            self.flash(
                Level::Info,
                "no approval requests: no source holds a command for a second operator",
            );
            return Vec::new();
        }
        if view == View::Cost && !self.has_posture() {
            self.flash(
                Level::Info,
                "no cost figures: no source reports or measures a service's posture and the context has no [cost]",
            );
            return Vec::new();
        }
        self.view = view;
        if view == View::Audit && !self.audit_requested {
            self.audit_requested = true;
            return self
                .sources
                .iter()
                .map(|s| Effect::FetchAudit {
                    source: s.name.clone(),
                    newer_than: None,
                })
                .collect();
        }
        Vec::new()
    }

    /// Quits, releasing a claimed task on the way out (best effort: its lease runs out anyway).
    fn quit(&mut self) -> Vec<Effect> {
        let mut effects = self.close_task();
        effects.push(Effect::Quit);
        effects
    }

    fn move_rows(&mut self, delta: isize) {
        if self.view == View::Inbox {
            match (&self.task, delta.signum()) {
                // The wheel over an open task scrolls its pane.
                (Some(_), 1) => {
                    self.perform_in_task(Action::Down);
                }
                (Some(_), _) => {
                    self.perform_in_task(Action::Up);
                }
                (None, _) => self.inbox.move_selection(delta),
            }
            return;
        }
        if self.view == View::Runbooks {
            self.move_runbook_selection(delta);
            return;
        }
        if self.view == View::Exercise {
            self.scroll_exercise(delta);
            return;
        }
        if self.view == View::Approvals {
            self.move_approval_selection(delta);
            return;
        }
        let audit_rows = self.audit_rows();
        let (row, len) = match self.view {
            View::Fleet => (&mut self.selection.fleet_row, self.visible.fleet_rows()),
            View::Services => (&mut self.selection.service_row, self.visible.services.len()),
            View::Timeline => (&mut self.selection.timeline_row, self.timeline.len()),
            View::Audit => (&mut self.selection.audit_row, audit_rows),
            View::Inbox | View::Runbooks | View::Exercise | View::Approvals | View::Cost => return,
        };
        *row = row.saturating_add_signed(delta).min(len.saturating_sub(1));
    }

    fn move_cols(&mut self, delta: isize) {
        if self.view == View::Fleet {
            let vendors = self.visible.vendors.len();
            let sel = &mut self.selection;
            sel.fleet_col = sel.fleet_col.saturating_add_signed(delta).min(vendors);
            // The provider columns scroll to keep the selection in the window last drawn.
            if let Some(drawn) = self.screen_map.list.as_ref().and_then(|l| l.columns) {
                sel.fleet_first_vendor =
                    first_vendor_shown(sel.fleet_first_vendor, sel.fleet_col, drawn.shown, vendors);
            }
        }
    }

    fn on_mouse(&mut self, mouse: MouseEvent) -> Vec<Effect> {
        let mut effects = Vec::new();
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => match self.hit(mouse.column, mouse.row) {
                Some(Hit::Tab(view)) => effects = self.show(view),
                Some(Hit::FleetCell { row, col }) => {
                    self.selection.fleet_row = row;
                    self.selection.fleet_col = col;
                }
                Some(Hit::ServiceRow(row)) => self.selection.service_row = row,
                Some(Hit::TimelineRow(row)) => self.selection.timeline_row = row,
                Some(Hit::AuditRow(row)) => self.selection.audit_row = row,
                Some(Hit::InboxRow(row)) => self.inbox.select_index(row),
                Some(Hit::RunbookRow(row)) => self.runbooks.selected = row,
                Some(Hit::ApprovalRow(row)) => self.approvals.selected = row,
                None => return effects,
            },
            MouseEventKind::ScrollDown => self.move_rows(1),
            MouseEventKind::ScrollUp => self.move_rows(-1),
            _ => return effects,
        }
        self.dirty = true;
        effects
    }

    /// What a click at `(x, y)` lands on in the last frame; nothing while an overlay covers it.
    fn hit(&self, x: u16, y: u16) -> Option<Hit> {
        if !self.overlays.is_empty() {
            return None;
        }
        self.screen_map.hit(x, y)
    }

    /// Keeps what the draw reported; the open task's pane bounds its scroll from now on.
    fn drawn(&mut self, mut map: ScreenMap) {
        if let (Some(task), Some(extent)) = (self.task.as_mut(), map.task_pane.take()) {
            task.pane_drawn(extent);
        }
        if let (Some(exercise), Some(max)) = (self.exercise.as_mut(), map.exercise_scroll_max) {
            exercise.scroll = exercise.scroll.min(max);
        }
        self.screen_map = map;
    }
}

/// The view `step` tabs from `view` among those offered.
fn cycle(views: &[View], view: View, step: isize) -> View {
    let pos = views.iter().position(|v| *v == view).unwrap_or(0);
    views[(pos as isize + step).rem_euclid(views.len() as isize) as usize]
}
