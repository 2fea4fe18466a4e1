//! Installed plugin bundles (`spec/platform-api.md` §4.5, `spec/cli.md` §2.3,
//! `spec/migrations.md` §1): installing a `.mint` bundle (uploaded, or a path the server can
//! read), listing what is installed, and uninstalling it with its data kept, archived or
//! purged.
//!
//! An install unpacks and verifies the bundle ([`super::bundle`]) into a staging directory
//! under `<data_dir>/plugins/`, checks for conflicts, renames the tree into place as
//! `<data_dir>/plugins/<safe name>/<version>/` and records it in the platform table
//! `installed_plugins` (so it survives restarts, on SQLite and PostgreSQL alike); a failure at
//! any step leaves the previous state, and a crash leaves at worst a `.staging-*` directory
//! that the next start removes. Installs and uninstalls of one platform run one at a time.
//!
//! Bundles run isolated (platform-config.md `plugins.forceShared`), and the isolated runtime
//! (platform-api.md §5: spawn, proxy, internal API) is **not in this build**: an installed
//! bundle is listed with `mode:"isolated"`, `lifecycle:"Failed"`, `status:"error"` and an
//! error saying so, and its binary is never started.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mint_sdk::error::JsonObject;
use mint_sdk::local_database::safe_plugin_name;
use mint_sdk::{PluginError, PluginMetadata};
use serde::Deserialize;
use serde_json::{Value, json};

use super::bundle::{self, BundleLimits, BundleManifest};
use super::storage;
use crate::state::Platform;
use crate::store;

/// The error of every installed bundle while this build has no isolated runtime.
pub const NO_ISOLATED_RUNTIME: &str = "Installed, but not running: bundle plugins run isolated, \
     and the isolated plugin runtime (platform-api.md §5: spawn, proxy, internal API) is not in \
     this platform build yet";

/// Prefix of the staging directories under `<data_dir>/plugins/`.
const STAGING_PREFIX: &str = ".staging-";

/// What an installed bundle is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleState {
    /// Kept out by `plugins.enabled` / `plugins.disabled` (`status:"disabled"`).
    Disabled,
    /// Not running; the reason (`status:"error"`).
    Failed(String),
}

/// One installed bundle, as recorded in `installed_plugins`.
#[derive(Debug, Clone)]
pub struct InstalledBundle {
    /// The package name: the plugin's name (`manifest.plugin.name`).
    pub name: String,
    /// The installed version.
    pub version: String,
    /// The binary's file name (`runtime.entry`), inside [`InstalledBundle::dir`].
    pub entry_point: String,
    /// `<data_dir>/plugins/<safe name>/<version>`.
    pub dir: PathBuf,
    /// The plugin metadata from the manifest; `None` when the stored manifest no longer
    /// parses (the state says why).
    pub metadata: Option<PluginMetadata>,
    /// The migrations the manifest lists (versions).
    pub migrations: Vec<u32>,
    /// What it is doing.
    pub state: BundleState,
}

impl InstalledBundle {
    /// `LoadedPlugin.status`: `disabled` or `error`.
    pub fn status(&self) -> &'static str {
        match self.state {
            BundleState::Disabled => "disabled",
            BundleState::Failed(_) => "error",
        }
    }

    /// The `installed` entry of `GET /api/plugins`: `{package_name, version, entry_point}`.
    pub fn installed_json(&self) -> Value {
        json!({
            "package_name": self.name,
            "version": self.version,
            "entry_point": self.entry_point,
        })
    }

    /// The `LoadedPlugin` object (platform-api.md §4.5) with `mode:"isolated"`: lifecycle
    /// `Registered` when disabled, else `Failed` with the reason in `error`. `schema_version`
    /// is `null` and `pending_migrations` empty: an isolated plugin applies its own
    /// migrations, and this one has never run.
    pub fn to_json(&self) -> Value {
        let (lifecycle, error) = match &self.state {
            BundleState::Disabled => ("Registered", None),
            BundleState::Failed(reason) => ("Failed", Some(reason.clone())),
        };
        let meta = self.metadata.as_ref();
        json!({
            "name": self.name,
            "version": self.version,
            "description": meta.map(|m| m.description.clone()).unwrap_or_default(),
            "plugin_type": meta.map(|m| m.plugin_type).unwrap_or_default(),
            "analysis_type": meta.map(|m| m.analysis_type.clone()).unwrap_or_default(),
            "routes_prefix": meta.map(|m| m.routes_prefix.clone()).unwrap_or_default(),
            "enabled": self.state != BundleState::Disabled,
            "status": self.status(),
            "error": error,
            "lifecycle": lifecycle,
            "health": Value::Null,
            "mode": "isolated",
            "capabilities": meta.map(|m| m.capabilities).unwrap_or_default(),
            "schema_version": Value::Null,
            "pending_migrations": [],
            "migration_error": Value::Null,
        })
    }
}

