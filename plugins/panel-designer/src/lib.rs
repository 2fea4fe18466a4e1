//! `panel-designer`: an experiment-design plugin for drug panels (oncology).
//!
//! A panel is a named list of drugs, each with its doses in µM, belonging to one experiment.
//! Panels live in the plugin's own `panels` table (migration v001; v002 adds the nullable
//! `tags` column), reached through
//! [`plugin_db_session`](AnalysisPlugin::plugin_db_session): the standalone SQLite file, or
//! the platform's per-plugin schema when integrated (`requires_shared_database`).
//!
//! Routes (under `/api/panel-designer`):
//!
//! | Route | Answer | Guard |
//! |---|---|---|
//! | `POST /panels` | 201, the panel | plugin role `editor` or `admin` |
//! | `GET /panels/{experiment_id}` | the experiment's panels, a bare list, oldest first | signed-in user |
//! | `GET /panels/by-id/{panel_id}` | the panel | signed-in user |
//! | `PATCH /panels/by-id/{panel_id}` | the panel after the change | plugin role `editor` or `admin` |
//! | `DELETE /panels/by-id/{panel_id}` | 204 | plugin role `editor` or `admin` |
//! | `GET /me/role` | `{user_id, username, role, plugin_role}` | signed-in user |
//!
//! Platform admins pass every guard; standalone, the synthetic standalone user passes too
//! (`spec/context-and-data.md` §3). Every write updates the experiment's design data to
//! `{"panel_count": n}` after the table change is committed. A second panel with the same
//! name (exact, after trimming) in one experiment is a 409 `CONFLICT` with
//! `details.conflict_field = "name"`; bad input is a 400 `VALIDATION_ERROR` whose
//! `details.field` is the dotted path of the bad value (`drugs.1.doses_uM.0`).
#![forbid(unsafe_code)]

pub mod migrations;
pub mod model;
mod routes;
pub mod store;

use std::sync::Arc;

use axum::Router;
use mint_sdk::migrations::PluginMigration;
use mint_sdk::sea_orm::DatabaseTransaction;
use mint_sdk::{
    AnalysisPlugin, JsonObject, PluginCapabilities, PluginCore, PluginError, PluginMetadata,
    PluginType,
};

pub use model::{Drug, Panel};
pub use routes::PanelEditor;

/// The plugin id, owner of its design data.
pub const PLUGIN_NAME: &str = "panel-designer";

/// Plugin roles allowed to create, change and delete panels.
pub const WRITE_ROLES: &[&str] = &["editor", "admin"];

/// The panel-designer plugin.
#[derive(Debug, Default)]
pub struct PanelDesignerPlugin {
    core: PluginCore,
    /// Serializes writes: the table change and the design-data update of one write are not
    /// interleaved with another's, so the stored `panel_count` is never stale.
    write_lock: tokio::sync::Mutex<()>,
}

impl PanelDesignerPlugin {
    /// A new, not yet started plugin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Integrated with an experiment repository: 404 unless the experiment exists.
    /// Standalone there are no experiments to check against, so any id is accepted.
    pub async fn check_experiment(&self, experiment_id: i64) -> Result<(), PluginError> {
        let Some(repo) = self.context().and_then(|c| c.experiment_repository()) else {
            return Ok(());
        };
        match repo.get_by_id(experiment_id).await? {
            Some(_) => Ok(()),
            None => Err(
                PluginError::not_found(format!("Experiment {experiment_id} not found"))
                    .with_entity("experiment")
                    .with_entity_id(experiment_id),
            ),
        }
    }

    /// Stores `{"panel_count": count}` as the experiment's design data.
    ///
    /// Errors: those of [`save_design`](AnalysisPlugin::save_design); `Configuration` when
    /// there is no design-data store.
    pub async fn record_panel_count(
        &self,
        experiment_id: i64,
        count: i64,
    ) -> Result<(), PluginError> {
        let mut data = JsonObject::new();
        data.insert("panel_count".into(), count.into());
        match self.save_design(experiment_id, data, None).await? {
            Some(_) => Ok(()),
            None => Err(PluginError::configuration(
                "No design-data store: the platform gave no data repository (requires_database)",
            )
            .with_config_key("requires_database")),
        }
    }

    pub(crate) async fn write_guard(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write_lock.lock().await
    }
}

#[mint_sdk::async_trait]
impl AnalysisPlugin for PanelDesignerPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        let mut meta = PluginMetadata::new(
            PLUGIN_NAME,
            env!("CARGO_PKG_VERSION"),
            "Design drug panels (drugs and doses in µM) for oncology experiments",
            "oncology",
            "/panel-designer",
        );
        meta.plugin_type = PluginType::ExperimentDesign;
        meta.capabilities = PluginCapabilities {
            requires_auth: true,
            requires_database: true,
            requires_experiments: true,
            requires_shared_database: true,
            ..Default::default()
        };
        meta.license = "Apache-2.0".into();
        meta
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        vec![(routes::router(self), String::new())]
    }

    fn migrations(&self) -> Vec<Box<dyn PluginMigration>> {
        mint_sdk::migrations![migrations::CreatePanels, migrations::AddTags]
    }

    fn source_dir(&self) -> Option<std::path::PathBuf> {
        Some(env!("CARGO_MANIFEST_DIR").into())
    }

    /// The SDK's session, except that an attached standalone database wins over the context.
    ///
    /// Standalone this is the default (the standalone database). Integrated, the platform never
    /// attaches one, so it is the default too (the context's shared session). The difference
    /// only shows when a caller deliberately attaches a standalone database to a plugin bound
    /// to a context — tests with a `RecordingContext`, which has no shared session, do that to
    /// exercise the table code behind the role guard.
    async fn plugin_db_session(&self) -> Result<DatabaseTransaction, PluginError> {
        if let Some(db) = self.standalone_db() {
            return db.session().await;
        }
        match self.context() {
            Some(ctx) => ctx.shared_db_session().await,
            None => Err(PluginError::configuration(
                "Standalone database not initialized. Call setup_standalone_db() in initialize().",
            )
            .with_config_key("local_database")),
        }
    }
}
