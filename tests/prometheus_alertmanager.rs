//! The Prometheus + Alertmanager source against the real systems on 127.0.0.1: an exporter
//! the test controls, Prometheus scraping it every second with alert rules routed to an
//! Alertmanager (tests/prometheus_support). One stack for the whole binary; each test uses
//! its own region names so that tests never see each other's series or alerts.

mod console_support;
mod prometheus_support;

use std::time::{Duration, Instant};

use prometheus_support::{Stack, Traffic, WAIT};
use protocol::Health;
use switchboard::config::prometheus::FactQueries;
use switchboard::domain::fleet::DownKind;
use switchboard::sources::Timeouts;
use switchboard::sources::prometheus::silences::{SilenceState, matchers_for};
use switchboard::sources::prometheus::{
    FactKind, FiringAlert, Matcher, PromError, PrometheusSettings, PrometheusSource,
    SilenceExpired, SilenceRequest,
};

/// Polls `check` every 250 ms until it gives a value; panics naming `what` after [`WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The source as a user would configure it, with LiteLLM's default queries over a rate
/// window and history step short enough for a test (the stack scrapes every second).
fn source_of(stack: &Stack) -> PrometheusSource {
    let mut settings = PrometheusSettings {
        alertmanager_url: Some(stack.alertmanager_url.clone()),
        window: "5s".into(),
        ..PrometheusSettings::default()
    };
    settings.history.step = Duration::from_secs(1);
    PrometheusSource::new(
        "metrics",
        &stack.prometheus_url,
        settings,
        Timeouts::default(),
    )
    .unwrap()
}

fn failing(requests_per_s: f64, error_share: f64) -> Traffic {
    Traffic {
        error_share,
        ..Traffic::healthy(requests_per_s)
    }
}

async fn alert_on(source: &PrometheusSource, region: &str) -> Option<FiringAlert> {
    let alerts = source.alertmanager().ok()?.firing().await.ok()?;
    alerts
        .into_iter()
        .find(|a| a.target.region.as_deref() == Some(region))
}

#[tokio::test]
async fn a_rising_error_rate_shows_in_the_provider_facts() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let source = source_of(stack);
    let exporter = &stack.exporter;
    exporter.set("rise-1", "openai", "gpt-4o", Traffic::healthy(20.0));
    exporter.set("rise-1", "azure", "gpt-4o", Traffic::healthy(20.0));

    let healthy = eventually("healthy facts of openai@rise-1", || async {
        let facts = source.facts().await.ok()?;
        let openai = facts
            .providers
            .into_iter()
            .find(|p| p.id == "openai@rise-1")?;
        (openai.health == Health::Ok).then_some(openai)
    })
    .await;
    assert_eq!(healthy.vendor, "openai");
    assert_eq!(
        healthy.model, None,
        "the default queries group by region and provider"
    );
    let p95 = healthy.facts[&FactKind::P95Ms].value;
    assert!((50.0..=100.0).contains(&p95), "80 ms requests: p95 {p95}");

    exporter.set("rise-1", "openai", "gpt-4o", failing(20.0, 0.6));
    let failing = eventually("openai@rise-1 down from its error rate", || async {
        let facts = source.facts().await.ok()?;
        let openai = facts
            .providers
            .into_iter()
            .find(|p| p.id == "openai@rise-1")?;
        (openai.health == Health::Down).then_some(facts.regions)
    })
    .await;
    let region = failing.iter().find(|r| r.id == "rise-1").unwrap();
    let share = region.facts[&FactKind::TrafficShare].value;
    assert!(
        share > 0.0 && share <= 1.0,
        "the region's share of all traffic: {share}"
    );
    let errors = region.facts[&FactKind::ErrorRate].value;
    assert!(
        errors > 0.05,
        "half the region's traffic fails at 60%: {errors}"
    );

    let facts = source.facts().await.unwrap();
    assert!(facts.failed.is_empty(), "{:?}", facts.failed);
    let azure = facts
        .providers
        .iter()
        .find(|p| p.id == "azure@rise-1")
        .unwrap();
    assert_eq!(azure.health, Health::Ok, "the other provider stays healthy");
    let age = azure.facts[&FactKind::ErrorRate].age(chrono::Utc::now());
    assert!(age < chrono::TimeDelta::seconds(5), "read just now: {age}");

    let history = source.history(chrono::Utc::now()).await.unwrap();
    let series = &history["provider:openai@rise-1"];
    assert!(series.len() >= 2, "range query points: {series:?}");
}

