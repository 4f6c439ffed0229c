//! The SLO part of `switchboard status`: per service a Prometheus source reads, its target
//! and window, each alert window's burn rate, the level they reach, the budget left and when
//! the 1 h burn spends it. A window not read is `null` in JSON and `?` in text.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::fleet::SourceData;
use crate::domain::measured::BurnWindow;
use protocol::sanitize::clean;

#[derive(Serialize, Debug, PartialEq)]
pub(super) struct SloLine {
    source: String,
    service: String,
    target: f64,
    /// As the config writes it (`30d`), and in seconds.
    window: String,
    window_s: f64,
    /// `5m`, `30m`, `1h`, `6h` -> the burn rate, `null` when not read.
    burn_rates: BTreeMap<&'static str, Option<f64>>,
    /// `page`, `ticket`, `none` or `unknown`.
    level: &'static str,
    /// Share of the window's budget left (1 untouched, below 0 overspent).
    budget_left: Option<f64>,
    /// Seconds until the 1 h burn rate spends the budget left.
    exhausted_in_s: Option<f64>,
    read_at: Option<DateTime<Utc>>,
}

/// Every service of every metrics source among `sources`.
pub(super) fn slo_lines(sources: &[SourceData]) -> Vec<SloLine> {
    let read = sources
        .iter()
        .filter_map(|s| Some((s, s.measured.as_ref()?)));
    read.flat_map(|(source, measured)| {
        measured.services.iter().map(|facts| SloLine {
            source: clean(&source.name).into_owned(),
            service: clean(&facts.service).into_owned(),
            target: facts.slo.target,
            window: clean(&facts.window).into_owned(),
            window_s: facts.slo.window_s,
            burn_rates: (BurnWindow::ALL.into_iter())
                .map(|w| (w.name(), facts.burn_rate(w)))
                .collect(),
            level: facts.level().word(),
            budget_left: facts.budget_left.map(|f| f.value),
            exhausted_in_s: facts.exhausted_in_s(),
            read_at: facts.read_at(),
        })
    })
    .collect()
}

/// `  metrics  checkout  99.9%/30d  burn 5m 20x  30m 20x  1h 20x  6h 20x  page
/// budget 40% left, spent in 13h00m`
pub(super) fn write_slo(out: &mut impl Write, lines: &[SloLine]) -> std::io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out, "SLO burn rates:")?;
    for line in lines {
        let burns: Vec<String> = (BurnWindow::ALL.into_iter())
            .map(|w| {
                let rate = line.burn_rates.get(w.name()).copied().flatten();
                format!("{} {}", w.name(), crate::format::burn(rate))
            })
            .collect();
        let mut budget = match line.budget_left {
            Some(left) => format!("budget {:.0}% left", left.max(0.0) * 100.0),
            None => "budget left —".to_string(),
        };
        match line.exhausted_in_s {
            Some(seconds) if seconds <= 0.0 => budget.push_str(", spent"),
            Some(seconds) => {
                let spent = std::time::Duration::from_secs_f64(seconds.min(1e9));
                budget.push_str(&format!(", spent in {}", crate::format::age(spent)));
            }
            None => {}
        }
        writeln!(
            out,
            "  {}  {}  {}/{}  burn {}  {}  {budget}",
            line.source,
            line.service,
            crate::format::target(line.target),
            line.window,
            burns.join("  "),
            line.level,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;
    use crate::domain::measured::{BurnThresholds, Fact, Measured, ServiceFacts};
    use protocol::posture::Slo;

    #[test]
    fn each_service_says_its_burn_rates_level_and_budget() {
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap();
        let slo = Slo {
            target: 0.999,
            window_s: 30.0 * 86_400.0,
        };
        let fact = |value| Fact { value, at };
        let mut source = SourceData::metrics("metrics", "http://prom", Duration::from_secs(15));
        source.measured = Some(Measured {
            services: vec![ServiceFacts {
                service: "check\u{1b}[2Jout".into(),
                slo,
                window: "30d".into(),
                burn: [
                    (BurnWindow::FiveMinutes, fact(20.0)),
                    (BurnWindow::OneHour, fact(15.0)),
                    (BurnWindow::SixHours, fact(2.0)),
                ]
                .into(),
                budget_left: Some(fact(0.5)),
                thresholds: BurnThresholds::default(),
            }],
            ..Measured::default()
        });
        let lines = slo_lines(&[source]);
        let mut out = Vec::new();
        write_slo(&mut out, &lines).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Half a 30-day budget at 15 times the allowed rate: 15 days / 15 = 1 day.
        assert_eq!(
            text,
            "SLO burn rates:\n  metrics  checkout  99.9%/30d  burn 5m 20x  30m ?  1h 15x  \
             6h 2.00x  page  budget 50% left, spent in 24h00m\n"
        );
        let json = serde_json::to_value(&lines).unwrap();
        assert_eq!(json[0]["level"], "page");
        assert_eq!(json[0]["burn_rates"]["30m"], serde_json::Value::Null);
        assert_eq!(json[0]["burn_rates"]["1h"], 15.0);
        assert_eq!(json[0]["exhausted_in_s"], 86_400.0);
        assert_eq!(json[0]["window_s"], 2_592_000.0);
    }
}
