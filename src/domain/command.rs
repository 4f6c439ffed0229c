//! The mutating actions an operator can take on the fleet, independent of how they are
//! asked for (console keys, palette, CLI) and of how they travel (protocol v1 POSTs).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value, json};

use crate::api::commands::{BreakerAction, WeightScope};
use crate::api::{DegradedModeKind, FleetSnapshot};

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Promote {
        service: String,
        replica: String,
    },
    Drain {
        region: String,
        expires_in_s: Option<u64>,
    },
    Undrain {
        region: String,
    },
    Breaker {
        provider: String,
        action: BreakerAction,
        expires_in_s: Option<u64>,
    },
    Degrade {
        service: String,
        mode: DegradedModeKind,
        enabled: bool,
        expires_in_s: Option<u64>,
    },
    Weights {
        service: String,
        scope: WeightScope,
        weights: BTreeMap<String, f64>,
    },
}

/// The kind of object a command changes; its control revision goes in `If-Match`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Region,
    Provider,
    Service,
}

impl Command {
    /// Short name, as in the palette and the audit log's `action`.
    pub fn verb(&self) -> String {
        match self {
            Command::Promote { .. } => "promote".into(),
            Command::Drain { .. } => "drain".into(),
            Command::Undrain { .. } => "undrain".into(),
            Command::Breaker { action, .. } => format!("breaker {}", action.word()),
            Command::Degrade { mode, enabled, .. } => {
                format!(
                    "degrade {} {}",
                    mode.word(),
                    if *enabled { "on" } else { "off" }
                )
            }
            Command::Weights { .. } => "weights".into(),
        }
    }

    pub fn target_kind(&self) -> TargetKind {
        match self {
            Command::Drain { .. } | Command::Undrain { .. } => TargetKind::Region,
            Command::Breaker { .. } => TargetKind::Provider,
            Command::Promote { .. } | Command::Degrade { .. } | Command::Weights { .. } => {
                TargetKind::Service
            }
        }
    }

    /// Id of the object the command changes (the one `If-Match` guards).
    pub fn target_id(&self) -> &str {
        match self {
            Command::Promote { service, .. }
            | Command::Degrade { service, .. }
            | Command::Weights { service, .. } => service,
            Command::Drain { region, .. } | Command::Undrain { region } => region,
            Command::Breaker { provider, .. } => provider,
        }
    }

    /// What the audit log and the confirmation name as the target.
    pub fn target_label(&self) -> String {
        match self {
            Command::Promote { service, replica } => format!("{service}/{replica}"),
            Command::Weights {
                service,
                scope: WeightScope::Providers { region },
                ..
            } => format!("{service}@{region}"),
            other => other.target_id().to_string(),
        }
    }

    /// Whether the command moves traffic, so its preflight must check where it lands.
    pub fn moves_traffic(&self) -> bool {
        match self {
            Command::Promote { .. } | Command::Drain { .. } | Command::Weights { .. } => true,
            Command::Breaker { action, .. } => *action == BreakerAction::ForceOpen,
            Command::Undrain { .. } | Command::Degrade { .. } => false,
        }
    }

    pub fn expires_in_s(&self) -> Option<u64> {
        match self {
            Command::Drain { expires_in_s, .. }
            | Command::Breaker { expires_in_s, .. }
            | Command::Degrade { expires_in_s, .. } => *expires_in_s,
            Command::Promote { .. } | Command::Undrain { .. } | Command::Weights { .. } => None,
        }
    }

    /// Path of the protocol v1 endpoint, ids percent-encoded.
    pub fn path(&self) -> String {
        let id = encode(self.target_id());
        match self {
            Command::Promote { .. } => format!("/v1/services/{id}/promote"),
            Command::Drain { .. } => format!("/v1/regions/{id}/drain"),
            Command::Undrain { .. } => format!("/v1/regions/{id}/undrain"),
            Command::Breaker { .. } => format!("/v1/providers/{id}/breaker"),
            Command::Degrade { .. } => format!("/v1/services/{id}/degraded-modes"),
            Command::Weights { .. } => format!("/v1/services/{id}/weights"),
        }
    }

    /// JSON body of the request (see `api::commands`), with the operator's reason.
    pub fn body(&self, reason: &str) -> Value {
        let mut body = match self {
            Command::Promote { replica, .. } => json!({ "replica": replica }),
            Command::Drain { .. } | Command::Undrain { .. } => json!({}),
            Command::Breaker { action, .. } => json!({ "action": action }),
            Command::Degrade { mode, enabled, .. } => json!({ "mode": mode, "enabled": enabled }),
            Command::Weights { scope, weights, .. } => {
                json!({ "scope": scope, "weights": weights })
            }
        };
        body["reason"] = json!(reason);
        if let Some(expires) = self.expires_in_s() {
            body["expires_in_s"] = json!(expires);
        }
        body
    }

