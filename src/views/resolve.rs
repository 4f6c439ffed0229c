//! The confirmation of a task's resolution (what will be done, the path or operator chosen,
//! a reason for a rejection, the required note) and the editor of an output.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::overlays::centered;
use super::scrolling::{draw_scrolling, hard_wrapped};
use crate::app::{App, Claim, EditorState, FormField, ResolveForm};
use crate::keymap::Layer;
use crate::theme::Theme;
use protocol::sanitize::{clean, clean_multiline};

const FORM_WIDTH: u16 = 80;
/// Rows of choices shown at once; the list scrolls to keep the chosen one in view.
const CHOICE_ROWS: usize = 8;

pub fn draw_form(app: &App, form: &ResolveForm, theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = FORM_WIDTH.min(area.width);
    let inner_width = width.saturating_sub(2);
    // What will be done to which task stays in view; the details (a whole edited output, the
    // validators' words) scroll under it, so nothing is cut.
    let summary = hard_wrapped(&clean(&form.summary), inner_width);
    let details: Vec<Line> = form
        .details
        .iter()
        .flat_map(|text| hard_wrapped(&clean_multiline(text), inner_width.saturating_sub(4)))
        .map(|row| Line::styled(format!("  │ {row}"), theme.dim))
        .collect();
    let detail_rows = details.len() as u16;
    // A choice's label may run past the frame (a path's failures): its rows wrap, none is cut,
    // and the list shows as many whole choices as fit, the chosen one among them.
    let wrapped: Vec<Vec<String>> = form
        .choices
        .iter()
        .map(|c| hard_wrapped(&c.label, inner_width.saturating_sub(2)))
        .collect();
    let rows_from =
        |first: usize, last: usize| -> usize { wrapped[first..=last].iter().map(Vec::len).sum() };
    let mut first = 0;
    while first < form.chosen && rows_from(first, form.chosen) > CHOICE_ROWS {
        first += 1;
    }
    let mut shown = 0;
    while first + shown < wrapped.len() && rows_from(first, first + shown) <= CHOICE_ROWS {
        shown += 1;
    }
    let shown = shown.max(usize::from(!wrapped.is_empty()));
    let choice_rows = if shown == 0 {
        0
    } else {
        rows_from(first, first + shown - 1) as u16
    };
    let field_rows = 1 + u16::from(form.reason.is_some());
    let summary_rows = summary.len() as u16;
    let height = 2 + 1 + summary_rows + detail_rows + choice_rows + field_rows + 2;
    let popup = centered(area, width, height.min(area.height));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(Span::styled(
            format!(
                " Resolve {}: {} ",
                app.task.as_ref().map(|t| clean(&t.id)).unwrap_or_default(),
                form.kind.word()
            ),
            theme.title,
        ));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let [
        head,
        summary_area,
        details_area,
        choices,
        fields,
        problem,
        keys,
    ] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(summary_rows),
        Constraint::Fill(1),
        Constraint::Length(choice_rows),
        Constraint::Length(field_rows),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);

    frame.render_widget(Paragraph::new(claim_line(app, theme)), head);
    let summary: Vec<Line> = summary
        .into_iter()
        .map(|row| Line::styled(row, theme.text))
        .collect();
    frame.render_widget(Paragraph::new(summary), summary_area);
    draw_scrolling(
        details,
        detail_rows,
        form.details_scroll,
        Layer::Resolve,
        theme,
        frame,
        details_area,
    );

    let lines: Vec<Line> = wrapped
        .into_iter()
        .enumerate()
        .skip(first)
        .take(shown)
        .flat_map(|(i, rows)| {
            let (marker, style) = if i == form.chosen {
                ("▶ ", theme.selection)
            } else {
                ("  ", theme.text)
            };
            rows.into_iter().enumerate().map(move |(row, text)| {
                let marker = if row == 0 { marker } else { "  " };
                Line::styled(format!("{marker}{text}"), style)
            })
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), choices);

    let mut inputs = Vec::new();
    if let Some(reason) = &form.reason {
        inputs.push((FormField::Reason, "reason", reason));
    }
    inputs.push((FormField::Note, "note", &form.note));
    let rows = Layout::vertical(inputs.iter().map(|_| Constraint::Length(1))).split(fields);
    for ((kind, label, input), row) in inputs.into_iter().zip(rows.iter()) {
        let [label_area, input_area] =
            Layout::horizontal([Constraint::Length(10), Constraint::Fill(1)]).areas(*row);
        let focused = kind == form.focus;
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!("{}{label}", if focused { "▶ " } else { "  " }),
                if focused { theme.accent } else { theme.dim },
            )),
            label_area,
        );
        frame.render_widget(input, input_area);
    }
    if let Some(text) = &form.problem {
        let style = if form.waiting_for_claim {
            theme.warning
        } else {
            theme.error
        };
        frame.render_widget(
            Paragraph::new(Span::styled(clean(text).into_owned(), style)),
            problem,
        );
    }
    let mut help = String::from(" enter send");
    if form.reason.is_some() {
        help.push_str(" · tab next field");
    }
    if !form.choices.is_empty() {
        help.push_str(" · ↑↓ choose");
    }
    help.push_str(" · esc cancel");
    frame.render_widget(Paragraph::new(Span::styled(help, theme.dim)), keys);
}

/// Who acts, and where the claim stands.
fn claim_line<'a>(app: &App, theme: &Theme) -> Line<'a> {
    let Some(task) = &app.task else {
        return Line::raw("");
    };
    let who = app
        .my_name(task.source)
        .map(|n| clean(n).into_owned())
        .unwrap_or_default();
    let (claim, style) = match &task.claim {
        Claim::Held { lease, .. } => (
            format!("claimed until {}", lease.expires_at.format("%H:%M:%S")),
            theme.health_ok,
        ),
        Claim::Claiming => ("claiming…".to_string(), theme.warning),
        Claim::Failed(why) => (format!("claim failed: {}", clean(why)), theme.error),
        Claim::Unclaimed => ("not claimed".to_string(), theme.dim),
    };
    Line::from(vec![
        Span::styled("on ", theme.dim),
        Span::raw(format!("{} ", app.sources[task.source].name)),
        Span::styled("as ", theme.dim),
        Span::raw(format!("{who} · ")),
        Span::styled(claim, style),
    ])
}

pub fn draw_editor(app: &App, editor: &EditorState, theme: &Theme, frame: &mut Frame, area: Rect) {
    let popup = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    let what = match &editor.based_on {
        Some(candidate) => format!("editing {}", clean(candidate)),
        None => "new output".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(Span::styled(
            format!(
                " Output for {} ({what}) · ctrl-s done · esc cancel, draft kept ",
                app.task.as_ref().map(|t| clean(&t.id)).unwrap_or_default()
            ),
            theme.title,
        ));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let [text, problem] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
    frame.render_widget(&editor.input, text);
    let status = match &editor.problem {
        Some(p) => Span::styled(clean(p).into_owned(), theme.error),
        None => Span::styled(
            format!(
                "{} {} · {} bytes",
                editor.input.lines().len(),
                crate::format::plural(editor.input.lines().len(), "line", "lines"),
                editor
                    .input
                    .lines()
                    .iter()
                    .map(|l| l.len() + 1)
                    .sum::<usize>()
                    .saturating_sub(1)
            ),
            theme.dim,
        ),
    };
    frame.render_widget(Paragraph::new(status), problem);
}
