//! Layered configuration: embedded defaults < user file < environment < flags.
//!
//! Loading never fails: a bad user file is reported as [`ConfigProblem`]s (file, line,
//! column, reason) and the console runs on the defaults, so an on-call engineer with a
//! broken file still gets a console, plus the message that says what to fix. The CLI verbs
//! are stricter ([`LoadedConfig::for_exact_fleet`]): a script must never act on the lab
//! because the file meant for production has a typo.
//!
//! Tokens are never part of the configuration: they live in the OS keyring
//! ([`secrets`]) or come from `SWITCHBOARD_TOKEN`.

mod file;
pub mod litellm;
pub mod patroni;
pub mod prometheus;
pub mod secrets;
pub mod temporal;

use crate::domain::prices::CostConfig;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use protocol::approvals::ApprovalPolicy;
use protocol::escalations::Priority;
use temporal::TemporalSettings;

/// The embedded lab: present in every configuration, needs no sources, and is the
/// default context when no user file says otherwise.
pub const LAB_CONTEXT: &str = "lab";
/// The theme used when neither the file, the environment nor a flag names one.
pub const DEFAULT_THEME: &str = "dark";

/// Environment variable naming the user file (overrides the platform path).
pub const CONFIG_ENV: &str = "SWITCHBOARD_CONFIG";
/// Environment variable selecting the context.
pub const CONTEXT_ENV: &str = "SWITCHBOARD_CONTEXT";
/// Environment variable selecting the theme.
pub const THEME_ENV: &str = "SWITCHBOARD_THEME";

/// The effective configuration after layering.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The context the console opens (after the environment and flags are applied, this
    /// is the one selected for this run).
    pub default_context: String,
    /// Theme name, resolved by [`crate::theme::load`].
    pub theme: String,
    /// Every known context by name; always holds [`LAB_CONTEXT`].
    pub contexts: BTreeMap<String, ContextConfig>,
    /// How a new urgent escalation is announced (`[notify]`).
    pub notify: NotifyConfig,
    /// `runbook_dirs`: directories of runbooks, besides the shipped ones and
    /// [`Paths::runbooks_dir`]; relative ones were taken against the config file's folder.
    pub runbook_dirs: Vec<PathBuf>,
}

/// `[notify]`: how the console tells of a new escalated task while the operator looks
/// elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotifyConfig {
    pub mode: NotifyMode,
    /// Tasks this urgent or more are announced (`p1` most urgent).
    pub min_priority: Priority,
    /// The escape sequence of [`NotifyMode::Desktop`].
    pub escape: DesktopEscape,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            mode: NotifyMode::Bell,
            min_priority: Priority::P2,
            escape: DesktopEscape::Osc777,
        }
    }
}

