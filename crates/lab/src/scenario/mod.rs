//! Scenarios: a narrative, a briefing, timed injects (faults, escalation bursts, messages)
//! played against a topology, and the objectives a tabletop exercise scores.
//!
//! Parsed from TOML (see `fixtures/scenarios/` and docs/scenarios.md); targets are resolved
//! against the topology at load time so that a typo fails before the drill starts, naming
//! file, line and column. [`Scenario::check`] finds every problem of a file at once.

mod duration;
mod inject;
mod objective;

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use toml::Spanned;

use super::config_error::{ConfigError, one_line, parse_toml, printable_lines};
use super::topology::Topology;
use inject::{RawInject, resolve_inject};
use objective::{RawObjective, resolve_objective};
use protocol::Role;
use protocol::approvals::ApprovalPolicy;
use protocol::exercise::ExerciseRole;
use protocol::exercise::record::{ObjectiveSpec, Player};

pub use duration::{format_duration, parse_duration};
pub use inject::{Inject, InjectKind, InjectTarget};

/// Scenarios shipped inside the binary, by name.
const SHIPPED: &[(&str, &str)] = &[
    (
        "provider-outage",
        include_str!("../../../../fixtures/scenarios/provider-outage.toml"),
    ),
    (
        "rate-limit-storm",
        include_str!("../../../../fixtures/scenarios/rate-limit-storm.toml"),
    ),
    (
        "region-brownout",
        include_str!("../../../../fixtures/scenarios/region-brownout.toml"),
    ),
    (
        "region-down",
        include_str!("../../../../fixtures/scenarios/region-down.toml"),
    ),
    (
        "standby-not-warm",
        include_str!("../../../../fixtures/scenarios/standby-not-warm.toml"),
    ),
];

/// Names of the scenarios built into the binary.
pub fn shipped_scenarios() -> Vec<&'static str> {
    SHIPPED.iter().map(|(name, _)| *name).collect()
}

/// Longest player name: names go into tokens, the roster and the timeline.
const MAX_PLAYER_CHARS: usize = 32;
/// The player the lab adds when a scenario lists none.
pub const DEFAULT_FACILITATOR: &str = "facilitator";

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// For whoever runs the lab: what the scenario plays out.
    pub narrative: String,
    /// What players are told at T0; the narrative when the file has none.
    pub briefing: String,
    /// Who plays the drill, with their roles: as listed, or the facilitator and the
    /// topology's operators (admin: incident commander, operator, viewer: observer).
    pub players: Vec<Player>,
    /// In time order (file order among equal times).
    pub injects: Vec<Inject>,
    pub objectives: Vec<ObjectiveSpec>,
    /// The two-person rule while it is played, in place of the topology's (none: the
    /// topology's, off unless it has one).
    pub approvals: Option<ApprovalPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    narrative: String,
    #[serde(default)]
    briefing: Option<String>,
    #[serde(default, rename = "player")]
    players: Vec<Spanned<RawPlayer>>,
    #[serde(rename = "inject")]
    injects: Spanned<Vec<Spanned<RawInject>>>,
    #[serde(default, rename = "objective")]
    objectives: Vec<Spanned<RawObjective>>,
    #[serde(default)]
    approvals: Option<Spanned<ApprovalPolicy>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlayer {
    name: Spanned<String>,
    role: Spanned<ExerciseRole>,
}

/// A scenario's file name (for messages) and text: a file, or a shipped scenario by name
/// when no such file exists.
pub fn scenario_source(file_or_name: &Path) -> anyhow::Result<(String, String)> {
    if file_or_name.exists() {
        let text = std::fs::read_to_string(file_or_name)
            .with_context(|| format!("cannot read scenario {}", file_or_name.display()))?;
        return Ok((file_or_name.display().to_string(), text));
    }
    let name = file_or_name.to_string_lossy();
    match SHIPPED.iter().find(|(shipped, _)| *shipped == name) {
        Some((shipped, text)) => Ok((
            format!("fixtures/scenarios/{shipped}.toml (embedded)"),
            text.to_string(),
        )),
        None => bail!(
            "no scenario file {name:?}, and it is not a shipped scenario (shipped: {})",
            shipped_scenarios().join(", ")
        ),
    }
}

impl Scenario {
    /// Loads a scenario from a file, or a shipped one by name when no such file exists.
    pub fn load(file_or_name: &Path, topology: &Topology) -> anyhow::Result<Scenario> {
        let (file, text) = scenario_source(file_or_name)?;
        Ok(Scenario::parse(&file, &text, topology)?)
    }

    /// Parses and validates a scenario against `topology`; `file` only names it in errors.
    /// The first problem found is the error; [`Scenario::check`] lists them all.
    pub fn parse(file: &str, text: &str, topology: &Topology) -> Result<Scenario, ConfigError> {
        Scenario::check(file, text, topology).map_err(|mut problems| problems.swap_remove(0))
    }

