//! What a run talks to: the selected context's sources (tokens from the keyring), or the
//! embedded lab started on a loopback port; the flags that choose it; and the command journal
//! that goes with it.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::app::ContextInfo;
use crate::cli::output::note;
use crate::config::{self, Config, ConfigOverrides, LAB_CONTEXT, SourceKind};
use crate::domain::prices::CostConfig;
use crate::journal::{self, Entry, Journal, Outcome, describe_recovered};
use crate::sources::litellm::LiteLlmSpec;
use crate::sources::patroni::PatroniSpec;
use crate::sources::prometheus::PrometheusSpec;
use crate::sources::temporal::TemporalSource;
use crate::sources::{Client, SourceSpec};
use lab::{LabOptions, LabServer};
use protocol::approvals::ApprovalPolicy;

/// The embedded lab, used when no context is configured or with `--lab`.
#[derive(Args)]
pub struct EmbeddedLabArgs {
    /// Run on the embedded lab (a simulated fleet on a loopback port), whatever the config says.
    #[arg(long, global = true)]
    pub lab: bool,
    /// Seed of the embedded lab's simulation (same seed, same fleet).
    #[arg(long, global = true)]
    pub seed: Option<u64>,
    /// Speed of the embedded lab's clock (10 = ten simulated seconds per second).
    #[arg(long, global = true)]
    pub speed: Option<f64>,
    /// Scenario for the embedded lab: a shipped name (e.g. provider-outage) or a TOML file.
    #[arg(long, global = true, value_name = "FILE|NAME")]
    pub scenario: Option<PathBuf>,
    /// Synthetic escalated tasks the embedded lab starts with (besides those its workflows raise).
    #[arg(long, global = true, value_name = "N", default_value_t = 0)]
    pub escalations: usize,
    /// Built-in lab operator to act as in the embedded lab (alice, bob, victor).
    #[arg(
        long = "as",
        global = true,
        value_name = "OPERATOR",
        default_value = "alice"
    )]
    pub operator: String,
}

/// Which configuration and context to use.
#[derive(Args)]
pub struct ConfigArgs {
    /// Configuration file to read instead of the platform one.
    #[arg(long, global = true, env = config::CONFIG_ENV, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Context (named set of sources) to connect to.
    #[arg(long, global = true, env = config::CONTEXT_ENV, value_name = "NAME")]
    pub context: Option<String>,
    /// Colour theme: dark, light, high-contrast, or one from the user themes dir.
    #[arg(long, global = true, env = config::THEME_ENV, value_name = "NAME")]
    pub theme: Option<String>,
    /// Hide and refuse every mutating action.
    #[arg(long, global = true)]
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

/// Loads the configuration for a one-shot command, which must act on exactly the fleet it
/// was pointed at: a file with problems, or with contexts of its own and none chosen, is an
/// error (exit 2, each problem with its file:line:column). Only `--lab` runs regardless,
/// the problems noted on stderr.
pub fn load_config(config: &ConfigArgs, lab: &EmbeddedLabArgs) -> anyhow::Result<Config> {
    let loaded = config::load(&config.overrides());
    if lab.lab {
        for problem in &loaded.problems {
            note(format_args!("config {problem} (ignored with --lab)"));
        }
        return Ok(loaded.config);
    }
    Ok(loaded.for_exact_fleet()?.clone())
}

/// The sources to use, and the embedded lab when there is one.
pub struct Target {
    pub context: ContextInfo,
    /// The protocol v1 sources: the only ones the CLI verbs talk to.
    pub sources: Vec<SourceSpec>,
    /// The context's Temporal sources (docs/temporal.md).
    pub temporal: Vec<TemporalSource>,
    /// The Prometheus sources, which the console polls beside them.
    pub prometheus: Vec<PrometheusSpec>,
    /// The LiteLLM proxies, which the console polls beside them (read-only).
    pub litellm: Vec<LiteLlmSpec>,
    /// The Patroni sources (polled; their members are a service's replicas).
    pub patroni: Vec<PatroniSpec>,
    /// The context's two-person rule (`[contexts.NAME.approvals]`), applied to what it sends.
    pub approvals: Option<ApprovalPolicy>,
    /// The context's `[cost]`: prices and downtime costs its sources do not report.
    pub cost: CostConfig,
    lab: Option<LabServer>,
}

impl Target {
    /// The target of a one-shot command: [`load_config`], then [`Target::resolve`].
    pub async fn for_one_shot(
        lab: &EmbeddedLabArgs,
        config: &ConfigArgs,
    ) -> anyhow::Result<Target> {
        let loaded = load_config(config, lab)?;
        Target::resolve(lab, config.read_only, &loaded).await
    }

