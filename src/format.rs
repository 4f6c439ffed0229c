//! Number and time formats shared by the views and the CLIs.

use chrono::{DateTime, Utc};

pub use protocol::duration::age;
pub use protocol::posture::labels::{burn, money, money_delta, slo_text, target, thousands};

/// A rate (0..1) as a percentage: one decimal below 10 %, none above.
pub fn pct(rate: f64) -> String {
    if !rate.is_finite() {
        return "?".to_string();
    }
    let p = rate * 100.0;
    if p.abs() < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

pub fn ms(value: f64) -> String {
    if !value.is_finite() {
        "?".to_string()
    } else if value >= 10_000.0 {
        format!("{:.0}s", value / 1000.0)
    } else if value >= 1000.0 {
        format!("{:.1}s", value / 1000.0)
    } else {
        format!("{value:.0}ms")
    }
}

pub fn rps(value: f64) -> String {
    if !value.is_finite() {
        "?".to_string()
    } else if value >= 10_000.0 {
        format!("{:.0}k", value / 1000.0)
    } else {
        format!("{value:.0}")
    }
}

/// A manual control in words: `by bob: drill (reverts in 12m04s)`. `now` is the clock of the
/// data (the snapshot's `generated_at`), so a lab running faster than real time counts right.
pub fn control(
    set_by: &str,
    reason: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let (by, reason) = (
        protocol::sanitize::clean(set_by),
        protocol::sanitize::clean(reason),
    );
    match expires_at {
        Some(at) => format!(
            "by {by}: {reason} (reverts in {})",
            age((at - now).to_std().unwrap_or_default())
        ),
        None => format!("by {by}: {reason} (until undone)"),
    }
}

/// The word for `count` things: `one` for exactly one, else `many`.
pub fn plural(count: usize, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 { one } else { many }
}

/// The cost audit's columns and one service's cells in them (`?` for what nothing knows), for
/// the Cost view and `switchboard cost report`.
pub const COST_COLUMNS: [(&str, usize); 11] = [
    ("SERVICE", 16),
    ("CRITICALITY", 12),
    ("TIER", 14),
    ("SLO", 9),
    ("BUDGET", 6),
    ("BURN 1h/6h", 10),
    ("REPL $/h", 9),
    ("STBY $/h", 9),
    ("PATH $/h", 9),
    ("BLAST $/m", 9),
    ("ROI", 5),
];

pub fn cost_cells(service: &crate::domain::cost::ServiceCost) -> [String; 11] {
    [
        protocol::sanitize::clean(&service.service).into_owned(),
        service.criticality.map_or("?", |c| c.word()).to_string(),
        tier_word(service.tier).to_string(),
        service.slo.map_or("?".to_string(), |slo| slo_text(&slo)),
        service.budget_left.map_or("?".to_string(), pct),
        format!(
            "{}/{}",
            burn(service.burn_rate_1h),
            burn(service.burn_rate_6h)
        ),
        money(service.spend.replicas_per_hour),
        money(service.spend.standbys_per_hour),
        money(service.spend.paths_per_hour),
        match blast_known(service) {
            true => money(Some(service.blast_cost_per_min)),
            false => "?".to_string(),
        },
        service
            .roi
            .map_or("?".to_string(), |roi| format!("{roi:.1}")),
    ]
}

/// Whether a row's blast radius is known: what depends on a service comes with the posture
/// a fleet source reports (or the config gives it); without either it is unknown.
fn blast_known(cost: &crate::domain::cost::ServiceCost) -> bool {
    cost.tier.is_some() && cost.criticality.is_some()
}

/// The workflow steps' columns (after the cost audit's) and one step's cells in them.
pub const STEP_COLUMNS: [(&str, usize); 8] = [
    ("WORKFLOW / STEP", 38),
    ("SERVICE", 16),
    ("CRITICALITY", 12),
    ("SLO", 9),
    ("BUDGET", 6),
    ("BURN 1h/6h", 10),
    ("OPEN", 6),
    ("PAST SLA", 8),
];

pub fn step_cells(step: &crate::domain::steps::StepCost) -> [String; 8] {
    use protocol::sanitize::clean;
    let mut service = clean(&step.service).into_owned();
    if !step.findings.is_empty() {
        service.push_str(" ⚠");
    }
    [
        format!("{} / {}", clean(&step.workflow_type), clean(&step.step)),
        service,
        step.criticality.map_or("?", |c| c.word()).to_string(),
        step.slo.map_or("?".to_string(), |slo| slo_text(&slo)),
        step.budget_left.map_or("?".to_string(), pct),
        format!("{}/{}", burn(step.burn_rate_1h), burn(step.burn_rate_6h)),
        thousands(step.open as u64),
        thousands(step.past_sla as u64),
    ]
}

/// `workflow steps · 14 open escalations, 3 past their SLA`: the head of the steps' table.
pub fn steps_title(steps: &[crate::domain::steps::StepCost]) -> String {
    let open: usize = steps.iter().map(|s| s.open).sum();
    let past: usize = steps.iter().map(|s| s.past_sla).sum();
    format!(
        "workflow steps · {} open {}, {} past their SLA",
        thousands(open as u64),
        plural(open, "escalation", "escalations"),
        thousands(past as u64)
    )
}

/// One row of the cost audit, each cell padded to its width: names left, figures right.
pub fn cost_row(cells: &[String], widths: impl IntoIterator<Item = usize>) -> String {
    let padded: Vec<String> = (cells.iter().zip(widths).enumerate())
        .map(|(column, (cell, width))| match column {
            0..=2 => format!("{cell:<width$}"),
            _ => format!("{cell:>width$}"),
        })
        .collect();
    padded.join(" ").trim_end().to_string()
}

/// A redundancy tier in words; `tier unknown` when no fleet source reports the service.
pub fn tier_word(tier: Option<protocol::RedundancyTier>) -> &'static str {
    tier.map_or("tier unknown", |t| t.word())
}

