//! Builders shared by unit tests, integration tests and benchmarks, so that they all set
//! up the console the same way. Not part of the console itself.

use std::time::Instant;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use ratatui::layout::Rect;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::{App, AppInit, ContextInfo, Effect, Msg};
use crate::domain::measured::{AlertTarget, FiringAlert};
use crate::sources::{EscalationEvent, EscalationEventKind, SourceEvent, SourceMsg};
use lab::escalations::{EscalationQueue, ListQuery};
use lab::topology::Topology;
use protocol::escalations::{Escalation, EscalationSummary, Lease};
use protocol::{FleetSnapshot, Role, WhoAmI};

/// The name of the one source of [`lab_app`].
pub const SOURCE: &str = "lab";

/// The wall clock the fixtures were taken at: snapshots stay stable.
pub fn fixture_wall() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 14, 3, 0).unwrap()
}

/// A console on the lab context with one source and no data yet.
pub fn lab_app(width: u16, height: u16, now: Instant) -> App {
    App::new(lab_init(width, height, now))
}

/// What [`lab_app`] starts from.
pub fn lab_init(width: u16, height: u16, now: Instant) -> AppInit {
    AppInit {
        context: ContextInfo {
            name: "lab".into(),
            lab: true,
            read_only: false,
            production: false,
        },
        sources: vec![(SOURCE.into(), "http://127.0.0.1:7300".into())],
        problems: Vec::new(),
        theme_name: "dark".into(),
        themes: vec!["dark".into(), "light".into(), "high-contrast".into()],
        now,
        wall: fixture_wall(),
        area: Rect::new(0, 0, width, height),
        notify_at: None,
        approval_policy: None,
        cost: Default::default(),
    }
}

/// A report of the lab source, as its worker would send it.
pub fn from_source(event: SourceEvent) -> Msg {
    Msg::Source(SourceMsg {
        source: SOURCE.into(),
        event,
    })
}

/// `fixtures/payloads/fleet-small.json`: two regions, an open breaker, a degraded mode.
pub fn small_fleet() -> FleetSnapshot {
    serde_json::from_str(include_str!("../fixtures/payloads/fleet-small.json"))
        .expect("fixture parses")
}

/// `fixtures/payloads/fleet-default.json`: the lab's default fleet as `GET /v1/fleet` served it.
pub fn default_fleet() -> FleetSnapshot {
    serde_json::from_str(include_str!("../fixtures/payloads/fleet-default.json"))
        .expect("fixture parses")
}

/// The lab's default topology as the lab simulates it ten seconds after [`fixture_wall`],
/// with its pools and readiness times.
pub fn lab_fleet() -> FleetSnapshot {
    let mut sim = lab::sim::Sim::new(Topology::embedded_default(), None, 42, fixture_wall());
    sim.tick(10.0);
    let view = sim.view();
    FleetSnapshot {
        revision: 2,
        generated_at: sim.now(),
        regions: view.regions,
        providers: view.providers,
        gateways: view.gateways,
        services: view.services,
        operations: view.operations,
        lab: Some(sim.lab_info(1.0)),
        pools: view.pools,
        readiness: Some(view.readiness),
        standby_shares: view.standby_shares,
        ..FleetSnapshot::default()
    }
}

/// `fixtures/topologies/8x12.toml` (eight regions, twelve vendors in each) as the lab
/// simulates it ten seconds after [`fixture_wall`]: the fleet of issue 9's scale tests.
pub fn wide_fleet() -> FleetSnapshot {
    let topology = Topology::parse(
        "fixtures/topologies/8x12.toml",
        include_str!("../fixtures/topologies/8x12.toml"),
    )
    .expect("the 8x12 topology is valid");
    let mut sim = lab::sim::Sim::new(topology, None, 42, fixture_wall());
    sim.tick(10.0);
    let view = sim.view();
    FleetSnapshot {
        standby_shares: Default::default(),
        revision: 40,
        generated_at: sim.now(),
        regions: view.regions,
        providers: view.providers,
        gateways: view.gateways,
        services: view.services,
        notices: Vec::new(),
        operations: view.operations,
        lab: Some(sim.lab_info(1.0)),
        pools: view.pools,
        readiness: Some(view.readiness),
    }
}

