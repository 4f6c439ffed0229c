//! The after-action report as Markdown: what the lab writes beside the recording at the end
//! of a drill, what `switchboard exercise report RUN` prints, and what the console shows.
//! A pure function of the report, so the same run always reads the same.

use std::fmt::Write;

use super::report::{
    ACTION_SETTLE_S, ExerciseReport, RegionSeries, RunCost, SpendAt, TimelineEntry, TimelineKind,
};
use super::{Annotation, ObjectiveStatus, clock_label, span_label};
use crate::posture::labels::{burn, money, money_delta, slo_text};
use crate::sanitize;

/// Most characters of a sparkline: a chart that fits an 80-column terminal beside its labels.
const SPARK_WIDTH: usize = 48;
const SPARK_LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Error-rate charts scale to the run's worst rate, but never below this, so that a calm run
/// does not look like a crisis.
const MIN_ERROR_SCALE: f64 = 0.05;

/// The report as Markdown; see the module's documentation.
pub fn report_markdown(report: &ExerciseReport) -> String {
    let mut out = String::new();
    header(&mut out, report);
    summary(&mut out, report);
    objectives(&mut out, report);
    measures(&mut out, report);
    risky_actions(&mut out, report);
    approvals(&mut out, report);
    budgets(&mut out, report);
    spend(&mut out, report);
    timeline(&mut out, &report.timeline);
    charts(&mut out, &report.series);
    notes(&mut out, "What went well", &report.went_well);
    notes(&mut out, "What to improve", &report.to_improve);
    out
}

// Writing to a String cannot fail: the `fmt::Result`s below are ignored on purpose.

fn header(out: &mut String, report: &ExerciseReport) {
    let _ = writeln!(out, "# After-action report: {}\n", text(&report.scenario));
    if !report.ended {
        let _ = writeln!(
            out,
            "> Provisional: the drill has not ended; this is the report so far.\n"
        );
    }
    let _ = writeln!(
        out,
        "Run `{}`, seed {}, loaded {}, ran {} of exercise time.\n",
        text(&report.run_id),
        report.seed,
        report.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        span_label(report.duration_s)
    );
    if !report.description.is_empty() {
        let _ = writeln!(out, "{}\n", text(&report.description));
    }
}

fn summary(out: &mut String, report: &ExerciseReport) {
    let score = report.score;
    let percent = if score.possible == 0 {
        String::new()
    } else {
        format!(
            " ({:.0}%)",
            100.0 * f64::from(score.earned) / f64::from(score.possible)
        )
    };
    let met = report
        .objectives
        .iter()
        .filter(|o| matches!(o.status, ObjectiveStatus::Met { .. }))
        .count();
    let forced = report.risky_actions.iter().filter(|a| a.forced).count();
    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(
        out,
        "- **Score: {} / {}{percent}**: {met} of {} objectives met",
        score.earned,
        score.possible,
        report.objectives.len()
    );
    let _ = writeln!(
        out,
        "- Escalations: {} opened, {} closed, {} past their SLA",
        report.escalations_opened, report.escalations_closed, report.sla_breaches
    );
    let _ = writeln!(
        out,
        "- Risky actions: {} ({forced} forced past a blocking preflight)",
        report.risky_actions.len()
    );
    let players: Vec<String> = report
        .players
        .iter()
        .map(|p| format!("{} ({})", text(&p.name), p.role.word()))
        .collect();
    let _ = writeln!(out, "- Players: {}\n", players.join(", "));
}

fn objectives(out: &mut String, report: &ExerciseReport) {
    if report.objectives.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Objectives\n");
    let _ = writeln!(out, "| Objective | Weight | Deadline | Result |");
    let _ = writeln!(out, "|---|---:|---|---|");
    for objective in &report.objectives {
        let result = match &objective.status {
            ObjectiveStatus::Pending => "pending".to_string(),
            ObjectiveStatus::Met { at_s } => format!("met at {}", clock_label(*at_s)),
            ObjectiveStatus::Missed { at_s, why } => {
                format!("**missed** at {}: {}", clock_label(*at_s), cell(why))
            }
        };
        let deadline = objective
            .deadline_s
            .map_or_else(|| "end".to_string(), clock_label);
        let _ = writeln!(
            out,
            "| {} | {} | {deadline} | {result} |",
            cell(&objective.title),
            objective.weight
        );
    }
    out.push('\n');
}

fn measures(out: &mut String, report: &ExerciseReport) {
    if report.measures.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Response times\n");
    let _ = writeln!(
        out,
        "Counted from each inject: detect = the first action or acknowledgement by a player, \
         mitigate = the first accepted change to the fleet, recover = user-facing impact over.\n"
    );
    let _ = writeln!(out, "| Inject | Fired | Detect | Mitigate | Recover |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    let or_dash = |s: Option<f64>| s.map_or_else(|| "—".to_string(), span_label);
    for measure in &report.measures {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&measure.inject),
            clock_label(measure.fired_at_s),
            or_dash(measure.detect_s),
            or_dash(measure.mitigate_s),
            or_dash(measure.recover_s)
        );
    }
    out.push('\n');
}

