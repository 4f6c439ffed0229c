//! Audit view: every command, who sent it, why, with which idempotency key, and how it went;
//! this console's own commands show from the moment they are sent. The selected entry's
//! full target, full key, reason and detail are spelled out under the table, wrapped.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use crate::app::{
    App, AuditRow, FailureKind, JournalHistory, JournaledAction, JournaledOutcome, SentSilence,
    SentState, SilenceAction, SilenceSent, decision_words, held_text, matchers_text,
    unreadable_text,
};
use crate::format::plural;
use crate::theme::Theme;
use protocol::approvals::{ApprovalRequest, ApprovalState};
use protocol::commands::AuditOutcome;
use protocol::sanitize::clean;

/// Rows under the table for the selected entry: target, key, detail and a reason of up to
/// two rows (the table cuts targets; a reason is a sentence).
const DETAIL_ROWS: u16 = 5;

/// One audit row as the view shows it.
struct Shown {
    at: String,
    who: String,
    what: String,
    target: String,
    result: String,
    outcome: Outcome,
    key: String,
    reason: String,
    detail: String,
}

#[derive(Clone, Copy)]
enum Outcome {
    Good,
    Bad,
    Pending,
}

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = app.audit_view();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(
            format!(
                " Audit ({} {}) ",
                rows.len(),
                plural(rows.len(), "entry", "entries")
            ),
            theme.title,
        ));
    if rows.is_empty() {
        let text = match super::replay::clock(app) {
            Some(clock) => format!("No command up to {clock} of the recording."),
            None => "No command yet. Commands from every console of this fleet appear here.".into(),
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.dim)).block(block),
            area,
        );
        return;
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(DETAIL_ROWS)]).areas(inner);

    let height = table_area.height.saturating_sub(1) as usize;
    let offset = super::scroll_offset(app.selection.audit_row, height);
    let style_of = |outcome: Outcome| match outcome {
        Outcome::Good => theme.health_ok,
        Outcome::Bad => theme.error,
        Outcome::Pending => theme.warning,
    };
    let widths = super::column_widths(
        &[
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(25),
            Constraint::Length(20),
            Constraint::Fill(1),
        ],
        table_area.width,
    );
    let fit = |text: &str, column: usize| super::fit(text, widths[column]);
    // Only the rows on screen are formatted; what does not fit ends in `…` (the pane below
    // has the selected entry in full).
    let table_rows: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(index, row)| {
            let shown = shown(app, row);
            let style = if index == app.selection.audit_row {
                theme.selection
            } else {
                theme.text
            };
            Row::new(vec![
                Cell::from(fit(&shown.at, 0)),
                Cell::from(fit(&shown.who, 1)),
                Cell::from(fit(&shown.what, 2)),
                Cell::from(fit(&shown.target, 3)),
                Cell::from(fit(&shown.result, 4)).style(style_of(shown.outcome)),
            ])
            .style(style)
        })
        .collect();
    let header = Row::new(["TIME", "WHO", "WHAT", "TARGET", "RESULT"]).style(theme.dim);
    frame.render_widget(
        Table::new(table_rows, super::lengths(&widths))
            .header(header)
            .column_spacing(1),
        table_area,
    );

    if let Some(selected) = rows.get(app.selection.audit_row) {
        let shown = shown(app, selected);
        let lines = vec![
            Line::from(vec![
                Span::styled("target ", theme.dim),
                Span::raw(shown.target),
            ]),
            Line::from(vec![
                Span::styled("key    ", theme.dim),
                Span::raw(shown.key),
            ]),
            Line::from(vec![
                Span::styled("reason ", theme.dim),
                Span::raw(shown.reason),
            ]),
            Line::from(vec![
                Span::styled("detail ", theme.dim),
                Span::raw(shown.detail),
            ]),
        ];
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }),
            detail_area,
        );
    }
}

fn shown(app: &App, row: &AuditRow) -> Shown {
    match row {
        AuditRow::Local(sent) => {
            let (result, outcome, detail) = match &sent.state {
                SentState::Sending => (
                    "⧗ sending".to_string(),
                    Outcome::Pending,
                    "waiting for the server".to_string(),
                ),
                SentState::Accepted(accepted) => {
                    let mut detail = accepted.warnings.join("; ");
                    if let Some(op) = &accepted.operation {
                        detail = format!("operation {} {} {}", op.id, op.state.word(), detail);
                    }
                    (
                        format!("✓ accepted #{}", accepted.audit_id),
                        Outcome::Good,
                        detail,
                    )
                }
                SentState::Held(request) => (
                    format!("⚖ held {}", request.id),
                    Outcome::Pending,
                    held_detail(app, &sent.source, request),
                ),
                SentState::Failed(failure) => {
                    let (result, outcome) = match failure.kind {
                        FailureKind::Rejected => ("✖ refused", Outcome::Bad),
                        FailureKind::Conflict => ("✖ conflict (409)", Outcome::Bad),
                        FailureKind::Unknown => ("? outcome unknown", Outcome::Pending),
                    };
                    (result.to_string(), outcome, failure.message.clone())
                }
            };
            Shown {
                at: sent.at.format("%H:%M:%S").to_string(),
                who: app
                    .identity()
                    .map(|w| clean(&w.name).into_owned())
                    .unwrap_or_else(|| "you".into()),
                what: sent.command.verb(),
                target: sent.command.target_label(),
                result,
                outcome,
                key: journal_key(sent.key.as_deref()),
                reason: clean(&sent.reason).into_owned(),
                detail: clean(&detail).into_owned(),
            }
        }
        AuditRow::Silence(sent) => silence_shown(sent),
        AuditRow::Journaled(action) => journaled_shown(action),
        AuditRow::UnreadableJournal(journal) => unreadable_shown(journal),
        AuditRow::Server(audited) => {
            let entry = &audited.entry;
            let outcome = match entry.outcome {
                AuditOutcome::Accepted | AuditOutcome::Succeeded => Outcome::Good,
                AuditOutcome::Rejected | AuditOutcome::Failed => Outcome::Bad,
                AuditOutcome::Reverted | AuditOutcome::Held => Outcome::Pending,
            };
            Shown {
                at: entry.at.format("%H:%M:%S").to_string(),
                who: clean(&entry.actor).into_owned(),
                what: clean(&entry.action).into_owned(),
                target: clean(&entry.target).into_owned(),
                result: format!("{} #{}", entry.outcome.word(), entry.id),
                outcome,
                key: entry
                    .idempotency_key
                    .as_deref()
                    .map(|k| clean(k).into_owned())
                    .unwrap_or_else(|| "—".into()),
                reason: clean(&entry.reason).into_owned(),
                detail: match entry.detail.as_deref() {
                    Some(detail) => format!("{} (source {})", clean(detail), audited.source),
                    None => format!("source {}", audited.source),
                },
            }
        }
    }
}

