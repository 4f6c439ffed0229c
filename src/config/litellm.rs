//! What a `kind = "litellm"` source says in the config beside its URL: which region (and,
//! where LiteLLM's model prefix does not say it, which provider) each deployment serves, the
//! price per 1,000 tokens of a model LiteLLM's cost map does not know, and how often the
//! proxy is read. The master key is never here: it lives in the keyring like a
//! token (`switchboard login`, or `SWITCHBOARD_TOKEN`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{NAME_RULE, SourceKind, is_valid_name};

/// Longest wait between two reads of the proxy.
const MAX_POLL_INTERVAL_S: u64 = 600;

/// The settings of one LiteLLM source.
#[derive(Clone, Debug, PartialEq)]
pub struct LiteLlmSettings {
    /// Deployment id (`model_info.id`) or API base -> region. A deployment in neither is
    /// shown in its routes but in no region, and said so.
    pub regions: BTreeMap<String, String>,
    /// Deployment id or API base -> provider, for deployments whose model prefix
    /// (`openai/gpt-4o`: `openai`) is not the provider the fleet knows them by.
    pub providers: BTreeMap<String, String>,
    /// Deployment id or model (`openai/gpt-4o`) -> price per 1,000 tokens, in dollars: its
    /// spend is its tokens at this price instead of LiteLLM's own count.
    pub prices: BTreeMap<String, f64>,
    pub poll_interval: Duration,
}

impl Default for LiteLlmSettings {
    fn default() -> Self {
        LiteLlmSettings {
            regions: BTreeMap::new(),
            providers: BTreeMap::new(),
            prices: BTreeMap::new(),
            poll_interval: Duration::from_secs(10),
        }
    }
}

/// The `[...sources.litellm]` table as written, each value with its place in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLiteLlm {
    #[serde(default)]
    regions: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    providers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    prices: BTreeMap<String, Spanned<f64>>,
    poll_interval: Option<Spanned<u64>>,
}

/// Problems of a setting, each at its byte span in the file.
pub(super) type Located = Vec<(Range<usize>, String)>;

/// A LiteLLM source's settings (their defaults when the file gives none) and the problems of
/// what it gives, each where it is; settings on a source of another kind are a problem
/// themselves.
pub(super) fn settings(
    kind: SourceKind,
    given: Option<Spanned<FileLiteLlm>>,
) -> (Option<LiteLlmSettings>, Located) {
    let mut problems = Located::new();
    let Some(given) = given else {
        return (
            (kind == SourceKind::Litellm).then(LiteLlmSettings::default),
            problems,
        );
    };
    if kind != SourceKind::Litellm {
        let reason = "litellm settings belong to a source with kind = \"litellm\"";
        return (None, vec![(given.span(), reason.into())]);
    }
    let given = given.into_inner();
    let mut settings = LiteLlmSettings::default();
    if let Some(seconds) = given.poll_interval {
        if !(1..=MAX_POLL_INTERVAL_S).contains(seconds.get_ref()) {
            problems.push((
                seconds.span(),
                format!(
                    "poll_interval = {} is out of range: 1..={MAX_POLL_INTERVAL_S} seconds",
                    seconds.get_ref()
                ),
            ));
        }
        settings.poll_interval = Duration::from_secs(*seconds.get_ref());
    }
    settings.regions = mapping("region", given.regions, &mut problems);
    settings.providers = mapping("provider", given.providers, &mut problems);
    settings.prices = prices(given.prices, &mut problems);
    (Some(settings), problems)
}

/// Prices per 1,000 tokens: each keyed by a deployment or model, each a number of dollars.
fn prices(given: BTreeMap<String, Spanned<f64>>, problems: &mut Located) -> BTreeMap<String, f64> {
    given
        .into_iter()
        .map(|(key, price)| {
            let span = price.span();
            let price = price.into_inner();
            if key.trim().is_empty() {
                problems.push((
                    span.clone(),
                    "a price for an empty model: name a deployment id or a model".into(),
                ));
            }
            if !(price.is_finite() && price >= 0.0) {
                problems.push((
                    span,
                    format!("price {price} is not a number of dollars per 1,000 tokens"),
                ));
            }
            (key, price)
        })
        .collect()
}

