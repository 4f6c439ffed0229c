//! The inbox as a console reads it: events and their resume, the lineage of each reason,
//! tasks escalated by a simulated outage, filters and paging over a large backlog.

use super::*;

#[tokio::test]
async fn claims_releases_and_resolutions_are_events_that_a_resume_replays() {
    let lab = lab(10, 1.0, None).await;
    let id = page(&lab, "limit=1").await.items.remove(0).id;
    let before = page(&lab, "limit=1").await.revision;
    let mut events = open_events(&lab, token(&lab, "victor"), Some(before.to_string())).await;
    ok_json::<EscalationSummary>(
        claim(&lab, &id, "bob", None).await,
        "/v1/escalations/{id}/claim",
    )
    .await;
    ok_json::<EscalationSummary>(
        release(&lab, &id, "bob").await,
        "/v1/escalations/{id}/release",
    )
    .await;
    ok_json::<EscalationSummary>(
        claim(&lab, &id, "alice", None).await,
        "/v1/escalations/{id}/claim",
    )
    .await;
    let abort =
        json!({"resolution": {"kind": "abort"}, "note": "fraud confirmed, stop the workflow"});
    let outcome: ResolveOutcome = ok_json(
        resolve(&lab, &id, "alice", Some("k-abort"), abort).await,
        "/v1/escalations/{id}/resolve",
    )
    .await;
    assert_eq!(outcome.escalation.state, EscalationState::Aborted);

    let expected = [EVENT_CLAIMED, EVENT_RELEASED, EVENT_CLAIMED, EVENT_RESOLVED];
    let live = events_of_until(&mut events, &id, EVENT_RESOLVED).await;
    let names: Vec<&str> = live.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expected);
    let revisions: Vec<u64> = live.iter().map(|(_, s)| s.revision).collect();
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{revisions:?}");
    drop(events);

    // A console that saw nothing since `before` gets them all again, in order.
    let mut resumed = open_events(&lab, token(&lab, "victor"), Some(before.to_string())).await;
    let replayed = events_of_until(&mut resumed, &id, EVENT_RESOLVED).await;
    assert_eq!(replayed, live);
    // One cut off right after an escalation event resumes from the last id it had then, and
    // gets that event again: its revision's id comes only with the delta after it.
    let mut resumed = open_events(&lab, token(&lab, "victor"), Some(before.to_string())).await;
    let mut last_id = before.to_string();
    loop {
        let event = next_event(&mut resumed).await;
        if event.event == event_name::FLEET_DELTA {
            last_id = event.id;
        } else if event.event == EVENT_CLAIMED
            && event_data::<EscalationSummary>(&event, "EscalationSummary").id == id
        {
            break;
        }
    }
    drop(resumed);
    let mut again = open_events(&lab, token(&lab, "victor"), Some(last_id)).await;
    let (name, summary) = next_escalation_event(&mut again).await;
    assert_eq!(
        (name.as_str(), summary.id.as_str()),
        (EVENT_CLAIMED, id.as_str())
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn each_reason_has_the_lineage_that_explains_it() {
    let lab = lab(200, 1.0, None).await;
    for reason in EscalationReason::ALL {
        let escalation = first_pending(&lab, reason).await;
        let steps = &escalation.lineage.steps;
        let escalated = &steps.last().unwrap().attempts;
        let all: Vec<_> = steps.iter().flat_map(|s| &s.attempts).collect();
        assert_eq!(all.len() as u32, escalation.summary.attempts);
        assert_eq!(escalation.checkpoint.step, steps[steps.len() - 2].name);
        let threshold = escalation.confidence_threshold;
        match reason {
            EscalationReason::PathsExhausted => {
                let paths: BTreeSet<(String, String)> = escalated
                    .iter()
                    .map(|a| (a.provider.clone().unwrap(), a.region.clone().unwrap()))
                    .collect();
                assert!(paths.len() >= 2, "{paths:?}");
                assert!(escalated.iter().all(|a| a.error.is_some()));
                assert!(escalated.iter().skip(1).all(|a| a.parent.is_some()));
                assert!(escalated.iter().any(|a| a.failover_reason.is_some()));
            }
            EscalationReason::ValidatorFailed => {
                assert!(
                    escalated
                        .iter()
                        .any(|a| a.outcome == AttemptOutcome::Rejected
                            && a.verdicts.iter().any(|v| !v.passed))
                );
                assert!(
                    escalation
                        .candidates
                        .iter()
                        .all(|c| c.verdicts.iter().any(|v| !v.passed))
                );
            }
            EscalationReason::LowConfidence => {
                assert!(!escalation.candidates.is_empty());
                assert!(
                    escalation
                        .candidates
                        .iter()
                        .all(|c| c.confidence < threshold)
                );
            }
            EscalationReason::Policy => {
                let verdicts = &escalation.candidates[0].verdicts;
                assert!(
                    verdicts
                        .iter()
                        .any(|v| v.validator.starts_with("policy:") && !v.passed)
                );
            }
        }
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn a_region_down_strands_credit_decision_and_its_tasks_in_flight_escalate() {
    // At 60x the region-down inject (15 s in) lands within a second.
    let lab = lab(0, 60.0, Some("region-down")).await;
    let mut events = open_events(&lab, token(&lab, "alice"), Some("1".to_string())).await;
    let mut burst = Vec::new();
    while burst.len() < 2 {
        let (name, summary) = next_escalation_event(&mut events).await;
        if summary.reason == EscalationReason::PathsExhausted {
            assert_eq!(
                (name.as_str(), summary.service.as_str()),
                (EVENT_NEW, "credit-decision")
            );
            burst.push(summary);
        }
    }
    let escalation = detail(&lab, &burst[0].id).await;
    let escalated = &escalation.lineage.steps.last().unwrap().attempts;
    assert!(escalated.len() >= 2);
    for attempt in escalated {
        assert_eq!(attempt.region.as_deref(), Some("us-east"));
        assert_eq!(attempt.outcome, AttemptOutcome::Timeout);
    }
    assert!(escalation.summary.reason_text.contains("us-east"));
    assert!(escalation.summary.priority <= Priority::P2);
    lab.shutdown().await;
}

#[tokio::test]
async fn a_thousand_escalations_page_in_sla_order_and_filter() {
    let lab = lab(1000, 1.0, None).await;
    let mut seen: Vec<EscalationSummary> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("limit=300&cursor={cursor}"),
            None => "limit=300".to_string(),
        };
        let page = page(&lab, &query).await;
        assert!(page.total >= 1000);
        seen.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // The simulation may add a few while we page; none is lost or repeated.
    assert!(seen.len() >= 1000);
    assert!(
        seen.windows(2)
            .all(|w| w[0].sla_deadline <= w[1].sla_deadline)
    );
    let unique: BTreeSet<&str> = seen.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(unique.len(), seen.len());

    let filtered = page(
        &lab,
        "state=pending,claimed&priority=P1,p2&service=risk-scorer&assignee=none&limit=1000",
    )
    .await;
    assert!(filtered.total > 0);
    assert_eq!(filtered.total as usize, filtered.items.len());
    assert!(filtered.items.iter().all(|s| s.service == "risk-scorer"
        && s.priority <= Priority::P2
        && s.assignee.is_none()
        && !s.state.is_closed()));
    let by_reason = page(&lab, "reason=policy&limit=5").await;
    assert!(
        by_reason
            .items
            .iter()
            .all(|s| s.reason == EscalationReason::Policy)
    );

    let viewer = token(&lab, "victor");
    for bad in [
        "state=open",
        "limit=0",
        "limit=1001",
        "cursor=zz",
        "priority=p9",
    ] {
        let response = lab_support::get(
            &lab,
            &format!("/v1/escalations?{bad}"),
            Some(viewer),
            Default::default(),
        )
        .await;
        expect_problem(response, StatusCode::BAD_REQUEST).await;
    }
    let missing = lab_support::get(
        &lab,
        "/v1/escalations/esc-999999",
        Some(viewer),
        Default::default(),
    )
    .await;
    expect_problem(missing, StatusCode::NOT_FOUND).await;
    // Viewers read; acting needs an operator; nobody anonymous.
    expect_problem(
        claim(&lab, &seen[0].id, "victor", None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let anonymous = lab_support::get(&lab, "/v1/escalations", None, Default::default()).await;
    expect_problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let _: EscalationPage = get_json(&lab, "/v1/escalations", viewer).await;
    lab.shutdown().await;
}
