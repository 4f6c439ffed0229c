//! The recording of a drill: JSON Lines of [`RunRecord`], one line per record, handed to the
//! operating system as each is made, so that a lab killed mid-drill leaves every record but
//! at most a torn last line (which `read_recording` tolerates). The report files are written
//! beside it at the end.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use protocol::exercise::record::RunRecord;

pub struct Recorder {
    path: PathBuf,
    file: File,
}

impl Recorder {
    /// Creates `<dir>/<run_id>.jsonl` (and `dir`); never overwrites an earlier recording.
    pub fn create(dir: &Path, run_id: &str) -> io::Result<Recorder> {
        fs::create_dir_all(dir)?;
        let path = dir.join(format!("{run_id}.jsonl"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Recorder { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line, written through to the file.
    pub fn write(&mut self, record: &RunRecord) -> io::Result<()> {
        let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }

    /// Writes `<run_id>.<suffix>` beside the recording; answers its path.
    pub fn write_beside(&self, suffix: &str, contents: &str) -> io::Result<PathBuf> {
        let path = self.path.with_extension(suffix);
        fs::write(&path, contents)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::exercise::record::RunRecord;
    use protocol::exercise::{ExerciseMessage, clock_label};

    fn message(at_s: f64, text: &str) -> RunRecord {
        RunRecord::Message {
            t_s: at_s,
            message: ExerciseMessage {
                at_s,
                from: "facilitator".into(),
                text: text.into(),
            },
        }
    }

    #[test]
    fn each_record_is_one_line_on_disk_as_soon_as_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::create(&dir.path().join("runs"), "ex-1").unwrap();
        assert_eq!(recorder.path(), dir.path().join("runs/ex-1.jsonl"));
        recorder.write(&message(1.0, "first")).unwrap();
        recorder
            .write(&message(2.5, "a line\nwith a break"))
            .unwrap();
        // Read while the recorder is still open: nothing waits in a buffer.
        let text = fs::read_to_string(recorder.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let back: RunRecord = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(back, message(2.5, "a line\nwith a break"));
        assert_eq!(clock_label(back.t_s()), "T+00:02");
        let report = recorder.write_beside("report.md", "# report\n").unwrap();
        assert_eq!(report, dir.path().join("runs/ex-1.report.md"));
    }

    #[test]
    fn an_earlier_recording_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Recorder::create(dir.path(), "ex-1").unwrap();
        first.write(&message(1.0, "kept")).unwrap();
        assert!(Recorder::create(dir.path(), "ex-1").is_err());
        let text = fs::read_to_string(first.path()).unwrap();
        assert!(text.contains("kept"));
    }
}
