//! The mutating commands of protocol v1: what each changes, its endpoint and its body.
//!
//! The console builds a [`Command`] from keys, the palette or the CLI and sends it with
//! [`Command::path`] and [`Command::body`]; the lab reads one back from a request with
//! [`Command::from_request`]. Both sides take the route from [`Verb::endpoint`].

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::commands::{
    BorrowRequest, BreakerAction, BreakerRequest, DegradeRequest, DrainRequest, PreflightSeen,
    PromoteRequest, ReturnRequest, StandbyRequest, UndrainRequest, WeightScope, WeightsRequest,
};
use crate::endpoints::{self, Endpoint};
use crate::readiness::{STANDBY_ROLES, standby_word};
use crate::request_body;
use crate::{DegradedModeKind, FleetSnapshot, ReplicaRole};

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
    /// Warm or cool a standby to `role`, for a while when `expires_in_s` says so.
    Standby {
        service: String,
        replica: String,
        role: ReplicaRole,
        expires_in_s: Option<u64>,
    },
    /// Borrow a replica of a shared pool into the service, as a standby of `role`.
    Borrow {
        service: String,
        pool: String,
        role: ReplicaRole,
    },
    /// Give a borrowed replica back to its pool.
    Return {
        service: String,
        replica: String,
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
            Command::Standby { role, .. } => format!("standby {}", standby_word(*role)),
            Command::Borrow { .. } => "borrow".into(),
            Command::Return { .. } => "return".into(),
        }
    }

    pub fn target_kind(&self) -> TargetKind {
        match self {
            Command::Drain { .. } | Command::Undrain { .. } => TargetKind::Region,
            Command::Breaker { .. } => TargetKind::Provider,
            Command::Promote { .. }
            | Command::Degrade { .. }
            | Command::Weights { .. }
            | Command::Standby { .. }
            | Command::Borrow { .. }
            | Command::Return { .. } => TargetKind::Service,
        }
    }

    /// Id of the object the command changes (the one `If-Match` guards).
    pub fn target_id(&self) -> &str {
        match self {
            Command::Promote { service, .. }
            | Command::Degrade { service, .. }
            | Command::Weights { service, .. }
            | Command::Standby { service, .. }
            | Command::Borrow { service, .. }
            | Command::Return { service, .. } => service,
            Command::Drain { region, .. } | Command::Undrain { region } => region,
            Command::Breaker { provider, .. } => provider,
        }
    }

    /// What the audit log and the confirmation name as the target.
    pub fn target_label(&self) -> String {
        match self {
            Command::Promote { service, replica }
            | Command::Standby {
                service, replica, ..
            }
            | Command::Return { service, replica } => format!("{service}/{replica}"),
            Command::Borrow { service, pool, .. } => format!("{service} from {pool}"),
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
            // Standbys and borrowed replicas take no traffic until someone promotes them.
            Command::Undrain { .. }
            | Command::Degrade { .. }
            | Command::Standby { .. }
            | Command::Borrow { .. }
            | Command::Return { .. } => false,
        }
    }

    pub fn expires_in_s(&self) -> Option<u64> {
        match self {
            Command::Drain { expires_in_s, .. }
            | Command::Breaker { expires_in_s, .. }
            | Command::Degrade { expires_in_s, .. }
            | Command::Standby { expires_in_s, .. } => *expires_in_s,
            Command::Promote { .. }
            | Command::Undrain { .. }
            | Command::Weights { .. }
            | Command::Borrow { .. }
            | Command::Return { .. } => None,
        }
    }

    /// Path of the protocol v1 endpoint, the target's id percent-encoded.
    pub fn path(&self) -> String {
        self.kind().endpoint().path_for(self.target_id())
    }

    /// JSON body of the request (see `api::commands`), with the operator's reason.
    pub fn body(&self, reason: &str) -> Value {
        self.body_with_preflight(reason, None)
    }

    /// [`Command::body`] carrying the preflight the sender saw and confirmed, when there is one.
    pub fn body_with_preflight(&self, reason: &str, preflight: Option<&PreflightSeen>) -> Value {
        let mut body = match self {
            Command::Promote { replica, .. } => json!({ "replica": replica }),
            Command::Drain { .. } | Command::Undrain { .. } => json!({}),
            Command::Breaker { action, .. } => json!({ "action": action }),
            Command::Degrade { mode, enabled, .. } => json!({ "mode": mode, "enabled": enabled }),
            Command::Weights { scope, weights, .. } => {
                json!({ "scope": scope, "weights": weights })
            }
            Command::Standby { replica, role, .. } => json!({ "replica": replica, "role": role }),
            Command::Borrow { pool, role, .. } => json!({ "pool": pool, "role": role }),
            Command::Return { replica, .. } => json!({ "replica": replica }),
        };
        body["reason"] = json!(reason);
        if let Some(expires) = self.expires_in_s() {
            body["expires_in_s"] = json!(expires);
        }
        if let Some(preflight) = preflight {
            body["preflight"] = json!(preflight);
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
                crate::duration::age(std::time::Duration::from_secs(expires))
            )?;
        }
        Ok(())
    }
}