/// The lab's escalation queue for the default topology, holding a synthetic backlog of
/// `count` tasks (the generator of `lab serve --escalations`) as of [`fixture_wall`]. Its
/// `detail` gives each task's context, candidates and lineage.
pub fn escalation_queue(seed: u64, count: usize) -> EscalationQueue {
    EscalationQueue::new(&Topology::embedded_default(), seed, count, fixture_wall())
}

/// Every open task of `queue`, soonest SLA deadline first, as `GET /v1/escalations` pages them.
pub fn escalation_summaries(queue: &EscalationQueue) -> Vec<EscalationSummary> {
    queue
        .list(&ListQuery {
            limit: usize::MAX,
            ..ListQuery::default()
        })
        .items
}

/// The console's list request of the lab source answered in one page.
pub fn escalations_loaded(summaries: Vec<EscalationSummary>) -> Msg {
    Msg::EscalationsLoaded {
        source: SOURCE.into(),
        result: Ok(summaries),
        done: true,
    }
}

/// A key pressed without modifiers.
pub fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Types `text` key by key; returns every effect.
pub fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| app.update(key(KeyCode::Char(c))))
        .collect()
}

/// An escalation event of the lab source.
pub fn escalation_event(kind: EscalationEventKind, summary: EscalationSummary) -> Msg {
    from_source(SourceEvent::Escalation(EscalationEvent { kind, summary }))
}

/// The lab source says who this console acts as.
pub fn as_user(app: &mut App, name: &str, role: Role) {
    app.update(from_source(SourceEvent::Identity(WhoAmI {
        name: name.into(),
        role,
    })));
}

/// A five-minute claim of `holder` on a task of the lab source, from its clock's now.
pub fn lease(holder: &str, app: &App) -> Lease {
    Lease {
        holder: holder.into(),
        claimed_at: app.source_clock(0),
        expires_at: app.source_clock(0) + TimeDelta::seconds(300),
    }
}

/// A 100x30 console as alice (operator) on the small fleet, its inbox loaded with `count`
/// tasks of the lab's backlog, showing the inbox.
pub fn operator_inbox(count: usize) -> (App, EscalationQueue) {
    let mut app = lab_app(100, 30, Instant::now());
    as_user(&mut app, "alice", Role::Operator);
    let effects = app.update(from_source(SourceEvent::Snapshot(small_fleet())));
    // It also asks for the source's shared runbook runs.
    let fetch = Effect::FetchEscalations {
        source: SOURCE.into(),
    };
    assert!(
        effects.contains(&fetch),
        "a snapshot asks for the escalation list: {effects:?}"
    );
    let queue = escalation_queue(7, count);
    app.update(escalations_loaded(escalation_summaries(&queue)));
    app.update(key(KeyCode::Char('5')));
    (app, queue)
}

/// Opens the first task of the inbox (in SLA order) whose detail in `queue` `want` accepts,
/// and answers its read with that detail; returns its id.
pub fn open_task_where(
    app: &mut App,
    queue: &EscalationQueue,
    want: impl Fn(&Escalation) -> bool,
) -> String {
    let index = app
        .inbox
        .rows()
        .iter()
        .position(|k| want(&queue.detail(app.inbox.item(k.slot).id()).unwrap()))
        .expect("a task of that kind in the backlog");
    app.inbox.select_index(index);
    let id = app
        .inbox
        .item(app.inbox.selected_slot().unwrap())
        .id()
        .to_string();
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::FetchEscalation {
            source: SOURCE.into(),
            id: id.clone()
        }]
    );
    app.update(Msg::EscalationLoaded {
        source: SOURCE.into(),
        id: id.clone(),
        result: Ok(Box::new(queue.detail(&id).unwrap())),
    });
    id
}

