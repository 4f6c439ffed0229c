//! The preflight against the lab's own numbers, and the command CLI (`run_command`) against a
//! real lab on 127.0.0.1.
//!
//! Each preflight test takes a snapshot, computes the preflight, sends the command, and
//! compares what the preflight predicted with the fleet the lab serves right after (the lab
//! applies a command at once, so nothing needs to settle but a promotion's operation).
//!
//! Tolerance, and why: the lab jitters every service's demand by up to ±2% at each simulation
//! step, and the command itself runs one; the snapshot and the fleet after are two such draws,
//! so a service's traffic may differ by up to 4% between what the preflight saw and what the
//! lab does. Demand also swells by 5% over 900 simulated seconds: at [`SPEED`] a test spends
//! well under a second (20 simulated seconds, at most 0.7% of swell). The snapshot rounds
//! loads to 0.1 rps. So a predicted load must be within 5% + 0.3 rps of the lab's, a share
//! (a ratio of two such loads) within 10% of itself + 0.005, and a headroom within the load's
//! tolerance over capacity. A verdict (ok / low / overload) is compared wherever the predicted
//! headroom is further than that tolerance from a threshold.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use lab::{LabOptions, LabServer};
use protocol::commands::{AuditEntry, BreakerAction, OperationState, WeightScope};
use protocol::{FleetSnapshot, Region};
use serde_json::Value;
use switchboard::cli::commands::{CommandArgs, run_command};
use switchboard::domain::command::Command;
use switchboard::domain::preflight::{LOW_HEADROOM, Preflight, Verdict, preflight};
use switchboard::journal::{Entry, Journal, Outcome, resolve_pending};
use switchboard::sources::{Client, SourceSpec};

/// Simulated seconds per real second: a hot takeover (5 s) ends within a quarter second,
/// while demand barely swells during a test.
const SPEED: f64 = 20.0;
/// Bound of every wait; generous, only there to turn a hang into a failure.
const WAIT: Duration = Duration::from_secs(20);

async fn start_lab() -> LabServer {
    let options = LabOptions {
        speed: SPEED,
        ..LabOptions::default()
    };
    LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client(lab: &LabServer, who: &str) -> Client {
    Client::new(&lab.url(), lab.token_for(who).map(String::from)).unwrap()
}

fn spec(lab: &LabServer, who: &str) -> SourceSpec {
    SourceSpec {
        name: "lab".into(),
        url: lab.url(),
        token: lab.token_for(who).map(String::from),
    }
}

fn load_tolerance(rps: f64) -> f64 {
    0.05 * rps.abs() + 0.3
}

fn assert_load(what: &str, predicted: f64, actual: f64) {
    assert!(
        (predicted - actual).abs() <= load_tolerance(predicted.max(actual)),
        "{what}: predicted {predicted:.1} rps, the lab has {actual:.1}"
    );
}

fn region<'s>(snapshot: &'s FleetSnapshot, id: &str) -> &'s Region {
    snapshot.regions.iter().find(|r| r.id == id).unwrap()
}

/// Sends `command` as alice with the target's revision from `seen`.
async fn send(lab: &LabServer, command: &Command, seen: &FleetSnapshot) -> Vec<String> {
    let key = uuid::Uuid::new_v4().to_string();
    let revision = command.control_revision(seen).unwrap();
    client(lab, "alice")
        .command(command, "preflight test", &key, revision)
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"))
        .warnings
}

