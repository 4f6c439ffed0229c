//! An escalated task, open: its SLA and claim, then one pane at a time — overview, context,
//! candidate outputs, the lineage as a tree and as a timeline, and what people did with it.
//! Every text from the source is sanitized; long payloads wrap and scroll.
//!
//! Here: the head, the pane tabs and the text helpers every pane uses; the panes' content
//! is built in `overview.rs`, `lineage.rs` and `timeline.rs`.

mod lineage;
mod overview;
mod step;
mod timeline;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::escalation_text::{Urgency, holder_text, sla_text};
use crate::app::{
    App, Claim, FailureKind, PaneExtent, ResolutionState, TaskLoad, TaskPane, TaskState,
};
use crate::format::age;
use crate::theme::Theme;
use protocol::sanitize::clean;

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
    // Beside other sources, the task says whose it is (a lab's, a Temporal namespace's).
    let from = match app.sources.get(task.source) {
        Some(source) if app.sources.len() > 1 => format!(" · from {}", source.name),
        _ => String::new(),
    };
    match app.task_summary() {
        Some(s) => format!(
            " {} · {} · {} / {} · {}{from} ",
            clean(&s.id),
            s.priority.word().to_uppercase(),
            clean(&s.service),
            clean(&s.step),
            clean(&s.workflow_type)
        ),
        None => format!(" {}{from} ", clean(&task.id)),
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
    let mut claim_row = match (&summary.resolution, our_lease, holder_text(&summary, me)) {
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
        TaskPane::Overview => {
            let step = step::step_posture(app, task.source, &escalation.summary, width);
            overview::overview(task, escalation, step, width)
        }
        TaskPane::Context => task
            .context_lines
            .iter()
            .flat_map(|l| wrap(l, width))
            .map(|l| vec![seg(Tone::Text, l)])
            .collect(),
        TaskPane::Candidates => overview::candidates(task, escalation, width),
        TaskPane::Lineage => lineage::lineage_tree(escalation, width),
        TaskPane::Timeline => timeline::timeline(escalation, width),
        TaskPane::History => timeline::history(escalation, width),
    }
}