/// `InstallResult` (platform-api.md §4.5): `{success, message, name?, version?,
/// restart_required, conflict_detected}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallResult {
    /// Whether the change was made.
    pub success: bool,
    /// What happened, for people.
    pub message: String,
    /// The package, when known.
    pub name: Option<String>,
    /// Its version, when known.
    pub version: Option<String>,
    /// Always `false` here: a restart would not start a bundle either (no isolated runtime).
    pub restart_required: bool,
    /// Always `false` in a result: conflicts are answered with 409 instead.
    pub conflict_detected: bool,
}

impl InstallResult {
    /// A refusal (`success:false`) with its reason.
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            success: false,
            message: message.into(),
            name: None,
            version: None,
            restart_required: false,
            conflict_detected: false,
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> Value {
        json!({
            "success": self.success,
            "message": self.message,
            "name": self.name,
            "version": self.version,
            "restart_required": self.restart_required,
            "conflict_detected": self.conflict_detected,
        })
    }
}

/// What an uninstall does with the plugin's data (migrations.md §1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UninstallMode {
    /// Tables and tracking rows stay; a reinstall resumes where it stopped.
    #[default]
    Keep,
    /// Each table becomes `archived_<unix-ts>_<table>`; the tracking rows are deleted.
    Archive,
    /// Tables dropped, tracking rows deleted, `<plugins.dataDir>/<safe name>/` removed.
    Purge,
}

/// A directory `<data_dir>/plugins/.staging-<random>/` that is removed when dropped.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    /// Creates a fresh staging directory under `<data_dir>/plugins/`.
    ///
    /// Errors: `Configuration` when the directory cannot be created.
    pub fn new(platform: &Platform) -> Result<Self, PluginError> {
        let root = platform.config.installed_plugins_dir();
        let dir = root.join(format!("{STAGING_PREFIX}{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).map_err(|e| {
            PluginError::configuration(format!("Cannot create {}: {e}", dir.display()))
        })?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.dir)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.dir.display(), error = %err, "cannot remove a staging directory");
        }
    }
}

fn internal(context: &str, err: impl std::fmt::Display) -> PluginError {
    PluginError::unexpected(format!("{context}: {err}"))
}

/// Runs blocking file work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PluginError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| internal("A file operation panicked", e))
}

/// Reads `installed_plugins` at start: removes leftover staging directories, then builds each
/// bundle's entry (state from the configuration, the compiled-in plugins and the files).
///
/// Errors: `Repository` when the table cannot be read.
pub async fn load(platform: &Platform) -> Result<Vec<Arc<InstalledBundle>>, PluginError> {
    let root = platform.config.installed_plugins_dir();
    blocking(move || remove_stale_staging(&root)).await?;
    let store = &platform.store;
    let rows = store
        .all(
            store.connection(),
            "SELECT name, version, entry_point, install_dir, manifest FROM installed_plugins \
             ORDER BY name",
            [],
        )
        .await?;
    let mut bundles = Vec::with_capacity(rows.len());
    for row in rows {
        let name = store::get_text(&row, "name")?;
        let version = store::get_text(&row, "version")?;
        let entry_point = store::get_text(&row, "entry_point")?;
        let dir = platform
            .config
            .data_dir
            .join(store::get_text(&row, "install_dir")?);
        let manifest = serde_json::from_str::<Value>(&store::get_text(&row, "manifest")?)
            .map_err(|e| e.to_string())
            .and_then(|raw| BundleManifest::parse(&raw).map_err(|e| e.to_string()));
        let bundle = match manifest {
            Ok(manifest) => {
                let binary = dir.join(&entry_point);
                let files_missing = !binary.is_file();
                let state = state_of(platform, &manifest.plugin.metadata, files_missing, &binary);
                InstalledBundle {
                    name,
                    version,
                    entry_point,
                    dir,
                    migrations: manifest.migrations.iter().map(|m| m.version).collect(),
                    metadata: Some(manifest.plugin.metadata),
                    state,
                }
            }
            Err(reason) => InstalledBundle {
                name,
                version,
                entry_point,
                dir,
                metadata: None,
                migrations: Vec::new(),
                state: BundleState::Failed(format!(
                    "The stored manifest of this bundle is not valid any more ({reason}); \
                     reinstall it"
                )),
            },
        };
        bundles.push(Arc::new(bundle));
    }
    Ok(bundles)
}

