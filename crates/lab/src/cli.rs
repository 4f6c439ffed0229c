//! `switchboard lab serve`: runs a lab in the foreground until Ctrl-C; `switchboard lab
//! check`: validates a scenario file and prints what it plays and scores.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::scenario::{Scenario, format_duration, scenario_source};
use super::topology::Topology;
use super::{ExerciseInfo, LabOptions, LabServer, ServeLimits, shipped_scenarios};
use protocol::exercise::clock_label;
use protocol::exercise::record::ObjectiveSpec;

/// Exit code of `lab check` when the scenario (or its topology) cannot be used.
const EXIT_PROBLEMS: u8 = 2;

#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct LabServeArgs {
    /// Address to listen on. Keep it on loopback: lab tokens are derived from the seed.
    #[arg(long, default_value = "127.0.0.1:7300")]
    pub listen: SocketAddr,
    /// Seed of the simulation and of the operators' tokens.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulated seconds per real second (e.g. 60 for a fast drill).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Topology file (default: the built-in four-region fleet).
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Scenario file, or the name of a shipped scenario (provider-outage, rate-limit-storm, ...).
    #[arg(long, value_name = "FILE|NAME", conflicts_with = "exercise")]
    pub scenario: Option<PathBuf>,
    /// Play a scenario (file or shipped name) as a tabletop exercise: paused at T0 until its
    /// facilitator starts it, every player with a token of their drill role, recorded and scored.
    #[arg(long, value_name = "FILE|NAME")]
    pub exercise: Option<PathBuf>,
    /// Where an exercise's recording and report go (default: the data directory's exercises/).
    #[arg(long, value_name = "DIR", requires = "exercise")]
    pub record_dir: Option<PathBuf>,
    /// Load this many synthetic pending escalations at start (scale tests of the inbox).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub escalations: usize,
    /// Seconds a client may take to send a request head; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, value_name = "SECONDS", default_value_t = ServeLimits::default().header_timeout.as_secs())]
    pub header_timeout: u64,
    /// Seconds a client may take to send a request body (a slower one is answered 408).
    #[arg(long, value_name = "SECONDS", default_value_t = ServeLimits::default().body_timeout.as_secs())]
    pub body_timeout: u64,
    /// Connections served at once; more are answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = ServeLimits::default().max_connections)]
    pub max_connections: usize,
}

/// Starts the lab, prints where it listens and each built-in operator's token, and runs
/// until Ctrl-C.
pub async fn run_serve(args: LabServeArgs) -> anyhow::Result<()> {
    let options = LabOptions {
        seed: args.seed,
        speed: args.speed,
        topology: args.topology,
        scenario: args.scenario,
        exercise: args.exercise,
        record_dir: args.record_dir,
        escalations: args.escalations,
        limits: ServeLimits {
            header_timeout: Duration::from_secs(args.header_timeout.max(1)),
            body_timeout: Duration::from_secs(args.body_timeout.max(1)),
            max_connections: args.max_connections.max(1),
            ..ServeLimits::default()
        },
    };
    let scenario = (options.scenario.as_ref())
        .or(options.exercise.as_ref())
        .map_or_else(|| "none".to_string(), |s| s.display().to_string());
    let lab = LabServer::start(options, args.listen).await?;
    if !lab.addr.ip().is_loopback() {
        eprintln!(
            "warning: listening on {}, beyond this machine; anyone who knows the seed can compute the tokens",
            lab.addr
        );
    }
    println!("switchboard lab serving protocol v1 at {}", lab.url());
    println!(
        "seed {}, speed {}x, scenario {scenario}, {} synthetic escalations",
        args.seed, args.speed, args.escalations
    );
    println!("shipped scenarios: {}", shipped_scenarios().join(", "));
    match &lab.exercise {
        Some(exercise) => print_exercise(&lab, exercise),
        None => {
            println!("operators (use as Authorization: Bearer <token>):");
            for operator in &lab.operators {
                println!(
                    "  {:<10} {:<9} {}",
                    operator.name,
                    operator.role.word(),
                    operator.token
                );
            }
        }
    }
    if let Some(briefing) = lab.briefing() {
        println!("briefing:\n{briefing}");
    }
    println!("press Ctrl-C to stop");
    let stopped = tokio::signal::ctrl_c().await;
    lab.shutdown().await;
    stopped?;
    Ok(())
}

/// How players join a drill: the exercise, where it is recorded, each player's token.
fn print_exercise(lab: &LabServer, exercise: &ExerciseInfo) {
    println!(
        "exercise {}: paused at T+00:00 until the facilitator starts it",
        exercise.run_id
    );
    println!("recording to {}", exercise.recording.display());
    println!(
        "players join with a console whose context has a source at {} and their token \
         (switchboard login, or SWITCHBOARD_TOKEN=<token>):",
        lab.url()
    );
    for player in &exercise.players {
        let token = lab.token_for(&player.name).unwrap_or("?");
        println!("  {:<12} {:<18} {token}", player.name, player.role.word());
    }
}

#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct LabCheckArgs {
    /// Scenario file, or the name of a shipped scenario.
    #[arg(value_name = "FILE|NAME")]
    pub scenario: PathBuf,
    /// Topology the scenario's targets must exist in (default: the built-in four-region fleet).
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
}

