//! `mint serve`: load the configuration, start the platform with the compiled-in plugins and
//! serve its API until Ctrl-C or SIGTERM (cli.md §2.6, platform-config.md).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use mint_platform::builder::PlatformBuilder;
use mint_platform::config::ConfigSources;
use mint_sdk::AnalysisPlugin;

/// Flags of `mint serve`; each one overrides the configuration (platform-config.md §1).
#[derive(Debug, Args)]
#[command(after_help = "\
Configuration, lowest to highest: defaults < config file < .env < MINT_* environment < flags.
  Config file: --config, else MINT_CONFIG_PATH, else <data dir>/config.json (optional).
  Environment: MINT_SECTION__KEY, e.g. MINT_AUTH__JWT_SECRET, MINT_DATABASE__URL.
  MINT_ADMIN_PASSWORD: the 'admin' user's password on first start (else one is generated
  and printed once). MINT_LOG_LEVEL: debug, info, warning, error or critical.")]
pub struct ServeArgs {
    /// Config file (JSON object of nested keys); overrides MINT_CONFIG_PATH.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Development mode: SQLite, requests without a token act as the admin, loopback only.
    #[arg(long)]
    pub dev: bool,
    /// Listen address (server.host; default 127.0.0.1).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Listen port (server.port; default 8001; 0 picks a free port).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Data directory (database, JWT secret, plugin data); overrides MINT_DATA_DIR
    /// (default ./mint-data).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The plugins compiled into `mint`, in load order.
pub fn bundled_plugins() -> Vec<Arc<dyn AnalysisPlugin>> {
    vec![
        Arc::new(hello_mint::HelloMintPlugin::new()),
        Arc::new(peak_picking::PeakPickingPlugin::new()),
        Arc::new(panel_designer::PanelDesignerPlugin::new()),
    ]
}

/// Runs `mint serve`; returns when the server has stopped.
///
/// Errors: configuration errors (naming the key), database or migration failures, a port
/// that cannot be bound.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut sources = ConfigSources::from_process();
    sources.config_path = args.config;
    sources.data_dir = args.data_dir;
    sources.host = args.host;
    sources.port = args.port;
    sources.dev = args.dev;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(
        PlatformBuilder::new()
            .plugins(bundled_plugins())
            .sources(sources)
            .serve(),
    )?;
    Ok(())
}
