//! `mint-bench-platform`: the MINT platform (`mint_platform`, embedded SQLite) hosting one
//! plugin whose public route `GET /api/bench/ping` is the bench ping handler — the same handler
//! `mint-bench-axum` serves on bare axum, so the two rows of `bench/run` differ only by what
//! hosting a plugin in the platform costs (issue #5: at most 10 % slower).
//!
//! `mint-bench-platform --port 8005 --data-dir /tmp/bench-platform`

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use mint_platform::builder::PlatformBuilder;
use mint_platform::config::{ConfigSources, load};
use mint_sdk::{AnalysisPlugin, PluginCapabilities, PluginCore, PluginMetadata};

/// Serve the platform with a one-route plugin.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 8005)]
    port: u16,
    /// The platform's data directory (SQLite file, JWT secret).
    #[arg(long)]
    data_dir: PathBuf,
}

/// A plugin with the bench ping route and nothing else; public (`requires_auth: false`).
#[derive(Debug, Default)]
struct PingPlugin {
    core: PluginCore,
}

#[mint_sdk::async_trait]
impl AnalysisPlugin for PingPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(
            "mint-bench",
            env!("CARGO_PKG_VERSION"),
            "Benchmark plugin: trivial JSON through the platform",
            "benchmark",
            "/bench",
        )
        .with_capabilities(PluginCapabilities {
            requires_auth: false,
            ..Default::default()
        })
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        vec![(
            Router::new().route("/ping", get(mint_bench::plugin::ping)),
            String::new(),
        )]
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let sources = ConfigSources {
        env: std::env::vars().collect(),
        data_dir: Some(args.data_dir),
        host: Some(args.host),
        port: Some(args.port),
        ..Default::default()
    };
    let config = match load(&sources) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let plugin: Arc<dyn AnalysisPlugin> = Arc::new(PingPlugin::default());
    let served = PlatformBuilder::new()
        .config(config)
        .plugin(plugin)
        .admin_password("bench-admin-password")
        .serve()
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
