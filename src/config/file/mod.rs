//! The user's `config.toml`: parsing, validation and positions of problems. This module reads
//! the TOML with its spans, refuses secrets where they stand and reports every problem at
//! file:line:column; `context` checks the contexts and their source tables.

mod context;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Config, ConfigProblem, DesktopEscape, NotifyConfig, NotifyMode};
use context::{FileContext, validate_context};
use protocol::escalations::Priority;
use protocol::sanitize::clean;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    default_context: Option<Spanned<String>>,
    theme: Option<String>,
    #[serde(default)]
    contexts: BTreeMap<Spanned<String>, FileContext>,
    notify: Option<FileNotify>,
    /// Directories of runbooks beside the shipped ones and the config dir's `runbooks/`.
    #[serde(default)]
    runbook_dirs: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileNotify {
    mode: Option<NotifyMode>,
    min_priority: Option<Priority>,
    escape: Option<DesktopEscape>,
}

/// A valid user file.
#[derive(Debug)]
pub(super) struct Parsed {
    pub config: Config,
    /// Whether the file sets `default_context` (else the lab stands in for it).
    pub names_context: bool,
}

/// Parses and validates the user file; on any problem, returns all that were found.
pub(super) fn parse(path: &Path, text: &str) -> Result<Parsed, Vec<ConfigProblem>> {
    let problem = |span: Option<Range<usize>>, reason: &str| located(path, text, span, reason);

    // Secrets are looked for on the raw document first, so a token gets the keyring
    // message rather than a generic "unknown field".
    let document = DeTable::parse(text).map_err(|err| vec![problem(err.span(), err.message())])?;
    let secret_keys = secret_key_spans(document.get_ref());
    if !secret_keys.is_empty() {
        return Err(secret_keys
            .into_iter()
            .map(|span| {
                problem(
                    Some(span),
                    "tokens belong in the keyring, not in this file: remove this key and \
                     run `switchboard login`",
                )
            })
            .collect());
    }

    let file: FileConfig =
        toml::from_str(text).map_err(|err| vec![problem(err.span(), err.message())])?;

    let mut problems = Vec::new();
    let mut config = Config::default();
    let names_context = file.default_context.is_some();
    if let Some(theme) = file.theme {
        config.theme = theme;
    }
    if let Some(notify) = file.notify {
        let defaults = NotifyConfig::default();
        config.notify = NotifyConfig {
            mode: notify.mode.unwrap_or(defaults.mode),
            min_priority: notify.min_priority.unwrap_or(defaults.min_priority),
            escape: notify.escape.unwrap_or(defaults.escape),
        };
    }
    for dir in file.runbook_dirs {
        if dir.get_ref().trim().is_empty() {
            problems.push(problem(
                Some(dir.span()),
                "a runbook directory needs a path",
            ));
            continue;
        }
        // Relative to the file, as a user reading it would take it, not to wherever the
        // console happens to be started.
        let base = path.parent().unwrap_or(Path::new(""));
        config.runbook_dirs.push(base.join(dir.into_inner()));
    }
    for (name, context) in file.contexts {
        let span = name.span();
        let name = name.into_inner();
        match validate_context(&name, context) {
            Ok(context) => {
                config.contexts.insert(name, context);
            }
            Err(reasons) => problems.extend(
                reasons
                    .into_iter()
                    .map(|(at, reason)| problem(Some(at.unwrap_or(span.clone())), &reason)),
            ),
        }
    }
    if let Some(default_context) = file.default_context {
        if !config.contexts.contains_key(default_context.get_ref()) {
            let known: Vec<&str> = config.contexts.keys().map(String::as_str).collect();
            problems.push(problem(
                Some(default_context.span()),
                &format!(
                    "default_context {:?} is not defined; known contexts: {}",
                    default_context.get_ref(),
                    known.join(", ")
                ),
            ));
        }
        config.default_context = default_context.into_inner();
    }

    if problems.is_empty() {
        Ok(Parsed {
            config,
            names_context,
        })
    } else {
        Err(problems)
    }
}

/// Keys that hold (or look like they hold) a secret, anywhere in the document.
fn secret_key_spans(table: &DeTable<'_>) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    collect_secret_keys(table, &mut spans);
    spans.sort_by_key(|span| span.start);
    spans
}

fn collect_secret_keys(table: &DeTable<'_>, spans: &mut Vec<Range<usize>>) {
    for (key, value) in table {
        if looks_like_secret(key.get_ref()) {
            spans.push(key.span());
        }
        collect_secret_values(value.get_ref(), spans);
    }
}

fn collect_secret_values(value: &DeValue<'_>, spans: &mut Vec<Range<usize>>) {
    match value {
        DeValue::Table(table) => collect_secret_keys(table, spans),
        DeValue::Array(array) => {
            for item in array.iter() {
                collect_secret_values(item.get_ref(), spans);
            }
        }
        _ => {}
    }
}

fn looks_like_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    key == "token"
        || key.ends_with("_token")
        || matches!(
            key.as_str(),
            "password" | "secret" | "api_key" | "apikey" | "master_key"
        )
}

/// A problem at a byte span of `text`, with 1-based line and character column.
fn located(path: &Path, text: &str, span: Option<Range<usize>>, reason: &str) -> ConfigProblem {
    let (line, column) = match span {
        Some(span) => {
            let (line, column) = protocol::source_text::line_column(text, span.start);
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    // toml's messages may span lines and quote the file's text: keep one safe line.
    let reason = reason
        .lines()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    ConfigProblem {
        file: path.to_path_buf(),
        line,
        column,
        reason: clean(&reason).into_owned(),
    }
}

#[cfg(test)]
mod tests;
