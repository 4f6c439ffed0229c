//! A console context merging the lab (protocol v1), Prometheus + Alertmanager and a LiteLLM
//! proxy, all real, on 127.0.0.1: each source's worker reports into one `App`. Failing
//! upstreams make LiteLLM cool gpt-4o's deployments down and serve its fallback: the fleet
//! shows the open breakers with why, and the route with its fallback served, each fact under
//! its source; stopping the proxy greys only the gateway's facts (the lab and Prometheus stay
//! live), and starting it again brings them back.
//! This binary starts its own proxy (it stops it) and its own Prometheus stack, once.
// Each support carries its own copy of tests/process_support; two supports in one binary load
// it twice, harmlessly: their processes are never mixed.
#![allow(clippy::duplicate_mod)]

mod console_support;
mod litellm_support;
mod prometheus_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use console_support::{console, screen};
use lab::{LabOptions, LabServer};
use litellm_support::{MASTER_KEY, Proxy, chat};
use prometheus_support::{Stack, Traffic};
use switchboard::app::{App, Msg};
use switchboard::domain::fleet::{Connection, Freshness};
use switchboard::sources::litellm::{LiteLlmSettings, LiteLlmSpec, spawn_litellm};
use switchboard::sources::prometheus::{PrometheusSettings, PrometheusSpec, spawn_prometheus};
use switchboard::sources::{SourceOptions, SourceSpec, spawn_source_with};
use tokio::sync::{mpsc, watch};

const WAIT: Duration = Duration::from_secs(120);
/// Sources in the order the console holds them.
const LAB: usize = 0;
const METRICS: usize = 1;
const GATEWAY: usize = 2;

async fn until(
    app: &mut App,
    rx: &mut mpsc::Receiver<Msg>,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    console_support::until(app, rx, WAIT, what, done).await
}

fn fresh(app: &App, source: usize) -> bool {
    app.source(source).freshness(Instant::now()) == Freshness::Fresh
}

fn cooled_down(app: &App, id: &str) -> bool {
    let gateway = app
        .source(GATEWAY)
        .measured
        .as_ref()
        .and_then(|m| m.gateway.as_ref());
    gateway.is_some_and(|g| {
        g.deployments
            .iter()
            .any(|d| d.id == id && d.cooldown.is_some())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldowns_and_fallbacks_show_under_their_source_and_stopping_litellm_greys_only_its_own() {
    // Both systems take seconds to start: side by side.
    let proxy = std::thread::spawn(Proxy::start);
    let Some(stack) = Stack::start() else {
        return;
    };
    let Some(mut proxy) = proxy.join().unwrap() else {
        return;
    };
    stack.exporter.set(
        "us-east",
        "openai",
        "gpt-4o",
        Traffic {
            error_share: 0.7,
            ..Traffic::healthy(20.0)
        },
    );
    let lab = LabServer::start(LabOptions::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let token = lab.token_for("alice").map(str::to_string);
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let (_stop, shutdown) = watch::channel(false);
    let options = SourceOptions::default();
    let lab_spec = SourceSpec {
        name: "lab".into(),
        url: lab.url(),
        token,
    };
    spawn_source_with(lab_spec, tx.clone(), shutdown.clone(), options);
    let mut app = console("lab-prometheus-litellm", &lab.url(), 140, 40);

    let metrics = PrometheusSettings {
        window: "5s".into(),
        poll_interval: Duration::from_secs(1),
        ..PrometheusSettings::default()
    };
    app.add_metrics_source("metrics", &stack.prometheus_url, metrics.poll_interval);
    let spec = PrometheusSpec {
        name: "metrics".into(),
        url: stack.prometheus_url.clone(),
        token: None,
        settings: metrics,
    };
    spawn_prometheus(spec, tx.clone(), shutdown.clone(), options);

    let regions = BTreeMap::from([
        ("gpt-4o-us-east".to_string(), "us-east".to_string()),
        ("gpt-4o-eu-west".to_string(), "eu-west".to_string()),
        ("small-us-east".to_string(), "us-east".to_string()),
    ]);
    let settings = LiteLlmSettings {
        regions,
        poll_interval: Duration::from_secs(1),
        ..LiteLlmSettings::default()
    };
    app.add_gateway_source("gateway", &proxy.url, settings.poll_interval);
    let spec = LiteLlmSpec {
        name: "gateway".into(),
        url: proxy.url.clone(),
        master_key: Some(MASTER_KEY.into()),
        settings,
    };
    spawn_litellm(spec, tx.clone(), shutdown.clone(), options);

    until(&mut app, &mut rx, "the three sources are read", |app| {
        let openai = |source: usize| {
            let measured = app.source(source).measured.as_ref();
            measured.is_some_and(|m| m.provider("openai@us-east").is_some())
        };
        app.source(LAB).snapshot.is_some() && openai(METRICS) && openai(GATEWAY)
    })
    .await;

    // gpt-4o fails everywhere: LiteLLM cools both deployments down and `small` serves.
    proxy.us_east.fail_with(500);
    proxy.eu_west.fail_with(500);
    for _ in 0..4 {
        assert_eq!(chat(&proxy.url, "gpt-4o").await, 200, "the fallback serves");
    }
    until(
        &mut app,
        &mut rx,
        "the console sees both cooldowns",
        |app| cooled_down(app, "gpt-4o-us-east") && cooled_down(app, "gpt-4o-eu-west"),
    )
    .await;
    let openai = app
        .visible
        .vendors
        .iter()
        .position(|v| v == "openai")
        .unwrap();
    app.selection.fleet_row = (app.visible.regions.iter())
        .position(|&r| app.region_at(r).id == "us-east")
        .unwrap();
    app.selection.fleet_col = openai + 1;
    let merged = screen(&app);
    assert!(merged.contains("source lab · live"), "{merged}");
    assert!(merged.contains("source metrics · read"), "{merged}");
    assert!(merged.contains("source gateway · read"), "{merged}");
    // The facts column wraps long lines: each part on its row.
    assert!(
        merged.contains("✖ gpt-4o-us-east · gpt-4o → openai/gpt-4o: breaker open: cooled"),
        "{merged}"
    );
    assert!(merged.contains("500s, until "), "{merged}");
    assert!(merged.contains("● small-us-east · small"), "{merged}");
    assert!(merged.contains("small (served "), "{merged}");
    assert!(
        app.timeline.iter().any(|e| e.source == "gateway"
            && e.text
                .starts_with("deployment gpt-4o-eu-west (openai@eu-west) cooled down after 500s")),
        "{:?}",
        app.timeline
    );

    // The proxy stops: only the gateway's facts grey, with its own error.
    proxy.stop();
    until(&mut app, &mut rx, "the gateway is down", |app| {
        matches!(app.source(GATEWAY).connection, Connection::Down { .. })
    })
    .await;
    assert!(fresh(&app, LAB), "the lab stays live");
    assert!(fresh(&app, METRICS), "Prometheus stays live");
    let greyed = screen(&app);
    assert!(greyed.contains("source lab · live"), "{greyed}");
    assert!(greyed.contains("source metrics · read"), "{greyed}");
    assert!(
        greyed.contains("source gateway · DOWN (cannot reach"),
        "{greyed}"
    );

    // Back up: the worker's next try reads it; the proxy forgot its cooldowns.
    proxy.restart();
    until(&mut app, &mut rx, "the gateway recovers", |app| {
        fresh(app, GATEWAY)
    })
    .await;
    assert!(
        app.timeline
            .iter()
            .any(|e| e.source == "gateway" && e.text == "connection restored")
    );
    assert!(screen(&app).contains("source gateway · read"));
    lab.shutdown().await;
}