/// The kinds of command: one endpoint each, named so by keys, the palette and the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Promote,
    Drain,
    Undrain,
    Breaker,
    Degrade,
    Weights,
    Standby,
    Borrow,
    Return,
}

impl Verb {
    pub const ALL: [Verb; 9] = [
        Verb::Promote,
        Verb::Drain,
        Verb::Undrain,
        Verb::Breaker,
        Verb::Degrade,
        Verb::Weights,
        Verb::Standby,
        Verb::Borrow,
        Verb::Return,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Verb::Promote => "promote",
            Verb::Drain => "drain",
            Verb::Undrain => "undrain",
            Verb::Breaker => "breaker",
            Verb::Degrade => "degrade",
            Verb::Weights => "weights",
            Verb::Standby => "standby",
            Verb::Borrow => "borrow",
            Verb::Return => "return",
        }
    }
}

impl Verb {
    /// The verb an audit log's `action` starts with: `breaker force-open` is [`Verb::Breaker`];
    /// `None` for actions that are no fleet command (`resolve approve`, `exercise start`).
    pub fn of_action(action: &str) -> Option<Verb> {
        let first = action.split_whitespace().next()?;
        Verb::ALL.into_iter().find(|verb| verb.word() == first)
    }
}

/// Every fleet command as the audit log's `action` writes it: `drain`, `breaker force-open`,
/// `degrade serve-cache on`, `standby warm`; for checking what a policy or a scenario names.
pub fn audit_actions() -> Vec<String> {
    let mut actions = Vec::new();
    for verb in Verb::ALL {
        match verb {
            Verb::Breaker => {
                actions.extend((BreakerAction::ALL.iter()).map(|a| format!("breaker {}", a.word())))
            }
            Verb::Degrade => {
                for mode in DegradedModeKind::ALL {
                    actions.push(format!("degrade {} on", mode.word()));
                    actions.push(format!("degrade {} off", mode.word()));
                }
            }
            Verb::Standby => actions.extend(
                (STANDBY_ROLES.into_iter()).map(|role| format!("standby {}", standby_word(role))),
            ),
            _ => actions.push(verb.word().to_string()),
        }
    }
    actions
}

/// Whether `named` (what a policy or an objective names) covers the audit action `done`: the
/// same words, or its first words (`breaker` covers `breaker force-open`; `drain` does not
/// cover `undrain`, nor `breaker force` `breaker force-open`).
pub fn action_covers(named: &str, done: &str) -> bool {
    let named = named.trim();
    done == named
        || done
            .strip_prefix(named)
            .is_some_and(|rest| rest.starts_with(' '))
}

impl Verb {
    /// The endpoint that carries this kind of command.
    pub fn endpoint(self) -> Endpoint {
        match self {
            Verb::Promote => endpoints::PROMOTE,
            Verb::Drain => endpoints::DRAIN,
            Verb::Undrain => endpoints::UNDRAIN,
            Verb::Breaker => endpoints::BREAKER,
            Verb::Degrade => endpoints::DEGRADE,
            Verb::Weights => endpoints::WEIGHTS,
            Verb::Standby => endpoints::STANDBY,
            Verb::Borrow => endpoints::BORROW,
            Verb::Return => endpoints::RETURN,
        }
    }
}

