//! `panel-designer` binary: serves the plugin standalone (`panel-designer serve --port 8003`)
//! or prints its metadata (`panel-designer metadata --json`).

use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    mint_sdk::app::run(Arc::new(panel_designer::PanelDesignerPlugin::new()))
}