fn risky_actions(out: &mut String, report: &ExerciseReport) {
    if report.risky_actions.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Risky actions\n");
    for action in &report.risky_actions {
        let overrode = if action.forced {
            "FORCED past a blocking preflight"
        } else {
            "confirmed over warnings"
        };
        let findings: Vec<String> = action.findings.iter().map(|f| text(f)).collect();
        let _ = writeln!(
            out,
            "- {} {}: {} {}, {overrode}: {}. Reason: {}",
            clock_label(action.at_s),
            text(&action.actor),
            text(&action.action),
            text(&action.target),
            findings.join("; "),
            text(&action.reason)
        );
    }
    out.push('\n');
}

fn approvals(out: &mut String, report: &ExerciseReport) {
    if report.approvals.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Approvals (two-person rule)\n");
    let _ = writeln!(
        out,
        "| Asked | By | Command | Why held | Outcome | Waited |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for wait in &report.approvals {
        let outcome = match &wait.decided_by {
            Some(by) => format!("{} by {}", wait.state.word(), text(by)),
            None => wait.state.word().to_string(),
        };
        let waited = wait
            .waited_s
            .map_or_else(|| "still waiting".to_string(), span_label);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {waited} |",
            clock_label(wait.requested_at_s),
            cell(&wait.requested_by),
            cell(&wait.command),
            cell(&wait.why_approval),
            cell(&outcome)
        );
    }
    out.push('\n');
}

fn budgets(out: &mut String, report: &ExerciseReport) {
    if report.budgets.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Error budget spent\n");
    let _ = writeln!(
        out,
        "Each service's error budget from the first sample to the last; the failed requests \
         also as seconds of a full outage, priced at the service's downtime cost.\n"
    );
    let _ = writeln!(
        out,
        "| Service | Criticality | SLO | Budget left | Spent | As full outage | Downtime cost | Peak burn 1 h |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|");
    let share = |value: Option<f64>| {
        value.map_or_else(|| "?".to_string(), |v| format!("{:.2}%", v * 100.0))
    };
    for budget in &report.budgets {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} → {} | {} | {} | {} | {} |",
            cell(&budget.service),
            budget.criticality.word(),
            slo_text(&budget.slo),
            share(budget.left_at_start),
            share(budget.left_at_end),
            share(budget.spent),
            budget
                .outage_equivalent_s
                .map_or_else(|| "?".to_string(), |s| format!("{s:.0} s")),
            money(budget.downtime_cost),
            burn(budget.peak_burn_rate_1h)
        );
    }
    out.push('\n');
}

fn spend(out: &mut String, report: &ExerciseReport) {
    let Some(cost) = &report.cost else {
        return;
    };
    let RunCost {
        start_per_hour,
        end_per_hour,
        peak_per_hour,
        total,
        above_start,
        ..
    } = *cost;
    let _ = writeln!(out, "## Cost of the actions taken\n");
    let _ = writeln!(
        out,
        "- Spend per hour: {} at the start, {} at the end, {} at its peak",
        money(Some(start_per_hour)),
        money(Some(end_per_hour)),
        money(Some(peak_per_hour))
    );
    let _ = writeln!(
        out,
        "- Spent over the drill: {}, {} against keeping the start's spend",
        money(Some(total)),
        signed(above_start)
    );
    if !cost.unpriced.is_empty() {
        let unpriced: Vec<String> = cost.unpriced.iter().map(|s| text(s)).collect();
        let _ = writeln!(
            out,
            "- Not priced (a price of theirs is unknown), left out of these figures: {}",
            unpriced.join(", ")
        );
    }
    out.push('\n');
    if cost.actions.is_empty() {
        let _ = writeln!(out, "No command changed the fleet.\n");
        return;
    }
    let _ = writeln!(
        out,
        "Each command's change is read from the samples after it, up to the next change to the \
         fleet (a command, an inject) or {} later. Replicas change by role exactly; model calls \
         follow the traffic, which moves by itself too.\n",
        span_label(ACTION_SETTLE_S)
    );
    let _ = writeln!(
        out,
        "| Time | Who | Command | Replicas $/h | Model calls $/h | Read at |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---|");
    for action in &cost.actions {
        let change = |part: fn(&SpendAt) -> f64| match (action.before, action.after) {
            (Some(before), Some(after)) => format!(
                "{} → {} ({})",
                money(Some(part(&before))),
                money(Some(part(&after))),
                money_delta(part(&after) - part(&before))
            ),
            _ => "?".to_string(),
        };
        let read_at = match (action.before, action.after) {
            (None, _) => "no sample before it".to_string(),
            (_, None) => "no sample after it".to_string(),
            (Some(_), Some(after)) => clock_label(after.at_s),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} {} | {} | {} | {read_at} |",
            clock_label(action.at_s),
            cell(&action.actor),
            cell(&action.action),
            cell(&action.target),
            change(|s| s.replicas_per_hour),
            change(|s| s.paths_per_hour),
        );
    }
    out.push('\n');
}

