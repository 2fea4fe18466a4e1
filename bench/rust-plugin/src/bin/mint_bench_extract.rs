//! `mint-bench-extract`: times targeted extraction (read + parse + extract, best of N) and
//! prints the timing and areas as JSON on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Time the peak-picking extraction of a CSV target list on an mzML file.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The mzML file.
    #[arg(long)]
    mzml: PathBuf,
    /// The target list (ms-mint's CSV columns).
    #[arg(long)]
    targets: PathBuf,
    /// How many times to run it; the best wall time counts.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let timing =
        match mint_bench::extraction::time_extraction(&args.mzml, &args.targets, args.repeats) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
    match serde_json::to_string_pretty(&timing) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
