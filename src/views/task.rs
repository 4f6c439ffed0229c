//! An escalated task, open: its SLA and claim, then one pane at a time — overview, context,
//! candidate outputs, the lineage as a tree and as a timeline, and what people did with it.
//! Every text from the source is sanitized; long payloads wrap and scroll.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::escalation_text::{Urgency, holder_text, sla_text};
use crate::app::{
    App, Claim, FailureKind, PaneExtent, ResolutionState, TaskLoad, TaskPane, TaskState,
};
use crate::format::{age, ms};
use crate::theme::Theme;
use protocol::escalations::{
    Attempt, AttemptOutcome, Escalation, HistoryAction, LineageStep, StepOutcome, ValidatorVerdict,
};
use protocol::sanitize::{clean, clean_multiline};

/// Rows above the panes: the SLA line, the claim line and the pane tabs.
const HEAD_ROWS: u16 = 3;

/// How a piece of text is styled, resolved against the theme when drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tone {
    Text,
    Dim,
    Accent,
    Title,
    Good,
    Warn,
    Bad,
    Chosen,
}

type Segment = (Tone, String);
type Row = Vec<Segment>;

fn style(theme: &Theme, tone: Tone) -> Style {
    match tone {
        Tone::Text => theme.text,
        Tone::Dim => theme.dim,
        Tone::Accent => theme.accent,
        Tone::Title => theme.title,
        Tone::Good => theme.health_ok,
        Tone::Warn => theme.warning,
        Tone::Bad => theme.error,
        Tone::Chosen => theme.selection,
    }
}

fn line(theme: &Theme, row: Row) -> Line<'static> {
    Line::from(
        row.into_iter()
            .map(|(tone, text)| Span::styled(text, style(theme, tone)))
            .collect::<Vec<_>>(),
    )
}

fn seg(tone: Tone, text: impl Into<String>) -> Segment {
    (tone, text.into())
}

/// Splits text into rows of at most `width` characters, at a space where there is one (a
/// wide glyph takes two cells and only makes its row end short of the edge).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    for line in text.lines() {
        let mut rest: Vec<char> = line.chars().collect();
        if rest.is_empty() {
            rows.push(String::new());
        }
        while !rest.is_empty() {
            if rest.len() <= width {
                rows.push(rest.drain(..).collect());
                break;
            }
            match rest[..=width].iter().rposition(|c| *c == ' ') {
                Some(space) if space > 0 => {
                    rows.push(rest.drain(..space).collect());
                    rest.remove(0);
                }
                _ => rows.push(rest.drain(..width).collect()),
            }
        }
    }
    rows
}

/// `text` wrapped under an indent, every row in one tone.
fn wrapped(rows: &mut Vec<Row>, indent: &str, tone: Tone, text: &str, width: usize) {
    let room = width.saturating_sub(indent.chars().count());
    for part in wrap(text, room) {
        rows.push(vec![seg(Tone::Dim, indent), seg(tone, part)]);
    }
}

struct Areas {
    head: Rect,
    tabs: Rect,
    pane: Rect,
}

