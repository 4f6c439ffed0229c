//! Logging to a daily-rotated file in the platform state dir, never to the terminal
//! (the console owns the screen; a stray line on stderr would corrupt it).
//!
//! Files: `<state dir>/logs/switchboard.YYYY-MM-DD.log`, with `switchboard.log`
//! pointing to the one of the latest start; the last [`KEPT_LOG_FILES`] days are kept. The
//! folder is 0700 and the files 0600: they hold what operators did and saw.

use std::path::PathBuf;

use anyhow::Context as _;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;

const LOG_PREFIX: &str = "switchboard";
const LOG_SUFFIX: &str = "log";
/// The link to the log file of the latest start.
const LATEST_LINK: &str = "switchboard.log";

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
    private_files_only();
    let dir = log_dir();
    create_private_dir(&dir)
        .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
    // The appender's own latest-log link is removed and then created again, which fails
    // with "File exists" when two starts race (and, at rotation, leaves the log on the old
    // day's file): the link is replaced atomically here instead.
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(LOG_PREFIX)
        .filename_suffix(LOG_SUFFIX)
        .max_log_files(KEPT_LOG_FILES)
        .build(&dir)
        .with_context(|| format!("cannot open a log file in {}", dir.display()))?;
    make_private(&dir)
        .with_context(|| format!("cannot make the log private in {}", dir.display()))?;
    point_latest_link(&dir)
        .with_context(|| format!("cannot link {LATEST_LINK} in {}", dir.display()))?;
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

/// Today's log file name (the appender rotates on UTC days).
fn todays_file() -> String {
    let day = chrono::Utc::now().format("%Y-%m-%d");
    format!("{LOG_PREFIX}.{day}.{LOG_SUFFIX}")
}

/// Points [`LATEST_LINK`] at today's file: a link under a name no other process uses, then a
/// rename over the old link, so concurrent starts each replace it whole and none fails.
#[cfg(unix)]
fn point_latest_link(dir: &std::path::Path) -> std::io::Result<()> {
    let staging = dir.join(format!(
        ".{LATEST_LINK}.{}.{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::os::unix::fs::symlink(todays_file(), &staging)?;
    std::fs::rename(&staging, dir.join(LATEST_LINK)).inspect_err(|_| {
        let _ = std::fs::remove_file(&staging);
    })
}

#[cfg(not(unix))]
fn point_latest_link(_dir: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}

/// A folder and today's file left readable to others by an older version become private.
#[cfg(unix)]
fn make_private(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    std::fs::set_permissions(
        dir.join(todays_file()),
        std::fs::Permissions::from_mode(0o600),
    )
}

#[cfg(not(unix))]
fn make_private(_dir: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}

/// Files this process creates (the log, at every rotation too, and the journal) are its
/// owner's only, whatever the umask it inherited.
fn private_files_only() {
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail and touches
    // no memory of ours.
    unsafe {
        libc::umask(0o077);
    }
}

/// The log dir holds what operators did and saw: readable by its owner only.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