/// A command request as the lab reads it: the command, its reason (not yet checked) and the
/// preflight its sender saw, if it said.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandRequest {
    pub command: Command,
    pub reason: String,
    pub preflight: Option<PreflightSeen>,
}

impl Command {
    /// The command a request body asks for on target `id`.
    pub fn from_request(verb: Verb, id: &str, body: &[u8]) -> Result<CommandRequest, String> {
        fn read<T: DeserializeOwned>(verb: Verb, body: &[u8]) -> Result<T, String> {
            request_body::parse(&format!("{} request", verb.word()), body)
        }
        let id = id.to_string();
        let (command, reason, preflight) = match verb {
            Verb::Promote => {
                let request: PromoteRequest = read(verb, body)?;
                let command = Command::Promote {
                    service: id,
                    replica: request.replica,
                };
                (command, request.reason, request.preflight)
            }
            Verb::Drain => {
                let request: DrainRequest = read(verb, body)?;
                let command = Command::Drain {
                    region: id,
                    expires_in_s: request.expires_in_s,
                };
                (command, request.reason, request.preflight)
            }
            Verb::Undrain => {
                let request: UndrainRequest = read(verb, body)?;
                let command = Command::Undrain { region: id };
                (command, request.reason, request.preflight)
            }
            Verb::Breaker => {
                let request: BreakerRequest = read(verb, body)?;
                let command = Command::Breaker {
                    provider: id,
                    action: request.action,
                    expires_in_s: request.expires_in_s,
                };
                (command, request.reason, request.preflight)
            }
            Verb::Degrade => {
                let request: DegradeRequest = read(verb, body)?;
                let command = Command::Degrade {
                    service: id,
                    mode: request.mode,
                    enabled: request.enabled,
                    expires_in_s: request.expires_in_s,
                };
                (command, request.reason, request.preflight)
            }
            Verb::Weights => {
                let request: WeightsRequest = read(verb, body)?;
                let command = Command::Weights {
                    service: id,
                    scope: request.scope,
                    weights: request.weights,
                };
                (command, request.reason, request.preflight)
            }
            Verb::Standby => {
                let request: StandbyRequest = read(verb, body)?;
                let command = Command::Standby {
                    service: id,
                    replica: request.replica,
                    role: request.role,
                    expires_in_s: request.expires_in_s,
                };
                (command, request.reason, request.preflight)
            }
            Verb::Borrow => {
                let request: BorrowRequest = read(verb, body)?;
                let command = Command::Borrow {
                    service: id,
                    pool: request.pool,
                    role: request.role,
                };
                (command, request.reason, request.preflight)
            }
            Verb::Return => {
                let request: ReturnRequest = read(verb, body)?;
                let command = Command::Return {
                    service: id,
                    replica: request.replica,
                };
                (command, request.reason, request.preflight)
            }
        };
        Ok(CommandRequest {
            command,
            reason,
            preflight,
        })
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
            Command::Standby { .. } => Verb::Standby,
            Command::Borrow { .. } => Verb::Borrow,
            Command::Return { .. } => Verb::Return,
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
            Command::Standby { .. } => true,
            Command::Promote { .. }
            | Command::Undrain { .. }
            | Command::Weights { .. }
            | Command::Borrow { .. }
            | Command::Return { .. } => false,
        }
    }

    pub fn with_expiry(mut self, expires: Option<u64>) -> Command {
        match &mut self {
            Command::Drain { expires_in_s, .. }
            | Command::Breaker { expires_in_s, .. }
            | Command::Degrade { expires_in_s, .. }
            | Command::Standby { expires_in_s, .. } => *expires_in_s = expires,
            Command::Promote { .. }
            | Command::Undrain { .. }
            | Command::Weights { .. }
            | Command::Borrow { .. }
            | Command::Return { .. } => {}
        }
        self
    }
}
