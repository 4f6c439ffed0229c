//! The command menu of the selection, and the confirmation: what will be done, to what, the
//! preflight, a reason, and (in production) the target typed out.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::overlays::centered;
use super::scrolling::{draw_scrolling, wrapped_rows};
use crate::app::{App, ConfirmState, MenuState};
use crate::domain::preflight::{Preflight, Verdict};
use crate::format::{age, pct, rps};
use crate::keymap::Layer;
use crate::theme::Theme;
use protocol::sanitize::clean;

const CONFIRM_WIDTH: u16 = 76;

pub fn draw_menu(app: &App, menu: &MenuState, theme: &Theme, frame: &mut Frame, area: Rect) {
    let height = menu.commands.len() as u16 + 2;
    let popup = centered(area, 60, height);
    // Several sources report the target: each line says where its command goes.
    let names = menu.names_sources();
    let lines: Vec<Line> = (menu.commands.iter().zip(&menu.sources))
        .enumerate()
        .map(|(i, (command, &source))| {
            let style = if i == menu.selected {
                theme.selection
            } else {
                theme.text
            };
            let mut text = format!(" {} ", clean(&command.to_string()));
            if names {
                text.push_str(&format!("→ {} ", clean(&app.source(source).name)));
            }
            Line::styled(text, style)
        })
        .collect();
    let title = match names {
        true => format!(
            " {}: several sources report it, pick where ",
            clean(&menu.title)
        ),
        false => format!(" Commands for {} ", clean(&menu.title)),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(Span::styled(title, theme.title));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

pub fn draw_confirm(
    app: &App,
    confirm: &ConfirmState,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let Findings { blocking, details } = preflight_lines(&confirm.preflight, theme);
    let field_rows = confirm.fields.len() as u16;
    let popup_width = CONFIRM_WIDTH.min(area.width);
    // Long reasons wrap: count the rows they take at the popup's inner width.
    let inner_width = popup_width.saturating_sub(2);
    let (blocking_rows, detail_rows) = (
        wrapped_rows(&blocking, inner_width),
        wrapped_rows(&details, inner_width),
    );
    let height = (blocking_rows + detail_rows + field_rows + 6).min(area.height);
    let popup = centered(area, popup_width, height);
    let context = &app.context;
    let mut title = format!(" Confirm: {} ", clean(&confirm.command.to_string()));
    if context.production {
        title = format!(" PRODUCTION {}{title}", clean(&context.name));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if context.production {
            theme.error
        } else {
            theme.accent
        })
        .title(Span::styled(title, theme.title));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);

    // What blocks the command is drawn first and never scrolls away: the operator reads why
    // before typing FORCE. The details below it scroll when the terminal is short.
    let [head, blocking_area, details_area, fields, problem, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(blocking_rows),
        Constraint::Fill(1),
        Constraint::Length(field_rows),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let source = &app.sources[confirm.source];
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("on ", theme.dim),
            Span::raw(format!(
                "{} ({}) ",
                clean(&source.name),
                clean(&context.name)
            )),
            Span::styled("as ", theme.dim),
            Span::raw(
                app.identity()
                    .map(|w| clean(&w.name).into_owned())
                    .unwrap_or_default(),
            ),
        ])),
        head,
    );
    frame.render_widget(
        Paragraph::new(blocking).wrap(Wrap { trim: false }),
        blocking_area,
    );
    // When the details do not fit, their last row says how many more there are and which
    // keys show them.
    draw_scrolling(
        details,
        detail_rows,
        confirm.details_scroll,
        Layer::Confirm,
        theme,
        frame,
        details_area,
    );

    let rows = Layout::vertical(confirm.fields.iter().map(|_| Constraint::Length(1))).split(fields);
    for (i, (field, row)) in confirm.fields.iter().zip(rows.iter()).enumerate() {
        let [label, input] = Layout::horizontal([Constraint::Length(17), Constraint::Fill(1)])
            .flex(Flex::Start)
            .areas(*row);
        let focused = i == confirm.focus;
        let marker = if focused { "▶ " } else { "  " };
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!("{marker}{}", field.kind.label()),
                if focused { theme.accent } else { theme.dim },
            )),
            label,
        );
        frame.render_widget(&field.input, input);
    }
    let waits = app.confirm_waits_for_approval(confirm);
    if let Some(text) = &confirm.problem {
        frame.render_widget(
            Paragraph::new(Span::styled(clean(text).into_owned(), theme.error)),
            problem,
        );
    } else if let Some(why) = &waits {
        let text = format!("⚖ waits for a second approver: {why}");
        frame.render_widget(
            Paragraph::new(Span::styled(clean(&text).into_owned(), theme.warning)),
            problem,
        );
    }
    let send = match (confirm.preflight.blocks(), waits.is_some()) {
        (true, _) => "enter send (override needed)",
        (false, true) => "enter send for approval",
        (false, false) => "enter send",
    };
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!(" {send} · tab next field · esc cancel"),
            theme.dim,
        )),
        keys,
    );
}