/// Every region, replica and provider the preflight predicted against the fleet after; and
/// every region it did not list kept its load.
fn assert_prediction(check: &Preflight, before: &FleetSnapshot, after: &FleetSnapshot) {
    for shift in &check.regions {
        let actual = region(after, &shift.region);
        let what = format!("region {}", shift.region);
        assert_load(&what, shift.load_after_rps, actual.load_rps);
        let share_tolerance = 0.1 * shift.share_after + 0.005;
        assert!(
            (shift.share_after - actual.traffic_share).abs() <= share_tolerance,
            "{what}: predicted share {:.3}, the lab has {:.3}",
            shift.share_after,
            actual.traffic_share
        );
        let headroom_tolerance = load_tolerance(shift.load_after_rps) / shift.capacity_rps;
        assert!(
            (shift.headroom_after - actual.headroom()).abs() <= headroom_tolerance,
            "{what}: predicted headroom {:.3}, the lab has {:.3}",
            shift.headroom_after,
            actual.headroom()
        );
        let clear_of_thresholds = [0.0, LOW_HEADROOM]
            .iter()
            .all(|t| (shift.headroom_after - t).abs() > headroom_tolerance);
        if clear_of_thresholds {
            assert_eq!(shift.verdict, Verdict::of(actual.headroom()), "{what}");
        }
    }
    for region_before in &before.regions {
        if !check.regions.iter().any(|s| s.region == region_before.id) {
            let what = format!("region {} (untouched)", region_before.id);
            assert_load(
                &what,
                region_before.load_rps,
                region(after, &region_before.id).load_rps,
            );
        }
    }
    for shift in &check.replicas {
        let service = after
            .services
            .iter()
            .find(|s| s.id == shift.service)
            .unwrap();
        let actual = service
            .replicas
            .iter()
            .find(|r| r.id == shift.replica)
            .unwrap();
        assert_load(
            &format!("replica {}", shift.replica),
            shift.load_after_rps,
            actual.load_rps,
        );
    }
    for shift in &check.providers {
        let actual = after
            .providers
            .iter()
            .find(|p| p.id == shift.provider)
            .unwrap();
        assert_load(
            &format!("provider {}", shift.provider),
            shift.load_after_rps,
            actual.load_rps,
        );
    }
}

/// The lab's own warnings about what a command overloaded or left unserved are all in the
/// preflight's blocking reasons.
fn assert_lab_warnings_foreseen(check: &Preflight, lab_warnings: &[String]) {
    for warning in lab_warnings {
        let subject = warning.split_whitespace().next().unwrap();
        let foreseen = if warning.contains("is over capacity") {
            check
                .overloads
                .iter()
                .any(|o| o.starts_with(&format!("region {subject} ")))
        } else if warning.contains(" gets ") && warning.contains("of capacity") {
            check
                .overloads
                .iter()
                .any(|o| o.starts_with(&format!("replica {subject} ")))
        } else if warning.contains("has no replica taking traffic") {
            check
                .no_path
                .iter()
                .any(|n| n.service == subject && n.region.is_none())
        } else {
            continue;
        };
        assert!(
            foreseen,
            "the lab warned {warning:?}; the preflight said {check:#?}"
        );
    }
}

#[tokio::test]
async fn a_drain_lands_where_the_preflight_said() {
    let lab = start_lab().await;
    let alice = client(&lab, "alice");
    let before = alice.fleet().await.unwrap();
    let drain = Command::Drain {
        region: "us-east".into(),
        expires_in_s: None,
    };
    let check = preflight(&drain, &before);
    // us-east is the big region: eu-west cannot absorb its share, and credit-decision's only
    // active replica is there.
    assert!(check.blocks());
    assert_eq!(region_verdict(&check, "eu-west"), Verdict::Overload);
    assert!(check.no_path.iter().any(|n| n.service == "credit-decision"));

    let warnings = send(&lab, &drain, &before).await;
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);
    assert_lab_warnings_foreseen(&check, &warnings);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("eu-west is over capacity")),
        "{warnings:?}"
    );
    let credit = after
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    assert!(
        credit.replicas.iter().all(|r| r.load_rps == 0.0),
        "no path, as foretold"
    );
    lab.shutdown().await;
}

fn region_verdict(check: &Preflight, id: &str) -> Verdict {
    check
        .regions
        .iter()
        .find(|r| r.region == id)
        .unwrap()
        .verdict
}

#[tokio::test]
async fn weights_land_where_the_preflight_said() {
    let lab = start_lab().await;
    let alice = client(&lab, "alice");
    let before = alice.fleet().await.unwrap();
    // Regions start from their capacity (us-east 120 of 330): 180 pulls more to us-east.
    let regions = Command::Weights {
        service: "risk-scorer".into(),
        scope: WeightScope::Regions,
        weights: BTreeMap::from([("us-east".to_string(), 180.0)]),
    };
    let check = preflight(&regions, &before);
    assert!(!check.blocks(), "{check:#?}");
    assert!(!check.regions.is_empty());
    send(&lab, &regions, &before).await;
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);

    // Within us-east's gateway: openai weighted 0 sends risk-scorer to rank 2.
    let providers = Command::Weights {
        service: "risk-scorer".into(),
        scope: WeightScope::Providers {
            region: "us-east".into(),
        },
        weights: BTreeMap::from([("openai@us-east".to_string(), 0.0)]),
    };
    let before = after;
    let check = preflight(&providers, &before);
    assert!(
        check
            .providers
            .iter()
            .any(|p| p.provider == "google@us-east")
    );
    send(&lab, &providers, &before).await;
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);
    lab.shutdown().await;
}

