//! The confirmation of a task's resolution (what will be done, the path or operator chosen,
//! a reason for a rejection, the required note) and the editor of an output.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::overlays::centered;
use crate::app::{App, Claim, EditorState, FormField, ResolveForm};
use crate::theme::Theme;
use protocol::escalations::{Resolution, ResolutionKind};
use protocol::sanitize::{clean, clean_multiline, truncate};

const FORM_WIDTH: u16 = 80;
/// Choices shown at once; the list scrolls to keep the chosen one in view.
const CHOICE_ROWS: usize = 8;
/// Lines of a submitted output previewed in its confirmation.
const PREVIEW_ROWS: usize = 4;

pub fn draw_form(app: &App, form: &ResolveForm, theme: &Theme, frame: &mut Frame, area: Rect) {
    let preview = match (&form.kind, output_of(form)) {
        (ResolutionKind::Submit, Some(output)) => clean_multiline(output)
            .lines()
            .take(PREVIEW_ROWS)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let choice_rows = form.choices.len().min(CHOICE_ROWS);
    let field_rows = 1 + usize::from(form.reason.is_some());
    let width = FORM_WIDTH.min(area.width);
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    let summary_rows = clean(&form.summary)
        .chars()
        .count()
        .div_ceil(inner_width)
        .max(1);
    let height = (2 + 1 + summary_rows + preview.len() + choice_rows + field_rows + 2) as u16;
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
    let [head, summary, preview_area, choices, fields, problem, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(summary_rows as u16),
        Constraint::Length(preview.len() as u16),
        Constraint::Length(choice_rows as u16),
        Constraint::Length(field_rows as u16),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);

    frame.render_widget(Paragraph::new(claim_line(app, theme)), head);
    frame.render_widget(
        Paragraph::new(Span::styled(clean(&form.summary).into_owned(), theme.text))
            .wrap(Wrap { trim: false }),
        summary,
    );
    let preview: Vec<Line> = preview
        .into_iter()
        .map(|l| {
            Line::styled(
                format!("  │ {}", truncate(&l, inner_width.saturating_sub(4))),
                theme.dim,
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(preview), preview_area);

    let offset = super::scroll_offset(form.chosen, CHOICE_ROWS);
    let lines: Vec<Line> = form
        .choices
        .iter()
        .enumerate()
        .skip(offset)
        .take(CHOICE_ROWS)
        .map(|(i, choice)| {
            let (marker, style) = if i == form.chosen {
                ("▶ ", theme.selection)
            } else {
                ("  ", theme.text)
            };
            Line::styled(format!("{marker}{}", choice.label), style)
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

fn output_of(form: &ResolveForm) -> Option<&str> {
    match &form.resolution {
        Some(Resolution::Submit { output, .. }) => Some(output),
        _ => None,
    }
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
