//! The bench plugin and the bare-axum router through HTTP (in process), standalone on a
//! temporary SQLite database: the routes answer what `bench/run` expects of them.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mint_bench::BenchPlugin;
use mint_sdk::serde_json::{Value, json};
use mint_sdk::{StandaloneApp, StandaloneOptions, create_standalone_app};
use tower::ServiceExt;

/// The plugin started standalone with its database in `dir`.
async fn started_app(dir: &tempfile::TempDir) -> StandaloneApp {
    let options = StandaloneOptions {
        data_dir: Some(dir.path().join("db")),
        settings_path: Some(dir.path().join("config.json")),
        ..Default::default()
    };
    let app = create_standalone_app(Arc::new(BenchPlugin::new()), options).expect("valid metadata");
    app.start().await.expect("plugin starts");
    app
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let resp = router.clone().oneshot(request).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        mint_sdk::serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post_json(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn ping_answers_ok_on_the_plugin_and_on_bare_axum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = started_app(&dir).await;
    for router in [app.router(), mint_bench::bare::router()] {
        let (status, body) = call(&router, get("/api/bench/ping")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"ok": true}));
    }
}

#[tokio::test]
async fn a_written_row_is_read_back_with_its_new_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = started_app(&dir).await.router();
    let first = call(
        &router,
        post_json("/api/bench/rows", json!({"name": "a", "value": 1})),
    )
    .await;
    let second = call(
        &router,
        post_json("/api/bench/rows", json!({"name": "b", "value": -7})),
    )
    .await;
    assert_eq!(
        first,
        (StatusCode::OK, json!({"id": 1, "name": "a", "value": 1}))
    );
    assert_eq!(
        second,
        (StatusCode::OK, json!({"id": 2, "name": "b", "value": -7}))
    );
}

#[tokio::test]
async fn a_row_without_a_value_is_a_validation_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = started_app(&dir).await.router();
    let (status, body) = call(&router, post_json("/api/bench/rows", json!({"name": "a"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "validation.request");
}

#[tokio::test]
async fn an_analysis_result_is_saved_and_loaded_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = started_app(&dir).await.router();
    let result =
        json!({"peaks": [{"label": "ADENOSINE", "area": 2430255145_i64}], "status": "done"});
    let saved = call(&router, post_json("/api/bench/analysis/5", result.clone())).await;
    assert_eq!(saved, (StatusCode::OK, result));
    let replaced = call(
        &router,
        post_json("/api/bench/analysis/5", json!({"status": "redo"})),
    )
    .await;
    assert_eq!(replaced, (StatusCode::OK, json!({"status": "redo"})));
}
