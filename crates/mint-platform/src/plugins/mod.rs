//! The plugin manager: the registry of compiled-in plugins, their lifecycle
//! (Registered → Migrating → Initializing → Ready, or Failed), the run-time mount table, the
//! periodic health checks and the experiment hook dispatch (`spec/platform-api.md` §4.5, §5.2,
//! `spec/rbac.md` §6, `spec/plugin.md` §6.2, `spec/migrations.md` §1); and the list of
//! installed plugin bundles ([`installed`], unpacked by [`bundle`]), which run isolated — not
//! in this build yet, so they are listed as Failed.
//!
//! One plugin's failure never stops the others: its metadata is validated first, its
//! migrations, `initialize` and router building run inside `catch_unwind`, and any error or
//! panic marks only that plugin Failed (no routes, reason in `/api/plugins`, `/api/health`
//! "degraded"). [`PluginManager::reload`] re-runs the lifecycle of one plugin while the others
//! keep serving.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use mint_sdk::error::JsonObject;
use mint_sdk::local_database::safe_plugin_name;
use mint_sdk::{
    AnalysisPlugin, HealthStatus, PlatformContext, PluginError, PluginHealth, PluginMetadata,
    RoutesPrefix, SpaStaticFiles,
};
use serde_json::{Value, json};

use crate::config::LoadedConfig;
use crate::rbac::{self, ResolvedPrincipal};
use crate::state::Platform;

pub mod bundle;
pub mod caller;
pub mod config_store;
pub mod context;
pub mod installed;
pub mod mounts;
pub mod storage;

use installed::InstalledBundle;
use mounts::{Mount, MountService, MountTable};

/// The response future of [`PluginManager::serve_anonymous`].
pub type AnonymousResponse =
    tokio::task::futures::TaskLocalFuture<caller::Caller, mounts::MountFuture>;
use storage::{MigrationStatus, PluginStorage};

/// How often Ready plugins are asked for their health.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(30);

/// How long one `check_health` may take before it counts as failed.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);

/// The lifecycle phase of one plugin (`LoadedPlugin.lifecycle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    /// Known, not started (also: disabled by configuration).
    Registered,
    /// Its migrations run.
    Migrating,
    /// `initialize` runs.
    Initializing,
    /// Serving.
    Ready,
    /// Could not start; the reason.
    Failed(String),
}

impl Lifecycle {
    /// The wire name: `Registered`, `Migrating`, `Initializing`, `Ready` or `Failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Registered => "Registered",
            Self::Migrating => "Migrating",
            Self::Initializing => "Initializing",
            Self::Ready => "Ready",
            Self::Failed(_) => "Failed",
        }
    }
}

/// What a loaded plugin holds while it runs.
#[derive(Default)]
struct Running {
    migration: MigrationStatus,
    health: Option<PluginHealth>,
    context: Option<PlatformContext>,
    storage: Option<PluginStorage>,
}

/// One registered plugin, its phase and what it holds.
pub struct PluginEntry {
    /// The plugin.
    pub plugin: Arc<dyn AnalysisPlugin>,
    /// Its phase.
    pub lifecycle: RwLock<Lifecycle>,
    index: usize,
    name: String,
    meta: Result<PluginMetadata, String>,
    disabled: bool,
    running: Mutex<Running>,
    /// Serializes load, reload and stop of this plugin.
    load_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for PluginEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEntry")
            .field("name", &self.name)
            .field("lifecycle", &self.lifecycle)
            .field("disabled", &self.disabled)
            .finish()
    }
}

impl PluginEntry {
    /// The plugin's name (`metadata().name`; `plugin #<n>` when `metadata()` panicked).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The metadata read at registration; `None` when `metadata()` panicked.
    pub fn metadata(&self) -> Option<&PluginMetadata> {
        self.meta.as_ref().ok()
    }

    /// The current phase.
    pub fn phase(&self) -> Lifecycle {
        self.lifecycle
            .read()
            .map(|l| l.clone())
            .unwrap_or(Lifecycle::Registered)
    }

    fn set_phase(&self, phase: Lifecycle) {
        if let Ok(mut slot) = self.lifecycle.write() {
            *slot = phase;
        }
    }

