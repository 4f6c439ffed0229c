//! The Runbooks view: the list (the ones that apply now first, each with why; broken files
//! with their problems) or the run being followed (its steps, the current one's checks, gate,
//! action and decision live, then its record). Every text from a runbook file or a source is
//! sanitized: a runbook is a file anyone may have written.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::clock;
use crate::app::{App, RunInProgress, RunInput, RunInputKind};
use crate::format::age;
use crate::runbook::eval::{Truth, evaluate};
use crate::runbook::file::{Block as StepBlock, Runbook};
use crate::runbook::run::{Outcome, Run, jump_text};
use crate::theme::Theme;
use protocol::sanitize::clean;

/// Said wherever a run is shown while no source shares runs.
pub const LOCAL_RUN: &str = "local run: only this console sees it";
/// Lines of the record under a run's current step.
const RECORD_ROWS: u16 = 8;

/// Draws the list or the run; returns where the list's selectable rows are (none for a run).
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) -> Vec<(Rect, usize)> {
    let runbooks = &app.runbooks;
    match (runbooks.run_open, &runbooks.run, runbooks.run_runbook()) {
        (true, Some(run), Some(runbook)) => {
            draw_run(app, run, runbook, theme, frame, area);
            Vec::new()
        }
        _ => draw_list(app, theme, frame, area),
    }
}

fn draw_list(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) -> Vec<(Rect, usize)> {
    let listed = app.runbook_list();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(
            format!(" Runbooks ({}) ", listed.len()),
            theme.title,
        ));
    let mut lines: Vec<Line> = Vec::new();
    if app.replay.is_some() {
        lines.push(Line::styled(super::replay::NO_RUNBOOKS, theme.dim));
    } else if app.runbooks.catalog.is_none() {
        lines.push(Line::styled("reading the runbooks…", theme.dim));
    }
    if let Some(problem) = &app.runbooks.record_problem {
        lines.push(Line::styled(format!("⚠ {}", clean(problem)), theme.warning));
    }
    if let Some(starting) = &app.runbooks.shared.starting {
        let text = format!("⧗ starting a shared run of {}…", clean(starting));
        lines.push(Line::styled(text, theme.dim));
    }
    let inner_width = area.width.saturating_sub(2);
    let runs = app.runs_in_progress();
    if !runs.is_empty() {
        let title = "Runs in progress: enter resumes one, E in a run ends it";
        lines.push(Line::styled(title, theme.title));
    }
    let mut selected_line = 0;
    // The line each selectable row is on, with its place in the list.
    let mut rows: Vec<(usize, usize)> = Vec::new();
    for (row, run) in runs.iter().enumerate() {
        rows.push((lines.len(), row));
        let selected = row == app.runbooks.selected;
        if selected {
            selected_line = lines.len();
        }
        let marker = if selected { "▶ " } else { "  " };
        let text = format!("{marker}⧗ {}", run_row(app, run));
        let style = if selected {
            theme.selection
        } else {
            theme.accent
        };
        lines.push(Line::styled(super::fit(&text, inner_width), style));
    }
    let applying = listed.iter().take_while(|l| !l.why.is_empty()).count();
    for (index, listed) in listed.iter().enumerate() {
        if index == 0 && applying > 0 {
            lines.push(Line::styled("Apply now", theme.title));
        }
        if index == applying && !lines.is_empty() {
            lines.push(Line::styled("Other runbooks", theme.title));
        }
        let selected = runs.len() + index == app.runbooks.selected;
        let style = if selected {
            theme.selection
        } else {
            theme.text
        };
        let marker = if selected { "▶ " } else { "  " };
        let row = match &listed.entry.parsed {
            Ok(runbook) => {
                let front = &runbook.front;
                format!(
                    "{marker}{:<18} v{:<3} {}  · {} · reviewed {}",
                    clean(&front.id),
                    front.version,
                    clean(&front.title),
                    clean(&front.owner),
                    front.last_reviewed
                )
            }
            Err(problems) => {
                let first = problems.first().map(ToString::to_string);
                format!(
                    "{marker}✖ {}: cannot be followed: {}",
                    clean(&listed.entry.origin.name()),
                    clean(&first.unwrap_or_default())
                )
            }
        };
        // A row wider than the list ends in `…`, never silently at the border.
        if selected {
            selected_line = lines.len();
        }
        rows.push((lines.len(), runs.len() + index));
        lines.push(Line::styled(super::fit(&row, inner_width), style));
        for why in &listed.why {
            let why = format!("why: {}", clean(why));
            lines.push(Line::from(vec![
                Span::raw("      "),
                Span::styled(
                    super::fit(&why, inner_width.saturating_sub(6)),
                    theme.warning,
                ),
            ]));
        }
        if let (Err(problems), true) = (&listed.entry.parsed, selected) {
            for problem in problems.iter().skip(1) {
                let text = format!("      {}", clean(&problem.to_string()));
                lines.push(Line::styled(text, theme.error));
            }
        }
    }
    // Keep the selected runbook in view: it is at most a few lines from its own row.
    let inner_height = usize::from(area.height.saturating_sub(2));
    let offset = super::scroll_offset(selected_line, inner_height.saturating_sub(2));
    let lines: Vec<Line> = lines.into_iter().skip(offset).collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
    (rows.into_iter())
        .filter_map(|(line, row)| {
            let shown = line.checked_sub(offset).filter(|l| *l < inner_height)?;
            let y = area.y + 1 + shown as u16;
            Some((Rect::new(area.x + 1, y, inner_width, 1), row))
        })
        .collect()
}

