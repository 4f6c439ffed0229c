//! The `switchboard` command: the console, the lab server, and one-shot commands for scripts.
//! The command line is defined in [`switchboard::cli::args`]; this file only starts the
//! runtime, the log and the panic hook, and hands each subcommand to its module.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;

use switchboard::cli::args::{Cli, Command, LabCommand};
use switchboard::cli::output::note;
use switchboard::cli::target::{Target, load_config};
use switchboard::cli::{
    approvals, audit, commands, escalations, generate, journal, login, runbook, silences, status,
};
use switchboard::config;
use switchboard::runner::replay::{ReplayOptions, run_replay};
use switchboard::runner::{ConsoleOptions, run_console};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Completions and the man page need neither the runtime nor the log.
    let printed = match cli.command {
        Some(Command::Completions { shell }) => {
            Some(generate::write_completions(shell, &mut std::io::stdout()))
        }
        Some(Command::Man) => Some(generate::write_man_page(&mut std::io::stdout())),
        _ => None,
    };
    match printed {
        Some(Ok(())) => return ExitCode::SUCCESS,
        // A reader that stops early (`| head`) is no error.
        Some(Err(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            return ExitCode::SUCCESS;
        }
        Some(Err(error)) => {
            note(format_args!("cannot write to stdout: {error}"));
            return ExitCode::from(2);
        }
        None => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            note(format_args!("cannot start the async runtime: {error}"));
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            note(format_args!("{error:#}"));
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let _log_guard = switchboard::logging::init().context("cannot set up the log file")?;
    switchboard::terminal::install_panic_hook();
    // benches/binary.rs checks with it that a release build's panics still say file:line.
    if std::env::var_os("SWITCHBOARD_TEST_PANIC").is_some() {
        panic!("panic asked for by SWITCHBOARD_TEST_PANIC");
    }
    match cli.command {
        Some(Command::Lab {
            command: LabCommand::Serve(args),
        }) => {
            lab::cli::run_serve(args).await?;
            Ok(0)
        }
        Some(Command::Lab {
            command: LabCommand::Check(args),
        }) => Ok(lab::cli::run_check(&args, &mut std::io::stdout().lock())?),
        Some(Command::Login { args }) => {
            login::run_login(args, &load_config(&cli.config, &cli.lab)?)?;
            Ok(0)
        }
        Some(Command::Act(args)) => {
            let target = Target::for_one_shot(&cli.lab, &cli.config).await?;
            let code = commands::run_from_shell(args, &target).await;
            target.stop().await;
            code
        }
        Some(Command::Approvals { command }) => {
            let target = Target::for_one_shot(&cli.lab, &cli.config).await?;
            let code = approvals::run_from_shell(command, &target).await;
            target.stop().await;
            code
        }
        Some(Command::Escalations { command }) => {
            let target = Target::for_one_shot(&cli.lab, &cli.config).await?;
            let code = escalations::run_from_shell(command, &target).await;
            target.stop().await;
            code
        }
        Some(Command::Silences { command }) => {
            let target = Target::for_one_shot(&cli.lab, &cli.config).await?;
            let code = silences::run_from_shell(command, &target).await;
            target.stop().await;
            code
        }
        Some(Command::Runbook { command }) => {
            runbook::run_from_shell(command, &cli.lab, &cli.config).await
        }
        Some(Command::Audit { args }) => {
            let target = Target::for_one_shot(&cli.lab, &cli.config).await?;
            let code = audit::run_from_shell(args, &target).await;
            target.stop().await;
            code
        }
        Some(Command::Journal { args }) => {
            let target = Target::for_one_shot(&cli.lab, &cli.config).await?;
            let code = journal::run_from_shell(args, &target).await;
            target.stop().await;
            code
        }
        Some(Command::Cost { command }) => {
            let target = Target::for_one_shot(&cli.lab, &cli.config).await?;
            let code = switchboard::cli::cost::run_from_shell(command, &target).await;
            target.stop().await;
            code
        }
        Some(Command::Status { args }) => {
            let target = Target::for_one_shot(&cli.lab, &cli.config).await?;
            let code = status::run_from_shell(args, &target).await;
            target.stop().await;
            code
        }
        Some(Command::Exercise { command }) => Ok(switchboard::cli::exercise::run_from_shell(
            &command,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )),
        Some(Command::Replay { file, speed }) => {
            let loaded = config::load(&cli.config.overrides());
            run_replay(ReplayOptions {
                file,
                speed,
                problems: config_problems(&loaded),
                theme_name: loaded.config.theme.clone(),
                no_color: switchboard::theme::no_color_from_env(),
            })
            .await?;
            Ok(0)
        }
        None => {
            let loaded = config::load(&cli.config.overrides());
            let problems = config_problems(&loaded);
            let target = Target::resolve(&cli.lab, cli.config.read_only, &loaded.config).await?;
            let result = run_console(ConsoleOptions {
                context: target.context.clone(),
                sources: target.sources.clone(),
                temporal: target.temporal.clone(),
                prometheus: target.prometheus.clone(),
                litellm: target.litellm.clone(),
                patroni: target.patroni.clone(),
                approvals: target.approvals.clone(),
                cost: target.cost.clone(),
                problems,
                theme_name: loaded.config.theme.clone(),
                no_color: switchboard::theme::no_color_from_env(),
                journal: target.journal_path(),
                notify: loaded.config.notify,
                runbook_dirs: loaded.config.runbook_dirs.clone(),
            })
            .await;
            target.stop().await;
            result.map(|()| 0)
        }
        Some(Command::Completions { .. } | Command::Man) => {
            unreachable!("printed in main before the runtime starts")
        }
    }
}

/// The config's problems as the console's banner says them.
fn config_problems(loaded: &config::LoadedConfig) -> Vec<String> {
    loaded
        .problems
        .iter()
        .map(|p| format!("config {p} (running on defaults)"))
        .collect()
}