/// A deployment mapping: every key names a deployment or an API base, every value a region or
/// provider as the fleet names it.
fn mapping(
    what: &str,
    given: BTreeMap<String, Spanned<String>>,
    problems: &mut Located,
) -> BTreeMap<String, String> {
    given
        .into_iter()
        .map(|(key, value)| {
            let span = value.span();
            let value = value.into_inner();
            if key.trim().is_empty() {
                problems.push((
                    span.clone(),
                    format!(
                        "a {what} for an empty deployment: name a deployment id or an API base"
                    ),
                ));
            }
            if !is_valid_name(&value) {
                problems.push((
                    span,
                    format!("{what} name {value:?} is not allowed: {NAME_RULE}"),
                ));
            }
            (key, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::ConfigProblem;

    fn parse(text: &str) -> Result<crate::config::Config, Vec<ConfigProblem>> {
        super::super::file::parse(Path::new("c.toml"), text).map(|parsed| parsed.config)
    }

    fn positions(text: &str) -> Vec<(Option<usize>, Option<usize>, String)> {
        let found = parse(text).expect_err("the file should be refused");
        found
            .into_iter()
            .map(|p| (p.line, p.column, p.reason))
            .collect()
    }

    #[test]
    fn a_litellm_source_reads_its_mapping_or_the_defaults() {
        let text = "\
[[contexts.prod.sources]]
name = \"gateway\"
kind = \"litellm\"
url = \"http://127.0.0.1:4000\"
[contexts.prod.sources.litellm]
poll_interval = 5
[contexts.prod.sources.litellm.regions]
gpt-4o-us-east = \"us-east\"
\"http://10.0.0.5:8000/v1\" = \"eu-west\"
[contexts.prod.sources.litellm.providers]
\"http://10.0.0.5:8000/v1\" = \"vllm\"
[contexts.prod.sources.litellm.prices]
\"openai/llama-3-70b\" = 0.0009
[[contexts.prod.sources]]
name = \"plain\"
kind = \"litellm\"
url = \"http://127.0.0.1:4001\"
[[contexts.prod.sources]]
name = \"lab\"
url = \"http://127.0.0.1:7300\"
";
        let config = parse(text).unwrap();
        let sources = &config.contexts["prod"].sources;
        assert_eq!(sources[0].kind, SourceKind::Litellm);
        let settings = sources[0].litellm.as_ref().unwrap();
        assert_eq!(settings.poll_interval, Duration::from_secs(5));
        assert_eq!(settings.regions["gpt-4o-us-east"], "us-east");
        assert_eq!(settings.regions["http://10.0.0.5:8000/v1"], "eu-west");
        assert_eq!(settings.providers["http://10.0.0.5:8000/v1"], "vllm");
        assert_eq!(settings.prices["openai/llama-3-70b"], 0.0009);
        assert_eq!(sources[1].litellm, Some(LiteLlmSettings::default()));
        assert_eq!(
            (sources[2].kind, &sources[2].litellm),
            (SourceKind::Native, &None)
        );
    }

    #[test]
    fn litellm_settings_problems_are_reported_where_they_are() {
        let text = "\
[[contexts.prod.sources]]
name = \"gateway\"
kind = \"litellm\"
url = \"http://127.0.0.1:4000\"
[contexts.prod.sources.litellm]
poll_interval = 0
regions = { a = \"us east\", \"\" = \"eu-west\" }
providers = { b = \"\" }
";
        let found = positions(text);
        let at: Vec<_> = found.iter().map(|(l, c, _)| (*l, *c)).collect();
        assert_eq!(
            at,
            [
                (Some(6), Some(17)),
                (Some(7), Some(33)),
                (Some(7), Some(17)),
                (Some(8), Some(19))
            ],
            "{found:#?}"
        );
        assert!(found[0].2.contains("1..=600"), "{found:#?}");
        assert!(found[1].2.contains("empty deployment"), "{found:#?}");
        assert!(found[2].2.contains("region name \"us east\""), "{found:#?}");
        assert!(found[3].2.contains("provider name \"\""), "{found:#?}");

        let priced = "\
[[contexts.prod.sources]]
name = \"gateway\"
kind = \"litellm\"
url = \"http://127.0.0.1:4000\"
[contexts.prod.sources.litellm]
prices = { a = -1.0, \"\" = 0.5 }
";
        let found = positions(priced);
        let at: Vec<_> = found.iter().map(|(l, c, _)| (*l, *c)).collect();
        assert_eq!(at, [(Some(6), Some(27)), (Some(6), Some(16))], "{found:#?}");
        assert!(found[0].2.contains("empty model"), "{found:#?}");
        assert!(found[1].2.contains("price -1 is not"), "{found:#?}");

        let misspelt = "\
[[contexts.prod.sources]]
name = \"gateway\"
kind = \"litellm\"
url = \"http://127.0.0.1:4000\"
litellm = { region = { a = \"us-east\" } }
";
        let found = positions(misspelt);
        assert_eq!((found[0].0, found[0].1), (Some(5), Some(13)), "{found:#?}");
        assert!(found[0].2.contains("region"), "{found:#?}");

        let wrong_kind = "\
[[contexts.prod.sources]]
name = \"api\"
url = \"http://127.0.0.1:7300\"
litellm = { poll_interval = 5 }
";
        let found = positions(wrong_kind);
        assert_eq!((found[0].0, found[0].1), (Some(4), Some(11)), "{found:#?}");
        assert!(found[0].2.contains("kind = \"litellm\""), "{found:#?}");
    }

    /// The master key is a secret: the file that holds one is refused where it holds it, and
    /// the message sends it to the keyring without repeating it.
    #[test]
    fn a_master_key_in_the_file_goes_to_the_keyring() {
        let text = "\
[[contexts.prod.sources]]
name = \"gateway\"
kind = \"litellm\"
url = \"http://127.0.0.1:4000\"
[contexts.prod.sources.litellm]
master_key = \"sk-1234\"
";
        let found = positions(text);
        assert_eq!((found[0].0, found[0].1), (Some(6), Some(1)), "{found:#?}");
        assert!(found[0].2.contains("keyring"), "{found:#?}");
        assert!(!found[0].2.contains("sk-1234"), "{found:#?}");
    }

    /// The example context users adapt parses, and maps what the README says it maps.
    #[test]
    fn the_example_lab_prometheus_litellm_context_parses() {
        let text = include_str!("../../fixtures/contexts/lab-prometheus-litellm.toml");
        let config = parse(text).unwrap();
        let context = &config.contexts["lab-prometheus-litellm"];
        let kinds: Vec<SourceKind> = context.sources.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SourceKind::Native,
                SourceKind::Prometheus,
                SourceKind::Litellm
            ]
        );
        let gateway = context.source("gateway").unwrap();
        let settings = gateway.litellm.as_ref().unwrap();
        assert_eq!(settings.regions["gpt-4o-us-east"], "us-east");
        assert_eq!(settings.providers["http://10.0.0.5:8000/v1"], "self-hosted");
        assert_eq!(settings.poll_interval, Duration::from_secs(10));
    }
}
