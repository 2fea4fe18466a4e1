//! [`PlatformBuilder`]: how a lab assembles its own platform binary from the plugins it links in
//! (`mint serve` is one such binary).
//!
//! The builder loads the configuration (`spec/platform-config.md`: defaults < config file <
//! `.env` < environment < flags), refuses `devMode` on a non-loopback `server.host`, sets up
//! logging from `observability.logLevel` / `observability.logFormat` (`MINT_LOG_LEVEL` wins),
//! warns once about configuration keys that have no effect, then starts the [`Platform`]
//! (database, migrations, seeded admin, plugins). [`PlatformBuilder::serve`] also binds
//! `server.host:server.port` (port 0: an ephemeral port), logs `Listening on http://…`, and
//! serves until Ctrl-C or SIGTERM, draining in-flight requests (for at most
//! [`DRAIN_TIMEOUT`]) before it returns.
//!
//! ```no_run
//! use std::sync::Arc;
//! use mint_platform::builder::PlatformBuilder;
//! use mint_platform::config::ConfigSources;
//! // A lab's own plugin crate goes here; hello-mint stands in for it.
//! fn my_lab_plugin() -> Arc<dyn mint_sdk::AnalysisPlugin> {
//!     Arc::new(hello_mint::HelloMintPlugin::new())
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     let mut sources = ConfigSources::from_process();
//!     sources.port = Some(8001); // what a `--port` flag would set
//!     let served = PlatformBuilder::new()
//!         .plugin(my_lab_plugin())
//!         .sources(sources)
//!         .serve()
//!         .await;
//!     match served {
//!         Ok(()) => std::process::ExitCode::SUCCESS,
//!         Err(err) => {
//!             eprintln!("Error: {err}");
//!             std::process::ExitCode::FAILURE
//!         }
//!     }
//! }
//! ```
//!
//! For tests or an embedding host, [`PlatformBuilder::bind`] returns a [`BoundPlatform`] that
//! knows its URL and can be served until any future resolves.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mint_sdk::AnalysisPlugin;
use mint_sdk::logging::{LogSink, json_layer, level_filter};

use crate::config::{self, ConfigSources, LoadedConfig, LogFormat};
use crate::state::{Platform, StartError, StartOptions};

/// Why [`PlatformBuilder::serve`] (or [`BoundPlatform::serve`]) stopped with an error;
/// `mint serve` prints it and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration, the database or a migration made the start fail.
    #[error(transparent)]
    Start(#[from] StartError),
    /// `server.host:server.port` cannot be bound (in use, not an address of this machine, …).
    #[error("cannot listen on {address}: {reason}")]
    Bind {
        /// The `host:port` that was asked for.
        address: String,
        /// The operating system's reason (part of the message, so not also a `source()`).
        reason: std::io::Error,
    },
    /// Serving failed after the start.
    #[error("server: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for ServeError {
    fn from(err: std::io::Error) -> Self {
        Self::Io(err)
    }
}

/// Where the builder takes its configuration from.
#[derive(Debug)]
enum ConfigInput {
    /// `ConfigSources::from_process()` (the default).
    Process,
    /// Explicit sources, loaded by the builder.
    Sources(Box<ConfigSources>),
    /// An already loaded configuration.
    Loaded(Box<LoadedConfig>),
}

/// Assembles a platform: its compiled-in plugins, its configuration and the first admin's
/// password. See the module documentation for an example.
pub struct PlatformBuilder {
    plugins: Vec<Arc<dyn AnalysisPlugin>>,
    config: ConfigInput,
    admin_password: Option<String>,
    logging: bool,
}

impl std::fmt::Debug for PlatformBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.plugins.iter().map(|p| p.metadata().name).collect();
        f.debug_struct("PlatformBuilder")
            .field("plugins", &names)
            .field("config", &self.config)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<set>"),
            )
            .field("logging", &self.logging)
            .finish()
    }
}

impl Default for PlatformBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl PlatformBuilder {
    /// A builder with no plugins, the process's configuration sources
    /// ([`ConfigSources::from_process`]) and logging set up on [`build`](Self::build).
    pub fn new() -> Self {
        Self {
            plugins: Vec::new(),
            config: ConfigInput::Process,
            admin_password: None,
            logging: true,
        }
    }

    /// Adds one compiled-in plugin; plugins load in the order they are added.
    pub fn plugin(mut self, plugin: Arc<dyn AnalysisPlugin>) -> Self {
        self.plugins.push(plugin);
        self
    }

