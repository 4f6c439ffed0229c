//! `switchboard approvals list|show|approve|deny|withdraw`: the two-person rule for scripts.
//! A decision carries a reason and a fresh idempotency key, is journaled before it is sent and
//! sent again under the same key when no answer comes, as the fleet commands are.
//!
//! Exit codes: 0 listed, shown or decided (an approval: the command was carried out);
//! 2 error (unreachable, 401, no such request (404), not the caller's to decide (403: their
//! own request, or a viewer), no answer after the retries); 4 conflict (409: decided already,
//! by whom, or approved but its target changed meanwhile, so it was not carried out).

use std::io::Write;

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::clock::SourceClock;
use crate::cli::output::{EXIT_CONFLICT, EXIT_ERROR, EXIT_OK, process_exit_code, write_json};
use crate::cli::target::Target;
use crate::journal::{Entry, Journal, Outcome, SentCommand};
use crate::sources::approvals::decided_request;
use crate::sources::delivery::{ATTEMPTS, deliver_with};
use crate::sources::{Client, ClientError, SourceSpec};
use protocol::approvals::{ApprovalRequest, ApprovalState, DecisionKind, DecisionRequest};
use protocol::sanitize::clean;

#[derive(clap::Subcommand)]
pub enum ApprovalsArgs {
    /// Requests held for a second operator: pending ones first (oldest first), then the
    /// decided ones, newest first.
    List {
        #[command(flatten)]
        on: SourceArg,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One request: who asks, what, why it waits, the preflight they saw, and its decision.
    Show {
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        on: SourceArg,
        /// Print the request as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve another operator's request: the source carries the command out once, under
    /// its original idempotency key and If-Match.
    Approve {
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        decision: DecisionArgs,
    },
    /// Deny another operator's request: the command is never carried out.
    Deny {
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        decision: DecisionArgs,
    },
    /// Take back your own request.
    Withdraw {
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        decision: DecisionArgs,
    },
}

/// Which protocol v1 source of the context: the named one, else the first.
#[derive(clap::Args)]
pub struct SourceArg {
    /// The protocol v1 source that holds the requests (default: the context's first).
    #[arg(long, value_name = "NAME")]
    source: Option<String>,
}

#[derive(clap::Args)]
pub struct DecisionArgs {
    /// Why: required, kept with the request and in the audit log with your name.
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    on: SourceArg,
}

impl ApprovalsArgs {
    fn source(&self) -> &SourceArg {
        match self {
            ApprovalsArgs::List { on, .. } | ApprovalsArgs::Show { on, .. } => on,
            ApprovalsArgs::Approve { decision, .. }
            | ApprovalsArgs::Deny { decision, .. }
            | ApprovalsArgs::Withdraw { decision, .. } => &decision.on,
        }
    }

    /// Whether it decides (and so needs the journal and a context that may change things).
    fn decides(&self) -> bool {
        !matches!(
            self,
            ApprovalsArgs::List { .. } | ApprovalsArgs::Show { .. }
        )
    }
}

/// What a decision came to; printed as text or, with `--json`, as this object (its field
/// names are a stable interface for scripts).
#[derive(Serialize, Debug)]
struct DecisionReport {
    /// `approve`, `deny` or `withdraw`.
    decision: &'static str,
    id: String,
    /// `approved`, `denied`, `withdrawn`, `forbidden`, `not-found`, `conflict`, `rejected`,
    /// `unknown` (no answer) or `error` (nothing sent).
    outcome: &'static str,
    exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    idempotency_key: String,
    /// How many times it was sent (the same idempotency key each time).
    attempts: u32,
    /// The request as the answer (or a 409) gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<ApprovalRequest>,
}

/// [`run_approvals`] from the shell, on the source `--source` names (else the context's
/// first), printing to stdout. A decision needs the journal, and sends nothing in a
/// read-only context (exit 2).
pub async fn run_from_shell(args: ApprovalsArgs, target: &Target) -> anyhow::Result<u8> {
    let source = match &args.source().source {
        Some(name) => {
            (target.sources.iter().find(|s| s.name == *name).cloned()).with_context(|| {
                let known: Vec<&str> = target.sources.iter().map(|s| s.name.as_str()).collect();
                format!(
                    "context {} has no protocol v1 source {name}; its sources: {}",
                    target.context.name,
                    known.join(", ")
                )
            })?
        }
        None => target.first_source()?,
    };
    let out = &mut std::io::stdout();
    let code = if args.decides() {
        if target.refuses_mutation() {
            return Ok(process_exit_code(EXIT_ERROR));
        }
        let mut journal = target.open_journal()?;
        run_approvals(args, source, &target.context.name, Some(&mut journal), out).await?
    } else {
        run_approvals(args, source, &target.context.name, None, out).await?
    };
    out.flush()?;
    Ok(process_exit_code(code))
}

/// Runs one `approvals` command against `source`; returns the exit code. A decision needs
/// the journal (it is journaled before it is sent).
pub async fn run_approvals(
    args: ApprovalsArgs,
    source: SourceSpec,
    context: &str,
    journal: Option<&mut Journal>,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let client = Client::new(&source.url, source.token.clone())?;
    let (kind, id, decision) = match &args {
        ApprovalsArgs::List { json, .. } => return list(&client, *json, out).await,
        ApprovalsArgs::Show { id, json, .. } => return show(&client, id, *json, out).await,
        ApprovalsArgs::Approve { id, decision } => (DecisionKind::Approve, id, decision),
        ApprovalsArgs::Deny { id, decision } => (DecisionKind::Deny, id, decision),
        ApprovalsArgs::Withdraw { id, decision } => (DecisionKind::Withdraw, id, decision),
    };
    let journal = journal.context("a decision needs the command journal")?;
    let report = decide(&client, context, kind, id, &decision.reason, journal).await;
    if decision.json {
        write_json(out, &report, "decision")?;
    } else {
        write_decision(out, &report)?;
    }
    Ok(report.exit_code)
}

async fn list(client: &Client, json: bool, out: &mut impl Write) -> anyhow::Result<i32> {
    let list = match client.approvals().await {
        Ok(list) => list,
        Err(error) => return failed(out, "list", "", &error),
    };
    if json {
        write_json(out, &list, "list")?;
        return Ok(EXIT_OK);
    }
    let clock = SourceClock::of(client).await;
    for request in &list.requests {
        writeln!(out, "{}", list_line(request, &clock))?;
    }
    let pending = (list.requests.iter())
        .filter(|r| r.state == ApprovalState::Pending)
        .count();
    writeln!(out, "{pending} pending, {} kept", list.requests.len())?;
    Ok(EXIT_OK)
}

async fn show(client: &Client, id: &str, json: bool, out: &mut impl Write) -> anyhow::Result<i32> {
    match client.approval(id).await {
        Ok(request) if json => write_json(out, &request, "request")?,
        Ok(request) => write_detail(out, &request, &SourceClock::of(client).await)?,
        Err(error) => return failed(out, "show", id, &error),
    }
    Ok(EXIT_OK)
}

/// Journals the decision, sends it (again under the same key while no answer comes),
/// journals the answer, and says what it came to.
async fn decide(
    client: &Client,
    context: &str,
    kind: DecisionKind,
    id: &str,
    reason: &str,
    journal: &mut Journal,
) -> DecisionReport {
    let key = uuid::Uuid::new_v4().to_string();
    let mut report = DecisionReport {
        decision: kind.word(),
        id: id.to_string(),
        outcome: "error",
        exit_code: EXIT_ERROR,
        message: None,
        idempotency_key: key.clone(),
        attempts: 0,
        request: None,
    };
    if reason.trim().is_empty() {
        report.message = Some("--reason must say why: it goes to the audit log".into());
        return report;
    }
    let sent = SentCommand {
        verb: format!("approval {}", kind.word()),
        target: id.to_string(),
        path: kind.endpoint().path_for(id),
        body: serde_json::to_value(DecisionRequest {
            reason: reason.to_string(),
        })
        .expect("a decision serializes"),
    };
    let entry = Entry::for_request(context, client.url(), sent, reason, &key, None);
    if let Err(error) = journal.record_sent(&entry) {
        report.message = Some(format!(
            "cannot write the journal {}: {error}; nothing was sent",
            journal.path().display()
        ));
        return report;
    }
    let (answer, attempts) = deliver_with(&key, ATTEMPTS, || {
        client.decide_approval(id, kind, reason, &key)
    })
    .await;
    report.attempts = attempts;
    let outcome = match &answer {
        Ok(request) => Outcome::Applied {
            detail: format!("{} is {}", request.id, request.state.word()),
        },
        Err(error) => Outcome::failed(error),
    };
    if let Err(error) = journal.record_result(&entry.id, outcome) {
        report.message = Some(format!(
            "the answer could not be written to the journal {}: {error}",
            journal.path().display()
        ));
    }
    match answer {
        Ok(request) => {
            report.outcome = match kind {
                DecisionKind::Approve => "approved",
                DecisionKind::Deny => "denied",
                DecisionKind::Withdraw => "withdrawn",
            };
            report.exit_code = EXIT_OK;
            report.request = Some(request);
        }
        Err(error) => {
            let (outcome, code, message) = refusal(kind.word(), id, &error);
            report.request = decided_request(&error);
            report.outcome = outcome;
            report.exit_code = code;
            let unknown = (outcome == "unknown").then(|| {
                format!(
                    "; no answer after {attempts} attempts: it may or may not have been decided \
                     (`switchboard approvals show {id}` says)"
                )
            });
            report.message = Some(message + &unknown.unwrap_or_default());
        }
    }
    report
}

/// A refused read or decision in words: the outcome word, the exit code and the message.
/// `verb` is what was asked (`approve`, `show`...).
fn refusal(verb: &str, id: &str, error: &ClientError) -> (&'static str, i32, String) {
    match error {
        ClientError::Forbidden { detail } => (
            "forbidden",
            EXIT_ERROR,
            format!("not yours to {verb}: {detail}"),
        ),
        ClientError::Http {
            status: 404,
            problem,
        } => (
            "not-found",
            EXIT_ERROR,
            (problem.as_ref().and_then(|p| p.detail.clone()))
                .unwrap_or_else(|| format!("no approval request {id:?} on this source")),
        ),
        ClientError::Conflict { detail, .. } => {
            let message = match decided_request(error) {
                Some(request) if request.state == ApprovalState::Failed => {
                    format!("approved, but not carried out: {detail}")
                }
                Some(request) => {
                    let by = request
                        .decision
                        .map_or(String::new(), |d| format!(" by {} ({:?})", d.by, d.reason));
                    format!("{} is {} already{by}", request.id, request.state.word())
                }
                None => detail.clone(),
            };
            ("conflict", EXIT_CONFLICT, message)
        }
        e if e.outcome_unknown() => ("unknown", EXIT_ERROR, error.to_string()),
        _ => ("rejected", EXIT_ERROR, error.to_string()),
    }
}

fn failed(out: &mut impl Write, verb: &str, id: &str, error: &ClientError) -> anyhow::Result<i32> {
    let (_, code, message) = refusal(verb, id, error);
    writeln!(out, "error: {}", clean(&message))?;
    Ok(code)
}

fn write_decision(out: &mut impl Write, report: &DecisionReport) -> std::io::Result<()> {
    match &report.request {
        Some(request) if report.exit_code == EXIT_OK => {
            let carried = (request.decision.as_ref())
                .and_then(|d| d.audit_id)
                .map_or(String::new(), |id| format!(": carried out as audit #{id}"));
            writeln!(
                out,
                "{} {} ({} {}, asked by {}){carried}",
                report.outcome,
                clean(&request.id),
                clean(&request.action),
                clean(&request.target),
                clean(&request.requested_by)
            )?;
        }
        _ => writeln!(
            out,
            "{}: {}",
            report.outcome,
            clean(report.message.as_deref().unwrap_or(""))
        )?,
    }
    writeln!(
        out,
        "  idempotency key {}, {} attempt(s)",
        report.idempotency_key, report.attempts
    )
}

fn list_line(request: &ApprovalRequest, clock: &SourceClock) -> String {
    let decided = match &request.decision {
        Some(decision) => format!("by {}", clean(&decision.by)),
        None => format!("expires {}", clock.time_of_day(request.expires_at)),
    };
    format!(
        "{:<11} {:<16} {:<28} asked by {:<10} {} — {}",
        clean(&request.id),
        request.state.word(),
        format!("{} {}", clean(&request.action), clean(&request.target)),
        clean(&request.requested_by),
        decided,
        clean(&request.why_approval)
    )
}

fn write_detail(
    out: &mut impl Write,
    request: &ApprovalRequest,
    clock: &SourceClock,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} {}: {} {}",
        clean(&request.id),
        request.state.word(),
        clean(&request.action),
        clean(&request.target)
    )?;
    writeln!(
        out,
        "  asked by  {} at {}: {}",
        clean(&request.requested_by),
        clock.stamp(request.requested_at),
        clean(&request.reason)
    )?;
    writeln!(out, "  waits     {}", clean(&request.why_approval))?;
    if let Some(preflight) = &request.preflight {
        let forced = if preflight.forced { ", FORCED" } else { "" };
        writeln!(out, "  preflight {:?}{forced}", preflight.verdict)?;
        for finding in &preflight.findings {
            writeln!(out, "            {}", clean(finding))?;
        }
    }
    writeln!(
        out,
        "  sends     POST {} (If-Match {}, key {})",
        clean(&request.path),
        request.if_match,
        clean(&request.idempotency_key)
    )?;
    match &request.decision {
        Some(decision) => {
            writeln!(
                out,
                "  decided   by {} at {}: {}",
                clean(&decision.by),
                clock.stamp(decision.at),
                clean(&decision.reason)
            )?;
            if let Some(audit_id) = decision.audit_id {
                writeln!(out, "  carried out as audit #{audit_id}")?;
            }
            if let Some(error) = &decision.error {
                writeln!(out, "  not carried out: {}", clean(error))?;
            }
        }
        None => writeln!(
            out,
            "  expires   {}: `switchboard approvals approve|deny {} --reason ...`",
            clock.stamp(request.expires_at),
            clean(&request.id)
        )?,
    }
    Ok(())
}
