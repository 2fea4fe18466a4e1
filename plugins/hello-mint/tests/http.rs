//! hello-mint through HTTP, standalone and on an in-memory platform (`RecordingContext`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hello_mint::HelloMintPlugin;
use http_body_util::BodyExt;
use mint_sdk::serde_json::{Value, json};
use mint_sdk::testing::RecordingContext;
use mint_sdk::{AnalysisPlugin, JsonObject, PluginType, StandaloneOptions, create_standalone_app};
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

/// hello-mint on an in-memory platform holding experiment 7, as the analysis plugin it is.
fn recording_context() -> RecordingContext {
    RecordingContext::builder()
        .plugin_id("hello-mint")
        .plugin_type(PluginType::Analysis)
        .experiments([json!({
            "id": 7, "name": "TCA cycle standards", "experiment_type": "lcms",
            "status": "ongoing", "created_by": 1, "project": "Metabolomics"
        })])
        .build()
        .expect("valid seeds")
}

/// hello-mint started the way a host starts it: context bound into the core, then `initialize`.
async fn integrated_plugin(ctx: &RecordingContext) -> Arc<HelloMintPlugin> {
    let plugin = Arc::new(HelloMintPlugin::new());
    plugin.core().bind_context(Some(ctx.context()));
    plugin
        .initialize(Some(ctx.context()))
        .await
        .expect("initialize");
    plugin
}

#[tokio::test]
async fn integrated_experiment_is_read_through_the_repository() {
    let ctx = recording_context();
    let (status, body) = get(
        integrated_plugin(&ctx).await,
        "/api/hello-mint/experiments/7",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"experiment_id": 7, "name": "TCA cycle standards", "status": "ongoing", "experiment_type": "lcms"})
    );
    let calls = ctx.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "experiments.get_by_id");
    assert_eq!(calls[0].args["experiment_id"], 7);
}

#[tokio::test]
async fn an_unknown_experiment_is_a_404_envelope() {
    let (status, body) = get(
        integrated_plugin(&recording_context()).await,
        "/api/hello-mint/experiments/8",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "NOT_FOUND");
    assert_eq!(
        body["details"],
        json!({"entity_id": "8", "operation": "get", "entity": "experiment"})
    );
}

#[tokio::test]
async fn an_analysis_result_is_saved_then_loaded_through_the_platform() {
    let ctx = recording_context();
    let plugin = integrated_plugin(&ctx).await;
    let result = json!({"peaks": 12, "summary": "ok"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let saved = plugin
        .save_analysis(7, result.clone())
        .await
        .expect("analysis plugins may write results")
        .expect("the platform stores it");
    assert_eq!(
        (saved.experiment_id, saved.plugin_id.as_str()),
        (7, "hello-mint")
    );
    let loaded = plugin.load_analysis(7).await.expect("load");
    assert_eq!(loaded.as_ref().map(|r| &r.result), Some(&result));
    assert_eq!(ctx.analysis_results(), [saved]);
    let methods: Vec<String> = ctx.calls().into_iter().map(|c| c.method).collect();
    assert_eq!(
        methods,
        [
            "plugin_data.save_analysis_result",
            "plugin_data.get_analysis_result"
        ]
    );
}

#[tokio::test]
async fn a_design_data_write_is_refused_with_403() {
    let ctx = recording_context();
    let plugin = integrated_plugin(&ctx).await;
    let err = plugin
        .save_design(7, JsonObject::new(), None)
        .await
        .expect_err("an analysis plugin cannot write design data");
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(err.code(), "PERMISSION_DENIED");
    assert_eq!(err.details()["required_permission"], "design_data.write");
    assert!(ctx.design_data().is_empty());
    assert_eq!(ctx.calls()[0].method, "plugin_data.save_experiment_data");
}
