//! Conditions evaluated against the fleet as the console knows it: true, false, or unknown
//! when a fact nobody reported (or only a stale source did) decides it; never false for
//! want of data.

use std::collections::BTreeMap;
use std::time::Instant;

use protocol::{FleetSnapshot, Health};

use super::expr::{Comparison, Expr, Fact, Op, Value, ValueKind};
use crate::domain::fleet::{Freshness, SourceData};

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

/// What the console knows: the snapshots of its fresh sources and, when an escalation source
/// answered, the count of open escalations by priority.
#[derive(Clone, Debug, Default)]
pub struct FleetView<'a> {
    pub snapshots: Vec<&'a FleetSnapshot>,
    pub open_escalations: Option<&'a BTreeMap<String, u64>>,
}

impl<'a> FleetView<'a> {
    /// The snapshots of the sources whose data is current; a stale source's facts are unknown.
    pub fn of_sources(sources: &'a [SourceData], now: Instant) -> Self {
        FleetView {
            snapshots: sources
                .iter()
                .filter(|s| s.freshness(now) == Freshness::Fresh)
                .filter_map(|s| s.snapshot.as_ref())
                .collect(),
            open_escalations: None,
        }
    }

    /// The first reported value of a fact; `None` when no source reported it.
    fn find<T>(&self, read: impl Fn(&'a FleetSnapshot) -> Option<T>) -> Option<T> {
        self.snapshots.iter().find_map(|s| read(s))
    }
}

/// What one comparison read from the fleet.
enum Observed {
    Number(f64),
    Word(&'static str),
    Words(Vec<&'static str>),
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

fn compare(c: &Comparison, fleet: &FleetView) -> Reading {
    let observed = observe(c.fact, &c.target, fleet);
    let truth = match (&observed, &c.value) {
        (Some(Observed::Number(seen)), Value::Number { value, .. }) => {
            Truth::of(ordered(*seen, c.op, *value))
        }
        (Some(Observed::Word(seen)), Value::Word(word)) => match c.op {
            Op::Ne => Truth::of(seen != word),
            _ => Truth::of(seen == word),
        },
        (Some(Observed::Words(seen)), Value::Word(word)) => {
            Truth::of(seen.contains(&word.as_str()))
        }
        _ => Truth::Unknown,
    };
    let shown = match &observed {
        None => "? (not reported)".to_string(),
        Some(Observed::Number(n)) => format_number(c.fact.value_kind(), *n),
        Some(Observed::Word(word)) => (*word).to_string(),
        Some(Observed::Words(words)) if words.is_empty() => "none".to_string(),
        Some(Observed::Words(words)) => words.join(", "),
    };
    Reading {
        truth,
        text: format!(
            "{}({}) = {shown} {} {}",
            c.fact.name(),
            c.target,
            c.op.symbol(),
            c.value
        ),
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

fn observe(fact: Fact, target: &str, fleet: &FleetView) -> Option<Observed> {
    let region = |s: &'_ FleetSnapshot| s.regions.iter().find(|r| r.id == target).cloned();
    let provider = |s: &'_ FleetSnapshot| s.providers.iter().find(|p| p.id == target).cloned();
    let service = |s: &'_ FleetSnapshot| s.services.iter().find(|v| v.id == target).cloned();
    // Region or provider: the ids never collide (a provider's is `vendor@region`).
    let number = |of_region: fn(&protocol::Region) -> Option<f64>,
                  of_provider: fn(&protocol::Provider) -> Option<f64>| {
        fleet
            .find(|s| {
                region(s)
                    .map(|r| of_region(&r))
                    .or_else(|| provider(s).map(|p| of_provider(&p)))
            })
            .flatten()
            .map(Observed::Number)
    };
    match fact {
        Fact::Health => fleet
            .find(|s| {
                region(s)
                    .map(|r| r.health)
                    .or_else(|| provider(s).map(|p| p.health))
                    .or_else(|| service(s).map(|v| v.health))
            })
            .and_then(health)
            .map(Observed::Word),
        Fact::Breaker => fleet
            .find(|s| provider(s).map(|p| p.breaker.state.word()))
            .map(Observed::Word),
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
            fleet
                .find(|s| {
                    let service = s.services.iter().find(|v| v.id == service_id)?;
                    let replica = service.replicas.iter().find(|r| r.id == replica_id)?;
                    Some(replica.replication_lag_s)
                })
                .map(Observed::Number)
        }
        Fact::Mode => fleet
            .find(|s| service(s).map(|v| v.degraded_modes.iter().map(|m| m.mode.word()).collect()))
            .map(Observed::Words),
        Fact::OpenEscalations => {
            let counts = fleet.open_escalations?;
            let open = if target == "all" {
                counts.values().sum()
            } else {
                counts.get(target).copied().unwrap_or(0)
            };
            Some(Observed::Number(open as f64))
        }
    }
}
