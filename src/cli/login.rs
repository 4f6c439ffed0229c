//! `switchboard login`: puts a source's token in the keyring (or removes it).
//!
//! The hidden prompt uses crossterm's raw mode rather than a password crate: crossterm
//! is already linked, and in raw mode Ctrl-C arrives as a key, so the prompt always
//! gets to restore the terminal (a crate that only turns echo off leaves the terminal
//! silent when SIGINT kills the process mid-prompt).

use std::io::{self, IsTerminal, Read, Write};

use anyhow::{Context as _, bail};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal;

use crate::config::secrets::{self, TOKEN_ENV};
use crate::config::{Config, SourceConfig};
use protocol::sanitize::clean;

/// Arguments of `switchboard login`. The context is the selected one (the global
/// `--context` flag, `SWITCHBOARD_CONTEXT`, or `default_context` in the file).
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
pub struct LoginArgs {
    /// Source whose token this is (needed when the context has several sources).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Read the token from standard input instead of prompting for it.
    #[arg(long, conflicts_with = "delete")]
    pub token_stdin: bool,
    /// Remove the stored token instead of storing one.
    #[arg(long)]
    pub delete: bool,
}

/// Runs `switchboard login`: stores (or with `--delete` removes) the token of one
/// source, and says where it went. Prompts without echo when stdin is a terminal.
pub fn run_login(args: LoginArgs, config: &Config) -> anyhow::Result<()> {
    let mut stdout = io::stdout();
    login(&args, config, read_token, &mut stdout)
}

/// [`run_login`] with the token reader and the output passed in.
fn login(
    args: &LoginArgs,
    config: &Config,
    read_token: impl FnOnce(&LoginArgs, &str) -> anyhow::Result<String>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let context = config.selected_context()?;
    if context.is_lab() {
        bail!("the lab context is embedded and needs no token");
    }
    let source = match &args.source {
        Some(name) => context.source(name)?,
        None => only_source(&context.name, &context.sources)?,
    };
    let target = format!("{}/{}", context.name, source.name);
    let store = secrets::init_default_store()?;

    if args.delete {
        if secrets::delete_token(&context.name, &source.name)? {
            writeln!(
                out,
                "Removed the token of {target} from {}.",
                store.describe()
            )?;
        } else {
            writeln!(
                out,
                "No token was stored for {target} in {}.",
                store.describe()
            )?;
        }
        return Ok(());
    }

    let token = read_token(args, &target)?;
    secrets::store_token(&context.name, &source.name, &token)?;
    // Read it back, so "stored" is only said of a token that can be found again.
    let stored = secrets::stored_token(&context.name, &source.name)?;
    if stored.as_deref() != Some(token.as_str()) {
        bail!(
            "the token for {target} was written to {} but could not be read back; \
             set {TOKEN_ENV} instead",
            store.describe()
        );
    }
    writeln!(
        out,
        "Stored the token of {target} ({}) in {}.",
        clean(&source.url),
        store.describe()
    )?;
    if secrets::env_token_is_set() {
        writeln!(
            out,
            "Note: {TOKEN_ENV} is set in this environment and overrides stored tokens."
        )?;
    }
    Ok(())
}

fn only_source<'a>(context: &str, sources: &'a [SourceConfig]) -> anyhow::Result<&'a SourceConfig> {
    match sources {
        [only] => Ok(only),
        _ => {
            let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
            bail!(
                "context {context:?} has several sources; choose one with --source ({})",
                names.join(", ")
            )
        }
    }
}

fn read_token(args: &LoginArgs, target: &str) -> anyhow::Result<String> {
    if args.token_stdin {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("reading the token from standard input")?;
        return Ok(text.trim().to_string());
    }
    if !io::stdin().is_terminal() {
        bail!("standard input is not a terminal: pipe the token in with --token-stdin");
    }
    prompt_hidden(&format!("Token for {target} (input hidden): "))
}

/// Leaves raw mode when dropped, whatever way the prompt ends.
struct RawMode;

impl RawMode {
    fn enable() -> io::Result<RawMode> {
        terminal::enable_raw_mode()?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
    }
}

fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    let mut stderr = io::stderr();
    write!(stderr, "{prompt}")?;
    stderr.flush()?;
    let typed = {
        let _raw = RawMode::enable().context("switching the terminal to raw mode")?;
        read_hidden_line()
    };
    writeln!(stderr)?;
    typed
}

fn read_hidden_line() -> anyhow::Result<String> {
    let mut token = String::new();
    loop {
        let Event::Key(KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press,
            ..
        }) = event::read()?
        else {
            continue;
        };
        let control = modifiers.contains(KeyModifiers::CONTROL);
        match code {
            KeyCode::Enter => return Ok(token),
            KeyCode::Esc => bail!("cancelled"),
            KeyCode::Char('c') | KeyCode::Char('d') if control => bail!("cancelled"),
            KeyCode::Char('u') if control => token.clear(),
            KeyCode::Backspace => {
                token.pop();
            }
            KeyCode::Char(c) if !control => token.push(c),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::{ContextConfig, SourceKind};

    fn config() -> Config {
        let mut config = Config::default();
        let context = |name: &str, sources: &[&str]| ContextConfig {
            name: name.to_string(),
            read_only: false,
            production: true,
            approvals: None,
            cost: Default::default(),
            sources: sources
                .iter()
                .map(|source| SourceConfig {
                    name: source.to_string(),
                    url: "http://127.0.0.1:7300".to_string(),
                    kind: SourceKind::Native,
                    temporal: None,
                    prometheus: None,
                    litellm: None,
                    patroni: None,
                })
                .collect(),
        };
        config.contexts.extend(BTreeMap::from([
            ("login-one".to_string(), context("login-one", &["api"])),
            ("login-two".to_string(), context("login-two", &["a", "b"])),
        ]));
        config
    }

    fn run(context: &str, args: LoginArgs, token: &str) -> anyhow::Result<String> {
        secrets::use_mock_store();
        let mut config = config();
        config.default_context = context.to_string();
        let mut out = Vec::new();
        let token = token.to_string();
        login(&args, &config, |_, _| Ok(token), &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn source(name: &str) -> LoginArgs {
        LoginArgs {
            source: Some(name.to_string()),
            ..LoginArgs::default()
        }
    }

    #[test]
    fn stores_for_the_only_source_of_the_selected_context() {
        let said = run("login-one", LoginArgs::default(), "sk-login").unwrap();
        assert!(
            said.contains("login-one/api") && !said.contains("sk-login"),
            "{said}"
        );
        assert_eq!(
            secrets::stored_token("login-one", "api")
                .unwrap()
                .as_deref(),
            Some("sk-login")
        );
        let delete = LoginArgs {
            delete: true,
            ..LoginArgs::default()
        };
        let said = run("login-one", delete.clone(), "").unwrap();
        assert!(said.starts_with("Removed"), "{said}");
        let said = run("login-one", delete, "").unwrap();
        assert!(said.starts_with("No token"), "{said}");
    }

    #[test]
    fn several_sources_need_a_choice() {
        let err = run("login-two", LoginArgs::default(), "tok").unwrap_err();
        assert!(err.to_string().contains("--source (a, b)"), "{err}");
        run("login-two", source("b"), "sk-b").unwrap();
        assert_eq!(
            secrets::stored_token("login-two", "b").unwrap().as_deref(),
            Some("sk-b")
        );
    }

    #[test]
    fn unknown_names_and_the_lab_are_refused() {
        let err = run("nope", LoginArgs::default(), "tok").unwrap_err();
        assert!(
            err.to_string()
                .contains("known contexts: lab, login-one, login-two"),
            "{err}"
        );
        let err = run("lab", LoginArgs::default(), "tok").unwrap_err();
        assert!(err.to_string().contains("no token"), "{err}");
        let err = run("login-one", source("zzz"), "tok").unwrap_err();
        assert!(err.to_string().contains("its sources: api"), "{err}");
    }

    #[test]
    fn an_invalid_token_is_not_stored() {
        assert!(run("login-two", source("a"), "has space").is_err());
        assert_eq!(secrets::stored_token("login-two", "a").unwrap(), None);
    }
}