fn remove_stale_staging(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(STAGING_PREFIX)
        {
            let path = entry.path();
            match std::fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!(dir = %path.display(), "removed an interrupted install"),
                Err(err) => {
                    tracing::warn!(dir = %path.display(), error = %err, "cannot remove an interrupted install")
                }
            }
        }
    }
}

/// The state of an installed bundle: disabled by configuration, or Failed with the first
/// reason that applies (`plugins.forceShared`, a clash with a compiled-in plugin, missing
/// files, and in any case the missing isolated runtime).
fn state_of(
    platform: &Platform,
    meta: &PluginMetadata,
    files_missing: bool,
    binary: &Path,
) -> BundleState {
    let lists = &platform.config.settings.plugins;
    if lists.disabled.contains(&meta.name)
        || (!lists.enabled.is_empty() && !lists.enabled.contains(&meta.name))
    {
        return BundleState::Disabled;
    }
    if lists.force_shared.contains(&meta.name) {
        return BundleState::Failed(
            "plugins.forceShared names this plugin, but it is only available as a bundle and \
             bundles run isolated; only compiled-in plugins can run in-process"
                .into(),
        );
    }
    if let Some(reason) = compiled_in_clash(platform, meta) {
        return BundleState::Failed(reason);
    }
    if files_missing {
        return BundleState::Failed(format!(
            "The installed binary {} is missing; reinstall the bundle",
            binary.display()
        ));
    }
    BundleState::Failed(NO_ISOLATED_RUNTIME.into())
}

/// Why `meta` cannot coexist with a compiled-in plugin (same name, routes prefix, database
/// schema or data directory), if it cannot. Disabled compiled-in plugins count too: they
/// still own their name and data.
fn compiled_in_clash(platform: &Platform, meta: &PluginMetadata) -> Option<String> {
    platform.plugins.entries().iter().find_map(|entry| {
        let other = entry.metadata()?;
        clash(meta, other).map(|what| {
            format!(
                "{what} is taken by the compiled-in plugin '{}', which cannot be replaced or \
                 uninstalled",
                other.name
            )
        })
    })
}

/// What two plugins would share: name, routes prefix, PostgreSQL schema or data directory.
fn clash(a: &PluginMetadata, b: &PluginMetadata) -> Option<String> {
    if a.name == b.name {
        return Some(format!("The name '{}'", a.name));
    }
    if a.routes_prefix == b.routes_prefix {
        return Some(format!("The routes prefix {}", a.routes_prefix));
    }
    let schema = storage::schema_name(&a.name);
    if schema == storage::schema_name(&b.name) {
        return Some(format!("The database schema {schema}"));
    }
    let dir = safe_plugin_name(&a.name);
    if dir == safe_plugin_name(&b.name) {
        return Some(format!("The plugin directory name '{dir}'"));
    }
    None
}

/// A 409 with `details.conflict_detected: true` and what it conflicts with.
fn conflict(message: String, details: Value) -> PluginError {
    let mut map = JsonObject::new();
    map.insert("conflict_detected".into(), Value::Bool(true));
    if let Value::Object(extra) = details {
        map.extend(extra);
    }
    PluginError::conflict(message).with_details(map)
}

