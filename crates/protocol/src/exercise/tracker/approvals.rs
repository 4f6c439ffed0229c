//! Commands the two-person rule held during a drill: how long each waited, and its decision
//! in the timeline (the held command itself is there from its audit entry).

use super::{SYSTEM_ACTOR, Tracker, clean};
use crate::commands::{ApprovalRequest, ApprovalState};
use crate::exercise::report::{ApprovalWait, TimelineEntry, TimelineKind};
use crate::exercise::span_label;

impl Tracker {
    /// A request as it is after a change: asked (pending) or decided, once.
    pub(super) fn approval(&mut self, t: f64, request: &ApprovalRequest) {
        let index = match self.approvals.iter().position(|w| w.id == request.id) {
            Some(index) => index,
            None => {
                self.approvals.push(ApprovalWait {
                    id: clean(&request.id),
                    command: format!("{} {}", clean(&request.action), clean(&request.target)),
                    requested_by: clean(&request.requested_by),
                    requested_at_s: t,
                    why_approval: clean(&request.why_approval),
                    state: ApprovalState::Pending,
                    decided_by: None,
                    decided_at_s: None,
                    waited_s: None,
                });
                self.approvals.len() - 1
            }
        };
        let wait = &mut self.approvals[index];
        if request.state == ApprovalState::Pending || wait.state != ApprovalState::Pending {
            return;
        }
        let decision = request.decision.as_ref();
        let by = decision.map_or(SYSTEM_ACTOR.to_string(), |d| clean(&d.by));
        let waited = t - wait.requested_at_s;
        wait.state = request.state;
        wait.decided_by = Some(by.clone());
        wait.decided_at_s = Some(t);
        wait.waited_s = Some(waited);
        let held = format!(
            "{}'s {} ({}), held {}",
            wait.requested_by,
            wait.command,
            wait.id,
            span_label(waited)
        );
        let what = match request.state {
            ApprovalState::Approved => format!("approved {held}"),
            ApprovalState::Denied => format!("denied {held}"),
            ApprovalState::Withdrawn => format!("withdrew {held}"),
            ApprovalState::Expired => format!("{held}: expired undecided"),
            ApprovalState::Failed => format!("approved {held}, but it could not run"),
            ApprovalState::Pending => unreachable!("returned above"),
        };
        let why = match decision {
            Some(d) => match &d.error {
                Some(error) => format!("{} — {}", clean(&d.reason), clean(error)),
                None => clean(&d.reason),
            },
            None => String::new(),
        };
        self.timeline.push(TimelineEntry {
            at_s: t,
            kind: TimelineKind::Approval,
            who: by,
            what,
            why,
        });
    }
}
