//! `peak-picking` binary: serves the plugin standalone (`peak-picking serve --port 8003`) or
//! prints its metadata (`peak-picking metadata --json`).

use std::process::ExitCode;
use std::sync::Arc;

use mint_sdk::StandaloneOptions;

const ENVIRONMENT: &str = "\
Environment:
  PEAK_PICKING_DATA_ROOTS  folders a run's \"path\" may point into, ':'-separated
                           (default: the working directory); relative paths resolve against
                           the first root, and uploads are kept in <first root>/uploads/
  MINT_LOG_LEVEL           debug, info (default), warning or error; logs are JSON lines on stderr";

fn main() -> ExitCode {
    let options = StandaloneOptions {
        after_help: Some(ENVIRONMENT.into()),
        ..Default::default()
    };
    mint_sdk::app::run_with(Arc::new(peak_picking::PeakPickingPlugin::new()), options)
}
