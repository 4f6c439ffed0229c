//! Source tokens in the OS keyring.
//!
//! # Naming scheme
//!
//! Every token is one keyring entry with service `switchboard` and user
//! `<context>/<source>` (e.g. `prod-eu/gateway`). Context and source names are
//! restricted to letters, digits, `-`, `_` and `.`, so the user part is unambiguous.
//! On Linux's kernel keyring this becomes the key description
//! `keyring:prod-eu/gateway@switchboard`; in the Secret Service, an item with the
//! attributes `service=switchboard`, `username=prod-eu/gateway`.
//!
//! # Stores
//!
//! - Linux: the Secret Service (GNOME Keyring, KWallet, ...) when one answers on the
//!   D-Bus session bus within [`PROBE_TIMEOUT`]; otherwise the kernel keyring
//!   (keyutils). There each thread first joins a session keyring of its own, because
//!   an inherited session keyring that the process does not possess refuses access;
//!   tokens are linked into the user's persistent keyring, so they outlive the process
//!   (until reboot, or until unused for `/proc/sys/kernel/keys/persistent_keyring_expiry`).
//! - macOS: the login keychain. Windows: the Credential Manager.
//!
//! `SWITCHBOARD_TOKEN`, when set, overrides every stored token (for CI and machines
//! without a usable keyring).
//!
//! Tokens are never logged, printed or put in an error message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};

use super::{NAME_RULE, is_valid_name};

/// Keyring service of every Switchboard entry.
pub const SERVICE: &str = "switchboard";
/// Environment variable whose token overrides any stored one.
pub const TOKEN_ENV: &str = "SWITCHBOARD_TOKEN";
/// How long to wait for a Secret Service on the session bus before using another store.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest token accepted; far above real bearer tokens, far below header limits.
const MAX_TOKEN_LEN: usize = 8192;

const FALLBACK_HINT: &str = "set SWITCHBOARD_TOKEN to pass the token in the environment instead";

/// Which credential store holds the tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    SecretService,
    KernelKeyring,
    MacKeychain,
    WindowsCredentialManager,
    /// In-memory store for tests ([`use_mock_store`]).
    Mock,
}

impl StoreKind {
    /// Where the tokens are, in words for the user.
    pub fn describe(self) -> String {
        match self {
            StoreKind::SecretService => {
                "the Secret Service (your desktop keyring, e.g. GNOME Keyring or KWallet)"
                    .to_string()
            }
            StoreKind::KernelKeyring => {
                let expiry =
                    std::fs::read_to_string("/proc/sys/kernel/keys/persistent_keyring_expiry")
                        .ok()
                        .and_then(|text| text.trim().parse::<u64>().ok())
                        .map(|seconds| format!(", or after {} unused", human_duration(seconds)))
                        .unwrap_or_default();
                format!("the kernel keyring (your persistent keyring; kept until reboot{expiry})")
            }
            StoreKind::MacKeychain => "the macOS login keychain".to_string(),
            StoreKind::WindowsCredentialManager => "the Windows Credential Manager".to_string(),
            StoreKind::Mock => "an in-memory test store".to_string(),
        }
    }
}

fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} hours", s / 3_600),
        s => format!("{s} seconds"),
    }
}

/// Why a token could not be read, stored or deleted. Never contains a token.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no keyring is available: {reason}; {hint}", hint = FALLBACK_HINT)]
    NoStore { reason: String },
    #[error("the keyring refused access: {reason}; {hint}", hint = FALLBACK_HINT)]
    Unavailable { reason: String },
    #[error("the token stored for {user} is damaged; run `switchboard login` again to replace it")]
    Corrupt { user: String },
    #[error("{reason}")]
    Invalid { reason: String },
    #[error("keyring failure: {reason}; {hint}", hint = FALLBACK_HINT)]
    Platform { reason: String },
}

/// The store chosen for this process; set once, under the lock, by the first caller.
static STORE: Mutex<Option<StoreKind>> = Mutex::new(None);

