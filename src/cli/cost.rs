//! `switchboard cost report`: the cost audit of every source of the context (issue 15): spend
//! by service and tier, idle standby spend, SPOFs on critical services, budgets at risk. Exit
//! 0 with no finding, 1 with findings (for a scheduled audit), 2 when a source cannot be read.
//! The Prometheus sources with an `[slo]` table are read too: their burn rates fill what the
//! fleet sources do not report, and the services only they measure get an audit of their own.
//! Each fleet source's and each Temporal source's open escalations give its workflow steps,
//! beside their services' budget.

use std::io::Write;
use std::time::Instant;

use serde::Serialize;

use crate::cli::metrics::read_metrics;
use crate::cli::output::{EXIT_ERROR, EXIT_OK, process_exit_code, write_json};
use crate::cli::status::fetch_sources;
use crate::cli::target::Target;
use crate::domain::cost::{CostReport, context_audit};
use crate::domain::fleet::{Connection, SourceData};
use crate::domain::prices::CostConfig;
use crate::domain::steps::{EscalatedTask, StepCost, step_costs, tally};
use crate::format::{
    COST_COLUMNS, STEP_COLUMNS, cost_cells, cost_row, step_cells, steps_title, summary_lines,
};
use crate::sources::paging::{MAX_PAGES, open_escalations};
use crate::sources::prometheus::PrometheusSpec;
use crate::sources::temporal::{TemporalClient, TemporalSource};
use crate::sources::{Client, SourceSpec, Timeouts};
use protocol::escalations::{EscalationState, EscalationSummary};
use protocol::sanitize::clean;

/// Exit code of an audit that found something to act on.
pub const EXIT_FINDINGS: i32 = 1;

#[derive(clap::Subcommand, Clone, Debug, PartialEq)]
pub enum CostArgs {
    /// The cost audit: spend by service and tier, idle standbys, SPOFs, budgets at risk.
    /// Exit 0 nothing found, 1 findings, 2 a source could not be read.
    Report {
        /// Print one JSON object instead of the tables.
        #[arg(long)]
        json: bool,
    },
}

/// One source's audit, or why there is none.
#[derive(Serialize)]
struct SourceAudit {
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<CostReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// What could not be read, for the human text: `the fleet`, `its SLO burn rates`.
    #[serde(skip)]
    reads: &'static str,
    /// The workflow steps its open escalations stop at.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    steps: Vec<StepCost>,
    /// Why its open escalations could not be listed (its steps are then partial or none).
    #[serde(skip_serializing_if = "Option::is_none")]
    steps_error: Option<String>,
}

pub async fn run_from_shell(args: CostArgs, target: &Target) -> anyhow::Result<u8> {
    let CostArgs::Report { json } = args;
    let code = run_report(
        &target.sources,
        &target.prometheus,
        &target.temporal,
        &target.cost,
        json,
        &mut std::io::stdout(),
    )
    .await?;
    Ok(process_exit_code(code))
}

/// Reads each source's fleet and each `[slo]` Prometheus source's burn rates once, and the
/// open escalations of the fleet and Temporal sources, prints the audit to `out`, returns the
/// exit code.
pub async fn run_report(
    sources: &[SourceSpec],
    metrics: &[PrometheusSpec],
    temporal: &[TemporalSource],
    config: &CostConfig,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let measuring: Vec<PrometheusSpec> = (metrics.iter())
        .filter(|spec| !spec.settings.slo.services.is_empty())
        .cloned()
        .collect();
    if sources.is_empty() && measuring.is_empty() && temporal.is_empty() {
        anyhow::bail!(
            "nothing to audit in this context: no protocol v1, Temporal or Prometheus [slo] source"
        );
    }
    let now = Instant::now();
    let (mut read, measured) =
        tokio::join!(fetch_sources(sources, now), read_metrics(&measuring, now));
    read.extend(measured);
    let (escalated, workflows) = tokio::join!(
        futures::future::join_all(
            (sources.iter().zip(&read)).map(|(spec, data)| open_tasks(spec, data)),
        ),
        futures::future::join_all(temporal.iter().map(open_workflow_tasks))
    );
    let reports = context_audit(&read, now, config);
    let mut audits = Vec::new();
    for (index, source) in read.iter().enumerate() {
        let report = (reports.iter())
            .find(|(at, _)| *at == index)
            .map(|(_, r)| r.clone());
        // Metrics sources come after the fleet sources and list no escalations.
        let (tasks, steps_error) = match escalated.get(index) {
            Some((tasks, error)) => (tasks.as_slice(), error.clone()),
            None => (&[][..], None),
        };
        let tasks = tasks.iter().map(|(task, past)| escalated_at(task, *past));
        let steps = step_costs(tally(tasks), &reports, config);
        let error = match &source.connection {
            Connection::Down { error, .. } => Some(error.clone()),
            _ => None,
        };
        if report.is_some() || error.is_some() || !steps.is_empty() {
            audits.push(SourceAudit {
                source: source.name.clone(),
                report,
                error,
                reads: match source.measured {
                    Some(_) => "its SLO burn rates",
                    None => "the fleet",
                },
                steps,
                steps_error,
            });
        }
    }
    for (source, (tasks, steps_error)) in temporal.iter().zip(workflows) {
        let tasks = tasks.iter().map(|(task, past)| escalated_at(task, *past));
        audits.push(SourceAudit {
            source: source.spec.name.clone(),
            report: None,
            error: None,
            reads: "its escalations",
            steps: step_costs(tally(tasks), &reports, config),
            steps_error,
        });
    }
    if json {
        write_json(out, &audits, "cost report")?;
    } else {
        for audit in &audits {
            write_human(out, audit)?;
        }
    }
    out.flush()?;
    let unread = (audits.iter()).any(|a| a.error.is_some() || a.steps_error.is_some());
    let found = (audits.iter().filter_map(|a| a.report.as_ref())).any(|r| !r.findings.is_empty());
    Ok(match (unread, found) {
        (true, _) => EXIT_ERROR,
        (false, true) => EXIT_FINDINGS,
        (false, false) => EXIT_OK,
    })
}