fn areas(body: Rect) -> (Block<'static>, Areas) {
    let block = Block::default().borders(Borders::ALL);
    let inner = block.inner(body);
    let [head, tabs, pane] = Layout::vertical([
        Constraint::Length(HEAD_ROWS - 1),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(inner);
    (block, Areas { head, tabs, pane })
}

/// Draws the open task over `area`; returns its pane's extent, which bounds its scroll.
pub fn draw(
    app: &App,
    task: &TaskState,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) -> PaneExtent {
    let (block, parts) = areas(area);
    let block = block
        .border_style(theme.border)
        .title(Span::styled(title(app, task), theme.title));
    frame.render_widget(block, area);
    let head: Vec<Line> = head_rows(app, task)
        .into_iter()
        .map(|r| line(theme, r))
        .collect();
    frame.render_widget(Paragraph::new(head), parts.head);

    let rows = pane_content(app, task, parts.pane.width as usize);
    let extent = PaneExtent {
        pane: task.pane,
        rows: rows.len(),
        height: parts.pane.height as usize,
    };
    let height = extent.height;
    let scroll = task.scroll(task.pane).min(extent.max_scroll());
    frame.render_widget(
        Paragraph::new(line(theme, tabs(task, scroll, height, rows.len()))),
        parts.tabs,
    );
    let shown: Vec<Line> = rows
        .into_iter()
        .skip(scroll)
        .take(height)
        .map(|r| line(theme, r))
        .collect();
    frame.render_widget(Paragraph::new(shown), parts.pane);
    extent
}

fn title(app: &App, task: &TaskState) -> String {
    match app.task_summary() {
        Some(s) => format!(
            " {} · {} · {} / {} · {} ",
            clean(&s.id),
            s.priority.word().to_uppercase(),
            clean(&s.service),
            clean(&s.step),
            clean(&s.workflow_type)
        ),
        None => format!(" {} ", clean(&task.id)),
    }
}

fn head_rows(app: &App, task: &TaskState) -> Vec<Row> {
    let Some(summary) = app.task_summary() else {
        return vec![vec![seg(Tone::Dim, "loading…")]];
    };
    let now = app.source_clock(task.source);
    let (sla, urgency) = sla_text(summary.sla_deadline, now);
    let tone = match urgency {
        Urgency::Calm => Tone::Text,
        Urgency::Near => Tone::Warn,
        Urgency::Breached => Tone::Bad,
    };
    let sla_row = vec![
        seg(Tone::Dim, "SLA "),
        seg(tone, sla),
        seg(
            Tone::Dim,
            format!(
                " due {} · waiting {} · {} attempts · ",
                summary.sla_deadline.format("%H:%M:%S"),
                age((now - summary.created_at).to_std().unwrap_or_default()),
                summary.attempts
            ),
        ),
        seg(Tone::Accent, summary.reason.word()),
    ];

    let me = app.my_name(task.source);
    // This console's claim shows before the source's event about it arrives.
    let our_lease = match &task.claim {
        Claim::Held { lease, .. }
            if summary
                .lease
                .as_ref()
                .is_none_or(|l| Some(l.holder.as_str()) == me) =>
        {
            Some(lease)
        }
        _ => None,
    };
    let mut claim_row = match (&summary.resolution, our_lease, holder_text(summary, me)) {
        (Some(r), _, _) => vec![seg(
            Tone::Warn,
            format!(
                "{} by {} ({}) at {}",
                summary.state.word(),
                clean(&r.by),
                r.kind.word(),
                r.at.format("%H:%M:%S")
            ),
        )],
        (None, Some(lease), _) => vec![seg(
            Tone::Good,
            format!(
                "claimed by you until {}",
                lease.expires_at.format("%H:%M:%S")
            ),
        )],
        (None, None, Some(holder)) => {
            let until = summary
                .lease
                .as_ref()
                .map(|l| format!(" until {}", l.expires_at.format("%H:%M:%S")))
                .unwrap_or_default();
            let others = summary
                .lease
                .as_ref()
                .is_some_and(|l| Some(l.holder.as_str()) != me);
            vec![seg(
                if others { Tone::Warn } else { Tone::Good },
                format!("{holder}{until}"),
            )]
        }
        (None, None, None) => vec![seg(
            Tone::Dim,
            format!("{}, unclaimed", summary.state.word()),
        )],
    };
    match &task.claim {
        Claim::Claiming => claim_row.push(seg(Tone::Dim, " · claiming…")),
        Claim::Failed(why) => {
            claim_row.push(seg(Tone::Bad, format!(" · claim failed: {}", clean(why))))
        }
        Claim::Held { renewing: true, .. } => claim_row.push(seg(Tone::Dim, " · renewing…")),
        Claim::Held { .. } | Claim::Unclaimed => {}
    }
    let source = &app.sources[task.source].name;
    if let Some(sent) = app.resolution_of(source, &task.id) {
        let kind = sent.resolution.kind().word();
        let key = sent.key.as_deref().unwrap_or("not journaled yet");
        claim_row.push(match &sent.state {
            ResolutionState::Sending => seg(Tone::Warn, format!(" · ⧗ sending {kind} (key {key})")),
            ResolutionState::Done(_) => seg(Tone::Good, format!(" · ✓ {kind} applied")),
            ResolutionState::Failed(f) if f.kind == FailureKind::Unknown => seg(
                Tone::Warn,
                format!(" · ? {kind}: outcome unknown, journaled under {key}"),
            ),
            ResolutionState::Failed(f) => seg(
                Tone::Bad,
                format!(" · ✖ {kind}: {}", crate::app::failure_text(f)),
            ),
            ResolutionState::NotApplied => seg(
                Tone::Warn,
                format!(" · {kind} not applied (no answer, task still open)"),
            ),
        });
    }
    vec![sla_row, claim_row]
}

fn tabs(task: &TaskState, scroll: usize, height: usize, total: usize) -> Row {
    let escalation = task.escalation();
    let mut row = Vec::new();
    for pane in TaskPane::ALL {
        let count = escalation.and_then(|e| match pane {
            TaskPane::Candidates => Some(e.candidates.len()),
            TaskPane::History => Some(e.history.len()),
            _ => None,
        });
        let label = match count {
            Some(n) => format!(" {} ({n}) ", pane.title()),
            None => format!(" {} ", pane.title()),
        };
        row.push(seg(
            if pane == task.pane {
                Tone::Chosen
            } else {
                Tone::Dim
            },
            label,
        ));
    }
    if total > height {
        row.push(seg(
            Tone::Dim,
            format!(
                "  rows {}-{} of {total}",
                scroll + 1,
                (scroll + height).min(total)
            ),
        ));
    }
    row
}

fn pane_content(app: &App, task: &TaskState, width: usize) -> Vec<Row> {
    let escalation = match &task.load {
        TaskLoad::Loading => {
            return vec![vec![seg(
                Tone::Dim,
                format!(
                    "Loading {} from {}…",
                    clean(&task.id),
                    app.sources[task.source].name
                ),
            )]];
        }
        TaskLoad::Failed(error) => {
            return vec![vec![seg(
                Tone::Bad,
                format!("Cannot read {}: {}", clean(&task.id), clean(error)),
            )]];
        }
        TaskLoad::Loaded(escalation) => escalation,
    };
    match task.pane {
        TaskPane::Overview => overview(task, escalation, width),
        TaskPane::Context => task
            .context_lines
            .iter()
            .flat_map(|l| wrap(l, width))
            .map(|l| vec![seg(Tone::Text, l)])
            .collect(),
        TaskPane::Candidates => candidates(task, escalation, width),
        TaskPane::Lineage => lineage_tree(escalation, width),
        TaskPane::Timeline => timeline(escalation, width),
        TaskPane::History => history(escalation, width),
    }
}

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

fn overview(task: &TaskState, e: &Escalation, width: usize) -> Vec<Row> {
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
fn verdict_segments(verdicts: &[ValidatorVerdict], detailed: bool) -> Vec<Segment> {
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

fn candidates(task: &TaskState, e: &Escalation, width: usize) -> Vec<Row> {
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

fn outcome_mark(outcome: AttemptOutcome) -> (Tone, &'static str, &'static str) {
    match outcome {
        AttemptOutcome::Ok => (Tone::Good, "✓", "ok"),
        AttemptOutcome::Error => (Tone::Bad, "✖", "error"),
        AttemptOutcome::Rejected => (Tone::Warn, "⊘", "rejected"),
        AttemptOutcome::Timeout => (Tone::Bad, "⧗", "timeout"),
    }
}

/// Where an attempt ran: `gpt-4o openai@us-east` (the region is named apart only when the
/// provider id does not carry it).
fn path(a: &Attempt) -> String {
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

fn lineage_tree(e: &Escalation, width: usize) -> Vec<Row> {
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

/// Bars of every attempt on one time axis, from the workflow's start to its last attempt.
fn timeline(e: &Escalation, width: usize) -> Vec<Row> {
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

fn history(e: &Escalation, width: usize) -> Vec<Row> {
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
