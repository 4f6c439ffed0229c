use super::*;
use crate::testing::{drill_records, recording_text};

fn drill() -> Recording {
    Recording::parse(&recording_text(&drill_records())).expect("the drill parses")
}

/// What `seek` fed, in words: `rewound`, `fleet@<revision>`, `audit#<id>`, `frame T+..`.
fn fed(events: &[SourceEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| match event {
            SourceEvent::ReplayRewound => "rewound".to_string(),
            SourceEvent::Snapshot(s) => format!("fleet@{}", s.revision),
            SourceEvent::Audit(a) => format!("audit#{}", a.id),
            SourceEvent::Replayed(frame) => format!(
                "frame {} fleet {:?} {} notes {}",
                clock_label(frame.clock_s),
                frame.fleet_at_s,
                frame.phase.word(),
                frame.notes.len()
            ),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn a_recording_reads_whole_with_its_end_and_marks() {
    let recording = drill();
    assert_eq!(recording.header.run_id, crate::testing::DRILL_RUN);
    assert_eq!(recording.end_s(), 180.0);
    assert_eq!(recording.cut_line, None);
    let marks = recording.marks();
    let marks: Vec<(f64, &str)> = marks.iter().map(|m| (m.t_s, m.what.as_str())).collect();
    assert_eq!(
        marks,
        [
            (60.0, "inject outage"),
            (95.0, "breaker force-open openai@us-east (alice)")
        ]
    );
}

#[test]
fn bad_lines_are_named_and_only_a_cut_last_line_is_forgiven() {
    let text = recording_text(&drill_records());
    let lines: Vec<&str> = text.lines().collect();
    let with = |index: usize, replacement: &str| {
        let mut changed = lines.clone();
        changed[index] = replacement;
        changed.join("\n") + "\n"
    };
    let error = Recording::parse(&with(3, "{\"record\":\"fleet\",\"t_s\":5}")).unwrap_err();
    assert!(
        error.starts_with("line 4: missing field `snapshot`"),
        "{error}"
    );
    let error = Recording::parse(&with(2, "not json")).unwrap_err();
    assert!(error.starts_with("line 3: expected"), "{error}");
    let error = Recording::parse(&with(0, lines[1])).unwrap_err();
    assert!(
        error.contains("line 1: the first record is not a header"),
        "{error}"
    );
    let error = Recording::parse(&with(4, lines[0])).unwrap_err();
    assert_eq!(error, "line 5: a second header");
    let negative = lines[1].replace("\"t_s\":0.0", "\"t_s\":-3.0");
    let error = Recording::parse(&with(1, &negative)).unwrap_err();
    assert!(error.starts_with("line 2: clock -3"), "{error}");
    let newer = lines[0].replace("\"format\":1", "\"format\":2");
    let error = Recording::parse(&with(0, &newer)).unwrap_err();
    assert!(error.starts_with("line 1: recording format 2"), "{error}");
    assert_eq!(
        Recording::parse("\n\n").unwrap_err(),
        "the file is empty: not an exercise recording"
    );
    // A lab killed mid-write: the last line stops halfway and has no newline.
    let cut = &text[..text.len() - 40];
    let recording = Recording::parse(cut).expect("a cut last line is left out");
    assert_eq!(recording.cut_line, Some(lines.len()));
    assert_eq!(recording.end_s(), 180.0, "the control before it stays");
    assert_eq!(recording.records.len(), drill_records().len() - 2);
    // A cut line that is not the last is damage, not a lab stopping.
    let error = Recording::parse(&with(5, &lines[5][..30])).unwrap_err();
    assert!(error.starts_with("line 6: EOF while parsing"), "{error}");
}

#[test]
fn a_file_that_cannot_be_read_says_which() {
    let error = Recording::read(Path::new("/nonexistent/run.jsonl")).unwrap_err();
    assert!(
        error.starts_with("cannot read /nonexistent/run.jsonl:"),
        "{error}"
    );
}

#[test]
fn seeking_feeds_what_the_run_showed_up_to_the_clock_and_rewinds_from_t0() {
    let mut player = Player::new(Arc::new(drill()));
    assert_eq!(
        fed(&player.seek(0.0)),
        ["fleet@1", "frame T+00:00 fleet Some(0.0) running notes 1"]
    );
    assert_eq!(
        fed(&player.seek(100.0)),
        [
            "fleet@6",
            "fleet@61",
            "audit#1",
            "fleet@96",
            "frame T+01:40 fleet Some(95.0) running notes 1"
        ]
    );
    // Nothing new between two samples: only the frame.
    assert_eq!(
        fed(&player.seek(101.0)),
        ["frame T+01:41 fleet Some(95.0) running notes 0"]
    );
    assert_eq!(
        fed(&player.seek(30.0)),
        [
            "rewound",
            "fleet@1",
            "fleet@6",
            "frame T+00:30 fleet Some(5.0) running notes 1"
        ]
    );
    let to_end = player.seek(180.0);
    assert_eq!(
        fed(&to_end).last().unwrap(),
        "frame T+03:00 fleet Some(180.0) ended notes 4"
    );
    let SourceEvent::Replayed(frame) = to_end.last().unwrap() else {
        panic!("a frame ends every seek");
    };
    let texts: Vec<&str> = frame.notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "T+01:00 inject outage: openai@us-east outage (503s, 90% errors) — Pages fire for openai@us-east",
            "T+02:00 message from scenario: Support: customers report timeouts",
            "T+02:05 note by fran: good call on the breaker",
            "T+03:00 fran: exercise end",
        ]
    );
    assert!(frame.notes[0].urgent && !frame.notes[1].urgent);
    assert_eq!(
        frame.notes[0].at,
        crate::testing::fixture_wall() + TimeDelta::seconds(60)
    );
}
