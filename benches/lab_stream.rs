//! What one console's event stream costs: a lab started on 127.0.0.1, `GET /v1/events` read
//! for a fixed span of real time, bytes and events per second reported, for a steady fleet
//! and under a scenario, on the default fleet and on 8 regions x 12 vendors; then the
//! process's resident memory (lab and reader together).
//!
//! Run: `cargo bench --bench lab_stream`; `LAB_STREAM_SECONDS=30` reads longer per case.
//!
//! Issue 9 on the 2-core machine (release, 10 s per case), bytes per second per console:
//! default steady 32,325 -> 96, default provider-outage x10 33,283 -> 2,012, 8x12 steady
//! 186,359 -> 67, 8x12 provider-outage x10 183,515 -> 4,095 (load 9.2 before, 7.0 after).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lab::{LabOptions, LabServer};

struct Case {
    name: &'static str,
    topology: Option<PathBuf>,
    scenario: Option<&'static str>,
    speed: f64,
}

fn main() {
    let seconds: u64 = std::env::var("LAB_STREAM_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let wide = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/topologies/8x12.toml");
    let cases = [
        Case {
            name: "default, steady, x1",
            topology: None,
            scenario: None,
            speed: 1.0,
        },
        Case {
            name: "default, provider-outage, x10",
            topology: None,
            scenario: Some("provider-outage"),
            speed: 10.0,
        },
        Case {
            name: "8x12, steady, x1",
            topology: Some(wide.clone()),
            scenario: None,
            speed: 1.0,
        },
        Case {
            name: "8x12, provider-outage, x10",
            topology: Some(wide),
            scenario: Some("provider-outage"),
            speed: 10.0,
        },
    ];
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    println!(
        "lab_stream: {seconds} s of real time per case, load {}",
        load()
    );
    for case in &cases {
        let (bytes, events) = runtime.block_on(read_stream(case, Duration::from_secs(seconds)));
        println!(
            "{:32} {:>9.0} B/s  {:>6.1} events/s  ({bytes} B, {events} events)  load {}",
            case.name,
            bytes as f64 / seconds as f64,
            events as f64 / seconds as f64,
            load()
        );
    }
    println!("resident memory after all cases: {} kB", rss_kb());
}

/// Starts the case's lab, reads its stream for `span`: bytes and `fleet.delta` events seen.
async fn read_stream(case: &Case, span: Duration) -> (usize, usize) {
    let options = LabOptions {
        speed: case.speed,
        topology: case.topology.clone(),
        scenario: case.scenario.map(PathBuf::from),
        ..LabOptions::default()
    };
    let server = LabServer::start(options, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("lab starts");
    let token = server.token_for("alice").expect("alice").to_string();
    let response = reqwest::Client::new()
        .get(format!("{}/v1/events", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("stream opens");
    let mut body = response.bytes_stream();
    let (mut bytes, mut events) = (0, 0);
    let deadline = Instant::now() + span;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(
        deadline.saturating_duration_since(Instant::now()),
        body.next(),
    )
    .await
    {
        bytes += chunk.len();
        events += count(&chunk, b"event: fleet.delta") + count(&chunk, b"event:fleet.delta");
    }
    server.shutdown().await;
    (bytes, events)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| w == &needle)
        .count()
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".into())
}

fn rss_kb() -> String {
    let status = std::fs::read_to_string(Path::new("/proc/self/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .map_or("?".into(), |v| v.trim().trim_end_matches(" kB").to_string())
}
