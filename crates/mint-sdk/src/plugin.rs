//! The [`AnalysisPlugin`] trait every plugin implements, and [`PluginCore`], the SDK-owned state
//! every plugin embeds (`spec/plugin.md` §6).
//!
//! A plugin is written once and runs standalone (no context, its own SQLite file), integrated
//! in-process (the platform's context) or isolated (a remote context). The convenience methods
//! (`save_design`, `load_analysis`, …) pick the right store for the mode.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use axum::Router;
use serde_json::{Value, json};

use crate::context::PlatformContext;
use crate::error::{JsonObject, PluginError};
use crate::lifecycle::{LifecycleHookResult, PluginHealth};
use crate::local_database::{LocalDatabase, LocalDatabaseConfig, StandaloneDataRepository};
use crate::migrations::{PluginMigration, TableDef};
use crate::models::PluginMetadata;
use crate::repositories::{DesignData, PluginAnalysisResult, PluginDataRepository};
use crate::settings::SettingsModel;

/// SDK-owned state of one plugin instance: the bound context, the standalone database and the
/// "no store" warning flag. Embed one in your plugin and return it from
/// [`AnalysisPlugin::core`].
#[derive(Debug, Default)]
pub struct PluginCore {
    context: RwLock<Option<PlatformContext>>,
    standalone_db: RwLock<Option<LocalDatabase>>,
    warned_no_store: AtomicBool,
    initialization_started: AtomicBool,
    settings: RwLock<Option<JsonObject>>,
    settings_path: RwLock<Option<PathBuf>>,
}

impl PluginCore {
    /// A core with no context and no database (the state before the host starts the plugin).
    pub fn new() -> Self {
        Self::default()
    }

    /// The bound context; `None` in standalone mode.
    pub fn context(&self) -> Option<PlatformContext> {
        self.context.read().ok().and_then(|c| c.clone())
    }

    /// Binds (or clears) the context. Hosts call this before `initialize`.
    pub fn bind_context(&self, context: Option<PlatformContext>) {
        if let Ok(mut slot) = self.context.write() {
            *slot = context;
        }
    }

    /// The attached standalone database, if any.
    pub fn standalone_db(&self) -> Option<LocalDatabase> {
        self.standalone_db.read().ok().and_then(|d| d.clone())
    }

    fn set_standalone_db(&self, db: Option<LocalDatabase>) {
        if let Ok(mut slot) = self.standalone_db.write() {
            *slot = db;
        }
    }

    /// Marks that the host reached `initialize` (so a failed start calls `shutdown`).
    pub(crate) fn mark_initialization_started(&self) {
        self.initialization_started.store(true, Ordering::SeqCst);
    }

    /// Whether the host reached `initialize`.
    pub fn initialization_started(&self) -> bool {
        self.initialization_started.load(Ordering::SeqCst)
    }

    /// The last committed settings, if any.
    pub fn committed_settings(&self) -> Option<JsonObject> {
        self.settings.read().ok().and_then(|s| s.clone())
    }

    fn commit_settings(&self, settings: JsonObject) {
        if let Ok(mut slot) = self.settings.write() {
            *slot = Some(settings);
        }
    }

    /// Sets where standalone settings are stored (hosts call this; default
    /// `~/.mint/plugins/<safe name>/config.json`).
    pub fn set_settings_path(&self, path: Option<PathBuf>) {
        if let Ok(mut slot) = self.settings_path.write() {
            *slot = path;
        }
    }

    /// The standalone settings file set by the host, if any.
    pub fn settings_path(&self) -> Option<PathBuf> {
        self.settings_path.read().ok().and_then(|p| p.clone())
    }
}

/// Where the convenience methods read and write.
enum Store {
    Repo(Arc<dyn PluginDataRepository>),
    None,
}

