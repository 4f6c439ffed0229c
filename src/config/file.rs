//! The user's `config.toml`: parsing, validation and positions of problems.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::prometheus::PrometheusSettings;
use super::temporal::TemporalSettings;
use super::{
    Config, ConfigProblem, ContextConfig, DesktopEscape, LAB_CONTEXT, NAME_RULE, NotifyConfig,
    NotifyMode, SourceConfig, SourceKind, check_url, is_valid_name,
};
use protocol::escalations::Priority;
use protocol::sanitize::clean;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    default_context: Option<Spanned<String>>,
    theme: Option<String>,
    #[serde(default)]
    contexts: BTreeMap<Spanned<String>, FileContext>,
    notify: Option<FileNotify>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileNotify {
    mode: Option<NotifyMode>,
    min_priority: Option<Priority>,
    escape: Option<DesktopEscape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContext {
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    production: bool,
    #[serde(default)]
    sources: Vec<Spanned<FileSource>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSource {
    name: Spanned<String>,
    url: Spanned<String>,
    #[serde(default)]
    kind: SourceKind,
    temporal: Option<Spanned<TemporalSettings>>,
    prometheus: Option<Spanned<PrometheusSettings>>,
    litellm: Option<Spanned<super::litellm::FileLiteLlm>>,
    patroni: Option<Spanned<super::patroni::PatroniSettings>>,
}

/// A valid user file.
#[derive(Debug)]
pub(super) struct Parsed {
    pub config: Config,
    /// Whether the file sets `default_context` (else the lab stands in for it).
    pub names_context: bool,
}

/// Parses and validates the user file; on any problem, returns all that were found.
pub(super) fn parse(path: &Path, text: &str) -> Result<Parsed, Vec<ConfigProblem>> {
    let problem = |span: Option<Range<usize>>, reason: &str| located(path, text, span, reason);

    // Secrets are looked for on the raw document first, so a token gets the keyring
    // message rather than a generic "unknown field".
    let document = DeTable::parse(text).map_err(|err| vec![problem(err.span(), err.message())])?;
    let secret_keys = secret_key_spans(document.get_ref());
    if !secret_keys.is_empty() {
        return Err(secret_keys
            .into_iter()
            .map(|span| {
                problem(
                    Some(span),
                    "tokens belong in the keyring, not in this file: remove this key and \
                     run `switchboard login`",
                )
            })
            .collect());
    }

    let file: FileConfig =
        toml::from_str(text).map_err(|err| vec![problem(err.span(), err.message())])?;

    let mut problems = Vec::new();
    let mut config = Config::default();
    let names_context = file.default_context.is_some();
    if let Some(theme) = file.theme {
        config.theme = theme;
    }
    if let Some(notify) = file.notify {
        let defaults = NotifyConfig::default();
        config.notify = NotifyConfig {
            mode: notify.mode.unwrap_or(defaults.mode),
            min_priority: notify.min_priority.unwrap_or(defaults.min_priority),
            escape: notify.escape.unwrap_or(defaults.escape),
        };
    }
    for (name, context) in file.contexts {
        let span = name.span();
        let name = name.into_inner();
        match validate_context(&name, context) {
            Ok(context) => {
                config.contexts.insert(name, context);
            }
            Err(reasons) => problems.extend(
                reasons
                    .into_iter()
                    .map(|(at, reason)| problem(Some(at.unwrap_or(span.clone())), &reason)),
            ),
        }
    }
    if let Some(default_context) = file.default_context {
        if !config.contexts.contains_key(default_context.get_ref()) {
            let known: Vec<&str> = config.contexts.keys().map(String::as_str).collect();
            problems.push(problem(
                Some(default_context.span()),
                &format!(
                    "default_context {:?} is not defined; known contexts: {}",
                    default_context.get_ref(),
                    known.join(", ")
                ),
            ));
        }
        config.default_context = default_context.into_inner();
    }

    if problems.is_empty() {
        Ok(Parsed {
            config,
            names_context,
        })
    } else {
        Err(problems)
    }
}

type Reasons = Vec<(Option<Range<usize>>, String)>;

/// Checks one context; a reason without a span is reported at the context's name.
fn validate_context(name: &str, context: FileContext) -> Result<ContextConfig, Reasons> {
    let mut reasons: Reasons = Vec::new();
    if !is_valid_name(name) {
        reasons.push((
            None,
            format!("context name {name:?} is not allowed: {NAME_RULE}"),
        ));
    }
    if name == LAB_CONTEXT && !context.sources.is_empty() {
        reasons.push((
            None,
            "the lab context is embedded and takes no sources; \
             give your sources another context name"
                .to_string(),
        ));
    }
    if name != LAB_CONTEXT && context.sources.is_empty() {
        reasons.push((
            None,
            format!(
                "context {name:?} has no sources; add at least one [[contexts.{name}.sources]]"
            ),
        ));
    }

    let mut seen = BTreeSet::new();
    let mut sources = Vec::with_capacity(context.sources.len());
    for source in context.sources {
        let source = source.into_inner();
        let source_name = source.name.get_ref();
        if !is_valid_name(source_name) {
            reasons.push((
                Some(source.name.span()),
                format!("source name {source_name:?} is not allowed: {NAME_RULE}"),
            ));
        } else if !seen.insert(source_name.clone()) {
            reasons.push((
                Some(source.name.span()),
                format!("source {source_name:?} appears twice in context {name:?}"),
            ));
        }
        if let Err(reason) = check_url(source.url.get_ref()) {
            reasons.push((Some(source.url.span()), reason));
        }
        let temporal = temporal_settings(source.kind, source.temporal, &source.name, &mut reasons);
        let prometheus = match (source.kind, source.prometheus) {
            (SourceKind::Prometheus, settings) => {
                Some(settings.map(Spanned::into_inner).unwrap_or_default())
            }
            (_, None) => None,
            (_, Some(settings)) => {
                reasons.push((
                    Some(settings.span()),
                    "prometheus settings belong to a source with kind = \"prometheus\"".into(),
                ));
                None
            }
        };
        let (litellm, found) = super::litellm::settings(source.kind, source.litellm);
        reasons.extend(found.into_iter().map(|(at, reason)| (Some(at), reason)));
        let patroni = super::patroni::settings(source.kind, source.patroni, &source.name)
            .unwrap_or_else(|(at, reason)| {
                reasons.push((Some(at), reason));
                None
            });
        sources.push(SourceConfig {
            name: source.name.into_inner(),
            url: source.url.into_inner(),
            kind: source.kind,
            temporal,
            prometheus,
            litellm,
            patroni,
        });
    }

    if reasons.is_empty() {
        Ok(ContextConfig {
            name: name.to_string(),
            read_only: context.read_only,
            production: context.production,
            sources,
        })
    } else {
        Err(reasons)
    }
}

/// A Temporal source's settings (their defaults when the file gives none), each problem at
/// the settings' table; settings on a source of another kind are a problem themselves.
fn temporal_settings(
    kind: SourceKind,
    given: Option<Spanned<TemporalSettings>>,
    name: &Spanned<String>,
    reasons: &mut Reasons,
) -> Option<TemporalSettings> {
    let span = given.as_ref().map_or(name.span(), Spanned::span);
    match (kind, given) {
        (SourceKind::Temporal, given) => {
            let settings = given.map(Spanned::into_inner).unwrap_or_default();
            let problems = settings.problems();
            reasons.extend(problems.into_iter().map(|p| (Some(span.clone()), p)));
            Some(settings)
        }
        (_, Some(_)) => {
            reasons.push((
                Some(span),
                "temporal settings belong to a source with kind = \"temporal\"".to_string(),
            ));
            None
        }
        (_, None) => None,
    }
}

/// Keys that hold (or look like they hold) a secret, anywhere in the document.
fn secret_key_spans(table: &DeTable<'_>) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    collect_secret_keys(table, &mut spans);
    spans.sort_by_key(|span| span.start);
    spans
}

fn collect_secret_keys(table: &DeTable<'_>, spans: &mut Vec<Range<usize>>) {
    for (key, value) in table {
        if looks_like_secret(key.get_ref()) {
            spans.push(key.span());
        }
        collect_secret_values(value.get_ref(), spans);
    }
}

fn collect_secret_values(value: &DeValue<'_>, spans: &mut Vec<Range<usize>>) {
    match value {
        DeValue::Table(table) => collect_secret_keys(table, spans),
        DeValue::Array(array) => {
            for item in array.iter() {
                collect_secret_values(item.get_ref(), spans);
            }
        }
        _ => {}
    }
}

fn looks_like_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    key == "token"
        || key.ends_with("_token")
        || matches!(
            key.as_str(),
            "password" | "secret" | "api_key" | "apikey" | "master_key"
        )
}

/// A problem at a byte span of `text`, with 1-based line and character column.
fn located(path: &Path, text: &str, span: Option<Range<usize>>, reason: &str) -> ConfigProblem {
    let (line, column) = match span {
        Some(span) => {
            let (line, column) = protocol::source_text::line_column(text, span.start);
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    // toml's messages may span lines and quote the file's text: keep one safe line.
    let reason = reason
        .lines()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    ConfigProblem {
        file: path.to_path_buf(),
        line,
        column,
        reason: clean(&reason).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<ConfigProblem> {
        parse(Path::new("c.toml"), text).expect_err("the file should be refused")
    }

    fn positions(text: &str) -> Vec<(Option<usize>, Option<usize>)> {
        problems(text).iter().map(|p| (p.line, p.column)).collect()
    }

    #[test]
    fn every_secret_looking_key_is_refused_where_it_is() {
        let text = "\
[contexts.prod]
[[contexts.prod.sources]]
name = \"api\"
url = \"https://api.example\"
api-token = \"x\"
[[contexts.prod.sources]]
name = \"b\"
url = \"https://b.example\"
password = \"y\"
";
        let found = problems(text);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].line, found[0].column), (Some(5), Some(1)));
        assert_eq!(found[1].line, Some(9));
        assert!(found[0].reason.contains("switchboard login"));
    }

    #[test]
    fn unknown_kind_is_reported_at_its_value() {
        let text = "\
[[contexts.prod.sources]]
name = \"api\"
url = \"http://127.0.0.1:7300\"
kind = \"graphite\"
";
        assert_eq!(positions(text), vec![(Some(4), Some(8))]);
        assert!(problems(text)[0].reason.contains("graphite"));
    }

    #[test]
    fn a_temporal_source_takes_its_settings_or_their_defaults() {
        let text = "\
default_context = \"agents\"
[[contexts.agents.sources]]
name = \"workflows\"
url = \"https://temporal.example:7243\"
kind = \"temporal\"
[contexts.agents.sources.temporal]
namespace = \"agents-prod\"
poll_interval_s = 10
[contexts.agents.sources.temporal.names]
state = \"EscalationState\"
[[contexts.agents.sources]]
name = \"plain\"
url = \"http://127.0.0.1:7243\"
kind = \"temporal\"
";
        let config = parse(Path::new("c.toml"), text).unwrap().config;
        let sources = &config.contexts["agents"].sources;
        assert_eq!(sources[0].kind, SourceKind::Temporal);
        let settings = sources[0].temporal.as_ref().unwrap();
        assert_eq!(settings.namespace, "agents-prod");
        assert_eq!(settings.poll_interval_s, 10);
        assert_eq!(settings.names.state, "EscalationState");
        assert_eq!(settings.names.claim, "switchboard_claim");
        assert_eq!(sources[1].temporal, Some(TemporalSettings::default()));
    }

    #[test]
    fn the_example_temporal_context_holds_the_defaults() {
        let text = include_str!("../../fixtures/contexts/temporal.toml");
        let config = parse(Path::new("temporal.toml"), text).unwrap().config;
        let context = &config.contexts["agents"];
        assert_eq!(context.sources[0].kind, SourceKind::Native);
        let workflows = context.source("workflows").unwrap();
        assert_eq!(workflows.temporal, Some(TemporalSettings::default()));
    }

    #[test]
    fn temporal_settings_problems_are_reported_where_they_are() {
        let text = "\
[[contexts.agents.sources]]
name = \"workflows\"
url = \"http://127.0.0.1:7243\"
kind = \"temporal\"
temporal = { namespace = \"\", poll_interval_s = 0, names = { claim = \"x' OR 'y\" } }
[[contexts.agents.sources]]
name = \"api\"
url = \"http://127.0.0.1:7300\"
temporal = { namespace = \"agents\" }
[[contexts.agents.sources]]
name = \"typo\"
url = \"http://127.0.0.1:7243\"
kind = \"temporal\"
temporal = { namespaces = \"agents\" }
";
        let found = problems(text);
        assert_eq!(positions(text)[0], (Some(14), Some(14)), "{found:#?}");
        assert!(found[0].reason.contains("namespaces"), "{found:#?}");
        let found = problems(&text.replace("namespaces", "namespace"));
        let at: Vec<_> = found.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(
            at,
            vec![(Some(5), Some(12)); 3]
                .into_iter()
                .chain([(Some(9), Some(12))])
                .collect::<Vec<_>>()
        );
        assert!(found[0].reason.contains("namespace is empty"), "{found:#?}");
        assert!(found[1].reason.contains("poll_interval_s"));
        assert!(found[2].reason.contains("the claim name"));
        assert!(found[3].reason.contains("kind = \"temporal\""));
    }

    #[test]
    fn an_api_key_in_a_temporal_table_goes_to_the_keyring() {
        let text = "\
[[contexts.agents.sources]]
name = \"workflows\"
url = \"http://127.0.0.1:7243\"
kind = \"temporal\"
[contexts.agents.sources.temporal]
api_key = \"secret\"
";
        let found = problems(text);
        assert_eq!(positions(text), vec![(Some(6), Some(1))]);
        assert!(found[0].reason.contains("keyring"));
        assert!(!found[0].reason.contains("secret\""));
    }

    #[test]
    fn semantic_problems_are_all_reported() {
        let text = "\
default_context = \"nowhere\"
[contexts.empty]
[contexts.lab]
[[contexts.lab.sources]]
name = \"x\"
url = \"http://127.0.0.1:1\"
[[contexts.prod.sources]]
name = \"api\"
url = \"ftp://files.example\"
[[contexts.prod.sources]]
name = \"api\"
url = \"https://user:pw@api.example\"
";
        let found = problems(text);
        let lines: Vec<_> = found.iter().map(|p| p.line.unwrap()).collect();
        assert_eq!(lines, vec![2, 3, 9, 11, 12, 1], "{found:#?}");
        assert!(found[0].reason.contains("no sources"));
        assert!(found[1].reason.contains("embedded"));
        assert!(found[2].reason.contains("ftp"));
        assert!(found[3].reason.contains("twice"));
        assert!(found[4].reason.contains("credentials"));
        assert!(!found[4].reason.contains("pw"));
        assert!(found[5].reason.contains("known contexts: lab"));
    }

    #[test]
    fn notify_takes_its_defaults_and_refuses_unknown_values_where_they_are() {
        let config = parse(Path::new("c.toml"), "[notify]\nmin_priority = \"p1\"\n")
            .unwrap()
            .config;
        assert_eq!(config.notify.mode, NotifyMode::Bell);
        assert_eq!(config.notify.min_priority, Priority::P1);
        assert_eq!(config.notify.threshold(), Some(Priority::P1));
        let config = parse(
            Path::new("c.toml"),
            "[notify]\nmode = \"desktop\"\nescape = \"osc9\"\n",
        )
        .unwrap()
        .config;
        assert_eq!(config.notify.escape, DesktopEscape::Osc9);
        let off = parse(Path::new("c.toml"), "[notify]\nmode = \"off\"\n")
            .unwrap()
            .config;
        assert_eq!(off.notify.threshold(), None);
        let text = "[notify]\nmode = \"loud\"\n";
        assert_eq!(positions(text), vec![(Some(2), Some(8))]);
        assert!(
            problems(text)[0].reason.contains("loud"),
            "{:?}",
            problems(text)
        );
        assert_eq!(
            positions("[notify]\nmin_priority = \"p9\"\n"),
            vec![(Some(2), Some(16))]
        );
    }

    #[test]
    fn control_characters_from_the_file_are_escaped() {
        let text = "\"bad\\u001b[2J\" = 1\n";
        let found = problems(text);
        assert!(!found[0].reason.contains('\u{1b}'), "{:?}", found[0].reason);
        assert_eq!(found[0].line, Some(1));
    }

    #[test]
    fn a_prometheus_source_reads_its_settings_over_the_defaults() {
        let text = "\
[contexts.prod]
[[contexts.prod.sources]]
name = \"api\"
url = \"http://127.0.0.1:7300\"
[[contexts.prod.sources]]
name = \"metrics\"
kind = \"prometheus\"
url = \"http://127.0.0.1:9090\"
[contexts.prod.sources.prometheus]
alertmanager_url = \"http://127.0.0.1:9093\"
poll_interval = 5
[contexts.prod.sources.prometheus.labels]
region = \"zone\"
[[contexts.prod.sources]]
name = \"plain\"
kind = \"prometheus\"
url = \"http://127.0.0.1:9091\"
";
        let config = parse(Path::new("c.toml"), text).unwrap().config;
        let sources = &config.contexts["prod"].sources;
        assert_eq!(sources[0].kind, SourceKind::Native);
        assert_eq!(sources[0].prometheus, None);
        assert_eq!(sources[1].kind, SourceKind::Prometheus);
        let settings = sources[1].prometheus.as_ref().unwrap();
        assert_eq!(
            settings.alertmanager_url.as_deref(),
            Some("http://127.0.0.1:9093")
        );
        assert_eq!(settings.poll_interval, std::time::Duration::from_secs(5));
        assert_eq!(settings.labels.region, "zone");
        assert_eq!(settings.labels.provider, "api_provider", "a default kept");
        assert_eq!(sources[2].prometheus, Some(PrometheusSettings::default()));
    }

    #[test]
    fn prometheus_settings_problems_are_reported_where_they_are() {
        let text = "\
[[contexts.prod.sources]]
name = \"metrics\"
kind = \"prometheus\"
url = \"http://127.0.0.1:9090\"
[contexts.prod.sources.prometheus]
alertmanager_url = \"http://me:pw@127.0.0.1:9093\"
";
        assert_eq!(positions(text), vec![(Some(6), Some(20))]);
        let found = problems(text);
        assert!(found[0].reason.contains("credentials"), "{found:?}");
        assert!(!found[0].reason.contains("pw"), "{found:?}");

        let misspelt = "\
[[contexts.prod.sources]]
name = \"metrics\"
kind = \"prometheus\"
url = \"http://127.0.0.1:9090\"
prometheus = { windw = \"5m\" }
";
        assert_eq!(positions(misspelt), vec![(Some(5), Some(16))]);
        assert!(problems(misspelt)[0].reason.contains("windw"));

        let bad_window = misspelt.replace("windw = \"5m\"", "window = \"5 minutes\"");
        assert_eq!(positions(&bad_window), vec![(Some(5), Some(25))]);
        assert!(problems(&bad_window)[0].reason.contains("5m"));

        let wrong_kind = "\
[[contexts.prod.sources]]
name = \"api\"
url = \"http://127.0.0.1:7300\"
prometheus = { window = \"5m\" }
";
        assert_eq!(positions(wrong_kind), vec![(Some(4), Some(14))]);
        assert!(
            problems(wrong_kind)[0]
                .reason
                .contains("kind = \"prometheus\"")
        );

        let token = "\
[[contexts.prod.sources]]
name = \"metrics\"
kind = \"prometheus\"
url = \"http://127.0.0.1:9090\"
prometheus = { bearer_token = \"x\" }
";
        assert!(problems(token)[0].reason.contains("keyring"));
    }

    /// The example context users adapt parses, and says what the README says it does.
    #[test]
    fn the_example_lab_prometheus_context_parses() {
        let text = include_str!("../../fixtures/contexts/lab-prometheus.toml");
        let config = parse(Path::new("lab-prometheus.toml"), text)
            .unwrap()
            .config;
        let context = &config.contexts["lab-prometheus"];
        assert_eq!(context.sources[0].kind, SourceKind::Native);
        let metrics = context.source("metrics").unwrap();
        assert_eq!(metrics.kind, SourceKind::Prometheus);
        let settings = metrics.prometheus.as_ref().unwrap();
        assert_eq!(
            settings.alertmanager_url.as_deref(),
            Some("http://127.0.0.1:9093")
        );
    }
}
