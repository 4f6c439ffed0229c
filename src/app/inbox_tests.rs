//! The inbox as `update` sees it: SLA order, reloads, the filter, notifications.

use crossterm::event::KeyCode;

use crate::app::*;
use crate::sources::{EscalationEventKind, SourceEvent};
use crate::testing::{
    escalation_event as event, escalation_summaries, escalations_loaded, from_source as source,
    inbox_ids, key, lease, operator_inbox as inbox_app, settle_filter, small_fleet, type_text,
};
use protocol::escalations::{EscalationReason, EscalationState, Priority};

#[test]
fn the_inbox_is_in_sla_order_and_keeps_the_newest_revision_of_each_task() {
    let (mut app, queue) = inbox_app(300);
    assert_eq!(app.inbox.open_count(), 300);
    let deadlines: Vec<_> = app
        .inbox
        .rows()
        .iter()
        .map(|k| app.inbox.item(k.slot).summary().sla_deadline)
        .collect();
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]));

    let first = escalation_summaries(&queue)[0].clone();
    let mut claimed = first.clone();
    claimed.revision = 5;
    claimed.state = EscalationState::Claimed;
    claimed.lease = Some(lease("bob", &app));
    app.update(event(EscalationEventKind::Claimed, claimed));
    // A replay of an older revision after a resume changes nothing.
    app.update(event(EscalationEventKind::New, first.clone()));
    let item = app.inbox.get(0, &first.id).unwrap();
    assert_eq!(item.summary().revision, 5);
    assert_eq!(item.summary().lease.as_ref().unwrap().holder, "bob");

    let mut resolved = item.summary();
    resolved.revision = 6;
    resolved.state = EscalationState::Resolved;
    resolved.lease = None;
    app.update(event(EscalationEventKind::Resolved, resolved));
    assert_eq!(app.inbox.open_count(), 299);
    assert!(!inbox_ids(&app).contains(&first.id));
    // Still known, for a detail that is open.
    assert!(app.inbox.get(0, &first.id).is_some());
}

#[test]
fn a_reload_drops_what_the_source_no_longer_lists() {
    let (mut app, queue) = inbox_app(20);
    let all = escalation_summaries(&queue);
    // The stream dropped; on reconnect the list no longer has the first task.
    app.update(source(SourceEvent::Snapshot(small_fleet())));
    app.update(escalations_loaded(all[1..].to_vec()));
    assert_eq!(app.inbox.open_count(), 19);
    assert!(!inbox_ids(&app).contains(&all[0].id));
}

#[test]
fn a_loading_list_counts_what_arrived_against_its_total_and_a_reload_starts_over() {
    let (mut app, queue) = inbox_app(30);
    let all = escalation_summaries(&queue);
    app.update(source(SourceEvent::Snapshot(small_fleet())));
    let counted = |total| Msg::EscalationsCounted {
        source: crate::testing::SOURCE.into(),
        total,
    };
    let page = |items: &[protocol::escalations::EscalationSummary], done| Msg::EscalationsLoaded {
        source: crate::testing::SOURCE.into(),
        result: Ok(items.to_vec()),
        done,
    };
    assert_eq!(app.inbox.source_load(0).expected, None);
    app.update(counted(30));
    app.update(page(&all[..10], false));
    let load = app.inbox.source_load(0);
    assert!(load.loading);
    assert_eq!((load.received, load.expected), (10, Some(30)));
    app.update(page(&all[10..], true));
    let load = app.inbox.source_load(0);
    assert!(!load.loading);
    assert_eq!((load.received, load.expected), (30, Some(30)));
    // A reconnect loads again from nothing.
    app.update(source(SourceEvent::Snapshot(small_fleet())));
    let load = app.inbox.source_load(0);
    assert_eq!(
        (load.loading, load.received, load.expected),
        (true, 0, None)
    );
}