    /// Adds several compiled-in plugins, in order.
    pub fn plugins(mut self, plugins: impl IntoIterator<Item = Arc<dyn AnalysisPlugin>>) -> Self {
        self.plugins.extend(plugins);
        self
    }

    /// Uses an already loaded configuration ([`config::load`]); replaces [`sources`](Self::sources).
    pub fn config(mut self, config: LoadedConfig) -> Self {
        self.config = ConfigInput::Loaded(Box::new(config));
        self
    }

    /// Loads the configuration from these sources on [`build`](Self::build); replaces
    /// [`config`](Self::config). `MINT_ADMIN_PASSWORD` is then also read from `sources.env`
    /// (or the `.env` file) unless [`admin_password`](Self::admin_password) is given.
    pub fn sources(mut self, sources: ConfigSources) -> Self {
        self.config = ConfigInput::Sources(Box::new(sources));
        self
    }

    /// The seeded admin's password on first start (no users yet). Without it the builder uses
    /// `MINT_ADMIN_PASSWORD` (environment, then `.env`); without that, a generated password is
    /// printed once to stderr (platform-config.md §2).
    pub fn admin_password(mut self, password: impl Into<String>) -> Self {
        self.admin_password = Some(password.into());
        self
    }

    /// Whether [`build`](Self::build) installs the global `tracing` subscriber (default `true`).
    /// Turn it off when the host sets up its own; a subscriber already installed is never
    /// replaced either way.
    pub fn logging(mut self, enabled: bool) -> Self {
        self.logging = enabled;
        self
    }

    /// Loads and checks the configuration, sets up logging, and starts the platform (database,
    /// migrations, seeded roles and admin, plugins). Nothing listens yet: serve it with
    /// [`crate::server::serve`], or use [`serve`](Self::serve) / [`bind`](Self::bind).
    ///
    /// Errors: [`StartError::Config`] for a configuration error (the message names the key:
    /// a malformed file, a value of the wrong type, `devMode` with a non-loopback
    /// `server.host`, an unknown `observability.logLevel`, PostgreSQL without
    /// `auth.jwtSecret` outside dev mode); [`StartError::Database`] when storage fails.
    pub async fn build(self) -> Result<Arc<Platform>, StartError> {
        let prepared = self.prepare()?;
        prepared.start().await
    }

    /// Like [`build`](Self::build), but binds `server.host:server.port` first, so a busy port
    /// fails before the database is touched and the URL is known before plugins start.
    ///
    /// Errors: as [`build`](Self::build), plus [`ServeError::Bind`].
    pub async fn bind(self) -> Result<BoundPlatform, ServeError> {
        let prepared = self.prepare()?;
        let server = &prepared.config.settings.server;
        let address = if server.host.contains(':') && !server.host.starts_with('[') {
            format!("[{}]:{}", server.host, server.port)
        } else {
            format!("{}:{}", server.host, server.port)
        };
        let listener = tokio::net::TcpListener::bind((server.host.as_str(), server.port))
            .await
            .map_err(|reason| ServeError::Bind {
                address: address.clone(),
                reason,
            })?;
        let local = listener
            .local_addr()
            .map_err(|reason| ServeError::Bind { address, reason })?;
        let platform = prepared.start().await?;
        Ok(BoundPlatform {
            platform,
            listener,
            local,
            drain_timeout: DRAIN_TIMEOUT,
        })
    }

    /// Builds, binds and serves until Ctrl-C or SIGTERM ([`shutdown_signal`]), then drains
    /// in-flight requests, shuts the plugins down and closes the database.
    ///
    /// Errors: as [`bind`](Self::bind), plus [`ServeError::Io`] when serving fails.
    pub async fn serve(self) -> Result<(), ServeError> {
        // Watch the signals from the start: one that arrives while the platform starts stops
        // it gracefully as soon as it serves.
        let signal = shutdown_signal();
        self.bind().await?.serve_until(signal).await
    }