    /// The target's control revision in `snapshot`, for `If-Match`; `None` when the target is unknown.
    pub fn control_revision(&self, snapshot: &FleetSnapshot) -> Option<u64> {
        let id = self.target_id();
        match self.target_kind() {
            TargetKind::Region => snapshot
                .regions
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.control_revision),
            TargetKind::Provider => snapshot
                .providers
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.control_revision),
            TargetKind::Service => snapshot
                .services
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.control_revision),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb(), self.target_label())?;
        if let Command::Weights { weights, .. } = self {
            let spread: Vec<String> = weights.iter().map(|(k, w)| format!("{k}={w}")).collect();
            write!(f, " ({})", spread.join(", "))?;
        }
        if let Some(expires) = self.expires_in_s() {
            write!(
                f,
                " for {}",
                crate::views::format::age(std::time::Duration::from_secs(expires))
            )?;
        }
        Ok(())
    }
}

/// Percent-encodes a path segment (ids are `[A-Za-z0-9._@-]` in practice; anything else is escaped).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Parses a duration as operators type it: `90s`, `30m`, `2h`, `1h30m`, or plain seconds.
pub fn parse_duration_s(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "{text:?} is not a duration (use e.g. 90s, 30m, 2h, 1h30m)"
                ));
            }
        };
        let value: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration (a number must come before {c:?})"))?;
        total = total.saturating_add(value.saturating_mul(unit));
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(format!(
            "{text:?} is not a duration (use e.g. 90s, 30m, 2h, 1h30m)"
        ));
    }
    Ok(total)
}

/// The kinds of command, as keys and the palette name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Promote,
    Drain,
    Undrain,
    Breaker,
    Degrade,
    Weights,
}

impl Verb {
    pub const ALL: [Verb; 6] = [
        Verb::Promote,
        Verb::Drain,
        Verb::Undrain,
        Verb::Breaker,
        Verb::Degrade,
        Verb::Weights,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Verb::Promote => "promote",
            Verb::Drain => "drain",
            Verb::Undrain => "undrain",
            Verb::Breaker => "breaker",
            Verb::Degrade => "degrade",
            Verb::Weights => "weights",
        }
    }

    /// How the palette shows the arguments it takes.
    pub fn usage(self) -> &'static str {
        match self {
            Verb::Promote => "promote SERVICE REPLICA",
            Verb::Drain => "drain REGION [FOR]",
            Verb::Undrain => "undrain REGION",
            Verb::Breaker => "breaker PROVIDER force-open|close|pin|unpin [FOR]",
            Verb::Degrade => "degrade SERVICE MODE on|off [FOR]",
            Verb::Weights => "weights SERVICE KEY=W,KEY=W [REGION]",
        }
    }
}

impl Command {
    pub fn kind(&self) -> Verb {
        match self {
            Command::Promote { .. } => Verb::Promote,
            Command::Drain { .. } => Verb::Drain,
            Command::Undrain { .. } => Verb::Undrain,
            Command::Breaker { .. } => Verb::Breaker,
            Command::Degrade { .. } => Verb::Degrade,
            Command::Weights { .. } => Verb::Weights,
        }
    }

    /// Whether the command can carry an expiry after which it reverts by itself.
    pub fn can_expire(&self) -> bool {
        match self {
            Command::Drain { .. } => true,
            Command::Breaker { action, .. } => {
                matches!(action, BreakerAction::ForceOpen | BreakerAction::Pin)
            }
            Command::Degrade { enabled, .. } => *enabled,
            Command::Promote { .. } | Command::Undrain { .. } | Command::Weights { .. } => false,
        }
    }

    pub fn with_expiry(mut self, expires: Option<u64>) -> Command {
        match &mut self {
            Command::Drain { expires_in_s, .. }
            | Command::Breaker { expires_in_s, .. }
            | Command::Degrade { expires_in_s, .. } => *expires_in_s = expires,
            Command::Promote { .. } | Command::Undrain { .. } | Command::Weights { .. } => {}
        }
        self
    }
}

/// What is selected on screen, as commands see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Region(String),
    Provider(String),
    Service(String),
}

