//! A dummy isolated plugin for host tests: [`write_standalone_plugin_module`] writes its spec,
//! [`run_spec_plugin`] (and the `mint-test-plugin` binary) serves it
//! (`spec/app-testing-export.md` §4.4).
//!
//! The Python SDK writes a package `plugin_pkg/<module>.py` that uvicorn imports; Rust writes
//! `plugin_pkg/<module>.json` and a host's launcher maps the target
//! `plugin_pkg.<module>:create_standalone_app` to `mint-test-plugin --spec <that file>` (see
//! [`module_spec_path`]). The child needs no platform: it never starts a plugin context or a
//! database, so it runs the same with or without `MINT_PLATFORM_URL`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::{DEFAULT_MAX_UPLOAD_BYTES, mount_plugin, shutdown_signal, with_sdk_layers};
use crate::error::PluginError;
use crate::extract::Json;
use crate::models::{PluginMetadata, RoutesPrefix};
use crate::plugin::{AnalysisPlugin, PluginCore};

/// The package directory [`write_standalone_plugin_module`] writes into (§4.4).
pub const MODULE_PACKAGE: &str = "plugin_pkg";

/// The factory name in module targets (`plugin_pkg.<module>:create_standalone_app`) (§4.4).
pub const MODULE_FACTORY: &str = "create_standalone_app";

/// The message on stderr of a child whose spec says `exit_immediately` (§4.4).
pub const IMMEDIATE_EXIT_MESSAGE: &str = "intentional immediate exit";

/// Options of [`write_standalone_plugin_module`] (§4.4), also the JSON spec file's content
/// (without `module_name`, which is the file name).
#[derive(Debug, Clone, PartialEq)]
pub struct StandaloneModuleOptions {
    /// File name of the spec without `.json`, default `"dummy_plugin"`; ASCII letters, digits
    /// and `_`, not starting with a digit.
    pub module_name: String,
    /// Where the child mounts its routes, default `"/dummy"`.
    pub routes_prefix: String,
    /// The child exits at once with status 1 and stderr [`IMMEDIATE_EXIT_MESSAGE`].
    pub exit_immediately: bool,
    /// Delay before the child listens, in seconds (default 0).
    pub startup_sleep_seconds: f64,
}

impl Default for StandaloneModuleOptions {
    fn default() -> Self {
        Self {
            module_name: "dummy_plugin".into(),
            routes_prefix: "/dummy".into(),
            exit_immediately: false,
            startup_sleep_seconds: 0.0,
        }
    }
}

/// The spec file `<dir>/plugin_pkg/<module_name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SpecFile {
    #[serde(default = "default_prefix")]
    routes_prefix: String,
    #[serde(default)]
    exit_immediately: bool,
    #[serde(default)]
    startup_sleep_seconds: f64,
}

fn default_prefix() -> String {
    StandaloneModuleOptions::default().routes_prefix
}

fn is_module_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn startup_delay(seconds: f64) -> Result<Duration, PluginError> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        PluginError::validation(format!(
            "startup_sleep_seconds must be a finite number >= 0, got {seconds}"
        ))
        .with_field("startup_sleep_seconds")
    })
}

fn check_prefix(prefix: &str) -> Result<(), PluginError> {
    RoutesPrefix::parse(prefix).map(|_| ()).map_err(|e| {
        PluginError::validation(format!("Invalid routes_prefix '{prefix}': {e}"))
            .with_field("routes_prefix")
    })
}

/// Writes `<dir>/plugin_pkg/<module_name>.json` and returns
/// `(dir, "plugin_pkg.<module_name>:create_standalone_app")` (seed
/// `write_standalone_plugin_module`, §4.4). Creates `dir/plugin_pkg` when missing.
///
/// ```
/// use mint_sdk::testing::{StandaloneModuleOptions, write_standalone_plugin_module};
///
/// let tmp = tempfile::tempdir().map_err(mint_sdk::PluginError::unexpected)?;
/// let (root, target) =
///     write_standalone_plugin_module(tmp.path(), &StandaloneModuleOptions::default())?;
/// assert_eq!(root, tmp.path());
/// assert_eq!(target, "plugin_pkg.dummy_plugin:create_standalone_app");
/// assert!(tmp.path().join("plugin_pkg/dummy_plugin.json").is_file());
/// # Ok::<(), mint_sdk::PluginError>(())
/// ```
///
/// Errors: `PluginError::Validation` for a bad `module_name`, `routes_prefix` or
/// `startup_sleep_seconds`; `PluginError::Other` when the files cannot be written.
pub fn write_standalone_plugin_module(
    dir: &Path,
    options: &StandaloneModuleOptions,
) -> Result<(PathBuf, String), PluginError> {
    if !is_module_name(&options.module_name) {
        return Err(PluginError::validation(format!(
            "module_name '{}' must be ASCII letters, digits and '_', not starting with a digit",
            options.module_name
        ))
        .with_field("module_name"));
    }
    check_prefix(&options.routes_prefix)?;
    startup_delay(options.startup_sleep_seconds)?;
    let package = dir.join(MODULE_PACKAGE);
    let write_error = |path: &Path, e: std::io::Error| {
        PluginError::other(format!("Cannot write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(&package).map_err(|e| write_error(&package, e))?;
    let spec = SpecFile {
        routes_prefix: options.routes_prefix.clone(),
        exit_immediately: options.exit_immediately,
        startup_sleep_seconds: options.startup_sleep_seconds,
    };
    let path = package.join(format!("{}.json", options.module_name));
    let text = serde_json::to_string_pretty(&spec).map_err(PluginError::unexpected)?;
    std::fs::write(&path, text).map_err(|e| write_error(&path, e))?;
    Ok((
        dir.to_path_buf(),
        format!("{MODULE_PACKAGE}.{}:{MODULE_FACTORY}", options.module_name),
    ))
}

/// The spec file a module target names: `plugin_pkg.<module>:create_standalone_app` under `dir`
/// → `<dir>/plugin_pkg/<module>.json`; `None` for any other target (§4.4, for host launchers).
pub fn module_spec_path(dir: &Path, target: &str) -> Option<PathBuf> {
    let (module_path, factory) = target.split_once(':')?;
    let module = module_path
        .strip_prefix(MODULE_PACKAGE)?
        .strip_prefix('.')?;
    (factory == MODULE_FACTORY && is_module_name(module))
        .then(|| dir.join(MODULE_PACKAGE).join(format!("{module}.json")))
}

/// The dummy plugin the child serves: `GET /health` and `GET /echo` under its prefix.
struct SpecPlugin {
    core: PluginCore,
    name: String,
    routes_prefix: String,
}

#[async_trait]
impl AnalysisPlugin for SpecPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(
            self.name.clone(),
            crate::VERSION,
            "MINT SDK test server plugin",
            "test",
            self.routes_prefix.clone(),
        )
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        let router = Router::new()
            .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
            .route("/echo", get(echo));
        vec![(router, String::new())]
    }
}

/// The identity headers the platform's proxy forwards, `null` when absent (or not text).
async fn echo(headers: HeaderMap) -> Json<Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map_or(Value::Null, |v| Value::String(v.to_string()))
    };
    Json(json!({
        "user_id": header("x-mint-user-id"),
        "username": header("x-mint-username"),
        "user_role": header("x-mint-user-role"),
        "internal_token": header("x-mint-internal-token"),
        "authorization": header("authorization"),
    }))
}

