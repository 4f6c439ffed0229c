//! The history of a region or provider in the detail pane: p95 latency, and error and 429
//! rates, as charts over time on the source's clock, each scaled to the range of its data.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Wrap};

use crate::app::App;
use crate::domain::fleet::Sample;
use crate::format::{age, ms, pct};
use crate::theme::Theme;
use crate::views::clock;

/// Rows under which a chart shows too little to read: axis, labels and three rows of plot.
const MIN_CHART_ROWS: u16 = 5;
/// Rows a chart takes at most, however tall the screen.
const MAX_CHART_ROWS: u16 = 12;

/// Columns between charts side by side.
const CHART_GAP: u16 = 3;

/// A series of `(seconds before the last change, value)` points.
type Points = Vec<(f64, f64)>;

/// What the pane knows of the past of one region or provider.
pub(super) enum History {
    Collecting,
    OneSample(Sample),
    Series(Series),
}

pub(super) struct Series {
    samples: usize,
    /// Seconds from the first sample to the last.
    span_s: f64,
    latency: Points,
    /// In percent, like their axis.
    errors: Points,
    limited: Points,
    /// The source's clock as the status bar names it, when it runs its own time; the time
    /// axis counts on it.
    own_clock: Option<String>,
}

impl History {
    /// The history of `samples` from `source`, on that source's clock, up to its last change
    /// (a source reports an object only when it changes).
    pub(super) fn of(app: &App, source: usize, samples: Option<&VecDeque<Sample>>) -> History {
        let samples = samples.map(|s| s.iter().copied().collect::<Vec<_>>());
        let (first, last) = match samples.as_deref() {
            None | Some([]) => return History::Collecting,
            Some([one]) => return History::OneSample(*one),
            Some([first, .., last]) => (*first, *last),
        };
        let samples = samples.unwrap_or_default();
        // The time axis ends at the last change, not at the source's newest event: a quiet
        // source's clock-only events would otherwise redraw the whole chart to extend a flat
        // line (whether the data is live, the pane's first line says).
        let seconds_before =
            |at: DateTime<Utc>| -((last.at - at).num_milliseconds() as f64) / 1000.0;
        let points = |value: fn(&Sample) -> f64| -> Points {
            let mut points: Points = samples
                .iter()
                .map(|s| (seconds_before(s.at), value(s)))
                .filter(|(_, v)| v.is_finite())
                .collect();
            points.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
            points
        };
        History::Series(Series {
            samples: samples.len(),
            span_s: -seconds_before(first.at),
            latency: points(|s| s.p95_ms),
            errors: points(|s| s.error_rate * 100.0),
            limited: points(|s| s.rate_limited_rate * 100.0),
            own_clock: clock::runs_own_time(app, source).then(|| clock::label(app, source)),
        })
    }

    /// Draws into `area`: two charts stacked (`stacked`, beside the facts) or side by side
    /// (under them), or a line saying why there is no chart.
    pub(super) fn draw(&self, theme: &Theme, frame: &mut Frame, area: Rect, stacked: bool) {
        if area.height == 0 {
            return;
        }
        let series = match self {
            History::Collecting => return note(theme, frame, area, "history: collecting…"),
            History::OneSample(s) => {
                let text = format!(
                    "history: 1 sample so far (p95 {}, errors {}, 429s {}); the charts start with the next change",
                    ms(s.p95_ms),
                    pct(s.error_rate),
                    pct(s.rate_limited_rate)
                );
                return note(theme, frame, area, &text);
            }
            History::Series(series) => series,
        };
        let needed = if stacked {
            MIN_CHART_ROWS * 2
        } else {
            MIN_CHART_ROWS
        };
        if area.height < needed {
            let text = format!(
                "history: {} samples over {}; a taller window shows the charts",
                series.samples,
                age(std::time::Duration::from_secs_f64(series.span_s))
            );
            return note(theme, frame, area, &text);
        }
        let [latency_area, rates_area] = if stacked {
            let rows = (area.height / 2).min(MAX_CHART_ROWS);
            Layout::vertical([Constraint::Length(rows), Constraint::Length(rows)]).areas(area)
        } else {
            let rows = area.height.min(MAX_CHART_ROWS);
            let [charts, _] =
                Layout::vertical([Constraint::Length(rows), Constraint::Fill(1)]).areas(area);
            let [left, _, right] = Layout::horizontal([
                Constraint::Fill(1),
                Constraint::Length(CHART_GAP),
                Constraint::Fill(1),
            ])
            .areas(charts);
            [left, right]
        };
        let mut latency_title = Line::from(Span::styled("p95 latency", theme.sparkline));
        if let Some(clock) = &series.own_clock {
            latency_title.push_span(Span::styled(format!(" · {clock} time"), theme.dim));
        }
        let latency = [(Marker::Braille, theme.sparkline, &series.latency)];
        frame.render_widget(
            series.chart(theme, latency_title, "ms", &latency),
            latency_area,
        );
        let rates_title = Line::from(vec![
            Span::styled("errors", theme.error),
            Span::styled(" and ", theme.dim),
            Span::styled("429s (•)", theme.warning),
        ]);
        let rates = [
            (Marker::Braille, theme.error, &series.errors),
            (Marker::Dot, theme.warning, &series.limited),
        ];
        frame.render_widget(series.chart(theme, rates_title, "%", &rates), rates_area);
    }
}

