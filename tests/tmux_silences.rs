//! The console on a lab beside a real Prometheus and Alertmanager (the context of
//! fixtures/contexts/lab-prometheus.toml), in a real terminal (tmux): an alert fires, the
//! engineer selects it in the timeline, presses `s`, types a reason and confirms; the screen
//! says the alert is silenced until HH:MM and Alertmanager's API holds the silence. Needs tmux
//! and Prometheus + Alertmanager (tests/prometheus_support).

mod prometheus_support;
mod tmux_support;

use std::time::{Duration, Instant};

use prometheus_support::{Stack, Traffic};
use switchboard::sources::Timeouts;
use switchboard::sources::prometheus::{Matcher, PrometheusSettings, PrometheusSource};
use tmux_support::Tmux;

const WAIT: Duration = Duration::from_secs(60);
const REGION: &str = "tmux-1";

/// Moves the timeline's selection down until the screen shows `needle` (the selected entry's
/// detail); each step waits for the screen to change, never a fixed pause.
fn select_down_until(tmux: &Tmux, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    let mut screen = tmux.screen();
    while !screen.contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no entry shows {needle:?}; screen:\n{screen}"
        );
        tmux.send(&["Down"]);
        let before = screen;
        loop {
            screen = tmux.screen();
            if screen != before || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    screen
}

#[test]
fn an_alert_silenced_from_the_timeline_says_until_when_and_is_in_alertmanager() {
    let Some(stack) = Stack::start() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let lab = runtime
        .block_on(lab::LabServer::start(
            lab::LabOptions::default(),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    stack.exporter.set(
        REGION,
        "openai",
        "gpt-4o",
        Traffic {
            error_share: 0.9,
            ..Traffic::healthy(10.0)
        },
    );

    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("lab-prometheus.toml");
    std::fs::write(
        &config,
        format!(
            "default_context = \"lab-prometheus\"\n[notify]\nmode = \"off\"\n\
             [contexts.lab-prometheus]\n\
             [[contexts.lab-prometheus.sources]]\nname = \"lab\"\nurl = \"{}\"\n\
             [[contexts.lab-prometheus.sources]]\nname = \"metrics\"\nkind = \"prometheus\"\n\
             url = \"{}\"\n[contexts.lab-prometheus.sources.prometheus]\n\
             alertmanager_url = \"{}\"\nwindow = \"5s\"\npoll_interval = 1\n",
            lab.url(),
            stack.prometheus_url,
            stack.alertmanager_url
        ),
    )
    .unwrap();
    let tmux = Tmux::start(140, 40, home.path());
    tmux.start_console(lab.token_for("alice").unwrap(), &config);

    // The alert enters the timeline; the engineer selects it and presses `s`.
    tmux.send(&["3"]);
    tmux.wait_for("ProviderErrorRateHigh", WAIT);
    // The alert's entry offers to silence it in its detail.
    select_down_until(&tmux, "firing · s: silence it");
    tmux.send(&["s"]);
    let screen = tmux.wait_for("region=tmux-1", WAIT);
    assert!(
        screen.contains("alertname=ProviderErrorRateHigh"),
        "{screen}"
    );
    tmux.send(&["-l", "vendor incident INC-11, paged"]);
    tmux.send(&["Enter"]);

    // The screen says it: created, then the alert's entry silenced until when, by whom.
    tmux.wait_for("created (silence ", WAIT);
    let screen = select_down_until(&tmux, "firing, silenced until ");
    let note = (screen.lines())
        .find(|l| l.contains("silenced until "))
        .unwrap();
    let until = note.split("silenced until ").nth(1).unwrap();
    let hh_mm = &until[..5];
    assert!(
        hh_mm.as_bytes()[2] == b':' && hh_mm.replace(':', "").parse::<u32>().is_ok(),
        "{note}"
    );
    assert!(until.contains("UTC by alice"), "{note}");

    // Alertmanager holds it: the alert's matchers, alice, the reason with the key.
    let settings = PrometheusSettings {
        alertmanager_url: Some(stack.alertmanager_url.clone()),
        ..PrometheusSettings::default()
    };
    let source = PrometheusSource::new(
        "metrics",
        &stack.prometheus_url,
        settings,
        Timeouts::default(),
    )
    .unwrap();
    let client = source.alertmanager().unwrap();
    let silences = runtime.block_on(client.silences()).unwrap();
    let ours: Vec<_> = silences
        .iter()
        .filter(|s| s.comment == "vendor incident INC-11, paged")
        .collect();
    assert_eq!(ours.len(), 1, "{silences:?}");
    let silence = ours[0];
    assert_eq!(silence.created_by, "alice");
    assert!(silence.key.is_some(), "the key rides in the comment");
    assert!(
        silence
            .matchers
            .contains(&Matcher::equals("region", REGION)),
        "{silence:?}"
    );
    assert!(
        hh_mm == silence.ends_at.format("%H:%M").to_string(),
        "{note} vs {}",
        silence.ends_at
    );

    tmux.send(&["q"]);
    let screen = tmux.wait_for("END-42", WAIT);
    assert!(screen.contains("END-42 exit=0"), "{screen}");
    runtime.block_on(lab.shutdown());
}
