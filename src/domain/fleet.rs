//! The fleet as the console knows it: one copy per source, merged for display, each fact
//! with the source it came from and its age, so "region down" and "cannot see region"
//! never look alike.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::measured::Measured;
use chrono::{DateTime, Utc};
use protocol::{FleetDelta, FleetSnapshot, Health, LabInfo, Operator, Provider, Region, WhoAmI};

/// Data older than this is marked stale on screen, even while the stream looks open.
pub const STALE_AFTER: Duration = Duration::from_secs(5);
/// Samples kept per region and provider for the history charts.
pub const HISTORY_LEN: usize = 120;

/// How a source's connection stands, as last reported by its worker.
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    Connecting {
        attempt: u32,
    },
    Live,
    /// The connection failed; the worker retries at `retry_at`.
    Down {
        error: String,
        kind: DownKind,
        retry_at: Instant,
    },
}

/// Why a source is down, in the classes an on-call engineer acts on differently: a source
/// that refuses the login needs `switchboard login`, one that cannot be reached needs the
/// network checked, one that answers garbage needs its owner called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownKind {
    /// Nothing answered at the address (refused, no route, DNS).
    Unreachable,
    /// A request got no answer in time.
    TimedOut,
    /// The event stream sent no complete event for too long.
    StreamSilent,
    /// The connection broke in the middle of an answer.
    Dropped,
    /// 401: the token was refused.
    Unauthorized,
    /// 403: the identity may not read this.
    Forbidden,
    /// The peer answered with something that is not protocol v1.
    Malformed,
    /// A 5xx answer.
    ServerError { status: u16 },
    /// Another error status (404, 409, ...).
    Refused { status: u16 },
    /// The configured URL cannot be used at all.
    InvalidUrl,
}

impl DownKind {
    /// What happened, for the banner: specific enough to know what to do next.
    pub fn headline(self) -> String {
        match self {
            DownKind::Unreachable => "unreachable".into(),
            DownKind::TimedOut => "not answering (timed out)".into(),
            DownKind::StreamSilent => "event stream went silent".into(),
            DownKind::Dropped => "connection dropped".into(),
            DownKind::Unauthorized => "login refused (401) — run `switchboard login`".into(),
            DownKind::Forbidden => {
                "access forbidden (403) — ask for a role that may read it".into()
            }
            DownKind::Malformed => "malformed answer (not protocol v1)".into(),
            DownKind::ServerError { status } => format!("server error ({status})"),
            DownKind::Refused { status } => format!("request refused ({status})"),
            DownKind::InvalidUrl => "invalid URL in the config".into(),
        }
    }

    /// The same in a word or two, for a cell of the status bar.
    pub fn short(self) -> String {
        match self {
            DownKind::Unreachable => "unreachable".into(),
            DownKind::TimedOut => "timed out".into(),
            DownKind::StreamSilent => "silent".into(),
            DownKind::Dropped => "dropped".into(),
            DownKind::Unauthorized => "login refused".into(),
            DownKind::Forbidden => "forbidden".into(),
            DownKind::Malformed => "malformed".into(),
            DownKind::ServerError { status } | DownKind::Refused { status } => {
                format!("error {status}")
            }
            DownKind::InvalidUrl => "bad URL".into(),
        }
    }
}

/// One reading of a region or provider, taken when the source reported it changed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// On the source's clock (the snapshot's or delta's `generated_at`).
    pub at: DateTime<Utc>,
    pub p95_ms: f64,
    pub error_rate: f64,
    pub rate_limited_rate: f64,
}

/// Everything known from one configured source.
#[derive(Clone, Debug)]
pub struct SourceData {
    pub name: String,
    pub url: String,
    pub connection: Connection,
    pub snapshot: Option<FleetSnapshot>,
    /// When the last snapshot or delta arrived.
    pub received_at: Option<Instant>,
    pub identity: Option<WhoAmI>,
    pub operators: Vec<Operator>,
    pub history: HashMap<String, VecDeque<Sample>>,
    /// A metrics source's last read (Prometheus); `None` for a protocol v1 source.
    pub measured: Option<Measured>,
    /// A Patroni source's last read of its cluster; `None` for other kinds.
    pub patroni: Option<super::patroni::ClusterRead>,
    /// Data older than this is stale: [`STALE_AFTER`] for a stream, more for a polled source.
    pub stale_after: Duration,
}

