//! Runbooks off the UI thread: the catalog and the local record of runs read at startup, and
//! each line of a run appended (fsynced) to that record as it happens.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::app::Msg;
use crate::journal::LinesFile;
use crate::runbook::catalog::Catalog;
use crate::runbook::run::RunLine;

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
