//! The local command journal: an append-only JSON Lines file in the state directory.
//!
//! Every command is written and fsynced *before* it is sent, and its result is appended (and
//! fsynced) when it comes back. A console that crashed mid-action reads the journal on restart
//! and can tell what it sent and what it does not know the fate of ([`Journal::pending`]);
//! [`resolve_pending`] asks the server's audit log about those by idempotency key.
//!
//! Lines are never rewritten. A line torn by a crash mid-write is skipped (with a warning) and
//! never stops the journal from opening. Tokens are never written: an entry holds the command,
//! the reason, the key and the revision, and the source's URL without query or fragment.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::command::Command;
use crate::sources::delivery::SendFailure;
use crate::sources::{Client, ClientError};
use protocol::commands::PreflightSeen;
use protocol::commands::{AuditEntry, AuditOutcome, CommandAccepted};
use protocol::endpoints;
use protocol::escalations::ResolveRequest;

/// Name of the journal file in the state directory.
pub const FILE_NAME: &str = "commands.jsonl";
/// Audit entries asked for when resolving a pending command; one key has very few.
const AUDIT_LOOKUP_LIMIT: u32 = 20;

/// The embedded lab's commands go to a journal of their own: the lab ends with the console,
/// so an earlier run's commands to it can never be looked up, and must not crowd the real one.
pub fn embedded_lab_path() -> PathBuf {
    crate::config::paths().state_dir.join("lab-commands.jsonl")
}

/// Where the journal lives unless a path is given: `<state_dir>/commands.jsonl`.
pub fn default_path() -> PathBuf {
    crate::config::paths().state_dir.join(FILE_NAME)
}

/// A command as it was about to be sent.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Entry {
    /// Unique id of this journal entry.
    pub id: String,
    pub at: DateTime<Utc>,
    /// The configuration context the command was sent in.
    pub context: String,
    /// Base URL of the source it was sent to.
    pub source: String,
    pub command: SentCommand,
    pub reason: String,
    pub idempotency_key: String,
    /// The target's control revision sent as `If-Match` (commands on the fleet; a
    /// resolution has none: its key alone makes it happen once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_match: Option<u64>,
}

/// What was sent, in enough detail to tell an operator (and to send it again).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SentCommand {
    /// e.g. `drain`, `breaker force-open`.
    pub verb: String,
    /// e.g. `us-east`, `credit-decision/credit-decision-us-west`.
    pub target: String,
    pub path: String,
    pub body: Value,
}

impl Entry {
    /// A fresh entry for `command`, stamped now.
    pub fn new(
        context: &str,
        source_url: &str,
        command: &Command,
        reason: &str,
        preflight: Option<&PreflightSeen>,
        idempotency_key: &str,
        if_match: u64,
    ) -> Entry {
        let sent = SentCommand {
            verb: command.verb(),
            target: command.target_label(),
            path: command.path(),
            body: command.body_with_preflight(reason, preflight),
        };
        Entry::for_request(
            context,
            source_url,
            sent,
            reason,
            idempotency_key,
            Some(if_match),
        )
    }

    /// A fresh entry for any request that must happen once, stamped now. `source_url` loses
    /// any query and fragment, where a careless configuration could carry a secret.
    pub fn for_request(
        context: &str,
        source_url: &str,
        sent: SentCommand,
        reason: &str,
        idempotency_key: &str,
        if_match: Option<u64>,
    ) -> Entry {
        let source = source_url
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_string();
        Entry {
            id: uuid::Uuid::new_v4().to_string(),
            at: Utc::now(),
            context: context.to_string(),
            source,
            command: sent,
            reason: reason.to_string(),
            idempotency_key: idempotency_key.to_string(),
            if_match,
        }
    }

    /// Whether this entry went to the source at `url` (a trailing slash aside).
    pub fn was_sent_to(&self, url: &str) -> bool {
        self.source.trim_end_matches('/') == url.trim_end_matches('/')
    }

