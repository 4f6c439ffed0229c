//! Objectives: what a drill scores, checked against the topology and the scenario's injects
//! when the file is loaded, and carried by the recording as [`ObjectiveSpec`]s.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::duration::parse_duration;
use super::inject::{checked_id, checked_text};
use crate::config_error::ConfigError;
use crate::topology::Topology;
use protocol::command::{Verb, action_covers, audit_actions};
use protocol::escalations::Priority;
use protocol::exercise::record::{ObjectiveCondition, ObjectiveSpec};

/// Highest weight one objective may carry.
const MAX_WEIGHT: i64 = 100;
/// A provider counts as off its region's traffic below this share, unless the file says.
const DEFAULT_TRAFFIC_OFF_BELOW: f64 = 0.05;
/// How long a region may run above capacity at a stretch, unless the file says.
const DEFAULT_OVERLOAD_S: f64 = 60.0;

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum ObjectiveKind {
    TrafficOff,
    NoOverload,
    EscalationsWithinSla,
    NoForce,
    Action,
    Healthy,
}

impl ObjectiveKind {
    fn word(self) -> &'static str {
        match self {
            ObjectiveKind::TrafficOff => "traffic-off",
            ObjectiveKind::NoOverload => "no-overload",
            ObjectiveKind::EscalationsWithinSla => "escalations-within-sla",
            ObjectiveKind::NoForce => "no-force",
            ObjectiveKind::Action => "action",
            ObjectiveKind::Healthy => "healthy",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawObjective {
    id: Spanned<String>,
    title: Spanned<String>,
    weight: Option<Spanned<i64>>,
    after: Option<Spanned<String>>,
    within: Option<Spanned<String>>,
    kind: Spanned<ObjectiveKind>,
    provider: Option<Spanned<String>>,
    below: Option<Spanned<f64>>,
    #[serde(rename = "for")]
    for_: Option<Spanned<String>>,
    priority: Option<Spanned<String>>,
    action: Option<Spanned<String>>,
    target: Option<Spanned<String>>,
}

impl RawObjective {
    /// The `after` inject id as written, with where it is, for the check against the injects.
    pub(super) fn after(&self) -> Option<&Spanned<String>> {
        self.after.as_ref()
    }

    pub(super) fn id(&self) -> &Spanned<String> {
        &self.id
    }
}

/// Resolves the objective written at `span` against the topology. Whether `after` names an
/// inject is checked by the caller, who knows them all.
pub(super) fn resolve_objective(
    raw: &RawObjective,
    span: Range<usize>,
    topology: &Topology,
    error: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<ObjectiveSpec, ConfigError> {
    let kind = *raw.kind.get_ref();
    let id = checked_id(raw.id.get_ref()).map_err(|reason| error(raw.id.span(), reason))?;
    let title = checked_text("title", Some(&raw.title), error)?
        .ok_or_else(|| error(raw.title.span(), "title must not be empty".into()))?;
    let weight = match &raw.weight {
        None => 1,
        Some(given) => match u32::try_from(*given.get_ref()) {
            Ok(weight) if (1..=MAX_WEIGHT).contains(&i64::from(weight)) => weight,
            _ => {
                return Err(error(
                    given.span(),
                    format!("weight must be 1..={MAX_WEIGHT}, not {}", given.get_ref()),
                ));
            }
        },
    };
    let within_s = match &raw.within {
        None => None,
        Some(given) => {
            let seconds = parse_duration(given.get_ref())
                .map_err(|reason| error(given.span(), format!("within: {reason}")))?;
            if seconds <= 0.0 {
                return Err(error(given.span(), "within must be longer than 0s".into()));
            }
            Some(seconds)
        }
    };
    refuse_fields_of_other_kinds(raw, kind, error)?;
    let condition = resolve_condition(raw, kind, span, topology, error)?;
    Ok(ObjectiveSpec {
        id,
        title,
        weight,
        after: raw.after.as_ref().map(|a| a.get_ref().trim().to_string()),
        within_s,
        condition,
    })
}

/// A kind-specific field: its name, where it is written (if it is), the kinds it belongs to.
type KindField = (&'static str, Option<Range<usize>>, &'static [ObjectiveKind]);

/// A field that belongs to another kind is a mistake (a copied line, a misread kind).
fn refuse_fields_of_other_kinds(
    raw: &RawObjective,
    kind: ObjectiveKind,
    error: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<(), ConfigError> {
    use ObjectiveKind::*;
    let fields: [KindField; 6] = [
        (
            "provider",
            raw.provider.as_ref().map(Spanned::span),
            &[TrafficOff],
        ),
        (
            "below",
            raw.below.as_ref().map(Spanned::span),
            &[TrafficOff],
        ),
        ("for", raw.for_.as_ref().map(Spanned::span), &[NoOverload]),
        (
            "priority",
            raw.priority.as_ref().map(Spanned::span),
            &[EscalationsWithinSla],
        ),
        ("action", raw.action.as_ref().map(Spanned::span), &[Action]),
        (
            "target",
            raw.target.as_ref().map(Spanned::span),
            &[Action, Healthy],
        ),
    ];
    for (field, span, kinds) in fields {
        if let Some(span) = span
            && !kinds.contains(&kind)
        {
            let owners: Vec<&str> = kinds.iter().map(|k| k.word()).collect();
            return Err(error(
                span,
                format!(
                    "{field} belongs to {} objectives, not {}",
                    owners.join(" and "),
                    kind.word()
                ),
            ));
        }
    }
    Ok(())
}

fn resolve_condition(
    raw: &RawObjective,
    kind: ObjectiveKind,
    span: Range<usize>,
    topology: &Topology,
    error: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<ObjectiveCondition, ConfigError> {
    let required = |field: Option<&Spanned<String>>, name: &str| {
        field
            .map(|f| (f.get_ref().trim().to_string(), f.span()))
            .ok_or_else(|| {
                error(
                    span.clone(),
                    format!("a {} objective needs {name}", kind.word()),
                )
            })
    };
    Ok(match kind {
        ObjectiveKind::TrafficOff => {
            let (provider, at) = required(raw.provider.as_ref(), "a provider")?;
            if topology.provider_index(&provider).is_none() {
                return Err(error(
                    at,
                    format!("provider {provider:?} is not a provider of the topology"),
                ));
            }
            let below = match &raw.below {
                None => DEFAULT_TRAFFIC_OFF_BELOW,
                Some(given) if *given.get_ref() > 0.0 && *given.get_ref() < 1.0 => *given.get_ref(),
                Some(given) => {
                    return Err(error(
                        given.span(),
                        format!(
                            "below must be a share of traffic between 0 and 1, not {}",
                            given.get_ref()
                        ),
                    ));
                }
            };
            ObjectiveCondition::TrafficOff { provider, below }
        }
        ObjectiveKind::NoOverload => {
            let for_s = match &raw.for_ {
                None => DEFAULT_OVERLOAD_S,
                Some(given) => parse_duration(given.get_ref())
                    .map_err(|reason| error(given.span(), format!("for: {reason}")))?,
            };
            ObjectiveCondition::NoOverload { for_s }
        }
        ObjectiveKind::EscalationsWithinSla => {
            let priority = match &raw.priority {
                None => None,
                Some(given) => Some(parse_priority(given.get_ref()).ok_or_else(|| {
                    error(
                        given.span(),
                        format!(
                            "priority {:?} is not one of P1, P2, P3, P4",
                            given.get_ref()
                        ),
                    )
                })?),
            };
            ObjectiveCondition::EscalationsWithinSla { priority }
        }
        ObjectiveKind::NoForce => ObjectiveCondition::NoForce,
        ObjectiveKind::Action => {
            let (action, at) = required(raw.action.as_ref(), "an action")?;
            check_action(&action).map_err(|reason| error(at, reason))?;
            let target = match &raw.target {
                None => None,
                Some(given) => {
                    let target = given.get_ref().trim().to_string();
                    if !names_something(topology, &target) {
                        return Err(error(
                            given.span(),
                            format!(
                                "target {target:?} is not a region, provider, service or replica of the topology"
                            ),
                        ));
                    }
                    Some(target)
                }
            };
            ObjectiveCondition::Action { action, target }
        }
        ObjectiveKind::Healthy => {
            let (target, at) = required(raw.target.as_ref(), "a target")?;
            let known = topology.region_index(&target).is_some()
                || topology.provider_index(&target).is_some()
                || topology.service_index(&target).is_some();
            if !known {
                return Err(error(
                    at,
                    format!(
                        "target {target:?} is not a region, provider or service of the topology"
                    ),
                ));
            }
            ObjectiveCondition::Healthy { target }
        }
    })
}

/// `P1` or `p1` (files are written by people; the wire says `p1`).
fn parse_priority(text: &str) -> Option<Priority> {
    Priority::ALL
        .into_iter()
        .find(|p| p.word().eq_ignore_ascii_case(text.trim()))
}

/// An action as the audit log words it, or its beginning: `drain`, `breaker force-open`,
/// `standby warm`.
fn check_action(action: &str) -> Result<(), String> {
    let actions = audit_actions();
    if actions.iter().any(|done| action_covers(action, done)) {
        return Ok(());
    }
    let Some(verb) = Verb::of_action(action) else {
        let verbs: Vec<&str> = Verb::ALL.iter().map(|v| v.word()).collect();
        return Err(format!(
            "action {action:?} must start with a fleet command: {}",
            verbs.join(", ")
        ));
    };
    let same_verb: Vec<&str> = (actions.iter())
        .filter(|done| action_covers(verb.word(), done))
        .map(String::as_str)
        .collect();
    Err(format!(
        "action {action:?} is no {} command; the audit log writes: {}",
        verb.word(),
        same_verb.join(", ")
    ))
}

/// Whether `name` is a region, provider, service or replica of the topology.
fn names_something(topology: &Topology, name: &str) -> bool {
    topology.region_index(name).is_some()
        || topology.provider_index(name).is_some()
        || topology.service_index(name).is_some()
        || topology
            .services
            .iter()
            .any(|s| s.replicas.iter().any(|r| r.id == name))
}
