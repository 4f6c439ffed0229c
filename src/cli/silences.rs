//! `switchboard silences list|create|expire`: the silences of the context's Alertmanager from
//! a shell. A create or an expire goes the console's way (`runner::silences`): refused in a
//! read-only context or for a role below operator, confirmed, journaled (fsync) under an
//! idempotency key that rides in the silence's comment, sent again under that key while no
//! answer comes; `createdBy` is the name the sources give the user, else the login name.
//!
//! Exit codes:
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | listed; created (or found made by an earlier try with its key); expired (or it had expired already) |
//! | 1 | not confirmed: declined at the prompt, or no `--yes` where nobody can be asked |
//! | 2 | error: a bad matcher, duration or reason; refused (read-only context, a viewer); no Alertmanager in the context; Alertmanager unreachable or refusing; outcome unknown (kept in the journal: `switchboard journal` settles it) |

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::app::{
    SilenceAction, SilenceOrder, matcher_text, matchers_text, order_text, silence_length,
    silence_refusal, until_text,
};
use crate::cli::output::{
    EXIT_ERROR, EXIT_NOT_CONFIRMED, EXIT_OK, confirm_on_terminal, note, process_exit_code,
    write_json,
};
use crate::cli::target::Target;
use crate::journal::describe_recovered;
use crate::runner::recovery::Recoverers;
use crate::runner::silences::{journal_order, send_journaled};
use crate::sources::Client;
use crate::sources::patroni::operator_name;
use crate::sources::prometheus::AlertmanagerClient;
use crate::sources::prometheus::silences::{Matcher, Silence, SilenceState};
use protocol::WhoAmI;
use protocol::sanitize::{clean, clean_multiline};

#[derive(clap::Subcommand)]
pub enum SilencesArgs {
    /// The active (and pending) silences, ending soonest first.
    List {
        /// Expired silences too (Alertmanager keeps them a while).
        #[arg(long)]
        expired: bool,
        #[command(flatten)]
        on: AlertmanagerArg,
        /// Print one JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Silence the alerts the matchers select, for a while.
    Create {
        /// label=value, label!=value, label=~regex or label!~regex; all must match.
        #[arg(value_name = "MATCHER", required = true, value_parser = Matcher::parse)]
        matchers: Vec<Matcher>,
        /// How long (90s, 20m, 1h30m; 1 second to 7 days).
        #[arg(long = "for", value_name = "DURATION", default_value = "1h", value_parser = silence_length)]
        duration: Duration,
        #[command(flatten)]
        common: MutationArgs,
    },
    /// End a silence now.
    Expire {
        #[arg(value_name = "SILENCE_ID")]
        id: String,
        #[command(flatten)]
        common: MutationArgs,
    },
}

/// Which Alertmanager: the named Prometheus source's, else the context's first.
#[derive(clap::Args)]
pub struct AlertmanagerArg {
    /// The Prometheus source whose Alertmanager to use (default: the first with an
    /// alertmanager_url).
    #[arg(long, value_name = "NAME")]
    source: Option<String>,
}

#[derive(clap::Args)]
pub struct MutationArgs {
    /// Why: the silence's comment and the journal's record.
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Send without asking for confirmation.
    #[arg(long)]
    yes: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    on: AlertmanagerArg,
}

/// What `silences list --json` prints; its field names are a stable interface for scripts.
#[derive(Serialize)]
struct Listed {
    context: String,
    source: String,
    alertmanager: String,
    silences: Vec<ListedSilence>,
}

#[derive(Serialize)]
struct ListedSilence {
    id: String,
    /// `active`, `pending` or `expired`.
    state: &'static str,
    /// e.g. `region=us-east`, `model=~gpt-4.*`.
    matchers: Vec<String>,
    starts_at: DateTime<Utc>,
    until: DateTime<Utc>,
    created_by: String,
    /// Without the console's key.
    comment: String,
    /// Set when the console or the CLI made it.
    idempotency_key: Option<String>,
}

/// What a create or an expire came to; printed as text or, with `--json`, as this object.
#[derive(Serialize)]
struct Report {
    /// `silence create` or `silence expire`.
    command: &'static str,
    /// The matchers, or the silence's id.
    target: String,
    context: String,
    source: String,
    alertmanager: String,
    /// `created`, `expired`, `declined`, `refused` (nothing sent), `rejected` (by
    /// Alertmanager), `unknown` (no answer; kept in the journal) or `error` (nothing sent).
    outcome: &'static str,
    exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    silence_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<String>,
    warnings: Vec<String>,
}

impl Report {
    fn finish(&mut self, outcome: &'static str, exit_code: i32, message: impl Into<String>) {
        self.outcome = outcome;
        self.exit_code = exit_code;
        self.message = Some(message.into());
    }
}

pub async fn run_from_shell(args: SilencesArgs, target: &Target) -> anyhow::Result<u8> {
    let out = &mut std::io::stdout();
    let code = match args {
        SilencesArgs::List { expired, on, json } => {
            list(target, &on, expired, json, out).await?;
            EXIT_OK
        }
        SilencesArgs::Create {
            matchers,
            duration,
            common,
        } => {
            let action = SilenceAction::Create { matchers, duration };
            mutate(target, action, &common, out, confirm_on_terminal).await?
        }
        SilencesArgs::Expire { id, common } => {
            let action = SilenceAction::Expire { id };
            mutate(target, action, &common, out, confirm_on_terminal).await?
        }
    };
    out.flush()?;
    Ok(process_exit_code(code))
}

/// The source's name and its Alertmanager: `on`'s, else the context's first that has one.
fn alertmanager(
    target: &Target,
    on: &AlertmanagerArg,
) -> Result<(String, AlertmanagerClient), String> {
    let context = &target.context.name;
    let chosen = (target.prometheus.iter())
        .filter(|spec| on.source.as_ref().is_none_or(|name| *name == spec.name));
    for spec in chosen {
        let alertmanager = spec.alertmanager();
        if let Some(client) = alertmanager.map_err(|e| format!("source {}: {e}", spec.name))? {
            return Ok((spec.name.clone(), client));
        }
    }
    Err(match &on.source {
        Some(name) => {
            format!("context {context} has no Prometheus source {name} with an alertmanager_url")
        }
        None => format!("no source of context {context} reads an Alertmanager (alertmanager_url)"),
    })
}

async fn list(
    target: &Target,
    on: &AlertmanagerArg,
    expired: bool,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (source, client) = alertmanager(target, on).map_err(anyhow::Error::msg)?;
    let mut silences = client
        .silences()
        .await
        .with_context(|| format!("cannot read the silences of {}", client.url()))?;
    silences.retain(|s| expired || s.state != SilenceState::Expired);
    silences.sort_by(|a, b| {
        let ended = |s: &Silence| s.state == SilenceState::Expired;
        (ended(a), a.ends_at, &a.id).cmp(&(ended(b), b.ends_at, &b.id))
    });
    if json {
        let listed = Listed {
            context: target.context.name.clone(),
            source,
            alertmanager: client.url().to_string(),
            silences: silences.iter().map(listed).collect(),
        };
        return write_json(out, &listed, "silences");
    }
    let now = Utc::now();
    for silence in &silences {
        writeln!(out, "{}", line(silence, now))?;
    }
    let which = if expired { "" } else { "active " };
    writeln!(
        out,
        "{} {which}silence(s) in {} ({})",
        silences.len(),
        clean(&source),
        clean(client.url())
    )?;
    Ok(())
}

fn state_word(state: SilenceState) -> &'static str {
    match state {
        SilenceState::Active => "active",
        SilenceState::Pending => "pending",
        SilenceState::Expired => "expired",
    }
}

