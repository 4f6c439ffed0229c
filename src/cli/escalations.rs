//! `switchboard escalations list|show|resolve`: the escalated-task inbox for scripts.

use std::io::Write;

use anyhow::Context as _;

use crate::cli::clock::SourceClock;
use crate::cli::output::{confirm_on_terminal, exit_code_of, process_exit_code, write_json};
use crate::cli::target::Target;
use crate::format::{age, ms};
use crate::journal::{Entry, Journal, Outcome};
use crate::sources::delivery::{ATTEMPTS, deliver_with};
use crate::sources::temporal::TemporalClient;
use crate::sources::{
    BackendError, Client, EscalationBackend, EscalationQuery, SourceSpec, Timeouts,
};
use protocol::escalations::{
    Escalation, EscalationState, EscalationSummary, Resolution, ResolveOutcome, ResolveRequest,
};
use protocol::sanitize::{clean, clean_multiline, truncate};

/// Exit codes of `escalations resolve` (list and show: 0, or 2 on error). [`EXIT_CONFLICT`]:
/// someone else holds the task, or it was resolved already (the message says who).
pub use crate::cli::output::{
    EXIT_CONFLICT, EXIT_ERROR, EXIT_NOT_CONFIRMED, EXIT_OK as EXIT_RESOLVED,
};

#[derive(clap::Subcommand)]
pub enum EscalationsArgs {
    /// Escalated tasks, most urgent SLA first.
    List {
        /// States, comma-separated: pending, claimed, resolved, aborted.
        #[arg(long, default_value = "pending,claimed", value_delimiter = ',', value_parser = parse_states)]
        state: Vec<EscalationState>,
        /// Priorities, comma-separated: p1,p2.
        #[arg(long)]
        priority: Option<String>,
        #[arg(long)]
        service: Option<String>,
        /// An operator, or `none` for unassigned tasks.
        #[arg(long)]
        assignee: Option<String>,
        /// How many (at most 1000); `--cursor` continues where a list stopped.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One task with its context, candidates and lineage.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Resolve a task, exactly once: claim it, journal the resolution, send it (again with the
    /// same idempotency key when no answer comes).
    Resolve {
        id: String,
        #[command(flatten)]
        how: ResolutionArgs,
        /// Why: required, kept with the task and in the audit log.
        #[arg(long)]
        note: String,
        /// Resolve without asking.
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
}

/// Exactly one way to resolve.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct ResolutionArgs {
    /// Approve this candidate output.
    #[arg(long, value_name = "CANDIDATE")]
    approve: Option<String>,
    /// Submit this output instead (a file, or - for standard input).
    #[arg(long, value_name = "FILE")]
    submit: Option<String>,
    /// Refuse the outputs, with this reason.
    #[arg(long, value_name = "REASON")]
    reject: Option<String>,
    /// Cancel the workflow.
    #[arg(long)]
    abort: bool,
    /// Run the step again through a path: `model=M,provider=P,region=R` (any of them).
    #[arg(long, value_name = "PATH")]
    retry: Option<String>,
    /// Hand the task to another operator.
    #[arg(long, value_name = "OPERATOR")]
    handoff: Option<String>,
}

fn parse_states(text: &str) -> Result<EscalationState, String> {
    EscalationState::ALL
        .iter()
        .copied()
        .find(|s| s.word() == text.trim())
        .ok_or_else(|| format!("{text:?}: states are pending, claimed, resolved, aborted"))
}

impl ResolutionArgs {
    fn resolution(&self) -> anyhow::Result<Resolution> {
        if let Some(candidate) = &self.approve {
            return Ok(Resolution::Approve {
                candidate: candidate.clone(),
            });
        }
        if let Some(file) = &self.submit {
            let output = if file == "-" {
                std::io::read_to_string(std::io::stdin())
                    .context("cannot read the output from standard input")?
            } else {
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read the output from {file}"))?
            };
            return Ok(Resolution::Submit {
                output,
                based_on: None,
            });
        }
        if let Some(reason) = &self.reject {
            return Ok(Resolution::Reject {
                reason: reason.clone(),
            });
        }
        if let Some(path) = &self.retry {
            let (mut model, mut provider, mut region) = (None, None, None);
            for part in path.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match part.split_once('=') {
                    Some(("model", v)) => model = Some(v.to_string()),
                    Some(("provider", v)) => provider = Some(v.to_string()),
                    Some(("region", v)) => region = Some(v.to_string()),
                    _ => anyhow::bail!("{part:?}: write model=M,provider=P,region=R (any of them)"),
                }
            }
            return Ok(Resolution::Retry {
                model,
                provider,
                region,
            });
        }
        if let Some(to) = &self.handoff {
            return Ok(Resolution::Handoff { to: to.clone() });
        }
        Ok(Resolution::Abort)
    }
}

