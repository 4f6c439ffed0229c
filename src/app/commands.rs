//! Commands from the console: the confirmation with preflight and reason, and what became of
//! each command sent (the menu of what fits the selection is in `menu.rs`).

use std::time::Instant;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use ratatui_textarea::TextArea;

use super::{App, Effect, Level, Overlay, View};
use crate::domain::command::{self, Command, Target};
use crate::domain::cost::SloReads;
use crate::domain::fleet::SourceData;
use crate::domain::performer;
use crate::domain::preflight::{Preflight, add_cost_effect};
use crate::domain::prices::CostConfig;
use crate::keymap::Layer;
use protocol::Role;
use protocol::approvals::{ApprovalRequest, under_policy};
use protocol::commands::{AuditEntry, CommandAccepted, PreflightSeen};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Reason,
    /// How long until the command reverts by itself (`30m`); empty for never.
    Expiry,
    Weights,
    /// In a production context the user types the target's name to confirm.
    TypeTarget,
    /// Present while the preflight says no: typing FORCE sends anyway (like the CLI's `--force`).
    Force,
}

/// Rows one page up/down moves the confirmation's preflight details.
pub(in crate::app) const CONFIRM_SCROLL_ROWS: u16 = 4;

/// What the user types in the [`FieldKind::Force`] field to send against the preflight.
pub const FORCE_WORD: &str = "FORCE";

impl FieldKind {
    pub fn label(self) -> &'static str {
        match self {
            FieldKind::Reason => "reason",
            FieldKind::Expiry => "revert after",
            FieldKind::Weights => "weights",
            FieldKind::TypeTarget => "type the target",
            FieldKind::Force => "override",
        }
    }
}

pub struct Field {
    pub kind: FieldKind,
    pub input: TextArea<'static>,
}

impl Field {
    fn new(kind: FieldKind, text: &str, placeholder: &str) -> Field {
        let mut input = TextArea::new(vec![text.to_string()]);
        input.set_placeholder_text(placeholder);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        Field { kind, input }
    }

    pub fn text(&self) -> String {
        self.input.lines().join(" ").trim().to_string()
    }
}

pub struct ConfirmState {
    pub source: usize,
    /// The command as the fields make it now.
    pub command: Command,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub preflight: Preflight,
    /// Why the command cannot be sent yet (shown under the fields).
    pub problem: Option<String>,
    /// First row of the preflight's details on screen (its blocking findings never scroll).
    pub details_scroll: u16,
    /// Opened from a runbook step: the run records what becomes of the command.
    pub for_runbook: bool,
}

impl ConfirmState {
    fn field(&self, kind: FieldKind) -> Option<&Field> {
        self.fields.iter().find(|f| f.kind == kind)
    }

    /// The override field is there exactly while the preflight blocks something an
    /// operator may overrule (never a command that does not fit the fleet at all).
    fn offer_force(&mut self) {
        let wanted = self.preflight.blocks() && self.preflight.errors.is_empty();
        let present = self.field(FieldKind::Force).is_some();
        if wanted && !present {
            self.fields.push(Field::new(
                FieldKind::Force,
                "",
                &format!("type {FORCE_WORD} to send anyway"),
            ));
        } else if !wanted && present {
            self.fields.retain(|f| f.kind != FieldKind::Force);
            self.focus = self.focus.min(self.fields.len() - 1);
        }
    }

    fn forced(&self) -> bool {
        self.field(FieldKind::Force)
            .is_some_and(|f| f.text() == FORCE_WORD)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The server said no (400, 403, 404, 422...).
    Rejected,
    /// 409: the target changed since the console looked.
    Conflict,
    /// No answer: the command may or may not have been applied; the journal keeps it.
    Unknown,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CommandFailure {
    pub kind: FailureKind,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SentState {
    Sending,
    Accepted(CommandAccepted),
    /// The source's two-person rule holds it for a second operator (answered with
    /// `pending_approval`): received, nothing changed yet.
    Held(Box<ApprovalRequest>),
    Failed(CommandFailure),
}

/// A command this console sent, and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentCommand {
    pub id: u64,
    pub source: String,
    pub command: Command,
    pub reason: String,
    /// When it was sent, on its source's clock.
    pub at: DateTime<Utc>,
    /// Known once the journal has it, before it is sent.
    pub key: Option<String>,
    pub state: SentState,
}

/// What the runner needs to journal and send a command.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandRequest {
    pub id: u64,
    pub source: String,
    pub command: Command,
    pub reason: String,
    /// The preflight shown in the confirmation, as confirmed (forced past a block or not).
    pub preflight: Option<PreflightSeen>,
    pub if_match: u64,
}

/// An audit entry with the source that reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct SourcedAudit {
    pub source: String,
    pub entry: AuditEntry,
}

