//! Shell completions and the man page, generated from the clap definitions in [`args`] so
//! they never drift from what the command accepts.
//!
//! [`args`]: crate::cli::args

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::args::Cli;

/// The completion script of `shell` for `switchboard`.
pub fn write_completions(shell: Shell, out: &mut impl Write) -> std::io::Result<()> {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    // The generator panics on a failed write; a buffer cannot fail, `out` (a pipe) may.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    out.write_all(&script)
}

/// The man page of `switchboard`, in roff, with its subcommands listed.
pub fn write_man_page(out: &mut impl Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}
