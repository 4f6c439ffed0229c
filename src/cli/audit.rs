//! `switchboard audit`: the audit log of the context's source, oldest first, for people or
//! as JSON.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::clock::SourceClock;
use crate::cli::output::{EXIT_ERROR, exit_code_of, process_exit_code, write_json};
use crate::cli::target::Target;
use crate::sources::Client;
use protocol::commands::AuditEntry;
use protocol::duration::parse_duration_s;
use protocol::sanitize::clean;

/// Entries asked for per page (the protocol's most).
const PAGE: u32 = 500;
/// Pages read at most, whatever `--since` says: a server that keeps answering with older
/// pages cannot keep the command running.
const MAX_PAGES: usize = 40;

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Entries from this long ago (90s, 30m, 2h) or since this time (RFC 3339, e.g.
    /// 2026-12-01T08:00:00Z); without it, the latest `--limit`.
    #[arg(long, value_name = "DURATION|TIMESTAMP", value_parser = parse_since)]
    pub since: Option<Since>,
    /// The latest N entries, when no `--since` is given.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: u32,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Where `--since` starts: a time, or a span back from the source's now (a lab at x10 has
/// its own clock: "30m" means 30 minutes of its time).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Since {
    At(DateTime<Utc>),
    Ago { seconds: u64 },
}

impl Since {
    fn on(self, clock: &SourceClock) -> DateTime<Utc> {
        match self {
            Since::At(at) => at,
            Since::Ago { seconds } => {
                clock.now()
                    - chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1000))
            }
        }
    }
}

fn parse_since(text: &str) -> Result<Since, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(Since::At(at.with_timezone(&Utc)));
    }
    let seconds = parse_duration_s(text)
        .map_err(|_| format!("{text:?}: write a duration (30m, 2h) or an RFC 3339 time"))?;
    Ok(Since::Ago { seconds })
}

/// What `audit --json` prints; its field names are a stable interface for scripts.
#[derive(Serialize)]
struct AuditReport {
    source: String,
    /// The clock the entries' times are on: `UTC`, or a lab's own (`lab ×10`).
    clock: String,
    /// Oldest first.
    entries: Vec<AuditEntry>,
    /// True when more entries matched than were read (the page cap was reached).
    truncated: bool,
}

/// Reads the audit log of the target's first source and prints it; 0, or 2 on error.
pub async fn run_from_shell(args: AuditArgs, target: &Target) -> anyhow::Result<u8> {
    let source = target.first_source()?;
    let client = Client::new(&source.url, source.token.clone())?;
    let out = &mut std::io::stdout();
    let clock = SourceClock::of(&client).await;
    let since = args.since.map(|since| since.on(&clock));
    let mut entries = Vec::new();
    let mut before = None;
    let mut truncated = false;
    for page_number in 0.. {
        let limit = match since {
            Some(_) => PAGE,
            None => args.limit.clamp(1, PAGE),
        };
        let page = match client.audit(Some(limit), before, None).await {
            Ok(page) => page,
            Err(error) => {
                writeln!(out, "error: {error}")?;
                return Ok(process_exit_code(exit_code_of(&error)));
            }
        };
        let reached_since = since.is_some_and(|since| page.entries.iter().any(|e| e.at < since));
        entries.extend(
            page.entries
                .into_iter()
                .filter(|e| since.is_none_or(|since| e.at >= since)),
        );
        let done = since.is_none() || reached_since || page.next_before.is_none();
        if done {
            break;
        }
        if page_number + 1 == MAX_PAGES {
            truncated = true;
            break;
        }
        before = page.next_before;
    }
    entries.sort_by_key(|e| e.id);
    if args.json {
        let report = AuditReport {
            source: source.url.clone(),
            clock: clock.name().to_string(),
            entries,
            truncated,
        };
        write_json(out, &report, "audit log")?;
    } else {
        for entry in &entries {
            writeln!(out, "{}", line(entry, &clock))?;
        }
        if truncated {
            writeln!(out, "(older entries not read: at most {MAX_PAGES} pages)")?;
        }
    }
    out.flush()?;
    Ok(if truncated {
        process_exit_code(EXIT_ERROR)
    } else {
        0
    })
}

/// One entry for a person: when, who, what came of it, what and why.
fn line(entry: &AuditEntry, clock: &SourceClock) -> String {
    let key = entry
        .idempotency_key
        .as_deref()
        .map(|key| format!(" key {key}"))
        .unwrap_or_default();
    let detail = entry
        .detail
        .as_deref()
        .map(|detail| format!(" — {detail}"))
        .unwrap_or_default();
    clean(&format!(
        "{} #{} {} {} {} {} reason \"{}\"{key}{detail}",
        clock.stamp(entry.at),
        entry.id,
        entry.actor,
        entry.outcome.word(),
        entry.action,
        entry.target,
        entry.reason
    ))
    .into_owned()
}
