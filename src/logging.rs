//! Logging to a daily-rotated file in the platform state dir, never to the terminal
//! (the console owns the screen; a stray line on stderr would corrupt it).
//!
//! Files: `<state dir>/logs/switchboard.YYYY-MM-DD.log`, with `switchboard.log`
//! pointing to the current one; the last [`KEPT_LOG_FILES`] days are kept.

use std::path::PathBuf;

use anyhow::Context as _;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;

/// Filter used when none is given.
pub const DEFAULT_FILTER: &str = "info";
/// Days of log files kept.
pub const KEPT_LOG_FILES: usize = 14;

/// Where the log files are (for help texts and error messages).
pub fn log_dir() -> PathBuf {
    crate::config::paths().log_dir
}

/// Starts logging to [`log_dir`], filtered by `SWITCHBOARD_LOG`, else `RUST_LOG`
/// (tracing `EnvFilter` syntax, e.g. `info,switchboard::sources=debug`), else
/// [`DEFAULT_FILTER`]. Keep the returned guard alive until exit: dropping it flushes
/// the log.
///
/// A filter that does not parse is replaced by the default, and the log says so.
pub fn init() -> anyhow::Result<WorkerGuard> {
    let dir = log_dir();
    create_private_dir(&dir)
        .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("switchboard")
        .filename_suffix("log")
        .latest_symlink("switchboard.log")
        .max_log_files(KEPT_LOG_FILES)
        .build(&dir)
        .with_context(|| format!("cannot open a log file in {}", dir.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(appender);

    let requested = filter_from_env().unwrap_or_else(|| DEFAULT_FILTER.to_string());
    let (env_filter, rejected) = match EnvFilter::try_new(&requested) {
        Ok(parsed) => (parsed, None),
        Err(err) => (EnvFilter::new(DEFAULT_FILTER), Some(err)),
    };
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(cap_secret_holders(env_filter))
        .try_init()
        .map_err(|err| anyhow::anyhow!("logging is already set up: {err}"))?;
    if let Some(err) = rejected {
        tracing::warn!(filter = %requested, error = %err, "bad log filter; using the default");
    }
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "switchboard starting");
    Ok(guard)
}

/// The first of `SWITCHBOARD_LOG` and `RUST_LOG` that is set and not empty.
fn filter_from_env() -> Option<String> {
    ["SWITCHBOARD_LOG", "RUST_LOG"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
}

/// The keyring crates log their credential objects at debug level, and some of those
/// (the test store's) print the secret: they never log below info, whatever the filter.
fn cap_secret_holders(filter: EnvFilter) -> EnvFilter {
    [
        "keyring_core=info",
        "linux_keyutils_keyring_store=info",
        "zbus_secret_service_keyring_store=info",
        "zbus=info",
    ]
    .into_iter()
    .fold(filter, |filter, directive| {
        filter.add_directive(directive.parse().expect("static directive is valid"))
    })
}

/// The log dir holds what operators did and saw: readable by its owner only.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
