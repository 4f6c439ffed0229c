//! `switchboard promote|drain|undrain|breaker|degrade|weights`: one command from a shell or a
//! script, with the console's preflight, the local journal, and an exit code.
//!
//! Exit codes:
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | applied (or, for a promotion, accepted; with `--wait`, finished successfully) |
//! | 1 | not confirmed: declined at the prompt, or no `--yes` where nobody can be asked |
//! | 2 | error: bad arguments, unreachable source, 401/403, other 4xx/5xx, outcome unknown, failed operation |
//! | 3 | refused by the preflight: the move would overload a target or leave traffic with no path (`--force` sends it anyway) |
//! | 4 | conflict (409): the target changed since the snapshot; review and retry |

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;

use crate::domain::command::{Command, parse_duration_s};
use crate::domain::preflight::{Preflight, Verdict, preflight};
use crate::journal::{Entry, Journal, Outcome};
use crate::sources::{Client, ClientError, SourceSpec};
use protocol::commands::{BreakerAction, CommandAccepted, Operation, OperationState, WeightScope};
use protocol::sanitize::clean;
use protocol::{DegradedModeKind, FleetSnapshot};

pub const EXIT_APPLIED: i32 = 0;
pub const EXIT_NOT_CONFIRMED: i32 = 1;
pub const EXIT_ERROR: i32 = 2;
pub const EXIT_REFUSED: i32 = 3;
pub const EXIT_CONFLICT: i32 = 4;

/// Sends after the first that did not get an answer, with the same idempotency key.
const RETRIES: u32 = 3;
/// How often `--wait` asks about the operation.
const OPERATION_POLL: Duration = Duration::from_millis(500);
/// Failed polls in a row after which `--wait` gives up following the operation.
const POLL_FAILURES_TOLERATED: u32 = 5;

#[derive(clap::Subcommand, Clone, Debug, PartialEq)]
pub enum CommandArgs {
    /// Make a standby replica its service's active one (the active becomes a hot standby).
    Promote {
        service: String,
        replica: String,
        /// Follow the promotion until it finishes (exit 2 if it fails).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Move a region's traffic to the other regions.
    Drain {
        region: String,
        /// Undrain by itself after this long (90s, 30m, 2h, 1h30m).
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration_s)]
        expires: Option<u64>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Let a drained region take its traffic again.
    Undrain {
        region: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Force a provider's breaker open, close it, or pin/unpin it against the automatic breaker.
    Breaker {
        provider: String,
        #[arg(value_name = "force-open|close|pin|unpin", value_parser = parse_breaker_action)]
        action: BreakerAction,
        /// For force-open and pin: revert by itself after this long.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration_s)]
        expires: Option<u64>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Turn a degraded mode of a service on or off.
    Degrade {
        service: String,
        #[arg(
            value_name = "serve-cache|fallback-model|queue-non-urgent|read-only|human-only",
            value_parser = parse_mode
        )]
        mode: DegradedModeKind,
        #[arg(value_name = "on|off", value_parser = parse_on_off, action = clap::ArgAction::Set)]
        state: bool,
        /// With `on`: turn it off by itself after this long.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration_s)]
        expires: Option<u64>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Spread a service's traffic by weights: across regions, or with --region across the
    /// providers of that region's gateway.
    Weights {
        service: String,
        /// KEY=WEIGHT,KEY=WEIGHT (region ids, or provider ids with --region); others keep theirs.
        #[arg(value_name = "KEY=W,KEY=W", value_parser = crate::domain::command::parse_weights)]
        weights: BTreeMap<String, f64>,
        /// Weigh the providers of this region's gateway instead of the regions.
        #[arg(long)]
        region: Option<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// Options every command takes.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct CommonArgs {
    /// Why: recorded in the audit log with your name.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Send without asking for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Send even when the preflight refuses (overload, no path left).
    #[arg(long)]
    pub force: bool,
}

fn parse_breaker_action(text: &str) -> Result<BreakerAction, String> {
    BreakerAction::ALL
        .into_iter()
        .find(|a| a.word() == text)
        .ok_or_else(|| format!("{text:?}: use force-open, close, pin or unpin"))
}

fn parse_mode(text: &str) -> Result<DegradedModeKind, String> {
    serde_json::from_value(Value::String(text.to_string())).map_err(|_| {
        format!(
            "{text:?}: use serve-cache, fallback-model, queue-non-urgent, read-only or human-only"
        )
    })
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{text:?}: use on or off")),
    }
}

impl CommandArgs {
    pub fn common(&self) -> &CommonArgs {
        match self {
            CommandArgs::Promote { common, .. }
            | CommandArgs::Drain { common, .. }
            | CommandArgs::Undrain { common, .. }
            | CommandArgs::Breaker { common, .. }
            | CommandArgs::Degrade { common, .. }
            | CommandArgs::Weights { common, .. } => common,
        }
    }