impl NotifyConfig {
    /// The priority from which tasks are announced; `None` when notifications are off.
    pub fn threshold(&self) -> Option<Priority> {
        (self.mode != NotifyMode::Off).then_some(self.min_priority)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyMode {
    Off,
    /// The terminal bell (BEL): most terminals flash, beep or mark the tab.
    #[default]
    Bell,
    /// A desktop notification through the terminal (see [`DesktopEscape`]).
    Desktop,
}

/// Terminals understand one of two desktop-notification escapes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DesktopEscape {
    /// `OSC 777;notify;title;body`: foot, WezTerm, Ghostty, VTE terminals, urxvt.
    #[default]
    Osc777,
    /// `OSC 9;text`: iTerm2, Windows Terminal, kitty, WezTerm, Ghostty.
    Osc9,
}

/// One named environment the console can connect to (e.g. `prod-eu`, `staging`).
#[derive(Clone, Debug, PartialEq)]
pub struct ContextConfig {
    /// Same as its key in [`Config::contexts`].
    pub name: String,
    /// Mutating actions are refused in this context.
    pub read_only: bool,
    /// Marks a production context, so the console can make that unmistakable.
    pub production: bool,
    /// Backends of this context; empty only for the embedded lab.
    pub sources: Vec<SourceConfig>,
    /// `[contexts.NAME.approvals]`: commands sent from here that wait for a second operator
    /// (the lab's topology `[approvals]` fields); `None`: nothing waits on this side.
    pub approvals: Option<ApprovalPolicy>,
    /// `[contexts.NAME.cost]`: prices and downtime costs the sources do not report.
    pub cost: CostConfig,
}

/// A backend the console reads from.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceConfig {
    /// Unique within its context; also names its token in the keyring.
    pub name: String,
    /// Base URL (http or https, no credentials in it).
    pub url: String,
    pub kind: SourceKind,
    /// The settings of a [`SourceKind::Temporal`] source (defaults when its file gives none).
    pub temporal: Option<TemporalSettings>,
    /// What a [`SourceKind::Prometheus`] source reads (its defaults when the file names none);
    /// `None` for every other kind.
    pub prometheus: Option<prometheus::PrometheusSettings>,
    /// What a [`SourceKind::Litellm`] source maps; `None` for every other kind.
    pub litellm: Option<litellm::LiteLlmSettings>,
    /// What a [`SourceKind::Patroni`] source reads; `None` for every other kind.
    pub patroni: Option<patroni::PatroniSettings>,
}

/// Which protocol a source speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Switchboard's own protocol v1 (the lab speaks it too).
    #[default]
    Native,
    /// Escalations from Temporal workflows over Temporal's HTTP API (docs/temporal.md).
    Temporal,
    /// Prometheus, with its Alertmanager when configured: facts, history, alerts, silences.
    Prometheus,
    /// A LiteLLM proxy (an AI gateway): deployments, routes, cooldowns; read-only.
    Litellm,
    /// A Patroni cluster (the control plane of a service's replicated database).
    Patroni,
}

/// Values from command-line flags; they override everything else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigOverrides {
    /// `--config PATH`: the user file to read instead of the platform one.
    pub config_file: Option<PathBuf>,
    /// `--context NAME`.
    pub context: Option<String>,
    /// `--theme NAME`.
    pub theme: Option<String>,
    /// `--read-only`: make every context read-only for this run.
    pub read_only: bool,
}

/// The result of [`load`]: always a usable configuration, plus what was wrong.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub config: Config,
    /// Problems of the user file; when not empty, `config` holds the defaults
    /// (with the environment and flags still applied).
    pub problems: Vec<ConfigProblem>,
    /// The user file that was read, if one exists.
    pub file: Option<PathBuf>,
    /// Whether the context was named (by the file's `default_context`, the environment or a
    /// flag) rather than left to the lab by default.
    pub context_chosen: bool,
}

/// Why a run that must reach exactly the fleet it was pointed at (every CLI verb) cannot
/// use the configuration: see [`LoadedConfig::for_exact_fleet`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnusableConfig {
    #[error(
        "the configuration has problems, so nothing was done (--lab runs on the embedded lab \
         regardless):\n{}",
        problem_lines(.0)
    )]
    Invalid(Vec<ConfigProblem>),
    #[error(
        "{} defines the contexts {} but chooses none: pass --context NAME (or set \
         default_context, or pass --lab for the embedded lab)",
        file.display(),
        known.join(", ")
    )]
    NoContextChosen { file: PathBuf, known: Vec<String> },
}

