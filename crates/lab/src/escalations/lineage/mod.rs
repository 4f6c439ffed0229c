//! Lineages of escalated tasks: what the workflow tried, from its start to the escalation.
//!
//! An escalation is stored as its [`Origin`] (why, which service, a seed, the faults met) and
//! everything else is derived from it, deterministically: when it is created only what
//! orders and filters the list ([`rank`]: priority and reason), then on demand its
//! [`headline`] (ids, reason text, input preview, attempt count: from a `Plan`, cheap, no
//! detail text) for a page, and the wire detail ([`derive_detail`]). So a hundred thousand
//! escalations cost little memory, and each is the same every time it is asked for.
//!
//! `plan` plans the attempts, `headline` writes what an escalation shows in the inbox, and
//! `text` writes the detail (attempts, errors, verdicts, candidates).

mod headline;
mod plan;
mod text;

use chrono::TimeDelta;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use protocol::escalations::{EscalationReason, Priority};

pub use headline::{headline, rank, workflow_id};
pub use text::derive_detail;

/// How a path failed a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Its region is down: connections time out.
    Unreachable,
    /// 5xx answers.
    ServerErrors,
    /// 429 answers.
    RateLimited,
    /// Answers too slow: read timeouts.
    Slow,
    /// The gateway's breaker is open: refused without a call.
    BreakerOpen,
    /// The prompt does not fit the model's context window.
    ContextOverflow,
}

impl Fault {
    /// A few words for reason texts, e.g. "503".
    fn word(self) -> &'static str {
        match self {
            Fault::Unreachable => "unreachable",
            Fault::ServerErrors => "5xx",
            Fault::RateLimited => "429",
            Fault::Slow => "timeout",
            Fault::BreakerOpen => "breaker open",
            Fault::ContextOverflow => "context overflow",
        }
    }
}

/// A path tried and how it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathFault {
    pub provider: u16,
    pub fault: Fault,
}

/// An operator's retry that did not end the task.
#[derive(Clone, Debug, PartialEq)]
pub struct RetriedPath {
    /// Sequence number of the escalation that was resolved with the retry.
    pub follows: u32,
    pub by: String,
    pub note: String,
    pub provider: u16,
    /// How the path failed; `None` when it answered but the output fell short again.
    pub fault: Option<Fault>,
}

/// Why and where a task escalated; everything about it derives from this.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    /// Why the workflow first escalated; a retry's origin repeats its first origin's reason
    /// (the reason it escalates for then is [`reason_of`] the chain).
    pub reason: EscalationReason,
    pub service: u16,
    pub seed: u64,
    /// For paths-exhausted: every path tried and how it failed, in the order tried.
    pub faults: Box<[PathFault]>,
    /// Set when this escalation follows an operator's failed retry.
    pub retry: Option<Box<RetriedPath>>,
}

/// Independent random streams of one origin, so that adding a field to one generator does
/// not change what the others produce.
#[derive(Clone, Copy)]
enum Stream {
    Plan,
    Identity,
    Input,
    Text,
}

fn stream(seed: u64, which: Stream) -> ChaCha8Rng {
    let tag = match which {
        Stream::Plan => 0x9e37_79b9_7f4a_7c15_u64,
        Stream::Identity => 0xbf58_476d_1ce4_e5b9,
        Stream::Input => 0x94d0_49bb_1331_11eb,
        Stream::Text => 0xd6e8_feb8_6659_fd93,
    };
    ChaCha8Rng::seed_from_u64(seed ^ tag)
}

/// How long a task of each priority may wait for a person.
pub fn sla(priority: Priority) -> TimeDelta {
    match priority {
        Priority::P1 => TimeDelta::minutes(15),
        Priority::P2 => TimeDelta::hours(1),
        Priority::P3 => TimeDelta::hours(4),
        Priority::P4 => TimeDelta::hours(24),
    }
}

/// The reason a chain of origins (oldest first) escalated for, last.
pub fn reason_of(chain: &[&Origin]) -> EscalationReason {
    let last = chain.last().expect("a chain has an origin");
    match last.retry.as_deref() {
        Some(RetriedPath { fault: Some(_), .. }) => EscalationReason::PathsExhausted,
        _ => last.reason,
    }
}