/// The preflight in two parts: what blocks the command (with the summary), and the rest.
struct Findings<'a> {
    blocking: Vec<Line<'a>>,
    details: Vec<Line<'a>>,
}

fn preflight_lines<'a>(preflight: &Preflight, theme: &Theme) -> Findings<'a> {
    let verdict_style = |verdict: Verdict| match verdict {
        Verdict::Ok => theme.headroom_ok,
        Verdict::Low => theme.headroom_low,
        Verdict::Overload => theme.headroom_overloaded,
    };
    let mut blocking = vec![Line::styled(
        format!("preflight: {}", clean(&preflight.summary)),
        theme.dim,
    )];
    let mut lines = Vec::new();
    // What takes more (or less) load, and the room it keeps.
    let room = |headroom: f64, verdict: Verdict| {
        Span::styled(
            format!("{} {}", pct(headroom), verdict.word()),
            verdict_style(verdict),
        )
    };
    for r in &preflight.regions {
        let what = format!(
            "{:<9} share {}→{} ",
            clean(&r.region),
            pct(r.share_before),
            pct(r.share_after)
        );
        let load = load_span(&what, r.load_before_rps, r.load_after_rps, r.capacity_rps);
        lines.push(Line::from(vec![load, room(r.headroom_after, r.verdict)]));
    }
    for r in &preflight.replicas {
        let load = load_span(
            &clean(&r.replica),
            r.load_before_rps,
            r.load_after_rps,
            r.capacity_rps,
        );
        lines.push(Line::from(vec![load, room(r.headroom_after, r.verdict)]));
    }
    for p in &preflight.providers {
        let mut spans = vec![Span::raw(format!(
            "  {} {}→{} rps",
            clean(&p.provider),
            rps(p.load_before_rps),
            rps(p.load_after_rps)
        ))];
        if let (Some(headroom), Some(verdict)) = (p.headroom_after, p.verdict) {
            spans.push(Span::raw("  limit room "));
            spans.push(Span::styled(
                format!("{} {}", pct(headroom), verdict.word()),
                verdict_style(verdict),
            ));
        }
        lines.push(Line::from(spans));
    }
    if let Some(t) = &preflight.takeover {
        let ready = if t.ready { "ready" } else { "NOT ready" };
        lines.push(Line::from(format!(
            "  takeover: {} ({}, {ready}, {}) in {}, replication lag {}, replaces {}",
            clean(&t.replica),
            t.role.word(),
            clean(&t.region),
            age(std::time::Duration::from_secs_f64(
                t.expected_takeover_s.max(0.0)
            )),
            super::lag_text(t.replication_lag_s),
            clean(&t.replaces.join(", "))
        )));
    }
    for line in preflight.readiness.iter().flat_map(|r| r.describe()) {
        lines.push(Line::from(format!("  {}", clean(&line))));
    }
    for n in &preflight.no_path {
        let at = n
            .region
            .as_deref()
            .map(|r| format!(" at {}", clean(r)))
            .unwrap_or_default();
        blocking.push(Line::styled(
            format!(
                "  ✖ no healthy path for {}{at}: {}",
                clean(&n.service),
                clean(&n.why)
            ),
            theme.error,
        ));
    }
    for o in &preflight.overloads {
        blocking.push(Line::styled(
            format!("  ✖ would overload {}", clean(o)),
            theme.headroom_overloaded,
        ));
    }
    for e in &preflight.errors {
        blocking.push(Line::styled(format!("  ✖ {}", clean(e)), theme.error));
    }
    for w in &preflight.warnings {
        lines.push(Line::styled(format!("  ⚠ {}", clean(w)), theme.warning));
    }
    for text in crate::format::cost_effect_lines(preflight) {
        let style = if text.starts_with("budget") {
            theme.warning
        } else {
            theme.text
        };
        lines.push(Line::styled(format!("  {text}"), style));
    }
    let unjudged = preflight.unjudged_providers();
    if !unjudged.is_empty() {
        lines.push(Line::styled(
            format!(
                "  ? rate limit unknown for {}: its headroom cannot be judged",
                clean(&unjudged.join(", "))
            ),
            theme.warning,
        ));
    } else if !preflight.blocks() && preflight.moves_traffic {
        lines.push(Line::styled(
            "  ✓ every target keeps headroom and a healthy path",
            theme.health_ok,
        ));
    }
    Findings {
        blocking,
        details: lines,
    }
}

/// `  <what> load 700→280 of 1200 rps  room `
fn load_span<'a>(what: &str, before: f64, after: f64, capacity: f64) -> Span<'a> {
    Span::raw(format!(
        "  {what} load {}→{} of {} rps  room ",
        rps(before),
        rps(after),
        rps(capacity)
    ))
}
