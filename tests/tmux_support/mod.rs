//! A console in a real terminal for the tests: tmux runs it, send-keys types, capture-pane
//! reads. Needs tmux on PATH (`.ci/run` installs it).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

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
        let status = Command::new("tmux")
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
            .status()
            .expect("tmux must be installed to run the terminal tests (apt-get install tmux)");
        assert!(status.success(), "tmux could not start a session");
        Tmux { session }
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
