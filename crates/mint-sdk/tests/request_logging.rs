//! The standalone app's request scope as the logs see it: handlers and their log lines get the
//! request id of the response, and a panic is logged with method, path and that id.
//!
//! One JSON-lines subscriber is installed process-wide before any request (its own test binary):
//! a subscriber per test would race with `tracing`'s global callsite cache when tests run in
//! parallel. Each test finds its lines by its own request id.

use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use mint_sdk::app::RequestId;
use mint_sdk::extract::Json;
use mint_sdk::logging::{LogSink, json_layer};
use mint_sdk::{
    AnalysisPlugin, PluginCore, PluginMetadata, create_standalone_app, current_request_id,
    plugin_logger,
};
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Default)]
struct LoggingPlugin {
    core: PluginCore,
}

#[async_trait::async_trait]
impl AnalysisPlugin for LoggingPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("logging demo", "0.1.0", "demo", "test", "/logs")
    }
    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        let router = Router::new()
            .route(
                "/ids",
                get(|RequestId(id): RequestId| async move {
                    plugin_logger("logging demo").info("serving ids", None);
                    Json(json!({"scope": current_request_id(), "extension": id}))
                }),
            )
            .route(
                "/panic",
                get(|| async {
                    if true {
                        panic!("database password is hunter2");
                    }
                    "unreachable"
                }),
            );
        vec![(router, String::new())]
    }
}

/// Every log line of this process, JSON.
fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt as _;
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let subscriber =
            tracing_subscriber::registry().with(json_layer(LogSink::Buffer(buffer.clone())));
        tracing::subscriber::set_global_default(subscriber)
            .unwrap_or_else(|e| panic!("no other subscriber in this test binary: {e}"));
        buffer
    })
}

/// The logged lines whose `request_id` is `id`.
fn lines_of(id: &str) -> Vec<Value> {
    let bytes = log_buffer().lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["request_id"] == id)
        .collect()
}

async fn send(req: Request<Body>) -> (StatusCode, String, Value) {
    log_buffer();
    let router = create_standalone_app(Arc::new(LoggingPlugin::default()), Default::default())
        .map(|app| app.router())
        .unwrap_or_else(|e| panic!("valid metadata: {e}"));
    let resp = router.oneshot(req).await.expect("infallible");
    let status = resp.status();
    let id = resp.headers()["x-request-id"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        id,
        serde_json::from_slice(&bytes).unwrap_or_default(),
    )
}

#[tokio::test]
async fn handlers_and_their_logs_see_the_request_id_of_the_response() {
    let req = Request::get("/api/logs/ids")
        .body(Body::empty())
        .expect("request");
    let (status, id, body) = send(req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"scope": id, "extension": id}));
    let lines = lines_of(&id);
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "serving ids" && l["plugin"] == "logging demo"),
        "{lines:?}"
    );
    // Outside the request there is no id.
    assert_eq!(current_request_id(), None);
}

#[tokio::test]
async fn a_panic_is_logged_with_method_path_and_request_id() {
    let req = Request::get("/api/logs/panic")
        .header("x-request-id", "panic-1")
        .body(Body::empty())
        .expect("request");
    let (status, id, body) = send(req).await;
    assert_eq!(
        (status, id.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "panic-1")
    );
    assert_eq!(body["request_id"], "panic-1");
    let lines = lines_of("panic-1");
    let error = lines
        .iter()
        .find(|l| l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no error line in {lines:?}"));
    assert_eq!(error["message"], "Unhandled error [GET /api/logs/panic]");
    // The log keeps what the response hides.
    assert_eq!(error["error"], "database password is hunter2");
}
