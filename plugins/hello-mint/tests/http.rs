//! hello-mint through HTTP, standalone and with a platform context.

use std::sync::Arc;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use hello_mint::HelloMintPlugin;
use http_body_util::BodyExt;
use mint_sdk::context::PlatformContextImpl;
use mint_sdk::repositories::{ExperimentFilter, ExperimentUpdate, NewExperiment, now_utc};
use mint_sdk::serde_json::{Value, json};
use mint_sdk::{
    AnalysisPlugin, CurrentUser, Experiment, ExperimentRepository, JsonObject, PlatformContext,
    PluginError, StandaloneOptions, create_standalone_app,
};
use tower::ServiceExt;

async fn get(plugin: Arc<HelloMintPlugin>, uri: &str) -> (StatusCode, Value) {
    let router = create_standalone_app(plugin, StandaloneOptions::default())
        .expect("valid metadata")
        .router();
    let resp = router
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        mint_sdk::serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn health_is_ok() {
    let (status, body) = get(Arc::new(HelloMintPlugin::new()), "/api/hello-mint/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn standalone_experiment_is_a_stub() {
    let (status, body) = get(
        Arc::new(HelloMintPlugin::new()),
        "/api/hello-mint/experiments/42",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"experiment_id": 42, "name": "(standalone stub)", "status": "unknown"})
    );
}

#[tokio::test]
async fn a_non_numeric_experiment_id_is_a_422() {
    let (status, body) = get(
        Arc::new(HelloMintPlugin::new()),
        "/api/hello-mint/experiments/abc",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "validation.request");
    assert_eq!(body["details"][0]["field"], "experiment_id");
    assert_eq!(body["details"][0]["message"], "'abc' is not an integer");
}

/// A platform context holding a fixed list of experiments.
struct Platform {
    experiments: Vec<Experiment>,
}

#[mint_sdk::async_trait]
impl ExperimentRepository for Platform {
    async fn get_by_id(&self, id: i64) -> Result<Option<Experiment>, PluginError> {
        Ok(self.experiments.iter().find(|e| e.id == id).cloned())
    }
    async fn list_all(&self, _f: ExperimentFilter) -> Result<(Vec<Experiment>, u64), PluginError> {
        Ok((self.experiments.clone(), self.experiments.len() as u64))
    }
    async fn create(&self, _e: NewExperiment) -> Result<Experiment, PluginError> {
        Err(mint_sdk::repositories::analysis_cannot_modify_experiments())
    }
    async fn update(
        &self,
        _id: i64,
        _u: ExperimentUpdate,
    ) -> Result<Option<Experiment>, PluginError> {
        Err(mint_sdk::repositories::analysis_cannot_modify_experiments())
    }
    async fn delete(&self, _id: i64) -> Result<bool, PluginError> {
        Err(mint_sdk::repositories::analysis_cannot_modify_experiments())
    }
    async fn has_design_data(&self, _id: i64) -> Result<bool, PluginError> {
        Ok(false)
    }
}

struct Context(Arc<Platform>);

#[mint_sdk::async_trait]
impl PlatformContextImpl for Context {
    fn plugin_id(&self) -> Option<String> {
        Some("hello-mint".into())
    }
    fn is_authenticated(&self) -> bool {
        false
    }
    async fn resolve_user(&self, _parts: &Parts) -> Result<Option<CurrentUser>, PluginError> {
        Ok(None)
    }
    fn user_repository(&self) -> Option<Arc<dyn mint_sdk::UserRepository>> {
        None
    }
    fn experiment_repository(&self) -> Option<Arc<dyn ExperimentRepository>> {
        Some(self.0.clone())
    }
    fn plugin_data_repository(&self) -> Option<Arc<dyn mint_sdk::PluginDataRepository>> {
        None
    }
    fn plugin_role_repository(&self) -> Option<Arc<dyn mint_sdk::PluginRoleRepository>> {
        None
    }
    fn config(&self) -> mint_sdk::PlatformConfig {
        JsonObject::new()
    }
    async fn plugin_config(&self) -> Result<JsonObject, PluginError> {
        Ok(JsonObject::new())
    }
    async fn set_plugin_config(&self, _s: JsonObject, _k: Vec<String>) -> Result<(), PluginError> {
        Ok(())
    }
    async fn shared_db_session(
        &self,
    ) -> Result<mint_sdk::sea_orm::DatabaseTransaction, PluginError> {
        Err(PluginError::configuration("not provided"))
    }
}

fn integrated_plugin() -> Arc<HelloMintPlugin> {
    let experiment = Experiment {
        id: 7,
        name: "TCA cycle standards".into(),
        experiment_type: "lcms".into(),
        status: "ongoing".into(),
        created_at: now_utc(),
        updated_at: now_utc(),
        created_by: Some(1),
        parent_experiment_id: None,
        project: Some("Metabolomics".into()),
        notes: None,
        tags: JsonObject::new(),
        custom_metadata: JsonObject::new(),
        start_date: None,
        end_date: None,
    };
    let plugin = Arc::new(HelloMintPlugin::new());
    let platform = Arc::new(Platform {
        experiments: vec![experiment],
    });
    plugin
        .core()
        .bind_context(Some(PlatformContext::new(Context(platform))));
    plugin
}

#[tokio::test]
async fn integrated_experiment_is_read_through_the_repository() {
    let (status, body) = get(integrated_plugin(), "/api/hello-mint/experiments/7").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"experiment_id": 7, "name": "TCA cycle standards", "status": "ongoing", "experiment_type": "lcms"})
    );
}

#[tokio::test]
async fn an_unknown_experiment_is_a_404_envelope() {
    let (status, body) = get(integrated_plugin(), "/api/hello-mint/experiments/8").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "NOT_FOUND");
    assert_eq!(
        body["details"],
        json!({"entity_id": "8", "operation": "get", "entity": "experiment"})
    );
}
