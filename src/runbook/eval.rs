//! Conditions evaluated against the fleet as the console knows it: true, false, or unknown
//! when a fact nobody reported (or only a stale source did) decides it; never false for
//! want of data.

use std::ops::Deref;
use std::time::Instant;

use protocol::escalations::Priority;
use protocol::{FleetSnapshot, Health};

use super::expr::{Comparison, Expr, Fact, Op, Value, ValueKind};
use crate::domain::fleet::{Freshness, SourceData};
use crate::domain::measured::{FactKind, Measured};

/// Three-valued truth (Kleene): `unknown and false` is false, `unknown or true` is true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    fn of(value: bool) -> Truth {
        if value { Truth::True } else { Truth::False }
    }

    fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::True, Truth::True) => Truth::True,
            _ => Truth::Unknown,
        }
    }

    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }

    fn or(self, other: Truth) -> Truth {
        self.not().and(other.not()).not()
    }

    /// The mark a check shows.
    pub fn mark(self) -> &'static str {
        match self {
            Truth::True => "✓",
            Truth::False => "✗",
            Truth::Unknown => "?",
        }
    }
}

/// One comparison as read: its truth and the line a check shows, e.g.
/// `share(us-east) = 3.2% < 5%`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub truth: Truth,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub truth: Truth,
    /// Every comparison in the condition, in the order written.
    pub readings: Vec<Reading>,
}

/// A source's data with the source's name, which a reading shows beside each value.
#[derive(Clone, Copy, Debug)]
pub struct Sourced<'a, T> {
    pub source: &'a str,
    pub data: &'a T,
}

impl<'a, T> Sourced<'a, T> {
    fn of(source: &'a SourceData, data: &'a T) -> Self {
        Sourced {
            source: &source.name,
            data,
        }
    }
}

/// A source's data reads as the data itself; the name is there for the readings.
impl<T> Deref for Sourced<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
    }
}

/// Open escalations by priority, P1 first (see [`Priority::ALL`]).
pub type OpenEscalations = [u64; 4];

/// What the console knows: the snapshots of its fresh protocol v1 sources, the facts of its
/// fresh metrics sources (Prometheus, a gateway), each with its source's name, and, when an
/// escalation source answered, the count of open escalations by priority.
#[derive(Clone, Debug, Default)]
pub struct FleetView<'a> {
    pub snapshots: Vec<Sourced<'a, FleetSnapshot>>,
    pub measured: Vec<Sourced<'a, Measured>>,
    pub open_escalations: Option<OpenEscalations>,
}

impl<'a> FleetView<'a> {
    /// The data of the sources whose data is current; a stale source's facts are unknown.
    /// Open escalations are unknown: the caller adds them ([`FleetView::with_open_escalations`]).
    pub fn of_sources(sources: &'a [SourceData], now: Instant) -> Self {
        let fresh = || {
            sources
                .iter()
                .filter(move |s| s.freshness(now) == Freshness::Fresh)
        };
        FleetView {
            snapshots: fresh()
                .filter_map(|s| Some(Sourced::of(s, s.snapshot.as_ref()?)))
                .collect(),
            measured: fresh()
                .filter_map(|s| Some(Sourced::of(s, s.measured.as_ref()?)))
                .collect(),
            open_escalations: None,
        }
    }

    pub fn with_open_escalations(self, counts: Option<OpenEscalations>) -> Self {
        FleetView {
            open_escalations: counts,
            ..self
        }
    }

    /// How many sources the view reads: with more than one, each value names its source.
    fn source_count(&self) -> usize {
        self.snapshots.len() + self.measured.len()
    }
}

