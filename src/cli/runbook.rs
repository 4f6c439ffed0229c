//! `switchboard runbook list|show|lint|check`: the runbooks the console knows, from a shell.
//! `lint` is for a runbook's author and CI; `check` reads a runbook's conditions against the
//! live fleet of the chosen context without acting.
//!
//! Exit codes:
//!
//! | verb | 0 | 1 | 2 |
//! |------|---|---|---|
//! | `list`, `show` | listed | | unknown runbook id |
//! | `lint` | every file parses clean | | a problem (each printed as `file:line:column: what`) |
//! | `check` | every condition holds | one is false or unknown (`?`: a fact no fresh source reported) | unknown or broken runbook; no source answered |

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::cli::metrics::read_metrics;
use crate::cli::output::{EXIT_ERROR, EXIT_OK, note, process_exit_code, write_json};
use crate::cli::status::fetch_sources;
use crate::cli::target::{ConfigArgs, EmbeddedLabArgs};
use crate::cli::target::{Target, load_config};
use crate::config::{Config, paths};
use crate::runbook::catalog::{Catalog, Entry};
use crate::runbook::eval::{FleetView, OpenEscalations, Truth, evaluate};
use crate::runbook::expr::Expr;
use crate::runbook::file::{Block, Jump, Runbook};
use crate::sources::paging::{BUSY_RETRIES, BUSY_WAIT};
use crate::sources::{Client, ClientError, EscalationQuery, SourceSpec};
use protocol::escalations::{EscalationState, Priority};
use protocol::sanitize::clean;