impl SourceData {
    pub fn new(name: &str, url: &str) -> Self {
        SourceData {
            name: name.to_string(),
            url: url.to_string(),
            connection: Connection::Connecting { attempt: 1 },
            snapshot: None,
            received_at: None,
            identity: None,
            operators: Vec::new(),
            history: HashMap::new(),
            measured: None,
            patroni: None,
            stale_after: STALE_AFTER,
        }
    }

    /// A metrics source polled every `poll_interval`: stale once two polls went missing.
    pub fn metrics(name: &str, url: &str, poll_interval: Duration) -> Self {
        SourceData {
            measured: Some(Measured::default()),
            stale_after: poll_interval.saturating_mul(2).max(STALE_AFTER),
            ..SourceData::new(name, url)
        }
    }

    pub fn age(&self, now: Instant) -> Option<Duration> {
        self.received_at.map(|at| now.saturating_duration_since(at))
    }

    /// Whether the data on screen can be trusted as current.
    pub fn freshness(&self, now: Instant) -> Freshness {
        match (&self.connection, self.age(now)) {
            (_, None) => Freshness::NoData,
            (Connection::Live, Some(age)) if age <= self.stale_after => Freshness::Fresh,
            (_, Some(age)) => Freshness::Stale(age),
        }
    }

    pub fn lab(&self) -> Option<&LabInfo> {
        self.snapshot.as_ref().and_then(|s| s.lab.as_ref())
    }

    pub fn revision(&self) -> Option<u64> {
        self.snapshot.as_ref().map(|s| s.revision)
    }

    pub fn apply_snapshot(&mut self, snapshot: FleetSnapshot, now: Instant) {
        self.record_history(
            snapshot.generated_at,
            &snapshot.regions,
            &snapshot.providers,
        );
        self.snapshot = Some(snapshot);
        self.received_at = Some(now);
    }

    /// Applies a delta; returns false when it does not follow the snapshot held
    /// (no snapshot yet, or an old revision), so the caller can ask for a resnapshot.
    pub fn apply_delta(&mut self, delta: FleetDelta, now: Instant) -> bool {
        let Some(snapshot) = self.snapshot.as_mut() else {
            return false;
        };
        if delta.revision <= snapshot.revision {
            // A replay of what we already hold: harmless, nothing to do.
            return true;
        }
        snapshot.revision = delta.revision;
        snapshot.generated_at = delta.generated_at;
        upsert(&mut snapshot.regions, &delta.regions, |r| &r.id);
        upsert(&mut snapshot.providers, &delta.providers, |p| &p.id);
        upsert(&mut snapshot.gateways, &delta.gateways, |g| &g.id);
        upsert(&mut snapshot.services, &delta.services, |s| &s.id);
        upsert(&mut snapshot.operations, &delta.operations, |o| &o.id);
        upsert(&mut snapshot.pools, &delta.pools, |p| &p.id);
        snapshot.notices.extend(delta.notices.iter().cloned());
        let keep_from = snapshot.notices.len().saturating_sub(NOTICES_KEPT);
        snapshot.notices.drain(..keep_from);
        if delta.lab.is_some() {
            snapshot.lab = delta.lab.clone();
        }
        self.received_at = Some(now);
        self.record_history(delta.generated_at, &delta.regions, &delta.providers);
        true
    }

    fn record_history(&mut self, at: DateTime<Utc>, regions: &[Region], providers: &[Provider]) {
        let samples = regions
            .iter()
            .map(|r| {
                (
                    history_key_region(&r.id),
                    Sample {
                        at,
                        p95_ms: r.latency.p95_ms,
                        error_rate: r.error_rate,
                        rate_limited_rate: r.rate_limited_rate,
                    },
                )
            })
            .chain(providers.iter().map(|p| {
                (
                    history_key_provider(&p.id),
                    Sample {
                        at,
                        p95_ms: p.latency.p95_ms,
                        error_rate: p.error_rate,
                        rate_limited_rate: p.rate_limited_rate,
                    },
                )
            }));
        for (key, s) in samples {
            let series = self.history.entry(key).or_default();
            if series.len() == HISTORY_LEN {
                series.pop_front();
            }
            series.push_back(s);
        }
    }
}

const NOTICES_KEPT: usize = 50;

pub fn history_key_region(id: &str) -> String {
    format!("region:{id}")
}

pub fn history_key_provider(id: &str) -> String {
    format!("provider:{id}")
}

