//! The overview pane (what the task is about, its checkpoint, its candidates in one line
//! each) and the candidates pane (one candidate output in full, with its validators).

use super::{Row, Segment, TaskState, Tone, seg, wrap};
use protocol::escalations::{Escalation, ValidatorVerdict};
use protocol::sanitize::{clean, clean_multiline};

fn field(rows: &mut Vec<Row>, label: &str, text: &str, width: usize) {
    let indent = format!("{label:<11}");
    let room = width.saturating_sub(indent.chars().count());
    for (i, part) in wrap(&clean(text), room).into_iter().enumerate() {
        let lead = if i == 0 {
            indent.clone()
        } else {
            " ".repeat(indent.chars().count())
        };
        rows.push(vec![seg(Tone::Dim, lead), seg(Tone::Text, part)]);
    }
}

/// The task's fields, its candidates, then the posture of its step (`step`, see `step.rs`).
pub(super) fn overview(task: &TaskState, e: &Escalation, step: Vec<Row>, width: usize) -> Vec<Row> {
    let s = &e.summary;
    let mut rows = Vec::new();
    field(
        &mut rows,
        "reason",
        &format!("{}: {}", s.reason.word(), s.reason_text),
        width,
    );
    field(&mut rows, "input", &s.input_preview, width);
    field(
        &mut rows,
        "workflow",
        &format!(
            "{} {} (run {})",
            e.lineage.workflow_type, e.lineage.workflow_id, e.lineage.run_id
        ),
        width,
    );
    let c = &e.checkpoint;
    field(
        &mut rows,
        "checkpoint",
        &format!(
            "{} after {} at {} (event {}): {}",
            c.id,
            c.step,
            c.at.format("%H:%M:%S"),
            c.event_id,
            c.state
        ),
        width,
    );
    field(&mut rows, "step key", &e.idempotency_key, width);
    if let Some(follows) = &e.follows {
        field(
            &mut rows,
            "follows",
            &format!("{follows} (an operator's retry did not succeed)"),
            width,
        );
    }
    if let Some(applied) = &e.applied {
        field(
            &mut rows,
            "resolution",
            &format!(
                "{} by {} at {}: {}",
                applied.resolution.kind().word(),
                applied.by,
                applied.at.format("%H:%M:%S"),
                applied.note
            ),
            width,
        );
    }
    rows.push(Vec::new());
    rows.push(vec![seg(
        Tone::Title,
        format!(
            "Candidates (confidence threshold {:.2})",
            e.confidence_threshold
        ),
    )]);
    if e.candidates.is_empty() {
        rows.push(vec![seg(
            Tone::Dim,
            "  none: no attempt produced an output. Write one (w), retry (t), reject (r) or abort (x).",
        )]);
    }
    for (i, c) in e.candidates.iter().enumerate() {
        let mut row = vec![
            seg(
                if i == task.candidate {
                    Tone::Chosen
                } else {
                    Tone::Text
                },
                format!(
                    "{} {} {} on {}",
                    if i == task.candidate { "▶" } else { " " },
                    clean(&c.id),
                    clean(&c.model),
                    clean(&c.provider)
                ),
            ),
            seg(
                confidence_tone(c.confidence, e.confidence_threshold),
                format!("  confidence {:.2}", c.confidence),
            ),
        ];
        row.extend(verdict_segments(&c.verdicts, false));
        rows.push(row);
    }
    // After the candidates, which the operator acts on first.
    rows.extend(step);
    rows
}

fn confidence_tone(confidence: f64, threshold: f64) -> Tone {
    if confidence >= threshold {
        Tone::Good
    } else {
        Tone::Warn
    }
}

/// `✓ schema:x  ✖ policy:y (detail)`; details only when `detailed`.
pub(super) fn verdict_segments(verdicts: &[ValidatorVerdict], detailed: bool) -> Vec<Segment> {
    verdicts
        .iter()
        .map(|v| {
            let detail = match (&v.detail, detailed) {
                (Some(d), true) => format!(" ({})", clean(d)),
                _ => String::new(),
            };
            if v.passed {
                seg(Tone::Good, format!("  ✓ {}{detail}", clean(&v.validator)))
            } else {
                seg(Tone::Bad, format!("  ✖ {}{detail}", clean(&v.validator)))
            }
        })
        .collect()
}

pub(super) fn candidates(task: &TaskState, e: &Escalation, width: usize) -> Vec<Row> {
    let Some(c) = e.candidates.get(task.candidate) else {
        return vec![vec![seg(
            Tone::Dim,
            "No candidate output: every attempt failed. Write one (w), retry (t), reject (r) or abort (x).",
        )]];
    };
    let mut rows = vec![vec![
        seg(
            Tone::Chosen,
            format!(" ◀ {}/{} ▶ ", task.candidate + 1, e.candidates.len()),
        ),
        seg(
            Tone::Text,
            format!(
                " {} · {} · {} · {} · attempt {}",
                clean(&c.id),
                clean(&c.model),
                clean(&c.provider),
                clean(&c.region),
                clean(&c.attempt)
            ),
        ),
    ]];
    rows.push(vec![
        seg(Tone::Dim, "confidence "),
        seg(
            confidence_tone(c.confidence, e.confidence_threshold),
            format!(
                "{:.2} ({} the threshold {:.2})",
                c.confidence,
                if c.confidence >= e.confidence_threshold {
                    "meets"
                } else {
                    "under"
                },
                e.confidence_threshold
            ),
        ),
    ]);
    for v in &c.verdicts {
        let mut row = vec![seg(Tone::Dim, "validator  ")];
        row.extend(verdict_segments(std::slice::from_ref(v), true));
        rows.push(row);
    }
    rows.push(vec![seg(Tone::Title, "Output")]);
    for part in clean_multiline(&c.output)
        .lines()
        .flat_map(|l| wrap(l, width))
    {
        rows.push(vec![seg(Tone::Text, part)]);
    }
    rows
}
