//! Issue 15: redundancy and cost on screen: the Services list's budget and spend columns, the
//! selected service's posture in its pane (SLO and burn, blast radius, spend, ROI, findings),
//! and the Cost view, on the lab's default fleet given a ghost-spending hot standby.

use super::*;
use protocol::{Replica, ReplicaRole};
use switchboard::testing::default_fleet;

/// The default fleet, email-notifier (nice-to-have) given a hot standby in us-east.
fn ghost_spending_app(width: u16, height: u16) -> App {
    let mut fleet = default_fleet();
    let email = fleet
        .services
        .iter_mut()
        .find(|s| s.id == "email-notifier")
        .unwrap();
    email.replicas.push(Replica {
        id: "email-notifier@us-east".into(),
        region: "us-east".into(),
        role: ReplicaRole::HotStandby,
        ready: true,
        replication_lag_s: 0.5,
        capacity_rps: 40.0,
        load_rps: 0.0,
        takeover_s: Some(5.0),
        timed_role: None,
        pool: None,
    });
    let mut app = app(width, height, Instant::now());
    app.update(source(SourceEvent::Snapshot(fleet)));
    app
}

#[test]
fn the_services_list_shows_budget_and_spend_and_the_pane_the_posture_at_120x36() {
    let mut app = ghost_spending_app(120, 36);
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Down));
    let screen = text(&render(&app, &dark()));
    for expected in [
        "BUDGET",
        "$/h",
        "65% ?",
        "email-notifier ⚠",
        "posture  critical · SLO 99%/30d · budget 65% left · burn 1h ? 6h ?",
        "blast    email-notifier depends on it · downtime $1,220/min",
        "spend    replicas $9.00/h (standbys $4.50/h)",
        " 9 Cost",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("services_posture_120x36", screen);
}

