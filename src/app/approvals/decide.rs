//! Deciding a request of the two-person rule from the Approvals view's keys or the palette
//! (`approve ID`, `deny ID`, `withdraw ID`): what this operator may not do is refused here,
//! before anything is sent, saying why (a viewer, one's own request to approve, another's to
//! withdraw, a request already decided); otherwise a reason is asked, and the runner sends
//! the decision under its own idempotency key. The source is idempotent by that key, so a
//! decision needs no journal: one whose answer was lost is sent again under the same key
//! when the operator decides again, and the source answers as it did the first time.

use super::super::palette::PaletteEntry;
use super::super::runbooks::RunInputKind;
use super::super::{App, Effect, FailureKind, Level, PaletteState};
use super::{SourcedRequest, command_words, decision_words};
use crate::keymap::Action;
use protocol::Role;
use protocol::approvals::{ApprovalRequest, ApprovalState, DecisionKind};
use protocol::sanitize::clean;

/// A decision for the runner to send.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionOrder {
    /// This console's id of the decision: its answer comes back under it.
    pub id: u64,
    pub source: String,
    /// The request decided, e.g. `apr-000003`.
    pub approval: String,
    pub kind: DecisionKind,
    pub reason: String,
    /// The key of the same decision sent before without an answer; `None`: a fresh one.
    pub key: Option<String>,
}

/// A decision sent and not answered yet.
#[derive(Clone, Debug, PartialEq)]
pub struct SentDecision {
    pub order: DecisionOrder,
}

/// Why a decision was not taken.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionFailure {
    pub kind: FailureKind,
    /// The HTTP status of the refusal; `None` when no answer came.
    pub status: Option<u16>,
    pub message: String,
    /// The request as it is now, when the refusal carried it (`409`).
    pub current: Option<Box<ApprovalRequest>>,
}

impl App {
    /// A decision from the Approvals view's key (on the selected request) or the palette
    /// (`args`: the request's id, then optionally the reason).
    pub(in crate::app) fn decide(&mut self, kind: DecisionKind, args: &str) -> Vec<Effect> {
        let mut words = args.trim().splitn(2, char::is_whitespace);
        let named = words.next().filter(|id| !id.is_empty());
        let reason = words.next().map(str::trim).unwrap_or_default();
        let found = match named {
            Some(id) => (self.approvals.rows().iter())
                .find(|r| r.request.id == id)
                .cloned()
                .ok_or_else(|| format!("no approval request {:?} here", clean(id))),
            None => (self.approvals.selected().cloned())
                .ok_or_else(|| "no approval request to decide".to_string()),
        };
        let request = match found {
            Ok(request) => request,
            Err(why) => {
                self.flash(Level::Warning, why);
                return Vec::new();
            }
        };
        if let Some(why) = self.decision_refusal(kind, &request) {
            self.flash(Level::Warning, why);
            return Vec::new();
        }
        if reason.is_empty() {
            self.ask_for(RunInputKind::Decide {
                kind,
                source: request.source,
                approval: request.request.id,
            });
            return Vec::new();
        }
        self.send_decision(kind, &request, clean(reason).into_owned())
    }

    /// Why this operator may not take `kind` on `request`, if they may not: said before
    /// anything is sent.
    fn decision_refusal(&self, kind: DecisionKind, held: &SourcedRequest) -> Option<String> {
        let request = &held.request;
        let verb = kind.word();
        if self.replay.is_some() {
            return Some(crate::app::replay::READ_ONLY.into());
        }
        if self.context.read_only {
            return Some("read-only: this console does not decide requests".into());
        }
        let source = self.source_index(&held.source)?;
        let who = match &self.sources[source].identity {
            None => {
                return Some("identity unknown: waiting for the source to say who you are".into());
            }
            Some(who) => who,
        };
        if who.role < Role::Operator {
            return Some(format!(
                "role {} may not {verb} requests (403): another operator or an admin decides",
                who.role.word()
            ));
        }
        if request.state != ApprovalState::Pending {
            return Some(format!(
                "{} is no longer pending: {}",
                clean(&request.id),
                decision_words(request)
            ));
        }
        let mine = who.name == request.requested_by;
        match (kind, mine) {
            (DecisionKind::Approve | DecisionKind::Deny, true) => Some(format!(
                "{} is your own request: another operator must {verb} it (you may withdraw it)",
                clean(&request.id)
            )),
            (DecisionKind::Withdraw, false) => Some(format!(
                "only {} may withdraw {}: approve or deny it",
                clean(&request.requested_by),
                clean(&request.id)
            )),
            _ => None,
        }
    }

