//! Listing pending escalations from Temporal: the console's client against the `temporal`
//! CLI's `workflow list --query ... --limit N`, in the same run, on a dev server started here
//! with N workflows started already escalated (`start_workflows.py --listing-only`: the
//! contract's search attributes and memo set at start, no worker needed).
//! Run: `cargo bench --bench temporal_list` (N = 10,000; `SWITCHBOARD_BENCH_TEMPORAL_N`
//! changes it). Needs the Temporal venv (see tests/temporal_support); goal: the console's
//! listing takes at most half the CLI's time.
//!
//! Also reported: the dev server's own share (its CPU time while each lister ran, from
//! /proc), and the time of the same list slices fetched raw (HTTP only, nothing decoded).

#[path = "../tests/temporal_support/mod.rs"]
mod temporal_support;

use std::time::{Duration, Instant};

use switchboard::sources::Timeouts;
use switchboard::sources::temporal::{Names, TemporalClient, TemporalSpec};
use temporal_support::TemporalDev;

const RUNS: usize = 5;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The list pages as raw bytes: what the server and the wire cost, before any decoding.
async fn raw_pages(http: &reqwest::Client, base: &str, query: &str) -> usize {
    let mut token = String::new();
    let mut bytes = 0;
    loop {
        let mut url = reqwest::Url::parse(&format!("{base}/api/v1/namespaces/default/workflows"))
            .expect("a URL");
        url.query_pairs_mut()
            .append_pair("query", query)
            .append_pair("pageSize", "1000");
        if !token.is_empty() {
            url.query_pairs_mut().append_pair("nextPageToken", &token);
        }
        let body = http.get(url).send().await.unwrap().text().await.unwrap();
        bytes += body.len();
        // The token is base64, so it ends at the next quote; the rest is not decoded.
        let marker = "\"nextPageToken\":\"";
        match body.rfind(marker) {
            Some(at) => {
                let rest = &body[at + marker.len()..];
                token = rest[..rest.find('"').unwrap()].to_string();
            }
            None => return bytes,
        }
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("SWITCHBOARD_BENCH_TEMPORAL_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let started = Instant::now();
    let options = ["--listing-only", "--concurrency", "100"];
    dev.start_workflows("bench", n, &options);
    let spec = TemporalSpec {
        name: "temporal".into(),
        url: dev.http_url(),
        namespace: "default".into(),
        api_key: None,
        names: Names::default(),
    };
    let timeouts = Timeouts {
        request: Duration::from_secs(60),
        ..Timeouts::default()
    };
    let client = TemporalClient::new(&spec, timeouts).unwrap();
    loop {
        let listed = client.escalations(&[]).await.unwrap().len();
        if listed >= n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "only {listed} of {n} escalated"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!(
        "{n} workflows started and escalated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let query = client.visibility_query(&[]);
    let slices = client.priority_slices(&query);
    let base = dev.http_url();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let (mut console, mut cli, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    let (mut console_server, mut cli_server) = (Vec::new(), Vec::new());
    let mut bytes = 0;
    for _ in 0..RUNS {
        let (at, cpu) = (Instant::now(), dev.server_cpu());
        let rows = client.escalations(&[]).await.unwrap();
        console.push(at.elapsed());
        console_server.push(dev.server_cpu() - cpu);
        assert_eq!(rows.len(), n);
        let at = Instant::now();
        let raw_slices = slices.iter().map(|slice| raw_pages(&http, &base, slice));
        bytes = futures::future::join_all(raw_slices).await.iter().sum();
        raw.push(at.elapsed());
        let (at, cpu) = (Instant::now(), dev.server_cpu());
        let output = dev.cli(&[
            "workflow",
            "list",
            "--query",
            &query,
            "--limit",
            &n.to_string(),
        ]);
        cli.push(at.elapsed());
        cli_server.push(dev.server_cpu() - cpu);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (console, cli, raw) = (median(console), median(cli), median(raw));
    let (console_server, cli_server) = (median(console_server), median(cli_server));
    println!("median of {RUNS} runs, {n} pending escalations:");
    println!(
        "  console client (all pages, decoded, sorted): {:9.1} ms",
        ms(console)
    );
    println!(
        "  temporal workflow list --limit {n}:        {:9.1} ms",
        ms(cli)
    );
    println!(
        "  ratio console / CLI: {:.2} (goal <= 0.5)",
        console.as_secs_f64() / cli.as_secs_f64()
    );
    println!(
        "  dev server + wire alone (raw slices, {:.1} MB): {:9.1} ms = {:.0}% of the console's time",
        bytes as f64 / 1e6,
        ms(raw),
        100.0 * raw.as_secs_f64() / console.as_secs_f64()
    );
    println!(
        "  dev server CPU while the console listed: {:9.1} ms ({:.2} ms a row); while the CLI \
         listed: {:9.1} ms",
        ms(console_server),
        ms(console_server) / n as f64,
        ms(cli_server)
    );
}