/// `✓` done or met, `↷` skipped, `⌛` timed out, `▶` current; a step never reached has none.
fn step_mark(run: &Run, index: usize) -> &'static str {
    if run.current == Some(index) {
        return "▶";
    }
    let last = run
        .record
        .iter()
        .rev()
        .find(|line| line.step == index + 1 && moves(&line.outcome));
    match last.map(|line| &line.outcome) {
        Some(Outcome::Skipped { .. }) => "↷",
        Some(Outcome::GateTimedOut { .. }) => "⌛",
        Some(_) => "✓",
        None => " ",
    }
}

/// Whether an outcome leaves its step.
fn moves(outcome: &Outcome) -> bool {
    !matches!(
        outcome,
        Outcome::Started
            | Outcome::ActionSent { .. }
            | Outcome::ActionResult { .. }
            | Outcome::Note { .. }
    )
}

fn draw_run(app: &App, run: &Run, runbook: &Runbook, theme: &Theme, frame: &mut Frame, area: Rect) {
    let steps = runbook.steps.len();
    let position = match run.current {
        Some(current) => format!("step {}/{steps}", current + 1),
        None => "ended".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(
            format!(
                " {} v{} · {position} · {} ",
                clean(&runbook.front.title),
                runbook.front.version,
                where_kept(app)
            ),
            theme.title,
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let sharing = sharing_lines(app, theme);
    let [sharing_area, list_area, step_area, record_area] = Layout::vertical([
        Constraint::Length(sharing.len() as u16),
        Constraint::Length(steps as u16),
        Constraint::Min(4),
        Constraint::Length(RECORD_ROWS.min(run.record.len() as u16 + 1)),
    ])
    .areas(inner);
    let step_lines: Vec<Line> = (runbook.steps.iter().enumerate())
        .map(|(index, step)| {
            let style = if run.current == Some(index) {
                theme.selection
            } else {
                theme.text
            };
            Line::styled(
                format!(
                    "{} {}. {}",
                    step_mark(run, index),
                    index + 1,
                    clean(&step.title)
                ),
                style,
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(sharing), sharing_area);
    frame.render_widget(Paragraph::new(step_lines), list_area);
    let current = run.current.and_then(|i| runbook.steps.get(i));
    let detail = match current {
        Some(step) => step_lines_of(app, run, step, theme),
        None => vec![Line::styled(
            "The run has ended: its record is below and in the timeline.",
            theme.dim,
        )],
    };
    frame.render_widget(Paragraph::new(detail).wrap(Wrap { trim: false }), step_area);
    let shown = usize::from(record_area.height.saturating_sub(1));
    let mut record = vec![Line::styled("Record", theme.title)];
    let start = run.record.len().saturating_sub(shown);
    record.extend(run.record[start..].iter().map(|line| {
        let when = format!("{} ", clock::time(line.at));
        let who = format!("{} ", clean(&line.who));
        let room = record_area
            .width
            .saturating_sub((when.len() + who.len()) as u16);
        let mut what = format!("step {}: {}", line.step, clean(&line.outcome.describe()));
        let pending = pending_of(app, line);
        if pending.is_some() {
            // Said first: a cut line must still say it is not recorded yet.
            what = format!("⧗ pending · {what}");
        }
        Line::from(vec![
            Span::styled(when, theme.dim),
            Span::styled(who, theme.accent),
            // Cut with an ellipsis, never silently: the whole line is in the timeline.
            Span::styled(
                super::fit(&what, room),
                if pending.is_some() {
                    theme.warning
                } else {
                    theme.text
                },
            ),
        ])
    }));
    frame.render_widget(Paragraph::new(record), record_area);
}

/// A run in progress as the list shows it: its runbook, step, where it is kept, who started
/// it and when, and who is on it.
fn run_row(app: &App, run: &RunInProgress) -> String {
    let steps_of = |id: &str| {
        (app.runbooks.catalog.as_ref())
            .and_then(|c| c.find(id))
            .map_or(0, |r| r.steps.len())
    };
    match run {
        RunInProgress::Local(run) => {
            let started = run.record.first();
            format!(
                "{} in progress at step {}/{} · {LOCAL_RUN} · started by {} at {}",
                clean(&run.runbook),
                run.current.map_or(0, |i| i + 1),
                steps_of(&run.runbook),
                clean(started.map_or("?", |l| l.who.as_str())),
                clock::time(started.map_or(run.entered_at, |l| l.at))
            )
        }
        RunInProgress::Shared { source, run } => {
            let step = (app.runbooks.catalog.as_ref())
                .and_then(|c| c.find(&run.runbook_id))
                .filter(|r| r.front.version == run.runbook_version)
                .and_then(|r| Run::from_shared(r, run).current)
                .map_or_else(|| "?".to_string(), |i| (i + 1).to_string());
            let on_it: Vec<String> = (run.participants.iter())
                .map(|p| format!("{} on step {}", clean(&p.name), p.step))
                .collect();
            format!(
                "{} in progress at step {step}/{} · shared run {} on {} · started by {} at {} · {}",
                clean(&run.runbook_id),
                steps_of(&run.runbook_id),
                clean(&run.id),
                clean(source),
                clean(&run.started_by),
                clock::time(run.started_at),
                on_it.join(", ")
            )
        }
    }
}

/// Where the followed run is kept: shared through a source, or on this console only.
fn where_kept(app: &App) -> String {
    match &app.runbooks.shared.following {
        Some(following) => format!(
            "shared run {} on {}",
            clean(&following.run.id),
            clean(&following.source)
        ),
        None => LOCAL_RUN.to_string(),
    }
}

/// Who else is on the shared run and on which step, and what the source did not take; why
/// the run is local when a source said it keeps none.
fn sharing_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let shared = &app.runbooks.shared;
    let Some(following) = &shared.following else {
        return app.local_reason().map_or_else(Vec::new, |why| {
            vec![Line::styled(
                format!("{LOCAL_RUN}: {}", clean(why)),
                theme.dim,
            )]
        });
    };
    let me = app.identity().map(|who| who.name.as_str());
    let run = &following.run;
    let on_it: Vec<String> = (run.participants.iter())
        .map(|p| {
            let you = if Some(p.name.as_str()) == me {
                " (you)"
            } else {
                ""
            };
            format!(
                "{}{you} on step {}, seen {}",
                clean(&p.name),
                p.step,
                clock::time(p.last_seen)
            )
        })
        .collect();
    let mut lines = vec![Line::styled(
        format!(
            "started by {} at {} · {}",
            clean(&run.started_by),
            clock::time(run.started_at),
            on_it.join(" · ")
        ),
        theme.accent,
    )];
    let unanswered = following.pending.iter().filter(|p| p.problem.is_some());
    if let Some(why) = unanswered.clone().find_map(|p| p.problem.as_ref()) {
        lines.push(Line::styled(
            format!(
                "⧗ {} outcome(s) not recorded by the source yet, sent again when the source is back: {}",
                unanswered.count(),
                clean(why)
            ),
            theme.warning,
        ));
    }
    for refused in &following.refused {
        lines.push(Line::styled(format!("✖ {}", clean(refused)), theme.error));
    }
    lines
}

/// Whether a line of the followed shared run is not recorded by the source yet.
fn pending_of(app: &App, line: &crate::runbook::run::RunLine) -> Option<()> {
    let key = &line.shared.as_ref()?.key;
    let following = app.runbooks.shared.following.as_ref()?;
    following
        .pending
        .iter()
        .any(|p| p.key() == key)
        .then_some(())
}

fn truth_style(theme: &Theme, truth: Truth) -> Style {
    match truth {
        Truth::True => theme.health_ok,
        Truth::False => theme.health_down,
        Truth::Unknown => theme.health_unknown,
    }
}

/// The current step: its prose, then each block live.
fn step_lines_of<'a>(
    app: &App,
    run: &Run,
    step: &'a crate::runbook::file::Step,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let fleet = app.fleet_view();
    let mut lines = vec![Line::styled(clean(&step.title).into_owned(), theme.title)];
    for paragraph in step.prose.lines().filter(|l| !l.trim().is_empty()) {
        lines.push(Line::raw(clean(paragraph.trim()).into_owned()));
    }
    for block in &step.blocks {
        match block {
            StepBlock::Check(expr) => {
                let evaluation = evaluate(expr, &fleet);
                for reading in &evaluation.readings {
                    lines.push(Line::from(vec![
                        Span::styled(
                            format!("{} check ", reading.truth.mark()),
                            truth_style(theme, reading.truth),
                        ),
                        Span::raw(clean(&reading.text).into_owned()),
                    ]));
                }
            }
            StepBlock::Action { line, .. } => {
                let sent = run
                    .this_visit()
                    .iter()
                    .rev()
                    .find_map(|l| match &l.outcome {
                        Outcome::ActionResult { result, .. } => Some(result.clone()),
                        Outcome::ActionSent { key, .. } => Some(format!("sent, key {key}")),
                        _ => None,
                    });
                let state = sent.map_or_else(
                    || "x: into the confirmation".to_string(),
                    |s| clean(&s).into_owned(),
                );
                lines.push(Line::from(vec![
                    Span::styled("action ", theme.accent),
                    Span::raw(format!("{} · {state}", clean(line))),
                ]));
            }
            StepBlock::Gate(gate) => {
                let evaluation = evaluate(&gate.until, &fleet);
                let waited = (app.wall - run.entered_at).num_seconds().max(0) as u64;
                let left = gate.timeout_s.saturating_sub(waited);
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("{} gate ", evaluation.truth.mark()),
                        truth_style(theme, evaluation.truth),
                    ),
                    Span::raw(format!(
                        "waits until {}: {} left, then {}",
                        evaluation
                            .readings
                            .iter()
                            .map(|r| clean(&r.text).into_owned())
                            .collect::<Vec<_>>()
                            .join(" and "),
                        age(std::time::Duration::from_secs(left)),
                        jump_text(gate.on_timeout)
                    )),
                ]));
            }
            StepBlock::Decision(choices) => {
                lines.push(Line::styled("decide:", theme.accent));
                for (index, choice) in choices.iter().enumerate() {
                    lines.push(Line::raw(format!(
                        "  {} {} → {}",
                        index + 1,
                        clean(&choice.label),
                        jump_text(choice.jump)
                    )));
                }
            }
        }
    }
    for note in run.this_visit().iter().filter_map(|l| match &l.outcome {
        Outcome::Note { text } => Some(text),
        _ => None,
    }) {
        lines.push(Line::styled(format!("note: {}", clean(note)), theme.dim));
    }
    lines
}

/// `word` with its first letter upper case.
fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The skip reason or note (or a decision's reason) being typed.
pub fn draw_input(form: &RunInput, theme: &Theme, frame: &mut Frame, area: Rect) {
    let popup = super::overlays::centered(area, 70, 5);
    let title = match &form.kind {
        RunInputKind::Skip => " Skip this step: why? ".to_string(),
        RunInputKind::Note => " Note for this step ".to_string(),
        RunInputKind::End => " End this run here: why? ".to_string(),
        RunInputKind::Decide { kind, approval, .. } => {
            format!(" {} {}: why? ", capitalized(kind.word()), clean(approval))
        }
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(Span::styled(title, theme.title));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let [input, problem] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(2)]).areas(inner);
    frame.render_widget(&form.input, input);
    if let Some(why) = &form.problem {
        frame.render_widget(
            Paragraph::new(Line::styled(why.clone(), theme.error)).wrap(Wrap { trim: false }),
            problem,
        );
    }
}