    /// The embedded lab when asked for (or when the config selects it), else the selected
    /// context with each source's token.
    pub async fn resolve(
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
                ..LabOptions::default()
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
                temporal: Vec::new(),
                prometheus: Vec::new(),
                litellm: Vec::new(),
                patroni: Vec::new(),
                approvals: config
                    .context(LAB_CONTEXT)
                    .ok()
                    .and_then(|c| c.approvals.clone()),
                cost: (config.context(LAB_CONTEXT).ok())
                    .map(|c| c.cost.clone())
                    .unwrap_or_default(),
                lab: Some(lab),
            });
        }
        let context = config.selected_context()?;
        let mut sources = Vec::new();
        let mut temporal = Vec::new();
        let mut prometheus = Vec::new();
        let mut litellm = Vec::new();
        let mut patroni = Vec::new();
        for source in &context.sources {
            let token = config::secrets::token_for(&context.name, &source.name)
                .with_context(|| format!("cannot read the token of source {}", source.name))?;
            match source.kind {
                SourceKind::Temporal => temporal.push(TemporalSource::new(
                    &source.name,
                    &source.url,
                    token,
                    &source.temporal.clone().unwrap_or_default(),
                )),
                SourceKind::Prometheus => prometheus.push(PrometheusSpec {
                    name: source.name.clone(),
                    url: source.url.clone(),
                    token,
                    settings: source.prometheus.clone().unwrap_or_default(),
                }),
                SourceKind::Litellm => litellm.push(LiteLlmSpec {
                    name: source.name.clone(),
                    url: source.url.clone(),
                    master_key: token,
                    settings: source.litellm.clone().unwrap_or_default(),
                }),
                SourceKind::Patroni => patroni.push(PatroniSpec::new(source, token)),
                SourceKind::Native => sources.push(SourceSpec {
                    name: source.name.clone(),
                    url: source.url.clone(),
                    token,
                }),
            }
        }
        let (approvals, cost) = (context.approvals.clone(), context.cost.clone());
        let context = ContextInfo {
            name: context.name.clone(),
            lab: false,
            read_only: read_only || context.read_only,
            production: context.production,
        };
        Ok(Target {
            context,
            sources,
            temporal,
            prometheus,
            litellm,
            patroni,
            approvals,
            cost,
            lab: None,
        })
    }

    /// The source one-shot commands talk to: the context's first.
    pub fn first_source(&self) -> anyhow::Result<SourceSpec> {
        match self.sources.first() {
            Some(source) => Ok(source.clone()),
            None => anyhow::bail!("context {} has no source", self.context.name),
        }
    }

    /// What a one-shot command that changes something needs: the first source and the
    /// journal, its pending entries for that source recovered first (each noted on stderr).
    /// A read-only context gets `None` (and says so).
    pub async fn for_mutation(&self) -> anyhow::Result<Option<(SourceSpec, Journal)>> {
        if self.refuses_mutation() {
            return Ok(None);
        }
        let source = self.first_source()?;
        let mut journal = self.open_journal()?;
        for (entry, outcome) in self.recover(&mut journal, &source).await? {
            note(format_args!(
                "journal: {}",
                describe_recovered(&entry, &outcome)
            ));
        }
        Ok(Some((source, journal)))
    }

    /// Whether the context is read-only, saying so on stderr when it is: nothing is sent.
    pub fn refuses_mutation(&self) -> bool {
        if self.context.read_only {
            note(format_args!(
                "context {} is read-only: nothing was sent",
                self.context.name
            ));
        }
        self.context.read_only
    }

    /// The journal of this target ([`Target::journal_path`]).
    pub fn open_journal(&self) -> anyhow::Result<Journal> {
        let path = self.journal_path();
        Journal::open(&path)
            .with_context(|| format!("cannot open the command journal {}", path.display()))
    }

    /// [`journal::recover_pending`] on `source`.
    pub async fn recover(
        &self,
        journal: &mut Journal,
        source: &SourceSpec,
    ) -> anyhow::Result<Vec<(Entry, Outcome)>> {
        let client = Client::new(&source.url, source.token.clone())?;
        journal::recover_pending(journal, &client)
            .await
            .with_context(|| format!("cannot write the journal {}", journal.path().display()))
    }

    /// The embedded lab's commands have a journal of their own (see [`journal::embedded_lab_path`]).
    pub fn journal_path(&self) -> PathBuf {
        if self.lab.is_some() {
            journal::embedded_lab_path()
        } else {
            journal::default_path()
        }
    }

    /// Stops the embedded lab, if any.
    pub async fn stop(self) {
        if let Some(lab) = self.lab {
            lab.shutdown().await;
        }
    }
}