    /// Whether `plugins.enabled` / `plugins.disabled` keep it out.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// `LoadedPlugin.status`: `disabled`, `ready`, `error` (Failed) or `loading`.
    pub fn status(&self) -> &'static str {
        if self.disabled {
            return "disabled";
        }
        match self.phase() {
            Lifecycle::Ready => "ready",
            Lifecycle::Failed(_) => "error",
            _ => "loading",
        }
    }

    /// The last health check, if any.
    pub fn health(&self) -> Option<PluginHealth> {
        self.running.lock().ok().and_then(|r| r.health.clone())
    }

    fn migration(&self) -> MigrationStatus {
        self.running
            .lock()
            .map(|r| r.migration.clone())
            .unwrap_or_default()
    }

    fn with_running<T>(&self, f: impl FnOnce(&mut Running) -> T) -> Option<T> {
        self.running.lock().ok().map(|mut r| f(&mut r))
    }

    /// The `LoadedPlugin` object of platform-api.md §4.5.
    pub fn to_json(&self) -> Value {
        let phase = self.phase();
        let migration = self.migration();
        let health = self.health().map(|h| {
            json!({
                "status": h.status.as_str(),
                "message": h.message,
                "checked_at": h.to_json()["checked_at"],
            })
        });
        let error = match &phase {
            Lifecycle::Failed(reason) => Some(reason.clone()),
            _ => None,
        };
        let (version, description, plugin_type, analysis_type, routes_prefix, capabilities) =
            match &self.meta {
                Ok(m) => (
                    m.version.clone(),
                    m.description.clone(),
                    json!(m.plugin_type),
                    m.analysis_type.clone(),
                    m.routes_prefix.clone(),
                    json!(m.capabilities),
                ),
                Err(_) => (
                    String::new(),
                    String::new(),
                    json!("analysis"),
                    String::new(),
                    String::new(),
                    json!(mint_sdk::PluginCapabilities::default()),
                ),
            };
        json!({
            "name": self.name,
            "version": version,
            "description": description,
            "plugin_type": plugin_type,
            "analysis_type": analysis_type,
            "routes_prefix": routes_prefix,
            "enabled": !self.disabled,
            "status": self.status(),
            "error": error,
            "lifecycle": phase.as_str(),
            "health": health,
            "mode": "in_process",
            "capabilities": capabilities,
            "schema_version": migration.schema_version,
            "pending_migrations": migration.pending,
            "migration_error": migration.error,
        })
    }
}

/// The registry of plugins in registration order, their mounts and health checks.
pub struct PluginManager {
    entries: Vec<Arc<PluginEntry>>,
    mounts: MountTable,
    platform: OnceLock<Weak<Platform>>,
    max_upload_bytes: usize,
    /// `devMode`: a request without a token acts as the admin (resolved on every request).
    dev_mode: bool,
    force_isolated: Vec<String>,
    health_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    extra_index_urls: Mutex<Vec<String>>,
    /// Installed bundles, sorted by name ([`installed`]).
    bundles: RwLock<Vec<Arc<InstalledBundle>>>,
    /// Serializes installs and uninstalls.
    install_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for PluginManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginManager")
            .field("entries", &self.entries)
            .field("mounts", &self.mounts)
            .finish()
    }
}

/// The text of a panic payload.
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic with a non-string payload".into())
}