impl Target {
    fn region_id(&self) -> Option<&str> {
        if let Target::Region(id) = self {
            Some(id)
        } else {
            None
        }
    }

    fn provider_id(&self) -> Option<&str> {
        if let Target::Provider(id) = self {
            Some(id)
        } else {
            None
        }
    }

    fn service_id(&self) -> Option<&str> {
        if let Target::Service(id) = self {
            Some(id)
        } else {
            None
        }
    }
}

/// The commands that make sense for `target` in its current state, in menu order.
pub fn commands_for(target: &Target, snapshot: &FleetSnapshot) -> Vec<Command> {
    match target {
        Target::Region(id) => {
            let Some(region) = snapshot.regions.iter().find(|r| &r.id == id) else {
                return Vec::new();
            };
            if region.drain.is_some() {
                vec![Command::Undrain { region: id.clone() }]
            } else {
                vec![Command::Drain {
                    region: id.clone(),
                    expires_in_s: None,
                }]
            }
        }
        Target::Provider(id) => {
            let Some(provider) = snapshot.providers.iter().find(|p| &p.id == id) else {
                return Vec::new();
            };
            let breaker = |action| Command::Breaker {
                provider: id.clone(),
                action,
                expires_in_s: None,
            };
            let mut out = Vec::new();
            if provider.quarantine.is_none() {
                out.push(breaker(BreakerAction::ForceOpen));
            }
            if provider.quarantine.is_some()
                || provider.breaker.state != crate::api::BreakerState::Closed
            {
                out.push(breaker(BreakerAction::Close));
            }
            out.push(breaker(if provider.pinned.is_some() {
                BreakerAction::Unpin
            } else {
                BreakerAction::Pin
            }));
            out
        }
        Target::Service(id) => {
            let Some(service) = snapshot.services.iter().find(|s| &s.id == id) else {
                return Vec::new();
            };
            let mut out: Vec<Command> = service
                .replicas
                .iter()
                .filter(|r| r.role.is_standby())
                .map(|r| Command::Promote {
                    service: id.clone(),
                    replica: r.id.clone(),
                })
                .collect();
            for mode in DEGRADED_MODES {
                let enabled = !service.degraded_modes.iter().any(|m| m.mode == mode);
                out.push(Command::Degrade {
                    service: id.clone(),
                    mode,
                    enabled,
                    expires_in_s: None,
                });
            }
            out.push(Command::Weights {
                service: id.clone(),
                scope: WeightScope::Regions,
                weights: region_weights(service),
            });
            out
        }
    }
}

const DEGRADED_MODES: [DegradedModeKind; 5] = [
    DegradedModeKind::ServeCache,
    DegradedModeKind::FallbackModel,
    DegradedModeKind::QueueNonUrgent,
    DegradedModeKind::ReadOnly,
    DegradedModeKind::HumanOnly,
];

/// The service's region weights as they stand: the operator's, else what the fleet uses
/// when no one has set any, each region's replica capacity (rps).
pub fn region_weights(service: &crate::api::Service) -> BTreeMap<String, f64> {
    if !service.region_weights.is_empty() {
        return service.region_weights.clone();
    }
    let mut weights = BTreeMap::new();
    for replica in &service.replicas {
        *weights.entry(replica.region.clone()).or_insert(0.0) += replica.capacity_rps;
    }
    weights
}

/// Parses `key=weight,key=weight`.
pub fn parse_weights(text: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut weights = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?}: write KEY=WEIGHT"))?;
        let weight: f64 = value
            .trim()
            .parse()
            .map_err(|_| format!("{pair:?}: the weight must be a number"))?;
        if !weight.is_finite() || weight < 0.0 {
            return Err(format!("{pair:?}: weights are numbers of 0 or more"));
        }
        weights.insert(key.trim().to_string(), weight);
    }
    // Zeros alone are fine: keys left out keep their weights, and the preflight (and the
    // server) say when nothing would be left to route to.
    if weights.is_empty() {
        return Err("give KEY=WEIGHT pairs, e.g. us-east=2,eu-west=1".into());
    }
    Ok(weights)
}

