//! Runbooks off the UI thread: the catalog and the local record of runs read at startup,
//! each line of a run appended (fsynced) to that record as it happens, and the requests about
//! runs shared through a source, each on its own task reporting the source's answer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::commands::Dispatcher;
use crate::app::{Msg, ShareAnswer, ShareOrder};
use crate::journal::LinesFile;
use crate::runbook::catalog::Catalog;
use crate::runbook::run::RunLine;
use crate::sources::runbook_runs::conflicting_run;
use crate::sources::{Client, ClientError};

/// The local record of runbook runs lives beside the command journal it goes with:
/// `commands.jsonl` -> `commands-runbook-runs.jsonl`.
pub fn record_path(journal: &Path) -> PathBuf {
    let stem = journal
        .file_stem()
        .map_or_else(|| "commands".into(), |s| s.to_string_lossy());
    journal.with_file_name(format!("{stem}-runbook-runs.jsonl"))
}

/// The record file, opened by the startup read and appended to by each run's step.
#[derive(Clone)]
pub struct RunRecord {
    path: PathBuf,
    file: Arc<Mutex<Option<LinesFile>>>,
}

impl RunRecord {
    pub fn new(path: PathBuf) -> RunRecord {
        RunRecord {
            path,
            file: Arc::new(Mutex::new(None)),
        }
    }

    /// Reads the runbook files and the record, then reports both.
    pub fn load(&self, named_dirs: Vec<PathBuf>, tx: mpsc::Sender<Msg>) {
        let record = self.clone();
        tokio::task::spawn_blocking(move || {
            let paths = crate::config::paths();
            let catalog = Catalog::load(Some(&paths.runbooks_dir), &named_dirs);
            let lines = record.open();
            let _ = tx.blocking_send(Msg::RunbooksLoaded {
                catalog: Box::new(catalog),
                record: lines,
            });
        });
    }

    fn open(&self) -> Result<Vec<RunLine>, String> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let (opened, lines, skipped) = LinesFile::open::<RunLine>(&self.path)
            .map_err(|error| self.problem("cannot read", &error))?;
        *file = Some(opened);
        if skipped > 0 {
            tracing::warn!(skipped, path = %self.path.display(), "unreadable run record lines");
        }
        Ok(lines)
    }

    fn problem(&self, what: &str, error: &std::io::Error) -> String {
        format!(
            "{what} the runbook run record {}: {error}",
            self.path.display()
        )
    }

    /// Appends `line` (fsync off the async workers); a failure is told as a problem.
    pub fn append(&self, line: RunLine, tx: mpsc::Sender<Msg>) {
        let record = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut file = record.file.lock().unwrap_or_else(|p| p.into_inner());
            let written = match file.as_mut() {
                Some(file) => file.append(&line),
                None => {
                    LinesFile::open::<serde_json::Value>(&record.path).and_then(|(mut f, ..)| {
                        let written = f.append(&line);
                        *file = Some(f);
                        written
                    })
                }
            };
            if let Err(error) = written {
                let problem = record.problem("cannot write to", &error);
                let _ = tx.blocking_send(Msg::Problem(format!(
                    "{problem}: step {} of {} is not kept",
                    line.step, line.runbook
                )));
            }
        });
    }
}

impl Dispatcher {
    /// Carries out `order` on its source's client; the answer comes back as
    /// [`Msg::SharedRun`]. A source without a protocol v1 client keeps runs local.
    pub fn share_run(&self, order: ShareOrder) {
        let tx = self.tx.clone();
        let Some(client) = self.client(order.source()) else {
            let answer = ShareAnswer::NoEndpoints(format!(
                "{} is not a protocol v1 source: runs stay on this console",
                order.source()
            ));
            let _ = tx.try_send(Msg::SharedRun { order, answer });
            return;
        };
        tokio::spawn(async move {
            let answer = ask(&client, &order).await;
            let _ = tx.send(Msg::SharedRun { order, answer }).await;
        });
    }
}

async fn ask(client: &Client, order: &ShareOrder) -> ShareAnswer {
    let answer = match order {
        ShareOrder::List { .. } => return listed(client.runbook_runs().await),
        ShareOrder::Start {
            runbook,
            version,
            key,
            ..
        } => client.start_run(runbook, *version, key).await,
        ShareOrder::Record {
            run,
            revision,
            step,
            outcome,
            key,
            ..
        } => {
            let outcome = outcome.clone();
            client
                .record_step(run, *revision, *step, outcome, key)
                .await
        }
        ShareOrder::Presence { run, step, .. } => client.run_presence(run, *step).await,
        ShareOrder::End {
            run,
            revision,
            state,
            reason,
            key,
            ..
        } => client.end_run(run, *revision, *state, reason, key).await,
    };
    match answer {
        Ok(run) => ShareAnswer::Run(Box::new(run)),
        Err(error) => failed(&error),
    }
}

fn listed(answer: Result<protocol::runbook_runs::RunList, ClientError>) -> ShareAnswer {
    match answer {
        Ok(list) => ShareAnswer::Listed(list),
        Err(error) => failed(&error),
    }
}

/// A failure as the app tells it: no such endpoints (404) keeps runs local; a 409 carries the
/// run as it is now; no answer is sent again under the same key.
fn failed(error: &ClientError) -> ShareAnswer {
    let text = error.to_string();
    match error {
        ClientError::Http { status: 404, .. } => ShareAnswer::NoEndpoints(format!(
            "the source has no runbook runs ({text}): runs stay on this console"
        )),
        ClientError::Conflict { detail, .. } => ShareAnswer::Conflict {
            detail: detail.clone(),
            current: conflicting_run(error).map(Box::new),
        },
        ClientError::Http { status: 500.., .. } => ShareAnswer::NoAnswer(text),
        _ if error.outcome_unknown() => ShareAnswer::NoAnswer(text),
        _ => ShareAnswer::Refused(text),
    }
}
