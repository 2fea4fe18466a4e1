//! Plugin settings through the trait and the SDK settings routes, standalone
//! (plugin.md §6.7, app-testing-export.md §1.4).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mint_sdk::schemars::{self, JsonSchema};
use mint_sdk::{
    AnalysisPlugin, PluginCore, PluginError, PluginMetadata, SettingsModel, StandaloneOptions,
    create_standalone_app,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

fn default_threshold() -> f64 {
    0.05
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Tuning {
    /// Cutoff
    #[serde(default = "default_threshold")]
    #[schemars(range(min = 0, max = 1))]
    threshold: f64,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    #[schemars(extend("x-mint-secret" = true))]
    api_key: Option<String>,
}

struct Tuned {
    core: PluginCore,
    typed: bool,
}

impl AnalysisPlugin for Tuned {
    fn core(&self) -> &PluginCore {
        &self.core
    }
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("tuned", "1.0.0", "settings demo", "test", "/tuned")
    }
    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        vec![]
    }
    fn settings_model(&self) -> Option<SettingsModel> {
        self.typed.then(SettingsModel::of::<Tuning>)
    }
}

fn plugin(typed: bool) -> Arc<Tuned> {
    Arc::new(Tuned {
        core: PluginCore::new(),
        typed,
    })
}

struct Setup {
    dir: tempfile::TempDir,
    plugin: Arc<Tuned>,
    router: Router,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = plugin(true);
    let options = StandaloneOptions {
        settings_path: Some(dir.path().join("config.json")),
        data_dir: Some(dir.path().to_path_buf()),
        env: Some(Default::default()),
        ..Default::default()
    };
    let router = create_standalone_app(plugin.clone(), options)
        .expect("app")
        .router();
    Setup {
        dir,
        plugin,
        router,
    }
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map(|b| Body::from(b.to_string())).unwrap_or_default())
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

#[test]
fn settings_are_model_defaults_before_any_apply_and_empty_without_a_model() {
    let typed = plugin(true);
    assert_eq!(
        Value::Object(typed.settings().expect("defaults")),
        json!({"threshold": 0.05, "label": null, "api_key": null})
    );
    assert!(plugin(false).settings().expect("untyped").is_empty());
    assert!(plugin(false).configurable_settings().is_empty());
}

#[test]
fn apply_settings_validates_and_keeps_old_settings_on_error() {
    let p = plugin(true);
    p.apply_settings(&json!({"threshold": 0.5})).expect("valid");
    for bad in [
        json!({"threshold": "0.7"}),
        json!({"threshold": 1.5}),
        json!([1]),
    ] {
        match p.apply_settings(&bad) {
            Err(PluginError::Validation { .. }) => {}
            other => panic!("{bad} must fail validation, got {other:?}"),
        }
        assert_eq!(p.settings().expect("settings")["threshold"], 0.5);
    }
    p.apply_settings(&json!({"threshold": 1}))
        .expect("1 meets a maximum of 1");
    let typed: Tuning = p.settings_as().expect("typed");
    assert_eq!(typed.threshold, 1.0);
    let untyped = plugin(false);
    untyped
        .apply_settings(&json!({"anything": [1, 2]}))
        .expect("untyped object");
    assert!(untyped.apply_settings(&json!("text")).is_err());
}

#[tokio::test]
async fn save_settings_from_plugin_code_with_invalid_data_is_a_400_validation_error() {
    let s = setup();
    let err = s
        .plugin
        .save_settings(json!({"threshold": 3}))
        .await
        .expect_err("invalid");
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    assert!(!s.dir.path().join("config.json").exists());
}

