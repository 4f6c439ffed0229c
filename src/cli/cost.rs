//! `switchboard cost report`: the cost audit of every source of the context (issue 15): spend
//! by service and tier, idle standby spend, SPOFs on critical services, budgets at risk. Exit
//! 0 with no finding, 1 with findings (for a scheduled audit), 2 when a source cannot be read.

use std::io::Write;

use serde::Serialize;

use crate::cli::output::{EXIT_ERROR, EXIT_OK, process_exit_code, write_json};
use crate::cli::target::Target;
use crate::domain::cost::CostReport;
use crate::domain::prices::CostConfig;
use crate::format::{COST_COLUMNS, cost_cells, cost_row, summary_lines};
use crate::sources::{Client, SourceSpec};
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
}

pub async fn run_from_shell(args: CostArgs, target: &Target) -> anyhow::Result<u8> {
    let CostArgs::Report { json } = args;
    let code = run_report(&target.sources, &target.cost, json, &mut std::io::stdout()).await?;
    Ok(process_exit_code(code))
}

/// Reads each source's fleet once, prints the audit to `out`, returns the exit code.
pub async fn run_report(
    sources: &[SourceSpec],
    config: &CostConfig,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    if sources.is_empty() {
        anyhow::bail!("no protocol v1 source in this context to audit");
    }
    let answers = futures::future::join_all(
        sources
            .iter()
            .map(|spec| async move { Client::new(&spec.url, spec.token.clone())?.fleet().await }),
    )
    .await;
    let audits: Vec<SourceAudit> = (sources.iter().zip(answers))
        .map(|(spec, answer)| match answer {
            Ok(snapshot) => SourceAudit {
                source: spec.name.clone(),
                report: Some(CostReport::of(&snapshot, config)),
                error: None,
            },
            Err(error) => SourceAudit {
                source: spec.name.clone(),
                report: None,
                error: Some(error.to_string()),
            },
        })
        .collect();
    if json {
        write_json(out, &audits, "cost report")?;
    } else {
        for audit in &audits {
            write_human(out, audit)?;
        }
    }
    out.flush()?;
    let unread = audits.iter().any(|a| a.error.is_some());
    let found = (audits.iter().filter_map(|a| a.report.as_ref())).any(|r| !r.findings.is_empty());
    Ok(match (unread, found) {
        (true, _) => EXIT_ERROR,
        (false, true) => EXIT_FINDINGS,
        (false, false) => EXIT_OK,
    })
}

fn write_human(out: &mut impl Write, audit: &SourceAudit) -> std::io::Result<()> {
    let source = clean(&audit.source);
    let Some(report) = &audit.report else {
        let error = clean(audit.error.as_deref().unwrap_or_default());
        return writeln!(
            out,
            "cost audit of {source}: cannot read the fleet: {error}\n"
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
    for line in summary_lines(report) {
        writeln!(out, "{line}")?;
    }
    writeln!(out)
}

fn aligned(cells: [String; 11]) -> String {
    cost_row(&cells, COST_COLUMNS.map(|(_, width)| width))
}
