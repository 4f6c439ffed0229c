//! The lineage pane: the workflow's steps and every attempt of each, as a tree that shows
//! retries, failovers and hedged calls.

use std::collections::HashMap;

use super::overview::verdict_segments;
use super::{Row, Tone, seg, wrapped};
use crate::format::ms;
use protocol::escalations::{Attempt, AttemptOutcome, Escalation, LineageStep, StepOutcome};
use protocol::sanitize::clean;

pub(super) fn outcome_mark(outcome: AttemptOutcome) -> (Tone, &'static str, &'static str) {
    match outcome {
        AttemptOutcome::Ok => (Tone::Good, "✓", "ok"),
        AttemptOutcome::Error => (Tone::Bad, "✖", "error"),
        AttemptOutcome::Rejected => (Tone::Warn, "⊘", "rejected"),
        AttemptOutcome::Timeout => (Tone::Bad, "⧗", "timeout"),
    }
}

/// Where an attempt ran: `gpt-4o openai@us-east` (the region is named apart only when the
/// provider id does not carry it).
pub(super) fn path(a: &Attempt) -> String {
    let mut parts = Vec::new();
    if let Some(model) = &a.model {
        parts.push(clean(model).into_owned());
    }
    if let Some(provider) = &a.provider {
        parts.push(clean(provider).into_owned());
    }
    if let Some(region) = &a.region
        && !a
            .provider
            .as_ref()
            .is_some_and(|p| p.ends_with(region.as_str()))
    {
        parts.push(format!("in {}", clean(region)));
    }
    parts.join(" ")
}

/// Depth of each attempt in its step's tree: a retry or failover that is its parent's only
/// follow-up stays at its parent's depth (a chain reads as a list); hedged calls that share
/// a parent branch one level deeper.
fn attempt_depths(step: &LineageStep) -> Vec<usize> {
    let mut children: HashMap<&str, usize> = HashMap::new();
    for a in &step.attempts {
        if let Some(parent) = &a.parent {
            *children.entry(parent.as_str()).or_default() += 1;
        }
    }
    let mut depth_of: HashMap<&str, usize> = HashMap::new();
    step.attempts
        .iter()
        .map(|a| {
            let depth = match a.parent.as_deref() {
                Some(parent) => {
                    let base = depth_of.get(parent).copied().unwrap_or(0);
                    if children.get(parent).copied().unwrap_or(0) > 1 {
                        base + 1
                    } else {
                        base
                    }
                }
                None => 0,
            };
            depth_of.insert(a.id.as_str(), depth);
            depth
        })
        .collect()
}

pub(super) fn lineage_tree(e: &Escalation, width: usize) -> Vec<Row> {
    let l = &e.lineage;
    let mut rows = vec![vec![
        seg(Tone::Title, clean(&l.workflow_type).into_owned()),
        seg(
            Tone::Dim,
            format!(
                "  {} · run {} · started {}",
                clean(&l.workflow_id),
                clean(&l.run_id),
                l.started_at.format("%H:%M:%S")
            ),
        ),
    ]];
    for (si, step) in l.steps.iter().enumerate() {
        let last_step = si + 1 == l.steps.len();
        let (step_tone, step_mark, step_word) = match step.outcome {
            StepOutcome::Completed => (Tone::Good, "✓", "completed"),
            StepOutcome::Escalated => (Tone::Bad, "⚠", "ESCALATED"),
        };
        rows.push(vec![
            seg(Tone::Dim, if last_step { "└─ " } else { "├─ " }),
            seg(step_tone, format!("{step_mark} {}", clean(&step.name))),
            seg(
                Tone::Dim,
                format!(
                    "  {step_word} · {} {}",
                    step.attempts.len(),
                    crate::format::plural(step.attempts.len(), "attempt", "attempts")
                ),
            ),
        ]);
        let stem = if last_step { "   " } else { "│  " };
        let depths = attempt_depths(step);
        for (ai, (a, depth)) in step.attempts.iter().zip(depths).enumerate() {
            let last = ai + 1 == step.attempts.len();
            let branch = format!(
                "{stem}{}{}",
                "   ".repeat(depth),
                if last { "└─ " } else { "├─ " }
            );
            let under = format!(
                "{stem}{}{}   ",
                "   ".repeat(depth),
                if last { "   " } else { "│  " }
            );
            let (tone, mark, word) = outcome_mark(a.outcome);
            let mut row = vec![
                seg(Tone::Dim, branch),
                seg(tone, format!("{mark} #{} ", a.number)),
                seg(Tone::Text, path(a)),
                seg(Tone::Dim, format!("  {}  ", ms(a.duration_ms as f64))),
                seg(tone, word),
            ];
            if let Some(confidence) = a.confidence {
                row.push(seg(Tone::Dim, format!("  confidence {confidence:.2}")));
            }
            rows.push(row);
            if let Some(error) = &a.error {
                let status = error.status.map(|s| format!(" {s}")).unwrap_or_default();
                let final_word = if error.non_retryable {
                    " (not retryable)"
                } else {
                    ""
                };
                wrapped(
                    &mut rows,
                    &under,
                    Tone::Bad,
                    &format!(
                        "{}{status}: {}{final_word}",
                        error.kind.word(),
                        clean(&error.message)
                    ),
                    width,
                );
            }
            if !a.verdicts.is_empty() {
                let mut row = vec![seg(Tone::Dim, under.clone())];
                row.extend(verdict_segments(&a.verdicts, true));
                rows.push(row);
            }
            if let Some(reason) = &a.retry_reason {
                wrapped(
                    &mut rows,
                    &under,
                    Tone::Accent,
                    &format!("↻ retry: {}", clean(reason)),
                    width,
                );
            }
            if let Some(reason) = &a.failover_reason {
                wrapped(
                    &mut rows,
                    &under,
                    Tone::Accent,
                    &format!("⇄ failover: {}", clean(reason)),
                    width,
                );
            }
        }
    }
    rows
}
