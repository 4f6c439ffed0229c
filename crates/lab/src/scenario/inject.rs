//! Injects: what happens to the fleet (or the players) at a planned time of a scenario.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::duration::{format_duration, parse_duration};
use crate::config_error::{ConfigError, one_line};
use crate::topology::Topology;
use protocol::ReplicaRole;
use protocol::exercise::{InjectState, MAX_TEXT_CHARS};

/// Most escalations one burst may raise.
const MAX_BURST: f64 = 500.0;
/// Longest inject id: ids name injects in objectives, the timeline and the console.
const MAX_ID_CHARS: usize = 40;
/// Prefix of the ids the lab gives injects a facilitator adds during a drill.
const CUSTOM_ID_PREFIX: &str = "custom-";
/// The target of a `source-unreachable` inject: the fleet (snapshot and event stream).
const FLEET_SOURCE: &str = "fleet";
/// The target of an `escalation-burst` that raises escalations for every service.
const ANY_SERVICE: &str = "any";

#[derive(Debug, Clone, PartialEq)]
pub struct Inject {
    /// Names the inject in objectives (`after`), the timeline and acknowledgements.
    pub id: String,
    /// Simulated seconds after the start when the inject begins.
    pub at_s: f64,
    /// 0 for kinds that happen at once (a message, an escalation burst).
    pub duration_s: f64,
    pub kind: InjectKind,
    /// The target as written in the file, for notices; empty for a message.
    pub target_label: String,
    pub target: InjectTarget,
    /// Strength, with the kind's default filled in; see `InjectKind::magnitude_rule`.
    pub magnitude: f64,
    /// What players are told when it fires (for a message: the message).
    pub narrative: String,
    /// For the facilitator only, e.g. "watch whether they check the standby first".
    pub facilitator_note: Option<String>,
}

impl Inject {
    pub fn end_s(&self) -> f64 {
        self.at_s + self.duration_s
    }

    /// Whether the inject is in effect at simulated second `t`.
    pub fn active_at(&self, t: f64) -> bool {
        self.at_s <= t && t < self.end_s()
    }

    /// What the inject does, in a few words, e.g. "openai@us-east outage (503s, 92% errors)".
    pub fn summary(&self) -> String {
        let target = &self.target_label;
        match self.kind {
            InjectKind::ProviderOutage => {
                format!(
                    "{target} outage (503s, {:.0}% errors)",
                    self.magnitude * 100.0
                )
            }
            InjectKind::RateLimitStorm => {
                format!("{target} rate limits cut to {:.0}%", self.magnitude * 100.0)
            }
            InjectKind::LatencyBrownout => {
                format!(
                    "{target} brownout (latency x{}, errors rising)",
                    self.magnitude
                )
            }
            InjectKind::RegionDown => format!("region {target} down"),
            InjectKind::StandbyNotWarm => {
                format!("standby {target} not warm (replication stopped)")
            }
            InjectKind::EscalationBurst if target == ANY_SERVICE => {
                format!("burst of {} escalations", self.magnitude)
            }
            InjectKind::EscalationBurst => {
                format!("burst of {} escalations for {target}", self.magnitude)
            }
            InjectKind::SourceUnreachable => format!(
                "{target} source unreachable for {}",
                format_duration(self.duration_s)
            ),
            InjectKind::Message => "message to the players".to_string(),
        }
    }