impl PluginManager {
    /// Registers `plugins` (phase Registered) and reads their metadata; nothing runs yet.
    /// `plugins.enabled` (when non-empty) and `plugins.disabled` decide which stay disabled.
    pub fn new(plugins: Vec<Arc<dyn AnalysisPlugin>>, config: &LoadedConfig) -> Self {
        let lists = &config.settings.plugins;
        let entries = plugins
            .into_iter()
            .enumerate()
            .map(|(index, plugin)| {
                let meta = std::panic::catch_unwind(AssertUnwindSafe(|| plugin.metadata()))
                    .map_err(|p| format!("metadata() panicked: {}", panic_message(p)));
                let name = match &meta {
                    Ok(m) => m.name.clone(),
                    Err(_) => format!("plugin #{}", index + 1),
                };
                let disabled = meta.is_ok()
                    && (lists.disabled.contains(&name)
                        || (!lists.enabled.is_empty() && !lists.enabled.contains(&name)));
                Arc::new(PluginEntry {
                    plugin,
                    lifecycle: RwLock::new(Lifecycle::Registered),
                    index,
                    name,
                    meta,
                    disabled,
                    running: Mutex::new(Running::default()),
                    load_lock: tokio::sync::Mutex::new(()),
                })
            })
            .collect();
        Self {
            entries,
            mounts: MountTable::default(),
            platform: OnceLock::new(),
            max_upload_bytes: usize::try_from(config.settings.server.max_upload_bytes)
                .unwrap_or(usize::MAX),
            dev_mode: config.settings.dev_mode,
            force_isolated: lists.force_isolated.clone(),
            health_task: Mutex::new(None),
            extra_index_urls: Mutex::new(Vec::new()),
            bundles: RwLock::new(Vec::new()),
            install_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn platform(&self) -> Result<Arc<Platform>, PluginError> {
        self.platform
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| PluginError::lifecycle("The plugin manager is not running"))
    }

    /// Migrates, initializes and mounts every enabled plugin in registration order (a failure
    /// marks only that plugin Failed), reads the installed bundles ([`installed::load`]; an
    /// unreadable table is logged and lists none), then starts the periodic health checks.
    pub async fn load_all(&self, platform: &Arc<Platform>) {
        let _ = self.platform.set(Arc::downgrade(platform));
        for entry in &self.entries {
            let _guard = entry.load_lock.lock().await;
            self.load_entry(entry, platform).await;
        }
        match installed::load(platform).await {
            Ok(bundles) => {
                for bundle in &bundles {
                    tracing::warn!(plugin = %bundle.name, version = %bundle.version,
                        status = bundle.status(), "installed plugin bundle is not running");
                }
                if let Ok(mut slot) = self.bundles.write() {
                    *slot = bundles;
                }
            }
            Err(err) => tracing::error!(error = %err, "cannot read the installed plugin bundles"),
        }
        self.start_health_checks(platform);
    }

    /// Shuts every Ready plugin down (errors and panics are logged), stops the health checks
    /// and unmounts everything.
    pub async fn shutdown_all(&self) {
        if let Some(task) = self.health_task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
        for entry in &self.entries {
            let _guard = entry.load_lock.lock().await;
            self.stop_entry(entry).await;
        }
        self.mounts.clear();
    }

    /// The Ready plugins in registration order.
    pub fn ready(&self) -> Vec<Arc<dyn AnalysisPlugin>> {
        self.entries
            .iter()
            .filter(|e| matches!(e.lifecycle.read().as_deref(), Ok(Lifecycle::Ready)))
            .map(|e| e.plugin.clone())
            .collect()
    }

    /// Every registered plugin with its phase, in registration order.
    pub fn entries(&self) -> &[Arc<PluginEntry>] {
        &self.entries
    }

    /// The entry of the plugin named `name`.
    pub fn find(&self, name: &str) -> Option<&Arc<PluginEntry>> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The installed bundles, sorted by name.
    pub fn bundles(&self) -> Vec<Arc<InstalledBundle>> {
        self.bundles.read().map(|b| b.clone()).unwrap_or_default()
    }

    /// Adds or replaces the installed bundle of the same name.
    pub(crate) fn put_bundle(&self, bundle: Arc<InstalledBundle>) {
        if let Ok(mut slot) = self.bundles.write() {
            slot.retain(|b| b.name != bundle.name);
            slot.push(bundle);
            slot.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }

    /// Forgets the installed bundle `name`.
    pub(crate) fn remove_bundle(&self, name: &str) {
        if let Ok(mut slot) = self.bundles.write() {
            slot.retain(|b| b.name != name);
        }
    }

    /// The lock installs and uninstalls hold.
    pub(crate) fn install_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.install_lock
    }

    /// The package index URLs set by `PUT /api/plugins/config/extra-index-urls` (kept in
    /// memory only; registry installs are not implemented).
    pub fn extra_index_urls(&self) -> Vec<String> {
        self.extra_index_urls
            .lock()
            .map(|u| u.clone())
            .unwrap_or_default()
    }

    /// Replaces the extra package index URLs.
    pub fn set_extra_index_urls(&self, urls: Vec<String>) {
        if let Ok(mut slot) = self.extra_index_urls.lock() {
            *slot = urls;
        }
    }

    // ----- lifecycle ----------------------------------------------------------------------

    /// Runs the lifecycle of one entry (its load lock held by the caller).
    async fn load_entry(&self, entry: &Arc<PluginEntry>, platform: &Arc<Platform>) {
        if entry.disabled {
            entry.set_phase(Lifecycle::Registered);
            tracing::info!(plugin = %entry.name, "plugin disabled by configuration");
            return;
        }
        match self.start_entry(entry, platform).await {
            Ok(mounts) => {
                self.mounts.replace(entry.index, mounts);
                entry.set_phase(Lifecycle::Ready);
                tracing::info!(plugin = %entry.name, "plugin ready");
            }
            Err(reason) => {
                tracing::error!(plugin = %entry.name, error = %reason, "plugin failed to load");
                entry.set_phase(Lifecycle::Failed(reason));
            }
        }
    }

    /// Why entry `index` cannot claim its name, routes prefix or storage, if it cannot: an
    /// earlier enabled plugin with valid metadata (and no conflict of its own) holds it.
    fn conflict(&self, index: usize) -> Option<String> {
        let meta = self.entries.get(index)?.meta.as_ref().ok()?;
        let schema = storage::schema_name(&meta.name);
        let dir = safe_plugin_name(&meta.name);
        for (j, other) in self.entries.iter().enumerate().take(index) {
            let Ok(om) = &other.meta else { continue };
            if other.disabled || om.validate().is_err() || self.conflict(j).is_some() {
                continue;
            }
            if om.name == meta.name {
                return Some(format!(
                    "Another plugin named '{}' is already registered",
                    meta.name
                ));
            }
            if om.routes_prefix == meta.routes_prefix {
                return Some(format!(
                    "Routes prefix {} is already used by plugin '{}'",
                    meta.routes_prefix, om.name
                ));
            }
            if storage::schema_name(&om.name) == schema {
                return Some(format!(
                    "Database schema {schema} is already used by plugin '{}'",
                    om.name
                ));
            }
            if safe_plugin_name(&om.name) == dir {
                return Some(format!(
                    "Plugin data directory '{dir}' is already used by plugin '{}'",
                    om.name
                ));
            }
        }
        None
    }

    /// Validate → Migrating → Initializing → routers built; returns the mounts, or why the
    /// plugin is Failed (everything it started has been stopped again).
    async fn start_entry(
        &self,
        entry: &Arc<PluginEntry>,
        platform: &Arc<Platform>,
    ) -> Result<Vec<Mount>, String> {
        let meta = entry.meta.clone()?;
        meta.validate()
            .map_err(|e| format!("Invalid plugin metadata: {e}"))?;
        if self.force_isolated.contains(&meta.name) {
            return Err(
                "plugins.forceIsolated names this plugin, but isolated mode is not implemented \
                 yet; remove it from plugins.forceIsolated to run it in-process"
                    .into(),
            );
        }
        if let Some(reason) = self.conflict(entry.index) {
            return Err(reason);
        }
        let plugin = entry.plugin.clone();

        // Migrating.
        entry.set_phase(Lifecycle::Migrating);
        let migrated = AssertUnwindSafe(migrate(platform, plugin.as_ref(), &meta))
            .catch_unwind()
            .await
            .unwrap_or_else(|p| {
                Err(MigrationStatus {
                    error: Some(format!("migrations panicked: {}", panic_message(p))),
                    ..MigrationStatus::default()
                })
            });
        let storage = match migrated {
            Ok((storage, status)) => {
                entry.with_running(|r| r.migration = status);
                storage
            }
            Err(status) => {
                let reason = format!(
                    "Migration failed: {}",
                    status.error.clone().unwrap_or_default()
                );
                entry.with_running(|r| r.migration = status);
                return Err(reason);
            }
        };

        // Initializing.
        entry.set_phase(Lifecycle::Initializing);
        let ctx = PlatformContext::new(context::InProcessContext::new(
            platform,
            &meta,
            storage.clone(),
        ));
        entry.with_running(|r| {
            r.context = Some(ctx.clone());
            r.storage = storage;
        });
        let started = AssertUnwindSafe(mint_sdk::app::start_integrated(
            plugin.as_ref(),
            ctx.clone(),
        ))
        .catch_unwind()
        .await;
        let failure = match started {
            Ok(Ok(())) => None,
            // start_integrated has called shutdown after an initialize error.
            Ok(Err(err)) => Some(format!("Initialization failed: {err}")),
            Err(p) => {
                shutdown_plugin(entry).await;
                Some(format!("initialize panicked: {}", panic_message(p)))
            }
        };
        if let Some(reason) = failure {
            release(entry).await;
            return Err(reason);
        }

        // Routers: a panic (e.g. axum's route-conflict panic) fails only this plugin.
        let max = self.max_upload_bytes;
        let built = std::panic::catch_unwind(AssertUnwindSafe(|| {
            mint_sdk::app::PluginService::new(plugin.clone(), max)
        }));
        let api = match built {
            Ok(api) => api,
            Err(p) => {
                shutdown_plugin(entry).await;
                release(entry).await;
                return Err(format!(
                    "Building its routes panicked (a route conflict?): {}",
                    panic_message(p)
                ));
            }
        };
        let mut mounts = vec![Mount {
            prefix: api.base().to_owned(),
            plugin: meta.name.clone(),
            entry: entry.index,
            requires_auth: meta.capabilities.requires_auth,
            service: MountService::Api(api),
        }];
        if let Some(frontend) = frontend_router(plugin.as_ref(), &meta) {
            mounts.push(Mount {
                prefix: meta.routes_prefix.clone(),
                plugin: meta.name.clone(),
                entry: entry.index,
                requires_auth: false,
                service: MountService::Frontend(frontend),
            });
        }
        Ok(mounts)
    }

    /// Unmounts an entry; a Ready plugin is shut down; its context and storage are released.
    async fn stop_entry(&self, entry: &Arc<PluginEntry>) {
        self.mounts.replace(entry.index, Vec::new());
        if entry.phase() == Lifecycle::Ready {
            shutdown_plugin(entry).await;
            release(entry).await;
            entry.set_phase(Lifecycle::Registered);
        }
    }

    /// Re-runs the lifecycle of the plugin named `name` (shutting it down first when Ready)
    /// and swaps its mounts; returns its entry, whatever phase it ends in.
    ///
    /// Errors: 404 for an unknown plugin; 409 for a plugin disabled by configuration;
    /// `Lifecycle` when the manager is not running.
    pub async fn reload(&self, name: &str) -> Result<Arc<PluginEntry>, PluginError> {
        let entry = self
            .find(name)
            .cloned()
            .ok_or_else(|| PluginError::not_found(format!("Plugin '{name}' not found")))?;
        if entry.disabled {
            return Err(PluginError::conflict(format!(
                "Plugin '{name}' is disabled by configuration (plugins.enabled / plugins.disabled)"
            )));
        }
        let platform = self.platform()?;
        {
            let _guard = entry.load_lock.lock().await;
            self.stop_entry(&entry).await;
            entry.with_running(|r| {
                r.health = None;
                r.migration = MigrationStatus::default();
            });
            self.load_entry(&entry, &platform).await;
        }
        Ok(entry)
    }

    // ----- health -------------------------------------------------------------------------

    fn start_health_checks(&self, platform: &Arc<Platform>) {
        let weak = Arc::downgrade(platform);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEALTH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(platform) = weak.upgrade() else {
                    break;
                };
                platform.plugins.check_health_now().await;
            }
        });
        if let Ok(mut slot) = self.health_task.lock()
            && let Some(old) = slot.replace(task)
        {
            old.abort();
        }
    }

    /// Asks every Ready plugin for its health now (concurrently) and stores the answers; an
    /// error, a panic or no answer within [`HEALTH_TIMEOUT`] is Unhealthy with
    /// `Health check failed: <reason>` (plugin.md §6.2).
    pub async fn check_health_now(&self) {
        let checks = self
            .entries
            .iter()
            .filter(|e| e.phase() == Lifecycle::Ready)
            .map(|entry| async move {
                let check = AssertUnwindSafe(entry.plugin.check_health()).catch_unwind();
                let health = match tokio::time::timeout(HEALTH_TIMEOUT, check).await {
                    Ok(Ok(Ok(health))) => health,
                    Ok(Ok(Err(err))) => unhealthy(&err.to_string()),
                    Ok(Err(p)) => unhealthy(&format!("panicked: {}", panic_message(p))),
                    Err(_) => {
                        unhealthy(&format!("no answer within {} s", HEALTH_TIMEOUT.as_secs()))
                    }
                };
                entry.with_running(|r| r.health = Some(health));
            });
        futures_util::future::join_all(checks).await;
    }

    // ----- routing ------------------------------------------------------------------------

    /// Routes a request to the plugin mounted at the longest matching prefix (its API at
    /// `/api{routes_prefix}`, its frontend at `{routes_prefix}`); `None` when no Ready plugin
    /// claims the path. For a `requires_auth` plugin the caller must be authenticated (401)
    /// and hold `plugins.use` (403); the resolved principal rides along in the request
    /// extensions so the plugin's context does not resolve it again.
    pub async fn route(&self, request: Request) -> Option<Response> {
        let mount = self.mounts.find(request.uri().path())?;
        Some(self.serve_mount(mount, request).await)
    }

    /// The mount serving `path`, if a plugin claims it (a pointer load and a short scan).
    pub fn mount_for(&self, path: &str) -> Option<Arc<Mount>> {
        self.mounts.find(path)
    }

    /// Serves `request` with `mount` (found by [`PluginManager::mount_for`]). The caller is
    /// resolved when the request carries credentials (or in dev mode) and the handler runs in
    /// its [`caller`] scope; a `requires_auth` plugin needs an authenticated caller (401) with
    /// `plugins.use` (403).
    pub async fn serve_mount(&self, mount: Arc<Mount>, request: Request) -> Response {
        let (mut parts, body) = request.into_parts();
        let caller = match self.caller_of(&mount, &parts).await {
            Ok(Some(principal)) => {
                parts
                    .extensions
                    .insert(ResolvedPrincipal(Some(principal.clone())));
                caller::Caller::User(Box::new(principal))
            }
            Ok(None) => caller::Caller::Anonymous,
            Err(err) => return err.into_response(),
        };
        let request = Request::from_parts(parts, body);
        match caller::scope(caller, mount.service.serve(request)).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// Whether a request to `mount` can only resolve to an anonymous caller, so
    /// [`serve_anonymous`](Self::serve_anonymous) may answer it: not when `mount` needs an
    /// authenticated caller, the platform runs in dev mode (no token = admin), or `headers`
    /// carry a bearer token or the session cookie.
    pub fn is_anonymous(&self, mount: &Mount, headers: &axum::http::HeaderMap) -> bool {
        !(mount.requires_auth || self.dev_mode || rbac::may_carry_credentials(headers))
    }

    /// [`serve_mount`](Self::serve_mount) for a request [`is_anonymous`](Self::is_anonymous)
    /// admits: no caller resolution and no boxed future on public plugin routes.
    pub fn serve_anonymous(&self, mount: &Mount, request: Request) -> AnonymousResponse {
        caller::scope(caller::Caller::Anonymous, mount.service.serve(request))
    }

    async fn caller_of(
        &self,
        mount: &Mount,
        parts: &axum::http::request::Parts,
    ) -> Result<Option<rbac::Principal>, PluginError> {
        let platform = self.platform()?;
        let dev = platform.config.settings.dev_mode;
        let principal = if dev || rbac::token_in(&parts.headers).is_some() {
            rbac::resolve_principal(&platform, parts).await?
        } else {
            None
        };
        if mount.requires_auth {
            let principal = principal
                .as_ref()
                .ok_or_else(|| rbac::unauthorized("Authentication required"))?;
            principal.require("plugins.use")?;
        }
        Ok(principal)
    }

    // ----- hooks --------------------------------------------------------------------------

    /// Calls `on_before_experiment_save` on each Ready plugin in order; the first veto (or
    /// error, which counts as the veto `Plugin validation failed`) stops the loop.
    ///
    /// Errors: 409 `EVENT_VETO` with the veto message.
    pub async fn before_experiment_save(
        &self,
        experiment_id: i64,
        data: &JsonObject,
    ) -> Result<(), PluginError> {
        for plugin in self.ready() {
            let verdict = AssertUnwindSafe(plugin.on_before_experiment_save(experiment_id, data))
                .catch_unwind()
                .await
                .unwrap_or_else(|p| Err(PluginError::other(panic_message(p))));
            let message = match verdict {
                Ok(result) if result.success => continue,
                Ok(result) => result.veto_message(),
                Err(err) => {
                    tracing::warn!(plugin = %plugin.metadata().name, error = %err,
                        "before-save hook failed; treated as a veto");
                    "Plugin validation failed".into()
                }
            };
            return Err(PluginError::event_veto(message));
        }
        Ok(())
    }

    /// Calls `on_after_experiment_save` on each Ready plugin; errors are logged.
    pub async fn after_experiment_save(&self, experiment_id: i64, data: &JsonObject) {
        for plugin in self.ready() {
            let outcome = AssertUnwindSafe(plugin.on_after_experiment_save(experiment_id, data))
                .catch_unwind()
                .await
                .unwrap_or_else(|p| Err(PluginError::other(panic_message(p))));
            if let Err(err) = outcome {
                tracing::warn!(plugin = %plugin.metadata().name, error = %err, "after-save hook failed");
            }
        }
    }

    /// Calls `on_experiment_status_change` on each Ready plugin; errors are logged.
    pub async fn experiment_status_changed(&self, experiment_id: i64, old: &str, new: &str) {
        for plugin in self.ready() {
            let outcome =
                AssertUnwindSafe(plugin.on_experiment_status_change(experiment_id, old, new))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|p| Err(PluginError::other(panic_message(p))));
            if let Err(err) = outcome {
                tracing::warn!(plugin = %plugin.metadata().name, error = %err, "status-change hook failed");
            }
        }
    }
}

