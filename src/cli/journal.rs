//! `switchboard journal`: the latest commands of the local journal with their outcomes, after
//! settling the pending ones with the system each went to, as the console does on start
//! (`runner::recovery`): a protocol v1 source's audit log, a Temporal resolution or an
//! Alertmanager silence sent again under its key, a Patroni promotion read from the cluster.

use std::io::Write;

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::output::{process_exit_code, write_json};
use crate::cli::target::Target;
use crate::journal::{Outcome, Record, describe_recovered};
use crate::runner::recovery::Recoverers;
use protocol::sanitize::clean;

/// Exit code when some command's fate is still unknown after asking (else 0).
pub const EXIT_STILL_UNKNOWN: i32 = 1;

#[derive(clap::Args)]
pub struct JournalArgs {
    /// How many of the latest commands to list.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// What `journal --json` prints; its field names are a stable interface for scripts.
#[derive(Serialize)]
struct JournalReport {
    journal: String,
    /// Pending commands whose fate this run learnt from the system they went to.
    recovered: usize,
    /// Commands whose fate is still unknown (sent, and no answer known).
    still_unknown: usize,
    /// The latest commands, oldest first; `outcome` is null for one never answered.
    entries: Vec<JournalLine>,
}

#[derive(Serialize)]
struct JournalLine {
    #[serde(flatten)]
    entry: crate::journal::Entry,
    outcome: Option<Outcome>,
}

/// Settles the pending entries sent to a system of the target's context, then prints the
/// latest `--limit` commands; exit 0, or [`EXIT_STILL_UNKNOWN`] when a fate is still unknown.
pub async fn run_from_shell(args: JournalArgs, target: &Target) -> anyhow::Result<u8> {
    let mut journal = target.open_journal()?;
    let recoverers = Recoverers::of_context(
        &target.sources,
        &target.temporal,
        &target.prometheus,
        &target.patroni,
    );
    let recovered = (recoverers.settle_pending(&mut journal).await)
        .with_context(|| format!("cannot write the journal {}", journal.path().display()))?;
    let out = &mut std::io::stdout();
    for (entry, outcome) in &recovered {
        crate::cli::output::note(format_args!(
            "journal: {}",
            describe_recovered(entry, outcome)
        ));
    }
    let still_unknown = journal.pending().len();
    let records = journal.recent(args.limit);
    if args.json {
        let report = JournalReport {
            journal: journal.path().display().to_string(),
            recovered: recovered.iter().filter(|(_, o)| !o.is_unknown()).count(),
            still_unknown,
            entries: records
                .into_iter()
                .map(|Record { entry, outcome }| JournalLine { entry, outcome })
                .collect(),
        };
        write_json(out, &report, "journal")?;
    } else {
        for record in &records {
            writeln!(out, "{}", line(record))?;
        }
        writeln!(
            out,
            "{} shown of {}; {still_unknown} with an unknown outcome",
            records.len(),
            clean(&journal.path().display().to_string())
        )?;
    }
    out.flush()?;
    let code = if still_unknown > 0 {
        EXIT_STILL_UNKNOWN
    } else {
        0
    };
    Ok(process_exit_code(code))
}

/// One command for a person: outcome first, so a narrow terminal keeps it.
fn line(record: &Record) -> String {
    let fate = match &record.outcome {
        Some(outcome) => outcome.describe(),
        None => "sent, no answer yet".to_string(),
    };
    let entry = &record.entry;
    clean(&format!(
        "{} {fate}: {} {} in {} ({}) key {}",
        entry.at.format("%Y-%m-%d %H:%M:%S UTC"),
        entry.command.verb,
        entry.command.target,
        entry.context,
        entry.reason,
        entry.idempotency_key
    ))
    .into_owned()
}