/// A silence action of this console: Alertmanager logs none of ours, so this row is its record.
fn silence_shown(sent: &SentSilence) -> Shown {
    let order = &sent.order;
    let (what, target) = match &order.action {
        SilenceAction::Create { matchers, .. } => ("silence", matchers_text(matchers)),
        SilenceAction::Expire { id } => ("expire silence", clean(id).into_owned()),
    };
    let (result, outcome, detail) = match &sent.state {
        SilenceSent::Sending => (
            "⧗ sending".to_string(),
            Outcome::Pending,
            "waiting for Alertmanager".to_string(),
        ),
        SilenceSent::Done(done) => (
            format!("✓ {}", clean(&done.detail)),
            Outcome::Good,
            format!("silence {}", clean(&done.id)),
        ),
        SilenceSent::Failed(failure) => {
            let (result, outcome) = match failure.kind {
                FailureKind::Rejected | FailureKind::Conflict => ("✖ refused", Outcome::Bad),
                FailureKind::Unknown => ("? outcome unknown", Outcome::Pending),
            };
            (
                result.to_string(),
                outcome,
                clean(&failure.message).into_owned(),
            )
        }
    };
    Shown {
        at: sent.at.format("%H:%M:%S").to_string(),
        who: (order.operator.as_deref())
            .map(|name| clean(name).into_owned())
            .unwrap_or_else(|| "you".into()),
        what: what.to_string(),
        target,
        result,
        outcome,
        key: journal_key(sent.key.as_deref()),
        reason: clean(&order.reason).into_owned(),
        detail: format!(
            "{detail} (Alertmanager of {}, this console's record)",
            order.source
        ),
    }
}

/// An action an earlier run of this console journaled: the journal is its record here.
fn journaled_shown(action: &JournaledAction) -> Shown {
    let (mark, outcome) = match &action.outcome {
        JournaledOutcome::Done(_) => ("✓", Outcome::Good),
        JournaledOutcome::NotDone(_) => ("✖", Outcome::Bad),
        JournaledOutcome::Unknown(_) => ("?", Outcome::Pending),
        JournaledOutcome::Held(_) => ("⚖", Outcome::Pending),
    };
    Shown {
        at: action.at.format("%H:%M:%S").to_string(),
        who: (action.operator.as_deref())
            .map(|name| clean(name).into_owned())
            .unwrap_or_else(|| "you".into()),
        what: clean(&action.verb).into_owned(),
        target: clean(&action.target).into_owned(),
        result: format!("{mark} {}", clean(action.outcome.words())),
        outcome,
        key: clean(&action.key).into_owned(),
        reason: clean(&action.reason).into_owned(),
        detail: format!(
            "sent {} to {} (this console's journal, an earlier run)",
            action.at.format("%Y-%m-%d %H:%M:%S UTC"),
            clean(&action.source)
        ),
    }
}

/// Lines of the journal that do not parse: what they held cannot be shown, so say where.
fn unreadable_shown(journal: &JournalHistory) -> Shown {
    let unreadable = unreadable_text(&journal.unreadable_lines);
    Shown {
        at: "—".into(),
        who: "journal".into(),
        what: "unreadable journal line".into(),
        target: clean(&journal.path).into_owned(),
        result: format!("? {unreadable}: skipped"),
        outcome: Outcome::Pending,
        key: "—".into(),
        reason: "—".into(),
        detail: format!(
            "{unreadable} in {} (torn by a crash, or edited?): the actions they held are not \
             shown; the other lines are",
            clean(&journal.path)
        ),
    }
}

/// A held command's request as it is now: waiting (why, until when), or how it was decided.
fn held_detail(app: &App, source: &str, request: &ApprovalRequest) -> String {
    let now = app.approvals.find(source, &request.id).map(|r| &r.request);
    match now {
        Some(now) if now.state != ApprovalState::Pending => {
            format!("{}: {}", request.id, decision_words(now))
        }
        _ => held_text(request),
    }
}

/// The idempotency key of an action this console sent, once the journal gave it one.
fn journal_key(key: Option<&str>) -> String {
    key.unwrap_or("(not journaled yet)").to_string()
}