    /// The record of a resolution of escalated task `id`: enough to tell an operator what was sent.
    pub fn for_resolution(
        context: &str,
        source_url: &str,
        id: &str,
        request: &ResolveRequest,
        idempotency_key: &str,
    ) -> serde_json::Result<Entry> {
        let sent = SentCommand {
            verb: format!("resolve {}", request.resolution.kind().word()),
            target: id.to_string(),
            path: endpoints::RESOLVE.path_for(id),
            body: serde_json::to_value(request)?,
        };
        Ok(Entry::for_request(
            context,
            source_url,
            sent,
            &request.note,
            idempotency_key,
            None,
        ))
    }
}

/// How a sent command ended, as far as this console knows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Outcome {
    /// The server applied it (or started its operation).
    Accepted {
        audit_id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation_id: Option<String>,
    },
    /// The server refused it; `status` is absent when learnt from the audit log.
    Rejected {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        message: String,
    },
    /// No answer came (timeout, connection lost): the server may or may not have acted.
    Unknown { message: String },
    /// The server's audit log has no command with this idempotency key: it never arrived.
    NeverReceived,
    /// The server applied it and said what follows (a resolution: the workflow resumes).
    Applied { detail: String },
    /// The source's two-person rule holds it for a second operator: received, never to be
    /// sent again (the source carries it out on approval, under the same key).
    Held {
        audit_id: u64,
        /// The approval request, when the answer named it (a recovery from the audit log
        /// knows only the entry).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval_id: Option<String>,
    },
}

impl Outcome {
    pub fn accepted(answer: &CommandAccepted) -> Outcome {
        if let Some(request) = &answer.pending_approval {
            return Outcome::Held {
                audit_id: answer.audit_id,
                approval_id: Some(request.id.clone()),
            };
        }
        Outcome::Accepted {
            audit_id: answer.audit_id,
            operation_id: answer.operation.as_ref().map(|o| o.id.clone()),
        }
    }

    /// The outcome of a failed send: unknown when the request may have reached the server.
    pub fn failed(error: &impl SendFailure) -> Outcome {
        let message = error.to_string();
        if error.outcome_unknown() {
            Outcome::Unknown { message }
        } else {
            Outcome::Rejected {
                status: error.status(),
                message,
            }
        }
    }

    /// Whether the command's fate is still open.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Outcome::Unknown { .. })
    }

    /// In words, for a list of recent commands.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Accepted {
                audit_id,
                operation_id: Some(operation),
            } => format!("accepted (audit #{audit_id}, operation {operation})"),
            Outcome::Accepted { audit_id, .. } => format!("accepted (audit #{audit_id})"),
            Outcome::Rejected { message, .. } => format!("rejected: {message}"),
            Outcome::Unknown { message } => format!("outcome unknown: {message}"),
            Outcome::NeverReceived => "never reached the server".to_string(),
            Outcome::Applied { detail } => format!("applied: {detail}"),
            Outcome::Held {
                audit_id,
                approval_id: Some(request),
            } => format!("held for approval {request} (audit #{audit_id})"),
            Outcome::Held { audit_id, .. } => format!("held for approval (audit #{audit_id})"),
        }
    }
}

/// A journal entry with the latest result recorded for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub entry: Entry,
    pub outcome: Option<Outcome>,
}

/// One line of the file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum Line {
    Sent(Entry),
    Result {
        id: String,
        at: DateTime<Utc>,
        outcome: Outcome,
    },
}

/// The journal file, and what it held when opened plus what this process wrote since.
pub struct Journal {
    path: PathBuf,
    file: LinesFile,
    records: Vec<Record>,
    by_id: HashMap<String, usize>,
    unreadable_lines: Vec<usize>,
}

impl Journal {
    /// Opens (creating it and its directory if needed) and reads the journal at `path`.
    /// Lines that do not parse are skipped with a warning; a torn last line is closed off so
    /// that the next entry starts on a line of its own.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let (file, lines, unreadable_lines) = LinesFile::open_reading::<Line>(path)?;
        let mut journal = Journal {
            path: path.to_path_buf(),
            file,
            records: Vec::new(),
            by_id: HashMap::new(),
            unreadable_lines,
        };
        for line in lines {
            journal.apply(line);
        }
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The 1-based numbers of the lines that could not be read when it was opened.
    pub fn unreadable_lines(&self) -> &[usize] {
        &self.unreadable_lines
    }

