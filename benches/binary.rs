//! The release binary: its size, and that its panics still say where (file:line:column).
//! Run: `cargo bench --bench binary` (builds `switchboard` with the release profile).
//! Exits non-zero when the binary is over [`MAX_BYTES`] or a panic lost its location.

use std::process::{Command, ExitCode};

/// Issue 9's goal: the binary was 111 MB, 95 MB of it debug info.
const MAX_BYTES: u64 = 25 * 1024 * 1024;

fn main() -> ExitCode {
    let path = env!("CARGO_BIN_EXE_switchboard");
    let size = std::fs::metadata(path)
        .expect("the release binary is built with the bench")
        .len();
    println!(
        "binary {path}: {size} bytes ({:.1} MiB; goal <= {} MiB)",
        size as f64 / (1024.0 * 1024.0),
        MAX_BYTES / (1024 * 1024)
    );
    // The location comes from `core::panic::Location`, compiled into the code, not from
    // debug info: stripping the latter must keep it. The log goes to a throwaway home.
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(path)
        .env("SWITCHBOARD_TEST_PANIC", "1")
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path())
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = stderr.lines().find(|line| line.contains("panicked at"));
    println!("panic message: {message:?}");
    if !message.is_some_and(|line| line.contains("panicked at src/main.rs:")) {
        eprintln!("the panic message lost its file:line");
        return ExitCode::FAILURE;
    }
    if size > MAX_BYTES {
        eprintln!("over the size goal");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