/// An amount with its sign: `+$12.40`, `-$3.00`.
fn signed(amount: f64) -> String {
    if amount >= 0.0 {
        format!("+{}", money(Some(amount)))
    } else {
        money(Some(amount))
    }
}

fn timeline(out: &mut String, timeline: &[TimelineEntry]) {
    if timeline.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Timeline\n");
    let _ = writeln!(out, "| Time | | Who | What | Why |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for entry in timeline {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            clock_label(entry.at_s),
            kind_word(entry.kind),
            cell(&entry.who),
            cell(&entry.what),
            cell(&entry.why)
        );
    }
    out.push('\n');
}

fn kind_word(kind: TimelineKind) -> &'static str {
    match kind {
        TimelineKind::Inject => "inject",
        TimelineKind::Action => "action",
        TimelineKind::RunbookStep => "runbook",
        TimelineKind::Escalation => "escalation",
        TimelineKind::Message => "message",
        TimelineKind::Note => "note",
        TimelineKind::Control => "drill",
        TimelineKind::Approval => "approval",
    }
}

fn charts(out: &mut String, series: &[RegionSeries]) {
    let series: Vec<&RegionSeries> = series.iter().filter(|s| !s.t_s.is_empty()).collect();
    if series.is_empty() {
        return;
    }
    let worst = series
        .iter()
        .flat_map(|s| s.error_rate.iter().copied())
        .fold(MIN_ERROR_SCALE, f64::max);
    let (from, to) = series.iter().fold((f64::MAX, f64::MIN), |(lo, hi), s| {
        (
            lo.min(s.t_s[0]),
            hi.max(s.t_s.last().copied().unwrap_or(0.0)),
        )
    });
    let width = series.iter().map(|s| s.region.len()).max().unwrap_or(0);
    let _ = writeln!(out, "## Traffic share and error rate\n");
    let _ = writeln!(
        out,
        "From {} to {}; share of the fleet's traffic on 0-100%, error rate on 0-{:.0}%.\n",
        clock_label(from),
        clock_label(to),
        worst * 100.0
    );
    let _ = writeln!(out, "```text");
    for s in &series {
        let _ = writeln!(
            out,
            "{:<width$}  share  {}  {:>3.0}% → {:>3.0}%",
            text(&s.region),
            sparkline(&s.share, 1.0),
            first(&s.share) * 100.0,
            last(&s.share) * 100.0
        );
        let peak = s.error_rate.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "{:<width$}  error  {}  peak {:.1}%",
            "",
            sparkline(&s.error_rate, worst),
            peak * 100.0
        );
    }
    let _ = writeln!(out, "```\n");
}

fn first(values: &[f64]) -> f64 {
    values.first().copied().unwrap_or(0.0)
}

fn last(values: &[f64]) -> f64 {
    values.last().copied().unwrap_or(0.0)
}

/// `values` (0..=`scale`) as at most 48 block characters; each character is
/// the worst value of its stretch of samples, so that a short spike still shows.
pub fn sparkline(values: &[f64], scale: f64) -> String {
    if values.is_empty() || scale <= 0.0 {
        return String::new();
    }
    let buckets = values.len().min(SPARK_WIDTH);
    (0..buckets)
        .map(|b| {
            let start = b * values.len() / buckets;
            let end = ((b + 1) * values.len() / buckets).max(start + 1);
            let worst = values[start..end].iter().copied().fold(0.0, f64::max);
            let level = (worst / scale * (SPARK_LEVELS.len() - 1) as f64).round();
            SPARK_LEVELS[(level.max(0.0) as usize).min(SPARK_LEVELS.len() - 1)]
        })
        .collect()
}

fn notes(out: &mut String, title: &str, notes: &[Annotation]) {
    let _ = writeln!(out, "## {title}\n");
    if notes.is_empty() {
        let _ = writeln!(out, "Nothing noted.\n");
        return;
    }
    for note in notes {
        let _ = writeln!(
            out,
            "- {} {}: {}",
            clock_label(note.at_s),
            text(&note.author),
            text(&note.text)
        );
    }
    out.push('\n');
}

/// Text from the run (players, the scenario, the audit log): one safe line.
fn text(value: &str) -> String {
    sanitize::clean(value)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text for a table cell: one safe line whose `|` does not end the cell.
fn cell(value: &str) -> String {
    text(value).replace('|', "\\|")
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