    /// Every entry with its latest outcome, oldest first.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Writes `entry` and waits until it is on disk. Call it before sending the command:
    /// a command that cannot be journalled must not be sent.
    pub fn record_sent(&mut self, entry: &Entry) -> io::Result<()> {
        if self.by_id.contains_key(&entry.id) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("journal entry {} already exists", entry.id),
            ));
        }
        let line = Line::Sent(entry.clone());
        self.append(&line)?;
        self.apply(line);
        Ok(())
    }

    /// Appends the outcome of entry `id` and waits until it is on disk; a later result of the
    /// same entry (e.g. an unknown outcome resolved) supersedes an earlier one.
    pub fn record_result(&mut self, id: &str, outcome: Outcome) -> io::Result<()> {
        if !self.by_id.contains_key(id) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no journal entry {id}"),
            ));
        }
        let line = Line::Result {
            id: id.to_string(),
            at: Utc::now(),
            outcome,
        };
        self.append(&line)?;
        self.apply(line);
        Ok(())
    }

    /// Commands whose fate this console does not know: sent without a result (it crashed or
    /// was killed mid-action), or with an unknown outcome (no answer came). Oldest first.
    pub fn pending(&self) -> Vec<Entry> {
        self.records
            .iter()
            .filter(|r| r.outcome.as_ref().is_none_or(Outcome::is_unknown))
            .map(|r| r.entry.clone())
            .collect()
    }

    /// The last `n` commands with their latest outcomes, oldest first.
    pub fn recent(&self, n: usize) -> Vec<Record> {
        let start = self.records.len().saturating_sub(n);
        self.records[start..].to_vec()
    }

    fn append(&mut self, line: &Line) -> io::Result<()> {
        self.file.append(line)
    }

    fn apply(&mut self, line: Line) {
        match line {
            Line::Sent(entry) => {
                if self.by_id.contains_key(&entry.id) {
                    tracing::warn!(id = %entry.id, "journal entry written twice; keeping the first");
                    return;
                }
                self.by_id.insert(entry.id.clone(), self.records.len());
                self.records.push(Record {
                    entry,
                    outcome: None,
                });
            }
            Line::Result { id, outcome, .. } => match self.by_id.get(&id) {
                Some(&index) => self.records[index].outcome = Some(outcome),
                None => tracing::warn!(%id, "journal result for an unknown entry"),
            },
        }
    }
}

/// An append-only JSON Lines file written a line at a time, each fsynced before `append`
/// returns: the command journal and the record of runbook runs.
pub struct LinesFile {
    file: File,
}

impl LinesFile {
    /// Opens (creating it and its directory if needed, readable by its owner only) the file at
    /// `path` and reads its lines. Lines that do not parse are skipped with a warning and
    /// counted; a torn last line is closed off so that the next starts on a line of its own.
    pub fn open<T: DeserializeOwned>(path: &Path) -> io::Result<(LinesFile, Vec<T>, usize)> {
        let (file, lines, unreadable) = LinesFile::open_reading(path)?;
        Ok((file, lines, unreadable.len()))
    }

    /// [`LinesFile::open`], with the 1-based numbers of the lines that do not parse.
    pub fn open_reading<T: DeserializeOwned>(
        path: &Path,
    ) -> io::Result<(LinesFile, Vec<T>, Vec<usize>)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let existed = path.exists();
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        if !existed {
            sync_parent_dir(path)?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (mut lines, mut unreadable) = (Vec::new(), Vec::new());
        for (number, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<T>(line) {
                Ok(parsed) => lines.push(parsed),
                Err(error) => {
                    unreadable.push(number + 1);
                    tracing::warn!(
                        file = %path.display(),
                        line = number + 1,
                        %error,
                        "skipping an unreadable line (torn by a crash?)"
                    );
                }
            }
        }
        if bytes.last().is_some_and(|b| *b != b'\n') {
            file.write_all(b"\n")?;
            file.sync_data()?;
        }
        Ok((LinesFile { file }, lines, unreadable))
    }