/// The plugin contract (seed `AnalysisPlugin`), for analysis and experiment-design plugins.
///
/// Required: [`core`](Self::core), [`metadata`](Self::metadata), [`routers`](Self::routers).
/// Everything else has the spec's default. Hosts bind the context into the core *before*
/// calling [`initialize`](Self::initialize), so `is_standalone()` is right even in overrides.
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, routing::get};
/// use mint_sdk::{AnalysisPlugin, PluginCore, PluginMetadata};
///
/// struct Hello { core: PluginCore }
///
/// impl AnalysisPlugin for Hello {
///     fn core(&self) -> &PluginCore { &self.core }
///     fn metadata(&self) -> PluginMetadata {
///         PluginMetadata::new("hello", "0.1.0", "Says hello", "demo", "/hello")
///     }
///     fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
///         vec![(Router::new().route("/hi", get(|| async { "hi" })), String::new())]
///     }
/// }
/// ```
#[async_trait]
pub trait AnalysisPlugin: Send + Sync + 'static {
    /// The SDK-owned state embedded in the plugin.
    fn core(&self) -> &PluginCore;

    /// Identity and capabilities. Called often: keep it cheap and deterministic.
    fn metadata(&self) -> PluginMetadata;

    /// The plugin's routers and their sub-prefixes (seed `get_routers`); each is mounted at
    /// `/api{routes_prefix}{sub_prefix}` in every mode. Routers must not carry the prefix.
    /// Takes `Arc<Self>` so handlers can hold the plugin (for `save_analysis` and friends).
    fn routers(self: Arc<Self>) -> Vec<(Router, String)>;

    /// Awaited once before any request is served; `None` means standalone. The host has
    /// already bound `context` into the core. An error aborts the start.
    async fn initialize(&self, context: Option<PlatformContext>) -> Result<(), PluginError> {
        let _ = context;
        Ok(())
    }

    /// Awaited once at stop.
    async fn shutdown(&self) -> Result<(), PluginError> {
        Ok(())
    }

    /// Health report, asked periodically by the platform. Default: healthy.
    async fn check_health(&self) -> Result<PluginHealth, PluginError> {
        Ok(PluginHealth::default())
    }

    /// Called before any experiment write; `success = false` vetoes it. Default: success.
    async fn on_before_experiment_save(
        &self,
        experiment_id: i64,
        data: &JsonObject,
    ) -> Result<LifecycleHookResult, PluginError> {
        let _ = (experiment_id, data);
        Ok(LifecycleHookResult::default())
    }

    /// Called after a successful experiment write. Default: nothing.
    async fn on_after_experiment_save(
        &self,
        experiment_id: i64,
        data: &JsonObject,
    ) -> Result<(), PluginError> {
        let _ = (experiment_id, data);
        Ok(())
    }

    /// Called when an experiment's status changes. Default: nothing.
    async fn on_experiment_status_change(
        &self,
        experiment_id: i64,
        old_status: &str,
        new_status: &str,
    ) -> Result<(), PluginError> {
        let _ = (experiment_id, old_status, new_status);
        Ok(())
    }

    /// The crate directory the frontend is looked for in (plugin.md §6.9); plugins return
    /// `Some(env!("CARGO_MANIFEST_DIR").into())`. Default `None`.
    fn source_dir(&self) -> Option<PathBuf> {
        None
    }

    /// The built frontend: `<source_dir>/frontend/dist` when it exists, else `None`.
    fn frontend_dir(&self) -> Option<PathBuf> {
        let dir = self.source_dir()?.join("frontend").join("dist");
        dir.is_dir().then_some(dir)
    }

    /// `{"name", "version", "routePrefix", "analysisType"}` plus `icon` when non-empty.
    fn frontend_config(&self) -> JsonObject {
        let m = self.metadata();
        let mut out = JsonObject::new();
        out.insert("name".into(), m.name.into());
        out.insert("version".into(), m.version.into());
        out.insert("routePrefix".into(), m.routes_prefix.into());
        out.insert("analysisType".into(), m.analysis_type.into());
        if !m.icon.is_empty() {
            out.insert("icon".into(), m.icon.into());
        }
        out
    }

    /// `(min, max)` platform versions this plugin works with; `None` = any.
    fn compatible_platform_versions(&self) -> Option<(String, String)> {
        None
    }

    /// The plugin's migrations (seed `get_migrations_package()`, migrations.md §4.9), built
    /// with [`migrations!`](crate::migrations!). Default: none, so the tables come from
    /// [`shared_models`](Self::shared_models), created if missing.
    fn migrations(&self) -> Vec<Box<dyn PluginMigration>> {
        Vec::new()
    }

    /// The plugin's shared-model tables (seed `get_shared_models()`, plugin.md §6.2). Without
    /// migrations they are created if missing; with migrations they only serve adoption and
    /// the conformance check (migrations.md §1). Default: none.
    fn shared_models(&self) -> Vec<TableDef> {
        Vec::new()
    }

    // ----- settings (plugin.md §6.7) -----------------------------------------------------------

    /// The plugin's typed settings (`SettingsModel::of::<T>()`); `None` = untyped settings.
    fn settings_model(&self) -> Option<SettingsModel> {
        None
    }

    /// Whether the SDK mounts its settings routes (default true; only with a settings model).
    ///
    /// The routes, under `/api{prefix}/settings` (app-testing-export.md §1.4):
    /// - `GET` → `{"settings": {…}, "mode": "standalone"|"integrated"}` (secret fields `null`);
    /// - `PUT` (the whole settings object) → [`save_settings`](Self::save_settings), answers the
    ///   `GET` shape; invalid values → `422` with code `validation.error` and
    ///   `details: [{"field", "message": "Invalid value", "type": "value_error"}]` (the input is
    ///   never echoed);
    /// - `POST /reset` → saves the model's defaults, `{"success": true, "settings", "mode"}`;
    /// - `GET /schema` → `{"groups": [{"id": "settings", "label", "columns": 1, "fields":
    ///   configurable_settings()}]}`;
    /// - `GET /mode` → `{"mode", "has_database"}`.
    ///
    /// Integrated, reading needs the platform permission `plugins.view` and changing needs
    /// `plugins.configure` (403 `Missing permission: <perm>`; platform admins pass); standalone
    /// they are open.
    fn sdk_settings_routes(&self) -> bool {
        true
    }

    /// The current settings: the last committed value, else the model's defaults, else `{}`.
    ///
    /// Errors: `Validation` when nothing is committed and the model has required fields.
    fn settings(&self) -> Result<JsonObject, PluginError> {
        if let Some(s) = self.core().committed_settings() {
            return Ok(s);
        }
        match self.settings_model() {
            Some(model) => model.defaults(),
            None => Ok(JsonObject::new()),
        }
    }

    /// The current settings as the model type `T`.
    fn settings_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, PluginError>
    where
        Self: Sized,
    {
        serde_json::from_value(Value::Object(self.settings()?))
            .map_err(|e| PluginError::validation(format!("Settings do not fit the type: {e}")))
    }

    /// Validates `value` against the model and commits its normalized form; without a model,
    /// `value` must be an object and is committed as is. Replaces, never merges. On error the
    /// old settings stay.
    fn apply_settings(&self, value: &Value) -> Result<(), PluginError> {
        let normalized = validate_settings(self.settings_model().as_ref(), value)?;
        self.core().commit_settings(normalized);
        Ok(())
    }

    /// Validates, persists (integrated: the platform's config store for the model's keys;
    /// standalone: the settings file), then commits `value`, and returns the normalized value.
    /// A secret key that is absent or `null` keeps its stored value.
    ///
    /// Errors: `Validation` for invalid data (nothing changes); persistence errors leave the
    /// in-memory settings unchanged.
    async fn save_settings(&self, value: Value) -> Result<JsonObject, PluginError> {
        let model = self.settings_model();
        let mut value = value;
        if let (Some(model), Some(obj)) = (&model, value.as_object_mut()) {
            let current = self.settings().unwrap_or_default();
            for key in model.secret_keys() {
                if obj.get(&key).is_none_or(Value::is_null)
                    && let Some(old) = current.get(&key)
                {
                    obj.insert(key, old.clone());
                }
            }
        }
        let normalized = validate_settings(model.as_ref(), &value)?;
        match self.context() {
            Some(ctx) => {
                let owned = match &model {
                    Some(m) => m.property_names(),
                    None => normalized.keys().cloned().collect(),
                };
                ctx.set_plugin_config(normalized.clone(), owned).await?;
            }
            None => {
                let path = standalone_settings_path(self);
                crate::settings::write_settings_file(&path, &normalized)?;
            }
        }
        self.core().commit_settings(normalized.clone());
        Ok(normalized)
    }

    /// The settings form description (seed `get_configurable_settings`); `[]` without a model.
    fn configurable_settings(&self) -> Vec<JsonObject> {
        self.settings_model()
            .map(|m| m.configurable_settings())
            .unwrap_or_default()
    }

    // ----- provided: properties -------------------------------------------------------------

    /// The bound context; `None` standalone.
    fn context(&self) -> Option<PlatformContext> {
        self.core().context()
    }

    /// True when no context is bound.
    fn is_standalone(&self) -> bool {
        self.core().context().is_none()
    }

    /// The plugin id: always `metadata().name`.
    fn plugin_id(&self) -> String {
        self.metadata().name
    }

    /// The attached standalone database, `None` until set up.
    fn standalone_db(&self) -> Option<LocalDatabase> {
        self.core().standalone_db()
    }

    // ----- provided: standalone database helpers ---------------------------------------------

    /// Attaches and initializes the standalone SQLite database at `storage_dir` (default
    /// `~/.mint/plugins/<safe name>`), file `data.db`, and creates the
    /// [`shared_models`](Self::shared_models) tables when the plugin has no
    /// [`migrations`](Self::migrations) (with migrations a fresh database is migrated by the
    /// host, never built from the models). A second call is a no-op (plugin.md §6.6).
    async fn setup_standalone_db(&self, storage_dir: Option<PathBuf>) -> Result<(), PluginError> {
        if let Some(db) = self.core().standalone_db() {
            if db.is_initialized() {
                return Ok(());
            }
            db.close().await?;
        }
        let config = LocalDatabaseConfig {
            storage_dir,
            ..Default::default()
        };
        let db = LocalDatabase::new(&self.metadata().name, Some(config));
        db.initialize().await?;
        if self.migrations().is_empty()
            && let Err(err) = db.create_model_tables(&self.shared_models()).await
        {
            let _ = db.close().await;
            return Err(err);
        }
        self.core().set_standalone_db(Some(db));
        Ok(())
    }

    /// Closes and detaches the standalone database; no-op when none.
    async fn teardown_standalone_db(&self) -> Result<(), PluginError> {
        let db = self.core().standalone_db();
        self.core().set_standalone_db(None);
        if let Some(db) = db {
            db.close().await?;
        }
        Ok(())
    }

    /// A transaction on the plugin's own tables (seed `get_plugin_db_session`): the context's
    /// shared session when integrated, else the standalone database's. Commit it when done.
    ///
    /// Errors: `Configuration` when neither exists.
    async fn plugin_db_session(&self) -> Result<sea_orm::DatabaseTransaction, PluginError> {
        if let Some(ctx) = self.context() {
            return ctx.shared_db_session().await;
        }
        match self.standalone_db() {
            Some(db) => db.session().await,
            None => Err(PluginError::configuration(
                "Standalone database not initialized. Call setup_standalone_db() in initialize().",
            )
            .with_config_key("local_database")),
        }
    }

    // ----- provided: convenience persistence (plugin.md §6.4) ---------------------------------

    /// Upserts the experiment's design data owned by this plugin. `schema_version` `None` or
    /// empty uses `metadata().schema_version`. `None` when there is no store (standalone
    /// before `setup_standalone_db`, or integrated without `requires_database`) — a handler
    /// should then answer an error, e.g. `PluginError::configuration`.
    ///
    /// Errors: only experiment-design plugins may write design data — others get
    /// `Permission` (403, `required_permission` `design_data.write`); design data owned by
    /// another plugin is a 409 `DESIGN_DATA_OWNERSHIP_CONFLICT`.
    async fn save_design(
        &self,
        experiment_id: i64,
        data: JsonObject,
        schema_version: Option<&str>,
    ) -> Result<Option<DesignData>, PluginError> {
        let meta = self.metadata();
        let version = schema_version
            .filter(|v| !v.is_empty())
            .unwrap_or(&meta.schema_version)
            .to_string();
        match store_of(self) {
            Store::Repo(repo) => repo
                .save_experiment_data(experiment_id, &meta.name, data, &version)
                .await
                .map(Some),
            Store::None => Ok(None),
        }
    }

    /// The experiment's design data, whoever owns it.
    async fn load_design(&self, experiment_id: i64) -> Result<Option<DesignData>, PluginError> {
        match store_of(self) {
            Store::Repo(repo) => repo.get_experiment_data(experiment_id).await,
            Store::None => Ok(None),
        }
    }

    /// Deletes the experiment's design data; `true` iff a row was removed.
    async fn delete_design(&self, experiment_id: i64) -> Result<bool, PluginError> {
        match store_of(self) {
            Store::Repo(repo) => repo.delete_experiment_data(experiment_id).await,
            Store::None => Ok(false),
        }
    }

    /// Upserts this plugin's analysis result for the experiment (`None` when there is no store).
    ///
    /// Errors: only analysis plugins may write analysis results — experiment-design plugins get
    /// `Permission` (403, `required_permission` `analysis_results.write`).
    async fn save_analysis(
        &self,
        experiment_id: i64,
        result: JsonObject,
    ) -> Result<Option<PluginAnalysisResult>, PluginError> {
        let owner = self.plugin_id();
        match store_of(self) {
            Store::Repo(repo) => repo
                .save_analysis_result(experiment_id, &owner, result)
                .await
                .map(Some),
            Store::None => Ok(None),
        }
    }

    /// This plugin's analysis result for the experiment.
    async fn load_analysis(
        &self,
        experiment_id: i64,
    ) -> Result<Option<PluginAnalysisResult>, PluginError> {
        let owner = self.plugin_id();
        match store_of(self) {
            Store::Repo(repo) => repo.get_analysis_result(experiment_id, &owner).await,
            Store::None => Ok(None),
        }
    }

    /// Deletes this plugin's analysis result; `true` iff a row was removed.
    async fn delete_analysis(&self, experiment_id: i64) -> Result<bool, PluginError> {
        let owner = self.plugin_id();
        match store_of(self) {
            Store::Repo(repo) => repo.delete_analysis_result(experiment_id, &owner).await,
            Store::None => Ok(false),
        }
    }

    /// Saves design (first) and analysis, each only when `Some`. A failed design save stops
    /// before the analysis.
    async fn save(
        &self,
        experiment_id: i64,
        design: Option<JsonObject>,
        analysis: Option<JsonObject>,
        schema_version: Option<&str>,
    ) -> Result<(Option<DesignData>, Option<PluginAnalysisResult>), PluginError> {
        let design = match design {
            Some(d) => self.save_design(experiment_id, d, schema_version).await?,
            None => None,
        };
        let analysis = match analysis {
            Some(a) => self.save_analysis(experiment_id, a).await?,
            None => None,
        };
        Ok((design, analysis))
    }

    /// `load_design` then `load_analysis`.
    async fn load(
        &self,
        experiment_id: i64,
    ) -> Result<(Option<DesignData>, Option<PluginAnalysisResult>), PluginError> {
        Ok((
            self.load_design(experiment_id).await?,
            self.load_analysis(experiment_id).await?,
        ))
    }

    /// The plugin's metadata JSON as `metadata --json` prints it (cli.md §2): the metadata
    /// fields plus `migrations` and `settings_schema`.
    fn manifest(&self) -> Value {
        let mut v = json!(self.metadata());
        if let Some(obj) = v.as_object_mut() {
            let mut migrations: Vec<(u32, &'static str)> = self
                .migrations()
                .iter()
                .map(|m| (m.version(), m.name()))
                .collect();
            migrations.sort_unstable();
            let migrations: Vec<Value> = migrations
                .into_iter()
                .map(|(version, name)| json!({"version": version, "name": name}))
                .collect();
            obj.insert("migrations".into(), Value::Array(migrations));
            obj.insert(
                "settings_schema".into(),
                self.settings_model()
                    .map(|m| m.schema().clone())
                    .unwrap_or(Value::Null),
            );
        }
        v
    }

    /// The analysis result `data` as a tree for the platform's tree viewer (plugin.md §6.8).
    /// Default: [`auto_json_to_tree(data, true)`](crate::export::auto_json_to_tree), the
    /// compact tree. Override to present a result shape the generic tree shows poorly.
    fn export_tree(&self, data: &JsonObject) -> Vec<crate::export::TreeNode> {
        crate::export::auto_json_to_tree(data, true)
    }

    /// The analysis result `data` as `{"metadata": {…}, "sections": […]}` (plugin.md §6.8).
    /// Default: [`auto_json_to_summary`](crate::export::auto_json_to_summary). Override to
    /// choose the metadata and tables yourself; keep the shape.
    fn export_summary(&self, data: &JsonObject) -> Value {
        crate::export::auto_json_to_summary(data)
    }

    /// The analysis result `data` as CSV text (plugin.md §6.8). Default:
    /// [`auto_json_to_csv`](crate::export::auto_json_to_csv) (its tables, or `key,value`
    /// records). Override to write a result's own table with its own header.
    fn export_csv(&self, data: &JsonObject) -> String {
        crate::export::auto_json_to_csv(data)
    }
}