#[tokio::test]
async fn forcing_breakers_open_lands_where_the_preflight_said() {
    let lab = start_lab().await;
    let alice = client(&lab, "alice");
    let force_open = |provider: &str| Command::Breaker {
        provider: provider.into(),
        action: BreakerAction::ForceOpen,
        expires_in_s: None,
    };
    let before = alice.fleet().await.unwrap();
    let first = force_open("self-hosted@ap-south");
    let check = preflight(&first, &before);
    assert!(
        !check.blocks(),
        "google@ap-south takes log-aggregator: {check:#?}"
    );
    send(&lab, &first, &before).await;
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);

    // Now google@ap-south is log-aggregator's last provider.
    let before = after;
    let last = force_open("google@ap-south");
    let check = preflight(&last, &before);
    assert!(check.blocks());
    assert!(
        check
            .no_path
            .iter()
            .any(|n| n.service == "log-aggregator" && n.region.as_deref() == Some("ap-south")),
        "{:#?}",
        check.no_path
    );
    let warnings = send(&lab, &last, &before).await;
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);
    assert_lab_warnings_foreseen(&check, &warnings);
    let logs = after
        .services
        .iter()
        .find(|s| s.id == "log-aggregator")
        .unwrap();
    assert_eq!(logs.replicas[0].load_rps, 0.0, "no path, as foretold");
    lab.shutdown().await;
}

