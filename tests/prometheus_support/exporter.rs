//! A metrics endpoint the test controls: per region and provider, requests, failures (500s
//! and 429s) and a latency histogram, under LiteLLM's metric and label names so that the
//! console's default queries read it unchanged; per service, `http_requests_total` by `code`
//! (200 or 500), what the default SLO queries read. Counters grow at the rates the test sets,
//! measured on the wall clock at each scrape, so Prometheus sees true rates.
//!
//! A plain thread with a blocking listener: the exporter outlives every test's runtime.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS_S: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// What one provider at one region does from now on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Traffic {
    pub requests_per_s: f64,
    /// Share of requests that fail with a 500.
    pub error_share: f64,
    /// Share of requests answered 429.
    pub rate_limited_share: f64,
    /// Every request takes this long.
    pub latency_ms: f64,
}

impl Traffic {
    pub fn healthy(requests_per_s: f64) -> Traffic {
        Traffic {
            requests_per_s,
            error_share: 0.0,
            rate_limited_share: 0.0,
            latency_ms: 80.0,
        }
    }
}

#[derive(Default)]
struct Series {
    traffic: Option<Traffic>,
    since: Option<Instant>,
    requests: f64,
    errors: f64,
    rate_limited: f64,
    latency_sum_s: f64,
    /// Observations per bucket of [`BUCKETS_S`] (not cumulative), then +Inf.
    buckets: Vec<f64>,
}

impl Series {
    /// Adds what happened since the last reading, at the rates set then.
    fn advance(&mut self, now: Instant) {
        if let (Some(traffic), Some(since)) = (self.traffic, self.since) {
            let requests = traffic.requests_per_s * now.duration_since(since).as_secs_f64();
            self.requests += requests;
            self.errors += requests * traffic.error_share;
            self.rate_limited += requests * traffic.rate_limited_share;
            let latency_s = traffic.latency_ms / 1000.0;
            self.latency_sum_s += requests * latency_s;
            let bucket = BUCKETS_S
                .iter()
                .position(|&bound| latency_s <= bound)
                .unwrap_or(BUCKETS_S.len());
            self.buckets.resize(BUCKETS_S.len() + 1, 0.0);
            self.buckets[bucket] += requests;
        }
        self.since = Some(now);
    }
}

type Key = (String, String, String);

/// The exporter's state; clones share it.
#[derive(Clone)]
pub struct Exporter {
    series: Arc<Mutex<BTreeMap<Key, Series>>>,
    /// Per service: its requests and 500s, as [`Series`] counts them.
    services: Arc<Mutex<BTreeMap<String, Series>>>,
    addr: SocketAddr,
}

impl Exporter {
    pub fn start() -> Exporter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the exporter");
        let exporter = Exporter {
            series: Arc::default(),
            services: Arc::default(),
            addr: listener.local_addr().unwrap(),
        };
        let serving = exporter.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                serving.answer(stream);
            }
        });
        exporter
    }

    /// `host:port`, as a scrape target.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// From now on `provider` (serving `model`) at `region` does `traffic`.
    pub fn set(&self, region: &str, provider: &str, model: &str, traffic: Traffic) {
        let mut series = self.series.lock().unwrap();
        let entry = series
            .entry((region.into(), provider.into(), model.into()))
            .or_default();
        entry.advance(Instant::now());
        entry.traffic = Some(traffic);
    }

    /// From now on `service` serves `requests_per_s`, a share `error_share` of them 500s.
    pub fn set_service(&self, service: &str, requests_per_s: f64, error_share: f64) {
        let mut services = self.services.lock().unwrap();
        let entry = services.entry(service.into()).or_default();
        entry.advance(Instant::now());
        entry.traffic = Some(Traffic {
            error_share,
            ..Traffic::healthy(requests_per_s)
        });
    }

    fn answer(&self, stream: TcpStream) {
        let mut reader = BufReader::new(&stream);
        // Headers are read to their end; the path does not matter, every GET is a scrape.
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
            line.clear();
        }
        let body = self.render();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let mut stream = &stream;
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body.as_bytes());
    }

    fn render(&self) -> String {
        let mut series = self.series.lock().unwrap();
        let now = Instant::now();
        let mut out = String::new();
        out.push_str("# TYPE litellm_deployment_total_requests_total counter\n");
        out.push_str("# TYPE litellm_deployment_failure_responses_total counter\n");
        out.push_str("# TYPE litellm_llm_api_latency_metric histogram\n");
        for ((region, provider, model), s) in series.iter_mut() {
            s.advance(now);
            let labels = format!(
                "region=\"{region}\",api_provider=\"{provider}\",litellm_model_name=\"{model}\""
            );
            let _ = writeln!(
                out,
                "litellm_deployment_total_requests_total{{{labels}}} {}",
                s.requests
            );
            for (status, count) in [("500", s.errors), ("429", s.rate_limited)] {
                let _ = writeln!(
                    out,
                    "litellm_deployment_failure_responses_total{{{labels},exception_status=\"{status}\"}} {count}"
                );
            }
            let mut cumulative = 0.0;
            let bounds = BUCKETS_S.iter().map(|b| b.to_string());
            for (bound, count) in bounds
                .chain(["+Inf".to_string()])
                .zip(s.buckets.iter().chain(std::iter::repeat(&0.0)))
            {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "litellm_llm_api_latency_metric_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "litellm_llm_api_latency_metric_sum{{{labels}}} {}\nlitellm_llm_api_latency_metric_count{{{labels}}} {}",
                s.latency_sum_s, s.requests
            );
        }
        out.push_str("# TYPE http_requests_total counter\n");
        for (service, s) in self.services.lock().unwrap().iter_mut() {
            s.advance(now);
            for (code, count) in [("200", s.requests - s.errors), ("500", s.errors)] {
                let _ = writeln!(
                    out,
                    "http_requests_total{{service=\"{service}\",code=\"{code}\"}} {count}"
                );
            }
        }
        out
    }
}