    /// Parses and validates a scenario, finding every problem (at least one on `Err`) in the
    /// order of the file.
    pub fn check(
        file: &str,
        text: &str,
        topology: &Topology,
    ) -> Result<Scenario, Vec<ConfigError>> {
        let raw: RawScenario = parse_toml(file, text).map_err(|e| vec![e])?;
        let error = |span: Range<usize>, reason: String| ConfigError::at(file, text, span, reason);
        let mut problems = Vec::new();
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            problems.push(error(
                raw.name.span(),
                "name must be 1-64 printable characters".into(),
            ));
        }
        if raw.injects.get_ref().is_empty() {
            problems.push(error(
                raw.injects.span(),
                "a scenario needs at least one [[inject]]".into(),
            ));
        }
        let mut injects = Vec::new();
        for (number, inject) in raw.injects.get_ref().iter().enumerate() {
            match resolve_inject(
                inject.get_ref(),
                inject.span(),
                number + 1,
                topology,
                &error,
            ) {
                Ok(resolved) => injects.push(resolved),
                Err(problem) => problems.push(problem),
            }
        }
        let written_inject_ids: Vec<(Range<usize>, String)> = raw
            .injects
            .get_ref()
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let at = i.get_ref().id_span().unwrap_or(i.span());
                (at, i.get_ref().id(n + 1))
            })
            .collect();
        let inject_ids = unique_ids(&written_inject_ids, "inject", &error, &mut problems);
        let mut objectives = Vec::new();
        for objective in &raw.objectives {
            let raw_objective = objective.get_ref();
            if let Some(after) = raw_objective.after()
                && !inject_ids.contains(after.get_ref().trim())
            {
                problems.push(error(
                    after.span(),
                    format!(
                        "after {:?} names no inject of this scenario",
                        after.get_ref()
                    ),
                ));
                continue;
            }
            match resolve_objective(raw_objective, objective.span(), topology, &error) {
                Ok(resolved) => objectives.push(resolved),
                Err(problem) => problems.push(problem),
            }
        }
        let written_objective_ids: Vec<(Range<usize>, String)> = raw
            .objectives
            .iter()
            .map(|o| (o.get_ref().id().span(), o.get_ref().id().get_ref().clone()))
            .collect();
        unique_ids(&written_objective_ids, "objective", &error, &mut problems);
        let players = resolve_players(&raw.players, topology, &error, &mut problems);
        let services: Vec<&str> = topology.services.iter().map(|s| s.id.as_str()).collect();
        if let Some(policy) = &raw.approvals
            && let Some(problem) = policy.get_ref().problem(Some(&services))
        {
            problems.push(error(policy.span(), format!("approvals: {problem}")));
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| (p.line, p.column));
            return Err(problems);
        }
        injects.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        let narrative = printable_lines(&raw.narrative);
        let briefing = raw
            .briefing
            .as_deref()
            .map(printable_lines)
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| narrative.clone());
        Ok(Scenario {
            name,
            description: one_line(&raw.description),
            narrative,
            briefing,
            players,
            injects,
            objectives,
            approvals: raw.approvals.map(Spanned::into_inner),
        })
    }
}

/// The ids as written, each once: a second use is a problem. Returns the set of ids.
fn unique_ids<'a>(
    ids: &'a [(Range<usize>, String)],
    what: &str,
    error: &impl Fn(Range<usize>, String) -> ConfigError,
    problems: &mut Vec<ConfigError>,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    for (span, id) in ids {
        if !seen.insert(id.as_str()) {
            problems.push(error(
                span.clone(),
                format!("a second {what} with id {id:?}"),
            ));
        }
    }
    seen
}

/// The players as listed (at least a facilitator, names unique), or when none are listed the
/// facilitator and the topology's operators.
fn resolve_players(
    raw: &[Spanned<RawPlayer>],
    topology: &Topology,
    error: &impl Fn(Range<usize>, String) -> ConfigError,
    problems: &mut Vec<ConfigError>,
) -> Vec<Player> {
    if raw.is_empty() {
        return default_players(topology);
    }
    let mut players: Vec<Player> = Vec::new();
    for player in raw {
        let name = player.get_ref().name.get_ref().trim();
        let fits = !name.is_empty()
            && name.chars().count() <= MAX_PLAYER_CHARS
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !fits {
            problems.push(error(
                player.get_ref().name.span(),
                format!(
                    "player name {name:?} must be 1-{MAX_PLAYER_CHARS} characters of letters, digits, '-', '_' and '.'"
                ),
            ));
        } else if players.iter().any(|p| p.name == name) {
            problems.push(error(
                player.get_ref().name.span(),
                format!("a second player named {name:?}"),
            ));
        } else {
            players.push(Player {
                name: name.to_string(),
                role: *player.get_ref().role.get_ref(),
            });
        }
    }
    if !players.iter().any(|p| p.role == ExerciseRole::Facilitator) {
        problems.push(error(
            raw[0].span(),
            "the players need a facilitator (role = \"facilitator\") to run the drill".into(),
        ));
    }
    players
}

/// The facilitator, then the topology's operators in their order, by their fleet role.
fn default_players(topology: &Topology) -> Vec<Player> {
    let facilitator = Player {
        name: DEFAULT_FACILITATOR.to_string(),
        role: ExerciseRole::Facilitator,
    };
    let operators = topology
        .operators
        .iter()
        .filter(|o| o.name != DEFAULT_FACILITATOR)
        .map(|o| Player {
            name: o.name.clone(),
            role: match o.role {
                Role::Admin => ExerciseRole::IncidentCommander,
                Role::Operator => ExerciseRole::Operator,
                Role::Viewer => ExerciseRole::Observer,
            },
        });
    std::iter::once(facilitator).chain(operators).collect()
}

#[cfg(test)]
mod exercise_tests;
#[cfg(test)]
mod tests;