    /// The inject as the exercise's wire types carry it, not fired yet.
    pub fn state(&self) -> InjectState {
        InjectState {
            id: self.id.clone(),
            kind: self.kind.word().to_string(),
            target: self.target_label.clone(),
            at_s: self.at_s,
            duration_s: self.duration_s,
            summary: self.summary(),
            narrative: self.narrative.clone(),
            fired_at_s: None,
            facilitator_note: self.facilitator_note.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InjectKind {
    /// The target providers answer with errors; magnitude is the error rate.
    ProviderOutage,
    /// The target providers' rate limits shrink; magnitude is the share that remains.
    RateLimitStorm,
    /// The target providers slow down by a factor (magnitude) while errors creep up.
    LatencyBrownout,
    /// The target region is unreachable.
    RegionDown,
    /// The target standby replicas stop replicating and are not ready.
    StandbyNotWarm,
    /// Escalations (magnitude: how many) appear at once for the target service, or any.
    EscalationBurst,
    /// The target source (`fleet`) answers 503 for the inject's duration.
    SourceUnreachable,
    /// Players are told the narrative; nothing changes in the fleet.
    Message,
}

impl InjectKind {
    /// The kind as scenario files and the exercise's wire types write it.
    pub fn word(self) -> &'static str {
        match self {
            InjectKind::ProviderOutage => "provider-outage",
            InjectKind::RateLimitStorm => "rate-limit-storm",
            InjectKind::LatencyBrownout => "latency-brownout",
            InjectKind::RegionDown => "region-down",
            InjectKind::StandbyNotWarm => "standby-not-warm",
            InjectKind::EscalationBurst => "escalation-burst",
            InjectKind::SourceUnreachable => "source-unreachable",
            InjectKind::Message => "message",
        }
    }

    /// Default magnitude and the accepted range, or None when the kind takes none.
    fn magnitude_rule(self) -> Option<(f64, std::ops::RangeInclusive<f64>, &'static str)> {
        match self {
            InjectKind::ProviderOutage => Some((0.9, 0.01..=1.0, "an error rate in 0.01..=1")),
            InjectKind::RateLimitStorm => Some((
                0.25,
                0.01..=0.99,
                "the share of the rate limit left, in 0.01..=0.99",
            )),
            InjectKind::LatencyBrownout => {
                Some((4.0, 1.1..=100.0, "a latency factor in 1.1..=100"))
            }
            InjectKind::EscalationBurst => Some((
                10.0,
                1.0..=MAX_BURST,
                "a whole number of escalations in 1..=500",
            )),
            InjectKind::RegionDown
            | InjectKind::StandbyNotWarm
            | InjectKind::SourceUnreachable
            | InjectKind::Message => None,
        }
    }

    /// Whether it happens at once (no `duration`) rather than lasting a while.
    fn is_instant(self) -> bool {
        matches!(self, InjectKind::EscalationBurst | InjectKind::Message)
    }
}

/// What an inject acts on, resolved to topology indices.
#[derive(Debug, Clone, PartialEq)]
pub enum InjectTarget {
    Providers(Vec<usize>),
    Region(usize),
    /// (service index, replica index) pairs.
    Replicas(Vec<(usize, usize)>),
    /// The service escalations are raised for; `None`: any service.
    Service(Option<usize>),
    /// The fleet source: its snapshot and event stream.
    FleetSource,
    /// The players themselves (a message).
    Players,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInject {
    id: Option<Spanned<String>>,
    at: Spanned<String>,
    kind: Spanned<InjectKind>,
    target: Option<Spanned<String>>,
    duration: Option<Spanned<String>>,
    magnitude: Option<Spanned<f64>>,
    narrative: Option<Spanned<String>>,
    facilitator_note: Option<Spanned<String>>,
}

impl RawInject {
    /// The id as written, or `inject-<number>` for the `number`th inject (1-based).
    pub(super) fn id(&self, number: usize) -> String {
        match &self.id {
            Some(id) => id.get_ref().clone(),
            None => format!("inject-{number}"),
        }
    }

    /// Where the id is written, when it is.
    pub(super) fn id_span(&self) -> Option<Range<usize>> {
        self.id.as_ref().map(Spanned::span)
    }
}

/// Resolves the inject written at `span` (its `[[inject]]` table), the `number`th of the file
/// (1-based: its default id is `inject-<number>`).
pub(super) fn resolve_inject(
    raw: &RawInject,
    span: Range<usize>,
    number: usize,
    topology: &Topology,
    error: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<Inject, ConfigError> {
    let kind = *raw.kind.get_ref();
    let id = raw.id(number);
    if let Some(written) = &raw.id {
        checked_id(&id).map_err(|reason| error(written.span(), reason))?;
    }
    let at_s = parse_duration(raw.at.get_ref())
        .map_err(|reason| error(raw.at.span(), format!("at: {reason}")))?;
    let duration_s = match (&raw.duration, kind.is_instant()) {
        (Some(given), true) => {
            return Err(error(
                given.span(),
                format!("a {} happens at once and takes no duration", kind.word()),
            ));
        }
        (None, true) => 0.0,
        (None, false) => {
            return Err(error(
                span,
                format!("a {} inject needs a duration", kind.word()),
            ));
        }
        (Some(given), false) => {
            let seconds = parse_duration(given.get_ref())
                .map_err(|reason| error(given.span(), format!("duration: {reason}")))?;
            if seconds <= 0.0 {
                return Err(error(
                    given.span(),
                    "duration must be longer than 0s".into(),
                ));
            }
            seconds
        }
    };
    let magnitude = resolve_magnitude(kind, raw.magnitude.as_ref(), error)?;
    let (target_label, target) = match (&raw.target, kind) {
        (Some(given), InjectKind::Message) => {
            return Err(error(
                given.span(),
                "a message goes to every player and takes no target".into(),
            ));
        }
        (None, InjectKind::Message) => (String::new(), InjectTarget::Players),
        (None, _) => {
            return Err(error(
                span,
                format!("a {} inject needs a target", kind.word()),
            ));
        }
        (Some(given), _) => {
            let label = given.get_ref().trim();
            let target = resolve_target(kind, label, topology)
                .map_err(|reason| error(given.span(), reason))?;
            (label.to_string(), target)
        }
    };
    let narrative = checked_text("narrative", raw.narrative.as_ref(), error)?.unwrap_or_default();
    if kind == InjectKind::Message && narrative.is_empty() {
        return Err(error(
            span,
            "a message needs a narrative: the text players are told".into(),
        ));
    }
    Ok(Inject {
        id,
        at_s,
        duration_s,
        kind,
        target_label,
        target,
        magnitude,
        narrative,
        facilitator_note: checked_text("facilitator_note", raw.facilitator_note.as_ref(), error)?,
    })
}

fn resolve_magnitude(
    kind: InjectKind,
    given: Option<&Spanned<f64>>,
    error: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<f64, ConfigError> {
    match (kind.magnitude_rule(), given) {
        (None, None) => Ok(0.0),
        (None, Some(given)) => Err(error(
            given.span(),
            "this kind of inject takes no magnitude".into(),
        )),
        (Some((default, _, _)), None) => Ok(default),
        (Some((_, range, meaning)), Some(given)) => {
            let value = *given.get_ref();
            let whole = kind != InjectKind::EscalationBurst || value.fract() == 0.0;
            if range.contains(&value) && whole {
                Ok(value)
            } else {
                Err(error(
                    given.span(),
                    format!("magnitude must be {meaning}, not {value}"),
                ))
            }
        }
    }
}

/// An optional free text of the file, as one safe line, within the exercise's text limit.
pub(super) fn checked_text(
    field: &str,
    given: Option<&Spanned<String>>,
    error: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<Option<String>, ConfigError> {
    match given {
        Some(text) if text.get_ref().chars().count() > MAX_TEXT_CHARS => Err(error(
            text.span(),
            format!("{field} is longer than {MAX_TEXT_CHARS} characters"),
        )),
        Some(text) => Ok(Some(one_line(text.get_ref())).filter(|t| !t.is_empty())),
        None => Ok(None),
    }
}

/// An id as injects and objectives take them: short, lower case, digits and dashes.
pub(super) fn checked_id(id: &str) -> Result<String, String> {
    let fits = !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !fits {
        return Err(format!(
            "id {id:?} must be 1-{MAX_ID_CHARS} characters of a-z, 0-9, - and _"
        ));
    }
    if id.starts_with(CUSTOM_ID_PREFIX) {
        return Err(format!(
            "id {id:?}: ids starting with {CUSTOM_ID_PREFIX:?} are kept for injects the facilitator adds"
        ));
    }
    Ok(id.to_string())
}

fn resolve_target(
    kind: InjectKind,
    label: &str,
    topology: &Topology,
) -> Result<InjectTarget, String> {
    match kind {
        InjectKind::ProviderOutage | InjectKind::RateLimitStorm | InjectKind::LatencyBrownout => {
            // A provider id, a region (all its providers) or a vendor (it, everywhere).
            let providers: Vec<usize> = if let Some(index) = topology.provider_index(label) {
                vec![index]
            } else if let Some(region) = topology.region_index(label) {
                indices_where(&topology.providers, |p| p.region_index == region)
            } else {
                indices_where(&topology.providers, |p| p.vendor == label)
            };
            if providers.is_empty() {
                Err(format!(
                    "target {label:?} is not a provider, region or vendor of the topology"
                ))
            } else {
                Ok(InjectTarget::Providers(providers))
            }
        }
        InjectKind::RegionDown => topology
            .region_index(label)
            .map(InjectTarget::Region)
            .ok_or_else(|| format!("target {label:?} is not a region of the topology")),
        InjectKind::StandbyNotWarm => resolve_standbys(label, topology),
        InjectKind::EscalationBurst if label == ANY_SERVICE => Ok(InjectTarget::Service(None)),
        InjectKind::EscalationBurst => topology
            .service_index(label)
            .map(|s| InjectTarget::Service(Some(s)))
            .ok_or_else(|| {
                format!("target {label:?} is not a service of the topology, nor {ANY_SERVICE:?}")
            }),
        InjectKind::SourceUnreachable if label == FLEET_SOURCE => Ok(InjectTarget::FleetSource),
        InjectKind::SourceUnreachable => Err(format!(
            "target {label:?} is not a source a drill can cut off (only {FLEET_SOURCE:?})"
        )),
        InjectKind::Message => Ok(InjectTarget::Players),
    }
}

/// A replica id `<service>@<region>`, or a service (all its standbys).
fn resolve_standbys(label: &str, topology: &Topology) -> Result<InjectTarget, String> {
    let replicas: Vec<(usize, usize)> = topology
        .services
        .iter()
        .enumerate()
        .flat_map(|(s, service)| {
            service
                .replicas
                .iter()
                .enumerate()
                .filter(move |(_, r)| service.id == label || r.id == label)
                .map(move |(r, replica)| (s, r, replica.role))
        })
        .filter(|(_, _, role)| *role != ReplicaRole::Active)
        .map(|(s, r, _)| (s, r))
        .collect();
    if replicas.is_empty() {
        Err(format!(
            "target {label:?} is neither a standby replica (<service>@<region>) nor a service with standbys"
        ))
    } else {
        Ok(InjectTarget::Replicas(replicas))
    }
}

fn indices_where<T>(items: &[T], keep: impl Fn(&T) -> bool) -> Vec<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| keep(item))
        .map(|(i, _)| i)
        .collect()
}