/// Installs the bundle at `bundle_path` (inside `staging` for an upload, anywhere readable
/// for `POST /api/plugins/install`). `force` replaces an installed package of the same name
/// (any version); nothing replaces a compiled-in plugin or another package's routes prefix.
///
/// Answers `success:false` ([`InstallResult::refused`]) for a bundle this host cannot take:
/// unreadable, not a ZIP, a bad or Python manifest, unsafe entries, no binary for this
/// host's triple, a checksum mismatch, over the size limits. Nothing is left on disk then.
///
/// Errors: 409 `Conflict` with `details.conflict_detected`; `Unexpected` / `Repository` when
/// the server cannot write the files or the table (the previous install stays in place).
pub async fn install(
    platform: &Arc<Platform>,
    staging: Staging,
    bundle_path: PathBuf,
    force: bool,
    actor: Option<i64>,
) -> Result<InstallResult, PluginError> {
    let unpack_dir = staging.path().join("unpacked");
    let unpacked = {
        let dest = unpack_dir.clone();
        blocking(move || {
            std::fs::create_dir(&dest).map_err(|source| bundle::BundleError::Io {
                path: dest.display().to_string(),
                source,
            })?;
            bundle::unpack(&bundle_path, &dest, &BundleLimits::default())
        })
        .await?
    };
    let unpacked = match unpacked {
        Ok(unpacked) => unpacked,
        Err(err) if err.is_refusal() => {
            tracing::info!(reason = %err, "plugin bundle refused");
            return Ok(InstallResult::refused(err.to_string()));
        }
        Err(err) => return Err(internal("Cannot unpack the bundle", err)),
    };
    let manifest = unpacked.manifest;
    let meta = manifest.plugin.metadata.clone();

    let _guard = platform.plugins.install_lock().lock().await;
    if let Some(what) = compiled_in_clash(platform, &meta) {
        return Err(conflict(
            format!("Cannot install '{}': {what}", meta.name),
            json!({"name": meta.name, "version": meta.version, "compiled_in": true}),
        ));
    }
    let installed = platform.plugins.bundles();
    for other in installed.iter().filter(|b| b.name != meta.name) {
        if let Some(what) = other.metadata.as_ref().and_then(|m| clash(&meta, m)) {
            return Err(conflict(
                format!(
                    "Cannot install '{}': {what} is taken by the installed package '{}'; \
                     uninstall it first",
                    meta.name, other.name
                ),
                json!({"name": meta.name, "version": meta.version, "installed_package": other.name}),
            ));
        }
    }
    let previous = installed.iter().find(|b| b.name == meta.name).cloned();
    if let Some(previous) = &previous
        && !force
    {
        let what = if previous.version == meta.version {
            "reinstall it".to_string()
        } else {
            format!("replace it with {}", meta.version)
        };
        return Err(conflict(
            format!(
                "Plugin '{}' {} is already installed; install with force=true to {what}",
                meta.name, previous.version
            ),
            json!({
                "name": meta.name,
                "version": meta.version,
                "installed_version": previous.version,
            }),
        ));
    }

    // Into place: a same-version reinstall first moves the old tree into staging.
    let relative = PathBuf::from("plugins")
        .join(safe_plugin_name(&meta.name))
        .join(&meta.version);
    let target = platform.config.data_dir.join(&relative);
    let parked = staging.path().join("previous");
    let moved_old = {
        let (target, parked, unpack_dir) = (target.clone(), parked.clone(), unpack_dir.clone());
        blocking(move || place(&unpack_dir, &target, &parked))
            .await?
            .map_err(|e| internal("Cannot move the bundle into place", e))?
    };

    let recorded = record(
        platform,
        &meta,
        &manifest.runtime.entry,
        &relative,
        &unpacked.raw_manifest,
        actor,
    )
    .await;
    if let Err(err) = recorded {
        let (target, parked) = (target.clone(), parked.clone());
        blocking(move || {
            let _ = std::fs::remove_dir_all(&target);
            if moved_old {
                let _ = std::fs::rename(&parked, &target);
            }
        })
        .await?;
        return Err(err);
    }
    if let Some(previous) = &previous
        && previous.dir != target
    {
        let old = previous.dir.clone();
        blocking(move || {
            if let Err(err) = std::fs::remove_dir_all(&old) {
                tracing::warn!(dir = %old.display(), error = %err, "cannot remove the replaced version");
            }
        })
        .await?;
    }
    drop(staging);

    let binary = target.join(&manifest.runtime.entry);
    let state = state_of(platform, &meta, !binary.is_file(), &binary);
    let bundle = InstalledBundle {
        name: meta.name.clone(),
        version: meta.version.clone(),
        entry_point: manifest.runtime.entry.clone(),
        dir: target.clone(),
        metadata: Some(meta.clone()),
        migrations: manifest.migrations.iter().map(|m| m.version).collect(),
        state,
    };
    platform.plugins.put_bundle(Arc::new(bundle));
    tracing::info!(plugin = %meta.name, version = %meta.version, dir = %target.display(),
        replaced = previous.as_ref().map(|p| p.version.as_str()), "plugin bundle installed");
    let replaced = previous
        .map(|p| format!(" (replacing {})", p.version))
        .unwrap_or_default();
    Ok(InstallResult {
        success: true,
        message: format!(
            "Installed {} {}{replaced} to {}. It does not run yet: bundle plugins run isolated, \
             and this platform build has no isolated plugin runtime (platform-api.md §5)",
            meta.name,
            meta.version,
            target.display()
        ),
        name: Some(meta.name),
        version: Some(meta.version),
        restart_required: false,
        conflict_detected: false,
    })
}

