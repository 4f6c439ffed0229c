//! How long the console takes to draw the fleet and to take in live events.
//! Run: `cargo bench --bench console`.

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use protocol::{FleetDelta, FleetSnapshot};
use switchboard::app::App;
use switchboard::sources::SourceEvent;
use switchboard::testing::{default_fleet, from_source as source, lab_app};

fn app(width: u16, height: u16) -> App {
    let mut app = lab_app(width, height, Instant::now());
    app.update(source(SourceEvent::Snapshot(default_fleet())));
    app
}

/// A delta like the lab sends every tick: every region and provider changed.
fn full_delta(snapshot: &FleetSnapshot, revision: u64) -> FleetDelta {
    let mut regions = snapshot.regions.clone();
    for r in &mut regions {
        r.latency.p95_ms += (revision % 7) as f64;
    }
    FleetDelta {
        revision,
        generated_at: snapshot.generated_at,
        regions,
        providers: snapshot.providers.clone(),
        gateways: snapshot.gateways.clone(),
        services: snapshot.services.clone(),
        ..FleetDelta::default()
    }
}

fn render(c: &mut Criterion) {
    let (theme, _) = switchboard::theme::load("dark", false);
    for (width, height) in [(80u16, 24u16), (160, 48)] {
        let app = app(width, height);
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        c.bench_function(&format!("render fleet view {width}x{height}"), |b| {
            b.iter(|| {
                terminal
                    .draw(|frame| {
                        switchboard::views::draw(&app, &theme, frame);
                    })
                    .unwrap();
            })
        });
    }
}

fn ingest(c: &mut Criterion) {
    let snapshot = default_fleet();
    c.bench_function("ingest one full fleet delta", |b| {
        b.iter_batched(
            || (app(160, 48), full_delta(&snapshot, snapshot.revision + 1)),
            |(mut app, delta)| app.update(source(SourceEvent::Delta(delta))),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("ingest 1000 deltas in a row", |b| {
        b.iter_batched(
            || {
                let deltas: Vec<_> = (1..=1000)
                    .map(|i| full_delta(&snapshot, snapshot.revision + i))
                    .collect();
                (app(160, 48), deltas)
            },
            |(mut app, deltas)| {
                for delta in deltas {
                    app.update(source(SourceEvent::Delta(delta)));
                }
            },
            BatchSize::LargeInput,
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = render, ingest
}
criterion_main!(benches);
