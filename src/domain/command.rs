//! The operator's side of commands: which fit a selection, and how the palette's words
//! become one. The commands themselves, their endpoints and bodies are protocol v1's
//! ([`protocol::command`]).

use std::collections::BTreeMap;

use protocol::commands::{BreakerAction, WeightScope};
use protocol::readiness::{next_role, standby_role};
use protocol::{DegradedModeKind, FleetSnapshot, ReplicaRole};

pub use protocol::command::{Command, TargetKind, Verb};
pub use protocol::duration::parse_duration_s;

/// A duration written back as operators type it, exactly (`30m`, `1h30m`, `1m30s`), so that
/// [`parse_duration_s`] reads the same number of seconds from it.
pub fn duration_text(seconds: u64) -> String {
    let units = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)];
    let mut rest = seconds;
    let mut text = String::new();
    for (unit, size) in units {
        if rest >= size {
            text.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    if text.is_empty() { "0s".into() } else { text }
}

/// How the palette shows the arguments a verb takes.
pub fn usage(verb: Verb) -> &'static str {
    match verb {
        Verb::Promote => "promote SERVICE REPLICA",
        Verb::Drain => "drain REGION [FOR]",
        Verb::Undrain => "undrain REGION",
        Verb::Breaker => "breaker PROVIDER force-open|close|pin|unpin [FOR]",
        Verb::Degrade => "degrade SERVICE MODE on|off [FOR]",
        Verb::Weights => "weights SERVICE KEY=W,KEY=W [REGION]",
        Verb::Standby => "standby SERVICE REPLICA hot|warm|cold [FOR]",
        Verb::Borrow => "borrow SERVICE POOL [hot|warm|cold]",
        Verb::Return => "return SERVICE REPLICA",
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
                || provider.breaker.state != protocol::BreakerState::Closed
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
            out.extend(adaptive_commands(service, snapshot));
            out
        }
    }
}