fn upsert<T: Clone>(into: &mut Vec<T>, from: &[T], key: impl Fn(&T) -> &String) {
    for item in from {
        match into.iter_mut().find(|existing| key(existing) == key(item)) {
            Some(slot) => *slot = item.clone(),
            None => into.push(item.clone()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Freshness {
    Fresh,
    Stale(Duration),
    NoData,
}

/// Health as the console may claim it: what the source said, or unknown when the
/// source's data is not current.
pub fn seen_health(reported: Health, freshness: Freshness) -> Health {
    match freshness {
        Freshness::Fresh => reported,
        Freshness::Stale(_) | Freshness::NoData => Health::Unknown,
    }
}

/// Of two sources' word on one region, the one to count: the worse of what they know (down
/// over degraded over ok); unknown only when neither knows (a source gone stale says nothing
/// of a region another sees live).
fn worst(a: Health, b: Health) -> Health {
    let rank = |h: Health| match h {
        Health::Unknown => 0,
        Health::Ok => 1,
        Health::Degraded => 2,
        Health::Down => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// One-line verdict over all sources, used by `switchboard status` and the status bar.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FleetSummary {
    pub regions_ok: usize,
    pub regions_degraded: usize,
    pub regions_down: usize,
    pub regions_unknown: usize,
    pub providers_open_breakers: usize,
    pub unreachable_sources: Vec<String>,
}

impl FleetSummary {
    pub fn of(sources: &[SourceData], now: Instant) -> Self {
        let mut summary = FleetSummary::default();
        // A region several sources report counts once, as the worst its sources know; a
        // provider once, open when any source says so.
        let mut regions: Vec<(&str, Health)> = Vec::new();
        let mut open: Vec<&str> = Vec::new();
        for source in sources {
            let freshness = source.freshness(now);
            let Some(snapshot) = source.snapshot.as_ref() else {
                // A metrics source has no snapshot: only its freshness counts here.
                if source.measured.is_none() || freshness != Freshness::Fresh {
                    summary.unreachable_sources.push(source.name.clone());
                }
                continue;
            };
            if freshness != Freshness::Fresh {
                summary.unreachable_sources.push(source.name.clone());
            }
            for region in &snapshot.regions {
                let seen = seen_health(region.health, freshness);
                match regions.iter_mut().find(|(id, _)| *id == region.id) {
                    Some((_, held)) => *held = worst(*held, seen),
                    None => regions.push((&region.id, seen)),
                }
            }
            for p in &snapshot.providers {
                if p.breaker.state != protocol::BreakerState::Closed && !open.contains(&&*p.id) {
                    open.push(&p.id);
                }
            }
        }
        for (_, health) in regions {
            summary.count(health);
        }
        summary.providers_open_breakers = open.len();
        summary.count_measured_only(sources, now);
        summary
    }

    fn count(&mut self, health: Health) {
        match health {
            Health::Ok => self.regions_ok += 1,
            Health::Degraded => self.regions_degraded += 1,
            Health::Down => self.regions_down += 1,
            Health::Unknown => self.regions_unknown += 1,
        }
    }

    /// Regions only a metrics source reads count like the others, once each.
    fn count_measured_only(&mut self, sources: &[SourceData], now: Instant) {
        let mut counted: Vec<&str> = (sources.iter())
            .filter_map(|s| s.snapshot.as_ref())
            .flat_map(|s| s.regions.iter().map(|r| r.id.as_str()))
            .collect();
        for source in sources {
            let Some(measured) = &source.measured else {
                continue;
            };
            let freshness = source.freshness(now);
            for region in &measured.regions {
                if !counted.contains(&region.id.as_str()) {
                    counted.push(&region.id);
                    self.count(seen_health(region.health, freshness));
                }
            }
        }
    }

    /// Process exit code of `switchboard status`: 0 all healthy, 1 degraded, 2 down or unreachable.
    pub fn exit_code(&self) -> i32 {
        if self.regions_down > 0 || self.regions_unknown > 0 || !self.unreachable_sources.is_empty()
        {
            2
        } else if self.regions_degraded > 0 || self.providers_open_breakers > 0 {
            1
        } else {
            0
        }
    }

    pub fn verdict(&self) -> &'static str {
        match self.exit_code() {
            0 => "healthy",
            1 => "degraded",
            _ => "down or unreachable",
        }
    }
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;
