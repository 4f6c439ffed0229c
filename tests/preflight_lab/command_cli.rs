//! The command CLI (`run_command`) against a real lab: preview, confirmation, journal, audit,
//! refusal, conflicts, retries with one key, JSON output, `--wait`, pending entries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use lab::LabServer;
use protocol::commands::{AuditEntry, BreakerAction, PreflightVerdict};
use serde_json::Value;
use switchboard::cli::commands::{CommandArgs, ContextRules, run_command};
use switchboard::domain::command::Command;
use switchboard::domain::prices::CostConfig;
use switchboard::journal::{Entry, Journal, Outcome, resolve_pending};
use switchboard::sources::SourceSpec;

use crate::{WAIT, client, credit_decision_and_standby, spec, start_lab};

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

/// The lab context's rules: no two-person rule, no prices beyond the lab's own.
fn rules() -> ContextRules<'static> {
    static NO_PRICES: std::sync::LazyLock<CostConfig> =
        std::sync::LazyLock::new(CostConfig::default);
    ContextRules {
        name: "lab",
        approvals: None,
        cost: &NO_PRICES,
    }
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
        run_command(args(line), source, &rules(), journal, &mut out, confirm),
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
    let seen = audited[0]
        .preflight
        .as_ref()
        .expect("the command carried its preflight");
    assert!(!seen.forced, "{seen:?}");
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
    // The audit log knows it was forced past the preflight, and what the preflight said.
    let sent = &journal.recent(1)[0].entry;
    let audited = audit_of(&lab, &sent.idempotency_key).await;
    let seen = audited[0]
        .preflight
        .as_ref()
        .expect("the command carried its preflight");
    assert_eq!(seen.verdict, PreflightVerdict::Block);
    assert!(seen.forced);
    assert!(
        seen.findings
            .iter()
            .any(|f| f.contains("no replica would take its traffic")),
        "{seen:?}"
    );
    assert_eq!(sent.command.body["preflight"], serde_json::json!(seen));
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
                    .command(&pin, "hold it", None, "alice-pin", revision)
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
    let (_, standby) = credit_decision_and_standby(&fleet);
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
    let arrived = Entry::new(
        "lab",
        &lab.url(),
        &pin,
        "flaps",
        None,
        "key-arrived",
        revision,
    );
    journal.record_sent(&arrived).unwrap();
    let accepted = bob
        .command(&pin, "flaps", None, "key-arrived", revision)
        .await
        .unwrap();
    // Journalled, then the console died before sending.
    let lost = Entry::new("lab", &lab.url(), &pin, "flaps", None, "key-lost", revision);
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