/// Chooses and installs the platform credential store (once; later calls return the
/// same choice). Call it before the terminal UI starts: on Linux it may wait up to
/// [`PROBE_TIMEOUT`] for the Secret Service.
pub fn init_default_store() -> Result<StoreKind, SecretError> {
    let mut chosen = STORE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(kind) = *chosen {
        return Ok(kind);
    }
    let (kind, store) = platform::store()?;
    keyring_core::set_default_store(store);
    tracing::info!(store = ?kind, "credential store ready");
    *chosen = Some(kind);
    Ok(kind)
}

/// Installs an in-memory store shared by everything in this process (for tests).
/// Entries live as long as the process; use distinct names per test.
pub fn use_mock_store() {
    let mut chosen = STORE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *chosen != Some(StoreKind::Mock) {
        let store: Arc<CredentialStore> =
            keyring_core::mock::Store::new().expect("the mock store cannot fail to build");
        keyring_core::set_default_store(store);
        *chosen = Some(StoreKind::Mock);
    }
}

/// The token to use for `source` of `context`: `SWITCHBOARD_TOKEN` if set, else the
/// stored one, else `None`.
pub fn token_for(context: &str, source: &str) -> Result<Option<String>, SecretError> {
    token_with_override(std::env::var(TOKEN_ENV).ok(), context, source)
}

/// Whether `SWITCHBOARD_TOKEN` is set (and so overrides stored tokens).
pub fn env_token_is_set() -> bool {
    std::env::var_os(TOKEN_ENV).is_some_and(|value| !value.is_empty())
}

fn token_with_override(
    env_token: Option<String>,
    context: &str,
    source: &str,
) -> Result<Option<String>, SecretError> {
    if let Some(token) = env_token
        .map(|token| token.trim().to_string())
        .filter(|token| !token.is_empty())
    {
        check_token(&token).map_err(|err| SecretError::Invalid {
            reason: format!("{TOKEN_ENV}: {err}"),
        })?;
        return Ok(Some(token));
    }
    stored_token(context, source)
}

/// The token in the keyring for `source` of `context`, ignoring `SWITCHBOARD_TOKEN`.
pub fn stored_token(context: &str, source: &str) -> Result<Option<String>, SecretError> {
    match entry(context, source)?.get_password() {
        Ok(token) => Ok(Some(token)),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(err) => Err(classify(err, context, source)),
    }
}

/// Stores `token` for `source` of `context`, replacing any previous one.
pub fn store_token(context: &str, source: &str, token: &str) -> Result<(), SecretError> {
    check_token(token)?;
    entry(context, source)?
        .set_password(token)
        .map_err(|err| classify(err, context, source))?;
    tracing::info!(context, source, "token stored");
    Ok(())
}

/// Removes the stored token; `Ok(false)` when there was none.
pub fn delete_token(context: &str, source: &str) -> Result<bool, SecretError> {
    match entry(context, source)?.delete_credential() {
        Ok(()) => {
            tracing::info!(context, source, "token deleted");
            Ok(true)
        }
        Err(keyring_core::Error::NoEntry) => Ok(false),
        Err(err) => Err(classify(err, context, source)),
    }
}

/// Checks that `token` can go in an `Authorization: Bearer` header. The error never
/// repeats the token.
pub fn check_token(token: &str) -> Result<(), SecretError> {
    let reason = if token.is_empty() {
        "the token is empty"
    } else if token.len() > MAX_TOKEN_LEN {
        "the token is too long"
    } else if !token.bytes().all(|b| b.is_ascii_graphic()) {
        "the token must be one line of visible ASCII characters (no spaces)"
    } else {
        return Ok(());
    };
    Err(SecretError::Invalid {
        reason: reason.to_string(),
    })
}

fn user(context: &str, source: &str) -> String {
    format!("{context}/{source}")
}