    /// The reason typed for a decision: sends it.
    pub(in crate::app) fn reason_given(
        &mut self,
        kind: DecisionKind,
        source: &str,
        approval: &str,
        reason: String,
    ) -> Vec<Effect> {
        let Some(held) = self.approvals.find(source, approval).cloned() else {
            self.flash(
                Level::Warning,
                format!("no approval request {approval} here"),
            );
            return Vec::new();
        };
        // It may have been decided while the reason was typed.
        if let Some(why) = self.decision_refusal(kind, &held) {
            self.flash(Level::Warning, why);
            return Vec::new();
        }
        self.send_decision(kind, &held, reason)
    }

    fn send_decision(
        &mut self,
        kind: DecisionKind,
        held: &SourcedRequest,
        reason: String,
    ) -> Vec<Effect> {
        let approvals = &mut self.approvals;
        approvals.next_decision += 1;
        let slot = (held.source.clone(), held.request.id.clone(), kind);
        let order = DecisionOrder {
            id: approvals.next_decision,
            source: held.source.clone(),
            approval: held.request.id.clone(),
            kind,
            reason,
            key: approvals.unanswered.get(&slot).cloned(),
        };
        approvals.sent.push(SentDecision {
            order: order.clone(),
        });
        let text = format!("sending {} {}…", kind.word(), clean(&held.request.id));
        self.flash(Level::Info, text);
        vec![Effect::Decide(order)]
    }

    /// The source's answer to decision `id`, sent under `key`: the request as it is now, or
    /// why it was not decided.
    pub(in crate::app) fn decided(
        &mut self,
        id: u64,
        key: String,
        result: Result<ApprovalRequest, DecisionFailure>,
    ) -> Vec<Effect> {
        let approvals = &mut self.approvals;
        let Some(at) = approvals.sent.iter().position(|s| s.order.id == id) else {
            return Vec::new();
        };
        let order = approvals.sent.remove(at).order;
        let slot = (order.source.clone(), order.approval.clone(), order.kind);
        let verb = order.kind.word();
        let approval = clean(&order.approval).into_owned();
        let mut effects = Vec::new();
        let (level, text) = match result {
            Ok(request) => {
                approvals.unanswered.remove(&slot);
                let text = format!(
                    "✓ {verb} {approval} ({}): {}",
                    command_words(&request),
                    decision_words(&request)
                );
                effects.extend(self.on_sourced_approval(&order.source, request));
                (Level::Info, text)
            }
            Err(failure) => {
                if failure.kind == FailureKind::Unknown {
                    approvals.unanswered.insert(slot, key);
                } else {
                    approvals.unanswered.remove(&slot);
                }
                let text = failure_text(verb, &approval, &failure);
                if let Some(current) = failure.current {
                    effects.extend(self.on_sourced_approval(&order.source, *current));
                }
                (Level::Error, text)
            }
        };
        self.approvals.last_outcome = Some((level, text.clone()));
        self.flash(level, text);
        effects
    }

    fn on_sourced_approval(&mut self, source: &str, request: ApprovalRequest) -> Vec<Effect> {
        match self.source_index(source) {
            Some(index) => self.on_approval(index, request),
            None => Vec::new(),
        }
    }

    /// Lists the decisions in the palette while a source has requests.
    pub(in crate::app) fn add_decision_entries(&self, palette: &mut PaletteState) {
        if !self.has_approvals() {
            return;
        }
        for (action, keys) in crate::keymap::decision_palette_actions() {
            let refused = self.mutation_refusal();
            palette.entries.push(PaletteEntry {
                action,
                keys,
                refused,
            });
        }
    }

    /// Keys of the Approvals view.
    pub(in crate::app) fn perform_in_approvals(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Decide(kind) => self.decide(kind, ""),
            _ => Vec::new(),
        }
    }
}

/// A refused or unanswered decision, specifically: who already decided (409), why it may not
/// be ours (403), that the target changed (409, failed), or that no answer came.
fn failure_text(verb: &str, approval: &str, failure: &DecisionFailure) -> String {
    let message = clean(&failure.message);
    match (failure.kind, failure.status, failure.current.as_deref()) {
        (FailureKind::Conflict, _, Some(current)) if current.state == ApprovalState::Failed => {
            format!(
                "✖ {verb} {approval}: {} — target changed (409)",
                decision_words(current)
            )
        }
        (FailureKind::Conflict, _, Some(current)) => {
            format!(
                "✖ {verb} {approval}: already {} (409)",
                decision_words(current)
            )
        }
        (_, Some(403), _) => format!("✖ {verb} {approval} refused (403): {message}"),
        (FailureKind::Unknown, _, _) => format!(
            "? {verb} {approval}: no answer ({message}); {verb} again to ask under the same key"
        ),
        (_, Some(status), _) => format!("✖ {verb} {approval} refused ({status}): {message}"),
        (_, None, _) => format!("✖ {verb} {approval} not sent: {message}"),
    }
}
