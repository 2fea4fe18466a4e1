//! Plugin settings when integrated: persisted through the platform's config store for the
//! model's own keys, and the settings routes guarded by platform permissions
//! (plugin.md §6.7, app-testing-export.md §1.4).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mint_sdk::schemars::{self, JsonSchema};
use mint_sdk::testing::{RecordingContext, build_test_app};
use mint_sdk::{AnalysisPlugin, CurrentUser, PluginCore, PluginMetadata, SettingsModel};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct Limits {
    #[serde(default)]
    max_targets: u32,
    #[serde(default)]
    #[schemars(extend("x-mint-secret" = true))]
    token: Option<String>,
}

struct Limited(PluginCore);

impl AnalysisPlugin for Limited {
    fn core(&self) -> &PluginCore {
        &self.0
    }
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("limited", "1.0.0", "settings demo", "test", "/limited")
    }
    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        vec![]
    }
    fn settings_model(&self) -> Option<SettingsModel> {
        Some(SettingsModel::of::<Limits>())
    }
}

fn user(role: &str, permissions: &[&str]) -> CurrentUser {
    CurrentUser {
        user_id: "5".into(),
        username: Some("ada".into()),
        role: role.into(),
        role_id: None,
        plugin_role: None,
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
    }
}

fn integrated() -> (Arc<Limited>, RecordingContext, Router) {
    let ctx = RecordingContext::builder()
        .plugin_id("limited")
        .plugin_config(json!({"max_targets": 10, "unrelated": "kept"}))
        .build()
        .expect("context");
    let plugin = Arc::new(Limited(PluginCore::new()));
    plugin.core().bind_context(Some(ctx.context()));
    let router = build_test_app(plugin.clone(), false).expect("app").router();
    (plugin, ctx, router)
}

async fn call(router: &Router, method: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri("/api/limited/settings");
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map(|b| Body::from(b.to_string())).unwrap_or_default())
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn save_settings_writes_only_the_models_keys_to_the_platform() {
    let (plugin, ctx, _) = integrated();
    let saved = plugin
        .save_settings(json!({"max_targets": 25, "token": "t-1"}))
        .await
        .expect("save");
    assert_eq!(saved["max_targets"], 25);
    let stored = ctx.plugin_config();
    assert_eq!(stored["max_targets"], 25);
    assert_eq!(stored["token"], "t-1");
    assert_eq!(stored["unrelated"], "kept");
    let call = ctx
        .calls()
        .into_iter()
        .find(|c| c.method == "config.set_plugin_config")
        .expect("recorded");
    assert_eq!(call.args["owned_keys"], json!(["max_targets", "token"]));
}

#[tokio::test]
async fn settings_routes_need_platform_permissions() {
    let (_, ctx, router) = integrated();
    assert_eq!(call(&router, "GET", None).await.0, StatusCode::UNAUTHORIZED);

    ctx.set_current_user(Some(user("member", &[])));
    let (status, body) = call(&router, "GET", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["message"], "Missing permission: plugins.view");

    ctx.set_current_user(Some(user("member", &["plugins.view"])));
    let (status, body) = call(&router, "GET", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["mode"], "integrated");
    let (status, body) = call(&router, "PUT", Some(json!({"max_targets": 3}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["message"], "Missing permission: plugins.configure");

    ctx.set_current_user(Some(user("Admin", &[])));
    let (status, body) = call(
        &router,
        "PUT",
        Some(json!({"max_targets": 3, "token": "s"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["settings"], json!({"max_targets": 3, "token": null}));
    assert_eq!(ctx.plugin_config()["token"], "s");
}

#[tokio::test]
async fn an_integrated_start_applies_the_platforms_stored_settings() {
    let ctx = RecordingContext::builder()
        .plugin_id("limited")
        .plugin_config(json!({"max_targets": 42}))
        .build()
        .expect("context");
    let plugin = Limited(PluginCore::new());
    mint_sdk::app::start_integrated(&plugin, ctx.context())
        .await
        .expect("start");
    assert!(!plugin.is_standalone());
    assert_eq!(plugin.settings().expect("settings")["max_targets"], 42);

    let bad = RecordingContext::builder()
        .plugin_id("limited")
        .plugin_config(json!({"max_targets": "many"}))
        .build()
        .expect("context");
    let err = mint_sdk::app::start_integrated(&Limited(PluginCore::new()), bad.context())
        .await
        .expect_err("invalid stored settings");
    assert_eq!(err.code(), "CONFIGURATION_ERROR");
}
