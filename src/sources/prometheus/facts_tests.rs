use super::*;
use chrono::TimeZone;

fn reading(pairs: &[(&str, &str)], value: Option<f64>) -> Reading {
    Reading {
        labels: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        at: Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
        value,
    }
}

#[test]
fn readings_land_on_their_region_and_provider_with_health_from_the_error_rate() {
    let settings = PrometheusSettings::default();
    let mut mapping = Mapping::new(&settings);
    mapping.add(
        Scope::Provider,
        FactKind::ErrorRate,
        &[
            reading(
                &[("region", "us-east"), ("api_provider", "openai")],
                Some(0.6),
            ),
            reading(
                &[("region", "us-east"), ("api_provider", "azure")],
                Some(0.01),
            ),
            // No traffic: 0/0 is no reading, and no fact.
            reading(&[("region", "eu"), ("api_provider", "openai")], None),
        ],
    );
    mapping.add(
        Scope::Provider,
        FactKind::P95Ms,
        &[reading(
            &[
                ("region", "us-east"),
                ("api_provider", "openai"),
                ("litellm_model_name", "gpt-4o"),
            ],
            Some(240.0),
        )],
    );
    mapping.add(
        Scope::Region,
        FactKind::P95Ms,
        &[reading(&[("region", "us-east")], Some(200.0))],
    );
    let facts = mapping.finish("prom", Vec::new());

    assert_eq!(facts.source, "prom");
    let ids: Vec<&str> = facts.providers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["azure@us-east", "openai@us-east"]);
    let openai = &facts.providers[1];
    assert_eq!(
        (openai.vendor.as_str(), openai.region.as_str()),
        ("openai", "us-east")
    );
    assert_eq!(openai.model.as_deref(), Some("gpt-4o"));
    assert_eq!(
        openai.health,
        Health::Down,
        "60% errors, above the down threshold"
    );
    assert_eq!(openai.facts[&FactKind::P95Ms].value, 240.0);
    assert_eq!(facts.providers[0].health, Health::Ok);
    let region = &facts.regions[0];
    assert_eq!(region.id, "us-east");
    assert_eq!(
        region.health,
        Health::Unknown,
        "no error-rate query answered for the region: its health is not known"
    );
    assert!(!region.facts.contains_key(&FactKind::ErrorRate));
}

#[test]
fn series_without_the_labels_are_counted_not_guessed() {
    let settings = PrometheusSettings::default();
    let mut mapping = Mapping::new(&settings);
    mapping.add(
        Scope::Provider,
        FactKind::LoadRps,
        &[
            reading(&[("api_provider", "openai")], Some(3.0)),
            reading(&[("region", "us-east")], Some(3.0)),
        ],
    );
    let facts = mapping.finish("prom", Vec::new());
    assert!(facts.providers.is_empty());
    assert_eq!(
        facts.unplaced,
        ["query provider.load_rps: 2 series without labels region and api_provider skipped"]
    );
}

#[test]
fn label_values_from_outside_are_cleaned() {
    let settings = PrometheusSettings::default();
    let mut mapping = Mapping::new(&settings);
    mapping.add(
        Scope::Region,
        FactKind::LoadRps,
        &[reading(&[("region", "us-\u{1b}[31meast\n")], Some(1.0))],
    );
    assert_eq!(mapping.finish("prom", Vec::new()).regions[0].id, "us-east");
}

#[test]
fn thresholds_decide_health() {
    let thresholds = HealthThresholds::default();
    let at = Utc::now();
    let with = |value| Facts::from([(FactKind::ErrorRate, Fact { value, at })]);
    assert_eq!(health_of(&with(0.0), &thresholds), Health::Ok);
    assert_eq!(health_of(&with(0.05), &thresholds), Health::Degraded);
    assert_eq!(health_of(&with(0.5), &thresholds), Health::Down);
    assert_eq!(health_of(&Facts::new(), &thresholds), Health::Unknown);
}

#[test]
fn default_queries_name_their_labels_and_window_once() {
    let mut settings = PrometheusSettings {
        window: "30s".into(),
        ..PrometheusSettings::default()
    };
    settings.labels.region = "zone".into();
    let query = settings.expand(settings.provider.error_rate.as_deref().unwrap());
    assert_eq!(
        query,
        "sum by (zone, api_provider) (rate(litellm_deployment_failure_responses_total{exception_status!=\"429\"}[30s])) \
         / sum by (zone, api_provider) (rate(litellm_deployment_total_requests_total[30s]))"
    );
    let share = settings.expand(settings.provider.traffic_share.as_deref().unwrap());
    assert!(
        share.contains("on (zone) group_left sum by (zone)"),
        "{share}"
    );
}