#[tokio::test]
async fn get_and_put_settings_persist_to_the_settings_file() {
    let s = setup();
    let (status, body, _) = call(&s.router, "GET", "/api/tuned/settings", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"settings": {"threshold": 0.05, "label": null, "api_key": null}, "mode": "standalone"})
    );
    let (status, body, _) = call(
        &s.router,
        "PUT",
        "/api/tuned/settings",
        Some(json!({"threshold": 0.2, "label": "run A", "api_key": "k-123"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["settings"]["threshold"], 0.2);
    assert_eq!(
        body["settings"]["api_key"],
        Value::Null,
        "secrets never shown"
    );
    let text = std::fs::read_to_string(s.dir.path().join("config.json")).expect("file");
    assert_eq!(
        text,
        "{\n  \"api_key\": \"k-123\",\n  \"label\": \"run A\",\n  \"threshold\": 0.2\n}\n"
    );
    assert_eq!(s.plugin.settings().expect("settings")["api_key"], "k-123");
}

#[tokio::test]
async fn a_put_without_the_secret_keeps_the_stored_secret() {
    let s = setup();
    s.plugin
        .save_settings(json!({"api_key": "k-1"}))
        .await
        .expect("save");
    let (status, _, _) = call(
        &s.router,
        "PUT",
        "/api/tuned/settings",
        Some(json!({"threshold": 0.3})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(
        &s.router,
        "PUT",
        "/api/tuned/settings",
        Some(json!({"threshold": 0.4, "api_key": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let current = s.plugin.settings().expect("settings");
    assert_eq!(
        (current["threshold"].clone(), current["api_key"].clone()),
        (json!(0.4), json!("k-1"))
    );
}

#[tokio::test]
async fn an_invalid_put_is_a_422_naming_the_field_without_echoing_the_input() {
    let s = setup();
    let (status, body, text) = call(
        &s.router,
        "PUT",
        "/api/tuned/settings",
        Some(json!({"threshold": 1.5})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "validation.error");
    assert_eq!(body["message"], "Validation error");
    assert_eq!(
        body["details"][0],
        json!({"field": "threshold", "message": "Invalid value", "type": "value_error"})
    );
    assert_eq!(body["detail"][0]["loc"], json!(["body", "threshold"]));
    assert!(!text.contains("1.5"), "{text}");
    assert_eq!(s.plugin.settings().expect("settings")["threshold"], 0.05);
}

#[tokio::test]
async fn a_failing_persistence_leaves_settings_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("blocker"),
        "a file where a directory should be",
    )
    .expect("write");
    let p = plugin(true);
    let options = StandaloneOptions {
        settings_path: Some(dir.path().join("blocker").join("config.json")),
        ..Default::default()
    };
    let _app = create_standalone_app(p.clone(), options).expect("app");
    p.apply_settings(&json!({"threshold": 0.5})).expect("apply");
    let err = p
        .save_settings(json!({"threshold": 0.9}))
        .await
        .expect_err("cannot write");
    assert_eq!(err.code(), "CONFIGURATION_ERROR");
    assert_eq!(p.settings().expect("settings")["threshold"], 0.5);
}

#[tokio::test]
async fn reset_schema_and_mode_routes() {
    let s = setup();
    s.plugin
        .save_settings(json!({"threshold": 0.9}))
        .await
        .expect("save");
    let (status, body, _) = call(&s.router, "POST", "/api/tuned/settings/reset", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], true);
    assert_eq!(body["settings"]["threshold"], 0.05);
    assert_eq!(body["mode"], "standalone");
    let (_, body, _) = call(&s.router, "GET", "/api/tuned/settings/schema", None).await;
    assert_eq!(body["groups"][0]["id"], "settings");
    assert_eq!(body["groups"][0]["label"], "tuned Settings");
    assert_eq!(body["groups"][0]["columns"], 1);
    assert_eq!(body["groups"][0]["fields"][0]["key"], "threshold");
    assert_eq!(body["groups"][0]["fields"][0]["max"], 1);
    assert_eq!(body["groups"][0]["fields"][2]["secret"], true);
    let (_, body, _) = call(&s.router, "GET", "/api/tuned/settings/mode", None).await;
    assert_eq!(body, json!({"mode": "standalone", "has_database": false}));
}

#[test]
fn the_manifest_carries_the_settings_schema() {
    let manifest = plugin(true).manifest();
    assert_eq!(
        manifest["settings_schema"]["properties"]["threshold"]["maximum"],
        1
    );
    assert_eq!(plugin(false).manifest()["settings_schema"], Value::Null);
}

#[tokio::test]
async fn the_settings_file_follows_the_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = plugin(true);
    let options = StandaloneOptions {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let _app = create_standalone_app(p.clone(), options).expect("app");
    p.save_settings(json!({"threshold": 0.5}))
        .await
        .expect("save");
    assert!(dir.path().join("config.json").exists());
}

#[tokio::test]
async fn plugins_without_a_model_get_no_settings_routes() {
    let router = create_standalone_app(plugin(false), StandaloneOptions::default())
        .expect("app")
        .router();
    let (status, _, _) = call(&router, "GET", "/api/tuned/settings", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn start_applies_stored_settings_and_refuses_invalid_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.json");
    std::fs::write(&path, r#"{"threshold": 0.25}"#).expect("write");
    let options = || StandaloneOptions {
        settings_path: Some(path.clone()),
        data_dir: Some(dir.path().to_path_buf()),
        env: Some(Default::default()),
        ..Default::default()
    };
    let p = plugin(true);
    let app = create_standalone_app(p.clone(), options()).expect("app");
    app.start().await.expect("start");
    assert_eq!(p.settings().expect("settings")["threshold"], 0.25);
    let (_, body, _) = call(&app.router(), "GET", "/api/tuned/settings/mode", None).await;
    assert_eq!(body["has_database"], true);
    app.shutdown().await.expect("shutdown");

    std::fs::write(&path, r#"{"threshold": 7}"#).expect("write");
    let p = plugin(true);
    let app = create_standalone_app(p.clone(), options()).expect("app");
    let err = app.start().await.expect_err("invalid stored settings");
    assert_eq!(err.code(), "CONFIGURATION_ERROR");
    assert!(p.standalone_db().is_none(), "start undone");
}
