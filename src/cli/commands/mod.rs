//! `switchboard promote|drain|undrain|breaker|degrade|weights|standby|pool`: one command from a
//! shell or a script, with the console's preflight, the local journal, and an exit code.
//!
//! Exit codes:
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | applied (or, for a promotion, a standby change or a loan, accepted; with `--wait`, finished successfully) |
//! | 1 | not confirmed: declined at the prompt, or no `--yes` where nobody can be asked |
//! | 2 | error: bad arguments, unreachable source, 401/403, other 4xx/5xx, outcome unknown, failed operation |
//! | 3 | refused by the preflight: the move would overload a target or leave traffic with no path (`--force` sends it anyway) |
//! | 4 | conflict (409): the target changed since the snapshot (or, for a held command, before its approval); review and retry |
//! | 5 | pending approval: the source's two-person rule holds it for a second operator (`--wait` waits for the decision) |
//! | 6 | denied by a second operator (with `--wait`) |
//! | 7 | withdrawn by its requester (with `--wait`) |
//! | 8 | expired: nobody decided in time (with `--wait`) |

mod args;
mod awaiting;
mod patroni;
mod text;

use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use crate::cli::output::{confirm_on_terminal, process_exit_code, write_json};
use crate::cli::target::Target;
use crate::domain::command::Command;
use crate::domain::preflight::{Preflight, add_cost_effect, preflight};
use crate::domain::prices::CostConfig;
use crate::journal::{Entry, Journal, Outcome};
use crate::sources::{Client, ClientError, SourceSpec};
use protocol::approvals::{ApprovalPolicy, ApprovalRequest, under_policy};
use protocol::commands::{CommandAccepted, Operation, OperationState};
use protocol::sanitize::clean;
use text::Human;

pub use crate::cli::output::{
    EXIT_CONFLICT, EXIT_DENIED, EXIT_ERROR, EXIT_EXPIRED, EXIT_NOT_CONFIRMED,
    EXIT_OK as EXIT_APPLIED, EXIT_PENDING, EXIT_REFUSED, EXIT_WITHDRAWN,
};
pub use args::{CommandArgs, CommonArgs};

/// Sends after the first that did not get an answer, with the same idempotency key.
const RETRIES: u32 = 3;
/// How often `--wait` asks about the operation.
const OPERATION_POLL: Duration = Duration::from_millis(500);
/// Failed polls in a row after which `--wait` gives up following the operation.
const POLL_FAILURES_TOLERATED: u32 = 5;

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
    /// `rejected`, `conflict`, `unknown` (no answer), `error` (nothing sent), or for a command
    /// held for a second operator `pending`, `denied`, `withdrawn`, `expired`.
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
    /// The request the source's two-person rule holds it as, as last seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<ApprovalRequest>,
}

impl Report {
    /// The report of `command` (when it parsed) sent to `source` in `context`: an error until
    /// the run says otherwise.
    fn new(command: Option<&Command>, context: &str, source: &str) -> Report {
        Report {
            command: command.map(Command::verb).unwrap_or_default(),
            target: command.map(Command::target_label).unwrap_or_default(),
            context: context.to_string(),
            source: source.to_string(),
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
            approval: None,
        }
    }

    fn finish(&mut self, outcome: &'static str, exit_code: i32, message: Option<String>) {
        self.outcome = outcome;
        self.exit_code = exit_code;
        self.message = message;
    }
}

/// What the context says about commands sent in it: its name, its two-person rule, its prices.
pub struct ContextRules<'a> {
    pub name: &'a str,
    pub approvals: Option<&'a ApprovalPolicy>,
    pub cost: &'a CostConfig,
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
    rules: &ContextRules<'_>,
    journal: &mut Journal,
    out: &mut impl Write,
    mut confirm: impl FnMut(&str) -> bool,
) -> anyhow::Result<i32> {
    let common = args.common().clone();
    let command = args.command();
    let mut report = Report::new(command.as_ref().ok(), rules.name, &source.url);
    let mut human = Human {
        out,
        quiet: common.json,
    };
    let outcome = drive(
        &args,
        command,
        &source,
        rules,
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
        write_json(human.out, &report, "report")?;
    } else {
        human.conclusion(&report)?;
    }
    human.out.flush()?;
    Ok(report.exit_code)
}

/// [`run_command`] from the shell: on the target's first source, with its journal, printing to
/// stdout and asking on the terminal. A read-only context sends nothing (exit 2).
pub async fn run_from_shell(args: CommandArgs, target: &Target) -> anyhow::Result<u8> {
    if let Some(code) = patroni::run_from_shell(&args, target).await {
        return code;
    }
    let Some((source, mut journal)) = target.for_mutation().await? else {
        return Ok(process_exit_code(EXIT_ERROR));
    };
    let code = run_command(
        args,
        source,
        &ContextRules {
            name: &target.context.name,
            approvals: target.approvals.as_ref(),
            cost: &target.cost,
        },
        &mut journal,
        &mut std::io::stdout(),
        confirm_on_terminal,
    )
    .await?;
    Ok(process_exit_code(code))
}

/// The steps of [`run_command`]; `Err` is an error before anything was sent.
#[allow(clippy::too_many_arguments)]
async fn drive(
    args: &CommandArgs,
    command: Result<Command, String>,
    source: &SourceSpec,
    rules: &ContextRules<'_>,
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
    let mut check = preflight(&command, &snapshot);
    // A one-shot command reads no metrics source: budgets as the fleet reports them.
    add_cost_effect(&mut check, &command, &snapshot, rules.cost, &[]);
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
    // The command carries what the user was shown, for the audit log and exercise scores,
    // and asks the source to hold it when the context's policy wants a second approver.
    let seen = Some(under_policy(
        rules.approvals,
        &command,
        &snapshot,
        check.seen(common.force),
    ));
    let entry = Entry::new(
        &report.context,
        &source.url,
        &command,
        &common.reason,
        seen.as_ref(),
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
        seen.as_ref(),
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
        Ok(mut accepted) => {
            let held = accepted.pending_approval.take();
            accepted_report(report, accepted);
            if let Some(request) = held {
                awaiting::held(report, *request);
                if let Some(limit) = common.wait {
                    awaiting::wait_for_decision(&client, limit, human, report).await;
                    // Approved, a promotion is followed to its end as an unheld one is.
                    if report.exit_code == EXIT_APPLIED
                        && let Some(operation) = awaiting::started_operation(&client, report).await
                    {
                        let approved = report.message.take();
                        follow_operation(&client, operation, human, report).await;
                        report.message = report.message.take().or(approved);
                    }
                }
            } else if common.wait.is_some()
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