fn problem_lines(problems: &[ConfigProblem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    lines.join("\n")
}

impl LoadedConfig {
    /// The configuration for a run that acts on a fleet from a script or a shell, where the
    /// wrong fleet is worse than none: every problem of the file refuses the run, and so does
    /// a file with contexts of its own when none was chosen (the lab is no default there).
    /// The console, which shows its problems on screen, uses [`LoadedConfig::config`] as is.
    pub fn for_exact_fleet(&self) -> Result<&Config, UnusableConfig> {
        if !self.problems.is_empty() {
            return Err(UnusableConfig::Invalid(self.problems.clone()));
        }
        let own: Vec<String> = (self.config.contexts.keys())
            .filter(|name| *name != LAB_CONTEXT)
            .cloned()
            .collect();
        match &self.file {
            Some(file) if !self.context_chosen && !own.is_empty() => {
                Err(UnusableConfig::NoContextChosen {
                    file: file.clone(),
                    known: own,
                })
            }
            _ => Ok(&self.config),
        }
    }
}

/// What is wrong with the user file, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    /// 1-based; `None` when the problem concerns the whole file (e.g. unreadable).
    pub line: Option<usize>,
    /// 1-based, in characters; `None` together with `line`.
    pub column: Option<usize>,
    /// Safe to print: control characters from the file are escaped.
    pub reason: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A context name that is not configured.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown context {name:?}; known contexts: {}", known.join(", "))]
pub struct UnknownContext {
    pub name: String,
    pub known: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        let lab = ContextConfig {
            name: LAB_CONTEXT.to_string(),
            read_only: false,
            production: false,
            sources: Vec::new(),
            approvals: None,
            cost: CostConfig::default(),
        };
        Config {
            default_context: LAB_CONTEXT.to_string(),
            theme: DEFAULT_THEME.to_string(),
            contexts: BTreeMap::from([(LAB_CONTEXT.to_string(), lab)]),
            notify: NotifyConfig::default(),
            runbook_dirs: Vec::new(),
        }
    }
}

impl Config {
    /// The context called `name`, or an error naming the known ones.
    pub fn context(&self, name: &str) -> Result<&ContextConfig, UnknownContext> {
        self.contexts.get(name).ok_or_else(|| UnknownContext {
            name: name.to_string(),
            known: self.contexts.keys().cloned().collect(),
        })
    }

    /// Whether the context selected for this run is the embedded lab.
    pub fn is_lab(&self) -> bool {
        self.default_context == LAB_CONTEXT
    }

    /// The context selected for this run ([`Config::default_context`]).
    pub fn selected_context(&self) -> Result<&ContextConfig, UnknownContext> {
        self.context(&self.default_context)
    }
}

impl ContextConfig {
    /// Whether this is the embedded lab (which the console starts itself).
    pub fn is_lab(&self) -> bool {
        self.name == LAB_CONTEXT
    }

    /// The source called `name`, or an error naming the known ones.
    pub fn source(&self, name: &str) -> Result<&SourceConfig, UnknownSource> {
        self.sources
            .iter()
            .find(|source| source.name == name)
            .ok_or_else(|| UnknownSource {
                context: self.name.clone(),
                name: name.to_string(),
                known: self.sources.iter().map(|s| s.name.clone()).collect(),
            })
    }
}

/// A source name that is not configured in a context.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "context {context:?} has no source {name:?}; its sources: {}",
    known_list(known)
)]
pub struct UnknownSource {
    pub context: String,
    pub name: String,
    pub known: Vec<String>,
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    }
}

/// Where Switchboard keeps its files on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// e.g. `~/.config/switchboard` on Linux.
    pub config_dir: PathBuf,
    /// `config_dir/config.toml`.
    pub config_file: PathBuf,
    /// `config_dir/themes`: user themes (`NAME.toml`).
    pub themes_dir: PathBuf,
    /// `config_dir/runbooks`: user runbooks (`*.md`), beside the shipped ones.
    pub runbooks_dir: PathBuf,
    /// e.g. `~/.local/state/switchboard` on Linux, the local data dir elsewhere.
    pub state_dir: PathBuf,
    /// `state_dir/logs`.
    pub log_dir: PathBuf,
}