/// Runs one `escalations` command against `source`; returns the exit code. Resolving
/// needs the journal (a resolution is journaled before it is sent).
pub async fn run_escalations(
    args: EscalationsArgs,
    source: SourceSpec,
    context: &str,
    journal: Option<&mut Journal>,
    out: &mut impl Write,
    confirm: impl FnMut(&str) -> bool,
) -> anyhow::Result<i32> {
    let client = Client::new(&source.url, source.token.clone())?;
    let backend = EscalationBackend::Native(client);
    run_on(args, &backend, context, journal, out, confirm).await
}

/// [`run_escalations`] on any kind of source.
pub async fn run_on(
    args: EscalationsArgs,
    backend: &EscalationBackend,
    context: &str,
    journal: Option<&mut Journal>,
    out: &mut impl Write,
    confirm: impl FnMut(&str) -> bool,
) -> anyhow::Result<i32> {
    // Deadlines are on the source's clock (a lab runs its own); only the readable output
    // shows them. Temporal's workflows run on the wall's.
    let clock = match (&args, backend) {
        (
            EscalationsArgs::List { json: false, .. } | EscalationsArgs::Show { json: false, .. },
            EscalationBackend::Native(client),
        ) => SourceClock::of(client).await,
        _ => SourceClock::utc(),
    };
    match args {
        EscalationsArgs::List {
            state,
            priority,
            service,
            assignee,
            limit,
            cursor,
            json,
        } => {
            let client = match backend {
                EscalationBackend::Native(client) => client,
                EscalationBackend::Temporal { client, .. } => {
                    if priority.is_some() || service.is_some() || assignee.is_some() {
                        writeln!(
                            out,
                            "error: a Temporal source is listed whole: --priority, --service and \
                             --assignee are for protocol v1 sources"
                        )?;
                        return Ok(EXIT_ERROR);
                    }
                    return list_temporal(client, &state, limit, json, &clock, out).await;
                }
            };
            let query = EscalationQuery {
                states: &state,
                priority: priority.as_deref(),
                service: service.as_deref(),
                assignee: assignee.as_deref(),
                limit: Some(limit),
                cursor: cursor.as_deref(),
            };
            match client.escalations(&query).await {
                Ok(page) if json => write_json(out, &page, "list")?,
                Ok(page) => {
                    for item in &page.items {
                        writeln!(out, "{}", list_line(item, &clock))?;
                    }
                    writeln!(out, "{} of {} matching", page.items.len(), page.total)?;
                    if let Some(next) = page.next_cursor {
                        writeln!(out, "more: --cursor {}", clean(&next))?;
                    }
                }
                Err(error) => return failed(out, &error.into()),
            }
            Ok(0)
        }
        EscalationsArgs::Show { id, json } => match backend.escalation(&id).await {
            Ok(detail) if json => {
                write_json(out, &detail, "task")?;
                Ok(0)
            }
            Ok(detail) => {
                write_detail(out, &detail, &clock)?;
                Ok(0)
            }
            Err(error) => failed(out, &error),
        },
        EscalationsArgs::Resolve {
            id,
            how,
            note,
            yes,
            json,
        } => {
            let journal = journal.context("resolving needs the command journal")?;
            let request = ResolveRequest {
                resolution: how.resolution()?,
                note,
            };
            resolve(
                backend, context, &id, request, yes, json, journal, out, confirm,
            )
            .await
        }
    }
}

/// [`run_escalations`] from the shell, printing to stdout and asking on the terminal: reading
/// needs no journal, resolving does (and sends nothing in a read-only context: exit 2).
pub async fn run_from_shell(args: EscalationsArgs, target: &Target) -> anyhow::Result<u8> {
    let out = &mut std::io::stdout();
    let context = &target.context.name;
    // A context of Temporal sources only: its first one.
    if let (true, Some(source)) = (target.sources.is_empty(), target.temporal.first()) {
        let backend = EscalationBackend::Temporal {
            client: Box::new(TemporalClient::for_source(source, Timeouts::default())?),
            operator: source.operator.clone(),
        };
        let mut journal = None;
        if matches!(args, EscalationsArgs::Resolve { .. }) {
            if target.refuses_mutation() {
                return Ok(process_exit_code(EXIT_ERROR));
            }
            journal = Some(target.open_journal()?);
        }
        let journal = journal.as_mut();
        let code = run_on(args, &backend, context, journal, out, confirm_on_terminal).await?;
        return Ok(process_exit_code(code));
    }
    let code = if matches!(args, EscalationsArgs::Resolve { .. }) {
        let Some((source, mut journal)) = target.for_mutation().await? else {
            return Ok(process_exit_code(EXIT_ERROR));
        };
        let journal = Some(&mut journal);
        run_escalations(args, source, context, journal, out, confirm_on_terminal).await?
    } else {
        let source = target.first_source()?;
        run_escalations(args, source, context, None, out, confirm_on_terminal).await?
    };
    Ok(process_exit_code(code))
}

