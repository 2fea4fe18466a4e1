//! `hello-mint`: the smallest useful MINT analysis plugin.
//!
//! Routes (under `/api/hello-mint`):
//! - `GET /health` → `{"status": "ok"}`.
//! - `GET /experiments/{experiment_id}` → `{experiment_id, name, status, experiment_type}` read
//!   through the platform's experiment repository; standalone (no platform) it answers
//!   `{experiment_id, "name": "(standalone stub)", "status": "unknown"}`. An unknown experiment
//!   is a 404 `NOT_FOUND` envelope.
//!
//! It shows the shape every plugin has: a struct embedding [`PluginCore`], an
//! [`AnalysisPlugin`] impl, and routers whose handlers hold the plugin.
#![forbid(unsafe_code)]

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use mint_sdk::extract::{Json, Path};
use mint_sdk::serde_json::{Value, json};
use mint_sdk::{AnalysisPlugin, PluginCapabilities, PluginCore, PluginError, PluginMetadata};

/// The hello-mint plugin.
#[derive(Debug, Default)]
pub struct HelloMintPlugin {
    core: PluginCore,
}

impl HelloMintPlugin {
    /// A new, not yet started plugin.
    pub fn new() -> Self {
        Self::default()
    }
}

#[mint_sdk::async_trait]
impl AnalysisPlugin for HelloMintPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        let mut meta = PluginMetadata::new(
            "hello-mint",
            env!("CARGO_PKG_VERSION"),
            "Minimal MINT plugin: a health route and an experiment summary",
            "demo",
            "/hello-mint",
        );
        meta.capabilities = PluginCapabilities {
            requires_experiments: true,
            ..Default::default()
        };
        meta.license = "Apache-2.0".into();
        meta
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        let router = Router::new()
            .route("/health", get(health))
            .route("/experiments/{experiment_id}", get(experiment_summary))
            .with_state(self);
        vec![(router, String::new())]
    }

    fn source_dir(&self) -> Option<std::path::PathBuf> {
        Some(env!("CARGO_MANIFEST_DIR").into())
    }
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn experiment_summary(
    State(plugin): State<Arc<HelloMintPlugin>>,
    Path(experiment_id): Path<i64>,
) -> Result<Json<Value>, PluginError> {
    let Some(ctx) = plugin.context() else {
        return Ok(Json(json!({
            "experiment_id": experiment_id,
            "name": "(standalone stub)",
            "status": "unknown",
        })));
    };
    let repo = ctx.experiment_repository().ok_or_else(|| {
        PluginError::configuration("The platform did not provide an experiment repository")
            .with_config_key("requires_experiments")
    })?;
    let experiment = repo.get_by_id(experiment_id).await?.ok_or_else(|| {
        PluginError::not_found(format!("Experiment {experiment_id} not found"))
            .with_entity("experiment")
            .with_entity_id(experiment_id)
    })?;
    Ok(Json(json!({
        "experiment_id": experiment.id,
        "name": experiment.name,
        "status": experiment.status,
        "experiment_type": experiment.experiment_type,
    })))
}