fn entry(context: &str, source: &str) -> Result<Entry, SecretError> {
    for (what, name) in [("context", context), ("source", source)] {
        if !is_valid_name(name) {
            return Err(SecretError::Invalid {
                reason: format!("{what} name {name:?} is not allowed: {NAME_RULE}"),
            });
        }
    }
    if init_default_store()? == StoreKind::KernelKeyring {
        platform::prepare_thread()?;
    }
    Entry::new(SERVICE, &user(context, source)).map_err(|err| classify(err, context, source))
}

/// Maps a keyring error to ours without ever formatting its payload, which can hold
/// the secret (bad encodings, ambiguous entries).
fn classify(err: keyring_core::Error, context: &str, source: &str) -> SecretError {
    use keyring_core::Error as E;
    match err {
        E::NoStorageAccess(cause) => SecretError::Unavailable {
            reason: cause.to_string(),
        },
        E::BadEncoding(_) | E::BadDataFormat(..) => SecretError::Corrupt {
            user: user(context, source),
        },
        E::NoDefaultStore => SecretError::NoStore {
            reason: "no credential store was set up".to_string(),
        },
        E::Ambiguous(entries) => SecretError::Platform {
            reason: format!(
                "{} keyring items match {}; remove the extra ones with your keyring tool",
                entries.len(),
                user(context, source)
            ),
        },
        E::PlatformFailure(cause) => SecretError::Platform {
            reason: cause.to_string(),
        },
        E::TooLong(name, limit) => SecretError::Invalid {
            reason: format!("{name} is longer than the keyring's limit of {limit}"),
        },
        E::Invalid(name, reason) => SecretError::Invalid {
            reason: format!("the keyring refused {name}: {reason}"),
        },
        E::NotSupportedByStore(what) | E::BadStoreFormat(what) => {
            SecretError::Platform { reason: what }
        }
        E::NoEntry => SecretError::Platform {
            reason: format!("no entry for {}", user(context, source)),
        },
        _ => SecretError::Platform {
            reason: "unexpected keyring error".to_string(),
        },
    }
}

#[cfg(target_os = "linux")]
// The kernel keyring is reached through keyctl(2), which libc exposes only as a raw syscall.
#[allow(unsafe_code)]
mod platform {
    use std::cell::Cell;
    use std::ffi::CStr;
    use std::sync::{Arc, mpsc};

    use keyring_core::CredentialStore;

    use super::{PROBE_TIMEOUT, SecretError, StoreKind};

    /// Name of the session keyring each thread joins (shared by the threads that can
    /// find it, fresh otherwise; either way it links the persistent keyring).
    const SESSION_KEYRING: &CStr = c"switchboard";

    thread_local! {
        static JOINED: Cell<bool> = const { Cell::new(false) };
    }

    pub(super) fn store() -> Result<(StoreKind, Arc<CredentialStore>), SecretError> {
        if let Some(store) = secret_service() {
            return Ok((StoreKind::SecretService, store));
        }
        prepare_thread()?;
        persistent_keyring()?;
        let store =
            linux_keyutils_keyring_store::Store::new().map_err(|err| SecretError::NoStore {
                reason: format!("the kernel keyring store failed to start: {err}"),
            })?;
        Ok((StoreKind::KernelKeyring, store))
    }

