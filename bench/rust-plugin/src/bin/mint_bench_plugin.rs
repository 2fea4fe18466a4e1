//! `mint-bench-plugin`: serves [`mint_bench::BenchPlugin`] standalone, like any plugin binary
//! (`mint-bench-plugin serve --port 8003 --data-dir DIR`).

use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    mint_sdk::app::run(Arc::new(mint_bench::BenchPlugin::new()))
}