/// The standalone settings file: the one the host set, else
/// `~/.mint/plugins/<safe name>/config.json`.
pub(crate) fn standalone_settings_path<P: AnalysisPlugin + ?Sized>(plugin: &P) -> PathBuf {
    plugin.core().settings_path().unwrap_or_else(|| {
        crate::local_database::plugin_data_dir(&plugin.metadata().name)
            .join(crate::settings::SETTINGS_FILE_NAME)
    })
}

/// Validates settings with the model, or checks they are an object without one.
fn validate_settings(
    model: Option<&SettingsModel>,
    value: &Value,
) -> Result<JsonObject, PluginError> {
    match (model, value) {
        (Some(m), v) => m.validate(v),
        (None, Value::Object(map)) => Ok(map.clone()),
        (None, _) => {
            Err(PluginError::validation("Settings must be a JSON object").with_field("__root__"))
        }
    }
}

/// Picks the store of the current mode, warning once when there is none.
fn store_of<P: AnalysisPlugin + ?Sized>(plugin: &P) -> Store {
    let repo: Option<Arc<dyn PluginDataRepository>> = match plugin.context() {
        Some(ctx) => ctx.plugin_data_repository(),
        None => plugin.standalone_db().map(|db| {
            let meta = plugin.metadata();
            Arc::new(StandaloneDataRepository::new(
                db,
                &meta.name,
                meta.plugin_type,
            )) as Arc<dyn PluginDataRepository>
        }),
    };
    match repo {
        Some(r) => Store::Repo(r),
        None => {
            if !plugin.core().warned_no_store.swap(true, Ordering::SeqCst) {
                tracing::warn!(
                    target: "mint.sdk",
                    plugin = %plugin.metadata().name,
                    "No data store: design data and analysis results are not persisted \
                     (standalone without a database, or integrated without requires_database)"
                );
            }
            Store::None
        }
    }
}

/// The plugin serving a request, placed in the request extensions by every SDK-built app so
/// extractors can reach its context.
#[derive(Clone)]
pub struct BoundPlugin {
    /// The plugin.
    pub plugin: Arc<dyn AnalysisPlugin>,
}