impl App {
    /// Why the user may not change the fleet (or, in the inbox, act on tasks) now, if they
    /// may not.
    pub fn mutation_refusal(&self) -> Option<String> {
        let change = if self.view == View::Inbox {
            "act on tasks"
        } else {
            "change the fleet"
        };
        if self.replay.is_some() {
            return Some(super::replay::READ_ONLY.into());
        }
        if self.context.read_only {
            return Some(format!("read-only: this console does not {change}"));
        }
        match self.identity() {
            None => Some("identity unknown: waiting for the source to say who you are".into()),
            Some(who) if who.role < Role::Operator => {
                Some(format!("role {} may not {change}", who.role.word()))
            }
            Some(_) => None,
        }
    }

    pub fn can_mutate(&self) -> bool {
        self.mutation_refusal().is_none()
    }

    /// The region, provider or service under the selection, with its source.
    pub fn selected_target(&self) -> Option<(usize, Target)> {
        match self.view {
            View::Fleet => {
                let Some(row) = self.selected_region() else {
                    return self.selected_measured_target();
                };
                let region = self.region_at(row);
                let target = match self.selection.fleet_col.checked_sub(1) {
                    None => Target::Region(region.id.clone()),
                    Some(v) => {
                        let vendor = self.visible.vendors.get(v)?;
                        match self.provider_cell(row, vendor) {
                            super::ProviderCell::Present(p) => Target::Provider(p.id.clone()),
                            super::ProviderCell::Absent => return None,
                        }
                    }
                };
                Some((row.source, target))
            }
            View::Services => {
                let row = self.selected_service()?;
                Some((row.source, Target::Service(self.service_at(row).id.clone())))
            }
            View::Timeline
            | View::Audit
            | View::Inbox
            | View::Runbooks
            | View::Exercise
            | View::Approvals
            | View::Cost => None,
        }
    }

    pub(super) fn flash(&mut self, level: Level, text: impl Into<String>) {
        let text = text.into();
        self.log(None, level, text.clone());
        self.flash = Some(super::Flash {
            level,
            text,
            until: self.now + super::FLASH_FOR,
        });
    }

    pub(super) fn open_confirm(&mut self, source: usize, command: Command) {
        let (source, preflight) =
            match prepare_priced(&self.sources, &self.cost, source, &command, self.now) {
                Ok(prepared) => prepared,
                Err(refusal) => {
                    self.overlays.close(Layer::Menu);
                    self.flash(Level::Warning, refusal);
                    return;
                }
            };
        let mut fields = vec![Field::new(
            FieldKind::Reason,
            "",
            "why? (required, goes to the audit log)",
        )];
        if command.can_expire() {
            // A duration typed in the palette (`drain eu-west 30m`) starts the field: the
            // command is rebuilt from the fields, so an empty one would make it indefinite.
            let expiry = command.expires_in_s().map(command::duration_text);
            fields.push(Field::new(
                FieldKind::Expiry,
                expiry.as_deref().unwrap_or_default(),
                "e.g. 30m; empty: until undone",
            ));
        }
        if let Command::Weights { weights, .. } = &command {
            let text: Vec<String> = weights.iter().map(|(k, w)| format!("{k}={w}")).collect();
            fields.push(Field::new(
                FieldKind::Weights,
                &text.join(","),
                "region=weight,...",
            ));
        }
        if self.context.production {
            fields.push(Field::new(FieldKind::TypeTarget, "", command.target_id()));
        }
        self.overlays.close(Layer::Menu);
        let mut confirm = ConfirmState {
            source,
            command,
            fields,
            focus: 0,
            preflight,
            problem: None,
            details_scroll: 0,
            for_runbook: false,
        };
        confirm.offer_force();
        self.overlays.open(Overlay::Confirm(Box::new(confirm)));
    }

    pub(super) fn confirm_input(&mut self, key: KeyEvent) {
        let Some(confirm) = self.overlays.confirm_mut() else {
            return;
        };
        let field = &mut confirm.fields[confirm.focus];
        if field.input.input(key) && matches!(field.kind, FieldKind::Expiry | FieldKind::Weights) {
            self.rebuild_confirmed_command();
        }
        if let Some(confirm) = self.overlays.confirm_mut() {
            confirm.problem = None;
        }
    }