/// Renames `unpacked` to `target`, first parking an existing `target` at `parked` (put back
/// when the rename fails); returns whether something was parked.
fn place(unpacked: &Path, target: &Path, parked: &Path) -> std::io::Result<bool> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let moved_old = if target.exists() {
        std::fs::rename(target, parked)?;
        true
    } else {
        false
    };
    if let Err(err) = std::fs::rename(unpacked, target) {
        if moved_old {
            let _ = std::fs::rename(parked, target);
        }
        return Err(err);
    }
    Ok(moved_old)
}

/// Replaces the package's row in `installed_plugins`, in one transaction.
async fn record(
    platform: &Platform,
    meta: &PluginMetadata,
    entry_point: &str,
    relative: &Path,
    raw_manifest: &Value,
    actor: Option<i64>,
) -> Result<(), PluginError> {
    let store = &platform.store;
    let txn = store.begin().await?;
    store
        .exec(
            &txn,
            "DELETE FROM installed_plugins WHERE name = $1",
            [meta.name.clone().into()],
        )
        .await?;
    store
        .exec(
            &txn,
            "INSERT INTO installed_plugins (name, version, entry_point, install_dir, manifest, \
             installed_by, installed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                meta.name.clone().into(),
                meta.version.clone().into(),
                entry_point.into(),
                relative.to_string_lossy().into_owned().into(),
                raw_manifest.to_string().into(),
                store::opt_i64(actor),
                store::now_text().into(),
            ],
        )
        .await?;
    crate::api::commit(txn).await
}

/// Uninstalls the package `name`: first its data per `mode` (migrations.md §1), then its row,
/// then its files (`<data_dir>/plugins/<safe name>/`).
///
/// Errors: 404 for a name that is not installed; 409 `Conflict` for a compiled-in plugin
/// (it cannot be uninstalled; `plugins.disabled` keeps it out); `Repository` when the data
/// cannot be archived or purged (nothing is changed then).
pub async fn uninstall(
    platform: &Arc<Platform>,
    name: &str,
    mode: UninstallMode,
) -> Result<InstallResult, PluginError> {
    let _guard = platform.plugins.install_lock().lock().await;
    if platform.plugins.find(name).is_some() {
        return Err(PluginError::conflict(format!(
            "Plugin '{name}' is compiled into this platform binary and cannot be uninstalled; \
             list it in plugins.disabled to keep it out"
        ))
        .with_details(JsonObject::from_iter([(
            "compiled_in".to_string(),
            Value::Bool(true),
        )])));
    }
    let Some(bundle) = platform
        .plugins
        .bundles()
        .into_iter()
        .find(|b| b.name == name)
    else {
        return Err(crate::api::not_found(format!(
            "Plugin package '{name}' is not installed"
        )));
    };
    let data = match mode {
        UninstallMode::Keep => "its data was kept; a reinstall resumes it".to_string(),
        UninstallMode::Archive => {
            let tables = storage::archive_plugin_data(platform, name).await?;
            if tables.is_empty() {
                "it had no tables to archive".to_string()
            } else {
                format!("its tables were archived as {}", tables.join(", "))
            }
        }
        UninstallMode::Purge => {
            storage::purge_plugin_data(platform, name).await?;
            "its data was purged".to_string()
        }
    };
    // One statement: atomic on its own.
    let store = &platform.store;
    store
        .exec(
            store.connection(),
            "DELETE FROM installed_plugins WHERE name = $1",
            [name.into()],
        )
        .await?;
    platform.plugins.remove_bundle(name);

    let package_dir = platform
        .config
        .installed_plugins_dir()
        .join(safe_plugin_name(name));
    blocking(move || {
        if let Err(err) = std::fs::remove_dir_all(&package_dir)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %package_dir.display(), error = %err,
                "cannot remove the uninstalled package's files");
        }
    })
    .await?;
    tracing::info!(plugin = %name, version = %bundle.version, ?mode, "plugin bundle uninstalled");
    Ok(InstallResult {
        success: true,
        message: format!("Uninstalled {name} {}; {data}", bundle.version),
        name: Some(name.to_string()),
        version: Some(bundle.version.clone()),
        restart_required: false,
        conflict_detected: false,
    })
}
