use super::*;
use crate::escalations::tests::queue;

#[test]
fn the_list_is_in_sla_order_filtered_and_paged_without_gaps() {
    let queue = queue(250);
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = queue.list(&ListQuery {
            after,
            limit: 100,
            ..ListQuery::default()
        });
        assert_eq!(page.total, 250);
        seen.extend(page.items);
        match page.next {
            Some(next) => after = Some(Cursor::decode(&next.encode()).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    assert!(
        seen.windows(2)
            .all(|w| w[0].sla_deadline <= w[1].sla_deadline)
    );
    let mut ids: Vec<&str> = seen.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 250);

    let query = ListQuery {
        priorities: vec![Priority::P1, Priority::P2],
        service: Some("credit-decision".into()),
        states: vec![EscalationState::Pending],
        limit: 1000,
        ..ListQuery::default()
    };
    let filtered = queue.list(&query);
    let expected = seen
        .iter()
        .filter(|s| s.service == "credit-decision" && s.priority <= Priority::P2)
        .count();
    assert!(expected > 0);
    assert_eq!(
        (filtered.items.len(), filtered.total),
        (expected, expected as u64)
    );
    assert_eq!(filtered.next, None);
    let claimed = queue.list(&ListQuery {
        states: vec![EscalationState::Claimed],
        limit: 10,
        ..ListQuery::default()
    });
    assert_eq!(claimed.total, 0);
    assert_eq!(Cursor::decode("nonsense"), None);
}

/// The total of a list is counted once for its pages, and again after any change.
#[test]
fn a_lists_total_follows_claims_releases_and_new_tasks() {
    let mut queue = queue(40);
    let pending = |queue: &EscalationQueue| {
        queue
            .list(&ListQuery {
                states: vec![EscalationState::Pending],
                limit: 5,
                ..ListQuery::default()
            })
            .total
    };
    assert_eq!(pending(&queue), 40);
    let first = queue.list(&ListQuery {
        limit: 1,
        ..ListQuery::default()
    });
    let id = first.items[0].id.clone();
    let now = first.items[0].created_at;
    queue.claim(&id, "bob", 300, now).unwrap();
    assert_eq!(pending(&queue), 39);
    queue.release(&id, "bob", None, now).unwrap();
    assert_eq!(pending(&queue), 40);
}