    pub(super) fn move_confirm_focus(&mut self, forward: bool) {
        if let Some(confirm) = self.overlays.confirm_mut() {
            let n = confirm.fields.len();
            confirm.focus = if forward {
                (confirm.focus + 1) % n
            } else {
                (confirm.focus + n - 1) % n
            };
        }
    }

    /// Page up/down in the confirmation: the preflight's details scroll; the view keeps the
    /// offset within what there is to show.
    pub(super) fn scroll_confirm(&mut self, down: bool) {
        if let Some(confirm) = self.overlays.confirm_mut() {
            confirm.details_scroll = if down {
                confirm.details_scroll.saturating_add(CONFIRM_SCROLL_ROWS)
            } else {
                confirm.details_scroll.saturating_sub(CONFIRM_SCROLL_ROWS)
            };
        }
    }

    /// Applies the expiry and weights fields to the command and renews the preflight.
    fn rebuild_confirmed_command(&mut self) {
        let Some(confirm) = self.overlays.confirm_mut() else {
            return;
        };
        let expiry = confirm
            .field(FieldKind::Expiry)
            .map(Field::text)
            .filter(|t| !t.is_empty());
        let expiry = match expiry.as_deref().map(command::parse_duration_s).transpose() {
            Ok(expiry) => expiry,
            Err(problem) => {
                confirm.problem = Some(problem);
                return;
            }
        };
        let mut command = confirm.command.clone().with_expiry(expiry);
        if let (Command::Weights { weights, .. }, Some(field)) =
            (&mut command, confirm.field(FieldKind::Weights))
        {
            match command::parse_weights(&field.text()) {
                Ok(parsed) => *weights = parsed,
                Err(problem) => {
                    confirm.problem = Some(problem);
                    return;
                }
            }
        }
        match prepare_priced(
            &self.sources,
            &self.cost,
            confirm.source,
            &command,
            self.now,
        ) {
            Ok((_, preflight)) => confirm.preflight = preflight,
            Err(refusal) => confirm.problem = Some(refusal),
        }
        confirm.command = command;
        confirm.offer_force();
    }

    /// Why the context's two-person rule will hold the command being confirmed, if it will
    /// (the source's own policy may hold others: the answer says so).
    pub fn confirm_waits_for_approval(&self, confirm: &ConfirmState) -> Option<String> {
        let policy = self.approval_policy.as_ref()?;
        let fleet = self.sources.get(confirm.source)?.snapshot.as_ref()?;
        let seen = confirm.preflight.seen(confirm.forced());
        policy.requires(&confirm.command, fleet, Some(&seen))
    }

    /// Renews an open confirmation's preflight when the fleet moves under it.
    pub(super) fn refresh_confirm(&mut self, source: usize) {
        if self.overlays.confirm().is_some_and(|c| c.source == source) {
            self.rebuild_confirmed_command();
        }
    }

    /// Enter in the confirmation: send if everything holds, else say what is missing.
    pub(super) fn submit_confirm(&mut self) -> Vec<Effect> {
        self.rebuild_confirmed_command();
        let Some(confirm) = self.overlays.confirm_mut() else {
            return Vec::new();
        };
        if confirm.problem.is_some() {
            return Vec::new();
        }
        let reason = confirm
            .field(FieldKind::Reason)
            .map(Field::text)
            .unwrap_or_default();
        let typed = confirm.field(FieldKind::TypeTarget).map(Field::text);
        let problem = if reason.is_empty() {
            Some("a reason is required: it goes to the audit log".to_string())
        } else if typed
            .as_ref()
            .is_some_and(|t| t != confirm.command.target_id())
        {
            Some(format!(
                "production context: type {} to confirm",
                confirm.command.target_id()
            ))
        } else if confirm.preflight.blocks() && !confirm.forced() {
            Some(if confirm.preflight.errors.is_empty() {
                format!(
                    "preflight says no (see above): nothing sent. Type {FORCE_WORD} in override to send anyway."
                )
            } else {
                "this command does not fit the fleet (see above): nothing sent.".to_string()
            })
        } else {
            None
        };
        if let Some(problem) = problem {
            confirm.problem = Some(problem);
            return Vec::new();
        }
        let source = confirm.source;
        let command = confirm.command.clone();
        let seen = confirm.preflight.seen(confirm.forced());
        let confirmed_on = (self.sources[source].snapshot.as_ref())
            .and_then(|snapshot| Some((snapshot, command.control_revision(snapshot)?)));
        let Some((snapshot, if_match)) = confirmed_on else {
            confirm.problem = Some(format!("{} is no longer in the fleet", command.target_id()));
            return Vec::new();
        };
        // Marked for a second approver on the fleet it was confirmed on, so that the source
        // holds it (or, for a cluster that cannot, the runner refuses it).
        let preflight = under_policy(self.approval_policy.as_ref(), &command, snapshot, seen);
        self.overlays.close(Layer::Confirm);
        self.next_command_id += 1;
        let id = self.next_command_id;
        let source_name = self.sources[source].name.clone();
        self.sent.push(SentCommand {
            id,
            source: source_name.clone(),
            command: command.clone(),
            reason: reason.clone(),
            // On the source's clock, like the audit entries it will sit among.
            at: self.source_clock(source),
            key: None,
            state: SentState::Sending,
        });
        self.flash(Level::Info, format!("sending {command}…"));
        vec![Effect::SendCommand(CommandRequest {
            id,
            source: source_name,
            command,
            reason,
            preflight: Some(preflight),
            if_match,
        })]
    }

