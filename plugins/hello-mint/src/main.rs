//! `hello-mint` binary: serves the plugin standalone (`hello-mint serve --port 8003`) or prints
//! its metadata (`hello-mint metadata --json`).

use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    mint_sdk::app::run(Arc::new(hello_mint::HelloMintPlugin::new()))
}