/// `escalations list` on a Temporal source: its open tasks, read whole, soonest deadline first.
async fn list_temporal(
    client: &TemporalClient,
    states: &[EscalationState],
    limit: u32,
    json: bool,
    clock: &SourceClock,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let mut rows = match client.escalations(states).await {
        Ok(rows) => rows,
        Err(error) => return failed(out, &error.into()),
    };
    let total = rows.len();
    rows.truncate(limit as usize);
    if json {
        let page = serde_json::json!({"items": rows, "total": total});
        write_json(out, &page, "list")?;
        return Ok(0);
    }
    for item in &rows {
        writeln!(out, "{}", list_line(item, clock))?;
    }
    writeln!(out, "{} of {total} matching", rows.len())?;
    Ok(0)
}

#[allow(clippy::too_many_arguments)]
async fn resolve(
    backend: &EscalationBackend,
    context: &str,
    id: &str,
    request: ResolveRequest,
    yes: bool,
    json: bool,
    journal: &mut Journal,
    out: &mut impl Write,
    mut confirm: impl FnMut(&str) -> bool,
) -> anyhow::Result<i32> {
    if request.note.trim().is_empty() {
        writeln!(
            out,
            "a note is required: it stays with the task and in the audit log"
        )?;
        return Ok(EXIT_ERROR);
    }
    let kind = request.resolution.kind().word();
    if !yes && !confirm(&format!("Resolve {id} ({kind})?")) {
        writeln!(out, "not resolved")?;
        return Ok(EXIT_NOT_CONFIRMED);
    }
    // The claim makes it ours first, so two operators cannot both decide.
    if let Err(error) = backend.claim(id).await {
        return failed(out, &error);
    }
    let key = uuid::Uuid::new_v4().to_string();
    let entry = Entry::for_resolution(context, backend.url(), id, &request, &key)?;
    journal
        .record_sent(&entry)
        .context("cannot write the journal: nothing was sent")?;
    let (result, tries) =
        deliver_with(&key, ATTEMPTS, || backend.resolve(id, &request, &key)).await;
    let outcome = match &result {
        Ok(answer) => Outcome::Applied {
            detail: clean(&answer.consequence).into_owned(),
        },
        Err(error) => Outcome::failed(error),
    };
    journal
        .record_result(&entry.id, outcome)
        .context("cannot record the answer in the journal")?;
    match result {
        Ok(answer) if json => {
            let report =
                serde_json::json!({ "idempotency_key": key, "attempts": tries, "outcome": answer });
            write_json(out, &report, "outcome")?;
            Ok(EXIT_RESOLVED)
        }
        Ok(answer) => {
            write_outcome(out, &answer, &key, tries)?;
            Ok(EXIT_RESOLVED)
        }
        Err(error) => {
            // Leave the task free for someone else when it was not resolved.
            let _ = backend.release(id, Some("resolution failed")).await;
            failed(out, &error)
        }
    }
}

fn failed(out: &mut impl Write, error: &BackendError) -> anyhow::Result<i32> {
    writeln!(out, "error: {error}")?;
    Ok(match error {
        BackendError::Native(error) => exit_code_of(error),
        conflict if conflict.is_conflict() => EXIT_CONFLICT,
        BackendError::Temporal(_) => EXIT_ERROR,
    })
}

fn list_line(item: &EscalationSummary, clock: &SourceClock) -> String {
    let left = item.sla_deadline - clock.now();
    let sla = match left.to_std() {
        Ok(left) => age(left),
        Err(_) => "BREACH".to_string(),
    };
    let who = match (&item.lease, &item.assignee) {
        (Some(lease), _) => format!("claimed by {}", clean(&lease.holder)),
        (None, Some(to)) => format!("for {}", clean(to)),
        (None, None) => String::new(),
    };
    format!(
        "{:<12} {} {:>7} {:<16} {:<16} {:<9} {:<18} {}",
        clean(&item.id),
        item.priority.word(),
        sla,
        clean(&item.service),
        item.reason.word(),
        item.state.word(),
        who,
        truncate(&clean(&item.input_preview), 60)
    )
}

