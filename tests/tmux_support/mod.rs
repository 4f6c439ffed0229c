//! A console in a real terminal for the tests: tmux runs it, send-keys types, capture-pane
//! reads. Needs tmux on PATH (`.ci/run` installs it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Times a tmux session is asked for before a test gives up.
const NEW_SESSION_TRIES: usize = 5;

pub struct Tmux {
    session: String,
}

impl Tmux {
    pub fn start(width: u16, height: u16, home: &Path) -> Tmux {
        // tmux rewrites '.' and ':' in session names, so keep to letters and digits.
        let unique: String = home
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let session = format!("sb-e2e-{}-{unique}", std::process::id());
        // Another test's last session ending stops the tmux server; a session created in that
        // moment hears "server exited unexpectedly": ask again, as benches/first_frame.rs does.
        let mut refused = String::new();
        for _ in 0..NEW_SESSION_TRIES {
            let answer = Command::new("tmux")
                .args([
                    "new-session",
                    "-d",
                    "-s",
                    &session,
                    "-x",
                    &width.to_string(),
                    "-y",
                    &height.to_string(),
                ])
                .args(["env", "-i"])
                .arg(format!("HOME={}", home.display()))
                .arg(format!(
                    "PATH={}",
                    std::env::var("PATH").unwrap_or_default()
                ))
                .arg("TERM=xterm-256color")
                .arg(format!("XDG_CONFIG_HOME={}", home.join("config").display()))
                .arg(format!("XDG_STATE_HOME={}", home.join("state").display()))
                .arg(format!("XDG_DATA_HOME={}", home.join("data").display()))
                .args(["bash", "--norc", "--noprofile"])
                .output()
                .expect("tmux must be installed to run the terminal tests (apt-get install tmux)");
            if answer.status.success() {
                return Tmux { session };
            }
            refused = String::from_utf8_lossy(&answer.stderr).into_owned();
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("tmux could not start a session: {refused}");
    }

    pub fn send(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn type_line(&self, line: &str) {
        self.send(&["-l", line]);
        self.send(&["Enter"]);
    }

    /// Runs the console on `config` with `token` for its sources; when it ends, the shell
    /// prints `END-42 exit=<code>`.
    pub fn start_console(&self, token: &str, config: &Path) {
        let bin = env!("CARGO_BIN_EXE_switchboard");
        self.type_line(&format!(
            "SWITCHBOARD_TOKEN={token} {bin} --config {}; echo \"END-$((40+2)) exit=$?\"",
            config.display()
        ));
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `needle`; panics with the screen after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {needle:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

/// `switchboard lab serve` as its own process (with `extra` arguments); returns it with
/// alice's token.
pub fn serve_lab(port: u16, extra: &[&str]) -> (Child, String) {
    let (child, mut tokens) = serve_lab_for(port, extra, &["alice"]);
    (child, tokens.remove(0))
}

/// `switchboard lab serve` as its own process (with `extra` arguments); returns it with the
/// tokens of the operators `names`, in that order.
pub fn serve_lab_for(port: u16, extra: &[&str], names: &[&str]) -> (Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "lab",
            "serve",
            "--seed",
            "9",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut found: Vec<Option<String>> = vec![None; names.len()];
    for line in lines.by_ref().map_while(Result::ok) {
        for word in line.split_whitespace() {
            for (name, token) in names.iter().zip(found.iter_mut()) {
                if word.starts_with(&format!("sb_lab_{name}_")) {
                    *token = Some(word.to_string());
                }
            }
        }
        if found.iter().all(Option::is_some) {
            break;
        }
    }
    let tokens = (names.iter().zip(found))
        .map(|(name, token)| token.unwrap_or_else(|| panic!("lab serve prints {name}'s token")))
        .collect();
    // Keep draining so the lab never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, tokens)
}

/// Types the command that runs the console on the lab at `port` (a context named drill, its
/// source named fleet) and echoes `END-42 exit=<code>` when it ends.
pub fn run_console_on(tmux: &Tmux, home: &Path, port: u16, token: &str) {
    let config = home.join("drill.toml");
    std::fs::write(
        &config,
        format!("default_context = \"drill\"\n[contexts.drill]\n[[contexts.drill.sources]]\nname = \"fleet\"\nurl = \"http://127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_switchboard");
    tmux.type_line(&format!(
        "SWITCHBOARD_TOKEN={token} {bin} --config {}; echo \"END-$((40+2)) exit=$?\"",
        config.display()
    ));
}