    /// The Secret Service if one answers in time. The probe runs on its own thread so
    /// a bus that never answers costs at most PROBE_TIMEOUT (the thread is left to
    /// finish on its own).
    fn secret_service() -> Option<Arc<CredentialStore>> {
        let bus_named = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty());
        let bus_socket = std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists());
        if !bus_named && !bus_socket {
            tracing::debug!("no D-Bus session bus; not probing the Secret Service");
            return None;
        }
        let (answer, answered) = mpsc::channel();
        let probe = std::thread::Builder::new()
            .name("secret-service-probe".to_string())
            .spawn(move || {
                let _ = answer.send(zbus_secret_service_keyring_store::Store::new());
            });
        if let Err(err) = probe {
            tracing::warn!(error = %err, "cannot start the Secret Service probe");
            return None;
        }
        match answered.recv_timeout(PROBE_TIMEOUT) {
            Ok(Ok(store)) => Some(store),
            Ok(Err(err)) => {
                tracing::info!(error = %err, "no Secret Service; using the kernel keyring");
                None
            }
            Err(_) => {
                tracing::warn!(
                    timeout = ?PROBE_TIMEOUT,
                    "the Secret Service did not answer in time; using the kernel keyring"
                );
                None
            }
        }
    }

    /// Joins this thread to a session keyring it possesses. Session keyrings belong to
    /// a thread's credentials, so every thread that touches the keyring does this once.
    pub(super) fn prepare_thread() -> Result<(), SecretError> {
        if JOINED.get() {
            return Ok(());
        }
        // SAFETY: KEYCTL_JOIN_SESSION_KEYRING takes a NUL-terminated name, which the
        // CStr constant provides for the duration of the call.
        let id = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                libc::c_long::from(libc::KEYCTL_JOIN_SESSION_KEYRING),
                SESSION_KEYRING.as_ptr(),
            )
        };
        if id < 0 {
            return Err(SecretError::NoStore {
                reason: format!(
                    "cannot join a kernel session keyring: {}",
                    std::io::Error::last_os_error()
                ),
            });
        }
        JOINED.set(true);
        Ok(())
    }

    /// Checks that the user's persistent keyring exists (and links it to the session
    /// keyring). Without it a stored token would vanish when the process exits.
    fn persistent_keyring() -> Result<(), SecretError> {
        // SAFETY: KEYCTL_GET_PERSISTENT takes two integers: uid (-1: our own) and the
        // keyring to link the persistent keyring into.
        let id = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                libc::c_long::from(libc::KEYCTL_GET_PERSISTENT),
                -1 as libc::c_long,
                libc::c_long::from(libc::KEY_SPEC_SESSION_KEYRING),
            )
        };
        if id < 0 {
            return Err(SecretError::NoStore {
                reason: format!(
                    "this kernel offers no persistent keyring ({}), so a stored token \
                     would not outlive the process, and no Secret Service answered on \
                     the D-Bus session bus",
                    std::io::Error::last_os_error()
                ),
            });
        }
        Ok(())
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use std::sync::Arc;

    use keyring_core::CredentialStore;

    use super::{SecretError, StoreKind};

    pub(super) fn store() -> Result<(StoreKind, Arc<CredentialStore>), SecretError> {
        let store = apple_native_keyring_store::keychain::Store::new().map_err(|err| {
            SecretError::NoStore {
                reason: format!("the keychain is not available: {err}"),
            }
        })?;
        Ok((StoreKind::MacKeychain, store))
    }

    pub(super) fn prepare_thread() -> Result<(), SecretError> {
        Ok(())
    }
}

#[cfg(target_os = "windows")]
mod platform {
    use std::sync::Arc;

    use keyring_core::CredentialStore;

    use super::{SecretError, StoreKind};

    pub(super) fn store() -> Result<(StoreKind, Arc<CredentialStore>), SecretError> {
        let store =
            windows_native_keyring_store::Store::new().map_err(|err| SecretError::NoStore {
                reason: format!("the Credential Manager is not available: {err}"),
            })?;
        Ok((StoreKind::WindowsCredentialManager, store))
    }