fn listed(silence: &Silence) -> ListedSilence {
    ListedSilence {
        id: silence.id.clone(),
        state: state_word(silence.state),
        matchers: silence.matchers.iter().map(matcher_text).collect(),
        starts_at: silence.starts_at,
        until: silence.ends_at,
        created_by: silence.created_by.clone(),
        comment: silence.comment.clone(),
        idempotency_key: silence.key.clone(),
    }
}

/// One silence for a person: id, until when and by whom first, so a narrow terminal keeps it.
fn line(silence: &Silence, now: DateTime<Utc>) -> String {
    let until = match silence.state {
        SilenceState::Expired => "ended",
        SilenceState::Active | SilenceState::Pending => "until",
    };
    clean(&format!(
        "{} {} {until} {} by {}: {} ({})",
        silence.id,
        state_word(silence.state),
        until_text(silence.ends_at, now),
        silence.created_by,
        matchers_text(&silence.matchers),
        silence.comment
    ))
    .into_owned()
}

/// The name the sources give the user, as the console takes it: a protocol v1 source's
/// `whoami` (its role decides what may be done), else the name a Temporal or Patroni source
/// acts under. `None`: the login name makes the silence.
async fn identity(target: &Target) -> Option<WhoAmI> {
    for source in &target.sources {
        let asked = match Client::new(&source.url, source.token.clone()) {
            Ok(client) => client.whoami().await,
            Err(error) => Err(error),
        };
        match asked {
            Ok(who) => return Some(who),
            Err(error) => note(format_args!(
                "cannot ask source {} who you are: {error}",
                source.name
            )),
        }
    }
    let acting = (target.temporal.iter().map(|t| t.operator.clone()))
        .chain(target.patroni.iter().map(operator_name))
        .next()?;
    Some(WhoAmI {
        name: acting,
        role: protocol::Role::Operator,
    })
}

/// Creates or expires a silence the console's way; returns the exit code (`Err` only when
/// the output cannot be written).
async fn mutate(
    target: &Target,
    action: SilenceAction,
    args: &MutationArgs,
    out: &mut impl Write,
    confirm: impl FnOnce(&str) -> bool,
) -> anyhow::Result<i32> {
    let (command, shown) = match &action {
        SilenceAction::Create { matchers, .. } => ("silence create", matchers_text(matchers)),
        SilenceAction::Expire { id } => ("silence expire", clean(id).into_owned()),
    };
    let mut report = Report {
        command,
        target: shown,
        context: target.context.name.clone(),
        source: String::new(),
        alertmanager: String::new(),
        outcome: "error",
        exit_code: EXIT_ERROR,
        message: None,
        idempotency_key: None,
        silence_id: None,
        until: None,
        created_by: None,
        warnings: Vec::new(),
    };
    drive(target, action, args, &mut report, confirm).await;
    if args.json {
        write_json(out, &report, "report")?;
    } else {
        writeln!(out, "{}", conclusion(&report))?;
    }
    Ok(report.exit_code)
}

