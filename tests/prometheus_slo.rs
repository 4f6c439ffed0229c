//! SLO burn rates against a real Prometheus on 127.0.0.1 scraping an exporter whose error
//! ratio per service the test sets (tests/prometheus_support): the default multi-window
//! queries, the burn rates and the alert level they reach, the budget left and when it is
//! spent, a broken query named; `switchboard status` printing them. Skips without Prometheus installed, except under `CI`.

mod prometheus_support;

use std::time::{Duration, Instant};

use prometheus_support::WAIT;
use switchboard::cli::status::run_status;
use switchboard::config::slo::SloService;
use switchboard::sources::Timeouts;
use switchboard::sources::prometheus::{
    BurnLevel, BurnWindow, PrometheusSettings, PrometheusSource, PrometheusSpec, ServiceFacts,
};

fn service(name: &str, target: f64, error_ratio: Option<&str>) -> SloService {
    let text = format!("name = \"{name}\"\ntarget = {target}\n");
    let mut service: SloService = toml::from_str(&text).unwrap();
    service.error_ratio = error_ratio.map(str::to_string);
    service
}

/// Reads the source until `service` has every window read; panics after [`WAIT`].
async fn read_until_known(source: &PrometheusSource, name: &str) -> ServiceFacts {
    let deadline = Instant::now() + WAIT;
    loop {
        let facts = source.facts().await.unwrap();
        let found = facts.services.into_iter().find(|s| s.service == name);
        if let Some(found) = found.filter(|s| s.burn.len() == 4 && s.budget_left.is_some()) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: windows not read in {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn assert_burns(facts: &ServiceFacts, expected: f64) {
    for window in BurnWindow::ALL {
        let rate = facts.burn_rate(window).unwrap();
        assert!(
            (rate - expected).abs() < 1e-6,
            "{} {}: burn {rate}, expected {expected}",
            facts.service,
            window.name()
        );
    }
}

#[tokio::test]
async fn burn_rates_levels_and_budgets_from_the_error_ratio_the_exporter_serves() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let exporter = &stack.exporter;
    // 2% of checkout's requests fail against 0.1% allowed: 20×, above the page's 14.4.
    exporter.set_service("slo-checkout", 50.0, 0.02);
    // 7% of search's against 1% allowed: 7×, above the ticket's 6, under the page's.
    exporter.set_service("slo-search", 50.0, 0.07);
    // 0.05% of ledger's against 0.1%: half the allowed rate.
    exporter.set_service("slo-ledger", 50.0, 0.0005);
    let mut settings = PrometheusSettings::default();
    settings.slo.services = vec![
        service("slo-checkout", 0.999, None),
        service("slo-search", 0.99, None),
        service("slo-ledger", 0.999, None),
        service("slo-broken", 0.999, Some("sum(rate(nope[$window]) /")),
        service("slo-unserved", 0.999, None),
    ];
    let source = PrometheusSource::new(
        "metrics",
        &stack.prometheus_url,
        settings,
        Timeouts::default(),
    )
    .unwrap();

    let checkout = read_until_known(&source, "slo-checkout").await;
    assert_burns(&checkout, 20.0);
    assert_eq!(checkout.level(), BurnLevel::Page);
    let left = checkout.budget_left.unwrap().value;
    assert!(
        (left - -19.0).abs() < 1e-6,
        "20× over the window: 19 budgets overspent, {left}"
    );
    assert_eq!(checkout.exhausted_in_s(), Some(0.0), "already spent");

    let search = read_until_known(&source, "slo-search").await;
    assert_burns(&search, 7.0);
    assert_eq!(search.level(), BurnLevel::Ticket);

    let ledger = read_until_known(&source, "slo-ledger").await;
    assert_burns(&ledger, 0.5);
    assert_eq!(ledger.level(), BurnLevel::Quiet);
    let left = ledger.budget_left.unwrap().value;
    assert!((left - 0.5).abs() < 1e-6, "half the budget spent: {left}");
    // Half a 30-day budget at half the allowed rate: 30 days.
    let exhausted = ledger.exhausted_in_s().unwrap();
    assert!((exhausted - 30.0 * 86_400.0).abs() < 1.0, "{exhausted}");
    let age = ledger.read_at().unwrap() - chrono::Utc::now();
    assert!(age.num_seconds().abs() < 5, "read just now: {age}");

    let facts = source.facts().await.unwrap();
    let failed: Vec<String> = facts.failed.iter().map(ToString::to_string).collect();
    assert!(
        failed
            .iter()
            .any(|f| f.starts_with("query slo.slo-broken.5m failed: ")),
        "{failed:?}"
    );
    assert!(
        facts
            .unplaced
            .iter()
            .any(|p| p.starts_with("query slo.slo-unserved.1h gives no series")),
        "{:?}",
        facts.unplaced
    );
    let broken = facts
        .services
        .iter()
        .find(|s| s.service == "slo-broken")
        .unwrap();
    assert!(broken.burn.is_empty(), "a failed query gives no burn rate");
    assert_eq!(broken.level(), BurnLevel::Unknown);
}

/// `switchboard status` reads a context's Prometheus source and prints each service's SLO
/// burn rates and level, as JSON too.
#[tokio::test]
async fn status_prints_the_burn_rates_a_prometheus_source_reads() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    stack.exporter.set_service("slo-status", 50.0, 0.02);
    let mut settings = PrometheusSettings::default();
    settings.slo.services = vec![service("slo-status", 0.999, None)];
    let source = PrometheusSource::new(
        "metrics",
        &stack.prometheus_url,
        settings.clone(),
        Timeouts::default(),
    )
    .unwrap();
    read_until_known(&source, "slo-status").await;
    let spec = PrometheusSpec {
        name: "metrics".into(),
        url: stack.prometheus_url.clone(),
        token: None,
        settings,
    };
    let mut out = Vec::new();
    run_status(Vec::new(), std::slice::from_ref(&spec), true, &mut out)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let slo = &json["slo"][0];
    assert_eq!(slo["service"], "slo-status", "{json}");
    assert_eq!(slo["level"], "page", "{json}");
    let burn = slo["burn_rates"]["1h"].as_f64().unwrap();
    assert!((burn - 20.0).abs() < 1e-6, "{json}");

    let mut human = Vec::new();
    run_status(Vec::new(), &[spec], false, &mut human)
        .await
        .unwrap();
    let human = String::from_utf8(human).unwrap();
    assert!(
        human.contains("SLO burn rates:\n  metrics  slo-status  99.9%/30d  burn 5m 20x  30m 20x  1h 20x  6h 20x  page  budget 0% left, spent"),
        "{human}"
    );
}