    /// Everything before the platform starts: configuration, checks, logging, warnings.
    fn prepare(self) -> Result<Prepared, StartError> {
        let (config, env_password) = match self.config {
            ConfigInput::Process => {
                let sources = ConfigSources::from_process();
                let config = config::load(&sources).map_err(config_error)?;
                (config, admin_password_from(&sources))
            }
            ConfigInput::Sources(sources) => {
                let config = config::load(&sources).map_err(config_error)?;
                (config, admin_password_from(&sources))
            }
            ConfigInput::Loaded(config) => (
                *config,
                std::env::var("MINT_ADMIN_PASSWORD")
                    .ok()
                    .filter(|p| !p.is_empty()),
            ),
        };
        check(&config)?;
        if self.logging {
            init_logging(&config);
        }
        if !config.unknown_keys.is_empty() {
            tracing::warn!(
                keys = ?config.unknown_keys,
                "configuration keys with no effect (kept, shown by get_config): {}",
                config.unknown_keys.join(", ")
            );
        }
        if config.settings.dev_mode {
            tracing::warn!(
                "dev mode: requests without a token act as the admin (user 1); loopback only"
            );
        }
        Ok(Prepared {
            config,
            plugins: self.plugins,
            admin_password: self.admin_password.or(env_password),
        })
    }
}

/// A checked configuration ready to start.
struct Prepared {
    config: LoadedConfig,
    plugins: Vec<Arc<dyn AnalysisPlugin>>,
    admin_password: Option<String>,
}

impl Prepared {
    async fn start(self) -> Result<Arc<Platform>, StartError> {
        let options = StartOptions {
            admin_password: self.admin_password,
        };
        Platform::start(self.config, self.plugins, options).await
    }
}

/// A started platform with its listening socket; nothing is served until
/// [`serve`](Self::serve) or [`serve_until`](Self::serve_until).
#[derive(Debug)]
pub struct BoundPlatform {
    platform: Arc<Platform>,
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    drain_timeout: Duration,
}

/// How long a shutdown waits for in-flight requests before it stops anyway (30 s).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

impl BoundPlatform {
    /// The running platform (configuration, store, plugins).
    pub fn platform(&self) -> &Arc<Platform> {
        &self.platform
    }

    /// The bound address (the real port when `server.port` is 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:8001` (no `/api`).
    pub fn url(&self) -> String {
        format!("http://{}", self.local)
    }

    /// Serves until Ctrl-C or SIGTERM; see [`serve_until`](Self::serve_until).
    ///
    /// Errors: [`ServeError::Io`] when serving fails.
    pub async fn serve(self) -> Result<(), ServeError> {
        self.serve_until(shutdown_signal()).await
    }

    /// How long a shutdown waits for in-flight requests (default [`DRAIN_TIMEOUT`]); requests
    /// still running then are dropped, and the plugins and database are shut down anyway.
    pub fn drain_timeout(mut self, limit: Duration) -> Self {
        self.drain_timeout = limit;
        self
    }

    /// Logs `Listening on <url>` and serves until `shutdown` resolves; then stops accepting,
    /// drains in-flight requests (at most the drain timeout), shuts the plugins down and
    /// closes the database.
    ///
    /// Errors: [`ServeError::Io`] when serving fails.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let url = self.url();
        tracing::info!(url = %url, "Listening on {url}");
        let (fired, shutdown_fired) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            let _ = fired.send(());
        };
        let platform = self.platform.clone();
        let serving = crate::server::serve(self.platform, self.listener, signal);
        let limit = self.drain_timeout;
        let overdue = async move {
            if shutdown_fired.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(limit).await;
        };
        tokio::select! {
            served = serving => served?,
            () = overdue => {
                tracing::warn!(
                    timeout_seconds = limit.as_secs_f64(),
                    "requests still running after the drain timeout; stopping anyway"
                );
                platform.shutdown().await;
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// A future that resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM, and logs which one arrived.
///
/// The signal handlers are installed when this function is called, not when the future is
/// first polled, so a signal that arrives right after the `Listening on` line still stops the
/// server gracefully. Call it inside a Tokio runtime. A signal that cannot be watched is
/// ignored rather than treated as a request to stop.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        let which = {
            async fn arrival(signal: Option<&mut tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = arrival(interrupt.as_mut()) => "Ctrl-C",
                () = arrival(terminate.as_mut()) => "SIGTERM",
            }
        };
        #[cfg(not(unix))]
        let which = {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        };
        tracing::info!(signal = which, "shutting down: draining requests");
    }
}

fn config_error(err: config::ConfigError) -> StartError {
    StartError::Config(err.to_string())
}

/// `MINT_ADMIN_PASSWORD` from the sources' environment, else from their `.env` file.
fn admin_password_from(sources: &ConfigSources) -> Option<String> {
    const NAME: &str = "MINT_ADMIN_PASSWORD";
    if let Some(password) = sources.env.get(NAME) {
        return Some(password.clone()).filter(|p| !p.is_empty());
    }
    let path = sources.dotenv_path.as_deref()?;
    dotenv_var(path, NAME)
}