#[test]
fn the_filter_matches_id_service_reason_and_input_with_nucleo() {
    let (mut app, queue) = inbox_app(500);
    let all = escalation_summaries(&queue);
    let target = &all[123];
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, &format!("'{}", target.id));
    settle_filter(&mut app);
    assert_eq!(inbox_ids(&app), vec![target.id.clone()]);
    assert_eq!(app.filter_query(), format!("'{}", target.id));
    assert!(app.filter.query.is_empty(), "the fleet's filter is its own");

    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "validator-failed");
    settle_filter(&mut app);
    let rows = inbox_ids(&app);
    let expected = all
        .iter()
        .filter(|s| s.reason == EscalationReason::ValidatorFailed)
        .count();
    assert!(
        rows.len() >= expected && rows.len() < all.len(),
        "{}",
        rows.len()
    );
    // Still in SLA order.
    let deadlines: Vec<_> = app
        .inbox
        .rows()
        .iter()
        .map(|k| app.inbox.item(k.slot).summary().sla_deadline)
        .collect();
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]));

    // A task that arrives while filtering shows once the matcher has seen it.
    let mut new = target.clone();
    new.id = "esc-999999".into();
    new.reason = EscalationReason::ValidatorFailed;
    app.update(event(EscalationEventKind::New, new));
    settle_filter(&mut app);
    assert!(inbox_ids(&app).contains(&"esc-999999".to_string()));

    app.update(key(KeyCode::Esc));
    assert_eq!(app.inbox.rows().len(), all.len() + 1);
}

#[test]
fn urgent_new_tasks_are_notified_once_and_only_above_the_threshold() {
    let (mut app, queue) = inbox_app(10);
    app.notify_at = Some(Priority::P2);
    let mut task = escalation_summaries(&queue)[0].clone();
    task.id = "esc-777777".into();
    task.priority = Priority::P1;
    let effects = app.update(event(EscalationEventKind::New, task.clone()));
    match effects.as_slice() {
        [Effect::Notify { body, .. }] => assert!(body.contains("esc-777777"), "{body}"),
        other => panic!("{other:?}"),
    }
    assert!(
        app.update(event(EscalationEventKind::New, task.clone()))
            .is_empty(),
        "a replay is not news"
    );
    let mut calm = task.clone();
    calm.id = "esc-777778".into();
    calm.priority = Priority::P3;
    assert!(app.update(event(EscalationEventKind::New, calm)).is_empty());
    let mut claim = task.clone();
    claim.revision += 1;
    assert!(
        app.update(event(EscalationEventKind::Claimed, claim))
            .is_empty()
    );
    app.notify_at = None;
    let mut other = task;
    other.id = "esc-777779".into();
    assert!(
        app.update(event(EscalationEventKind::New, other))
            .is_empty()
    );
}

#[test]
fn a_filter_that_hides_the_selected_task_selects_the_top_row() {
    let (mut app, _queue) = inbox_app(500);
    // Select a task below the top that the filter will hide.
    let hidden = (1..app.inbox.rows().len())
        .rev()
        .find(|&i| {
            let slot = app.inbox.rows()[i].slot;
            !crate::app::filter_text(&app.inbox.item(slot).summary()).contains("validator")
        })
        .expect("a task that is not validator-failed");
    app.inbox.select_index(hidden);
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "'validator");
    settle_filter(&mut app);
    let rows = inbox_ids(&app);
    assert!(rows.len() > 1);
    assert_eq!(
        app.inbox.selected_index(),
        Some(0),
        "Enter must open the top row, not whatever took the old row number"
    );
}