impl Series {
    fn chart<'a>(
        &'a self,
        theme: &Theme,
        title: Line<'a>,
        unit: &'a str,
        lines: &[(Marker, Style, &'a Points)],
    ) -> Chart<'a> {
        let datasets = lines
            .iter()
            .map(|(marker, style, points)| {
                Dataset::default()
                    .marker(*marker)
                    .graph_type(GraphType::Line)
                    .style(*style)
                    .data(points)
            })
            .collect();
        let [low, high] = value_bounds(lines.iter().flat_map(|(_, _, p)| p.iter().map(|p| p.1)));
        let span = self.span_s.max(1.0);
        Chart::new(datasets)
            .block(Block::new().title(title))
            .legend_position(None)
            .x_axis(
                Axis::default()
                    .style(theme.dim)
                    .bounds([-span, 0.0])
                    .labels([
                        format!("-{}", age(std::time::Duration::from_secs_f64(span))),
                        "last change".to_string(),
                    ]),
            )
            .y_axis(
                Axis::default()
                    .title(Span::styled(unit, theme.dim))
                    .style(theme.dim)
                    .bounds([low, high])
                    .labels([
                        axis_number(low),
                        axis_number((low + high) / 2.0),
                        axis_number(high),
                    ]),
            )
    }
}

fn note(theme: &Theme, frame: &mut Frame, area: Rect, text: &str) {
    frame.render_widget(
        Paragraph::new(Span::styled(text.to_string(), theme.dim)).wrap(Wrap { trim: false }),
        area,
    );
}

/// The value axis over the data's range with a tenth of it as margin (a flat line sits in
/// the middle), never below zero for data that is not: every series here is a latency or
/// a rate.
fn value_bounds(values: impl Iterator<Item = f64>) -> [f64; 2] {
    let (low, high) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if low > high {
        return [0.0, 1.0];
    }
    let range = high - low;
    let margin = if range > 0.0 {
        range / 10.0
    } else {
        (high.abs() / 10.0).max(1.0)
    };
    let bottom = if low >= 0.0 {
        (low - margin).max(0.0)
    } else {
        low - margin
    };
    let top = high + margin;
    [bottom, if top.is_finite() { top } else { f64::MAX }]
}

/// A value axis label, a few characters wide whatever the magnitude.
fn axis_number(value: f64) -> String {
    if !value.is_finite() {
        "?".to_string()
    } else if value.abs() >= 1e5 {
        format!("{value:.0e}")
    } else if value.abs() >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_axis_spans_the_data_not_zero_to_max() {
        assert_eq!(value_bounds([400.0, 500.0].into_iter()), [390.0, 510.0]);
        // A flat line sits between margins; rates never go below zero.
        assert_eq!(value_bounds([0.0, 0.0].into_iter()), [0.0, 1.0]);
        assert_eq!(value_bounds([250.0].into_iter()), [225.0, 275.0]);
    }

    #[test]
    fn bad_values_neither_break_the_axis_nor_overflow() {
        assert_eq!(
            value_bounds([f64::NAN, f64::INFINITY].into_iter()),
            [0.0, 1.0]
        );
        assert_eq!(value_bounds([f64::NAN, 3.0, 5.0].into_iter()), [2.8, 5.2]);
        let [low, high] = value_bounds([0.0, f64::MAX].into_iter());
        assert!(low == 0.0 && high.is_finite(), "{low} {high}");
        assert_eq!(axis_number(1.5e12), "2e12");
        assert_eq!(axis_number(f64::NAN), "?");
        assert_eq!(axis_number(412.4), "412");
        assert_eq!(axis_number(0.84), "0.8");
    }
}
