//! The two-person rule as the sources say it: each source's requests (read at every connection,
//! then followed by `approval` events; for one id the latest wins, and a decided request never
//! goes back to pending), what is news in them (another operator's new request: a banner, the
//! bell, the status bar's count; a decision on your own request: a banner and the bell), and
//! the Approvals view's selection. Deciding (approve, deny, withdraw) is in `decide.rs`.

mod decide;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::Instant;

use super::exercise::BANNER_FOR;
use super::{App, Effect, Level, View};
use protocol::approvals::{ApprovalRequest, ApprovalState, DecisionKind};
use protocol::sanitize::clean;

pub use decide::{DecisionFailure, DecisionOrder, SentDecision};

/// A request with the source that holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct SourcedRequest {
    pub source: String,
    pub request: ApprovalRequest,
}

/// Every source's requests as last said, and what this console did with them.
#[derive(Default)]
pub struct Approvals {
    /// Pending ones first (oldest first), then the decided ones (newest first).
    requests: Vec<SourcedRequest>,
    /// Row of the Approvals view.
    pub selected: usize,
    /// The newest news, over the views until its time.
    banner: Option<(Level, String, Instant)>,
    /// Why a source's requests could not be read, while they cannot.
    pub read_errors: HashMap<String, String>,
    /// Decisions sent and not answered yet.
    pub sent: Vec<SentDecision>,
    /// What became of the last decision answered.
    pub last_outcome: Option<(Level, String)>,
    /// The key of each decision whose answer never came, by (source, request, decision): a
    /// second try goes under the same key, so the source decides once.
    unanswered: HashMap<(String, String, DecisionKind), String>,
    next_decision: u64,
}

impl Approvals {
    /// Pending requests first (oldest first), then the decided ones (newest first).
    pub fn rows(&self) -> &[SourcedRequest] {
        &self.requests
    }

    pub fn selected(&self) -> Option<&SourcedRequest> {
        self.requests.get(self.selected)
    }

    pub fn find(&self, source: &str, id: &str) -> Option<&SourcedRequest> {
        (self.requests.iter()).find(|r| r.source == source && r.request.id == id)
    }

    /// Requests waiting for a decision, from every source.
    pub fn waiting(&self) -> usize {
        (self.requests.iter())
            .filter(|r| r.request.state == ApprovalState::Pending)
            .count()
    }

    /// Keeps `request` of `source` unless what is held is newer: a decided request never goes
    /// back to pending (an event replayed after a resume). Returns the state it replaced
    /// (`None`: new here), or `Err(())` when it was older than what is held.
    fn upsert(
        &mut self,
        source: &str,
        request: ApprovalRequest,
    ) -> Result<Option<ApprovalState>, ()> {
        let held =
            (self.requests.iter_mut()).find(|r| r.source == source && r.request.id == request.id);
        let was = match held {
            Some(held)
                if held.request.state != ApprovalState::Pending
                    && request.state == ApprovalState::Pending =>
            {
                return Err(());
            }
            Some(held) => {
                let was = held.request.state;
                held.request = request;
                Some(was)
            }
            None => {
                self.requests.push(SourcedRequest {
                    source: source.to_string(),
                    request,
                });
                None
            }
        };
        self.sort();
        Ok(was)
    }

    fn sort(&mut self) {
        let selected = self
            .selected()
            .map(|r| (r.source.clone(), r.request.id.clone()));
        self.requests.sort_by(|a, b| {
            let (a, b) = (&a.request, &b.request);
            let pending = |r: &ApprovalRequest| r.state != ApprovalState::Pending;
            let decided_at = |r: &ApprovalRequest| r.decision.as_ref().map(|d| d.at);
            pending(a).cmp(&pending(b)).then_with(|| {
                if a.state == ApprovalState::Pending {
                    a.requested_at.cmp(&b.requested_at)
                } else {
                    (decided_at(b).unwrap_or(b.expires_at))
                        .cmp(&decided_at(a).unwrap_or(a.expires_at))
                }
            })
        });
        // The selection stays on the request it was on.
        if let Some((source, id)) = selected
            && let Some(at) =
                (self.requests.iter()).position(|r| r.source == source && r.request.id == id)
        {
            self.selected = at;
        }
    }

    /// The banner of the newest news, while it is news.
    pub fn banner(&self, now: Instant) -> Option<(Level, &str)> {
        let (level, text, until) = self.banner.as_ref()?;
        (*until > now).then_some((*level, text.as_str()))
    }
}

/// `drain us-east` and, when the requester forced it past a blocking preflight, `(forced)`.
pub fn command_words(request: &ApprovalRequest) -> String {
    let forced = request.preflight.as_ref().is_some_and(|p| p.forced);
    format!(
        "{} {}{}",
        clean(&request.action),
        clean(&request.target),
        if forced { " (forced)" } else { "" }
    )
}

impl App {
    /// A source's requests as its worker read them at connecting, or why they could not be.
    pub(super) fn on_approvals(
        &mut self,
        index: usize,
        read: Result<Vec<ApprovalRequest>, String>,
    ) -> Vec<Effect> {
        let source = self.sources[index].name.clone();
        match read {
            Ok(requests) => {
                if self.approvals.read_errors.remove(&source).is_some() {
                    self.log(Some(&source), Level::Info, "approvals read again".into());
                }
                requests
                    .into_iter()
                    .flat_map(|request| self.on_approval(index, request))
                    .collect()
            }
            Err(error) => {
                let error = clean(&error).into_owned();
                if self.approvals.read_errors.get(&source) != Some(&error) {
                    let text = format!("approval requests not read: {error}");
                    self.log(Some(&source), Level::Error, text);
                    self.approvals.read_errors.insert(source, error);
                }
                Vec::new()
            }
        }
    }

