//! The decisions on a request of the two-person rule: the Approvals view's keys and the
//! palette's `approve ID`, `deny ID`, `withdraw ID`.

use super::{Action, Layer, keys_for};
use protocol::approvals::DecisionKind;

pub(super) fn describe(kind: DecisionKind) -> &'static str {
    match kind {
        DecisionKind::Approve => {
            "Approve the request (another operator's): its command runs now; approve ID"
        }
        DecisionKind::Deny => "Deny the request (another operator's): nothing runs; deny ID",
        DecisionKind::Withdraw => "Withdraw your own request: nothing runs; withdraw ID",
    }
}

/// The palette's entries: each decision by name, with its key in the Approvals view.
pub fn palette_actions() -> Vec<(Action, String)> {
    DecisionKind::ALL
        .iter()
        .map(|&kind| {
            let action = Action::Decide(kind);
            (action, keys_for(Layer::Approvals, action))
        })
        .collect()
}