    pub(super) fn prepare_thread() -> Result<(), SecretError> {
        Ok(())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
mod platform {
    use std::sync::Arc;

    use keyring_core::CredentialStore;

    use super::{SecretError, StoreKind};

    pub(super) fn store() -> Result<(StoreKind, Arc<CredentialStore>), SecretError> {
        Err(SecretError::NoStore {
            reason: "this platform has no supported keyring".to_string(),
        })
    }

    pub(super) fn prepare_thread() -> Result<(), SecretError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_token_is_read_back_and_deleted() {
        use_mock_store();
        assert_eq!(token_with_override(None, "t-store", "api").unwrap(), None);
        store_token("t-store", "api", "sk-first").unwrap();
        store_token("t-store", "api", "sk-second").unwrap();
        assert_eq!(
            token_with_override(None, "t-store", "api")
                .unwrap()
                .as_deref(),
            Some("sk-second")
        );
        // Another source of the same context is a separate entry.
        assert_eq!(token_with_override(None, "t-store", "other").unwrap(), None);
        assert!(delete_token("t-store", "api").unwrap());
        assert!(!delete_token("t-store", "api").unwrap());
        assert_eq!(token_with_override(None, "t-store", "api").unwrap(), None);
    }

    #[test]
    fn environment_token_overrides_the_stored_one() {
        use_mock_store();
        store_token("t-env", "api", "from-keyring").unwrap();
        let token = token_with_override(Some(" from-env\n".to_string()), "t-env", "api");
        assert_eq!(token.unwrap().as_deref(), Some("from-env"));
        // An empty variable counts as unset.
        let token = token_with_override(Some(String::new()), "t-env", "api");
        assert_eq!(token.unwrap().as_deref(), Some("from-keyring"));
    }

    #[test]
    fn bad_tokens_are_refused_without_being_repeated() {
        use_mock_store();
        for bad in ["", "two words", "line\nbreak", "tab\there", "ünïcode"] {
            let err = store_token("t-bad", "api", bad).unwrap_err();
            assert!(matches!(err, SecretError::Invalid { .. }), "{bad:?}");
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad), "{err}");
            }
        }
        let err = token_with_override(Some("sk a".to_string()), "t-bad", "api").unwrap_err();
        assert!(err.to_string().contains(TOKEN_ENV) && !err.to_string().contains("sk a"));
        assert_eq!(token_with_override(None, "t-bad", "api").unwrap(), None);
    }

    #[test]
    fn names_that_could_collide_are_refused() {
        use_mock_store();
        assert!(matches!(
            store_token("a/b", "c", "tok"),
            Err(SecretError::Invalid { .. })
        ));
        assert!(matches!(
            token_with_override(None, "a", "b@switchboard"),
            Err(SecretError::Invalid { .. })
        ));
    }

    #[test]
    fn keyring_errors_never_carry_the_secret() {
        let err = classify(
            keyring_core::Error::BadEncoding(b"sk-secret\xff".to_vec()),
            "ctx",
            "api",
        );
        let text = format!("{err} {err:?}");
        assert!(
            text.contains("ctx/api") && !text.contains("sk-secret"),
            "{text}"
        );
    }

    #[test]
    fn mock_failures_surface_as_errors() {
        use_mock_store();
        let entry = entry("t-fail", "api").unwrap();
        let mock: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        mock.set_error(keyring_core::Error::NoStorageAccess("locked".into()));
        let err = token_with_override(None, "t-fail", "api").unwrap_err();
        assert!(matches!(err, SecretError::Unavailable { .. }));
        assert!(err.to_string().contains(TOKEN_ENV), "{err}");
    }

    /// Stores a token in one process and reads it in another through the real
    /// platform store. Ignored by default because it writes to the user's keyring:
    /// `cargo test --lib config::secrets -- --ignored`.
    #[test]
    #[ignore]
    fn platform_store_keeps_a_token_across_processes() {
        const ROLE: &str = "SWITCHBOARD_SECRETS_TEST_ROLE";
        let context = "secrets-selftest";
        match std::env::var(ROLE).as_deref() {
            Ok("store") => {
                init_default_store().unwrap();
                store_token(context, "api", "sk-selftest").unwrap();
                return;
            }
            Ok("read") => {
                init_default_store().unwrap();
                let token = token_with_override(None, context, "api").unwrap();
                assert_eq!(token.as_deref(), Some("sk-selftest"));
                assert!(delete_token(context, "api").unwrap());
                return;
            }
            _ => {}
        }
        let exe = std::env::current_exe().unwrap();
        for role in ["store", "read"] {
            let output = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "config::secrets::tests::platform_store_keeps_a_token_across_processes",
                    "--ignored",
                    "--nocapture",
                ])
                .env(ROLE, role)
                .env_remove(TOKEN_ENV)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{role} process failed:\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
    }
}
