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

/// However many threads share a page's tasks, the page is the one `list` gives, byte for
/// byte: parts joined in order, no comma too many or too few, the tail as serde writes it.
#[test]
fn a_page_written_by_several_threads_is_the_page_list_gives() {
    let queue = queue(1_300);
    for limit in [1, 260, 600, 1_000, 2_000] {
        let query = ListQuery {
            limit,
            ..ListQuery::default()
        };
        let listed = queue.list(&query);
        let expected = serde_json::to_string(&protocol::escalations::EscalationPage {
            items: listed.items,
            next_cursor: listed.next.map(Cursor::encode),
            total: listed.total,
            revision: 9,
        })
        .unwrap();
        for writers in [1, 2, 3, 7] {
            let (written, next) = queue.write_page_on(&query, 9, writers);
            assert_eq!(
                String::from_utf8(written).unwrap(),
                expected,
                "{limit} by {writers}"
            );
            assert_eq!(next, listed.next);
        }
    }
    let nothing = ListQuery {
        states: vec![EscalationState::Resolved],
        limit: 1_000,
        ..ListQuery::default()
    };
    let (written, next) = queue.write_page_on(&nothing, 3, 2);
    assert_eq!(
        (String::from_utf8(written).unwrap(), next),
        (r#"{"items":[],"total":0,"revision":3}"#.to_string(), None)
    );
}