/// The open tasks, in SLA order, whose filter text nucleo's own pattern matches.
fn nucleo_ids(app: &App, query: &str) -> Vec<String> {
    use nucleo::pattern::{CaseMatching, Normalization, Pattern};
    let pattern = Pattern::parse(query, CaseMatching::Smart, Normalization::Smart);
    let mut matcher = nucleo::Matcher::default();
    let mut all = app.inbox.open_rows().to_vec();
    all.retain(|k| {
        let text = crate::app::filter_text(&app.inbox.item(k.slot).summary());
        let mut buffer = Vec::new();
        pattern
            .score(nucleo::Utf32Str::new(&text, &mut buffer), &mut matcher)
            .is_some()
    });
    all.iter()
        .map(|k| app.inbox.item(k.slot).summary().id.clone())
        .collect()
}

#[test]
fn a_growing_query_checks_only_the_previous_matches_and_a_shorter_one_all_tasks_again() {
    let (mut app, _queue) = inbox_app(2_000);
    app.update(key(KeyCode::Char('/')));
    let query = "val gbp";
    let mut previous_rows = None;
    for (at, c) in query.char_indices() {
        type_text(&mut app, &c.to_string());
        settle_filter(&mut app);
        let typed = &query[..at + c.len_utf8()];
        assert_eq!(inbox_ids(&app), nucleo_ids(&app, typed), "{typed:?}");
        let expected_checked = previous_rows.unwrap_or(2_000);
        assert_eq!(app.inbox.filter_checked(), expected_checked, "{typed:?}");
        previous_rows = Some(app.inbox.rows().len());
    }
    assert!(app.inbox.rows().len() < 2_000 && !app.inbox.rows().is_empty());
    for shorter in ["val gb", "val g", "val ", "val"] {
        app.update(key(KeyCode::Backspace));
        settle_filter(&mut app);
        assert_eq!(app.filter_query(), shorter);
        assert_eq!(inbox_ids(&app), nucleo_ids(&app, shorter), "{shorter:?}");
        assert_eq!(
            app.inbox.filter_checked(),
            2_000,
            "a shorter query may match more"
        );
    }
}

#[test]
fn each_keystroke_shows_at_once_and_cancels_the_match_before_it() {
    let (mut app, queue) = inbox_app(2_000);
    app.update(key(KeyCode::Char('/')));
    // No settling between keys: each one replaces the match still running.
    type_text(&mut app, "credit");
    assert_eq!(
        app.filter_query(),
        "credit",
        "the field shows what was typed"
    );
    assert!(app.inbox.matching(), "the list says it is matching");
    // A task that arrives while the match runs is matched on its own.
    let mut new = escalation_summaries(&queue)[0].clone();
    new.id = "esc-credit-999".into();
    app.update(event(EscalationEventKind::New, new));
    settle_filter(&mut app);
    assert!(!app.inbox.matching());
    let rows = inbox_ids(&app);
    assert_eq!(rows, nucleo_ids(&app, "credit"));
    assert!(rows.contains(&"esc-credit-999".to_string()));
}

#[test]
fn the_p1_near_breach_count_follows_changes_and_each_sources_clock() {
    let (mut app, queue) = inbox_app(1_000);
    let brute = |app: &App, now: chrono::DateTime<chrono::Utc>| {
        app.inbox
            .rows()
            .iter()
            .map(|k| app.inbox.item(k.slot).summary())
            .filter(|s| s.priority == Priority::P1 && s.sla_deadline - now <= SLA_WARNING)
            .count()
    };
    let all = escalation_summaries(&queue);
    let start = all[0].sla_deadline - chrono::TimeDelta::minutes(30);
    // Resolve the first P1 task and raise a P3 to P1: both move the count.
    let next_revision = |priority| {
        let mut task = all.iter().find(|s| s.priority == priority).unwrap().clone();
        task.revision += 1;
        task
    };
    let mut p1 = next_revision(Priority::P1);
    p1.state = EscalationState::Resolved;
    app.update(event(EscalationEventKind::Resolved, p1));
    let mut raised = next_revision(Priority::P3);
    raised.priority = Priority::P1;
    app.update(event(EscalationEventKind::Claimed, raised));
    for minutes in [0, 10, 30, 60, 240, 2_000] {
        let now = start + chrono::TimeDelta::minutes(minutes);
        let counted = app.inbox.p1_near_breach(&[now]);
        assert_eq!(counted, brute(&app, now), "at +{minutes}m");
    }
    assert!(
        app.inbox
            .p1_near_breach(&[start + chrono::TimeDelta::days(30)])
            > 0
    );
    assert_eq!(
        app.inbox.p1_near_breach(&[]),
        0,
        "a source without a clock counts nothing"
    );
}