/// Warm or cool each standby one step, borrow from each pool with a replica free (as a warm
/// standby), give back each borrowed standby.
fn adaptive_commands(service: &protocol::Service, snapshot: &FleetSnapshot) -> Vec<Command> {
    let id = &service.id;
    let mut out = Vec::new();
    for replica in service.replicas.iter().filter(|r| r.role.is_standby()) {
        for warmer in [true, false] {
            if let Some(role) = next_role(replica.role, warmer) {
                out.push(Command::Standby {
                    service: id.clone(),
                    replica: replica.id.clone(),
                    role,
                    expires_in_s: None,
                });
            }
        }
    }
    for pool in snapshot.pools.iter().filter(|p| p.free() > 0) {
        out.push(Command::Borrow {
            service: id.clone(),
            pool: pool.id.clone(),
            role: ReplicaRole::WarmStandby,
        });
    }
    for replica in service.replicas.iter() {
        if replica.pool.is_some() && replica.role.is_standby() {
            out.push(Command::Return {
                service: id.clone(),
                replica: replica.id.clone(),
            });
        }
    }
    out
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
pub fn region_weights(service: &protocol::Service) -> BTreeMap<String, f64> {
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
    let usage = || format!("usage: {}", usage(verb));
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
        Verb::Standby => {
            let role_of = |word: &str| {
                standby_role(word).ok_or_else(|| format!("{word:?}: write hot, warm or cold"))
            };
            let (service, used) = match args {
                [_, _, word, ..] if standby_role(word).is_some() => (args[0].to_string(), 1),
                _ => (selected_id(Target::service_id).ok_or_else(usage)?, 0),
            };
            let replica = args.get(used).ok_or_else(usage)?.to_string();
            let role = role_of(args.get(used + 1).ok_or_else(usage)?)?;
            Ok(Command::Standby {
                service,
                replica,
                role,
                expires_in_s: expiry(args.get(used + 2))?,
            })
        }
        Verb::Borrow => {
            let (service, used) = match args {
                [_, second, ..] if standby_role(second).is_none() => (args[0].to_string(), 1),
                _ => (selected_id(Target::service_id).ok_or_else(usage)?, 0),
            };
            let pool = args.get(used).ok_or_else(usage)?.to_string();
            let role = match args.get(used + 1) {
                Some(word) => standby_role(word)
                    .ok_or_else(|| format!("{word:?}: write hot, warm or cold"))?,
                None => ReplicaRole::WarmStandby,
            };
            Ok(Command::Borrow {
                service,
                pool,
                role,
            })
        }
        Verb::Return => match args {
            [service, replica] => Ok(Command::Return {
                service: service.to_string(),
                replica: replica.to_string(),
            }),
            [replica] => Ok(Command::Return {
                service: selected_id(Target::service_id).ok_or_else(usage)?,
                replica: replica.to_string(),
            }),
            _ => Err(usage()),
        },
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
    use serde_json::json;

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
    fn durations_are_written_back_as_they_are_read() {
        for (seconds, text) in [(90, "1m30s"), (1800, "30m"), (3600, "1h"), (5400, "1h30m")] {
            assert_eq!(duration_text(seconds), text);
            assert_eq!(parse_duration_s(text), Ok(seconds));
        }
        assert_eq!(duration_text(90_061), "1d1h1m1s");
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
        let weights = service
            .iter()
            .position(|c| c.starts_with("weights credit-decision"))
            .unwrap();
        // Then each standby a step warmer or cooler (this fleet has no pools).
        assert!(service.len() > weights + 1, "{service:?}");
        assert!(
            service[weights + 1..]
                .iter()
                .all(|c| c.starts_with("standby ")),
            "{service:?}"
        );
    }

    #[test]
    fn menus_offer_to_warm_cool_borrow_and_give_back() {
        let mut snapshot = crate::testing::default_fleet();
        snapshot.pools.push(protocol::readiness::Pool {
            id: "shared-us-west".into(),
            region: "us-west".into(),
            size: 1,
            cost_per_hour: 12.0,
            lend_s: 90.0,
            capacity_rps: 60.0,
            loans: Vec::new(),
        });
        let service: Vec<String> =
            commands_for(&Target::Service("credit-decision".into()), &snapshot)
                .iter()
                .filter(|c| matches!(c.kind(), Verb::Standby | Verb::Borrow | Verb::Return))
                .map(|c| c.to_string())
                .collect();
        assert_eq!(
            service,
            [
                "standby warm credit-decision/credit-decision@us-west",
                "borrow credit-decision from shared-us-west",
            ]
        );
        let mut borrowed = snapshot.clone();
        let credit = &mut borrowed.services[1];
        let mut replica = credit.replicas[1].clone();
        replica.id = "credit-decision@shared-us-west-1".into();
        replica.pool = Some("shared-us-west".into());
        credit.replicas.push(replica);
        let commands = commands_for(&Target::Service("credit-decision".into()), &borrowed);
        assert!(commands.contains(&Command::Return {
            service: "credit-decision".into(),
            replica: "credit-decision@shared-us-west-1".into(),
        }));
    }

    #[test]
    fn adaptive_commands_parse_with_the_selection_as_default_service() {
        let selected = Target::Service("credit-decision".into());
        let warm = Command::Standby {
            service: "credit-decision".into(),
            replica: "credit-decision@eu-west".into(),
            role: ReplicaRole::HotStandby,
            expires_in_s: Some(7200),
        };
        assert_eq!(
            parse(
                Verb::Standby,
                &["credit-decision@eu-west", "hot", "2h"],
                Some(&selected)
            ),
            Ok(warm.clone())
        );
        assert_eq!(
            parse(
                Verb::Standby,
                &["credit-decision", "credit-decision@eu-west", "hot", "2h"],
                None
            ),
            Ok(warm)
        );
        assert_eq!(
            parse(
                Verb::Standby,
                &["credit-decision@eu-west", "tepid"],
                Some(&selected)
            ),
            Err("\"tepid\": write hot, warm or cold".into())
        );
        assert_eq!(
            parse(Verb::Borrow, &["shared-us-west"], Some(&selected)),
            Ok(Command::Borrow {
                service: "credit-decision".into(),
                pool: "shared-us-west".into(),
                role: ReplicaRole::WarmStandby,
            })
        );
        assert_eq!(
            parse(
                Verb::Borrow,
                &["risk-scorer", "shared-us-west", "cold"],
                None
            ),
            Ok(Command::Borrow {
                service: "risk-scorer".into(),
                pool: "shared-us-west".into(),
                role: ReplicaRole::ColdStandby,
            })
        );
        assert_eq!(
            parse(
                Verb::Return,
                &["credit-decision@shared-us-west-1"],
                Some(&selected)
            ),
            Ok(Command::Return {
                service: "credit-decision".into(),
                replica: "credit-decision@shared-us-west-1".into(),
            })
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
