//! One context of the user's file and its sources: names, URLs and each kind's settings
//! table, checked, every problem with the span it is at.

use std::collections::BTreeSet;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use protocol::approvals::ApprovalPolicy;

use crate::config::prometheus::PrometheusSettings;
use crate::config::temporal::TemporalSettings;
use crate::config::{
    ContextConfig, LAB_CONTEXT, NAME_RULE, SourceConfig, SourceKind, check_url, is_valid_name,
};
use crate::domain::prices::CostConfig;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileContext {
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    production: bool,
    #[serde(default)]
    sources: Vec<Spanned<FileSource>>,
    /// The two-person rule this console and the CLI apply to what they send here.
    approvals: Option<Spanned<ApprovalPolicy>>,
    /// Prices and downtime costs the sources do not report.
    cost: Option<Spanned<CostConfig>>,
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
    litellm: Option<Spanned<crate::config::litellm::FileLiteLlm>>,
    patroni: Option<Spanned<crate::config::patroni::PatroniSettings>>,
}

pub(super) type Reasons = Vec<(Option<Range<usize>>, String)>;

/// Checks one context; a reason without a span is reported at the context's name.
pub(super) fn validate_context(name: &str, context: FileContext) -> Result<ContextConfig, Reasons> {
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
        let (litellm, found) = crate::config::litellm::settings(source.kind, source.litellm);
        reasons.extend(found.into_iter().map(|(at, reason)| (Some(at), reason)));
        let patroni = crate::config::patroni::settings(source.kind, source.patroni, &source.name)
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

    let approvals = context.approvals.map(|policy| {
        // The fleet is not known here: the services it names are the source's to know.
        if let Some(problem) = policy.get_ref().problem(None) {
            reasons.push((Some(policy.span()), format!("approvals: {problem}")));
        }
        policy.into_inner()
    });

    let cost = context.cost.map_or_else(CostConfig::default, |cost| {
        let span = cost.span();
        reasons.extend(
            cost.get_ref()
                .problems()
                .into_iter()
                .map(|p| (Some(span.clone()), p)),
        );
        cost.into_inner()
    });

    if reasons.is_empty() {
        Ok(ContextConfig {
            name: name.to_string(),
            read_only: context.read_only,
            production: context.production,
            sources,
            approvals,
            cost,
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