/// The Cost view's per-step counts are kept as tasks come, change and close, and counted
/// against the clock given: the same as counting every open task, at every clock.
#[test]
fn the_step_tallies_follow_changes_and_each_sources_clock() {
    let (mut app, queue) = inbox_app(1_000);
    let brute = |app: &App, now: chrono::DateTime<chrono::Utc>| {
        let open = (app.inbox.rows().iter()).map(|k| app.inbox.item(k.slot).summary());
        let mut counts = std::collections::BTreeMap::new();
        for task in open {
            let (open, past) = counts
                .entry((task.workflow_type, task.step, task.service))
                .or_insert((0, 0));
            *open += 1;
            *past += usize::from(task.sla_deadline < now);
        }
        counts.into_iter().collect::<Vec<_>>()
    };
    let indexed = |app: &App, now| {
        let mut tallies: Vec<_> = (app.inbox.step_tallies(&[now]).into_iter())
            .map(|t| {
                let key = (t.workflow_type.into(), t.step.into(), t.service.into());
                (key, (t.open, t.past_sla))
            })
            .collect();
        tallies.sort();
        tallies
    };
    let all = escalation_summaries(&queue);
    let start = all[0].sla_deadline - chrono::TimeDelta::minutes(30);
    // Resolve one task, and move another to a step of its own in a newer revision.
    let mut resolved = all[0].clone();
    resolved.revision += 1;
    resolved.state = EscalationState::Resolved;
    app.update(event(EscalationEventKind::Resolved, resolved));
    let mut moved = all[1].clone();
    moved.revision += 1;
    moved.step = "second-opinion".into();
    app.update(event(EscalationEventKind::Claimed, moved));
    for minutes in [0, 10, 30, 60, 240, 2_000] {
        let now = start + chrono::TimeDelta::minutes(minutes);
        assert_eq!(indexed(&app, now), brute(&app, now), "at +{minutes}m");
    }
    let tallies = app.inbox.step_tallies(&[start]);
    let open: usize = tallies.iter().map(|t| t.open).sum();
    assert_eq!(open, 999);
    assert!(
        tallies
            .iter()
            .any(|t| t.step == "second-opinion" && t.open == 1)
    );
    assert!(
        (app.inbox.step_tallies(&[]).iter()).all(|t| t.past_sla == 0),
        "a source without a clock counts nothing past"
    );
}

/// Enter pressed while the filter is still matching is not lost: the top match opens as soon
/// as the matches are known (tmux_e2e pressed Enter during '(matching…)' and nothing opened).
#[test]
fn enter_during_matching_opens_the_top_match_once_known() {
    let (mut app, _queue) = inbox_app(500);
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "'validator");
    app.update(key(KeyCode::Enter));
    assert!(app.inbox.matching(), "the match is still running");
    app.update(key(KeyCode::Enter));
    assert!(app.task.is_none(), "nothing to open yet");
    let mut effects = Vec::new();
    while app.task.is_none() {
        assert!(
            app.inbox.matching() || app.task.is_some(),
            "the open was lost"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
        effects = app.update(Msg::Tick {
            now: app.now,
            wall: app.wall,
        });
    }
    let top = app.inbox.rows()[0].slot;
    let opened = app.task.as_ref().unwrap();
    assert_eq!(opened.id, app.inbox.item(top).id());
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::FetchEscalation { id, .. } if *id == opened.id))
    );
}

