//! `switchboard status`: one look at every source, a summary, the SLO burn rates the
//! Prometheus sources read, and an exit code for scripts (0 all healthy, 1 degraded, 2 down
//! or unreachable).

use std::io::Write;
use std::time::Instant;

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::status_slo::{SloLine, slo_lines, write_slo};
use crate::cli::clock::SourceClock;
use crate::cli::metrics::{read_metrics, unanswered};
use crate::cli::output::{process_exit_code, write_json};
use crate::cli::target::Target;
use crate::domain::fleet::{Connection, FleetSummary, SourceData, seen_health};
use crate::sources::prometheus::PrometheusSpec;
use crate::sources::{Client, ClientError, SourceSpec};
use protocol::sanitize::clean;
use protocol::{BreakerState, FleetSnapshot, Health};

#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
pub struct StatusArgs {
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

/// Fetches each source's snapshot and each Prometheus source's facts once, prints the
/// summary to `out` and returns the exit code.
pub async fn run_status(
    sources: Vec<SourceSpec>,
    metrics: &[PrometheusSpec],
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    if sources.is_empty() && metrics.is_empty() {
        bail!("no sources to check");
    }
    let now = Instant::now();
    let (mut data, measured) =
        tokio::join!(fetch_sources(&sources, now), read_metrics(metrics, now));
    data.extend(measured);
    let report = StatusReport::of(&data, now);
    if json {
        write_json(out, &report, "status")?;
    } else {
        report.write_human(out)?;
    }
    out.flush()?;
    Ok(report.exit_code)
}

/// [`run_status`] from the shell: every source of the target, printed to stdout.
pub async fn run_from_shell(args: StatusArgs, target: &Target) -> anyhow::Result<u8> {
    let mut stdout = std::io::stdout();
    let code = run_status(
        target.sources.clone(),
        &target.prometheus,
        args.json,
        &mut stdout,
    )
    .await?;
    Ok(process_exit_code(code))
}

/// Each source's snapshot, asked for at once, as [`SourceData`] read at `now` (a source that
/// did not answer is down with its error).
pub async fn fetch_sources(sources: &[SourceSpec], now: Instant) -> Vec<SourceData> {
    let answers = futures::future::join_all(sources.iter().map(fetch)).await;
    sources
        .iter()
        .zip(answers)
        .map(|(spec, answer)| source_data(spec, answer, now))
        .collect()
}

async fn fetch(spec: &SourceSpec) -> Result<FleetSnapshot, ClientError> {
    Client::new(&spec.url, spec.token.clone())?.fleet().await
}

fn source_data(
    spec: &SourceSpec,
    answer: Result<FleetSnapshot, ClientError>,
    now: Instant,
) -> SourceData {
    let mut data = SourceData::new(&spec.name, &spec.url);
    match answer {
        Ok(snapshot) => {
            data.apply_snapshot(snapshot, now);
            data.connection = Connection::Live;
        }
        Err(error) => data.connection = unanswered(error.down_kind(), &error, now),
    }
    data
}

/// What `status` prints; as JSON, its field names are a stable interface for scripts.
/// Every text from a server or the config is sanitized here, for terminals and JSON alike.
#[derive(Serialize, Debug)]
struct StatusReport {
    verdict: &'static str,
    exit_code: i32,
    summary: Counts,
    regions: Vec<RegionLine>,
    open_breakers: Vec<BreakerLine>,
    unreachable: Vec<UnreachableSource>,
    /// Each service's SLO burn rates, as the Prometheus sources read them.
    slo: Vec<SloLine>,
}

#[derive(Serialize, Debug)]
struct Counts {
    regions_ok: usize,
    regions_degraded: usize,
    regions_down: usize,
    regions_unknown: usize,
    open_breakers: usize,
    unreachable_sources: usize,
}

#[derive(Serialize, Debug)]
struct RegionLine {
    source: String,
    region: String,
    health: Health,
    p95_ms: f64,
    error_rate: f64,
    rate_limited_rate: f64,
    traffic_share: f64,
    headroom: f64,
    drained: bool,
}

#[derive(Serialize, Debug)]
struct BreakerLine {
    source: String,
    provider: String,
    state: BreakerState,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<DateTime<Utc>>,
    /// The clock `until` is on: `UTC`, or a lab's own (`lab ×10`).
    clock: String,
}

#[derive(Serialize, Debug)]
struct UnreachableSource {
    source: String,
    url: String,
    /// Why, in a word or two (`unreachable`, `login refused`, `malformed`, `error 503`).
    kind: String,
    /// What to read first: the kind of failure and what to do about it.
    #[serde(skip)]
    headline: String,
    error: String,
}

fn text(value: &str) -> String {
    clean(value).into_owned()
}

impl StatusReport {
    fn of(sources: &[SourceData], now: Instant) -> Self {
        let summary = FleetSummary::of(sources, now);
        let mut regions = Vec::new();
        let mut open_breakers = Vec::new();
        let mut unreachable = Vec::new();
        for source in sources {
            if let Connection::Down { error, kind, .. } = &source.connection {
                unreachable.push(UnreachableSource {
                    source: text(&source.name),
                    url: text(&source.url),
                    kind: kind.short(),
                    headline: kind.headline(),
                    error: text(error),
                });
            }
            let Some(snapshot) = &source.snapshot else {
                continue;
            };
            let freshness = source.freshness(now);
            let clock = SourceClock::of_snapshot(snapshot);
            regions.extend(snapshot.regions.iter().map(|region| RegionLine {
                source: text(&source.name),
                region: text(&region.id),
                health: seen_health(region.health, freshness),
                p95_ms: region.latency.p95_ms,
                error_rate: region.error_rate,
                rate_limited_rate: region.rate_limited_rate,
                traffic_share: region.traffic_share,
                headroom: region.headroom(),
                drained: region.drain.is_some(),
            }));
            let not_closed = snapshot
                .providers
                .iter()
                .filter(|p| p.breaker.state != BreakerState::Closed);
            open_breakers.extend(not_closed.map(|provider| BreakerLine {
                source: text(&source.name),
                provider: text(&provider.id),
                state: provider.breaker.state,
                reason: provider.breaker.reason.as_deref().map(text),
                until: provider.breaker.until,
                clock: clock.name().to_string(),
            }));
        }
        StatusReport {
            verdict: summary.verdict(),
            exit_code: summary.exit_code(),
            summary: Counts {
                regions_ok: summary.regions_ok,
                regions_degraded: summary.regions_degraded,
                regions_down: summary.regions_down,
                regions_unknown: summary.regions_unknown,
                open_breakers: summary.providers_open_breakers,
                unreachable_sources: summary.unreachable_sources.len(),
            },
            regions,
            open_breakers,
            unreachable,
            slo: slo_lines(sources),
        }
    }