fn dotenv_var(path: &Path, name: &str) -> Option<String> {
    dotenvy::from_path_iter(path)
        .ok()?
        .filter_map(Result::ok)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// Level names `observability.logLevel` accepts (any case).
const LOG_LEVELS: [&str; 7] = [
    "debug", "info", "warning", "warn", "error", "critical", "trace",
];

/// Checks the builder adds on top of [`config::load`] (platform-config.md §3).
fn check(config: &LoadedConfig) -> Result<(), StartError> {
    let settings = &config.settings;
    if settings.dev_mode && !is_loopback(&settings.server.host) {
        return Err(StartError::Config(format!(
            "config key server.host: {:?} is not a loopback address; dev mode (devMode / --dev) \
             only listens on 127.0.0.1, ::1 or localhost because it lets requests without a \
             token act as the admin",
            settings.server.host
        )));
    }
    let level = settings.observability.log_level.trim().to_ascii_lowercase();
    if !LOG_LEVELS.contains(&level.as_str()) {
        return Err(StartError::Config(format!(
            "config key observability.logLevel: {:?} is not one of debug, info, warning, error, \
             critical",
            settings.observability.log_level
        )));
    }
    Ok(())
}

/// `localhost`, `127.0.0.0/8` and `::1` (brackets allowed).
fn is_loopback(host: &str) -> bool {
    let host = host.trim();
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Installs the global subscriber for `observability.*`: the SDK's JSON lines (default) or
/// human-readable lines, on stderr, at `observability.logLevel` unless `MINT_LOG_LEVEL` is
/// set. Returns `false` when a subscriber was already installed (it is left alone).
pub fn init_logging(config: &LoadedConfig) -> bool {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let observability = &config.settings.observability;
    let filter = level_filter(&observability.log_level);
    let installed = match observability.log_format {
        LogFormat::Json => tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(json_layer(LogSink::Stderr).with_filter(filter)),
        ),
        LogFormat::Pretty => tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(colour_on_stderr())
                    .with_filter(filter),
            ),
        ),
    };
    installed.is_ok()
}

/// ANSI colour only on a terminal, without `NO_COLOR`, and with `TERM` other than `dumb`
/// (the CLI's colour rule, cli.md §0).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sources(dir: &Path, file: Option<&str>) -> ConfigSources {
        if let Some(text) = file {
            std::fs::write(dir.join("config.json"), text).expect("write config");
        }
        ConfigSources {
            env: HashMap::new(),
            dotenv_path: Some(dir.join(".env")),
            data_dir: Some(dir.to_path_buf()),
            port: Some(0),
            ..Default::default()
        }
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "localhost",
            "LocalHost",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["0.0.0.0", "::", "192.168.1.4", "example.org", ""] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[tokio::test]
    async fn dev_mode_refuses_a_public_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = sources(dir.path(), None);
        s.dev = true;
        s.host = Some("0.0.0.0".into());
        let err = PlatformBuilder::new()
            .logging(false)
            .sources(s)
            .build()
            .await
            .expect_err("refused");
        assert!(matches!(err, StartError::Config(_)));
        assert!(err.to_string().contains("server.host"), "{err}");
        assert!(!dir.path().join("mint.db").exists(), "nothing was opened");
    }

    #[tokio::test]
    async fn an_unknown_log_level_names_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = sources(
            dir.path(),
            Some(r#"{"observability": {"logLevel": "loud"}}"#),
        );
        let err = PlatformBuilder::new()
            .logging(false)
            .sources(s)
            .build()
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("observability.logLevel"), "{err}");
    }

    #[tokio::test]
    async fn config_errors_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = sources(dir.path(), Some(r#"{"server": {"port": "x"}}"#));
        s.port = None; // a --port flag would win over the file
        let err = PlatformBuilder::new()
            .logging(false)
            .sources(s)
            .build()
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("server.port"), "{err}");
    }

    #[test]
    fn admin_password_comes_from_the_environment_then_dotenv() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = sources(dir.path(), None);
        assert_eq!(admin_password_from(&s), None);
        std::fs::write(dir.path().join(".env"), "MINT_ADMIN_PASSWORD=from-dotenv\n")
            .expect("write .env");
        assert_eq!(admin_password_from(&s).as_deref(), Some("from-dotenv"));
        s.env
            .insert("MINT_ADMIN_PASSWORD".into(), "from-env".into());
        assert_eq!(admin_password_from(&s).as_deref(), Some("from-env"));
    }
}