/// The console does not poll for the filter's rows: the matching thread wakes it with a
/// message, which shows them (the rows used to wait for the next frame tick).
#[test]
fn a_finished_match_wakes_the_console_with_a_message_that_shows_its_rows() {
    let (mut app, _queue) = inbox_app(2_000);
    let (woken, wakes) = std::sync::mpsc::channel();
    app.inbox.wake_on_matches(std::sync::Arc::new(move || {
        // The test may be over while a cancelled match still ends.
        let _ = woken.send(Msg::FilterMatched);
    }));
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "gbp");
    assert!(app.inbox.matching());
    // The matches of "g" or "gb" may have woken it before the next key cancelled them.
    while app.inbox.matching() {
        let msg = wakes
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the match wakes the console");
        app.dirty = false;
        app.update(msg);
    }
    assert!(app.dirty, "the rows are drawn");
    assert_eq!(inbox_ids(&app), nucleo_ids(&app, "gbp"));
}

/// A task whose text changes while the filter matches is matched as it is now, whether the
/// match saw its old text (the match reads the inbox's rows as they were when it started).
#[test]
fn a_task_changed_while_matching_is_matched_with_its_new_text() {
    let (mut app, queue) = inbox_app(2_000);
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "'validator");
    assert!(app.inbox.matching());
    let all = escalation_summaries(&queue);
    let mut was_in = all
        .iter()
        .find(|s| crate::app::filter_text(s).contains("validator"))
        .unwrap()
        .clone();
    let mut now_in = all
        .iter()
        .find(|s| !crate::app::filter_text(s).contains("validator"))
        .unwrap()
        .clone();
    was_in.revision += 1;
    was_in.reason = EscalationReason::LowConfidence;
    was_in.reason_text = "retyped".into();
    was_in.input_preview = "retyped".into();
    now_in.revision += 1;
    now_in.input_preview = "validator says no".into();
    app.update(event(EscalationEventKind::Claimed, was_in.clone()));
    app.update(event(EscalationEventKind::Claimed, now_in.clone()));
    settle_filter(&mut app);
    let rows = inbox_ids(&app);
    assert_eq!(rows, nucleo_ids(&app, "'validator"));
    assert!(rows.contains(&now_in.id) && !rows.contains(&was_in.id));
}

/// A source without a stream (Temporal) says what changed only in its next whole list: the
/// open task is read again when the list shows it newer (claimed by someone else), and once
/// when a list no longer holds it (resolved elsewhere), not on every list after.
#[test]
fn a_whole_list_that_changes_or_drops_the_open_task_reads_it_again() {
    let (mut app, queue) = inbox_app(20);
    let id = crate::testing::open_task_where(&mut app, &queue, |_| true);
    let fetch = Effect::FetchEscalation {
        source: crate::testing::SOURCE.into(),
        id: id.clone(),
    };
    let listed = |rows: Vec<protocol::escalations::EscalationSummary>| {
        source(SourceEvent::Listed {
            rows,
            next_in: std::time::Duration::from_secs(5),
        })
    };
    let mut rows = escalation_summaries(&queue);
    let effects = app.update(listed(rows.clone()));
    assert!(!effects.contains(&fetch), "nothing changed: {effects:?}");

    let row = rows.iter_mut().find(|r| r.id == id).unwrap();
    row.revision += 1;
    row.state = EscalationState::Claimed;
    row.lease = Some(lease("bob", &app));
    let effects = app.update(listed(rows.clone()));
    assert!(effects.contains(&fetch), "claimed by bob: {effects:?}");

    rows.retain(|r| r.id != id);
    let effects = app.update(listed(rows.clone()));
    assert!(effects.contains(&fetch), "no longer listed: {effects:?}");
    let effects = app.update(listed(rows));
    assert!(!effects.contains(&fetch), "read once: {effects:?}");
}