    /// The command these arguments ask for, or why they do not make one.
    pub fn command(&self) -> Result<Command, String> {
        let command = match self.clone() {
            CommandArgs::Promote {
                service, replica, ..
            } => Command::Promote { service, replica },
            CommandArgs::Drain {
                region, expires, ..
            } => Command::Drain {
                region,
                expires_in_s: expires,
            },
            CommandArgs::Undrain { region, .. } => Command::Undrain { region },
            CommandArgs::Breaker {
                provider,
                action,
                expires,
                ..
            } => Command::Breaker {
                provider,
                action,
                expires_in_s: expires,
            },
            CommandArgs::Degrade {
                service,
                mode,
                state,
                expires,
                ..
            } => Command::Degrade {
                service,
                mode,
                enabled: state,
                expires_in_s: expires,
            },
            CommandArgs::Weights {
                service,
                weights,
                region,
                ..
            } => Command::Weights {
                service,
                scope: match region {
                    Some(region) => WeightScope::Providers { region },
                    None => WeightScope::Regions,
                },
                weights,
            },
        };
        if command.expires_in_s().is_some() && !command.can_expire() {
            return Err(format!("--for does not apply to {}", command.verb()));
        }
        if self.common().reason.trim().is_empty() {
            return Err("--reason must say why".into());
        }
        Ok(command)
    }

