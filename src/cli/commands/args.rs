//! The arguments of the fleet commands, and the [`Command`] they ask for.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::domain::command::{Command, parse_duration_s};
use protocol::commands::{BreakerAction, WeightScope};
use protocol::readiness::standby_role;
use protocol::{DegradedModeKind, ReplicaRole};

#[derive(clap::Subcommand, Clone, Debug, PartialEq)]
pub enum CommandArgs {
    /// Make a standby replica its service's active one (the active becomes a hot standby).
    Promote {
        service: String,
        replica: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Move a region's traffic to the other regions.
    Drain {
        region: String,
        /// Undrain by itself after this long (90s, 30m, 2h, 1h30m).
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration_s)]
        expires: Option<u64>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Let a drained region take its traffic again.
    Undrain {
        region: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Force a provider's breaker open, close it, or pin/unpin it against the automatic breaker.
    Breaker {
        provider: String,
        #[arg(value_name = "force-open|close|pin|unpin", value_parser = parse_breaker_action)]
        action: BreakerAction,
        /// For force-open and pin: revert by itself after this long.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration_s)]
        expires: Option<u64>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Turn a degraded mode of a service on or off.
    Degrade {
        service: String,
        #[arg(
            value_name = "serve-cache|fallback-model|queue-non-urgent|read-only|human-only",
            value_parser = parse_mode
        )]
        mode: DegradedModeKind,
        #[arg(value_name = "on|off", value_parser = parse_on_off, action = clap::ArgAction::Set)]
        state: bool,
        /// With `on`: turn it off by itself after this long.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration_s)]
        expires: Option<u64>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Spread a service's traffic by weights: across regions, or with --region across the
    /// providers of that region's gateway.
    Weights {
        service: String,
        /// KEY=WEIGHT,KEY=WEIGHT (region ids, or provider ids with --region); others keep theirs.
        #[arg(value_name = "KEY=W,KEY=W", value_parser = crate::domain::command::parse_weights)]
        weights: BTreeMap<String, f64>,
        /// Weigh the providers of this region's gateway instead of the regions.
        #[arg(long)]
        region: Option<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Warm a standby replica up (to warm, or --to hot) or cool it down (to cold, or --to
    /// warm); with --for it goes back to the role it had when the time is up.
    Standby {
        #[arg(value_name = "warm|cool", value_parser = parse_direction)]
        direction: Direction,
        /// The standby's id; its service is the part before `@` unless --service says.
        replica: String,
        #[arg(long)]
        service: Option<String>,
        /// The role to move it to.
        #[arg(long, value_name = "hot|warm|cold", value_parser = parse_role)]
        to: Option<ReplicaRole>,
        /// Go back to the role it had after this long (90s, 30m, 2h).
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration_s)]
        expires: Option<u64>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Borrow a replica from a shared pool into a service (`borrow POOL --service S`), or give
    /// a borrowed one back (`return REPLICA`).
    Pool {
        #[arg(value_name = "borrow|return", value_parser = parse_pool_action)]
        action: PoolAction,
        /// borrow: the pool's id; return: the borrowed replica's id.
        id: String,
        /// The service that borrows (needed by borrow); for return, the part of the replica's
        /// id before `@` unless given.
        #[arg(long)]
        service: Option<String>,
        /// borrow: the standby role it joins as (warm unless given).
        #[arg(long, value_name = "hot|warm|cold", value_parser = parse_role)]
        role: Option<ReplicaRole>,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// Which way `standby` turns the dial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Warm,
    Cool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolAction {
    Borrow,
    Return,
}

fn parse_direction(text: &str) -> Result<Direction, String> {
    match text {
        "warm" => Ok(Direction::Warm),
        "cool" => Ok(Direction::Cool),
        _ => Err(format!("{text:?}: use warm or cool")),
    }
}

fn parse_pool_action(text: &str) -> Result<PoolAction, String> {
    match text {
        "borrow" => Ok(PoolAction::Borrow),
        "return" => Ok(PoolAction::Return),
        _ => Err(format!("{text:?}: use borrow or return")),
    }
}

fn parse_role(text: &str) -> Result<ReplicaRole, String> {
    standby_role(text).ok_or_else(|| format!("{text:?}: use hot, warm or cold"))
}

/// The service a replica id names (`<service>@<where>`), unless `given`.
fn service_of(replica: &str, given: Option<String>) -> Result<String, String> {
    given
        .or_else(|| {
            replica
                .split_once('@')
                .map(|(service, _)| service.to_string())
        })
        .ok_or_else(|| format!("{replica:?} does not name its service: add --service"))
}

/// Options every command takes.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct CommonArgs {
    /// Why: recorded in the audit log with your name.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Send without asking for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Send even when the preflight refuses (overload, no path left).
    #[arg(long)]
    pub force: bool,
    /// Wait: for a command held for a second operator's approval, until it is decided (at
    /// most DURATION when given: 90s, 10m); for a promotion, until it finishes (exit 2 if it
    /// fails).
    #[arg(long, value_name = "DURATION", num_args = 0..=1, value_parser = parse_duration_s)]
    pub wait: Option<Option<u64>>,
}

fn parse_breaker_action(text: &str) -> Result<BreakerAction, String> {
    BreakerAction::ALL
        .into_iter()
        .find(|a| a.word() == text)
        .ok_or_else(|| format!("{text:?}: use force-open, close, pin or unpin"))
}

fn parse_mode(text: &str) -> Result<DegradedModeKind, String> {
    serde_json::from_value(Value::String(text.to_string())).map_err(|_| {
        format!(
            "{text:?}: use serve-cache, fallback-model, queue-non-urgent, read-only or human-only"
        )
    })
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{text:?}: use on or off")),
    }
}

impl CommandArgs {
    pub fn common(&self) -> &CommonArgs {
        match self {
            CommandArgs::Promote { common, .. }
            | CommandArgs::Drain { common, .. }
            | CommandArgs::Undrain { common, .. }
            | CommandArgs::Breaker { common, .. }
            | CommandArgs::Degrade { common, .. }
            | CommandArgs::Weights { common, .. }
            | CommandArgs::Standby { common, .. }
            | CommandArgs::Pool { common, .. } => common,
        }
    }

    /// The command these arguments ask for, or why they do not make one.
    pub fn command(&self) -> Result<Command, String> {
        let command = match self.clone() {
            CommandArgs::Promote {
                service, replica, ..
            } => Command::Promote { service, replica },
            CommandArgs::Drain {
                region, expires, ..
            } => Command::Drain {
                region,
                expires_in_s: expires,
            },
            CommandArgs::Undrain { region, .. } => Command::Undrain { region },
            CommandArgs::Breaker {
                provider,
                action,
                expires,
                ..
            } => Command::Breaker {
                provider,
                action,
                expires_in_s: expires,
            },
            CommandArgs::Degrade {
                service,
                mode,
                state,
                expires,
                ..
            } => Command::Degrade {
                service,
                mode,
                enabled: state,
                expires_in_s: expires,
            },
            CommandArgs::Weights {
                service,
                weights,
                region,
                ..
            } => Command::Weights {
                service,
                scope: match region {
                    Some(region) => WeightScope::Providers { region },
                    None => WeightScope::Regions,
                },
                weights,
            },
            CommandArgs::Standby {
                direction,
                replica,
                service,
                to,
                expires,
                ..
            } => {
                let role = match (direction, to) {
                    (Direction::Warm, None) => ReplicaRole::WarmStandby,
                    (Direction::Cool, None) => ReplicaRole::ColdStandby,
                    (Direction::Warm, Some(ReplicaRole::ColdStandby)) => {
                        return Err("warm goes to warm or hot: use cool for cold".into());
                    }
                    (Direction::Cool, Some(ReplicaRole::HotStandby)) => {
                        return Err("cool goes to warm or cold: use warm for hot".into());
                    }
                    (_, Some(role)) => role,
                };
                Command::Standby {
                    service: service_of(&replica, service)?,
                    replica,
                    role,
                    expires_in_s: expires,
                }
            }
            CommandArgs::Pool {
                action: PoolAction::Borrow,
                id,
                service,
                role,
                ..
            } => Command::Borrow {
                service: service.ok_or("borrow needs --service: the service that borrows")?,
                pool: id,
                role: role.unwrap_or(ReplicaRole::WarmStandby),
            },
            CommandArgs::Pool {
                action: PoolAction::Return,
                id,
                service,
                role,
                ..
            } => {
                if role.is_some() {
                    return Err("--role applies to borrow only".into());
                }
                Command::Return {
                    service: service_of(&id, service)?,
                    replica: id,
                }
            }
        };
        if command.expires_in_s().is_some() && !command.can_expire() {
            return Err(format!("--for does not apply to {}", command.verb()));
        }
        if self.common().reason.trim().is_empty() {
            return Err("--reason must say why".into());
        }
        Ok(command)
    }
}
