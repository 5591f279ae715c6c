//! `tractor completions SHELL`: the completion script clap derives from the same definition
//! the parser uses, so it never lists a flag that does not exist. Installed as a kubectl
//! plugin (`kubectl-tractor`), the script completes that name.
use clap::CommandFactory;

use crate::cli::{Cli, exit};

/// Writes the script for `shell` to standard output.
pub fn print(shell: clap_complete::Shell) -> i32 {
    let name = match crate::cli::plugin_name(std::env::args_os().next()) {
        Some(_) => "kubectl-tractor",
        None => "tractor",
    };
    clap_complete::generate(shell, &mut Cli::command(), name, &mut std::io::stdout());
    exit::OK
}