/// The ids of the inbox's rows, in order.
pub fn inbox_ids(app: &App) -> Vec<String> {
    app.inbox
        .rows()
        .iter()
        .map(|k| app.inbox.item(k.slot).id().to_string())
        .collect()
}

/// Waits until the inbox filter has delivered every match (it matches on threads).
pub fn settle_filter(app: &mut App) {
    if app.inbox.matching() {
        assert!(
            app.inbox
                .wait_for_matches(std::time::Duration::from_secs(60)),
            "the filter's matches arrive"
        );
        app.dirty = true;
    }
}

/// A source on 127.0.0.1 whose escalation list never ends: every page is empty, says the
/// list holds `total`, and carries a cursor — the same one every time when `same_cursor`, a
/// new one forever otherwise — after `delay`. Returns its URL and the count of requests.
pub async fn endless_escalation_source(
    total: u64,
    same_cursor: bool,
    delay: std::time::Duration,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let requests = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let router = axum::Router::new().route(
        "/v1/escalations",
        axum::routing::get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let cursor = if same_cursor { 0 } else { n };
            async move {
                tokio::time::sleep(delay).await;
                axum::Json(serde_json::json!({
                    "items": [], "total": total, "revision": 1, "next_cursor": format!("c{cursor}")
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, requests)
}

/// A port on 127.0.0.1 nothing listens on now, for a server a test starts as its own process
/// (the OS may hand it out again before that process binds it, which is rare enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// For a test whose real system (Prometheus, Temporal, ...) is not installed: under CI (`CI`
/// set, not `0` or `false`), where `.ci/run` installs it, a failure; elsewhere a skip said
/// loudly on the process's stderr (the test harness captures `eprintln!` of passing tests).
pub fn missing_system(message: &str) {
    let in_ci = std::env::var("CI").is_ok_and(|ci| !matches!(ci.as_str(), "" | "0" | "false"));
    assert!(!in_ci, "{message}");
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: {message} !!!!!!!!\n"
    );
}

/// The name of the metrics source of [`alerting_app`].
pub const METRICS: &str = "metrics";

/// A report of the metrics source of [`alerting_app`].
pub fn from_metrics(event: SourceEvent) -> Msg {
    Msg::Source(SourceMsg {
        source: METRICS.into(),
        event,
    })
}

/// An alert of the metrics source firing since 40 s before [`fixture_wall`] on provider
/// `vendor@region` (`vendor` `None`: on the region), with the labels Alertmanager gives it.
pub fn firing_alert(fingerprint: &str, region: &str, vendor: Option<&str>) -> FiringAlert {
    let mut labels = std::collections::BTreeMap::from([
        ("alertname".to_string(), "ProviderErrorRateHigh".to_string()),
        ("region".to_string(), region.to_string()),
        ("severity".to_string(), "critical".to_string()),
        ("job".to_string(), "litellm".to_string()),
    ]);
    if let Some(vendor) = vendor {
        labels.insert("api_provider".into(), vendor.into());
    }
    FiringAlert {
        name: "ProviderErrorRateHigh".into(),
        severity: Some("critical".into()),
        summary: Some(format!(
            "{} fails 62% of requests",
            vendor.unwrap_or(region)
        )),
        started_at: fixture_wall() - TimeDelta::seconds(40),
        fingerprint: fingerprint.into(),
        target: AlertTarget {
            region: Some(region.into()),
            provider: vendor.map(str::to_string),
            service: None,
        },
        silenced_by: Vec::new(),
        labels,
    }
}

/// The small fleet as alice (operator) beside a metrics source with an Alertmanager whose
/// alert fires on openai@us-east.
pub fn alerting_app(width: u16, height: u16, now: Instant) -> App {
    let mut app = lab_app(width, height, now);
    as_user(&mut app, "alice", Role::Operator);
    app.update(from_source(SourceEvent::Snapshot(small_fleet())));
    app.add_metrics_source(
        METRICS,
        "http://127.0.0.1:9090",
        std::time::Duration::from_secs(15),
    );
    let alert = firing_alert("f1", "us-east", Some("openai"));
    app.update(from_metrics(SourceEvent::Alerts(Ok(vec![alert]))));
    app.update(from_metrics(SourceEvent::Silences(Ok(Vec::new()))));
    app
}

/// The small fleet in a provider outage: openai@us-east fails nine calls in ten, its breaker
/// still closed and its share of traffic untouched (the start of `provider-outage.md`).
pub fn outage_fleet() -> FleetSnapshot {
    let mut fleet = small_fleet();
    let provider = fleet
        .providers
        .iter_mut()
        .find(|p| p.id == "openai@us-east")
        .expect("the small fleet has openai@us-east");
    provider.health = protocol::Health::Down;
    provider.error_rate = 0.9;
    fleet
}

/// A console as alice (operator) on the outage fleet, the shipped runbooks loaded with the
/// run record `record`, showing the Runbooks view.
pub fn runbooks_app(
    width: u16,
    height: u16,
    now: Instant,
    record: Vec<crate::runbook::run::RunLine>,
) -> App {
    let mut app = lab_app(width, height, now);
    as_user(&mut app, "alice", Role::Operator);
    app.update(from_source(SourceEvent::Snapshot(outage_fleet())));
    app.update(Msg::RunbooksLoaded {
        catalog: Box::new(crate::runbook::catalog::Catalog::load(None, &[])),
        record: Ok(record),
    });
    app.update(key(KeyCode::Char('6')));
    app
}

/// The source's answer to a command it applied, under audit entry `audit_id`.
pub fn accepted(audit_id: u64) -> protocol::commands::CommandAccepted {
    protocol::commands::CommandAccepted {
        audit_id,
        revision: 8,
        control_revision: 3,
        operation: None,
        warnings: Vec::new(),
        pending_approval: None,
    }
}

/// `fixtures/payloads/approval-pending.json`: alice's forced drain of us-east (apr-000003),
/// waiting for a second operator since 14:01:30, expiring at 14:16:30.
pub fn approval_request() -> protocol::approvals::ApprovalRequest {
    serde_json::from_str(include_str!("../fixtures/payloads/approval-pending.json"))
        .expect("fixture parses")
}

/// The lab source's `approval` event of `request`.
pub fn approval_event(request: protocol::approvals::ApprovalRequest) -> Msg {
    from_source(SourceEvent::Approval(Box::new(request)))
}

/// The run id of [`drill_records`].
pub const DRILL_RUN: &str = "ex-20261122-140300-provider-outage";

/// A short recorded drill on the small fleet: started at T0, fleet samples, the outage
/// injected at T+01:00, alice forcing openai@us-east's breaker open at T+01:35 (past a
/// blocking preflight), a message, a facilitator's note, the fleet well again at T+02:30,
/// ended at T+03:00. Its objectives: traffic off openai@us-east within 2 minutes of the outage
/// (weight 3: met at T+01:35), a promotion within 30 s of it (1: missed at T+01:30), no FORCE
/// (2: missed at T+01:35).
pub fn drill_records() -> Vec<protocol::exercise::record::RunRecord> {
    use protocol::commands::{AuditEntry, AuditOutcome, PreflightSeen, PreflightVerdict};
    use protocol::exercise::record::{
        ObjectiveCondition, ObjectiveSpec, Player, RunHeader, RunRecord,
    };
    use protocol::exercise::{
        Annotation, Control, ExerciseMessage, ExerciseRole, InjectState, Tone,
    };
    let at = |t_s: i64| fixture_wall() + TimeDelta::seconds(t_s);
    let fleet = |t_s: i64, mut snapshot: FleetSnapshot| {
        snapshot.generated_at = at(t_s);
        snapshot.revision = t_s as u64 + 1;
        RunRecord::Fleet {
            t_s: t_s as f64,
            snapshot: Box::new(snapshot),
        }
    };
    let outage = InjectState {
        id: "outage".into(),
        kind: "provider-outage".into(),
        target: "openai@us-east".into(),
        at_s: 60.0,
        duration_s: 600.0,
        summary: "openai@us-east outage (503s, 90% errors)".into(),
        narrative: "Pages fire for openai@us-east".into(),
        fired_at_s: None,
        facilitator_note: Some("watch whether they check the standby first".into()),
    };
    let objective = |id: &str, title: &str, weight: u32, within_s, condition| ObjectiveSpec {
        id: id.into(),
        title: title.into(),
        weight,
        after: Some("outage".into()),
        within_s,
        condition,
    };
    let control = |t_s: f64, control: Control| RunRecord::Control {
        t_s,
        by: "fran".into(),
        control,
    };
    let mut shifted = outage_fleet();
    if let Some(p) = shifted
        .providers
        .iter_mut()
        .find(|p| p.id == "openai@us-east")
    {
        p.traffic_share = 0.0;
    }
    vec![
        RunRecord::Header(RunHeader {
            format: protocol::exercise::record::FORMAT_VERSION,
            run_id: DRILL_RUN.into(),
            scenario: "provider-outage".into(),
            description: "openai@us-east fails".into(),
            briefing: "You are on call.".into(),
            seed: 9,
            speed: 1.0,
            created_at: fixture_wall(),
            players: vec![
                Player {
                    name: "fran".into(),
                    role: ExerciseRole::Facilitator,
                },
                Player {
                    name: "alice".into(),
                    role: ExerciseRole::Operator,
                },
            ],
            injects: vec![outage.clone()],
            objectives: vec![
                objective(
                    "traffic-off",
                    "Traffic off openai@us-east within 2 minutes of the outage",
                    3,
                    Some(120.0),
                    ObjectiveCondition::TrafficOff {
                        provider: "openai@us-east".into(),
                        below: 0.05,
                    },
                ),
                objective(
                    "promote",
                    "A standby promoted within 30 s of the outage",
                    1,
                    Some(30.0),
                    ObjectiveCondition::Action {
                        action: "promote".into(),
                        target: None,
                    },
                ),
                ObjectiveSpec {
                    after: None,
                    ..objective(
                        "no-force",
                        "No FORCE override used",
                        2,
                        None,
                        ObjectiveCondition::NoForce,
                    )
                },
            ],
        }),
        control(0.0, Control::Start),
        fleet(0, small_fleet()),
        fleet(5, small_fleet()),
        RunRecord::Inject {
            t_s: 60.0,
            inject: InjectState {
                fired_at_s: Some(60.0),
                ..outage
            },
        },
        fleet(60, outage_fleet()),
        RunRecord::Audit {
            t_s: 95.0,
            entry: AuditEntry {
                id: 1,
                at: at(95),
                actor: "alice".into(),
                action: "breaker force-open".into(),
                target: "openai@us-east".into(),
                reason: "90% errors since the outage".into(),
                idempotency_key: Some("k-1".into()),
                outcome: AuditOutcome::Accepted,
                detail: None,
                preflight: Some(PreflightSeen {
                    verdict: PreflightVerdict::Block,
                    findings: vec!["us-east would run on one provider".into()],
                    forced: true,
                    needs_approval: None,
                    approval_expires_after_s: None,
                }),
            },
        },
        fleet(95, shifted),
        RunRecord::Message {
            t_s: 120.0,
            message: ExerciseMessage {
                at_s: 120.0,
                from: "scenario".into(),
                text: "Support: customers report timeouts".into(),
            },
        },
        RunRecord::Annotation {
            t_s: 125.0,
            annotation: Annotation {
                at_s: 125.0,
                author: "fran".into(),
                tone: Tone::WentWell,
                text: "good call on the breaker".into(),
            },
        },
        fleet(150, small_fleet()),
        control(180.0, Control::End),
        fleet(180, small_fleet()),
    ]
}

/// Records as a recording file holds them: JSON Lines.
pub fn recording_text(records: &[protocol::exercise::record::RunRecord]) -> String {
    records
        .iter()
        .map(|r| serde_json::to_string(r).expect("records serialize") + "\n")
        .collect()
}

/// A drill of provider-outage as `you` would read it at `clock_s` in `phase`: the outage fired
/// at T+02:00 (detected 35 s later, mitigated at 1m10s), a message at T+03:00, one objective met, one
/// missed, one pending; the facilitator also sees the upcoming inject and the scenario's notes.
pub fn exercise_state(
    you: protocol::exercise::ExerciseRole,
    phase: protocol::exercise::ExercisePhase,
    clock_s: f64,
) -> protocol::exercise::ExerciseState {
    use protocol::exercise::*;
    let facilitator = you == ExerciseRole::Facilitator;
    let mut injects = vec![InjectState {
        id: "outage".into(),
        kind: "provider-outage".into(),
        target: "openai@us-east".into(),
        at_s: 120.0,
        duration_s: 600.0,
        summary: "openai@us-east outage (503s, 92% errors)".into(),
        narrative: "Pager: openai@us-east error rate above 90%".into(),
        fired_at_s: Some(120.0),
        facilitator_note: facilitator.then(|| "watch whether they check the standby first".into()),
    }];
    if facilitator {
        injects.push(InjectState {
            id: "lag".into(),
            kind: "replica-lag".into(),
            target: "risk-scorer".into(),
            at_s: 420.0,
            duration_s: 120.0,
            summary: "risk-scorer standby lags 40 s".into(),
            narrative: String::new(),
            fired_at_s: None,
            facilitator_note: Some("do they promote a lagging standby?".into()),
        });
    }
    ExerciseState {
        scenario: "provider-outage".into(),
        description: "openai@us-east fails; traffic must move".into(),
        briefing:
            "You are on call for the risk platform.\nAt T0 all is well. Keep customers served."
                .into(),
        phase,
        clock_s,
        speed: 1.0,
        you,
        injects,
        messages: vec![ExerciseMessage {
            at_s: 180.0,
            from: "scenario".into(),
            text: "Support: customers report timeouts".into(),
        }],
        notes: if facilitator {
            vec![Annotation {
                at_s: 160.0,
                author: "fran".into(),
                tone: Tone::WentWell,
                text: "good call on the breaker".into(),
            }]
        } else {
            Vec::new()
        },
        objectives: vec![
            ObjectiveState {
                id: "shift-traffic".into(),
                title: "Traffic off openai@us-east within 5 minutes of the outage".into(),
                weight: 3,
                deadline_s: Some(420.0),
                status: ObjectiveStatus::Met { at_s: 190.0 },
            },
            ObjectiveState {
                id: "no-force".into(),
                title: "No FORCE override used".into(),
                weight: 1,
                deadline_s: None,
                status: ObjectiveStatus::Missed {
                    at_s: 200.0,
                    why: "bob forced drain us-east".into(),
                },
            },
            ObjectiveState {
                id: "sla".into(),
                title: "Every P1 escalation resolved before its SLA".into(),
                weight: 2,
                deadline_s: None,
                status: ObjectiveStatus::Pending,
            },
        ],
        measures: vec![InjectMeasures {
            inject: "outage".into(),
            fired_at_s: 120.0,
            detect_s: Some(35.0),
            mitigate_s: Some(70.0),
            recover_s: None,
        }],
        sla_breaches: 1,
        risky_actions: vec![RiskyAction {
            at_s: 200.0,
            actor: "bob".into(),
            action: "drain".into(),
            target: "us-east".into(),
            reason: "get traffic off now".into(),
            forced: true,
            findings: vec!["eu-west would run at 112% of capacity".into()],
        }],
        score: Score {
            earned: 3,
            possible: 6,
        },
        recording: Some(
            "/var/lib/switchboard/exercises/ex-20261202-071500-provider-outage.jsonl".into(),
        ),
    }
}

/// The lab source reports its drill.
pub fn exercise_read(state: protocol::exercise::ExerciseState) -> Msg {
    from_source(SourceEvent::Exercise(Ok(Some(Box::new(state)))))
}
