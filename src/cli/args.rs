//! The command line of `switchboard`, as clap parses it: the console's flags and every
//! subcommand. Completions and the man page are generated from these definitions.

use clap::{Parser, Subcommand};

use crate::cli::audit::AuditArgs;
use crate::cli::commands::CommandArgs;
use crate::cli::escalations::EscalationsArgs;
use crate::cli::journal::JournalArgs;
use crate::cli::login::LoginArgs;
use crate::cli::runbook::RunbookArgs;
use crate::cli::silences::SilencesArgs;
use crate::cli::status::StatusArgs;
use crate::cli::target::{ConfigArgs, EmbeddedLabArgs};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Terminal console for on-call engineers who keep AI services up"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    // The flags below are global: they mean the same before or after any verb.
    #[command(flatten)]
    pub lab: EmbeddedLabArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the simulated fleet (protocol v1 server) on its own, for several consoles to share.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
    /// Print a one-shot fleet summary and exit: 0 all healthy, 1 degraded, 2 down or unreachable.
    Status {
        #[command(flatten)]
        args: StatusArgs,
    },
    /// Act on the fleet: promote, drain, undrain, breaker, degrade, weights.
    #[command(flatten)]
    Act(CommandArgs),
    /// Commands held for a second operator (two-person rule): list, show, approve, deny,
    /// withdraw.
    Approvals {
        #[command(subcommand)]
        command: crate::cli::approvals::ApprovalsArgs,
    },
    /// Escalated tasks: list, show (with lineage), resolve exactly once.
    Escalations {
        #[command(subcommand)]
        command: EscalationsArgs,
    },
    /// Silences of the context's Alertmanager: list, create, expire (journaled, idempotent).
    Silences {
        #[command(subcommand)]
        command: SilencesArgs,
    },
    /// Runbooks: list, show, lint (exit 2 on a problem), check against the live fleet
    /// without acting (exit 0 all hold, 1 otherwise).
    Runbook {
        #[command(subcommand)]
        command: RunbookArgs,
    },
    /// The audit log of the context's source, oldest first: who did what, why, with which key.
    Audit {
        #[command(flatten)]
        args: AuditArgs,
    },
    /// The latest commands of the local journal and their outcomes; pending ones are settled
    /// first with the system each went to (exit 1 when a fate is still unknown).
    Journal {
        #[command(flatten)]
        args: JournalArgs,
    },
    /// What the fleet's redundancy costs and buys: `cost report` (exit 0 nothing found,
    /// 1 findings, 2 a source unreadable).
    Cost {
        #[command(subcommand)]
        command: crate::cli::cost::CostArgs,
    },
    /// Tabletop exercises: the after-action report of a recorded drill.
    Exercise {
        #[command(subcommand)]
        command: crate::cli::exercise::ExerciseArgs,
    },
    /// Play a recorded drill (a lab's `<run_id>.jsonl`) in the console, read-only: pause,
    /// speed, seek, jump to the next inject or action.
    Replay {
        /// The recording (JSON Lines).
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        /// Exercise seconds per real second at the start, 0.25 to 64.
        #[arg(long, value_name = "N", default_value_t = 1.0, value_parser = replay_speed)]
        speed: f64,
    },
    /// Store a source's token in the OS keyring (or delete it).
    Login {
        #[command(flatten)]
        args: LoginArgs,
    },
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff); read it with `switchboard man | man -l -`.
    Man,
}

#[derive(Subcommand)]
pub enum LabCommand {
    /// Serve protocol v1 from a simulated fleet.
    Serve(lab::cli::LabServeArgs),
    /// Check a scenario file against a topology: print its players, injects and objectives
    /// (exit 0), or every problem at file:line:column (exit 2).
    Check(lab::cli::LabCheckArgs),
}

/// `--speed` of `replay`: a number from 0.25 to 64.
fn replay_speed(text: &str) -> Result<f64, String> {
    let speed: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    let (slowest, fastest) = (crate::app::REPLAY_SLOWEST, crate::app::REPLAY_FASTEST);
    if (slowest..=fastest).contains(&speed) {
        Ok(speed)
    } else {
        Err(format!(
            "{text}: a replay runs from ×{slowest} to ×{fastest}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lab_flags_before_lab_serve_reach_the_served_lab() {
        let cli = Cli::try_parse_from(["switchboard", "--seed", "5", "lab", "serve"]).unwrap();
        let Some(Command::Lab {
            command: LabCommand::Serve(args),
        }) = cli.command
        else {
            panic!("lab serve");
        };
        assert_eq!(args.seed, 5);
    }
}