    /// Writes `line` and waits until it is on disk.
    pub fn append<T: Serialize>(&mut self, line: &T) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(io::Error::other)?;
        bytes.push(b'\n');
        // One write per line: concurrent appenders (O_APPEND) do not interleave within it.
        self.file.write_all(&bytes)?;
        self.file.sync_data()
    }
}

/// Makes the new file's directory entry durable too, not only its contents.
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Asks `client`'s audit log whether the pending `entry` reached the server, by its
/// idempotency key among the caller's own entries (another caller's entry with the same key
/// says nothing of ours): found, its outcome there; not found, it never arrived; no answer,
/// still unknown. `client` must speak to the entry's source.
pub async fn resolve_pending(client: &Client, entry: &Entry) -> Outcome {
    let key = entry.idempotency_key.as_str();
    let asked = async {
        let me = client.whoami().await?;
        let page = client
            .audit(Some(AUDIT_LOOKUP_LIMIT), None, Some(key))
            .await?;
        Ok::<_, ClientError>(outcome_in_audit(&page.entries, key, &me.name))
    };
    asked.await.unwrap_or_else(|error| Outcome::Unknown {
        message: format!("cannot ask {} about it: {error}", client.url()),
    })
}

/// Resolves every pending entry of `journal` sent to `client`'s source
/// ([`resolve_pending`]) and journals what was learnt; returns each with its outcome (still
/// unknown ones included). Every CLI run that changes something, and `switchboard journal`,
/// does this first.
pub async fn recover_pending(
    journal: &mut Journal,
    client: &Client,
) -> io::Result<Vec<(Entry, Outcome)>> {
    let mut recovered = Vec::new();
    for entry in journal.pending() {
        if !entry.was_sent_to(client.url()) {
            continue;
        }
        let outcome = resolve_pending(client, &entry).await;
        if !outcome.is_unknown() {
            journal.record_result(&entry.id, outcome.clone())?;
        }
        recovered.push((entry, outcome));
    }
    Ok(recovered)
}

/// The outcome of the command `caller` sent with `key`, from audit entries (any order). The
/// first entry of `caller` with the key is the command itself; later ones (an operation's
/// end, by `system`) follow from it.
fn outcome_in_audit(entries: &[AuditEntry], key: &str, caller: &str) -> Outcome {
    let first = entries
        .iter()
        .filter(|e| e.idempotency_key.as_deref() == Some(key) && e.actor == caller)
        .min_by_key(|e| e.id);
    let Some(found) = first else {
        return Outcome::NeverReceived;
    };
    match found.outcome {
        AuditOutcome::Accepted | AuditOutcome::Succeeded | AuditOutcome::Reverted => {
            Outcome::Accepted {
                audit_id: found.id,
                operation_id: None,
            }
        }
        // Held for a second approver: received, and never to be sent again.
        AuditOutcome::Held => Outcome::Held {
            audit_id: found.id,
            approval_id: None,
        },
        AuditOutcome::Rejected | AuditOutcome::Failed => Outcome::Rejected {
            status: None,
            message: found
                .detail
                .as_deref()
                .map(|d| protocol::sanitize::clean(d).into_owned())
                .unwrap_or_else(|| format!("{} (audit #{})", found.outcome.word(), found.id)),
        },
    }
}

/// One recovered journal entry for a person: outcome first, so a narrow terminal keeps it.
pub fn describe_recovered(entry: &Entry, outcome: &Outcome) -> String {
    protocol::sanitize::clean(&format!(
        "{}: {} {} sent {} (key {})",
        outcome.describe(),
        entry.command.verb,
        entry.command.target,
        entry.at.format("%Y-%m-%d %H:%M:%S UTC"),
        entry.idempotency_key
    ))
    .into_owned()
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