/// A fleet source's open escalations, each with whether it is past its SLA on the source's
/// clock (when its fleet was read), and why the list is partial; none for a source whose
/// fleet could not be read.
async fn open_tasks(
    spec: &SourceSpec,
    data: &SourceData,
) -> (Vec<(EscalationSummary, bool)>, Option<String>) {
    let Some(snapshot) = &data.snapshot else {
        return (Vec::new(), None);
    };
    let client = match Client::new(&spec.url, spec.token.clone()) {
        Ok(client) => client,
        Err(error) => return (Vec::new(), Some(error.to_string())),
    };
    let mut tasks = Vec::new();
    let pages = open_escalations(client, MAX_PAGES);
    futures::pin_mut!(pages);
    while let Some(page) = futures::StreamExt::next(&mut pages).await {
        match page.result {
            Ok(items) => tasks.extend((items.into_iter()).map(|task| {
                let past = task.sla_deadline < snapshot.generated_at;
                (task, past)
            })),
            Err(why) => return (tasks, Some(why)),
        }
    }
    (tasks, None)
}

/// A Temporal source's open escalations, each with whether it is past its SLA now (Temporal
/// keeps the wall's time), or why they could not be listed.
async fn open_workflow_tasks(
    source: &TemporalSource,
) -> (Vec<(EscalationSummary, bool)>, Option<String>) {
    let listed = match TemporalClient::for_source(source, Timeouts::default()) {
        Ok(client) => (client.escalations(&[EscalationState::Pending, EscalationState::Claimed]))
            .await
            .map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    let now = chrono::Utc::now();
    match listed {
        Ok(tasks) => {
            let with_past = |task: EscalationSummary| {
                let past = task.sla_deadline < now;
                (task, past)
            };
            (tasks.into_iter().map(with_past).collect(), None)
        }
        Err(why) => (Vec::new(), Some(why)),
    }
}

fn escalated_at(task: &EscalationSummary, past_sla: bool) -> EscalatedTask<'_> {
    EscalatedTask {
        workflow_type: &task.workflow_type,
        step: &task.step,
        service: &task.service,
        past_sla,
    }
}

fn write_human(out: &mut impl Write, audit: &SourceAudit) -> std::io::Result<()> {
    write_report(out, audit)?;
    if let Some(error) = &audit.steps_error {
        let source = clean(&audit.source);
        writeln!(
            out,
            "workflow steps of {source}: cannot list its open escalations: {}",
            clean(error)
        )?;
    }
    if !audit.steps.is_empty() {
        writeln!(out, "{}", steps_title(&audit.steps))?;
        let widths = STEP_COLUMNS.map(|(_, width)| width);
        writeln!(
            out,
            "{}",
            cost_row(&STEP_COLUMNS.map(|(name, _)| name.to_string()), widths)
        )?;
        for step in &audit.steps {
            writeln!(out, "{}", cost_row(&step_cells(step), widths))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_report(out: &mut impl Write, audit: &SourceAudit) -> std::io::Result<()> {
    let source = clean(&audit.source);
    let Some(report) = &audit.report else {
        // A Temporal source has no audit of its own, only steps.
        let Some(error) = &audit.error else {
            return Ok(());
        };
        return writeln!(
            out,
            "cost audit of {source}: cannot read {}: {}\n",
            audit.reads,
            clean(error)
        );
    };
    writeln!(out, "cost audit of {source}")?;
    writeln!(
        out,
        "{}",
        aligned(COST_COLUMNS.map(|(name, _)| name.to_string()))
    )?;
    for service in &report.services {
        writeln!(out, "{}", aligned(cost_cells(service)))?;
    }
    for line in summary_lines(report, chrono::Utc::now()) {
        writeln!(out, "{line}")?;
    }
    writeln!(out)
}

fn aligned(cells: [String; 11]) -> String {
    cost_row(&cells, COST_COLUMNS.map(|(_, width)| width))
}
