//! A console context merging the lab (protocol v1) and a Prometheus + Alertmanager source,
//! both real, on 127.0.0.1: each source's worker reports into one `App`, the same region
//! shows the facts of both with their source, stopping Prometheus greys only its facts, and
//! starting it again brings them back.
//! This binary starts its own stack (it stops Prometheus), once.

mod console_support;
mod prometheus_support;

use std::time::{Duration, Instant};

use console_support::{console, screen};
use lab::{LabOptions, LabServer};
use prometheus_support::{Stack, Traffic, WAIT};
use switchboard::app::{App, Msg};
use switchboard::domain::fleet::{Connection, DownKind, Freshness};
use switchboard::domain::measured::FactKind;
use switchboard::sources::prometheus::{PrometheusSettings, PrometheusSpec, spawn_prometheus};
use switchboard::sources::{SourceOptions, SourceSpec, spawn_source_with};
use tokio::sync::{mpsc, watch};

const REGION: &str = "us-east";

async fn until(
    app: &mut App,
    rx: &mut mpsc::Receiver<Msg>,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    console_support::until(app, rx, WAIT, what, done).await
}

fn metrics(app: &App) -> &switchboard::domain::fleet::SourceData {
    app.source(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_carry_their_source_and_stopping_prometheus_greys_only_its_own_until_it_is_back() {
    let Some(mut stack) = Stack::start() else {
        return;
    };
    // The lab's us-east, as Prometheus sees it through LiteLLM's metrics: failing.
    stack.exporter.set(
        REGION,
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
    spawn_source_with(
        SourceSpec {
            name: "lab".into(),
            url: lab.url(),
            token,
        },
        tx.clone(),
        shutdown.clone(),
        options,
    );
    let mut settings = PrometheusSettings {
        alertmanager_url: Some(stack.alertmanager_url.clone()),
        window: "5s".into(),
        poll_interval: Duration::from_secs(1),
        ..PrometheusSettings::default()
    };
    settings.history.step = Duration::from_secs(1);
    let mut app = console("lab-prometheus", &lab.url(), 120, 36);
    app.add_metrics_source("metrics", &stack.prometheus_url, settings.poll_interval);
    let spec = PrometheusSpec {
        name: "metrics".into(),
        url: stack.prometheus_url.clone(),
        token: None,
        settings,
    };
    spawn_prometheus(spec, tx.clone(), shutdown.clone(), options);

    until(&mut app, &mut rx, "both sources describe us-east", |app| {
        let region_error = metrics(app)
            .measured
            .as_ref()
            .and_then(|m| m.provider("openai@us-east"))
            .and_then(|p| p.facts.get(&FactKind::ErrorRate))
            .is_some_and(|f| f.value > 0.5);
        region_error && app.source(0).snapshot.is_some()
    })
    .await;
    // The lab's us-east row selected, its openai cell: both sources' facts, each named.
    let openai = app
        .visible
        .vendors
        .iter()
        .position(|v| v == "openai")
        .unwrap();
    let row = app
        .visible
        .regions
        .iter()
        .position(|&r| app.region_at(r).id == REGION)
        .unwrap();
    app.selection.fleet_row = row;
    app.selection.fleet_col = openai + 1;
    let merged = screen(&app);
    assert!(merged.contains("source lab · live"), "{merged}");
    assert!(merged.contains("source metrics · read"), "{merged}");
    assert!(merged.contains("errors 70%"), "{merged}");

    // Polls of a live source keep it live: no message in between makes its facts stale.
    let steady_until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < steady_until {
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            app.update(msg);
            assert_eq!(metrics(&app).freshness(Instant::now()), Freshness::Fresh);
        }
    }

    until(&mut app, &mut rx, "the alert on us-east fires", |app| {
        app.timeline
            .iter()
            .any(|e| e.source == "metrics" && e.text.contains("on openai@us-east"))
    })
    .await;

    stack.stop_prometheus();
    until(&mut app, &mut rx, "the metrics source is down", |app| {
        matches!(
            &metrics(app).connection,
            Connection::Down {
                kind: DownKind::Unreachable,
                ..
            }
        )
    })
    .await;
    let now = Instant::now();
    assert_eq!(
        app.source(0).freshness(now),
        Freshness::Fresh,
        "the lab stays live"
    );
    assert_ne!(metrics(&app).freshness(now), Freshness::Fresh);
    let greyed = screen(&app);
    assert!(greyed.contains("source lab · live"), "{greyed}");
    assert!(greyed.contains("source metrics · DOWN"), "{greyed}");
    assert!(greyed.contains("metrics: unreachable"), "{greyed}");

    // Back up: the worker's next try reads it, the source is live again.
    stack.restart_prometheus();
    until(&mut app, &mut rx, "the metrics source recovers", |app| {
        metrics(app).freshness(Instant::now()) == Freshness::Fresh
    })
    .await;
    assert!(
        app.timeline
            .iter()
            .any(|e| e.source == "metrics" && e.text == "connection restored")
    );
    assert!(screen(&app).contains("source metrics · read"));
    lab.shutdown().await;
}