    pub(super) fn command_journaled(&mut self, id: u64, key: String) {
        if let Some(sent) = self.sent.iter_mut().find(|s| s.id == id) {
            sent.key = Some(key);
        }
    }

    pub(super) fn command_finished(
        &mut self,
        id: u64,
        result: Result<CommandAccepted, CommandFailure>,
    ) -> Vec<Effect> {
        let Some(sent) = self.sent.iter_mut().find(|s| s.id == id) else {
            return Vec::new();
        };
        let label = sent.command.to_string();
        let source = sent.source.clone();
        let (level, text) = match &result {
            Ok(CommandAccepted {
                pending_approval: Some(request),
                ..
            }) => (Level::Warning, format!("⚖ {label}: {}", held_text(request))),
            Ok(accepted) => {
                let mut text = format!("✓ {label}: accepted (audit #{})", accepted.audit_id);
                match &accepted.operation {
                    // A control plane with no audit log of ours (Patroni): its own words.
                    Some(op) if accepted.audit_id == 0 => {
                        text = format!("✓ {label}: {} (this console's audit)", op.message);
                    }
                    Some(op) => {
                        text.push_str(&format!(", operation {} {}", op.id, op.state.word()))
                    }
                    None => {}
                }
                for warning in &accepted.warnings {
                    text.push_str(&format!(" ⚠ {}", protocol::sanitize::clean(warning)));
                }
                (
                    if accepted.warnings.is_empty() {
                        Level::Info
                    } else {
                        Level::Warning
                    },
                    text,
                )
            }
            Err(failure) => {
                let verdict = match failure.kind {
                    FailureKind::Rejected => "refused",
                    FailureKind::Conflict => "not applied, the target changed",
                    FailureKind::Unknown => "outcome unknown (kept in the journal)",
                };
                (
                    Level::Error,
                    format!(
                        "✖ {label}: {verdict}: {}",
                        protocol::sanitize::clean(&failure.message)
                    ),
                )
            }
        };
        sent.state = match result {
            Ok(CommandAccepted {
                pending_approval: Some(request),
                ..
            }) => SentState::Held(request),
            Ok(accepted) => SentState::Accepted(accepted),
            Err(failure) => SentState::Failed(failure),
        };
        let held = match &sent.state {
            SentState::Held(request) => Some((**request).clone()),
            _ => None,
        };
        self.flash(level, text);
        // The requester's own request is in the Approvals view from now on.
        match (held, self.source_index(&source)) {
            (Some(request), Some(index)) => self.on_approval(index, request),
            _ => Vec::new(),
        }
    }
}

/// `held for approval apr-000003: <why>; expires 14:16` (on the source's clock).
pub fn held_text(request: &ApprovalRequest) -> String {
    format!(
        "held for approval {}: {}; expires {}",
        protocol::sanitize::clean(&request.id),
        protocol::sanitize::clean(&request.why_approval),
        request.expires_at.format("%H:%M")
    )
}

/// [`performer::prepare`] with the command's cost and budget effect, priced by what the source
/// reports and the context's `[cost]`.
fn prepare_priced(
    sources: &[SourceData],
    cost: &CostConfig,
    source: usize,
    command: &Command,
    now: Instant,
) -> Result<(usize, Preflight), String> {
    let (source, mut preflight) = performer::prepare(sources, source, command)?;
    if let Some(snapshot) = sources[source].snapshot.as_ref() {
        let measured = SloReads::of_context(sources, now);
        add_cost_effect(&mut preflight, command, snapshot, cost, &measured);
    }
    Ok((source, preflight))
}
