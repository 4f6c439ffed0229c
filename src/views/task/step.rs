//! The posture of the workflow step the task stopped at: the service that runs it, looked up
//! by the task's `service` across the context's sources (its own source's audit first, then
//! any fleet or metrics source's, then the context's `[cost]`), with where the figures come
//! from and whether that source is stale. Unknown figures say unknown.

use protocol::escalations::EscalationSummary;
use protocol::sanitize::clean;

use super::{Row, Tone, seg, wrapped};
use crate::app::App;
use crate::domain::cost::context_audit;
use crate::domain::fleet::Freshness;
use crate::domain::steps::find_service;
use crate::format::{PostureText, age, money, posture_texts, tier_word};

pub(super) fn step_posture(
    app: &App,
    source: usize,
    summary: &EscalationSummary,
    width: usize,
) -> Vec<Row> {
    let service = clean(&summary.service);
    let mut rows = vec![
        Vec::new(),
        vec![seg(
            Tone::Title,
            format!(
                "Step {} of {} · runs on {service}",
                clean(&summary.step),
                clean(&summary.workflow_type)
            ),
        )],
    ];
    let audits = context_audit(&app.sources, app.now, &app.cost);
    let Some(found) = find_service(&audits, &app.cost, &summary.service, Some(source)) else {
        let text = format!(
            "posture unknown: no source reports or measures {service} and the context's [cost] \
             does not name it"
        );
        wrapped(&mut rows, "", Tone::Dim, &text, width);
        return rows;
    };
    let (from, tone) = match found.source.map(|index| &app.sources[index]) {
        None => ("from the context's [cost]".to_string(), Tone::Dim),
        Some(data) => match (data.freshness(app.now), data.age(app.now)) {
            (Freshness::Fresh, _) => (format!("from {}, live", clean(&data.name)), Tone::Dim),
            (_, known) => (
                format!(
                    "from {} · STALE: last known {} ago, may have changed",
                    clean(&data.name),
                    known.map_or("?".to_string(), age)
                ),
                Tone::Warn,
            ),
        },
    };
    let cost = &found.cost;
    let tier = format!(
        "tier     {} · spend {}/h · {from}",
        tier_word(cost.tier),
        money(cost.spend.total_per_hour())
    );
    wrapped(&mut rows, "", tone, &tier, width);
    let texts = posture_texts(cost, app.wall);
    if texts.is_empty() {
        wrapped(
            &mut rows,
            "",
            Tone::Dim,
            "posture  criticality and SLO unknown",
            width,
        );
    }
    for (kind, text) in texts {
        let tone = match kind {
            PostureText::Figures => Tone::Text,
            PostureText::Source => Tone::Dim,
            PostureText::Stale | PostureText::Finding => Tone::Warn,
        };
        wrapped(&mut rows, "", tone, &text, width);
    }
    rows
}