/// `budget, burn 1h from metrics, read 12s ago`: which figures a metrics source measured,
/// and their age at `now`; `STALE` when the source is late or down; the SLO it measured
/// against when the figures were restated against another.
pub fn measured_note(by: &crate::domain::cost::MeasuredBy, now: DateTime<Utc>) -> String {
    let read = by.read_at.map_or("no time".to_string(), |at| {
        format!("{} ago", age((now - at).to_std().unwrap_or_default()))
    });
    let freshness = if by.stale { "STALE: read" } else { "read" };
    let restated = by.converted_from.map_or(String::new(), |slo| {
        format!(" (restated from its SLO {})", slo_text(&slo))
    });
    format!(
        "{} from {}{restated}, {freshness} {read}",
        by.figures.join(", "),
        protocol::sanitize::clean(&by.source)
    )
}

/// What the cost audit says under its table: spend by tier, total and idle standbys, the
/// findings (`none` when there are none), which figures the config gave and which a metrics
/// source measured (aged at `now`).
pub fn summary_lines(report: &crate::domain::cost::CostReport, now: DateTime<Utc>) -> Vec<String> {
    let tiers: Vec<String> = (report.by_tier.iter())
        .map(|t| format!("{} {}/h", tier_word(t.tier), money(t.per_hour)))
        .collect();
    let mut lines = vec![
        format!("spend by tier: {}", tiers.join(" · ")),
        format!(
            "total {}/h · idle standbys {}/h",
            money(report.total_per_hour),
            money(report.idle_standby_per_hour)
        ),
        "findings:".to_string(),
    ];
    if report.findings.is_empty() {
        lines.push("  none".to_string());
    }
    lines.extend(
        report
            .findings
            .iter()
            .map(|f| format!("  ⚠ {}", finding(f))),
    );
    let configured: Vec<String> = (report.services.iter())
        .filter(|s| !s.from_config.is_empty())
        .map(|s| {
            format!(
                "{} ({})",
                protocol::sanitize::clean(&s.service),
                s.from_config.join(", ")
            )
        })
        .collect();
    if !configured.is_empty() {
        lines.push(format!("from the config: {}", configured.join("; ")));
    }
    let measured: Vec<String> = (report.services.iter())
        .filter_map(|s| {
            let by = s.measured.as_ref()?;
            Some(format!(
                "{} ({})",
                protocol::sanitize::clean(&s.service),
                measured_note(by, now)
            ))
        })
        .collect();
    if !measured.is_empty() {
        lines.push(format!("measured: {}", measured.join("; ")));
    }
    lines
}

