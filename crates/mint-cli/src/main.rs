//! `mint`: the MINT command line (`spec/cli.md`).
//!
//! One file per subcommand; each parses its flags and calls the libraries (`mint_platform`,
//! `mint_sdk`). Exit codes (cli.md §0): 0 success, 1 runtime failure (printed as one
//! `Error: …` line on stderr), 2 usage error (clap's own message).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod serve;

/// The MINT command line.
#[derive(Debug, Parser)]
#[command(
    name = "mint",
    version,
    about = "MINT: serve the lab data platform and its plugins",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the MINT platform with the compiled-in plugins (hello-mint, peak-picking,
    /// panel-designer).
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => serve::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