async fn drive(
    target: &Target,
    action: SilenceAction,
    args: &MutationArgs,
    report: &mut Report,
    confirm: impl FnOnce(&str) -> bool,
) {
    if args.reason.trim().is_empty() {
        return report.finish("error", EXIT_ERROR, "--reason must say why");
    }
    let (source, client) = match alertmanager(target, &args.on) {
        Ok(found) => found,
        Err(problem) => return report.finish("error", EXIT_ERROR, problem),
    };
    report.source = source.clone();
    report.alertmanager = client.url().to_string();
    let who = identity(target).await;
    if let Some(refusal) = silence_refusal(target.context.read_only, who.as_ref()) {
        return report.finish(
            "refused",
            EXIT_ERROR,
            format!("{refusal}; nothing was sent"),
        );
    }
    let order = SilenceOrder {
        local_id: 1,
        source,
        action,
        reason: args.reason.trim().to_string(),
        operator: who.map(|w| w.name),
    };
    if !args.yes {
        let question = format!(
            "{} in context {} ({}), reason {:?}?",
            order_text(&order),
            clean(&report.context),
            clean(&report.alertmanager),
            clean(&order.reason)
        );
        if !confirm(&question) {
            return report.finish(
                "declined",
                EXIT_NOT_CONFIRMED,
                "not confirmed; nothing was sent",
            );
        }
    }
    let mut journal = match target.open_journal() {
        Ok(journal) => journal,
        Err(error) => {
            return report.finish("error", EXIT_ERROR, format!("{error:#}; nothing was sent"));
        }
    };
    // As every verb that acts: what became of earlier silences to this Alertmanager first.
    let earlier = Recoverers {
        alertmanagers: vec![client.clone()],
        ..Recoverers::default()
    };
    match earlier.settle_pending(&mut journal).await {
        Ok(settled) => {
            for (entry, outcome) in settled {
                note(format_args!(
                    "journal: {}",
                    describe_recovered(&entry, &outcome)
                ));
            }
        }
        Err(error) => {
            let why = format!(
                "cannot write the journal {}: {error}; nothing was sent",
                journal.path().display()
            );
            return report.finish("error", EXIT_ERROR, why);
        }
    }
    let journal = Arc::new(Mutex::new(journal));
    let journaled = match journal_order(&order, &client, &journal, &report.context).await {
        Ok(journaled) => journaled,
        Err(failure) => return report.finish("error", EXIT_ERROR, failure.message),
    };
    report.idempotency_key = Some(journaled.key().to_string());
    match send_journaled(&journaled, &client, &journal).await {
        Ok(done) => {
            let outcome = match order.action {
                SilenceAction::Create { .. } => "created",
                SilenceAction::Expire { .. } => "expired",
            };
            report.finish(outcome, EXIT_OK, clean(&done.detail));
            if outcome == "created" {
                match client.silence(&done.id).await {
                    Ok(made) => {
                        report.until = Some(made.ends_at);
                        report.created_by = Some(made.created_by);
                    }
                    Err(error) => report
                        .warnings
                        .push(format!("made, but cannot be read back: {error}")),
                }
            }
            report.silence_id = Some(done.id);
        }
        Err(error) if error.outcome_unknown() => report.finish(
            "unknown",
            EXIT_ERROR,
            format!(
                "{error}; it may or may not have been applied: kept in the journal \
                 (`switchboard journal` settles it under the same key)"
            ),
        ),
        Err(error) => report.finish("rejected", EXIT_ERROR, error.to_string()),
    }
}

/// The report for a person: `✓ silence create region=x: created (silence 3f…), until 14:03
/// UTC by alice; key …`, or what went wrong.
fn conclusion(report: &Report) -> String {
    let mark = if report.exit_code == EXIT_OK {
        "✓"
    } else {
        "✖"
    };
    let mut text = format!(
        "{mark} {} {}: {}",
        report.command, report.target, report.outcome
    );
    if let Some(message) = &report.message {
        text.push_str(&format!(": {message}"));
    }
    if let Some(id) = &report.silence_id {
        text.push_str(&format!(" (silence {id})"));
    }
    if let (Some(until), Some(by)) = (report.until, &report.created_by) {
        text.push_str(&format!(
            ", until {} by {by}",
            until_text(until, Utc::now())
        ));
    }
    if let Some(key) = &report.idempotency_key {
        text.push_str(&format!("; key {key}"));
    }
    for warning in &report.warnings {
        text.push_str(&format!("\nwarning: {warning}"));
    }
    clean_multiline(&text).into_owned()
}
