//! Claims: a race for one task has one winner, and a lease that runs out puts the task back.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_racing_for_a_claim_get_one_winner_and_one_409_naming_it() {
    let lab = lab(20, 1.0, None).await;
    let ids: Vec<String> = page(&lab, "limit=10")
        .await
        .items
        .into_iter()
        .map(|s| s.id)
        .collect();
    for id in &ids {
        let (bob, alice) = {
            let bob = tokio::spawn({
                let (url, token, id) = (lab.url(), token(&lab, "bob").to_string(), id.clone());
                async move {
                    send(
                        client()
                            .post(format!("{url}/v1/escalations/{id}/claim"))
                            .bearer_auth(token),
                    )
                    .await
                }
            });
            let alice = tokio::spawn({
                let (url, token, id) = (lab.url(), token(&lab, "alice").to_string(), id.clone());
                async move {
                    send(
                        client()
                            .post(format!("{url}/v1/escalations/{id}/claim"))
                            .bearer_auth(token),
                    )
                    .await
                }
            });
            (bob.await.unwrap(), alice.await.unwrap())
        };
        let (won, lost, winner) = match (bob.status(), alice.status()) {
            (StatusCode::OK, StatusCode::CONFLICT) => (bob, alice, "bob"),
            (StatusCode::CONFLICT, StatusCode::OK) => (alice, bob, "alice"),
            other => panic!("{id}: one claim wins and one loses, not {other:?}"),
        };
        let claimed: EscalationSummary = ok_json(won, "/v1/escalations/{id}/claim").await;
        assert_eq!(claimed.state, EscalationState::Claimed);
        let lease = claimed.lease.unwrap();
        assert_eq!(lease.holder, winner);
        let (problem, _) = expect_problem(lost, StatusCode::CONFLICT).await;
        assert_eq!(problem.extensions["holder"], winner, "{id}");
        assert!(problem.detail.unwrap().contains(winner));
        assert_eq!(detail(&lab, id).await.summary.lease.unwrap().holder, winner);
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn a_lease_that_runs_out_puts_the_task_back_and_says_so() {
    // 1000x: a 30 s lease ends within a tick.
    let lab = lab(5, 1000.0, None).await;
    let id = page(&lab, "limit=1").await.items.remove(0).id;
    let before = page(&lab, "limit=1").await.revision;
    let mut events = open_events(&lab, token(&lab, "victor"), Some(before.to_string())).await;
    let claimed: EscalationSummary = ok_json(
        claim(&lab, &id, "bob", Some(json!({"lease_s": 30}))).await,
        "/v1/escalations/{id}/claim",
    )
    .await;
    let lease = claimed.lease.unwrap();
    assert_eq!((lease.expires_at - lease.claimed_at).num_seconds(), 30);
    let seen = events_of_until(&mut events, &id, EVENT_RELEASED).await;
    let names: Vec<&str> = seen.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, [EVENT_CLAIMED, EVENT_RELEASED]);
    let released = &seen[1].1;
    assert_eq!(
        (released.state, released.lease.as_ref()),
        (EscalationState::Pending, None)
    );
    assert!(released.revision > seen[0].1.revision);
    let history = detail(&lab, &id).await.history;
    assert_eq!(history.last().unwrap().action, HistoryAction::LeaseExpired);
    assert_eq!(history.last().unwrap().actor, "system");
    // Anyone may take it now; the old holder cannot release what they no longer hold.
    let (problem, _) = expect_problem(release(&lab, &id, "bob").await, StatusCode::CONFLICT).await;
    assert!(problem.detail.unwrap().contains("nobody holds"));
    ok_json::<EscalationSummary>(
        claim(&lab, &id, "alice", None).await,
        "/v1/escalations/{id}/claim",
    )
    .await;
    lab.shutdown().await;
}
