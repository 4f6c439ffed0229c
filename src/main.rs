//! The `switchboard` command: the console, the lab server, and one-shot commands for scripts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use lab::{LabOptions, LabServer};
use switchboard::app::ContextInfo;
use switchboard::cli;
use switchboard::cli::escalations::{EscalationsArgs, run_escalations};
use switchboard::config::{self, ConfigOverrides, LAB_CONTEXT};
use switchboard::runner::{ConsoleOptions, run_console};
use switchboard::sources::SourceSpec;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Terminal console for on-call engineers who keep AI services up"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    lab: EmbeddedLabArgs,
    #[command(flatten)]
    config: ConfigArgs,
}

/// The embedded lab, used when no context is configured or with `--lab`.
#[derive(Args)]
struct EmbeddedLabArgs {
    /// Run on the embedded lab (a simulated fleet on a loopback port), whatever the config says.
    #[arg(long)]
    lab: bool,
    /// Seed of the embedded lab's simulation (same seed, same fleet).
    #[arg(long)]
    seed: Option<u64>,
    /// Speed of the embedded lab's clock (10 = ten simulated seconds per second).
    #[arg(long)]
    speed: Option<f64>,
    /// Scenario for the embedded lab: a shipped name (e.g. provider-outage) or a TOML file.
    #[arg(long, value_name = "FILE|NAME")]
    scenario: Option<PathBuf>,
    /// Synthetic escalated tasks the embedded lab starts with (besides those its workflows raise).
    #[arg(long, value_name = "N", default_value_t = 0)]
    escalations: usize,
    /// Built-in lab operator to act as in the embedded lab (alice, bob, victor).
    #[arg(long = "as", value_name = "OPERATOR", default_value = "alice")]
    operator: String,
}

/// Which configuration and context to use.
#[derive(Args)]
struct ConfigArgs {
    /// Configuration file to read instead of the platform one.
    #[arg(long, env = config::CONFIG_ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Context (named set of sources) to connect to.
    #[arg(long, env = config::CONTEXT_ENV, value_name = "NAME")]
    context: Option<String>,
    /// Colour theme: dark, light, high-contrast, or one from the user themes dir.
    #[arg(long, env = config::THEME_ENV, value_name = "NAME")]
    theme: Option<String>,
    /// Hide and refuse every mutating action.
    #[arg(long)]
    read_only: bool,
}