/// What a line of a service's posture says, for its style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostureText {
    Figures,
    /// Where figures came from (the config, a metrics source).
    Source,
    /// A metrics source's figures as last read, the source late or down.
    Stale,
    Finding,
}

/// A service's posture in three lines and its findings: what its outage costs and whom it
/// hits, how its error budget burns, what its redundancy costs and buys; which figures the
/// config gave and which a metrics source measured (aged at `now`). Nothing when neither its
/// criticality nor its SLO is known. Names cleaned.
pub fn posture_texts(
    cost: &crate::domain::cost::ServiceCost,
    now: DateTime<Utc>,
) -> Vec<(PostureText, String)> {
    use protocol::sanitize::clean;
    let mut lines = Vec::new();
    if cost.criticality.is_none() && cost.slo.is_none() {
        return lines;
    }
    let criticality = cost.criticality.map_or("criticality unknown", |c| c.word());
    let mut budget = format!("posture  {criticality}");
    match cost.slo {
        Some(slo) => budget.push_str(&format!(
            " · SLO {} · budget {} left · burn 1h {} 6h {}",
            slo_text(&slo),
            cost.budget_left.map_or("?".to_string(), pct),
            burn(cost.burn_rate_1h),
            burn(cost.burn_rate_6h)
        )),
        None => budget.push_str(" · SLO unknown"),
    }
    if let Some(in_s) = cost.exhausted_in_s {
        budget.push_str(&format!(
            " · spent in {}",
            age(std::time::Duration::from_secs_f64(in_s.max(0.0)))
        ));
    }
    lines.push((PostureText::Figures, budget));
    let (dependents, downtime) = match cost.tier {
        _ if !blast_known(cost) => (
            "dependents unknown: no source reports its posture".to_string(),
            cost.downtime_cost_per_min,
        ),
        Some(_) if cost.dependents.is_empty() => (
            "nothing depends on it".to_string(),
            Some(cost.blast_cost_per_min),
        ),
        _ => {
            let names: Vec<String> = (cost.dependents.iter())
                .map(|d| clean(d).into_owned())
                .collect();
            let verb = plural(names.len(), "depends", "depend");
            (
                format!("{} {verb} on it", names.join(", ")),
                Some(cost.blast_cost_per_min),
            )
        }
    };
    lines.push((
        PostureText::Figures,
        format!("blast    {dependents} · downtime {}/min", money(downtime)),
    ));
    lines.push((
        PostureText::Figures,
        format!(
            "spend    replicas {}/h (standbys {}/h) · paths {}/h · total {}/h · ROI {}",
            money(cost.spend.replicas_per_hour),
            money(cost.spend.standbys_per_hour),
            money(cost.spend.paths_per_hour),
            money(cost.spend.total_per_hour()),
            cost.roi.map_or("?".to_string(), |roi| format!("{roi:.1}")),
        ),
    ));
    if !cost.from_config.is_empty() {
        lines.push((
            PostureText::Source,
            format!("         from the config: {}", cost.from_config.join(", ")),
        ));
    }
    if let Some(by) = &cost.measured {
        let kind = if by.stale {
            PostureText::Stale
        } else {
            PostureText::Source
        };
        lines.push((
            kind,
            format!("         measured: {}", measured_note(by, now)),
        ));
    }
    for found in &cost.findings {
        lines.push((PostureText::Finding, format!("⚠ {}", finding(found))));
    }
    lines
}

