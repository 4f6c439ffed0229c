//! Terminal safety: the terminal is always given back as it was found (on return, on
//! error, on panic, on SIGTERM/SIGHUP). Untrusted text is cleaned by [`protocol::sanitize`].

mod frame;

pub use frame::FrameBackend;

use std::io::{self, Stdout};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;

/// The ratatui terminal the console draws on: each frame is one write to stdout.
pub type Tui = Terminal<FrameBackend<Stdout>>;

/// Whether the terminal is (possibly partly) in the console's modes; shared by the
/// guard, the panic hook and signal handling so the work is done exactly once.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Raw mode, alternate screen, mouse capture and bracketed paste for as long as it
/// lives; dropping it restores the terminal.
pub struct TerminalGuard {
    terminal: Tui,
}

impl TerminalGuard {
    /// Puts the terminal in the console's modes. Only one guard may exist at a time.
    pub fn enter() -> io::Result<Self> {
        if ACTIVE.swap(true, Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the terminal is already in use by another TerminalGuard",
            ));
        }
        // ACTIVE is set before the first change, so a failure half-way is undone too.
        let entered = enable_raw_mode()
            .and_then(|()| {
                execute!(
                    io::stdout(),
                    EnterAlternateScreen,
                    EnableMouseCapture,
                    EnableBracketedPaste
                )
            })
            .and_then(|()| Terminal::new(FrameBackend::new(io::stdout())));
        match entered {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(err) => {
                // The entering error is the one worth reporting.
                let _ = restore();
                Err(err)
            }
        }
    }
}

impl Deref for TerminalGuard {
    type Target = Tui;

    fn deref(&self) -> &Tui {
        &self.terminal
    }
}

impl DerefMut for TerminalGuard {
    fn deref_mut(&mut self) -> &mut Tui {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Err(err) = restore() {
            tracing::warn!(error = %err, "could not fully restore the terminal");
        }
    }
}

/// Gives the terminal back: leaves the alternate screen, disables mouse capture and
/// bracketed paste, shows the cursor, leaves raw mode. Does nothing unless a
/// [`TerminalGuard`] is active, so any number of calls (guard drop, panic hook,
/// signal path) is safe. Every step is tried even when one fails.
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let mut stdout = io::stdout();
    let steps = [
        execute!(stdout, DisableBracketedPaste),
        execute!(stdout, DisableMouseCapture),
        execute!(stdout, LeaveAlternateScreen),
        execute!(stdout, cursor::Show),
        disable_raw_mode(),
    ];
    steps.into_iter().collect()
}

/// Installs a panic hook that restores the terminal, logs the panic, then runs the
/// previous hook (which prints the message on the now-normal screen).
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = restore();
        tracing::error!(
            panic = %info,
            backtrace = %std::backtrace::Backtrace::force_capture(),
            "panic"
        );
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_without_a_guard_does_nothing() {
        // No guard exists in unit tests; a stray restore must not write or fail.
        restore().expect("idle restore is a no-op");
        restore().expect("and stays one");
    }
}