    fn wait(&self) -> bool {
        matches!(self, CommandArgs::Promote { wait: true, .. })
    }
}

/// What the command run came to; printed as text or, with `--json`, as this object (its field
/// names are a stable interface for scripts).
#[derive(Serialize, Debug)]
struct Report {
    /// e.g. `drain`, `breaker force-open`.
    command: String,
    target: String,
    context: String,
    source: String,
    /// `accepted`, `succeeded` (a followed operation), `failed`, `declined`, `refused`,
    /// `rejected`, `conflict`, `unknown` (no answer) or `error` (nothing sent).
    outcome: &'static str,
    exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    if_match: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preflight: Option<Preflight>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_id: Option<u64>,
    /// The target's control revision after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    control_revision: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<Operation>,
    /// From the server, and about the journal.
    warnings: Vec<String>,
    /// How many times the command was sent (the same idempotency key each time).
    attempts: u32,
}

impl Report {
    fn finish(&mut self, outcome: &'static str, exit_code: i32, message: Option<String>) {
        self.outcome = outcome;
        self.exit_code = exit_code;
        self.message = message;
    }
}

/// Runs one command: snapshot, preflight (printed), refusal or confirmation, journal, send
/// (retrying with the same key when no answer comes), journal the result, print it. Returns
/// the exit code; `Err` only when the output cannot be written.
///
/// `confirm` gets the question and says whether the user agreed; it is not called with `--yes`
/// (or when nothing will be sent).
pub async fn run_command(
    args: CommandArgs,
    source: SourceSpec,
    context: &str,
    journal: &mut Journal,
    out: &mut impl Write,
    mut confirm: impl FnMut(&str) -> bool,
) -> anyhow::Result<i32> {
    let common = args.common().clone();
    let command = args.command();
    let mut report = Report {
        command: command.as_ref().map(Command::verb).unwrap_or_default(),
        target: command
            .as_ref()
            .map(Command::target_label)
            .unwrap_or_default(),
        context: context.to_string(),
        source: source.url.clone(),
        outcome: "error",
        exit_code: EXIT_ERROR,
        message: None,
        idempotency_key: None,
        if_match: None,
        preflight: None,
        audit_id: None,
        control_revision: None,
        operation: None,
        warnings: Vec::new(),
        attempts: 0,
    };
    let mut human = Human {
        out,
        quiet: common.json,
    };
    let outcome = drive(
        &args,
        command,
        &source,
        journal,
        &mut human,
        &mut report,
        &mut confirm,
    )
    .await;
    if let Err(message) = outcome {
        report.finish("error", EXIT_ERROR, Some(message));
    }
    if common.json {
        let value = sanitized(serde_json::to_value(&report).context("building the JSON report")?);
        serde_json::to_writer_pretty(&mut *human.out, &value).context("writing the JSON report")?;
        writeln!(human.out)?;
    } else {
        human.conclusion(&report)?;
    }
    human.out.flush()?;
    Ok(report.exit_code)
}

/// The steps of [`run_command`]; `Err` is an error before anything was sent.
async fn drive(
    args: &CommandArgs,
    command: Result<Command, String>,
    source: &SourceSpec,
    journal: &mut Journal,
    human: &mut Human<'_, impl Write>,
    report: &mut Report,
    confirm: &mut impl FnMut(&str) -> bool,
) -> Result<(), String> {
    let common = args.common();
    let command = command?;
    let client = Client::new(&source.url, source.token.clone()).map_err(|e| e.to_string())?;
    let snapshot = client
        .fleet()
        .await
        .map_err(|e| format!("cannot read the fleet: {e}"))?;
    let check = preflight(&command, &snapshot);
    human
        .preflight(&check, &command, &snapshot)
        .map_err(|e| e.to_string())?;
    report.preflight = Some(check.clone());
    if !check.errors.is_empty() {
        return Err(check.errors.join("; "));
    }
    let Some(if_match) = command.control_revision(&snapshot) else {
        return Err(format!("no {} in this fleet", command.target_label()));
    };
    report.if_match = Some(if_match);
    if check.blocks() && !common.force {
        let reasons = check.blocking_reasons().join("; ");
        report.finish(
            "refused",
            EXIT_REFUSED,
            Some(format!(
                "{reasons}; nothing was sent (--force sends it anyway)"
            )),
        );
        return Ok(());
    }
    if !common.yes {
        let question = format!(
            "Send `{}` in context {} ({})?",
            clean(&command.to_string()),
            clean(&report.context),
            clean(&report.source)
        );
        if !confirm(&question) {
            report.finish(
                "declined",
                EXIT_NOT_CONFIRMED,
                Some("not confirmed; nothing was sent".into()),
            );
            return Ok(());
        }
    }

    let key = uuid::Uuid::new_v4().to_string();
    report.idempotency_key = Some(key.clone());
    let entry = Entry::new(
        &report.context,
        &source.url,
        &command,
        &common.reason,
        &key,
        if_match,
    );
    journal.record_sent(&entry).map_err(|e| {
        format!(
            "cannot write the journal {}: {e}; nothing was sent",
            journal.path().display()
        )
    })?;
    let (answer, attempts) = crate::sources::delivery::deliver(
        &client,
        &command,
        &common.reason,
        &key,
        if_match,
        RETRIES + 1,
    )
    .await;
    report.attempts = attempts;
    let journalled = match &answer {
        Ok(accepted) => Outcome::accepted(accepted),
        Err(error) => Outcome::failed(error),
    };
    if let Err(error) = journal.record_result(&entry.id, journalled) {
        report.warnings.push(format!(
            "the result could not be written to the journal {}: {error}",
            journal.path().display()
        ));
    }
    match answer {
        Ok(accepted) => {
            accepted_report(report, accepted);
            if args.wait()
                && let Some(operation) = report.operation.clone()
            {
                follow_operation(&client, operation, human, report).await;
            }
        }
        Err(error) => {
            let (outcome, code) = match &error {
                ClientError::Conflict { .. } => ("conflict", EXIT_CONFLICT),
                e if e.outcome_unknown() => ("unknown", EXIT_ERROR),
                _ => ("rejected", EXIT_ERROR),
            };
            let mut message = error.to_string();
            if outcome == "unknown" {
                message.push_str(&format!(
                    "; no answer after {attempts} attempts: it may or may not have been applied \
                     (the console resolves it from the audit log by key {key})"
                ));
            }
            report.finish(outcome, code, Some(message));
        }
    }
    Ok(())
}

fn accepted_report(report: &mut Report, accepted: CommandAccepted) {
    report.audit_id = Some(accepted.audit_id);
    report.control_revision = Some(accepted.control_revision);
    report.warnings.splice(0..0, accepted.warnings);
    report.operation = accepted.operation;
    report.finish("accepted", EXIT_APPLIED, None);
}

/// Polls the operation until it ends, printing its progress as it changes.
async fn follow_operation(
    client: &Client,
    mut operation: Operation,
    human: &mut Human<'_, impl Write>,
    report: &mut Report,
) {
    let mut failures = 0;
    let mut shown = None;
    while operation.state == OperationState::Running {
        if shown.as_ref() != Some(&(operation.progress, operation.message.clone())) {
            human.progress(&operation);
            shown = Some((operation.progress, operation.message.clone()));
        }
        tokio::time::sleep(OPERATION_POLL).await;
        match client.operation(&operation.id).await {
            Ok(now) => {
                operation = now;
                failures = 0;
            }
            Err(error) => {
                failures += 1;
                if failures >= POLL_FAILURES_TOLERATED {
                    report.operation = Some(operation);
                    report.finish(
                        "unknown",
                        EXIT_ERROR,
                        Some(format!("lost track of the operation: {error}")),
                    );
                    return;
                }
            }
        }
    }
    let (outcome, code) = match operation.state {
        OperationState::Succeeded => ("succeeded", EXIT_APPLIED),
        OperationState::Failed | OperationState::Running => ("failed", EXIT_ERROR),
    };
    let message =
        (code != EXIT_APPLIED).then(|| format!("operation failed: {}", operation.message));
    report.operation = Some(operation);
    report.finish(outcome, code, message);
}

/// Text output; silent in JSON mode.
struct Human<'o, W: Write> {
    out: &'o mut W,
    quiet: bool,
}