/// Parses a command typed in the palette (`drain eu-west 30m`); the selection fills in a
/// missing target.
pub fn parse(verb: Verb, args: &[&str], selected: Option<&Target>) -> Result<Command, String> {
    let usage = || format!("usage: {}", verb.usage());
    let selected_id =
        |want: fn(&Target) -> Option<&str>| selected.and_then(want).map(str::to_string);
    // The first argument is the target unless the selection provides it and the argument is not one.
    let take_target =
        |args: &[&str], fallback: Option<String>, looks_like_arg: &dyn Fn(&str) -> bool| match args
            .first()
        {
            Some(first) if !looks_like_arg(first) || fallback.is_none() => {
                Some(((*first).to_string(), 1))
            }
            _ => fallback.map(|id| (id, 0)),
        };
    let expiry = |arg: Option<&&str>| arg.map(|a| parse_duration_s(a)).transpose();
    match verb {
        Verb::Drain | Verb::Undrain => {
            let looks_like_duration = |a: &str| parse_duration_s(a).is_ok();
            let (region, used) =
                take_target(args, selected_id(Target::region_id), &looks_like_duration)
                    .ok_or_else(usage)?;
            if verb == Verb::Undrain {
                return Ok(Command::Undrain { region });
            }
            Ok(Command::Drain {
                region,
                expires_in_s: expiry(args.get(used))?,
            })
        }
        Verb::Breaker => {
            let is_action = |a: &str| BreakerAction::ALL.iter().any(|b| b.word() == a);
            let (provider, used) = take_target(args, selected_id(Target::provider_id), &is_action)
                .ok_or_else(usage)?;
            let word = args.get(used).ok_or_else(usage)?;
            let action = *BreakerAction::ALL
                .iter()
                .find(|b| b.word() == *word)
                .ok_or_else(usage)?;
            Ok(Command::Breaker {
                provider,
                action,
                expires_in_s: expiry(args.get(used + 1))?,
            })
        }
        Verb::Promote => match args {
            [service, replica] => Ok(Command::Promote {
                service: service.to_string(),
                replica: replica.to_string(),
            }),
            [replica] => {
                let service = selected_id(Target::service_id).ok_or_else(usage)?;
                Ok(Command::Promote {
                    service,
                    replica: replica.to_string(),
                })
            }
            _ => Err(usage()),
        },
        Verb::Degrade => {
            let is_mode = |a: &str| DEGRADED_MODES.iter().any(|m| m.word() == a);
            let (service, used) =
                take_target(args, selected_id(Target::service_id), &is_mode).ok_or_else(usage)?;
            let mode_word = args.get(used).ok_or_else(usage)?;
            let mode = *DEGRADED_MODES
                .iter()
                .find(|m| m.word() == *mode_word)
                .ok_or_else(|| {
                    let modes: Vec<&str> = DEGRADED_MODES.iter().map(|m| m.word()).collect();
                    format!("unknown mode {mode_word:?}; modes: {}", modes.join(", "))
                })?;
            let enabled = match args.get(used + 1).copied() {
                Some("on") => true,
                Some("off") => false,
                _ => return Err(usage()),
            };
            Ok(Command::Degrade {
                service,
                mode,
                enabled,
                expires_in_s: expiry(args.get(used + 2))?,
            })
        }
        Verb::Weights => {
            let is_weights = |a: &str| a.contains('=');
            let (service, used) = take_target(args, selected_id(Target::service_id), &is_weights)
                .ok_or_else(usage)?;
            let weights = parse_weights(args.get(used).ok_or_else(usage)?)?;
            let scope = match args.get(used + 1) {
                Some(region) => WeightScope::Providers {
                    region: region.to_string(),
                },
                None => WeightScope::Regions,
            };
            Ok(Command::Weights {
                service,
                scope,
                weights,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_bodies_follow_the_protocol() {
        let drain = Command::Drain {
            region: "us-east".into(),
            expires_in_s: Some(1800),
        };
        assert_eq!(drain.path(), "/v1/regions/us-east/drain");
        assert_eq!(
            drain.body("brownout"),
            json!({"reason": "brownout", "expires_in_s": 1800})
        );
        let breaker = Command::Breaker {
            provider: "openai@us-east".into(),
            action: BreakerAction::ForceOpen,
            expires_in_s: None,
        };
        assert_eq!(breaker.path(), "/v1/providers/openai@us-east/breaker");
        assert_eq!(
            breaker.body("503s"),
            json!({"action": "force-open", "reason": "503s"})
        );
        let weights = Command::Weights {
            service: "risk-scorer".into(),
            scope: WeightScope::Regions,
            weights: BTreeMap::from([("us-east".into(), 2.0), ("eu-west".into(), 1.0)]),
        };
        assert_eq!(
            weights.body("shift"),
            json!({"scope": {"kind": "regions"}, "weights": {"eu-west": 1.0, "us-east": 2.0}, "reason": "shift"})
        );
        assert_eq!(
            weights.to_string(),
            "weights risk-scorer (eu-west=1, us-east=2)"
        );
        assert_eq!(
            Command::Undrain {
                region: "a/b".into()
            }
            .path(),
            "/v1/regions/a%2Fb/undrain"
        );
    }

    #[test]
    fn control_revisions_come_from_the_target() {
        let mut snapshot = crate::testing::small_fleet();
        snapshot.services[1].control_revision = 12;
        let degrade = Command::Degrade {
            service: "credit-decision".into(),
            mode: DegradedModeKind::ServeCache,
            enabled: false,
            expires_in_s: None,
        };
        assert_eq!(degrade.control_revision(&snapshot), Some(12));
        assert_eq!(
            Command::Undrain {
                region: "nowhere".into()
            }
            .control_revision(&snapshot),
            None
        );
    }

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(parse_duration_s("90"), Ok(90));
        assert_eq!(parse_duration_s("90s"), Ok(90));
        assert_eq!(parse_duration_s("30m"), Ok(1800));
        assert_eq!(parse_duration_s("1h30m"), Ok(5400));
        assert!(parse_duration_s("soon").is_err());
        assert!(parse_duration_s("30x").is_err());
        assert!(parse_duration_s("0s").is_err());
        assert!(parse_duration_s("m").is_err());
    }

    #[test]
    fn menus_offer_what_fits_the_state() {
        let snapshot = crate::testing::small_fleet();
        let region = commands_for(&Target::Region("us-east".into()), &snapshot);
        assert_eq!(
            region,
            vec![Command::Drain {
                region: "us-east".into(),
                expires_in_s: None
            }]
        );
        let provider: Vec<String> =
            commands_for(&Target::Provider("openai@eu-west".into()), &snapshot)
                .iter()
                .map(Command::verb)
                .collect();
        assert_eq!(
            provider,
            vec!["breaker force-open", "breaker close", "breaker pin"]
        );
        let service: Vec<String> =
            commands_for(&Target::Service("credit-decision".into()), &snapshot)
                .iter()
                .map(|c| c.to_string())
                .collect();
        assert_eq!(
            service[0],
            "promote credit-decision/credit-decision-eu-west"
        );
        // serve-cache is on already, so the menu offers to turn it off.
        assert!(
            service.contains(&"degrade serve-cache off credit-decision".to_string()),
            "{service:?}"
        );
        assert!(
            service.contains(&"degrade human-only on credit-decision".to_string()),
            "{service:?}"
        );
        assert!(
            service
                .last()
                .unwrap()
                .starts_with("weights credit-decision")
        );
    }

    #[test]
    fn palette_arguments_parse_with_the_selection_as_default_target() {
        let selected = Target::Region("eu-west".into());
        assert_eq!(
            parse(Verb::Drain, &["30m"], Some(&selected)),
            Ok(Command::Drain {
                region: "eu-west".into(),
                expires_in_s: Some(1800)
            })
        );
        assert_eq!(
            parse(Verb::Drain, &["us-east"], Some(&selected)),
            Ok(Command::Drain {
                region: "us-east".into(),
                expires_in_s: None
            })
        );
        let provider = Target::Provider("openai@us-east".into());
        assert_eq!(
            parse(Verb::Breaker, &["force-open", "10m"], Some(&provider)),
            Ok(Command::Breaker {
                provider: "openai@us-east".into(),
                action: BreakerAction::ForceOpen,
                expires_in_s: Some(600)
            })
        );
        assert_eq!(
            parse(
                Verb::Degrade,
                &["credit-decision", "serve-cache", "on"],
                None
            ),
            Ok(Command::Degrade {
                service: "credit-decision".into(),
                mode: DegradedModeKind::ServeCache,
                enabled: true,
                expires_in_s: None
            })
        );
        assert!(
            parse(
                Verb::Degrade,
                &["credit-decision", "warp-drive", "on"],
                None
            )
            .unwrap_err()
            .contains("unknown mode")
        );
        assert!(
            parse(Verb::Promote, &[], None)
                .unwrap_err()
                .starts_with("usage: promote")
        );
        assert_eq!(
            parse(Verb::Weights, &["risk-scorer", "us-east=2,eu-west=1"], None)
                .map(|c| c.to_string()),
            Ok("weights risk-scorer (eu-west=1, us-east=2)".to_string())
        );
        assert_eq!(parse_weights("us-east=0").map(|w| w["us-east"]), Ok(0.0));
        assert!(parse_weights("").is_err());
        assert!(parse_weights("us-east=-1").is_err());
    }
}