/// What one comparison read from the fleet.
#[derive(Clone, Debug)]
enum Observed {
    Number(f64),
    Word(&'static str),
    Words(Vec<&'static str>),
}

/// What one source reported; `source` is `None` for the open escalations, which the
/// console counts over every source that answered.
struct Report<'a> {
    source: Option<&'a str>,
    observed: Observed,
}

pub fn evaluate(expr: &Expr, fleet: &FleetView) -> Evaluation {
    let mut readings = Vec::new();
    let truth = walk(expr, fleet, &mut readings);
    Evaluation { truth, readings }
}

fn walk(expr: &Expr, fleet: &FleetView, readings: &mut Vec<Reading>) -> Truth {
    // Both sides are always read: a check shows every value, not only the deciding one.
    match expr {
        Expr::And(a, b) => walk(a, fleet, readings).and(walk(b, fleet, readings)),
        Expr::Or(a, b) => walk(a, fleet, readings).or(walk(b, fleet, readings)),
        Expr::Not(inner) => walk(inner, fleet, readings).not(),
        Expr::Compare(comparison) => {
            let reading = compare(comparison, fleet);
            let truth = reading.truth;
            readings.push(reading);
            truth
        }
    }
}

/// Every source's report of the fact, each compared: true or false when all reports say so,
/// unknown when none reported it or when they lead to different answers. Sources that
/// report different values are all shown, as a disagreement: none is picked.
fn compare(c: &Comparison, fleet: &FleetView) -> Reading {
    let reports = observe(c.fact, &c.target, fleet);
    let truths: Vec<Truth> = reports
        .iter()
        .map(|r| truth_of(&r.observed, c.op, &c.value))
        .collect();
    let truth = match truths.split_first() {
        Some((first, others)) if others.iter().all(|t| t == first) => *first,
        _ => Truth::Unknown,
    };
    let said = |r: &Report| shown(c.fact.value_kind(), &r.observed);
    let name = format!("{}({})", c.fact.name(), c.target);
    let condition = format!("{} {}", c.op.symbol(), c.value);
    let values: Vec<String> = reports.iter().map(said).collect();
    let text = if values.iter().any(|v| *v != values[0]) {
        let says: Vec<String> = (reports.iter().zip(&values))
            .map(|(r, value)| format!("{} says {value}", r.source.unwrap_or("?")))
            .collect();
        format!(
            "{name} {condition}: {}: the sources disagree",
            says.join(", ")
        )
    } else {
        let value = values.first().map_or("? (not reported)", String::as_str);
        let sources: Vec<&str> = reports.iter().filter_map(|r| r.source).collect();
        if fleet.source_count() > 1 && !sources.is_empty() {
            format!("{name} = {value} ({}) {condition}", sources.join(", "))
        } else {
            format!("{name} = {value} {condition}")
        }
    };
    Reading { truth, text }
}

fn truth_of(observed: &Observed, op: Op, value: &Value) -> Truth {
    match (observed, value) {
        (Observed::Number(seen), Value::Number { value, .. }) => {
            Truth::of(ordered(*seen, op, *value))
        }
        (Observed::Word(seen), Value::Word(word)) => match op {
            Op::Ne => Truth::of(seen != word),
            _ => Truth::of(seen == word),
        },
        (Observed::Words(seen), Value::Word(word)) => Truth::of(seen.contains(&word.as_str())),
        _ => Truth::Unknown,
    }
}

fn shown(kind: ValueKind, observed: &Observed) -> String {
    match observed {
        Observed::Number(n) => format_number(kind, *n),
        Observed::Word(word) => (*word).to_string(),
        Observed::Words(words) if words.is_empty() => "none".to_string(),
        Observed::Words(words) => words.join(", "),
    }
}

fn ordered(seen: f64, op: Op, value: f64) -> bool {
    match op {
        Op::Eq => seen == value,
        Op::Ne => seen != value,
        Op::Lt => seen < value,
        Op::Le => seen <= value,
        Op::Gt => seen > value,
        Op::Ge => seen >= value,
        Op::Has => false,
    }
}

fn format_number(kind: ValueKind, n: f64) -> String {
    match kind {
        ValueKind::Percent => format!("{:.1}%", n * 100.0),
        ValueKind::Millis => format!("{n:.0}ms"),
        ValueKind::Seconds => format!("{n:.1}s"),
        _ => format!("{n}"),
    }
}

fn health(h: Health) -> Option<&'static str> {
    // A source that says "unknown" reported nothing.
    (h != Health::Unknown).then(|| h.word())
}