/// The platform paths (XDG on Linux, through `directories`).
///
/// Without a home directory the files go under `.switchboard` in the working
/// directory, never into a world-writable temp dir where another user could plant a
/// config file that points the console (and its tokens) somewhere else.
pub fn paths() -> Paths {
    let (config_dir, state_dir) =
        match directories::ProjectDirs::from("dev", "switchboard", "switchboard") {
            Some(dirs) => {
                let state = dirs
                    .state_dir()
                    .unwrap_or_else(|| dirs.data_local_dir())
                    .to_path_buf();
                (dirs.config_dir().to_path_buf(), state)
            }
            None => {
                let base = std::env::current_dir()
                    .unwrap_or_default()
                    .join(".switchboard");
                (base.clone(), base.join("state"))
            }
        };
    Paths {
        config_file: config_dir.join("config.toml"),
        themes_dir: config_dir.join("themes"),
        runbooks_dir: config_dir.join("runbooks"),
        log_dir: state_dir.join("logs"),
        config_dir,
        state_dir,
    }
}

/// Loads the configuration from the platform file and the process environment.
pub fn load(overrides: &ConfigOverrides) -> LoadedConfig {
    load_with_env(
        overrides,
        |name| std::env::var(name).ok(),
        &paths().config_file,
    )
}

/// [`load`] with the environment and the default file location passed in, so tests
/// (and embedders) need not touch the process environment.
///
/// Empty environment values count as unset.
pub fn load_with_env(
    overrides: &ConfigOverrides,
    env: impl Fn(&str) -> Option<String>,
    default_file: &Path,
) -> LoadedConfig {
    let env = |name: &str| env(name).filter(|value| !value.is_empty());
    let explicit_file = overrides
        .config_file
        .clone()
        .or_else(|| env(CONFIG_ENV).map(PathBuf::from));
    let (file_path, must_exist) = match explicit_file {
        Some(path) => (path, true),
        None => (default_file.to_path_buf(), false),
    };

    let mut config = Config::default();
    let mut problems = Vec::new();
    let mut file = None;
    let mut context_chosen = false;
    match std::fs::read_to_string(&file_path) {
        Ok(text) => {
            match file::parse(&file_path, &text) {
                Ok(parsed) => {
                    config = parsed.config;
                    context_chosen = parsed.names_context;
                }
                Err(found) => problems = found,
            }
            file = Some(file_path);
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !must_exist => {}
        Err(err) => problems.push(ConfigProblem {
            file: file_path,
            line: None,
            column: None,
            reason: format!("cannot read the configuration file: {err}"),
        }),
    }

    if let Some(context) = overrides.context.clone().or_else(|| env(CONTEXT_ENV)) {
        config.default_context = context;
        context_chosen = true;
    }
    if let Some(theme) = overrides.theme.clone().or_else(|| env(THEME_ENV)) {
        config.theme = theme;
    }
    if overrides.read_only {
        for context in config.contexts.values_mut() {
            context.read_only = true;
        }
    }
    LoadedConfig {
        config,
        problems,
        file,
        context_chosen,
    }
}

/// Parses and validates the text of a user file named `path` (only used in the problems),
/// as [`load`] does with the file it reads: the configuration it defines, or every problem
/// found, each at its line and column. Public so that the fuzz targets (`fuzz/`) reach the
/// parser without a file.
pub fn parse_file(path: &Path, text: &str) -> Result<Config, Vec<ConfigProblem>> {
    file::parse(path, text).map(|parsed| parsed.config)
}

/// Names of contexts, sources and themes: they end up in keyring entries, file
/// names and the screen, so they are kept to a plain, unambiguous alphabet.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

/// What [`is_valid_name`] accepts, for error messages.
pub(crate) const NAME_RULE: &str =
    "use 1-64 letters, digits, '-', '_' or '.', not starting with '.'";

/// A source's base URL: http(s), a host, and no credentials (those live in the keyring).
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|err| format!("invalid url: {err}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "url scheme {:?} is not supported: use http or https",
            parsed.scheme()
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "credentials do not belong in the url: tokens belong in the keyring, \
                    run `switchboard login`"
                .to_string(),
        );
    }
    if parsed.host_str().is_none() {
        return Err("url has no host".to_string());
    }
    Ok(())
}