/// A preflight's cost and budget effect in lines (names cleaned): the total per hour, each
/// change with its note, each service whose budget it would burn. Empty when it has none.
pub fn cost_effect_lines(preflight: &crate::domain::preflight::Preflight) -> Vec<String> {
    use protocol::sanitize::clean;
    let mut lines = Vec::new();
    if !preflight.cost_changes.is_empty() {
        let total = preflight
            .cost_per_hour
            .map_or("? (a price is unknown)".to_string(), money_delta);
        lines.push(format!("cost {total}"));
    }
    for change in &preflight.cost_changes {
        let per_hour = change.per_hour.map_or("?".to_string(), money_delta);
        let mut line = format!("  {}: {per_hour}", clean(&change.what));
        if let Some(note) = &change.note {
            line.push_str(&format!("; {}", clean(note)));
        }
        lines.push(line);
    }
    for risk in &preflight.budget_risks {
        let spent = match (risk.burn_rate, risk.exhausted_in_s) {
            (Some(burn), Some(in_s)) => format!(
                "burn {burn:.0}x: its budget ({} left) is spent in {}",
                risk.budget_left.map_or("?".to_string(), pct),
                age(std::time::Duration::from_secs_f64(in_s.max(0.0)))
            ),
            (Some(burn), None) => format!("burn {burn:.0}x"),
            _ => "its SLO is unknown".to_string(),
        };
        lines.push(format!(
            "budget {}: {} of requests would fail, {spent}; downtime {}/min",
            clean(&risk.service),
            pct(risk.failing),
            money(Some(risk.blast_cost_per_min))
        ));
    }
    lines
}

/// A posture finding in one line, for the views and the cost report (names cleaned).
pub fn finding(finding: &protocol::posture::Finding) -> String {
    use protocol::posture::Finding;
    let service = protocol::sanitize::clean(finding.service());
    match finding {
        Finding::HiddenSpof { why, .. } => format!(
            "hidden SPOF: {service} (critical): {}",
            protocol::sanitize::clean(why)
        ),
        Finding::GhostSpend { per_hour, .. } => format!(
            "ghost spend: {service} (nice-to-have) pays {}/h for hot standbys",
            money(Some(*per_hour))
        ),
        Finding::BudgetExhaustion { in_s, .. } => format!(
            "budget at risk: {service} spends its error budget in {} at this burn rate",
            age(std::time::Duration::from_secs_f64(in_s.max(0.0)))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_shows_cents_only_where_they_matter_and_says_unknown() {
        let cases = [
            (Some(4.7251), "$4.73"),
            (Some(4_860.0), "$4,860"),
            (Some(-12.5), "-$12.50"),
            (None, "?"),
            (Some(f64::NAN), "?"),
        ];
        for (amount, text) in cases {
            assert_eq!(money(amount), text);
        }
        assert_eq!(money_delta(1_080.0), "+$1,080/h");
        assert_eq!(money_delta(-4.5), "-$4.50/h");
        assert_eq!(money_delta(0.001), "±$0/h");
        assert_eq!(burn(Some(14.4)), "14x");
        assert_eq!(burn(Some(0.4512)), "0.45x");
    }

    #[test]
    fn targets_read_as_people_write_them() {
        assert_eq!(target(0.999), "99.9%");
        assert_eq!(target(0.99), "99%");
        assert_eq!(target(0.9995), "99.95%");
    }

    #[test]
    fn counts_have_their_thousands_separated() {
        let cases = [(0, "0"), (999, "999"), (1000, "1,000"), (34_000, "34,000")];
        for (count, text) in cases {
            assert_eq!(thousands(count), text);
        }
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn formats_read_naturally() {
        assert_eq!(pct(0.0321), "3.2%");
        assert_eq!(pct(0.62), "62%");
        assert_eq!(pct(-0.15), "-15%");
        assert_eq!(pct(f64::NAN), "?");
        assert_eq!(ms(412.4), "412ms");
        assert_eq!(ms(1530.0), "1.5s");
        assert_eq!(ms(45_000.0), "45s");
        assert_eq!(rps(820.2), "820");
    }
}
