//! Commands that change the fleet: a drain seen live by another console, timed controls that
//! revert by themselves, breakers, degraded modes and weights.

use super::*;

#[tokio::test]
async fn a_drain_moves_traffic_and_another_console_sees_it_live() {
    let lab = start_lab(SPEED, None).await;
    let before = fleet(&lab).await;
    let start = Some(before.revision.to_string());
    let mut alice = open_events(&lab, lab.token_for("alice").unwrap(), start.clone()).await;
    let mut bob = open_events(&lab, lab.token_for("bob").unwrap(), start).await;

    let command = drain("us-east", None);
    let answer = run(&lab, "bob", &command).await;
    assert_eq!(
        answer.control_revision,
        region(&before, "us-east").control_revision + 1
    );
    assert!(
        answer
            .warnings
            .iter()
            .any(|w| w.contains("eu-west is over capacity")),
        "{:?}",
        answer.warnings
    );
    assert!(
        answer
            .warnings
            .iter()
            .any(|w| w.contains("credit-decision has no replica taking traffic"))
    );

    // Both consoles see the drain in the revision the answer names, then its audit entry.
    for (who, events) in [("alice", &mut alice), ("bob", &mut bob)] {
        let delta = wait_for_event(events, "the drain", |event| {
            (event.event == event_name::FLEET_DELTA)
                .then(|| event_data::<FleetDelta>(event, "FleetDelta"))
                .filter(|delta| delta.revision == answer.revision)
        })
        .await;
        let east = delta.regions.iter().find(|r| r.id == "us-east").unwrap();
        assert_eq!(east.drain.as_ref().unwrap().set_by, "bob", "{who}");
        assert_eq!(
            (east.traffic_share, east.control_revision),
            (0.0, answer.control_revision)
        );
        for other in delta.regions.iter().filter(|r| r.id != "us-east") {
            assert!(
                other.traffic_share > region(&before, &other.id).traffic_share,
                "{who}: {}",
                other.id
            );
        }
        let entry = wait_for_event(events, "the audit entry", |event| {
            (event.event == event_name::AUDIT)
                .then(|| event_data::<AuditEntry>(event, "AuditEntry"))
        })
        .await;
        assert_eq!(entry.id, answer.audit_id);
        assert_eq!(
            (
                entry.actor.as_str(),
                entry.action.as_str(),
                entry.target.as_str(),
                entry.outcome
            ),
            ("bob", "drain", "us-east", AuditOutcome::Accepted)
        );
    }

    run(&lab, "alice", &undrain("us-east")).await;
    let after = fleet(&lab).await;
    assert_eq!(region(&after, "us-east").drain, None);
    assert!(region(&after, "us-east").traffic_share > 0.3);
    lab.shutdown().await;
}

