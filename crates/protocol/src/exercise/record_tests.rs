use super::*;
use crate::exercise::{Control, ExerciseMessage};

/// Builders of its own: the tracker's test helpers would make this module and the tracker's
/// use each other (tests/architecture.rs).
fn header() -> RunHeader {
    RunHeader {
        format: FORMAT_VERSION,
        run_id: "ex-1".into(),
        scenario: "provider-outage".into(),
        description: String::new(),
        briefing: String::new(),
        seed: 7,
        speed: 1.0,
        created_at: DateTime::from_timestamp(0, 0).unwrap(),
        players: Vec::new(),
        injects: Vec::new(),
        objectives: Vec::new(),
    }
}

fn control(t_s: f64, control: Control) -> RunRecord {
    RunRecord::Control {
        t_s,
        by: "fran".into(),
        control,
    }
}

fn message(t_s: f64, text: &str) -> RunRecord {
    RunRecord::Message {
        t_s,
        message: ExerciseMessage {
            at_s: t_s,
            from: "fran".into(),
            text: text.into(),
        },
    }
}

/// A short run as a file holds it: header, start, four messages, the end.
fn text() -> String {
    [
        RunRecord::Header(header()),
        control(0.0, Control::Start),
        message(0.0, "at T0"),
        message(5.0, "five seconds in"),
        message(60.0, "a minute in, first"),
        message(60.0, "a minute in, second"),
        control(180.0, Control::End),
    ]
    .iter()
    .map(|r| serde_json::to_string(r).unwrap() + "\n")
    .collect()
}

#[test]
fn a_recording_reads_whole_in_the_order_written_with_its_end() {
    let recording = read_recording(&text()).unwrap();
    assert_eq!(recording.header, header());
    assert_eq!(recording.records.len(), 6);
    assert_eq!(recording.end_s(), 180.0);
    assert_eq!((recording.cut_line, recording.cut_short()), (None, None));
}

#[test]
fn bad_lines_are_named_and_only_a_cut_last_line_is_forgiven() {
    let text = text();
    let lines: Vec<&str> = text.lines().collect();
    let with = |index: usize, replacement: &str| {
        let mut changed = lines.clone();
        changed[index] = replacement;
        changed.join("\n") + "\n"
    };
    let error = read_recording(&with(3, "{\"record\":\"fleet\",\"t_s\":5}")).unwrap_err();
    assert_eq!(error, "line 4: missing field `snapshot`");
    let error = read_recording(&with(2, "not json")).unwrap_err();
    assert_eq!(error, "line 3: expected ident (column 2)");
    let error = read_recording(&with(0, lines[1])).unwrap_err();
    assert_eq!(
        error,
        "line 1: the first record is not a header: not an exercise recording"
    );
    let error = read_recording(&with(4, lines[0])).unwrap_err();
    assert_eq!(error, "line 5: a second header");
    let negative = lines[2].replace("\"t_s\":0.0", "\"t_s\":-3.0");
    let error = read_recording(&with(2, &negative)).unwrap_err();
    assert_eq!(
        error,
        "line 3: clock -3 is not an exercise second at or after T0"
    );
    let newer = lines[0].replace("\"format\":1", "\"format\":2");
    let error = read_recording(&with(0, &newer)).unwrap_err();
    assert!(error.starts_with("line 1: recording format 2"), "{error}");
    assert_eq!(
        read_recording("\n\n").unwrap_err(),
        "the file is empty: not an exercise recording"
    );
    // A lab killed mid-write: the last line stops halfway and has no newline.
    let cut = &text[..text.len() - 10];
    let recording = read_recording(cut).expect("a cut last line is left out");
    assert_eq!(recording.cut_line, Some(lines.len()));
    assert_eq!(
        recording.cut_short().unwrap(),
        "line 7 of the recording is cut short (the lab stopped mid-write)"
    );
    assert_eq!(recording.end_s(), 60.0, "the messages before it stay");
    assert_eq!(recording.records.len(), 5);
    // A cut line that is not the last, or a last line cut but followed by a newline, is
    // damage, not a lab stopping.
    let error = read_recording(&with(5, &lines[5][..30])).unwrap_err();
    assert!(error.starts_with("line 6: EOF while parsing"), "{error}");
    let error = read_recording(&format!("{cut}\n")).unwrap_err();
    assert!(error.starts_with("line 7: EOF while parsing"), "{error}");
    let error = read_recording(&lines[0][..40]).unwrap_err();
    assert_eq!(
        error,
        "line 1 is cut short and no header precedes it: not an exercise recording"
    );
}

#[test]
fn a_file_that_cannot_be_read_says_which_and_a_bad_one_names_file_and_line() {
    let error = read_recording_file(std::path::Path::new("/nonexistent/run.jsonl")).unwrap_err();
    assert!(
        error.starts_with("cannot read /nonexistent/run.jsonl:"),
        "{error}"
    );
    let dir = std::env::temp_dir().join(format!("record-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("run.jsonl");
    std::fs::write(
        &file,
        text().replacen("\"record\":\"control\"", "\"record\":\"nope\"", 1),
    )
    .unwrap();
    let error = read_recording_file(&file).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        error.starts_with(&format!(
            "{}: line 2: unknown variant `nope`",
            file.display()
        )),
        "{error}"
    );
}