#[tokio::test]
async fn a_promotion_takes_the_time_and_lands_where_the_preflight_said() {
    let lab = start_lab().await;
    let alice = client(&lab, "alice");
    let before = alice.fleet().await.unwrap();
    let credit = before
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    let standby = credit
        .replicas
        .iter()
        .find(|r| r.role.is_standby())
        .unwrap();
    let promote = Command::Promote {
        service: credit.id.clone(),
        replica: standby.id.clone(),
    };
    let check = preflight(&promote, &before);
    let takeover = check.takeover.clone().unwrap();
    let key = uuid::Uuid::new_v4().to_string();
    let accepted = alice
        .command(&promote, "preflight test", &key, credit.control_revision)
        .await
        .unwrap();
    let operation = accepted.operation.unwrap();
    let planned = (operation.eta.unwrap() - operation.started_at).as_seconds_f64();
    assert!(
        (planned - takeover.expected_takeover_s).abs() < 0.01,
        "the lab plans {planned}s, the preflight said {}s",
        takeover.expected_takeover_s
    );
    let finished = tokio::time::timeout(WAIT, async {
        loop {
            let now = alice.operation(&operation.id).await.unwrap();
            if now.state != OperationState::Running {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(finished.state, OperationState::Succeeded, "{finished:?}");
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);
    lab.shutdown().await;
}

// ------------------------------------------------------------------------- the command CLI

#[derive(Parser)]
struct TestCli {
    #[command(subcommand)]
    command: CommandArgs,
}

fn args(line: &str) -> CommandArgs {
    let words = std::iter::once("switchboard").chain(line.split_whitespace());
    TestCli::try_parse_from(words)
        .unwrap_or_else(|e| panic!("{line}: {e}"))
        .command
}

struct Run {
    code: i32,
    output: String,
}

async fn run(
    line: &str,
    source: SourceSpec,
    journal: &mut Journal,
    confirm: impl FnMut(&str) -> bool,
) -> Run {
    let mut out = Vec::new();
    let code = tokio::time::timeout(
        WAIT,
        run_command(args(line), source, "lab", journal, &mut out, confirm),
    )
    .await
    .expect("run_command hangs")
    .unwrap();
    Run {
        code,
        output: String::from_utf8(out).unwrap(),
    }
}

fn never_asked(question: &str) -> bool {
    panic!("asked {question:?} despite --yes or a refusal")
}

fn journal_in(dir: &tempfile::TempDir) -> Journal {
    Journal::open(&dir.path().join("commands.jsonl")).unwrap()
}

async fn audit_of(lab: &LabServer, key: &str) -> Vec<AuditEntry> {
    client(lab, "alice")
        .audit(Some(50), None, Some(key))
        .await
        .unwrap()
        .entries
}

#[tokio::test]
async fn a_command_from_the_shell_is_previewed_sent_journalled_and_audited() {
    let lab = start_lab().await;
    let dir = tempfile::tempdir().unwrap();
    let mut journal = journal_in(&dir);
    let line = "breaker openai@us-east force-open --for 10m --reason 503s --yes";
    let run = run(line, spec(&lab, "bob"), &mut journal, never_asked).await;
    assert_eq!(run.code, 0, "{}", run.output);
    let out = &run.output;
    assert!(
        out.starts_with(
            "breaker force-open openai@us-east for 10m00s: its gateways route around it"
        ),
        "{out}"
    );
    assert!(out.contains("  provider  anthropic@us-east"), "{out}");
    assert!(out.contains("accepted: audit #"), "{out}");
    assert!(out.contains("1 attempt(s)"), "{out}");

    let record = &journal.recent(1)[0];
    assert!(journal.pending().is_empty());
    let Some(Outcome::Accepted { audit_id, .. }) = record.outcome else {
        panic!("{record:?}");
    };
    let audited = audit_of(&lab, &record.entry.idempotency_key).await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].id, audit_id);
    assert_eq!(
        (audited[0].actor.as_str(), audited[0].reason.as_str()),
        ("bob", "503s")
    );
    // A reopened journal tells the same story.
    let reopened = journal_in(&dir);
    assert_eq!(reopened.recent(5), journal.recent(5));
    lab.shutdown().await;
}

#[tokio::test]
async fn an_overloading_move_is_refused_unless_forced() {
    let lab = start_lab().await;
    let dir = tempfile::tempdir().unwrap();
    let mut journal = journal_in(&dir);
    let line = "drain us-east --reason brownout --yes";
    let refused = run(line, spec(&lab, "bob"), &mut journal, never_asked).await;
    assert_eq!(refused.code, 3, "{}", refused.output);
    let out = &refused.output;
    assert!(out.contains("  region    eu-west"), "{out}");
    assert!(out.contains("OVERLOAD"), "{out}");
    assert!(
        out.contains("refused: credit-decision: no replica would take its traffic"),
        "{out}"
    );
    assert!(out.contains("region eu-west at 1"), "{out}");
    assert!(
        out.contains("nothing was sent (--force sends it anyway)"),
        "{out}"
    );
    assert!(journal.recent(5).is_empty(), "nothing journalled");
    let log = client(&lab, "alice").audit(None, None, None).await.unwrap();
    assert!(
        log.entries.iter().all(|e| e.action != "drain"),
        "nothing sent"
    );

    let forced = run(
        &format!("{line} --force"),
        spec(&lab, "bob"),
        &mut journal,
        never_asked,
    )
    .await;
    assert_eq!(forced.code, 0, "{}", forced.output);
    assert!(
        forced.output.contains("eu-west is over capacity"),
        "the lab agrees: {}",
        forced.output
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn a_viewer_is_told_403_and_the_journal_keeps_the_rejection() {
    let lab = start_lab().await;
    let dir = tempfile::tempdir().unwrap();
    let mut journal = journal_in(&dir);
    let line = "degrade email-notifier serve-cache on --reason slow --yes";
    let run = run(line, spec(&lab, "victor"), &mut journal, never_asked).await;
    assert_eq!(run.code, 2, "{}", run.output);
    assert!(run.output.contains("rejected: 403: "), "{}", run.output);
    let record = &journal.recent(1)[0];
    assert!(
        matches!(
            &record.outcome,
            Some(Outcome::Rejected {
                status: Some(403),
                ..
            })
        ),
        "{record:?}"
    );
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_changed_after_the_preview_is_a_conflict() {
    let lab = start_lab().await;
    let dir = tempfile::tempdir().unwrap();
    let mut journal = journal_in(&dir);
    let alice = client(&lab, "alice");
    let runtime = tokio::runtime::Handle::current();
    // While bob reads the preview, alice pins the same provider.
    let meanwhile = |_: &str| {
        tokio::task::block_in_place(|| {
            runtime.block_on(async {
                let fleet = alice.fleet().await.unwrap();
                let pin = Command::Breaker {
                    provider: "openai@us-east".into(),
                    action: BreakerAction::Pin,
                    expires_in_s: None,
                };
                let revision = pin.control_revision(&fleet).unwrap();
                alice
                    .command(&pin, "hold it", "alice-pin", revision)
                    .await
                    .unwrap();
            })
        });
        true
    };
    let line = "breaker openai@us-east force-open --reason 503s";
    let run = run(line, spec(&lab, "bob"), &mut journal, meanwhile).await;
    assert_eq!(run.code, 4, "{}", run.output);
    assert!(
        run.output.contains(
            "conflict: 409: openai@us-east changed since you looked (now control revision"
        ),
        "{}",
        run.output
    );
    assert!(run.output.contains("— review and retry"), "{}", run.output);
    lab.shutdown().await;
}

#[tokio::test]
async fn declining_sends_nothing() {
    let lab = start_lab().await;
    let dir = tempfile::tempdir().unwrap();
    let mut journal = journal_in(&dir);
    let mut asked = Vec::new();
    let line = "undrain us-east --reason oops";
    // us-east is not drained: the preflight says so and nothing is asked.
    let not_drained = run(line, spec(&lab, "bob"), &mut journal, never_asked).await;
    assert_eq!(not_drained.code, 2, "{}", not_drained.output);
    assert!(
        not_drained.output.contains("error: us-east is not drained"),
        "{}",
        not_drained.output
    );
    let line = "breaker openai@us-east pin --reason flapping";
    let declined = run(line, spec(&lab, "bob"), &mut journal, |q: &str| {
        asked.push(q.to_string());
        false
    })
    .await;
    assert_eq!(declined.code, 1, "{}", declined.output);
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].starts_with("Send `breaker pin openai@us-east` in context lab"),
        "{asked:?}"
    );
    assert!(
        declined
            .output
            .contains("declined: not confirmed; nothing was sent")
    );
    assert!(journal.recent(5).is_empty());
    lab.shutdown().await;
}

/// Forwards to the lab, but the answer to the first POST is lost on the way back (the lab
/// has acted; the connection drops mid-answer).
#[derive(Clone)]
struct LossyProxy {
    upstream: String,
    http: reqwest::Client,
    posts: Arc<AtomicUsize>,
}

async fn lossy_forward(State(proxy): State<LossyProxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = proxy
        .http
        .request(parts.method.clone(), format!("{}{path}", proxy.upstream))
        .body(body);
    for (name, value) in parts.headers.iter().filter(|(n, _)| *n != header::HOST) {
        upstream = upstream.header(name, value);
    }
    let answer = upstream.send().await.unwrap();
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = answer.bytes().await.unwrap();
    if parts.method == Method::POST && proxy.posts.fetch_add(1, Ordering::SeqCst) == 0 {
        let lost = futures::stream::once(async {
            Err::<Bytes, _>(std::io::Error::other("connection lost"))
        });
        return (status, Body::from_stream(lost)).into_response();
    }
    let mut response = (status, bytes).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_key_and_acts_once() {
    let lab = start_lab().await;
    let proxy = LossyProxy {
        upstream: lab.url(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        posts: Arc::new(AtomicUsize::new(0)),
    };
    let posts = Arc::clone(&proxy.posts);
    let router = Router::new().fallback(lossy_forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let dir = tempfile::tempdir().unwrap();
    let mut journal = journal_in(&dir);
    let source = SourceSpec {
        url,
        ..spec(&lab, "bob")
    };
    let line = "degrade email-notifier serve-cache on --reason slow --yes --json";
    let run = run(line, source, &mut journal, never_asked).await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(posts.load(Ordering::SeqCst), 2, "sent twice");
    let report: Value = serde_json::from_str(&run.output).unwrap();
    assert_eq!(report["attempts"], 2);
    let key = report["idempotency_key"].as_str().unwrap();
    let audited = audit_of(&lab, key).await;
    assert_eq!(audited.len(), 1, "acted once: {audited:?}");
    assert_eq!(
        report["audit_id"], audited[0].id,
        "the replay answers with the first outcome"
    );
    let record = &journal.recent(1)[0];
    assert_eq!(
        record.outcome,
        Some(Outcome::Accepted {
            audit_id: audited[0].id,
            operation_id: None
        })
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn json_output_has_stable_fields() {
    let lab = start_lab().await;
    let dir = tempfile::tempdir().unwrap();
    let mut journal = journal_in(&dir);
    let line = "weights risk-scorer openai@us-east=0 --region us-east --reason shift --yes --json";
    let run = run(line, spec(&lab, "alice"), &mut journal, never_asked).await;
    assert_eq!(run.code, 0, "{}", run.output);
    let report: Value = serde_json::from_str(&run.output).unwrap();
    assert_eq!(report["command"], "weights");
    assert_eq!(report["target"], "risk-scorer@us-east");
    assert_eq!(report["context"], "lab");
    assert_eq!(report["source"], lab.url());
    assert_eq!(report["outcome"], "accepted");
    assert_eq!(report["exit_code"], 0);
    assert!(uuid::Uuid::parse_str(report["idempotency_key"].as_str().unwrap()).is_ok());
    assert!(report["if_match"].is_u64());
    assert!(report["audit_id"].is_u64());
    assert!(report["control_revision"].as_u64() > report["if_match"].as_u64());
    assert!(report["warnings"].is_array());
    assert_eq!(report["attempts"], 1);
    let check = &report["preflight"];
    assert!(
        check["summary"]
            .as_str()
            .unwrap()
            .starts_with("weights risk-scorer@us-east")
    );
    assert_eq!(check["moves_traffic"], true);
    let google = check["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "google@us-east")
        .unwrap();
    assert!(
        google["load_after_rps"].as_f64().unwrap() > 20.0,
        "{google}"
    );
    for list in [
        "regions",
        "replicas",
        "no_path",
        "overloads",
        "warnings",
        "errors",
    ] {
        assert!(check[list].is_array(), "{list}");
    }
    assert!(report.get("operation").is_none());
    lab.shutdown().await;
}

#[tokio::test]
async fn a_promotion_can_be_followed_to_its_end() {
    let lab = start_lab().await;
    let dir = tempfile::tempdir().unwrap();
    let mut journal = journal_in(&dir);
    let fleet = client(&lab, "alice").fleet().await.unwrap();
    let credit = fleet
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    let standby = credit
        .replicas
        .iter()
        .find(|r| r.role.is_standby())
        .unwrap();
    let line = format!(
        "promote credit-decision {} --reason failover --yes --wait --json",
        standby.id
    );
    let run = run(&line, spec(&lab, "alice"), &mut journal, never_asked).await;
    assert_eq!(run.code, 0, "{}", run.output);
    let report: Value = serde_json::from_str(&run.output).unwrap();
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(report["operation"]["state"], "succeeded");
    assert_eq!(report["preflight"]["takeover"]["expected_takeover_s"], 5.0);
    // us-west is sized to take credit-decision over: it gains the load, without overload.
    let west = report["preflight"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "us-west")
        .unwrap();
    assert!(
        west["load_after_rps"].as_f64() > west["load_before_rps"].as_f64(),
        "{west}"
    );
    assert_ne!(west["verdict"], "overload", "{west}");
    let after = client(&lab, "alice").fleet().await.unwrap();
    let promoted = after
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    assert!(
        promoted
            .replicas
            .iter()
            .any(|r| r.id == standby.id && !r.role.is_standby())
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn a_pending_command_is_resolved_from_the_audit_log() {
    let lab = start_lab().await;
    let bob = client(&lab, "bob");
    let dir = tempfile::tempdir().unwrap();
    let mut journal = journal_in(&dir);
    let fleet = bob.fleet().await.unwrap();
    let pin = Command::Breaker {
        provider: "google@eu-west".into(),
        action: BreakerAction::Pin,
        expires_in_s: None,
    };
    let revision = pin.control_revision(&fleet).unwrap();
    // Journalled and sent, then the console "crashed" before recording the answer.
    let arrived = Entry::new("lab", &lab.url(), &pin, "flaps", "key-arrived", revision);
    journal.record_sent(&arrived).unwrap();
    let accepted = bob
        .command(&pin, "flaps", "key-arrived", revision)
        .await
        .unwrap();
    // Journalled, then the console died before sending.
    let lost = Entry::new("lab", &lab.url(), &pin, "flaps", "key-lost", revision);
    journal.record_sent(&lost).unwrap();
    drop(journal);

    let mut journal = journal_in(&dir);
    assert_eq!(journal.pending(), [arrived.clone(), lost.clone()]);
    for entry in journal.pending() {
        let outcome = resolve_pending(&bob, &entry).await;
        journal.record_result(&entry.id, outcome).unwrap();
    }
    let recent = journal.recent(2);
    assert_eq!(
        recent[0].outcome,
        Some(Outcome::Accepted {
            audit_id: accepted.audit_id,
            operation_id: None
        })
    );
    assert_eq!(recent[1].outcome, Some(Outcome::NeverReceived));
    assert!(journal.pending().is_empty());
    assert_eq!(
        recent[1].outcome.as_ref().unwrap().describe(),
        "never reached the server"
    );
    lab.shutdown().await;
}