    fn write_human(&self, out: &mut impl Write) -> std::io::Result<()> {
        let counts = &self.summary;
        writeln!(
            out,
            "fleet {}: regions {} ok, {} degraded, {} down, {} unknown; {} open {}; {} {} down",
            self.verdict,
            counts.regions_ok,
            counts.regions_degraded,
            counts.regions_down,
            counts.regions_unknown,
            counts.open_breakers,
            crate::format::plural(counts.open_breakers, "breaker", "breakers"),
            counts.unreachable_sources,
            crate::format::plural(counts.unreachable_sources, "source", "sources"),
        )?;
        let source_width = column_width(self.regions.iter().map(|r| r.source.as_str()));
        let region_width = column_width(self.regions.iter().map(|r| r.region.as_str()));
        for line in &self.regions {
            writeln!(
                out,
                "  {:<sw$}  {} {:<rw$}  {:<8}  p95 {:>6.0} ms  err {:>5.1}%  429 {:>5.1}%  \
                 share {:>3.0}%  headroom {:>4.0}%{}",
                line.source,
                line.health.symbol(),
                line.region,
                line.health.word(),
                line.p95_ms,
                line.error_rate * 100.0,
                line.rate_limited_rate * 100.0,
                line.traffic_share * 100.0,
                line.headroom * 100.0,
                if line.drained { "  drained" } else { "" },
                sw = source_width,
                rw = region_width,
            )?;
        }
        if !self.open_breakers.is_empty() {
            writeln!(out, "breakers not closed:")?;
        }
        for breaker in &self.open_breakers {
            write!(
                out,
                "  {}  {}  {}",
                breaker.source,
                breaker.provider,
                breaker.state.word()
            )?;
            if let Some(until) = breaker.until {
                write!(out, " until {} {}", until.format("%H:%M:%S"), breaker.clock)?;
            }
            if let Some(reason) = &breaker.reason {
                write!(out, " — {reason}")?;
            }
            writeln!(out)?;
        }
        write_slo(out, &self.slo)?;
        if !self.unreachable.is_empty() {
            writeln!(out, "sources down:")?;
        }
        for source in &self.unreachable {
            writeln!(
                out,
                "  {} ({}): {}: {}",
                source.source, source.url, source.headline, source.error
            )?;
        }
        Ok(())
    }
}

fn column_width<'a>(values: impl Iterator<Item = &'a str>) -> usize {
    values.map(|v| v.chars().count()).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Breaker, Latency, Provider, Region};

    fn region(id: &str, health: Health) -> Region {
        Region {
            id: id.to_string(),
            health,
            latency: Latency {
                p50_ms: 80.0,
                p95_ms: 180.0,
                p99_ms: 400.0,
            },
            error_rate: 0.004,
            rate_limited_rate: 0.12,
            capacity_rps: 100.0,
            load_rps: 68.0,
            traffic_share: 0.45,
            drain: None,
            control_revision: 0,
        }
    }

    fn provider(id: &str, state: BreakerState, reason: Option<&str>) -> Provider {
        Provider {
            price_per_1k_tokens: None,
            id: id.to_string(),
            vendor: "openai".into(),
            model: "gpt-4o".into(),
            region: "eu-west".into(),
            health: Health::Degraded,
            latency: Latency::default(),
            error_rate: 0.3,
            rate_limited_rate: 0.0,
            breaker: Breaker {
                state,
                reason: reason.map(String::from),
                until: None,
            },
            rate_limit_headroom: 0.5,
            rate_limit_rps: None,
            cost_tier: "standard".into(),
            load_rps: 10.0,
            traffic_share: 0.5,
            quarantine: None,
            pinned: None,
            control_revision: 0,
        }
    }

    fn snapshot(regions: Vec<Region>, providers: Vec<Provider>) -> FleetSnapshot {
        FleetSnapshot {
            standby_shares: Default::default(),
            revision: 1,
            generated_at: Utc::now(),
            regions,
            providers,
            gateways: vec![],
            services: vec![],
            notices: vec![],
            operations: vec![],
            lab: None,
            pools: vec![],
            readiness: None,
        }
    }

    fn spec(name: &str) -> SourceSpec {
        SourceSpec {
            name: name.into(),
            url: format!("http://{name}.test"),
            token: None,
        }
    }

    fn render(report: &StatusReport) -> String {
        let mut out = Vec::new();
        report.write_human(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn degraded_region_and_open_breaker_give_exit_one_and_name_them() {
        let now = Instant::now();
        let fleet = snapshot(
            vec![
                region("us-east", Health::Ok),
                region("eu-west", Health::Degraded),
            ],
            vec![
                provider("openai@eu-west", BreakerState::Open, Some("5xx storm")),
                provider("anthropic@eu-west", BreakerState::Closed, None),
            ],
        );
        let data = vec![source_data(&spec("lab"), Ok(fleet), now)];
        let report = StatusReport::of(&data, now);
        assert_eq!(report.exit_code, 1);
        let human = render(&report);
        assert!(human.starts_with("fleet degraded: regions 1 ok, 1 degraded, 0 down, 0 unknown; 1 open breaker; 0 sources down\n"), "{human}");
        assert!(human.contains("  lab  ▲ eu-west  degraded  p95    180 ms  err   0.4%  429  12.0%  share  45%  headroom   32%\n"), "{human}");
        assert!(
            human.contains("  lab  openai@eu-west  open — 5xx storm\n"),
            "{human}"
        );
        assert!(!human.contains("anthropic"), "{human}");
    }

    #[test]
    fn an_unreachable_source_gives_exit_two_with_its_error() {
        let now = Instant::now();
        let refused = ClientError::Unreachable {
            url: "http://prod.test/".into(),
            reason: "connection refused".into(),
        };
        let data = vec![
            source_data(
                &spec("lab"),
                Ok(snapshot(vec![region("us-east", Health::Ok)], vec![])),
                now,
            ),
            source_data(&spec("prod"), Err(refused), now),
        ];
        let report = StatusReport::of(&data, now);
        assert_eq!(report.exit_code, 2);
        assert_eq!(report.verdict, "down or unreachable");
        let human = render(&report);
        assert!(human.contains("sources down:\n  prod (http://prod.test): unreachable: cannot reach http://prod.test/: connection refused\n"), "{human}");
    }

    /// Issue 8 item 19: a source that refuses the login is down, not unreachable.
    #[test]
    fn a_source_that_refuses_the_login_says_so_not_unreachable() {
        let now = Instant::now();
        let refused = ClientError::from_status(401, None);
        let data = vec![source_data(&spec("prod"), Err(refused), now)];
        let report = StatusReport::of(&data, now);
        let human = render(&report);
        assert!(
            human.contains("  prod (http://prod.test): login refused (401) — run `switchboard login`: 401: token rejected"),
            "{human}"
        );
        assert!(!human.contains("\nunreachable:"), "{human}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["unreachable"][0]["kind"], "login refused");
    }

    #[test]
    fn server_text_cannot_drive_the_terminal() {
        let now = Instant::now();
        let fleet = snapshot(
            vec![region("us-\u{1b}]0;pwned\u{7}east", Health::Ok)],
            vec![provider(
                "x@\u{9b}31my",
                BreakerState::HalfOpen,
                Some("a\nb\u{202e}c"),
            )],
        );
        let data = vec![source_data(&spec("lab"), Ok(fleet), now)];
        let report = StatusReport::of(&data, now);
        let human = render(&report);
        let json = serde_json::to_string(&report).unwrap();
        for output in [&human, &json] {
            assert!(
                !output.contains('\u{1b}') && !output.contains('\u{9b}'),
                "{output}"
            );
            assert!(!output.contains('\u{202e}'), "{output}");
        }
        assert!(human.contains("us-east"), "{human}");
        assert!(human.contains("half-open — a bc"), "{human}");
    }

    #[test]
    fn json_report_has_stable_fields() {
        let now = Instant::now();
        let data = vec![source_data(
            &spec("lab"),
            Ok(snapshot(vec![region("us-east", Health::Ok)], vec![])),
            now,
        )];
        let value = serde_json::to_value(StatusReport::of(&data, now)).unwrap();
        assert_eq!(value["verdict"], "healthy");
        assert_eq!(value["exit_code"], 0);
        assert_eq!(value["summary"]["regions_ok"], 1);
        assert_eq!(value["summary"]["unreachable_sources"], 0);
        assert_eq!(value["regions"][0]["region"], "us-east");
        assert_eq!(value["regions"][0]["health"], "ok");
        assert_eq!(value["open_breakers"], serde_json::json!([]));
        assert_eq!(value["unreachable"], serde_json::json!([]));
    }
}
