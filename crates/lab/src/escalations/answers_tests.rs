//! What the queue answers for one seed, held against a recording: the lists, details and
//! events of a backlog taken through claims, a hand-off, every resolution, retries that fail
//! and escalate again, and escalations from a failing fleet. The recording was written by the
//! queue that kept every task as a whole wire summary; a queue that keeps tasks compact must
//! answer the same, byte for byte. `SWITCHBOARD_RECORD_ANSWERS=1` writes it again.

use std::fmt::Write as _;

use super::tests::{breaker_open, epoch, healthy_fleet, queue, region_down, request};
use super::*;
use chrono::TimeDelta;
use protocol::escalations::{EscalationReason, EscalationState, Resolution, ResolveRequest};

const RECORDING: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/escalation_answers.jsonl"
);

fn line(out: &mut String, what: &str, value: &impl serde::Serialize) {
    let _ = writeln!(out, "{what} {}", serde_json::to_string(value).unwrap());
}

/// Every task in SLA order, page by page, and the last total.
fn pages(out: &mut String, queue: &EscalationQueue, query: ListQuery) {
    let mut query = ListQuery { limit: 37, ..query };
    loop {
        let listed = queue.list(&query);
        line(out, "page", &listed.items);
        let revision = listed.total + 5;
        let page = protocol::escalations::EscalationPage {
            items: listed.items,
            next_cursor: listed.next.map(Cursor::encode),
            total: listed.total,
            revision,
        };
        // The list route writes pages straight from the tasks: the same bytes.
        let (written, next) = queue.write_page(&query, revision);
        assert_eq!(
            String::from_utf8(written).unwrap(),
            serde_json::to_string(&page).unwrap()
        );
        assert_eq!(next, listed.next);
        let _ = writeln!(out, "total {}", listed.total);
        match listed.next {
            Some(next) => query.after = Some(next),
            None => return,
        }
    }
}

fn events(out: &mut String, queue: &mut EscalationQueue) {
    for event in queue.take_events() {
        line(out, event.name, &event.summary);
    }
    for notice in queue.take_notices() {
        line(out, "notice", &notice);
    }
}

fn outcome<T: std::fmt::Debug>(out: &mut String, what: &str, result: Result<T, QueueError>) {
    let _ = writeln!(out, "{what} {result:?}");
}

/// `who` resolves task `id` with `request` under `key`, at the epoch.
fn resolve(
    out: &mut String,
    queue: &mut EscalationQueue,
    id: &str,
    who: &str,
    key: &str,
    request: &ResolveRequest,
) {
    outcome(
        out,
        "resolve",
        queue.resolve(id, who, key, request, epoch()),
    );
}

fn first_of(queue: &EscalationQueue, reason: EscalationReason, skip: usize) -> String {
    let listed = queue.list(&ListQuery {
        states: vec![EscalationState::Pending],
        reasons: vec![reason],
        limit: skip + 1,
        ..ListQuery::default()
    });
    listed.items[skip].id.clone()
}

fn answers() -> String {
    let mut out = String::new();
    let mut queue = queue(150);
    let now = epoch();
    pages(&mut out, &queue, ListQuery::default());

    let low = first_of(&queue, EscalationReason::LowConfidence, 0);
    let candidate = queue.detail(&low).unwrap().candidates[0].id.clone();
    outcome(&mut out, "claim", queue.claim(&low, "bob", 300, now));
    let approve = request(Resolution::Approve { candidate });
    resolve(&mut out, &mut queue, &low, "alice", "k1", &approve);
    resolve(&mut out, &mut queue, &low, "bob", "k2", &approve);
    let held = first_of(&queue, EscalationReason::Policy, 0);
    outcome(&mut out, "claim", queue.claim(&held, "carol", 600, now));
    let handed = first_of(&queue, EscalationReason::ValidatorFailed, 0);
    let handoff = request(Resolution::Handoff { to: "alice".into() });
    resolve(&mut out, &mut queue, &handed, "bob", "k3", &handoff);
    let released = first_of(&queue, EscalationReason::ValidatorFailed, 1);
    outcome(&mut out, "claim", queue.claim(&released, "bob", 60, now));
    outcome(
        &mut out,
        "release",
        queue.release(&released, "bob", Some("not mine".into()), now),
    );
    let submitted = first_of(&queue, EscalationReason::ValidatorFailed, 2);
    let submit = request(Resolution::Submit {
        output: "{\"decision\":\"approve\"}".into(),
        based_on: None,
    });
    resolve(&mut out, &mut queue, &submitted, "alice", "k4", &submit);
    let rejected = first_of(&queue, EscalationReason::Policy, 1);
    let reject = request(Resolution::Reject {
        reason: "duplicate".into(),
    });
    resolve(&mut out, &mut queue, &rejected, "alice", "k5", &reject);
    let aborted = first_of(&queue, EscalationReason::LowConfidence, 1);
    resolve(
        &mut out,
        &mut queue,
        &aborted,
        "alice",
        "k6",
        &request(Resolution::Abort),
    );
    let mut retried = Vec::new();
    for (i, (provider, region)) in [("anthropic", "us-west"), ("openai", "us-east")]
        .into_iter()
        .enumerate()
    {
        let id = first_of(&queue, EscalationReason::PathsExhausted, i);
        let retry = request(Resolution::Retry {
            model: None,
            provider: Some(provider.into()),
            region: Some(region.into()),
        });
        resolve(
            &mut out,
            &mut queue,
            &id,
            "bob",
            &format!("k-retry-{i}"),
            &retry,
        );
        retried.push(id);
    }
    events(&mut out, &mut queue);

    let failing = breaker_open(region_down(healthy_fleet(), "us-east"), "anthropic@us-west");
    for step in 1..=40 {
        queue.advance(&failing, now + TimeDelta::seconds(15 * step));
        events(&mut out, &mut queue);
    }
    // Leases run out too.
    queue.advance(&failing, now + TimeDelta::hours(1));
    events(&mut out, &mut queue);

    pages(&mut out, &queue, ListQuery::default());
    pages(
        &mut out,
        &queue,
        ListQuery {
            states: vec![EscalationState::Pending, EscalationState::Claimed],
            ..ListQuery::default()
        },
    );
    pages(
        &mut out,
        &queue,
        ListQuery {
            assignee: Some(AssigneeFilter::Named("alice".into())),
            ..ListQuery::default()
        },
    );
    pages(
        &mut out,
        &queue,
        ListQuery {
            service: Some(queue.catalogue.services[1].id.clone()),
            priorities: vec![protocol::escalations::Priority::P1],
            ..ListQuery::default()
        },
    );
    let every_task = (1..=queue.records.len()).map(|n| format!("esc-{n:06}"));
    for id in every_task.filter(|id| id.ends_with('7')).chain(retried) {
        line(&mut out, "detail", &queue.detail(&id));
    }
    out
}

#[test]
fn the_queue_answers_as_recorded_for_its_seed() {
    let answers = answers();
    if std::env::var_os("SWITCHBOARD_RECORD_ANSWERS").is_some() {
        std::fs::write(RECORDING, &answers).unwrap();
    }
    let recorded = std::fs::read_to_string(RECORDING).unwrap();
    let differ = answers
        .lines()
        .zip(recorded.lines())
        .position(|(a, r)| a != r);
    if let Some(at) = differ {
        panic!(
            "line {} differs from the recording:\nnow:      {}\nrecorded: {}",
            at + 1,
            answers.lines().nth(at).unwrap(),
            recorded.lines().nth(at).unwrap()
        );
    }
    assert_eq!(answers.lines().count(), recorded.lines().count());
}