#[tokio::test]
async fn the_alert_fires_and_is_read_with_its_labels() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let source = source_of(stack);
    stack
        .exporter
        .set("alert-1", "anthropic", "claude", failing(10.0, 0.5));
    let alert = eventually("the alert on alert-1", || alert_on(&source, "alert-1")).await;
    assert_eq!(alert.name, "ProviderErrorRateHigh");
    assert_eq!(alert.severity.as_deref(), Some("critical"));
    assert_eq!(
        alert.target.provider_id().as_deref(),
        Some("anthropic@alert-1")
    );
    let notice = alert.notice();
    assert!(
        notice.text.starts_with("alert ProviderErrorRateHigh [critical] on anthropic@alert-1: anthropic at alert-1 fails"),
        "{}",
        notice.text
    );
}

#[tokio::test]
async fn a_silence_is_created_once_per_key_and_expires() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let source = source_of(stack);
    let alertmanager = source.alertmanager().unwrap();
    stack
        .exporter
        .set("silence-1", "openai", "gpt-4o", failing(10.0, 0.9));
    let alert = eventually("the alert on silence-1", || alert_on(&source, "silence-1")).await;

    let request = SilenceRequest {
        matchers: matchers_for(Some(&alert.name), &alert.target, &source.settings.labels).unwrap(),
        duration: Duration::from_secs(600),
        reason: "vendor incident INC-42, paged them".into(),
        operator: "alice".into(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
    };
    let created = alertmanager.create_silence(&request).await.unwrap();
    assert!(!created.replayed);
    let retried = alertmanager.create_silence(&request).await.unwrap();
    assert_eq!(retried.id, created.id, "a retry finds the first silence");
    assert!(retried.replayed);

    let ours: Vec<_> = alertmanager
        .silences()
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.key.as_deref() == Some(request.idempotency_key.as_str()))
        .collect();
    assert_eq!(ours.len(), 1, "one silence for one key: {ours:?}");
    let silence = &ours[0];
    assert_eq!(silence.state, SilenceState::Active);
    assert_eq!(silence.created_by, "alice");
    assert_eq!(silence.comment, "vendor incident INC-42, paged them");
    assert_eq!(silence.matchers, request.matchers);

    let silenced = eventually("the alert marked silenced", || async {
        let alert = alert_on(&source, "silence-1").await?;
        (!alert.silenced_by.is_empty()).then_some(alert)
    })
    .await;
    assert_eq!(silenced.silenced_by, std::slice::from_ref(&created.id));

    assert_eq!(
        alertmanager.expire_silence(&created.id).await.unwrap(),
        SilenceExpired::Expired
    );
    assert_eq!(
        alertmanager.expire_silence(&created.id).await.unwrap(),
        SilenceExpired::AlreadyExpired,
        "expiring again is no error"
    );
    let expired = alertmanager.silence(&created.id).await.unwrap();
    assert_eq!(expired.state, SilenceState::Expired);
    let after = alertmanager.create_silence(&request).await.unwrap();
    assert_eq!(
        (after.id, after.replayed),
        (created.id, true),
        "the key's answer stays the first silence, even expired"
    );
}

