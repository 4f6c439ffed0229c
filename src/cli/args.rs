//! The command line of `switchboard`, as clap parses it: the console's flags and every
//! subcommand. Completions and the man page are generated from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cli::commands::CommandArgs;
use crate::cli::escalations::EscalationsArgs;
use crate::cli::login::LoginArgs;
use crate::cli::status::StatusArgs;
use crate::config::{self, ConfigOverrides};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Terminal console for on-call engineers who keep AI services up"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub lab: EmbeddedLabArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// The embedded lab, used when no context is configured or with `--lab`.
#[derive(Args)]
pub struct EmbeddedLabArgs {
    /// Run on the embedded lab (a simulated fleet on a loopback port), whatever the config says.
    #[arg(long)]
    pub lab: bool,
    /// Seed of the embedded lab's simulation (same seed, same fleet).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Speed of the embedded lab's clock (10 = ten simulated seconds per second).
    #[arg(long)]
    pub speed: Option<f64>,
    /// Scenario for the embedded lab: a shipped name (e.g. provider-outage) or a TOML file.
    #[arg(long, value_name = "FILE|NAME")]
    pub scenario: Option<PathBuf>,
    /// Synthetic escalated tasks the embedded lab starts with (besides those its workflows raise).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub escalations: usize,
    /// Built-in lab operator to act as in the embedded lab (alice, bob, victor).
    #[arg(long = "as", value_name = "OPERATOR", default_value = "alice")]
    pub operator: String,
}

/// Which configuration and context to use.
#[derive(Args)]
pub struct ConfigArgs {
    /// Configuration file to read instead of the platform one.
    #[arg(long, env = config::CONFIG_ENV, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Context (named set of sources) to connect to.
    #[arg(long, env = config::CONTEXT_ENV, value_name = "NAME")]
    pub context: Option<String>,
    /// Colour theme: dark, light, high-contrast, or one from the user themes dir.
    #[arg(long, env = config::THEME_ENV, value_name = "NAME")]
    pub theme: Option<String>,
    /// Hide and refuse every mutating action.
    #[arg(long)]
    pub read_only: bool,
}

impl ConfigArgs {
    pub fn overrides(&self) -> ConfigOverrides {
        ConfigOverrides {
            config_file: self.config.clone(),
            context: self.context.clone(),
            theme: self.theme.clone(),
            read_only: self.read_only,
        }
    }
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
        #[command(flatten)]
        lab: EmbeddedLabArgs,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Act on the fleet: promote, drain, undrain, breaker, degrade, weights.
    #[command(flatten)]
    Act(CommandArgs),
    /// Escalated tasks: list, show (with lineage), resolve exactly once.
    Escalations {
        #[command(subcommand)]
        command: EscalationsArgs,
    },
    /// Store a source's token in the OS keyring (or delete it).
    Login {
        #[command(flatten)]
        args: LoginArgs,
        #[command(flatten)]
        config: ConfigArgs,
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
}
