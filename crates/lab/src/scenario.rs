//! Scenarios: a narrative and timed injects (faults) played against a topology.
//!
//! Parsed from TOML (see `fixtures/scenarios/`); targets are resolved against the topology
//! at load time so that a typo fails before the drill starts, naming file and line.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use toml::Spanned;

use super::config_error::{ConfigError, one_line, parse_toml, printable_lines};
use super::topology::Topology;
use protocol::ReplicaRole;

/// Scenarios shipped inside the binary, by name.
const SHIPPED: &[(&str, &str)] = &[
    (
        "provider-outage",
        include_str!("../../../fixtures/scenarios/provider-outage.toml"),
    ),
    (
        "rate-limit-storm",
        include_str!("../../../fixtures/scenarios/rate-limit-storm.toml"),
    ),
    (
        "region-brownout",
        include_str!("../../../fixtures/scenarios/region-brownout.toml"),
    ),
    (
        "region-down",
        include_str!("../../../fixtures/scenarios/region-down.toml"),
    ),
    (
        "standby-not-warm",
        include_str!("../../../fixtures/scenarios/standby-not-warm.toml"),
    ),
];

/// Names of the scenarios built into the binary.
pub fn shipped_scenarios() -> Vec<&'static str> {
    SHIPPED.iter().map(|(name, _)| *name).collect()
}

/// Longest inject time or duration accepted: a drill, not a soak test.
const MAX_SECONDS: f64 = 24.0 * 3600.0;
const MAX_NARRATIVE_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub narrative: String,
    pub injects: Vec<Inject>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Inject {
    /// Simulated seconds after the start when the inject begins.
    pub at_s: f64,
    pub duration_s: f64,
    pub kind: InjectKind,
    /// The target as written in the file, for notices.
    pub target_label: String,
    pub target: InjectTarget,
    /// Strength, with the kind's default filled in; see `InjectKind::magnitude_rule`.
    pub magnitude: f64,
    pub narrative: String,
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
}

impl InjectKind {
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
            InjectKind::RegionDown | InjectKind::StandbyNotWarm => None,
        }
    }
}

/// What an inject acts on, resolved to topology indices.
#[derive(Debug, Clone, PartialEq)]
pub enum InjectTarget {
    Providers(Vec<usize>),
    Region(usize),
    /// (service index, replica index) pairs.
    Replicas(Vec<(usize, usize)>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    narrative: String,
    #[serde(rename = "inject")]
    injects: Spanned<Vec<RawInject>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInject {
    at: Spanned<String>,
    kind: Spanned<InjectKind>,
    target: Spanned<String>,
    duration: Spanned<String>,
    magnitude: Option<Spanned<f64>>,
    narrative: Option<Spanned<String>>,
}

impl Scenario {
    /// Loads a scenario from a file, or a shipped one by name when no such file exists.
    pub fn load(file_or_name: &Path, topology: &Topology) -> anyhow::Result<Scenario> {
        if file_or_name.exists() {
            let text = std::fs::read_to_string(file_or_name)
                .with_context(|| format!("cannot read scenario {}", file_or_name.display()))?;
            return Ok(Scenario::parse(
                &file_or_name.display().to_string(),
                &text,
                topology,
            )?);
        }
        let name = file_or_name.to_string_lossy();
        match SHIPPED.iter().find(|(shipped, _)| *shipped == name) {
            Some((shipped, text)) => {
                let file = format!("fixtures/scenarios/{shipped}.toml (embedded)");
                Ok(Scenario::parse(&file, text, topology)?)
            }
            None => bail!(
                "no scenario file {name:?}, and it is not a shipped scenario (shipped: {})",
                shipped_scenarios().join(", ")
            ),
        }
    }

    /// Parses and validates a scenario against `topology`; `file` only names it in errors.
    pub fn parse(file: &str, text: &str, topology: &Topology) -> Result<Scenario, ConfigError> {
        let raw: RawScenario = parse_toml(file, text)?;
        let error = |span: std::ops::Range<usize>, reason: String| {
            ConfigError::at(file, text, span, reason)
        };
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(error(
                raw.name.span(),
                "name must be 1-64 printable characters".into(),
            ));
        }
        if raw.injects.get_ref().is_empty() {
            return Err(error(
                raw.injects.span(),
                "a scenario needs at least one [[inject]]".into(),
            ));
        }
        let injects = raw
            .injects
            .get_ref()
            .iter()
            .map(|inject| resolve_inject(inject, topology, &error))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Scenario {
            name,
            description: one_line(&raw.description),
            narrative: printable_lines(&raw.narrative),
            injects,
        })
    }
}