impl ConfigArgs {
    fn overrides(&self) -> ConfigOverrides {
        ConfigOverrides {
            config_file: self.config.clone(),
            context: self.context.clone(),
            theme: self.theme.clone(),
            read_only: self.read_only,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the simulated fleet (protocol v1 server) on its own, for several consoles to share.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
    /// Print a one-shot fleet summary and exit: 0 all healthy, 1 degraded, 2 down or unreachable.
    Status {
        #[command(flatten)]
        args: switchboard::cli::status::StatusArgs,
        #[command(flatten)]
        lab: EmbeddedLabArgs,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Act on the fleet: promote, drain, undrain, breaker, degrade, weights.
    #[command(flatten)]
    Act(switchboard::cli::commands::CommandArgs),
    /// Escalated tasks: list, show (with lineage), resolve exactly once.
    Escalations {
        #[command(subcommand)]
        command: EscalationsArgs,
    },
    /// Store a source's token in the OS keyring (or delete it).
    Login {
        #[command(flatten)]
        args: cli::login::LoginArgs,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum LabCommand {
    /// Serve protocol v1 from a simulated fleet.
    Serve(lab::cli::LabServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("switchboard: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("switchboard: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let _log_guard = switchboard::logging::init().context("cannot set up the log file")?;
    switchboard::terminal::install_panic_hook();
    match cli.command {
        Some(Command::Lab {
            command: LabCommand::Serve(args),
        }) => {
            lab::cli::run_serve(args).await?;
            Ok(0)
        }
        Some(Command::Login { args, config }) => {
            let loaded = config::load(&config.overrides());
            report_config_problems(&loaded);
            cli::login::run_login(args, &loaded.config)?;
            Ok(0)
        }
        Some(Command::Act(args)) => {
            let loaded = config::load(&cli.config.overrides());
            report_config_problems(&loaded);
            let target = Target::resolve(&cli.lab, cli.config.read_only, &loaded.config).await?;
            let code = act(args, &target).await;
            target.stop().await;
            code
        }
        Some(Command::Escalations { command }) => {
            let loaded = config::load(&cli.config.overrides());
            report_config_problems(&loaded);
            let target = Target::resolve(&cli.lab, cli.config.read_only, &loaded.config).await?;
            let code = escalations(command, &target).await;
            target.stop().await;
            code
        }
        Some(Command::Status { args, lab, config }) => {
            let loaded = config::load(&config.overrides());
            report_config_problems(&loaded);
            let target = Target::resolve(&lab, config.read_only, &loaded.config).await?;
            let code = switchboard::cli::status::run_status(
                target.sources.clone(),
                args.json,
                &mut std::io::stdout(),
            )
            .await;
            target.stop().await;
            Ok(u8::try_from(code?).unwrap_or(2))
        }
        None => {
            let loaded = config::load(&cli.config.overrides());
            let problems = loaded
                .problems
                .iter()
                .map(|p| format!("config {p} (running on defaults)"))
                .collect();
            let target = Target::resolve(&cli.lab, cli.config.read_only, &loaded.config).await?;
            let result = run_console(ConsoleOptions {
                context: target.context.clone(),
                sources: target.sources.clone(),
                problems,
                theme_name: loaded.config.theme.clone(),
                no_color: switchboard::theme::no_color_from_env(),
                journal: target.journal_path(),
                notify: loaded.config.notify,
            })
            .await;
            target.stop().await;
            result.map(|()| 0)
        }
    }
}

/// What a one-shot command that changes something needs: the context's first source and
/// the journal. A read-only context gets `None` (and says so).
fn mutation_target(
    target: &Target,
) -> anyhow::Result<Option<(SourceSpec, switchboard::journal::Journal)>> {
    if target.context.read_only {
        eprintln!(
            "switchboard: context {} is read-only: nothing was sent",
            target.context.name
        );
        return Ok(None);
    }
    let Some(source) = target.sources.first().cloned() else {
        anyhow::bail!("context {} has no source", target.context.name);
    };
    let path = target.journal_path();
    let journal = switchboard::journal::Journal::open(&path)
        .with_context(|| format!("cannot open the command journal {}", path.display()))?;
    Ok(Some((source, journal)))
}

/// Asks on the terminal; without one, says to pass --yes and answers no.
fn confirm_on_terminal(question: &str) -> bool {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("switchboard: {question} Not a terminal: pass --yes to go ahead without asking.");
        return false;
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

/// One command on the fleet from the command line.
async fn act(args: switchboard::cli::commands::CommandArgs, target: &Target) -> anyhow::Result<u8> {
    let Some((source, mut journal)) = mutation_target(target)? else {
        return Ok(2);
    };
    let out = &mut std::io::stdout();
    let code = switchboard::cli::commands::run_command(
        args,
        source,
        &target.context.name,
        &mut journal,
        out,
        confirm_on_terminal,
    )
    .await?;
    Ok(u8::try_from(code).unwrap_or(2))
}

/// `switchboard escalations ...`: reading needs no journal, resolving does.
async fn escalations(args: EscalationsArgs, target: &Target) -> anyhow::Result<u8> {
    let out = &mut std::io::stdout();
    let context = &target.context.name;
    let code = if matches!(args, EscalationsArgs::Resolve { .. }) {
        let Some((source, mut journal)) = mutation_target(target)? else {
            return Ok(2);
        };
        run_escalations(
            args,
            source,
            context,
            Some(&mut journal),
            out,
            confirm_on_terminal,
        )
        .await?
    } else {
        let Some(source) = target.sources.first().cloned() else {
            anyhow::bail!("context {} has no source", target.context.name);
        };
        run_escalations(args, source, context, None, out, confirm_on_terminal).await?
    };
    Ok(u8::try_from(code).unwrap_or(2))
}

/// One-shot commands print config problems on stderr; the console shows them on screen.
fn report_config_problems(loaded: &config::LoadedConfig) {
    for problem in &loaded.problems {
        eprintln!("switchboard: config {problem} (running on defaults)");
    }
}

/// The sources to use, and the embedded lab when there is one.
struct Target {
    context: ContextInfo,
    sources: Vec<SourceSpec>,
    lab: Option<LabServer>,
}

impl Target {
    async fn resolve(
        args: &EmbeddedLabArgs,
        read_only: bool,
        config: &config::Config,
    ) -> anyhow::Result<Target> {
        if args.lab || config.is_lab() {
            let options = LabOptions {
                seed: args.seed.unwrap_or(LabOptions::default().seed),
                speed: args.speed.unwrap_or(1.0),
                topology: None,
                scenario: args.scenario.clone(),
                escalations: args.escalations,
            };
            let lab = LabServer::start(options, "127.0.0.1:0".parse()?)
                .await
                .context("cannot start the embedded lab")?;
            let token = lab
                .token_for(&args.operator)
                .with_context(|| format!("the lab has no operator {:?}", args.operator))?
                .to_string();
            let sources = vec![SourceSpec {
                name: "lab".to_string(),
                url: lab.url(),
                token: Some(token),
            }];
            let context = ContextInfo {
                name: LAB_CONTEXT.to_string(),
                lab: true,
                read_only,
                production: false,
            };
            return Ok(Target {
                context,
                sources,
                lab: Some(lab),
            });
        }
        let context = config.selected_context()?;
        let mut sources = Vec::new();
        for source in &context.sources {
            let token = config::secrets::token_for(&context.name, &source.name)
                .with_context(|| format!("cannot read the token of source {}", source.name))?;
            sources.push(SourceSpec {
                name: source.name.clone(),
                url: source.url.clone(),
                token,
            });
        }
        let context = ContextInfo {
            name: context.name.clone(),
            lab: false,
            read_only: read_only || context.read_only,
            production: context.production,
        };
        Ok(Target {
            context,
            sources,
            lab: None,
        })
    }

    /// The embedded lab's commands have a journal of their own (see `journal::embedded_lab_path`).
    fn journal_path(&self) -> PathBuf {
        if self.lab.is_some() {
            switchboard::journal::embedded_lab_path()
        } else {
            switchboard::journal::default_path()
        }
    }

    async fn stop(self) {
        if let Some(lab) = self.lab {
            lab.shutdown().await;
        }
    }
}