fn unhealthy(reason: &str) -> PluginHealth {
    PluginHealth::new(HealthStatus::Unhealthy)
        .with_message(format!("Health check failed: {reason}"))
}

/// Opens the plugin's storage when it needs one (migrations, shared models or
/// `requires_shared_database`) and runs the Migrating phase there.
async fn migrate(
    platform: &Arc<Platform>,
    plugin: &dyn AnalysisPlugin,
    meta: &PluginMetadata,
) -> Result<(Option<PluginStorage>, MigrationStatus), MigrationStatus> {
    let needs_storage = meta.capabilities.requires_shared_database
        || !plugin.migrations().is_empty()
        || !plugin.shared_models().is_empty();
    if !needs_storage {
        return Ok((None, MigrationStatus::default()));
    }
    let storage = PluginStorage::open(platform, &meta.name)
        .await
        .map_err(|e| MigrationStatus {
            error: Some(e.message()),
            ..MigrationStatus::default()
        })?;
    match storage.migrate(plugin, &meta.name).await {
        Ok(status) => Ok((Some(storage), status)),
        Err(status) => {
            storage.close().await;
            Err(status)
        }
    }
}

/// Awaits the plugin's `shutdown`, logging an error or a panic.
async fn shutdown_plugin(entry: &PluginEntry) {
    let outcome = AssertUnwindSafe(entry.plugin.shutdown())
        .catch_unwind()
        .await
        .unwrap_or_else(|p| Err(PluginError::other(panic_message(p))));
    if let Err(err) = outcome {
        tracing::warn!(plugin = %entry.name, error = %err, "plugin shutdown failed");
    }
}

/// Closes the plugin's context and storage.
async fn release(entry: &PluginEntry) {
    let (ctx, storage) = entry
        .with_running(|r| (r.context.take(), r.storage.take()))
        .unwrap_or((None, None));
    if let Some(ctx) = ctx
        && let Err(err) = ctx.close().await
    {
        tracing::warn!(plugin = %entry.name, error = %err, "closing the plugin context failed");
    }
    if let Some(storage) = storage {
        storage.close().await;
    }
}

/// The plugin's frontend router at `{routes_prefix}`, when it has a usable frontend directory.
fn frontend_router(plugin: &dyn AnalysisPlugin, meta: &PluginMetadata) -> Option<axum::Router> {
    let dir = std::panic::catch_unwind(AssertUnwindSafe(|| plugin.frontend_dir()))
        .ok()
        .flatten()?;
    let prefix = RoutesPrefix::parse(&meta.routes_prefix).ok()?;
    match SpaStaticFiles::new(&dir) {
        Ok(files) => Some(files.router(&prefix).with_state(())),
        Err(err) => {
            tracing::warn!(plugin = %meta.name, error = %err, "plugin frontend not served");
            None
        }
    }
}
