//! A real LiteLLM proxy on 127.0.0.1 in front of fake OpenAI-compatible upstreams the test
//! controls ([`Upstream::fail_with`]). The proxy comes from the Python venv `.ci/run` installs
//! (`$SWITCHBOARD_LITELLM_VENV`, by default `~/.cache/switchboard/litellm-venv`); without it a
//! test skips, saying so, except under `CI`, where it fails. One proxy per test binary.
#![allow(dead_code)]

#[path = "../process_support/mod.rs"]
mod process_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use process_support::Supervised;
use switchboard::testing::{free_port, missing_system};

/// The proxy takes 15-20 s to start on an idle machine.
pub const WAIT: Duration = Duration::from_secs(120);
pub const MASTER_KEY: &str = "sk-switchboard-test-0123456789abcdef0123456789abcdef";

/// A fake OpenAI-compatible provider: answers every call with a chat completion, or with the
/// status it was told to fail with.
pub struct Upstream {
    pub port: u16,
    failing: Arc<AtomicU16>,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let failing = Arc::new(AtomicU16::new(0));
        let status = failing.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let status = status.clone();
                std::thread::spawn(move || answer(stream, status.load(Ordering::SeqCst)));
            }
        });
        Upstream { port, failing }
    }

    /// Every later call fails with `status` (0: they succeed again).
    pub fn fail_with(&self, status: u16) {
        self.failing.store(status, Ordering::SeqCst);
    }
}

fn answer(stream: TcpStream, failing: u16) {
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let (status, json) = match failing {
        0 => (
            200,
            r#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#.to_string(),
        ),
        code => (code, format!(r#"{{"error":{{"message":"upstream failed with {code}","type":"server_error"}}}}"#)),
    };
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
        json.len()
    );
}

/// The proxy with three deployments: model group `gpt-4o` at `us-east` and `eu-west`, falling
/// back to group `small` at `us-east`; a deployment cools down after one failure, for 60 s.
pub struct Proxy {
    pub url: String,
    pub us_east: Upstream,
    pub eu_west: Upstream,
    pub small: Upstream,
    process: Supervised,
    /// The proxy's command line, to start it again on the same port.
    command: Vec<String>,
    dir: tempfile::TempDir,
}

fn venv() -> Option<PathBuf> {
    let venv = std::env::var_os("SWITCHBOARD_LITELLM_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/switchboard/litellm-venv"))
        })
        .expect("HOME or SWITCHBOARD_LITELLM_VENV is set");
    if venv.join("bin/litellm").is_file() {
        return Some(venv);
    }
    missing_system(&format!(
        "the LiteLLM venv is missing at {}: run .ci/run, or `python3 -m venv {0} && {0}/bin/pip \
         install -r assets/litellm/requirements.txt`",
        venv.display()
    ));
    None
}

/// Asks the proxy at `url` for a chat completion of model group `group`; its status.
pub async fn chat(url: &str, group: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{url}/chat/completions"))
        .bearer_auth(MASTER_KEY)
        .header("content-type", "application/json")
        .body(
            serde_json::json!({"model": group, "messages": [{"role": "user", "content": "x"}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The proxy every test of the binary shares, started by the first that asks.
pub fn shared() -> Option<&'static Proxy> {
    static PROXY: OnceLock<Option<Proxy>> = OnceLock::new();
    PROXY.get_or_init(Proxy::start).as_ref()
}

impl Proxy {
    /// A proxy of the test's own (to stop and start again); [`shared`] otherwise.
    pub fn start() -> Option<Proxy> {
        let venv = venv()?;
        let started = Instant::now();
        let (us_east, eu_west, small) = (Upstream::start(), Upstream::start(), Upstream::start());
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("litellm.yaml");
        let deployment = |group: &str, model: &str, id: &str, port: u16| {
            format!(
                "  - model_name: {group}\n    litellm_params:\n      model: openai/{model}\n      \
                 api_base: http://127.0.0.1:{port}/v1\n      api_key: fake\n    model_info:\n      id: {id}\n"
            )
        };
        let yaml = format!(
            "model_list:\n{}{}{}router_settings:\n  allowed_fails: 1\n  cooldown_time: 60\n  \
             num_retries: 0\nlitellm_settings:\n  callbacks: [\"prometheus\"]\n  fallbacks: \
             [{{\"gpt-4o\": [\"small\"]}}]\n",
            deployment("gpt-4o", "gpt-4o", "gpt-4o-us-east", us_east.port),
            deployment("gpt-4o", "gpt-4o", "gpt-4o-eu-west", eu_west.port),
            deployment("small", "gpt-4o-mini", "small-us-east", small.port),
        );
        std::fs::write(&config, yaml).unwrap();
        let port = free_port();
        let command = vec![
            format!("LITELLM_MASTER_KEY={MASTER_KEY}"),
            // Else it fetches a cost map from the internet and retries.
            "LITELLM_LOCAL_MODEL_COST_MAP=True".into(),
            venv.join("bin/litellm").display().to_string(),
            "--config".into(),
            config.display().to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
        ];
        let process = Supervised::start("env", &command, &dir.path().join("litellm.log"));
        let url = format!("http://127.0.0.1:{port}");
        wait_ready(&process, port, started);
        Some(Proxy {
            url,
            us_east,
            eu_west,
            small,
            process,
            command,
            dir,
        })
    }

    /// Stops the proxy (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Starts the proxy again on its port and waits until it is ready.
    pub fn restart(&mut self) {
        let started = Instant::now();
        let port = self.url.rsplit(':').next().unwrap().parse().unwrap();
        let log = self.dir.path().join("litellm.log");
        self.process = Supervised::start("env", &self.command, &log);
        wait_ready(&self.process, port, started);
    }
}

fn wait_ready(process: &Supervised, port: u16, started: Instant) {
    while !process_support::answers_ok(&format!("127.0.0.1:{port}"), "/health/readiness") {
        assert!(process.running(), "the proxy exited: {}", process.output());
        assert!(
            started.elapsed() < WAIT,
            "the proxy did not answer within {WAIT:?}: {}",
            process.output()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "litellm proxy ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