#[derive(clap::Subcommand)]
pub enum RunbookArgs {
    /// Every runbook known: shipped, yours (the config dir's runbooks/) and the config's
    /// runbook_dirs; broken files with their first problem.
    List {
        /// Print one JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// One runbook's steps, each with its blocks.
    Show {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Lint runbook files or directories (default: every runbook known): exit 2 on any
    /// problem, each printed as file:line:column.
    Lint {
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Evaluate a runbook's conditions (when it applies, its checks, its gates) against the
    /// live fleet without acting: exit 0 when all hold, 1 otherwise.
    Check {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// Exit code of `check` when a condition is false or unknown.
const EXIT_NOT_HOLDING: i32 = 1;

/// The catalog as the console reads it.
pub fn catalog(config: &Config) -> Catalog {
    Catalog::load(Some(&paths().runbooks_dir), &config.runbook_dirs)
}

/// Runs a verb; only `check` reaches the context's sources (or starts the embedded lab).
pub async fn run_from_shell(
    args: RunbookArgs,
    lab: &EmbeddedLabArgs,
    config_args: &ConfigArgs,
) -> anyhow::Result<u8> {
    let config = load_config(config_args, lab)?;
    let out = &mut std::io::stdout();
    let code = match args {
        RunbookArgs::List { json } => list(&catalog(&config), json, out)?,
        RunbookArgs::Show { id, json } => show(&catalog(&config), &id, json, out)?,
        RunbookArgs::Lint { paths } => {
            let catalog = if paths.is_empty() {
                catalog(&config)
            } else {
                Catalog::of_paths(&paths)
            };
            lint(&catalog, out)?
        }
        RunbookArgs::Check { id, json } => {
            let target = Target::for_one_shot(lab, config_args).await?;
            let code = check(&catalog(&config), &id, json, &target, out).await;
            target.stop().await;
            code?
        }
    };
    Ok(process_exit_code(code))
}

#[derive(Serialize)]
struct Listed {
    id: Option<String>,
    title: Option<String>,
    version: Option<u32>,
    owner: Option<String>,
    last_reviewed: Option<String>,
    origin: String,
    /// Shipped runbook this file replaces.
    replaces: Option<String>,
    problems: Vec<String>,
}

impl Listed {
    fn of(entry: &Entry) -> Listed {
        let front = entry.parsed.as_ref().ok().map(|runbook| &runbook.front);
        Listed {
            id: front.map(|f| clean(&f.id).into_owned()),
            title: front.map(|f| clean(&f.title).into_owned()),
            version: front.map(|f| f.version),
            owner: front.map(|f| clean(&f.owner).into_owned()),
            last_reviewed: front.map(|f| f.last_reviewed.to_string()),
            origin: clean(&entry.origin.name()).into_owned(),
            replaces: entry
                .replaces
                .as_ref()
                .map(|o| clean(&o.name()).into_owned()),
            problems: problem_lines(entry),
        }
    }
}

fn problem_lines(entry: &Entry) -> Vec<String> {
    match &entry.parsed {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .iter()
            .map(|p| clean(&p.to_string()).into_owned())
            .collect(),
    }
}

fn list(catalog: &Catalog, json: bool, out: &mut impl Write) -> anyhow::Result<i32> {
    let listed: Vec<Listed> = catalog.entries.iter().map(Listed::of).collect();
    if json {
        write_json(out, &serde_json::json!({ "runbooks": listed }), "runbooks")?;
        return Ok(EXIT_OK);
    }
    for item in &listed {
        match (&item.id, &item.title) {
            (Some(id), Some(title)) => writeln!(
                out,
                "{id:<20} v{:<3} {title} · {} · reviewed {} · {}{}",
                item.version.unwrap_or_default(),
                item.owner.as_deref().unwrap_or_default(),
                item.last_reviewed.as_deref().unwrap_or_default(),
                item.origin,
                item.replaces
                    .as_ref()
                    .map(|r| format!(" (replaces {r})"))
                    .unwrap_or_default()
            )?,
            _ => writeln!(
                out,
                "✖ {}: cannot be followed: {}",
                item.origin,
                item.problems
                    .first()
                    .map(String::as_str)
                    .unwrap_or_default()
            )?,
        }
    }
    Ok(EXIT_OK)
}

fn find<'a>(catalog: &'a Catalog, id: &str) -> Result<&'a Runbook, String> {
    catalog.find(id).ok_or_else(|| {
        let known: Vec<&str> = catalog.entries.iter().filter_map(Entry::id).collect();
        format!(
            "no runbook {:?}; known: {}",
            clean(id),
            clean(&known.join(", "))
        )
    })
}

#[derive(Serialize)]
struct ShownStep {
    number: usize,
    title: String,
    line: usize,
    blocks: Vec<String>,
}

fn show(catalog: &Catalog, id: &str, json: bool, out: &mut impl Write) -> anyhow::Result<i32> {
    let runbook = match find(catalog, id) {
        Ok(runbook) => runbook,
        Err(why) => {
            note(why);
            return Ok(EXIT_ERROR);
        }
    };
    let steps: Vec<ShownStep> = runbook
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| ShownStep {
            number: index + 1,
            title: clean(&step.title).into_owned(),
            line: step.at.line,
            blocks: step.blocks.iter().map(block_text).collect(),
        })
        .collect();
    let front = &runbook.front;
    if json {
        let shown = serde_json::json!({
            "id": clean(&front.id),
            "title": clean(&front.title),
            "version": front.version,
            "owner": clean(&front.owner),
            "last_reviewed": front.last_reviewed.to_string(),
            "applies_when": runbook.applies.as_ref().map(ToString::to_string),
            "steps": steps,
        });
        write_json(out, &shown, "runbook")?;
        return Ok(EXIT_OK);
    }
    writeln!(
        out,
        "{} v{}: {}\nowner {} · reviewed {}",
        clean(&front.id),
        front.version,
        clean(&front.title),
        clean(&front.owner),
        front.last_reviewed
    )?;
    if let Some(applies) = &runbook.applies {
        writeln!(out, "applies when {applies}")?;
    }
    for step in &steps {
        writeln!(out, "\n{}. {}", step.number, step.title)?;
        for block in &step.blocks {
            writeln!(out, "   {block}")?;
        }
    }
    Ok(EXIT_OK)
}

fn jump_text(jump: Jump) -> String {
    match jump {
        Jump::Step(n) => format!("step {n}"),
        Jump::Continue => "the next step".to_string(),
        Jump::End => "end".to_string(),
    }
}

fn block_text(block: &Block) -> String {
    match block {
        Block::Check(expr) => format!("check    {expr}"),
        Block::Action { line, .. } => format!("action   {}", clean(line)),
        Block::Gate(gate) => format!(
            "gate     until {} (timeout {} s, then {})",
            gate.until,
            gate.timeout_s,
            jump_text(gate.on_timeout)
        ),
        Block::Decision(choices) => {
            let choices: Vec<String> = choices
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} {} -> {}", i + 1, clean(&c.label), jump_text(c.jump)))
                .collect();
            format!("decision {}", choices.join("; "))
        }
    }
}

fn lint(catalog: &Catalog, out: &mut impl Write) -> anyhow::Result<i32> {
    let mut problems = 0;
    for problem in catalog.problems() {
        writeln!(out, "{}", clean(&problem.to_string()))?;
        problems += 1;
    }
    if problems == 0 {
        writeln!(
            out,
            "{}, no problem",
            counted(catalog.entries.len(), "runbook")
        )?;
        Ok(EXIT_OK)
    } else {
        writeln!(out, "{}", counted(problems, "problem"))?;
        Ok(EXIT_ERROR)
    }
}

fn counted(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// One condition of a runbook as read now.
#[derive(Serialize)]
struct Checked {
    /// `applies when`, `step 1 check`, `step 3 gate`.
    what: String,
    condition: String,
    truth: &'static str,
    readings: Vec<String>,
}

/// Every condition of `runbook`: when it applies, each check, each gate's `until`.
fn conditions(runbook: &Runbook) -> Vec<(String, &Expr)> {
    let mut all: Vec<(String, &Expr)> = Vec::new();
    if let Some(applies) = &runbook.applies {
        all.push(("applies when".to_string(), applies));
    }
    for (index, step) in runbook.steps.iter().enumerate() {
        for block in &step.blocks {
            match block {
                Block::Check(expr) => all.push((format!("step {} check", index + 1), expr)),
                Block::Gate(gate) => all.push((format!("step {} gate", index + 1), &gate.until)),
                Block::Action { .. } | Block::Decision(_) => {}
            }
        }
    }
    all
}

/// `check`: reads each source of the target once (protocol v1 snapshots, Prometheus facts,
/// the open escalations by priority), then every condition.
async fn check(
    catalog: &Catalog,
    id: &str,
    json: bool,
    target: &Target,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let runbook = match find(catalog, id) {
        Ok(runbook) => runbook,
        Err(why) => {
            note(why);
            return Ok(EXIT_ERROR);
        }
    };
    let now = Instant::now();
    let (mut sources, metrics, open) = tokio::join!(
        fetch_sources(&target.sources, now),
        read_metrics(&target.prometheus, now),
        open_escalations(target),
    );
    sources.extend(metrics);
    let down: Vec<String> = sources
        .iter()
        .filter(|s| s.received_at.is_none())
        .map(|s| clean(&s.name).into_owned())
        .collect();
    if down.len() == sources.len() {
        note(format!(
            "no source answered ({}): nothing to check against",
            if down.is_empty() {
                "the context has no protocol v1 or Prometheus source".to_string()
            } else {
                down.join(", ")
            }
        ));
        return Ok(EXIT_ERROR);
    }
    for name in &down {
        note(format!("{name} did not answer: its facts read ?"));
    }
    for source in &sources {
        let problems = source.measured.iter().flat_map(|m| &m.problems);
        for problem in problems {
            note(format!("{}: {}", clean(&source.name), clean(problem)));
        }
    }
    if let Err(why) = &open {
        note(format!("open escalations read ?: {}", clean(why)));
    }
    let fleet = FleetView::of_sources(&sources, now).with_open_escalations(open.ok());
    let checked: Vec<Checked> = conditions(runbook)
        .into_iter()
        .map(|(what, expr)| {
            let evaluation = evaluate(expr, &fleet);
            Checked {
                what,
                condition: expr.to_string(),
                truth: evaluation.truth.mark(),
                readings: evaluation.readings.into_iter().map(|r| r.text).collect(),
            }
        })
        .collect();
    let code = if checked.iter().all(|c| c.truth == Truth::True.mark()) {
        EXIT_OK
    } else {
        EXIT_NOT_HOLDING
    };
    if json {
        let report = serde_json::json!({ "runbook": clean(&runbook.front.id), "checked": checked });
        write_json(out, &report, "runbook check")?;
    } else {
        for c in &checked {
            writeln!(out, "{} {:<14} {}", c.truth, c.what, c.condition)?;
            for reading in &c.readings {
                writeln!(out, "    {}", clean(reading))?;
            }
        }
    }
    Ok(code)
}

/// The open escalations by priority of the context's protocol v1 sources, each priority of
/// each source one request of one row whose `total` is the count; or why they are unknown
/// (a source did not answer; a Temporal source's are not counted here).
async fn open_escalations(target: &Target) -> Result<OpenEscalations, String> {
    if let Some(temporal) = target.temporal.first() {
        return Err(format!(
            "Temporal source {} is not counted by check",
            temporal.spec.name
        ));
    }
    if target.sources.is_empty() {
        return Err("the context has no protocol v1 source".to_string());
    }
    let counts = target.sources.iter().flat_map(|spec| {
        Priority::ALL
            .into_iter()
            .map(move |priority| count_open(spec, priority))
    });
    let counts = futures::future::try_join_all(counts).await?;
    let mut open = [0; 4];
    for (at, count) in counts.into_iter().enumerate() {
        open[at % Priority::ALL.len()] += count;
    }
    Ok(open)
}

/// How many open (pending or claimed) escalations of `priority` the source holds; a source
/// busy building its list is asked again as the inbox's load does.
async fn count_open(spec: &SourceSpec, priority: Priority) -> Result<u64, String> {
    let fail = |error: ClientError| format!("{}: {error}", spec.name);
    let client = Client::new(&spec.url, spec.token.clone()).map_err(fail)?;
    let query = EscalationQuery {
        states: &[EscalationState::Pending, EscalationState::Claimed],
        priority: Some(priority.word()),
        limit: Some(1),
        ..EscalationQuery::default()
    };
    let mut busy = 0;
    loop {
        match client.escalations(&query).await {
            Ok(page) => return Ok(page.total),
            Err(error) if error.is_busy() && busy < BUSY_RETRIES => {
                busy += 1;
                tokio::time::sleep(BUSY_WAIT).await;
            }
            Err(error) => return Err(fail(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        path
    }

    const FRONT: &str = "+++\nid = \"mine\"\ntitle = \"T\"\nversion = 1\nowner = \"me\"\nlast_reviewed = 2026-12-01\n+++\n";

    #[test]
    fn lint_prints_every_problem_at_its_place_and_exits_2() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(
            dir.path(),
            "bad.md",
            &format!("{FRONT}\n## 1. Look\n\n```check\nshare(us-east) <\n```\n"),
        );
        let mut out = Vec::new();
        let code = lint(&Catalog::of_paths(std::slice::from_ref(&bad)), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(code, EXIT_ERROR);
        assert!(
            text.starts_with(&format!(
                "{}:12:17: expected a value, found the end",
                bad.display()
            )),
            "file:line:column first: {text}"
        );
        assert!(text.ends_with("\n1 problem\n"), "{text}");

        let good = write(
            dir.path(),
            "good.md",
            &format!("{FRONT}\n## 1. Look\n\nRead.\n"),
        );
        let mut out = Vec::new();
        assert_eq!(
            lint(&Catalog::of_paths(&[good]), &mut out).unwrap(),
            EXIT_OK
        );
        assert_eq!(String::from_utf8(out).unwrap(), "1 runbook, no problem\n");
    }

    #[test]
    fn the_shipped_catalog_lists_and_shows_every_kind_of_block() {
        let catalog = Catalog::load(None, &[]);
        let mut out = Vec::new();
        list(&catalog, false, &mut out).unwrap();
        let listed = String::from_utf8(out).unwrap();
        assert_eq!(listed.lines().count(), catalog.entries.len());
        assert!(listed.contains("provider-outage"), "{listed}");

        let mut out = Vec::new();
        assert_eq!(
            show(&catalog, "provider-outage", false, &mut out).unwrap(),
            EXIT_OK
        );
        let shown = String::from_utf8(out).unwrap();
        for kind in ["check ", "action ", "gate ", "decision "] {
            assert!(shown.contains(kind), "{kind} in {shown}");
        }
        assert!(
            shown.contains("action   breaker openai@us-east force-open 30m"),
            "{shown}"
        );

        let mut out = Vec::new();
        assert_eq!(show(&catalog, "nope", false, &mut out).unwrap(), EXIT_ERROR);
    }
}
