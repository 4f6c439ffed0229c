//! How long the console takes to draw the fleet and to take in live events, and to seek a
//! 20-minute recorded drill back in a replay. Run: `cargo bench --bench console`.

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use std::sync::Arc;

use protocol::exercise::record::Recording;
use protocol::{FleetDelta, FleetSnapshot};
use switchboard::app::App;
use switchboard::sources::SourceEvent;
use switchboard::sources::replay::Player;
use switchboard::testing::{default_fleet, drill_records, from_source as source, lab_app};

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

/// A 20-minute drill on the default fleet as the lab records one: the header (and objectives)
/// of `drill_records`, a fleet sample every 5 s, the outage at T+01:00, a player's action
/// every minute, the end at T+20:00.
fn twenty_minutes() -> Recording {
    use protocol::exercise::record::RunRecord;
    let drill = drill_records();
    let RunRecord::Header(header) = drill[0].clone() else {
        panic!("a recording starts with its header");
    };
    let action = drill.iter().find(|r| matches!(r, RunRecord::Audit { .. }));
    let inject = drill.iter().find(|r| matches!(r, RunRecord::Inject { .. }));
    let mut records = vec![drill[1].clone()];
    for second in (0..=1200u32).step_by(5) {
        let t_s = f64::from(second);
        let mut snapshot = default_fleet();
        snapshot.revision = u64::from(second) + 1;
        records.push(RunRecord::Fleet {
            t_s,
            snapshot: Box::new(snapshot),
        });
        match (second, action, inject) {
            (60, _, Some(RunRecord::Inject { inject, .. })) => records.push(RunRecord::Inject {
                t_s,
                inject: inject.clone(),
            }),
            (s, Some(RunRecord::Audit { entry, .. }), _) if s % 60 == 30 => {
                records.push(RunRecord::Audit {
                    t_s,
                    entry: entry.clone(),
                })
            }
            _ => {}
        }
    }
    records.push(drill[drill.len() - 2].clone());
    Recording {
        header,
        records,
        cut_line: None,
    }
}

/// Seeking back in a replay rebuilds the drill from T0 (the tracker moves only forward) and
/// feeds the console every sample again: the cost of `<` or `0` on a long recording.
fn replay_seek(c: &mut Criterion) {
    let recording = Arc::new(twenty_minutes());
    c.bench_function(
        "replay: seek a 20-minute drill from its end back to T+10:00",
        |b| {
            b.iter_batched(
                || {
                    let mut app = app(160, 48);
                    let mut player = Player::new(Arc::clone(&recording));
                    for event in player.seek(1200.0) {
                        app.update(source(event));
                    }
                    (app, player)
                },
                |(mut app, mut player)| {
                    for event in player.seek(600.0) {
                        app.update(source(event));
                    }
                    app
                },
                BatchSize::LargeInput,
            )
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = render, ingest, replay_seek
}
criterion_main!(benches);