impl<W: Write> Human<'_, W> {
    fn preflight(
        &mut self,
        check: &Preflight,
        command: &Command,
        snapshot: &FleetSnapshot,
    ) -> std::io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        let out = &mut self.out;
        writeln!(out, "{}", clean(&check.summary))?;
        if let Some(revision) = command.control_revision(snapshot) {
            writeln!(
                out,
                "  {} at control revision {revision}, fleet revision {}",
                clean(&command.target_label()),
                snapshot.revision
            )?;
        }
        for r in &check.regions {
            writeln!(
                out,
                "  region    {:<14} share {:>4} -> {:>4}  load {:>5.0} -> {:>5.0} rps ({:+.0})  of {:.0}  headroom {}",
                clean(&r.region),
                percent(r.share_before),
                percent(r.share_after),
                r.load_before_rps,
                r.load_after_rps,
                r.load_after_rps - r.load_before_rps,
                r.capacity_rps,
                verdict(r.headroom_after, r.verdict),
            )?;
        }
        for r in &check.replicas {
            writeln!(
                out,
                "  replica   {:<28} load {:>5.0} -> {:>5.0} rps ({:+.0})  of {:.0}  headroom {}",
                clean(&r.replica),
                r.load_before_rps,
                r.load_after_rps,
                r.load_after_rps - r.load_before_rps,
                r.capacity_rps,
                verdict(r.headroom_after, r.verdict),
            )?;
        }
        for p in &check.providers {
            let limit = match (p.rate_limit_rps, p.headroom_after, p.verdict) {
                (Some(limit), Some(headroom), Some(v)) => {
                    format!("  rate limit {limit:.0}, headroom {}", verdict(headroom, v))
                }
                _ => "  rate limit unknown (idle)".to_string(),
            };
            writeln!(
                out,
                "  provider  {:<22} load {:>5.0} -> {:>5.0} rps ({:+.0}){limit}",
                clean(&p.provider),
                p.load_before_rps,
                p.load_after_rps,
                p.load_after_rps - p.load_before_rps,
            )?;
        }
        if let Some(t) = &check.takeover {
            writeln!(
                out,
                "  takeover  {} ({}, {}): {}, lag {:.1}s, expect about {:.0}s",
                clean(&t.replica),
                t.role.word(),
                clean(&t.region),
                if t.ready { "ready" } else { "not ready" },
                t.replication_lag_s,
                t.expected_takeover_s
            )?;
        }
        for n in &check.no_path {
            let at = n
                .region
                .as_deref()
                .map(|r| format!(" at {}", clean(r)))
                .unwrap_or_default();
            writeln!(
                out,
                "  NO PATH   {}{at}: {}",
                clean(&n.service),
                clean(&n.why)
            )?;
        }
        for w in &check.warnings {
            writeln!(out, "  warning   {}", clean(w))?;
        }
        for e in &check.errors {
            writeln!(out, "  error     {}", clean(e))?;
        }
        Ok(())
    }

    fn progress(&mut self, operation: &Operation) {
        if self.quiet {
            return;
        }
        // Progress is a courtesy: a broken pipe shows up at the conclusion.
        let _ = writeln!(
            self.out,
            "  operation {} {}: {} {} — {}",
            clean(&operation.id),
            clean(&operation.target),
            operation.state.word(),
            percent(operation.progress),
            clean(&operation.message)
        );
    }

    fn conclusion(&mut self, report: &Report) -> std::io::Result<()> {
        let out = &mut self.out;
        match report.outcome {
            "accepted" | "succeeded" => {
                write!(out, "{}", report.outcome)?;
                if let Some(id) = report.audit_id {
                    write!(out, ": audit #{id}")?;
                }
                if let Some(revision) = report.control_revision {
                    write!(
                        out,
                        ", {} now at control revision {revision}",
                        clean(&report.target)
                    )?;
                }
                writeln!(out)?;
                if let Some(operation) = &report.operation {
                    writeln!(
                        out,
                        "  operation {}: {} {} — {}",
                        clean(&operation.id),
                        operation.state.word(),
                        percent(operation.progress),
                        clean(&operation.message)
                    )?;
                }
            }
            other => writeln!(
                out,
                "{other}: {}",
                clean(report.message.as_deref().unwrap_or(""))
            )?,
        }
        for warning in &report.warnings {
            writeln!(out, "  warning   {}", clean(warning))?;
        }
        if let Some(key) = &report.idempotency_key {
            writeln!(
                out,
                "  idempotency key {key}, {} attempt(s)",
                report.attempts
            )?;
        }
        Ok(())
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

fn verdict(headroom: f64, verdict: Verdict) -> String {
    match verdict {
        Verdict::Ok => percent(headroom),
        Verdict::Low => format!("{} LOW", percent(headroom)),
        Verdict::Overload => format!("{} OVERLOAD", percent(headroom)),
    }
}

/// Every string in the report made safe for a terminal: server and snapshot text included.
fn sanitized(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(clean(&text).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(sanitized).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (clean(&k).into_owned(), sanitized(v)))
                .collect(),
        ),
        other => other,
    }
}
