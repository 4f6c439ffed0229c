//! A program a test starts and must never outlive it: started under a supervisor shell that
//! prints the program's PID, then waits for its stdin to close (the test dropping the handle,
//! or dying) and stops the program. And [`get`], to ask it over HTTP whether it is ready.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

/// One blocking `GET path` to `addr` (`127.0.0.1:PORT`), its status and body; `None` when
/// nothing answers within 2 s. Blocking: the harnesses run outside any test's runtime.
pub fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_string()))
}

/// Whether `GET path` to `addr` answers 200.
pub fn answers_ok(addr: &str, path: &str) -> bool {
    get(addr, path).is_some_and(|(status, _)| status == 200)
}

pub struct Supervised {
    supervisor: Child,
    stdin: Option<ChildStdin>,
    pub pid: u32,
    pub log: PathBuf,
}

impl Supervised {
    /// Starts `program` with `args`, its output going to `log`.
    pub fn start(program: &str, args: &[String], log: &Path) -> Supervised {
        let script = r#"log="$1"; shift; "$@" >"$log" 2>&1 </dev/null & child=$!; echo "$child"; cat >/dev/null; kill "$child" 2>/dev/null; wait "$child""#;
        let mut supervisor = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("supervisor")
            .arg(log)
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The shell's own "Terminated" when it stops the program is no news.
            .stderr(Stdio::null())
            .spawn()
            .expect("start sh");
        let mut first = String::new();
        BufReader::new(supervisor.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let pid = first.trim().parse().expect("the supervisor prints the PID");
        Supervised {
            stdin: supervisor.stdin.take(),
            supervisor,
            pid,
            log: log.to_path_buf(),
        }
    }

    /// Whether the program still runs.
    pub fn running(&self) -> bool {
        Path::new(&format!("/proc/{}", self.pid)).exists()
    }

    /// The program's output so far, for failure messages.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the program (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(stdin) = self.stdin.take() {
            let _ = Command::new("kill")
                .arg(self.pid.to_string())
                .stderr(Stdio::null())
                .status();
            drop(stdin);
            let _ = self.supervisor.wait();
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop();
    }
}
