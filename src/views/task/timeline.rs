//! The timeline pane (every attempt as a bar on one time axis) and the history pane (what
//! people did with the task).

use chrono::{DateTime, Utc};

use super::lineage::{outcome_mark, path};
use super::{Row, Tone, seg, wrapped};
use crate::format::ms;
use protocol::escalations::{AttemptOutcome, Escalation, HistoryAction};
use protocol::sanitize::clean;

/// Bars of every attempt on one time axis, from the workflow's start to its last attempt.
pub(super) fn timeline(e: &Escalation, width: usize) -> Vec<Row> {
    let l = &e.lineage;
    let start = l.started_at;
    let end = l
        .steps
        .iter()
        .flat_map(|s| &s.attempts)
        .map(|a| a.started_at + chrono::TimeDelta::milliseconds(a.duration_ms as i64))
        .max()
        .unwrap_or(start);
    let span_ms = (end - start).num_milliseconds().max(1) as f64;
    let label_width = (width / 3).clamp(12, 34);
    let tail = 8;
    let bar_width = width.saturating_sub(label_width + tail + 2).max(10);
    let offset_of = |at: DateTime<Utc>| {
        let ms = (at - start).num_milliseconds().max(0) as f64;
        ((ms / span_ms) * bar_width as f64).floor() as usize
    };
    let mut rows = vec![vec![
        seg(Tone::Dim, format!("{:<label_width$}", "")),
        seg(Tone::Dim, "0s"),
        seg(
            Tone::Dim,
            format!(
                "{:>w$}",
                format!("+{}", ms(span_ms)),
                w = bar_width.saturating_sub(2)
            ),
        ),
    ]];
    for step in &l.steps {
        rows.push(vec![seg(Tone::Title, clean(&step.name).into_owned())]);
        for a in &step.attempts {
            let (tone, mark, _) = outcome_mark(a.outcome);
            let label = protocol::sanitize::truncate(
                &format!(" {mark} #{} {}", a.number, path(a)),
                label_width,
            )
            .into_owned();
            let from = offset_of(a.started_at).min(bar_width.saturating_sub(1));
            let length = ((a.duration_ms as f64 / span_ms) * bar_width as f64).round() as usize;
            let length = length.clamp(1, bar_width - from);
            // The fill tells the outcome without colour too.
            let fill = match a.outcome {
                AttemptOutcome::Ok => "█",
                AttemptOutcome::Rejected => "▒",
                AttemptOutcome::Error | AttemptOutcome::Timeout => "░",
            };
            rows.push(vec![
                seg(tone, format!("{label:<label_width$}")),
                seg(Tone::Dim, "·".repeat(from)),
                seg(tone, fill.repeat(length)),
                seg(
                    Tone::Dim,
                    format!(
                        "{} {}",
                        " ".repeat(bar_width - from - length),
                        ms(a.duration_ms as f64)
                    ),
                ),
            ]);
        }
    }
    rows.push(Vec::new());
    rows.push(vec![seg(
        Tone::Dim,
        "█ ok   ▒ rejected by a validator   ░ error or timeout   · waiting",
    )]);
    rows
}

pub(super) fn history(e: &Escalation, width: usize) -> Vec<Row> {
    if e.history.is_empty() {
        return vec![vec![seg(Tone::Dim, "Nobody has acted on this task yet.")]];
    }
    let mut rows = Vec::new();
    for h in &e.history {
        let action = match h.action {
            HistoryAction::Claimed => "claimed",
            HistoryAction::Renewed => "renewed the claim",
            HistoryAction::Released => "released",
            HistoryAction::LeaseExpired => "lease expired",
            HistoryAction::HandedOff => "handed off",
            HistoryAction::Resolved => "resolved",
            HistoryAction::Aborted => "aborted",
        };
        let to = h
            .assignee
            .as_ref()
            .map(|a| format!(" to {}", clean(a)))
            .unwrap_or_default();
        rows.push(vec![
            seg(Tone::Dim, format!("{} ", h.at.format("%H:%M:%S"))),
            seg(Tone::Accent, format!("{:<10} ", clean(&h.actor))),
            seg(Tone::Text, format!("{action}{to}")),
        ]);
        if let Some(note) = &h.note {
            wrapped(
                &mut rows,
                "           “",
                Tone::Text,
                &format!("{}”", clean(note)),
                width,
            );
        }
    }
    rows
}
