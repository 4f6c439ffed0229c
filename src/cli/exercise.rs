//! `switchboard exercise report RUN [--json]`: the after-action report of a recorded drill,
//! derived again from its recording by the same tracker the lab scored it with live, so it
//! says what the report written at the end says.

use std::io::Write;
use std::path::{Path, PathBuf};

use protocol::exercise::markdown::report_markdown;
use protocol::exercise::record::read_recording_file;
use protocol::exercise::tracker::Tracker;

/// Exit code when the recording cannot be found or read.
const EXIT_UNREADABLE: u8 = 2;

#[derive(clap::Subcommand, Debug)]
pub enum ExerciseArgs {
    /// Print the after-action report of a recorded drill (Markdown, or JSON with --json).
    Report {
        /// A recording (`<run_id>.jsonl`), or a run id found in the lab's record dir.
        #[arg(value_name = "RUN")]
        run: String,
        /// The report as JSON, for tools.
        #[arg(long)]
        json: bool,
        /// Where run ids are looked up (default: the lab's record dir).
        #[arg(long, value_name = "DIR")]
        record_dir: Option<PathBuf>,
    },
}

/// Runs the verb: 0 with the report on `out`, 2 with why on `err`.
pub fn run_from_shell(args: &ExerciseArgs, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let ExerciseArgs::Report {
        run,
        json,
        record_dir,
    } = args;
    let dir = record_dir
        .clone()
        .unwrap_or_else(lab::exercise::default_record_dir);
    let path = recording_path(run, &dir);
    let recording = read_recording_file(&path);
    if let Some(cut) = recording.as_ref().ok().and_then(|r| r.cut_short()) {
        let _ = writeln!(err, "{cut}: the report covers what comes before it");
    }
    let report = recording.map(|recording| Tracker::from_recording(&recording).report());
    let written = match report {
        Ok(report) if *json => {
            let text = serde_json::to_string_pretty(&report).expect("a report serializes");
            writeln!(out, "{text}")
        }
        Ok(report) => write!(out, "{}", report_markdown(&report)),
        Err(why) => {
            // `why` names the file: a run id says where it was looked for.
            let _ = writeln!(err, "exercise report: {why}");
            return EXIT_UNREADABLE;
        }
    };
    if written.is_err() {
        return EXIT_UNREADABLE;
    }
    0
}

/// `run` as a file when one exists there, else `<dir>/<run>.jsonl`.
fn recording_path(run: &str, dir: &Path) -> PathBuf {
    let as_given = PathBuf::from(run);
    if as_given.is_file() {
        return as_given;
    }
    dir.join(format!("{run}.jsonl"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{DRILL_RUN, drill_records, recording_text};

    fn report(run: &str, json: bool, dir: &Path) -> (u8, String, String) {
        let args = ExerciseArgs::Report {
            run: run.into(),
            json,
            record_dir: Some(dir.to_path_buf()),
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_from_shell(&args, &mut out, &mut err);
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
        (code, text(out), text(err))
    }

    #[test]
    fn a_run_id_in_the_record_dir_or_a_file_gives_the_trackers_report() {
        let dir = tempfile::tempdir().unwrap();
        let records = drill_records();
        let file = dir.path().join(format!("{DRILL_RUN}.jsonl"));
        std::fs::write(&file, recording_text(&records)).unwrap();
        let expected = Tracker::from_records(&records).unwrap().report();
        let (code, markdown, _) = report(DRILL_RUN, false, dir.path());
        assert_eq!(code, 0);
        assert_eq!(markdown, report_markdown(&expected));
        assert!(markdown.contains("provider-outage"), "{markdown}");
        let (code, json, _) = report(file.to_str().unwrap(), true, Path::new("/nowhere"));
        assert_eq!(code, 0);
        let read: protocol::exercise::report::ExerciseReport = serde_json::from_str(&json).unwrap();
        assert_eq!(read, expected);
    }

    #[test]
    fn a_missing_or_damaged_recording_exits_2_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let (code, out, err) = report("ex-nothing", false, dir.path());
        assert_eq!((code, out.as_str()), (2, ""));
        assert!(
            err.contains("cannot read") && err.contains("ex-nothing.jsonl"),
            "{err}"
        );
        let damaged = dir.path().join("damaged.jsonl");
        let mut text = recording_text(&drill_records());
        text.insert_str(text.find('\n').unwrap() + 1, "{not json}\n");
        std::fs::write(&damaged, text).unwrap();
        let (code, _, err) = report(damaged.to_str().unwrap(), false, dir.path());
        assert_eq!(code, 2);
        assert!(err.contains("damaged.jsonl: line 2: "), "{err}");
    }

    #[test]
    fn a_last_line_cut_short_is_left_out_and_said() {
        let dir = tempfile::tempdir().unwrap();
        let records = drill_records();
        let text = recording_text(&records);
        std::fs::write(dir.path().join("cut.jsonl"), &text[..text.len() - 30]).unwrap();
        let (code, markdown, err) = report("cut", false, dir.path());
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            err,
            format!(
                "line {} of the recording is cut short (the lab stopped mid-write): the report covers what comes before it\n",
                records.len()
            )
        );
        let before = Tracker::from_records(&records[..records.len() - 1]).unwrap();
        assert_eq!(markdown, report_markdown(&before.report()));
    }
}