#[test]
fn the_cost_view_is_the_cost_report_with_its_findings_at_120x36() {
    let mut app = ghost_spending_app(120, 36);
    app.update(key(KeyCode::Char('9')));
    assert_eq!(app.view, switchboard::app::View::Cost);
    let screen = text(&render(&app, &dark()));
    for expected in [
        "SERVICE          CRITICALITY  TIER",
        "idle standbys $5.10/h",
        "⚠ ghost spend: email-notifier (nice-to-have) pays $0.60/h for hot standbys",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("cost_view_120x36", screen);
}

#[test]
fn without_any_posture_the_cost_view_is_not_offered_and_says_why() {
    let mut app = app(120, 36, Instant::now());
    app.update(key(KeyCode::Char('9')));
    assert_ne!(app.view, switchboard::app::View::Cost);
    let screen = text(&render(&app, &dark()));
    assert!(!screen.contains("9 Cost"), "{screen}");
    assert!(screen.contains("no cost figures"), "{screen}");
}

/// The confirmation of forcing openai@us-east open prices the move: risk-scorer's calls leave
/// a premium provider for a premium and a standard one, and say so per provider and in all.
#[test]
fn the_confirmation_prices_the_traffic_a_breaker_moves_at_120x40() {
    let mut app = ghost_spending_app(120, 40);
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "breaker openai@us-east force-open");
    app.update(key(KeyCode::Enter));
    let screen = text(&render(&app, &dark()));
    for expected in [
        "cost -$",
        "openai@us-east -",
        "rps at $0.015/1k tokens: -$",
        "google@us-east +",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("breaker_confirmation_priced_120x40", screen);
}

/// A Prometheus source's read, 12 s ago, of each `(service, budget left, burn 1h, burn 6h)`
/// on 99.9 % over 30 days.
fn measured(services: &[(&str, f64, f64, f64)]) -> Msg {
    use switchboard::domain::measured::{BurnThresholds, BurnWindow, Fact, ServiceFacts};
    use switchboard::sources::prometheus::FleetFacts;
    use switchboard::testing::{METRICS, fixture_wall, from_metrics};
    let at = fixture_wall() - chrono::TimeDelta::seconds(12);
    let slo = |&(service, budget_left, h1, h6): &(&str, f64, f64, f64)| ServiceFacts {
        service: service.into(),
        slo: protocol::posture::Slo {
            target: 0.999,
            window_s: 30.0 * 86_400.0,
        },
        window: "30d".into(),
        burn: [
            (BurnWindow::OneHour, Fact { value: h1, at }),
            (BurnWindow::SixHours, Fact { value: h6, at }),
        ]
        .into(),
        budget_left: Some(Fact {
            value: budget_left,
            at,
        }),
        thresholds: BurnThresholds::default(),
    };
    from_metrics(SourceEvent::Measured(Box::new(FleetFacts {
        source: METRICS.into(),
        regions: Vec::new(),
        providers: Vec::new(),
        services: services.iter().map(slo).collect(),
        failed: Vec::new(),
        unplaced: Vec::new(),
    })))
}

/// The default fleet and a Prometheus source that read checkout (which no fleet source
/// reports) burning 20x with 19 budgets overspent, and credit-decision (whose burn the lab does
/// not report) burning 20x over 1 h and 15x over 6 h of 99.9 %: 2x and 1.5x of the lab's 99 %.
fn measured_app(width: u16, height: u16) -> App {
    let mut app = ghost_spending_app(width, height);
    app.add_metrics_source(
        switchboard::testing::METRICS,
        "http://127.0.0.1:9090",
        Duration::from_secs(15),
    );
    app.update(measured(&[
        ("checkout", -19.0, 20.0, 20.0),
        ("credit-decision", 0.5, 20.0, 15.0),
    ]));
    app
}

/// The lab's credit-decision takes its burn from Prometheus (its own 65 % budget stays) and
/// spends it in 234 h at 2x; checkout gets a row under the Prometheus source, tier unknown,
/// its budget spent; both say where the figures came from and how old they are.
#[test]
fn the_cost_view_adds_what_prometheus_measures_at_140x40() {
    let mut app = measured_app(140, 40);
    app.update(key(KeyCode::Char('9')));
    assert_eq!(app.view, switchboard::app::View::Cost);
    let screen = text(&render(&app, &dark()));
    for expected in [
        "metrics · services only it measures",
        "checkout         ?            tier unknown",
        "⚠ budget at risk: checkout spends its error budget in 0s at this burn rate",
        "⚠ budget at risk: credit-decision spends its error budget in 234h00m",
        "measured: credit-decision (burn 1h, burn 6h from metrics (restated from its SLO \
         99.9%/30d), read 12s ago)",
        "measured: checkout (SLO, budget, burn 1h, burn 6h from metrics, read 12s ago)",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("cost_view_measured_140x40", screen);
}

/// The lab's default fleet read an hour after the backlog's start (some tasks past their
/// SLA then) and 40 tasks of its backlog, as alice.
fn escalated_app(width: u16, height: u16) -> (App, lab::escalations::EscalationQueue) {
    use switchboard::testing::{
        as_user, escalation_queue, escalation_summaries, escalations_loaded, fixture_wall,
    };
    let mut app = app(width, height, Instant::now());
    as_user(&mut app, "alice", protocol::Role::Operator);
    let mut fleet = default_fleet();
    fleet.generated_at = fixture_wall() + chrono::TimeDelta::hours(1);
    app.update(source(SourceEvent::Snapshot(fleet)));
    let queue = escalation_queue(7, 40);
    app.update(escalations_loaded(escalation_summaries(&queue)));
    (app, queue)
}

/// A task stopped at credit-decision's step shows, under its candidates, the step's posture
/// as the lab reports it: critical, 65 % of a 99 % budget left, what depends on it and what
/// its replicas cost.
#[test]
fn a_task_shows_the_posture_of_its_step_from_the_lab_at_120x60() {
    let (mut app, queue) = escalated_app(120, 60);
    app.update(key(KeyCode::Char('5')));
    switchboard::testing::open_task_where(&mut app, &queue, |detail| {
        detail.summary.service == "credit-decision"
    });
    let screen = text(&render(&app, &dark()));
    for expected in [
        "Step decide-credit-line of CreditApplication · runs on credit-decision",
        "tier     active-passive · spend $",
        "from lab, live",
        "posture  critical · SLO 99%/30d · budget 65% left · burn 1h ? 6h ?",
        "blast    email-notifier depends on it · downtime $1,220/min",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("task_step_posture_120x60", screen);
}

/// The Cost view ends with the workflow steps the open escalations stop at: per step its
/// service, criticality and budget, and how many tasks wait there and are past their SLA,
/// counted here from the inbox.
#[test]
fn the_cost_view_lists_the_workflow_steps_of_the_open_escalations_at_140x48() {
    let (mut app, queue) = escalated_app(140, 48);
    let now = app.source_clocks()[0];
    let mut expected: std::collections::BTreeMap<(String, String), (usize, usize)> =
        Default::default();
    for task in switchboard::testing::escalation_summaries(&queue) {
        let (open, past) = expected
            .entry((task.workflow_type.clone(), task.step.clone()))
            .or_default();
        *open += 1;
        *past += usize::from(task.sla_deadline < now);
    }
    app.update(key(KeyCode::Char('9')));
    let screen = text(&render(&app, &dark()));
    let past: usize = expected.values().map(|(_, past)| past).sum();
    assert!(past > 0, "some tasks are past their SLA an hour in");
    assert!(
        screen.contains(&format!(
            "workflow steps · 40 open escalations, {past} past their SLA"
        )),
        "{screen}"
    );
    assert!(screen.contains("WORKFLOW / STEP"), "{screen}");
    for ((workflow_type, step), (open, past)) in expected {
        let line = (screen.lines())
            .find(|l| l.contains(&format!("{workflow_type} / {step}")))
            .unwrap_or_else(|| panic!("{workflow_type}/{step} in\n{screen}"));
        let figures: Vec<&str> = (line.trim_matches(|c| c == '│' || c == ' '))
            .split_whitespace()
            .rev()
            .take(2)
            .collect();
        assert_eq!(figures, [past.to_string(), open.to_string()], "{line}");
    }
    insta::assert_snapshot!("cost_view_steps_140x48", screen);
}

/// A Temporal-only context knows steps but no fleet: a task stopped at credit-decision shows
/// the posture its `[cost]` and its Prometheus `[slo]` give (critical, $1,200/min down; 40 %
/// left at 16x), tier and what depends on it unknown; Prometheus down, the figures say STALE.
#[test]
fn a_temporal_task_shows_its_steps_posture_from_the_config_and_prometheus_at_120x40() {
    use switchboard::domain::prices::{CostConfig, ServicePrices};
    use switchboard::testing::{METRICS, escalation_queue, escalation_summaries, fixture_wall};
    let now = Instant::now();
    let cost = CostConfig {
        services: [(
            "credit-decision".to_string(),
            ServicePrices {
                criticality: Some(protocol::posture::Criticality::Critical),
                downtime_cost_per_min: Some(1200.0),
                ..ServicePrices::default()
            },
        )]
        .into(),
        ..CostConfig::default()
    };
    let mut app = App::new(switchboard::app::AppInit {
        context: switchboard::app::ContextInfo {
            name: "agents".into(),
            lab: false,
            read_only: false,
            production: false,
        },
        sources: vec![("workflows".into(), "http://127.0.0.1:7243".into())],
        problems: Vec::new(),
        theme_name: "dark".into(),
        themes: vec!["dark".into()],
        now,
        wall: fixture_wall(),
        area: ratatui::layout::Rect::new(0, 0, 120, 40),
        notify_at: None,
        approval_policy: None,
        cost,
    });
    app.add_metrics_source(METRICS, "http://127.0.0.1:9090", Duration::from_secs(15));
    app.update(measured(&[("credit-decision", 0.4, 16.0, 3.0)]));
    let queue = escalation_queue(7, 40);
    let task = (escalation_summaries(&queue).into_iter())
        .find(|s| s.service == "credit-decision")
        .unwrap();
    let id = task.id.clone();
    app.update(Msg::Source(switchboard::sources::SourceMsg {
        source: "workflows".into(),
        event: SourceEvent::Listed {
            rows: vec![task],
            next_in: Duration::from_secs(5),
        },
    }));
    app.update(key(KeyCode::Char('5')));
    app.update(key(KeyCode::Enter));
    app.update(Msg::EscalationLoaded {
        source: "workflows".into(),
        id: id.clone(),
        result: Ok(Box::new(queue.detail(&id).unwrap())),
    });
    let screen = text(&render(&app, &dark()));
    for expected in [
        "Step decide-credit-line of CreditApplication · runs on credit-decision",
        "tier     tier unknown · spend ?/h · from metrics, live",
        "posture  critical · SLO 99.9%/30d · budget 40% left · burn 1h 16x 6h 3.00x",
        "blast    dependents unknown: no source reports its posture · downtime $1,200/min",
        "from the config: downtime cost, criticality",
        "measured: SLO, budget, burn 1h, burn 6h from metrics, read 12s ago",
        "⚠ budget at risk: credit-decision spends its error budget in 18h00m",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("temporal_task_step_posture_120x40", screen);

    app.update(switchboard::testing::from_metrics(SourceEvent::Down {
        error: "Prometheus: connection refused".into(),
        kind: switchboard::domain::fleet::DownKind::Unreachable,
        retry_in: Duration::from_secs(2),
    }));
    let screen = text(&render(&app, &dark()));
    for expected in [
        "from metrics · STALE: last known",
        "measured: SLO, budget, burn 1h, burn 6h from metrics, STALE: read 12s ago",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
}
