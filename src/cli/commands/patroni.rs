//! `switchboard promote SERVICE MEMBER` on a service a Patroni source of the context backs:
//! the cluster read, the preflight (Patroni's plan: switchover or failover, lag against
//! `maximum_lag_on_failover`, members that cannot take over), the confirmation, the journal,
//! the switchover sent and followed until the new leader runs. Other verbs on a service only
//! Patroni backs are refused with the reason (exit 2), and so is a promotion the context's
//! approval policy would hold: Patroni has no one to hold it for.

use std::io::Write;

use super::{EXIT_APPLIED, EXIT_CONFLICT, EXIT_ERROR, Human, Report};
use crate::cli::output::{confirm_on_terminal, process_exit_code, write_json};
use crate::cli::target::Target;
use crate::domain::command::Command;
use crate::domain::fleet::SourceData;
use crate::domain::performer;
use crate::journal::{Journal, describe_recovered};
use crate::runner::patroni::{self as promotion, timeouts};
use crate::sources::approvals::refused_unheld;
use crate::sources::patroni::{PatroniClient, PatroniError, PatroniSpec};
use protocol::approvals::ApprovalPolicy;
use protocol::sanitize::clean;

use super::CommandArgs;

/// The Patroni source that performs `args` in `target`'s context, if one does: a promotion
/// of the service it backs, or any other command on a service that only Patroni backs.
fn performing<'t>(args: &CommandArgs, target: &'t Target) -> Option<&'t PatroniSpec> {
    let command = args.command().ok()?;
    let service = match &command {
        Command::Promote { service, .. }
        | Command::Degrade { service, .. }
        | Command::Weights { service, .. } => service,
        _ => return None,
    };
    let spec = (target.patroni.iter()).find(|spec| spec.settings.service == *service)?;
    let only_patroni = target.sources.is_empty();
    (matches!(command, Command::Promote { .. }) || only_patroni).then_some(spec)
}

/// Runs `args` through Patroni when a Patroni source performs it (see [`performing`]);
/// `None` leaves it to the protocol v1 source.
pub async fn run_from_shell(args: &CommandArgs, target: &Target) -> Option<anyhow::Result<u8>> {
    let spec = performing(args, target)?;
    if target.refuses_mutation() {
        return Some(Ok(process_exit_code(EXIT_ERROR)));
    }
    let code = async {
        let mut journal = target.open_journal()?;
        run(
            args,
            spec,
            &target.context.name,
            target.approvals.as_ref(),
            &mut journal,
            &mut std::io::stdout(),
            confirm_on_terminal,
        )
        .await
    };
    Some(code.await.map(process_exit_code))
}