    /// A request as a source said it (its list or an `approval` event): kept, and told when
    /// it is news to this operator.
    pub(super) fn on_approval(&mut self, index: usize, request: ApprovalRequest) -> Vec<Effect> {
        let source = self.sources[index].name.clone();
        let me = self.sources[index]
            .identity
            .as_ref()
            .map(|w| w.name.clone());
        let mine = me.as_deref() == Some(request.requested_by.as_str());
        let state = request.state;
        let Ok(was) = self.approvals.upsert(&source, request.clone()) else {
            return Vec::new();
        };
        if was == Some(state) {
            return Vec::new();
        }
        let news = match (state, was, mine) {
            // Another operator asks: someone here must look.
            (ApprovalState::Pending, _, false) => Some((Level::Warning, asks(&request))),
            // Our own request, as our own command's answer already said.
            (ApprovalState::Pending, _, true) => None,
            // A request we knew as pending was decided: its requester must hear how.
            (_, Some(ApprovalState::Pending), true) => Some(decided_for_requester(&request)),
            // Decided before we ever saw it, or not ours: history, not news.
            _ => None,
        };
        let decided = state != ApprovalState::Pending && was.is_some();
        if decided && !mine {
            let text = format!("⚖ {} {}", request.id, decision_words(&request));
            self.log(Some(&source), Level::Info, clean(&text).into_owned());
        }
        let Some((level, text)) = news else {
            return Vec::new();
        };
        self.log(Some(&source), level, text.clone());
        let view = View::Approvals;
        let shown = format!("{text} — {} {}", view.key(), view.title());
        self.approvals.banner = Some((level, shown, self.now + BANNER_FOR));
        // The bell as for a new escalation: only with notifications on ([notify]).
        if self.notify_at.is_none() {
            return Vec::new();
        }
        let title = if state == ApprovalState::Pending {
            "Switchboard: approval requested"
        } else {
            "Switchboard: your request was decided"
        };
        vec![Effect::Notify {
            title: title.to_string(),
            body: text,
        }]
    }

    /// The Approvals view, its tab shown: while any source has requests.
    pub(super) fn has_approvals(&self) -> bool {
        !self.approvals.requests.is_empty()
    }

    pub(super) fn move_approval_selection(&mut self, delta: isize) {
        let last = self.approvals.requests.len().saturating_sub(1);
        let approvals = &mut self.approvals;
        approvals.selected = approvals.selected.saturating_add_signed(delta).min(last);
    }

    /// The banner of the two-person rule's newest news (not over its own view).
    pub fn approval_banner(&self) -> Option<(Level, &str)> {
        if self.view == View::Approvals {
            return None;
        }
        self.approvals.banner(self.now)
    }
}

/// `⚖ alice asks to drain us-east (forced): <reason>`
fn asks(request: &ApprovalRequest) -> String {
    format!(
        "⚖ {} asks to {}: {}",
        clean(&request.requested_by),
        command_words(request),
        clean(&request.reason)
    )
}

/// How a decided request ended, in words: `approved by bob: <reason>`.
pub fn decision_words(request: &ApprovalRequest) -> String {
    let by = request.decision.as_ref().map(|d| clean(&d.by).into_owned());
    let why = request
        .decision
        .as_ref()
        .map(|d| clean(&d.reason).into_owned());
    let by = by.unwrap_or_else(|| "the source".into());
    let why = why.unwrap_or_default();
    match request.state {
        ApprovalState::Pending => "pending".to_string(),
        ApprovalState::Approved => format!("approved by {by}: {why}"),
        ApprovalState::Denied => format!("denied by {by}: {why}"),
        ApprovalState::Withdrawn => format!("withdrawn by {by}: {why}"),
        ApprovalState::Expired => "expired: nobody decided in time".to_string(),
        ApprovalState::Failed => {
            let error = (request.decision.as_ref())
                .and_then(|d| d.error.as_deref())
                .map(|e| clean(e).into_owned())
                .unwrap_or_else(|| "target changed (409)".into());
            format!("approved by {by}, but it failed: {error}")
        }
    }
}

/// What the requester hears of their request's decision.
fn decided_for_requester(request: &ApprovalRequest) -> (Level, String) {
    let what = command_words(request);
    let by = request.decision.as_ref().map(|d| clean(&d.by).into_owned());
    let by = by.unwrap_or_else(|| "the source".into());
    let why = (request.decision.as_ref())
        .map(|d| clean(&d.reason).into_owned())
        .unwrap_or_default();
    match request.state {
        ApprovalState::Approved => (Level::Info, format!("✓ {by} approved your {what}: {why}")),
        ApprovalState::Denied => (Level::Error, format!("✖ {by} denied your {what}: {why}")),
        ApprovalState::Withdrawn => (Level::Info, format!("⚖ your {what} was withdrawn: {why}")),
        ApprovalState::Expired => (
            Level::Error,
            format!("✖ your {what} expired: nobody approved it in time"),
        ),
        ApprovalState::Failed | ApprovalState::Pending => (
            Level::Error,
            format!("✖ your {what} {}", decision_words(request)),
        ),
    }
}
