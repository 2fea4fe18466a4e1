//! Shared helpers: start the real standalone app on a temp dir, call it with `oneshot`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mint_sdk::app::StandaloneApp;
use mint_sdk::serde_json::Value;
use mint_sdk::{StandaloneOptions, create_standalone_app};
use panel_designer::PanelDesignerPlugin;
use tower::ServiceExt;

/// A started standalone app on `data_dir` (migrations applied by `start()`), its router, and
/// the plugin.
pub struct Standalone {
    pub app: StandaloneApp,
    pub router: Router,
    pub plugin: Arc<PanelDesignerPlugin>,
}

pub async fn start_standalone(data_dir: &Path) -> Standalone {
    let plugin = Arc::new(PanelDesignerPlugin::new());
    let app = create_standalone_app(
        plugin.clone(),
        StandaloneOptions {
            data_dir: Some(data_dir.to_path_buf()),
            // No MINT_PLATFORM_URL from the test environment: always standalone.
            env: Some(HashMap::new()),
            ..Default::default()
        },
    )
    .expect("app");
    app.start().await.expect("start");
    let router = app.router();
    Standalone {
        app,
        router,
        plugin,
    }
}

/// Sends `method uri` with an optional JSON body; returns the status and the JSON body
/// (`Null` when empty).
pub async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let builder = Request::builder().method(method).uri(uri);
    let request = match body {
        Some(b) => builder
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        mint_sdk::serde_json::from_slice(&bytes).expect("JSON body")
    };
    (status, value)
}
