use super::*;
use crate::escalations::tests::{epoch, event_names, queue};

#[test]
fn a_claim_is_exclusive_renewable_and_runs_out() {
    let mut queue = queue(3);
    let now = epoch();
    let claimed = queue.claim("esc-000001", "bob", 300, now).unwrap();
    assert_eq!(claimed.state, EscalationState::Claimed);
    let lease = claimed.lease.clone().unwrap();
    assert_eq!(
        (lease.holder.as_str(), lease.expires_at),
        ("bob", now + TimeDelta::seconds(300))
    );
    assert_eq!(
        queue.claim("esc-000001", "alice", 300, now),
        Err(QueueError::Held {
            holder: "bob".into(),
            expires_at: lease.expires_at
        })
    );
    assert_eq!(
        queue.release("esc-000001", "alice", None, now),
        Err(QueueError::Held {
            holder: "bob".into(),
            expires_at: lease.expires_at
        })
    );
    // The holder renews: same claim, later expiry, a higher revision.
    let later = now + TimeDelta::seconds(200);
    let renewed = queue.claim("esc-000001", "bob", 300, later).unwrap();
    let renewed_lease = renewed.lease.clone().unwrap();
    assert_eq!(renewed_lease.claimed_at, now);
    assert_eq!(renewed_lease.expires_at, later + TimeDelta::seconds(300));
    assert!(renewed.revision > claimed.revision);
    assert_eq!(event_names(&mut queue), [EVENT_CLAIMED, EVENT_CLAIMED]);

    // Just before expiry it holds; at expiry it goes back to pending, by itself.
    queue.expire_leases(renewed_lease.expires_at - TimeDelta::milliseconds(1));
    assert!(queue.take_events().is_empty());
    queue.expire_leases(renewed_lease.expires_at);
    let events = queue.take_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].name, EVENT_RELEASED);
    assert_eq!(events[0].summary.state, EscalationState::Pending);
    assert_eq!(events[0].summary.lease, None);
    let detail = queue.detail("esc-000001").unwrap();
    let actions: Vec<HistoryAction> = detail.history.iter().map(|h| h.action).collect();
    assert_eq!(
        actions,
        [
            HistoryAction::Claimed,
            HistoryAction::Renewed,
            HistoryAction::LeaseExpired
        ]
    );
    // Now anyone may claim it; and only a holder can release.
    let after = renewed_lease.expires_at;
    assert_eq!(
        queue.release("esc-000001", "bob", None, after),
        Err(QueueError::NotClaimed)
    );
    queue.claim("esc-000001", "alice", 60, after).unwrap();
    let released = queue
        .release(
            "esc-000001",
            "alice",
            Some("  need the payments team  ".into()),
            after,
        )
        .unwrap();
    assert_eq!(released.state, EscalationState::Pending);
    let history = queue.detail("esc-000001").unwrap().history;
    assert_eq!(
        history.last().unwrap().note.as_deref(),
        Some("need the payments team")
    );
    assert!(matches!(
        queue.claim("esc-999999", "bob", 60, after),
        Err(QueueError::NotFound(_))
    ));
    assert!(matches!(
        queue.claim("esc-1", "bob", 60, after),
        Err(QueueError::NotFound(_))
    ));
}