/// Checks a scenario against its topology: prints its summary (exit 0), or every problem at
/// `file:line:column` (exit 2).
pub fn run_check(args: &LabCheckArgs, out: &mut impl Write) -> std::io::Result<u8> {
    let loaded = match &args.topology {
        Some(path) => Topology::load(path),
        None => Ok(Topology::embedded_default()),
    };
    let (topology, (file, text)) =
        match loaded.and_then(|t| Ok((t, scenario_source(&args.scenario)?))) {
            Ok(found) => found,
            Err(error) => {
                writeln!(out, "{error:#}")?;
                return Ok(EXIT_PROBLEMS);
            }
        };
    match Scenario::check(&file, &text, &topology) {
        Ok(scenario) => {
            describe(&scenario, out)?;
            writeln!(out, "{file}: no problem")?;
            Ok(0)
        }
        Err(problems) => {
            for problem in &problems {
                writeln!(out, "{problem}")?;
            }
            let count = problems.len();
            writeln!(out, "{count} problem{}", if count == 1 { "" } else { "s" })?;
            Ok(EXIT_PROBLEMS)
        }
    }
}

/// What a facilitator checks before a drill: who plays, what they are told, what happens
/// when, and what is scored.
fn describe(scenario: &Scenario, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "scenario {}: {}", scenario.name, scenario.description)?;
    let players: Vec<String> = scenario
        .players
        .iter()
        .map(|p| format!("{} ({})", p.name, p.role.word()))
        .collect();
    writeln!(out, "players: {}", players.join(", "))?;
    writeln!(out, "briefing:")?;
    for line in scenario.briefing.lines() {
        writeln!(out, "  {line}")?;
    }
    writeln!(out, "injects:")?;
    for inject in &scenario.injects {
        let lasting = if inject.duration_s > 0.0 {
            format!(" for {}", format_duration(inject.duration_s))
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {}  {:<20} {:<18} {}{lasting}",
            clock_label(inject.at_s),
            inject.id,
            inject.kind.word(),
            inject.summary()
        )?;
        if let Some(note) = &inject.facilitator_note {
            writeln!(out, "{:<11}facilitator: {note}", "")?;
        }
    }
    let total: u32 = scenario.objectives.iter().map(|o| o.weight).sum();
    writeln!(
        out,
        "objectives ({}, weights total {total}):",
        scenario.objectives.len()
    )?;
    for objective in &scenario.objectives {
        writeln!(
            out,
            "  {:<24} weight {:<3} {:<28} {}",
            objective.id,
            objective.weight,
            deadline_words(objective),
            objective.title
        )?;
    }
    Ok(())
}

/// When an objective is judged, e.g. "within 5m of outage", "until the end".
fn deadline_words(objective: &ObjectiveSpec) -> String {
    let from = objective.after.as_deref().unwrap_or("T0");
    match (objective.within_s, objective.condition.must_hold()) {
        (Some(within), true) => format!("for {} from {from}", format_duration(within)),
        (Some(within), false) => format!("within {} of {from}", format_duration(within)),
        (None, _) => format!("from {from} to the end"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: LabServeArgs,
    }

    #[test]
    fn defaults_listen_on_loopback_7300() {
        let args = Cli::parse_from(["lab"]).serve;
        assert_eq!(args.listen, "127.0.0.1:7300".parse().unwrap());
        assert_eq!((args.seed, args.speed), (42, 1.0));
        assert_eq!(
            (args.header_timeout, args.body_timeout, args.max_connections),
            (10, 10, 1024)
        );
        let args = Cli::parse_from([
            "lab",
            "--speed",
            "60",
            "--scenario",
            "provider-outage",
            "--seed",
            "7",
            "--escalations",
            "1000",
        ])
        .serve;
        assert_eq!((args.seed, args.speed, args.escalations), (7, 60.0, 1000));
        assert_eq!(args.scenario, Some(PathBuf::from("provider-outage")));
    }

    fn check(scenario: &str) -> (u8, String) {
        let args = LabCheckArgs {
            scenario: PathBuf::from(scenario),
            topology: None,
        };
        let mut out = Vec::new();
        let code = run_check(&args, &mut out).unwrap();
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn check_prints_a_shipped_scenario_with_its_objectives() {
        let (code, out) = check("provider-outage");
        assert_eq!(code, 0, "{out}");
        for expected in [
            "scenario provider-outage: openai@us-east answers",
            "players: facilitator (facilitator), alice (incident-commander), bob (operator)",
            "  T+00:10  outage ",
            "facilitator: The breaker opens by itself",
            "objectives (5, weights total 10):",
            "within 3m of outage",
            "from T0 to the end",
            "(embedded): no problem",
        ] {
            assert!(out.contains(expected), "{expected:?} in\n{out}");
        }
    }

    #[test]
    fn check_lists_every_problem_at_its_place_and_exits_2() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drill.toml");
        std::fs::write(
            &path,
            "name = \"drill\"\n[[inject]]\nat = \"1s\"\nkind = \"region-down\"\ntarget = \"atlantis\"\nduration = \"1m\"\n[[objective]]\nid = \"o\"\ntitle = \"t\"\nkind = \"no-force\"\nafter = \"nothing\"\n",
        )
        .unwrap();
        let (code, out) = check(path.to_str().unwrap());
        assert_eq!(code, 2, "{out}");
        let file = path.display();
        assert!(
            out.contains(&format!("{file}:5:10: target \"atlantis\"")),
            "{out}"
        );
        assert!(
            out.contains(&format!("{file}:11:9: after \"nothing\"")),
            "{out}"
        );
        assert!(out.ends_with("2 problems\n"), "{out}");
        let (code, out) = check("no-such-drill");
        assert_eq!(code, 2);
        assert!(out.contains("not a shipped scenario"), "{out}");
    }
}