#[tokio::test]
async fn timed_controls_revert_by_themselves() {
    let lab = start_lab(600.0, None).await;
    let commands = [
        drain("us-west", Some(30)),
        breaker("google@eu-west", BreakerAction::ForceOpen, Some(30)),
        degrade("risk-scorer", DegradedModeKind::ServeCache, true, Some(30)),
    ];
    for command in &commands {
        let answer = run(&lab, "bob", command).await;
        // At 600x an earlier control may already have reverted (a newer `system` entry), so
        // look the command's own entry up by id rather than taking the newest.
        let entry = audit_page(&lab, "?limit=50")
            .await
            .entries
            .into_iter()
            .find(|e| e.id == answer.audit_id)
            .expect("the command's audit entry");
        assert!(
            entry.detail.unwrap().starts_with("reverts at "),
            "{command}"
        );
    }
    let reverted = wait_for_fleet(&lab, "the reverts", |snapshot| {
        let google = snapshot
            .providers
            .iter()
            .find(|p| p.id == "google@eu-west")
            .unwrap();
        let risk = snapshot
            .services
            .iter()
            .find(|s| s.id == "risk-scorer")
            .unwrap();
        region(snapshot, "us-west").drain.is_none()
            && google.quarantine.is_none()
            && risk.degraded_modes.is_empty()
    })
    .await;
    assert!(region(&reverted, "us-west").traffic_share > 0.0);
    assert!(
        reverted
            .notices
            .iter()
            .any(|n| n.text.contains("expired: drain us-west"))
    );
    let system: Vec<(String, AuditOutcome)> = audit_page(&lab, "")
        .await
        .entries
        .into_iter()
        .filter(|e| e.actor == "system")
        .map(|e| (e.action, e.outcome))
        .collect();
    for action in ["drain", "breaker force-open", "degrade serve-cache on"] {
        assert!(
            system.contains(&(action.to_string(), AuditOutcome::Reverted)),
            "{action}: {system:?}"
        );
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn breaker_degraded_mode_and_weights_commands_take_effect() {
    let lab = start_lab(SPEED, None).await;
    let openai = "openai@us-east";
    let share = |snapshot: &FleetSnapshot, region: &str, provider: &str| {
        let gateway = snapshot
            .gateways
            .iter()
            .find(|g| g.region == region)
            .unwrap();
        let route = gateway
            .routes
            .iter()
            .find(|r| r.service == "risk-scorer" && r.provider == provider)
            .unwrap();
        (route.weight, route.share)
    };

    run(
        &lab,
        "bob",
        &breaker(openai, BreakerAction::ForceOpen, None),
    )
    .await;
    let snapshot = fleet(&lab).await;
    let held = snapshot.providers.iter().find(|p| p.id == openai).unwrap();
    assert_eq!(held.breaker.state, BreakerState::Open);
    assert_eq!(held.quarantine.as_ref().unwrap().set_by, "bob");
    assert_eq!(share(&snapshot, "us-east", openai).1, 0.0);
    for action in [
        BreakerAction::Pin,
        BreakerAction::Close,
        BreakerAction::Unpin,
    ] {
        run(&lab, "bob", &breaker(openai, action, None)).await;
    }
    let snapshot = fleet(&lab).await;
    let released = snapshot.providers.iter().find(|p| p.id == openai).unwrap();
    assert_eq!(
        (
            released.breaker.state,
            released.quarantine.is_none(),
            released.pinned.is_none()
        ),
        (BreakerState::Closed, true, true)
    );
    assert_eq!(released.control_revision, 5);

    run(
        &lab,
        "alice",
        &degrade(
            "credit-decision",
            DegradedModeKind::FallbackModel,
            true,
            None,
        ),
    )
    .await;
    let snapshot = fleet(&lab).await;
    let credit = snapshot
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    assert_eq!(
        credit.degraded_modes[0].mode,
        DegradedModeKind::FallbackModel
    );
    assert_eq!(credit.degraded_modes[0].control.set_by, "alice");
    run(
        &lab,
        "alice",
        &degrade(
            "credit-decision",
            DegradedModeKind::FallbackModel,
            false,
            None,
        ),
    )
    .await;

    let regions = Command::Weights {
        service: "risk-scorer".into(),
        scope: WeightScope::Regions,
        weights: BTreeMap::from([("us-east".to_string(), 0.0)]),
    };
    run(&lab, "bob", &regions).await;
    let snapshot = fleet(&lab).await;
    let risk = snapshot
        .services
        .iter()
        .find(|s| s.id == "risk-scorer")
        .unwrap();
    assert_eq!(risk.region_weights["us-east"], 0.0);
    assert_eq!(
        risk.region_weights["us-west"], 99.0,
        "left out: its capacity"
    );
    assert_eq!(
        risk.replicas
            .iter()
            .find(|r| r.region == "us-east")
            .unwrap()
            .load_rps,
        0.0
    );

    let providers = Command::Weights {
        service: "risk-scorer".into(),
        scope: WeightScope::Providers {
            region: "us-west".into(),
        },
        weights: BTreeMap::from([("openai@us-west".to_string(), 0.0)]),
    };
    run(&lab, "bob", &providers).await;
    let snapshot = fleet(&lab).await;
    assert_eq!(share(&snapshot, "us-west", "openai@us-west"), (0.0, 0.0));
    assert_eq!(share(&snapshot, "us-west", "anthropic@us-west").1, 1.0);
    lab.shutdown().await;
}
