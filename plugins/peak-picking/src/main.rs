//! `peak-picking` binary: serves the plugin standalone (`peak-picking serve --port 8003`) or
//! prints its metadata (`peak-picking metadata --json`).

use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    mint_sdk::app::run(Arc::new(peak_picking::PeakPickingPlugin::new()))
}