/// A bound, not yet serving test server ([`run_spec_plugin`] in two steps, so a caller can
/// report the address before serving) (§4.4).
#[derive(Debug)]
pub struct SpecServer {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl SpecServer {
    /// Reads the spec at `spec_path`, honours `exit_immediately` and `startup_sleep_seconds`,
    /// then binds `host:port` (port 0 picks a free one). The plugin name (for the
    /// `_mint/runtime` probe) is env `MINT_PLUGIN_NAME` when set, else the spec's file stem (§4.4).
    ///
    /// Errors: `Configuration` (`config_key "spec"`) for an unreadable or invalid spec,
    /// `Validation` for invalid values in it, `Lifecycle` (phase `startup`, message
    /// [`IMMEDIATE_EXIT_MESSAGE`]) when the spec says `exit_immediately`, `Configuration`
    /// (`config_key "port"`) when the address cannot be bound.
    pub async fn bind(spec_path: &Path, host: &str, port: u16) -> Result<Self, PluginError> {
        let spec_error = |what: String| {
            PluginError::configuration(format!(
                "Invalid test plugin spec {}: {what}",
                spec_path.display()
            ))
            .with_config_key("spec")
        };
        let text = std::fs::read_to_string(spec_path).map_err(|e| spec_error(e.to_string()))?;
        let spec: SpecFile = serde_json::from_str(&text).map_err(|e| spec_error(e.to_string()))?;
        if spec.exit_immediately {
            return Err(PluginError::lifecycle(IMMEDIATE_EXIT_MESSAGE).with_phase("startup"));
        }
        check_prefix(&spec.routes_prefix)?;
        let delay = startup_delay(spec.startup_sleep_seconds)?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let name = std::env::var("MINT_PLUGIN_NAME")
            .ok()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                spec_path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| StandaloneModuleOptions::default().module_name);
        let plugin = Arc::new(SpecPlugin {
            core: PluginCore::new(),
            name,
            routes_prefix: spec.routes_prefix,
        });
        plugin.metadata().validate()?;
        let router = with_sdk_layers(
            mount_plugin(plugin, DEFAULT_MAX_UPLOAD_BYTES),
            DEFAULT_MAX_UPLOAD_BYTES,
        );
        let listener = tokio::net::TcpListener::bind((host, port))
            .await
            .map_err(|e| {
                PluginError::configuration(format!("Cannot listen on {host}:{port}: {e}"))
                    .with_config_key("port")
            })?;
        Ok(Self { listener, router })
    }

    /// The bound address (§4.4).
    ///
    /// Errors: `Other` when the socket cannot report it.
    pub fn local_addr(&self) -> Result<SocketAddr, PluginError> {
        self.listener
            .local_addr()
            .map_err(|e| PluginError::other(format!("Cannot read the bound address: {e}")))
    }

    /// Serves until Ctrl-C or SIGTERM (§4.4).
    ///
    /// Errors: `Unexpected` when the server fails.
    pub async fn serve(self) -> Result<(), PluginError> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(PluginError::unexpected)
    }
}

/// Runs the test server for the spec at `spec_path` on `host:port` until Ctrl-C or SIGTERM
/// (§4.4): `GET /api{prefix}/health` → `{"status":"ok"}`, `GET /api{prefix}/echo` → the
/// forwarded identity headers, plus the SDK's `_mint/runtime` probe. Errors as
/// [`SpecServer::bind`]; the `mint-test-plugin` binary prints an error's message on stderr and
/// exits 1.
pub async fn run_spec_plugin(spec_path: &Path, host: &str, port: u16) -> Result<(), PluginError> {
    SpecServer::bind(spec_path, host, port).await?.serve().await
}