fn write_detail(
    out: &mut impl Write,
    detail: &Escalation,
    clock: &SourceClock,
) -> anyhow::Result<()> {
    let s = &detail.summary;
    writeln!(
        out,
        "{} {} {} · {} · {}",
        clean(&s.id),
        s.priority.word(),
        s.state.word(),
        clean(&s.service),
        s.reason.word()
    )?;
    writeln!(
        out,
        "workflow {} run {} step {}",
        clean(&s.workflow_id),
        clean(&s.run_id),
        clean(&s.step)
    )?;
    writeln!(
        out,
        "SLA deadline {}  idempotency key {}",
        clock.stamp(s.sla_deadline),
        clean(&detail.idempotency_key)
    )?;
    writeln!(out, "why: {}", clean(&s.reason_text))?;
    writeln!(
        out,
        "\ncontext:\n{}",
        clean_multiline(&serde_json::to_string_pretty(&detail.context)?)
    )?;
    writeln!(
        out,
        "\ncandidates (threshold {:.2}):",
        detail.confidence_threshold
    )?;
    for c in &detail.candidates {
        let verdicts: Vec<String> = c
            .verdicts
            .iter()
            .map(|v| {
                format!(
                    "{} {}",
                    clean(&v.validator),
                    if v.passed { "✓" } else { "✗" }
                )
            })
            .collect();
        writeln!(
            out,
            "  {} {} via {} in {}: confidence {:.2} [{}]\n    {}",
            clean(&c.id),
            clean(&c.model),
            clean(&c.provider),
            clean(&c.region),
            c.confidence,
            verdicts.join(", "),
            truncate(&clean(&c.output), 200)
        )?;
    }
    writeln!(
        out,
        "\nlineage: {} ({})",
        clean(&detail.lineage.workflow_type),
        clean(&detail.lineage.workflow_id)
    )?;
    for step in &detail.lineage.steps {
        writeln!(out, "  step {} — {:?}", clean(&step.name), step.outcome)?;
        for attempt in &step.attempts {
            let path = [&attempt.model, &attempt.provider, &attempt.region]
                .iter()
                .filter_map(|p| p.as_deref().map(|v| clean(v).into_owned()))
                .collect::<Vec<_>>()
                .join(" · ");
            let error = attempt
                .error
                .as_ref()
                .map(|e| format!(" — {}: {}", e.kind.word(), clean(&e.message)))
                .unwrap_or_default();
            writeln!(
                out,
                "    #{} {path} {} {:?}{error}",
                attempt.number,
                ms(attempt.duration_ms as f64),
                attempt.outcome
            )?;
            for reason in [&attempt.retry_reason, &attempt.failover_reason]
                .into_iter()
                .flatten()
            {
                writeln!(out, "       ↳ {}", clean(reason))?;
            }
        }
    }
    writeln!(
        out,
        "\ncheckpoint {} at step {}",
        clean(&detail.checkpoint.id),
        clean(&detail.checkpoint.step)
    )?;
    Ok(())
}

fn write_outcome(
    out: &mut impl Write,
    answer: &ResolveOutcome,
    key: &str,
    tries: u32,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "resolved {} ({}) by {}: {}",
        clean(&answer.escalation.id),
        answer.applied.resolution.kind().word(),
        clean(&answer.applied.by),
        clean(&answer.consequence)
    )?;
    writeln!(out, "  idempotency key {key}, {tries} attempt(s)")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{escalation_queue, escalation_summaries, small_fleet};
    use protocol::LabInfo;

    /// A lab at x10 whose clock reads four minutes before the task's deadline: the list says
    /// 4m left, whatever the wall's clock says.
    #[test]
    fn time_left_is_counted_on_the_sources_clock() {
        let task = escalation_summaries(&escalation_queue(7, 1)).remove(0);
        let mut snapshot = small_fleet();
        snapshot.generated_at = task.sla_deadline - chrono::TimeDelta::minutes(4);
        snapshot.lab = Some(LabInfo {
            seed: 7,
            speed: 10.0,
            scenario: None,
            sim_elapsed_s: 0.0,
        });
        let line = list_line(&task, &SourceClock::of_snapshot(&snapshot));
        assert!(line.contains(" 4m"), "{line}");
    }
}
