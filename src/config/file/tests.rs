use std::path::PathBuf;

use super::*;
use crate::config::SourceKind;
use crate::config::prometheus::PrometheusSettings;
use crate::config::temporal::TemporalSettings;

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
    let text = include_str!("../../../fixtures/contexts/temporal.toml");
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

/// A mistake in a service's objective is named at its line and column of the user's file.
#[test]
fn an_slo_mistake_is_reported_where_it_is_in_the_file() {
    let text = "\
[[contexts.prod.sources]]
name = \"metrics\"
kind = \"prometheus\"
url = \"http://127.0.0.1:9090\"
[[contexts.prod.sources.prometheus.slo.services]]
name = \"checkout\"
target = 99.9
";
    let found = parse(Path::new("c.toml"), text)
        .map(|_| ())
        .expect_err("a target of 99.9 is refused");
    assert_eq!(
        (found[0].line, found[0].column),
        (Some(7), Some(10)),
        "{found:?}"
    );
    assert!(
        found[0].reason.contains("write 99.9% as 0.999"),
        "{found:?}"
    );

    let fine = text.replace("99.9", "0.999");
    let config = parse(Path::new("c.toml"), &fine).unwrap().config;
    let settings = config.contexts["prod"].sources[0]
        .prometheus
        .clone()
        .unwrap();
    assert_eq!(settings.slo.services[0].name, "checkout");
}

/// The example context users adapt parses, and says what the README says it does.
#[test]
fn the_example_lab_prometheus_context_parses() {
    let text = include_str!("../../../fixtures/contexts/lab-prometheus.toml");
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

#[test]
fn runbook_dirs_are_taken_against_the_config_files_folder_and_an_empty_one_is_a_problem() {
    let text = "runbook_dirs = [\"team-runbooks\", \"/srv/runbooks\"]\n";
    let parsed = parse(Path::new("/home/me/.config/switchboard/config.toml"), text).unwrap();
    assert_eq!(
        parsed.config.runbook_dirs,
        [
            PathBuf::from("/home/me/.config/switchboard/team-runbooks"),
            PathBuf::from("/srv/runbooks")
        ]
    );
    assert_eq!(
        positions("runbook_dirs = [\"ok\", \" \"]\n"),
        vec![(Some(1), Some(23))]
    );
}