fn resolve_inject(
    raw: &RawInject,
    topology: &Topology,
    error: &impl Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<Inject, ConfigError> {
    let at_s = parse_duration(raw.at.get_ref())
        .map_err(|reason| error(raw.at.span(), format!("at: {reason}")))?;
    let duration_s = parse_duration(raw.duration.get_ref())
        .map_err(|reason| error(raw.duration.span(), format!("duration: {reason}")))?;
    if duration_s <= 0.0 {
        return Err(error(
            raw.duration.span(),
            "duration must be longer than 0s".into(),
        ));
    }
    let kind = *raw.kind.get_ref();
    let magnitude = match (kind.magnitude_rule(), &raw.magnitude) {
        (None, None) => 0.0,
        (None, Some(given)) => {
            return Err(error(
                given.span(),
                "this kind of inject takes no magnitude".into(),
            ));
        }
        (Some((default, _, _)), None) => default,
        (Some((_, range, meaning)), Some(given)) => {
            let value = *given.get_ref();
            if !range.contains(&value) {
                return Err(error(
                    given.span(),
                    format!("magnitude must be {meaning}, not {value}"),
                ));
            }
            value
        }
    };
    let label = raw.target.get_ref().trim();
    let target =
        resolve_target(kind, label, topology).map_err(|reason| error(raw.target.span(), reason))?;
    let narrative = match &raw.narrative {
        Some(text) if text.get_ref().chars().count() > MAX_NARRATIVE_CHARS => {
            return Err(error(
                text.span(),
                format!("narrative is longer than {MAX_NARRATIVE_CHARS} characters"),
            ));
        }
        Some(text) => one_line(text.get_ref()),
        None => String::new(),
    };
    Ok(Inject {
        at_s,
        duration_s,
        kind,
        target_label: label.to_string(),
        target,
        magnitude,
        narrative,
    })
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
        InjectKind::StandbyNotWarm => {
            // A replica id `<service>@<region>`, or a service (all its standbys).
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

/// Parses "90s", "2m", "1m30s", "1h" into seconds.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let invalid = || format!("{text:?} is not a duration like 30s, 2m or 1m30s");
    if text.is_empty() {
        return Err(invalid());
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(invalid()),
        };
        let value: u64 = digits.parse().map_err(|_| invalid())?;
        total = value
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(invalid)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(invalid());
    }
    let seconds = total as f64;
    if seconds > MAX_SECONDS {
        return Err(format!("{text:?} is longer than 24h"));
    }
    Ok(seconds)
}

/// Formats seconds the way scenarios write them: "45s", "5m", "1m30s", "2h".
pub fn format_duration(seconds: f64) -> String {
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        Topology::embedded_default()
    }

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(parse_duration("30s"), Ok(30.0));
        assert_eq!(parse_duration("2m"), Ok(120.0));
        assert_eq!(parse_duration("1m30s"), Ok(90.0));
        assert_eq!(parse_duration("1h"), Ok(3600.0));
        assert_eq!(parse_duration("0s"), Ok(0.0));
        for bad in ["", "30", "3x", "m", "1.5m", "-1s", "25h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_duration(300.0), "5m");
        assert_eq!(format_duration(90.0), "1m30s");
        assert_eq!(format_duration(0.0), "0s");
        assert_eq!(format_duration(3605.0), "1h5s");
    }

    #[test]
    fn every_shipped_scenario_loads_against_the_default_topology() {
        let t = topology();
        for name in shipped_scenarios() {
            let scenario = Scenario::load(Path::new(name), &t).unwrap();
            assert_eq!(scenario.name, name);
            assert!(!scenario.narrative.is_empty(), "{name} has no narrative");
            // Each scenario must show something early in a drill.
            assert!(
                scenario.injects.iter().any(|i| i.at_s <= 30.0),
                "{name} starts late"
            );
        }
    }

    #[test]
    fn resolves_targets_by_provider_region_vendor_and_replica() {
        let t = topology();
        let parse = |kind: &str, target: &str| {
            let text = format!(
                "name = \"x\"\n[[inject]]\nat = \"1s\"\nkind = \"{kind}\"\ntarget = \"{target}\"\nduration = \"1m\"\n"
            );
            Scenario::parse("x.toml", &text, &t).map(|s| s.injects[0].target.clone())
        };
        let openai_east = t.provider_index("openai@us-east").unwrap();
        assert_eq!(
            parse("provider-outage", "openai@us-east"),
            Ok(InjectTarget::Providers(vec![openai_east]))
        );
        let InjectTarget::Providers(openai) = parse("rate-limit-storm", "openai").unwrap() else {
            panic!("vendor target is a set of providers")
        };
        assert_eq!(openai.len(), 3);
        let InjectTarget::Providers(eu) = parse("latency-brownout", "eu-west").unwrap() else {
            panic!("region target of a brownout is its providers")
        };
        assert!(
            eu.iter()
                .all(|&p| t.providers[p].region_index == t.region_index("eu-west").unwrap())
        );
        assert_eq!(
            parse("region-down", "ap-south"),
            Ok(InjectTarget::Region(3))
        );
        assert_eq!(
            parse("standby-not-warm", "credit-decision"),
            Ok(InjectTarget::Replicas(vec![(1, 1), (1, 2)]))
        );
        assert_eq!(
            parse("standby-not-warm", "credit-decision@us-west"),
            Ok(InjectTarget::Replicas(vec![(1, 1)]))
        );
        let err = parse("standby-not-warm", "credit-decision@us-east").unwrap_err();
        assert_eq!(err.line, 5, "{err}");
        assert!(parse("region-down", "openai@us-east").is_err());
    }

    #[test]
    fn errors_name_file_line_and_reason() {
        let t = topology();
        let cases = [
            ("at = \"soon\"", 3, "at: \"soon\" is not a duration"),
            ("kind = \"meteor\"", 4, "unknown variant"),
            ("target = \"mars\"", 5, "not a provider, region or vendor"),
            ("magnitude = 7.0", 7, "magnitude must be an error rate"),
        ];
        for (line, expected_line, expected) in cases {
            let mut lines = [
                "name = \"x\"",
                "[[inject]]",
                "at = \"1s\"",
                "kind = \"provider-outage\"",
                "target = \"openai@us-east\"",
                "duration = \"1m\"",
                "magnitude = 0.5",
            ];
            let key = line.split(' ').next().unwrap();
            let slot = lines.iter().position(|l| l.starts_with(key)).unwrap();
            lines[slot] = line;
            let err = Scenario::parse("s.toml", &lines.join("\n"), &t).unwrap_err();
            assert_eq!(
                (err.file.as_str(), err.line),
                ("s.toml", expected_line),
                "{err}"
            );
            assert!(err.reason.contains(expected), "{err}");
        }
    }

    #[test]
    fn loads_files_by_path_and_names_them_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drill.toml");
        let drill = |target: &str| {
            format!(
                "name = \"drill\"\n[[inject]]\nat = \"1s\"\nkind = \"region-down\"\ntarget = \"{target}\"\nduration = \"1m\"\n"
            )
        };
        std::fs::write(&path, drill("us-east")).unwrap();
        assert_eq!(Scenario::load(&path, &topology()).unwrap().name, "drill");
        std::fs::write(&path, drill("atlantis")).unwrap();
        let err = Scenario::load(&path, &topology()).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:5:", path.display())), "{err}");
    }

    #[test]
    fn unknown_scenario_name_lists_the_shipped_ones() {
        let err = Scenario::load(Path::new("no-such-drill"), &topology()).unwrap_err();
        assert!(err.to_string().contains("provider-outage"), "{err}");
    }
}