/// [`run_from_shell`]'s work, with the journal, the output and the prompt passed in.
pub async fn run(
    args: &CommandArgs,
    spec: &PatroniSpec,
    context: &str,
    approvals: Option<&ApprovalPolicy>,
    journal: &mut Journal,
    out: &mut impl Write,
    mut confirm: impl FnMut(&str) -> bool,
) -> anyhow::Result<i32> {
    let common = args.common().clone();
    let command = args.command();
    let mut report = Report::new(command.as_ref().ok(), context, spec.url());
    let mut human = Human {
        out,
        quiet: common.json,
    };
    let outcome = match command {
        Ok(command) => {
            drive(
                spec,
                &command,
                &common,
                approvals,
                journal,
                &mut human,
                &mut report,
                &mut confirm,
            )
            .await
        }
        Err(problem) => Err(problem),
    };
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

#[allow(clippy::too_many_arguments)]
async fn drive(
    spec: &PatroniSpec,
    command: &Command,
    common: &super::CommonArgs,
    approvals: Option<&ApprovalPolicy>,
    journal: &mut Journal,
    human: &mut Human<'_, impl Write>,
    report: &mut Report,
    confirm: &mut impl FnMut(&str) -> bool,
) -> Result<(), String> {
    let client = spec.client(timeouts()).map_err(|e| e.to_string())?;
    let read = spec
        .read(&client)
        .await
        .map_err(|e| format!("cannot read the cluster: {e}"))?;
    let snapshot = read.as_snapshot();
    let source = SourceData {
        snapshot: Some(snapshot.clone()),
        patroni: Some(read),
        ..SourceData::new(&spec.name, spec.url())
    };
    let (_, check) = performer::prepare(std::slice::from_ref(&source), 0, command)?;
    human
        .preflight(&check, command, &snapshot)
        .map_err(|e| e.to_string())?;
    report.preflight = Some(check.clone());
    if !check.errors.is_empty() {
        return Err(check.errors.join("; "));
    }
    let seen = check.seen(common.force);
    if let Some(why) = approvals.and_then(|policy| policy.requires(command, &snapshot, Some(&seen)))
    {
        report.finish("refused", EXIT_ERROR, Some(refused_unheld(&why, "Patroni")));
        return Ok(());
    }
    let confirmed_on = command.control_revision(&snapshot);
    report.if_match = confirmed_on;
    report.warnings.extend(check.warnings.iter().cloned());
    if !common.yes {
        let question = format!(
            "Send `{}` to Patroni in context {} ({})?",
            clean(&command.to_string()),
            clean(&report.context),
            clean(&report.source)
        );
        if !confirm(&question) {
            let message = Some("not confirmed; nothing was sent".into());
            report.finish("declined", super::EXIT_NOT_CONFIRMED, message);
            return Ok(());
        }
    }
    recover_pending(journal, &client, spec, human).await;
    let prepared = promotion::prepare(
        &client,
        &report.context,
        spec.url(),
        command,
        &common.reason,
        confirmed_on,
    )
    .await;
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            finish_failed(report, &error);
            return Ok(());
        }
    };
    report.idempotency_key = Some(prepared.entry.idempotency_key.clone());
    journal.record_sent(&prepared.entry).map_err(|e| {
        format!(
            "cannot write the journal {}: {e}; nothing was sent",
            journal.path().display()
        )
    })?;
    report.attempts = 1;
    let (result, outcome) = promotion::send(&client, &prepared).await;
    if let Err(error) = journal.record_result(&prepared.entry.id, outcome.clone()) {
        report.warnings.push(format!(
            "the result could not be written to the journal {}: {error}",
            journal.path().display()
        ));
    }
    match result {
        Ok(cluster) => {
            let leader = cluster.healthy_leader();
            report.control_revision = leader.and_then(|m| m.timeline);
            let message = outcome.describe();
            report.finish("succeeded", EXIT_APPLIED, Some(message));
        }
        Err(error) => finish_failed(report, &error),
    }
    Ok(())
}

fn finish_failed(report: &mut Report, error: &PatroniError) {
    let (outcome, code) = match error {
        e if e.outcome_unknown() => ("unknown", EXIT_ERROR),
        PatroniError::LeaderChanged { .. } => ("conflict", EXIT_CONFLICT),
        PatroniError::NotSendable(_) => ("refused", EXIT_ERROR),
        _ => ("rejected", EXIT_ERROR),
    };
    let mut message = error.to_string();
    if outcome == "unknown" {
        message.push_str(
            "; it may or may not have been applied: it is not sent again (the next run reads \
             the cluster to settle it)",
        );
    }
    report.finish(outcome, code, Some(message));
}

/// Settles promotions an earlier run sent to this cluster without learning their fate, from
/// the cluster as it is now; says each on stderr-like output before the new command.
async fn recover_pending(
    journal: &mut Journal,
    client: &PatroniClient,
    spec: &PatroniSpec,
    human: &mut Human<'_, impl Write>,
) {
    for entry in journal
        .pending()
        .into_iter()
        .filter(|e| e.was_sent_to(spec.url()))
    {
        let outcome = promotion::recover(client, &entry).await;
        if !human.quiet {
            let _ = writeln!(
                human.out,
                "journal: {}",
                describe_recovered(&entry, &outcome)
            );
        }
        if !outcome.is_unknown() {
            let _ = journal.record_result(&entry.id, outcome);
        }
    }
}