/// Every fresh source's report of `fact` about `target`, protocol v1 sources first.
fn observe<'a>(fact: Fact, target: &str, fleet: &FleetView<'a>) -> Vec<Report<'a>> {
    if fact == Fact::OpenEscalations {
        let Some(counts) = fleet.open_escalations else {
            return Vec::new();
        };
        let open = if target == "all" {
            Some(counts.iter().sum())
        } else {
            let priority = Priority::ALL.iter().position(|p| p.word() == target);
            priority.map(|at| counts[at])
        };
        return (open.into_iter())
            .map(|n| Report {
                source: None,
                observed: Observed::Number(n as f64),
            })
            .collect();
    }
    let reported = |source: &'a str, observed: Option<Observed>| {
        observed.map(|observed| Report {
            source: Some(source),
            observed,
        })
    };
    let snapshots =
        (fleet.snapshots.iter()).filter_map(|s| reported(s.source, in_snapshot(fact, target, s)));
    let measured =
        (fleet.measured.iter()).filter_map(|m| reported(m.source, in_measured(fact, target, m)));
    snapshots.chain(measured).collect()
}

/// What a protocol v1 snapshot says of `fact` about `target`.
fn in_snapshot(fact: Fact, target: &str, s: &FleetSnapshot) -> Option<Observed> {
    let region = s.regions.iter().find(|r| r.id == target);
    let provider = s.providers.iter().find(|p| p.id == target);
    let service = s.services.iter().find(|v| v.id == target);
    // Region or provider: the ids never collide (a provider's is `vendor@region`).
    let number = |of_region: fn(&protocol::Region) -> Option<f64>,
                  of_provider: fn(&protocol::Provider) -> Option<f64>| {
        region
            .map(of_region)
            .or_else(|| provider.map(of_provider))
            .flatten()
            .map(Observed::Number)
    };
    match fact {
        Fact::Health => region
            .map(|r| r.health)
            .or_else(|| provider.map(|p| p.health))
            .or_else(|| service.map(|v| v.health))
            .and_then(health)
            .map(Observed::Word),
        Fact::Breaker => provider.map(|p| Observed::Word(p.breaker.state.word())),
        Fact::Share => number(|r| Some(r.traffic_share), |p| Some(p.traffic_share)),
        Fact::Headroom => number(
            |r| (r.capacity_rps > 0.0).then(|| (r.capacity_rps - r.load_rps) / r.capacity_rps),
            |p| Some(p.rate_limit_headroom),
        ),
        Fact::P95 => number(|r| Some(r.latency.p95_ms), |p| Some(p.latency.p95_ms)),
        Fact::ErrorRate => number(|r| Some(r.error_rate), |p| Some(p.error_rate)),
        Fact::RateLimited => number(|r| Some(r.rate_limited_rate), |p| Some(p.rate_limited_rate)),
        Fact::Lag => {
            let (service_id, replica_id) = target.split_once('/')?;
            let service = s.services.iter().find(|v| v.id == service_id)?;
            let replica = service.replicas.iter().find(|r| r.id == replica_id)?;
            Some(Observed::Number(replica.replication_lag_s))
        }
        Fact::Mode => service
            .map(|v| Observed::Words(v.degraded_modes.iter().map(|m| m.mode.word()).collect())),
        Fact::OpenEscalations => None,
    }
}

/// What a metrics source (Prometheus, or a gateway's deployments) says of `fact` about
/// `target`: its health, p95, error and 429 rates and traffic share, when a query gave them.
fn in_measured(fact: Fact, target: &str, m: &Measured) -> Option<Observed> {
    let (reported, facts) = (m.region(target).map(|r| (r.health, &r.facts)))
        .or_else(|| m.provider(target).map(|p| (p.health, &p.facts)))?;
    let number = |kind: FactKind| facts.get(&kind).map(|f| Observed::Number(f.value));
    match fact {
        Fact::Health => health(reported).map(Observed::Word),
        Fact::Share => number(FactKind::TrafficShare),
        Fact::P95 => number(FactKind::P95Ms),
        Fact::ErrorRate => number(FactKind::ErrorRate),
        Fact::RateLimited => number(FactKind::RateLimitedRate),
        // No query gives capacity, breakers, lag, modes or escalations.
        Fact::Breaker | Fact::Headroom | Fact::Lag | Fact::Mode | Fact::OpenEscalations => None,
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