#[tokio::test]
async fn a_bad_query_is_named_and_the_other_facts_still_come() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let mut source = source_of(stack);
    source.settings.provider.p99_ms = Some("sum by ($region (".into());
    stack
        .exporter
        .set("badq-1", "openai", "gpt-4o", Traffic::healthy(5.0));
    let facts = eventually("facts of openai@badq-1", || async {
        let facts = source.facts().await.ok()?;
        facts
            .providers
            .iter()
            .any(|p| p.id == "openai@badq-1")
            .then_some(facts)
    })
    .await;
    let [PromError::BadQuery { query, message }] = facts.failed.as_slice() else {
        panic!("one failed query: {:?}", facts.failed)
    };
    assert_eq!(query, "provider.p99_ms");
    assert!(
        message.contains("parse error"),
        "Prometheus's words: {message}"
    );

    // A bad charted query leaves its charts without points; the others still come.
    source.settings.provider.p95_ms = Some("rate(".into());
    let history = source.history(chrono::Utc::now()).await.unwrap();
    assert!(
        history.contains_key("region:badq-1"),
        "the region's charts still come: {:?}",
        history.keys().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_stopped_prometheus_is_reported_unreachable() {
    let Some(mut stack) = Stack::start() else {
        return;
    };
    let source = source_of(&stack);
    source
        .facts()
        .await
        .expect("Prometheus answers while it runs");
    stack.stop_prometheus();
    let error = source.facts().await.unwrap_err();
    assert_eq!(error.down_kind(), DownKind::Unreachable, "{error}");
    assert!(
        error.to_string().starts_with("Prometheus: cannot reach"),
        "{error}"
    );
}

/// Alertmanager takes no idempotency key: consoles (or a retry racing its first try)
/// creating with one key may both post; the loser expires its own, so one silence remains
/// and both answers name it. Many rounds, so that some racers land in one millisecond of
/// Alertmanager's clock, where only the id orders them.
#[tokio::test]
async fn racing_creates_with_one_key_leave_one_silence() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let source = source_of(stack);
    let alertmanager = source.alertmanager().unwrap();
    for round in 0..RACE_ROUNDS {
        let request = SilenceRequest {
            matchers: vec![Matcher::equals("region", &format!("race-{round}"))],
            duration: Duration::from_secs(600),
            reason: "maintenance of a racing region".into(),
            operator: "bob".into(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
        };
        let (first, second, third) = tokio::join!(
            alertmanager.create_silence(&request),
            alertmanager.create_silence(&request),
            alertmanager.create_silence(&request)
        );
        let (first, second, third) = (first.unwrap(), second.unwrap(), third.unwrap());
        assert_eq!(
            (&first.id, &first.id),
            (&second.id, &third.id),
            "round {round}: every answer names the one silence"
        );
        let active: Vec<_> = alertmanager
            .silences()
            .await
            .unwrap()
            .into_iter()
            .filter(|s| {
                s.key.as_deref() == Some(request.idempotency_key.as_str())
                    && s.state != SilenceState::Expired
            })
            .collect();
        assert_eq!(active.len(), 1, "round {round}: {active:?}");
        assert_eq!(active[0].id, first.id);
    }
}

/// Rounds of the race: enough that some pairs are stored in one millisecond.
const RACE_ROUNDS: usize = 100;

/// Each way of failing is told apart: something that is not Prometheus answering, an
/// Alertmanager that cannot be reached, a refusal in Alertmanager's own words.
#[tokio::test]
async fn failures_are_classified_and_specific() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    // The exporter answers every path with metrics text: HTTP 200, but not Prometheus's API.
    let mut settings = PrometheusSettings {
        alertmanager_url: Some("http://127.0.0.1:9".into()),
        ..PrometheusSettings::default()
    };
    settings.region = FactQueries::default();
    settings.provider = FactQueries {
        load_rps: Some("up".into()),
        ..FactQueries::default()
    };
    let impostor = format!("http://{}", stack.exporter.target());
    let source =
        PrometheusSource::new("metrics", &impostor, settings, Timeouts::default()).unwrap();
    let error = source.facts().await.unwrap_err();
    assert_eq!(error.down_kind(), DownKind::Malformed, "{error}");
    assert!(
        error
            .to_string()
            .starts_with("malformed answer from Prometheus to query provider.load_rps"),
        "{error}"
    );

    let error = source.alertmanager().unwrap().firing().await.unwrap_err();
    assert_eq!(error.down_kind(), DownKind::Unreachable, "{error}");
    assert!(
        error.to_string().starts_with("Alertmanager: cannot reach"),
        "{error}"
    );

    let real = source_of(stack);
    let unknown = uuid::Uuid::new_v4().to_string();
    let error = real
        .alertmanager()
        .unwrap()
        .expire_silence(&unknown)
        .await
        .unwrap_err();
    let PromError::Refused {
        status: 404,
        message,
        ..
    } = &error
    else {
        panic!("a 404 refusal: {error:?}")
    };
    assert!(!message.is_empty(), "Alertmanager's words: {error}");
}

// Silences made and expired from the console; in their own file to keep this one short.
#[path = "prometheus_silences/mod.rs"]
mod console_silences;

#[path = "prometheus_silences/cli.rs"]
mod cli_silences;
