//! How every CLI answers: exit codes, JSON on stdout, notes on stderr, and the confirmation
//! prompt.

use std::fmt::Display;
use std::io::Write;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;

use crate::sources::ClientError;
use protocol::sanitize::{clean, clean_multiline};

/// Exit codes of the verbs that change something (`status` has its own: 0 healthy,
/// 1 degraded, 2 down or unreachable). The README lists them.
pub const EXIT_OK: i32 = 0;
/// Declined at the prompt, or no `--yes` where nobody can be asked.
pub const EXIT_NOT_CONFIRMED: i32 = 1;
pub const EXIT_ERROR: i32 = 2;
/// The preflight refused the move (`--force` sends it anyway).
pub const EXIT_REFUSED: i32 = 3;
/// 409: the target changed, or someone else got there first.
pub const EXIT_CONFLICT: i32 = 4;
/// The source's two-person rule holds the command for a second operator (not waited for, or
/// still undecided when the wait ended).
pub const EXIT_PENDING: i32 = 5;
/// A second operator denied the held command: it was never carried out.
pub const EXIT_DENIED: i32 = 6;
/// The requester withdrew the held command.
pub const EXIT_WITHDRAWN: i32 = 7;
/// Nobody decided the held command in time.
pub const EXIT_EXPIRED: i32 = 8;

/// The exit code of a request the server (or the way to it) turned down.
pub fn exit_code_of(error: &ClientError) -> i32 {
    if matches!(error, ClientError::Conflict { .. }) {
        EXIT_CONFLICT
    } else {
        EXIT_ERROR
    }
}

/// An exit code as the process returns it; anything out of range is an error.
pub fn process_exit_code(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(EXIT_ERROR as u8)
}

/// `value` as pretty JSON and a newline, every string in it (keys too) made safe for a
/// terminal: serde_json escapes C0 controls but prints C1 controls, DEL and bidi overrides
/// as they are. Every `--json` output goes through here. `what` names it if writing fails.
pub fn write_json(out: &mut impl Write, value: &impl Serialize, what: &str) -> anyhow::Result<()> {
    let value = serde_json::to_value(value).with_context(|| format!("building the JSON {what}"))?;
    serde_json::to_writer_pretty(&mut *out, &sanitized(value))
        .with_context(|| format!("writing the JSON {what}"))?;
    writeln!(out)?;
    Ok(())
}

/// Every string of `value` cleaned; newlines stay (JSON escapes them).
fn sanitized(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(clean_multiline(&text).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(sanitized).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (clean(&k).into_owned(), sanitized(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A line on stderr for the person at the shell: stdout stays for results and JSON.
pub fn note(message: impl Display) {
    eprintln!("switchboard: {message}");
}

/// Asks on the terminal; without one, says to pass --yes and answers no.
pub fn confirm_on_terminal(question: &str) -> bool {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        note(format_args!(
            "{question} Not a terminal: pass --yes to go ahead without asking."
        ));
        return false;
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}
