//! `PluginService` (the platform's per-plugin mount) answers every path as `mount_plugin` does:
//! the plugin's routers at their sub-prefixes, the SDK's `_mint/runtime`, path parameters,
//! queries, the bound plugin, `OriginalUri`, 404 and 405 — and nothing outside its base; the
//! standalone app serves its plugin API through it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, Path, Query};
use axum::http::{Request, StatusCode, Uri};
use axum::routing::get;
use http_body_util::BodyExt;
use mint_sdk::app::{PluginService, mount_plugin};
use mint_sdk::extract::Json;
use mint_sdk::plugin::BoundPlugin;
use mint_sdk::{AnalysisPlugin, PluginCore, PluginMetadata};
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Default)]
struct Routes {
    core: PluginCore,
}

#[async_trait::async_trait]
impl AnalysisPlugin for Routes {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("routes", "0.1.0", "Mount test", "test", "/routes")
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        let root = Router::new()
            .route("/", get(|| async { Json(json!({"at": "root"})) }))
            .route("/where", get(where_am_i))
            .route(
                "/items/{id}",
                get(|Path(id): Path<u32>| async move { Json(json!({"item": id})) }),
            )
            .route(
                "/echo",
                axum::routing::post(|body: axum::body::Bytes| async move {
                    Json(json!({"bytes": body.len()}))
                }),
            )
            .route(
                "/bound",
                get(|bound: axum::Extension<BoundPlugin>| async move {
                    Json(json!({"plugin": bound.plugin.metadata().name}))
                }),
            );
        let sub = Router::new().route("/x", get(|| async { Json(json!({"at": "sub"})) }));
        // A second router at the root sub-prefix is merged with the first.
        let more = Router::new().route("/more", get(|| async { Json(json!({"at": "more"})) }));
        vec![
            (root, String::new()),
            (sub, "/sub".into()),
            (more, String::new()),
        ]
    }
}

async fn where_am_i(
    uri: Uri,
    OriginalUri(original): OriginalUri,
    Query(query): Query<serde_json::Map<String, Value>>,
) -> Json<Value> {
    Json(json!({"uri": uri.to_string(), "original": original.to_string(), "query": query}))
}

/// `GET path` through `service`: the status and the JSON body (`Null` when not JSON).
async fn answer<S>(service: S, path: &str) -> (StatusCode, Value)
where
    S: tower::Service<Request<Body>, Response = axum::response::Response> + Send,
    S::Error: std::fmt::Debug,
    S::Future: Send,
{
    send(
        service,
        Request::get(path).body(Body::empty()).unwrap_or_default(),
    )
    .await
}

/// `request` through `service`: the status and the JSON body (`Null` when not JSON).
async fn send<S>(service: S, request: Request<Body>) -> (StatusCode, Value)
where
    S: tower::Service<Request<Body>, Response = axum::response::Response> + Send,
    S::Error: std::fmt::Debug,
    S::Future: Send,
{
    let response = service.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn the_plugin_service_answers_like_mount_plugin() {
    let plugin: Arc<dyn AnalysisPlugin> = Arc::new(Routes::default());
    let mounted = mount_plugin(plugin.clone(), 1 << 20);
    let service = PluginService::new(plugin, 1 << 20);
    assert_eq!(service.base(), "/api/routes");
    let paths = [
        "/api/routes",
        "/api/routes/where?a=1&b=two",
        "/api/routes/items/7",
        "/api/routes/items/seven",
        "/api/routes/bound",
        "/api/routes/sub/x",
        "/api/routes/more",
        "/api/routes/_mint/runtime",
        "/api/routes/missing",
        "/api/routes/sub/missing",
    ];
    for path in paths {
        let expected = answer(mounted.clone(), path).await;
        let got = answer(service.clone(), path).await;
        assert_eq!(got, expected, "{path}");
    }
    let (status, body) = answer(service.clone(), "/api/routes/where?a=1&b=two").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["uri"], "/where?a=1&b=two");
    assert_eq!(body["original"], "/api/routes/where?a=1&b=two");
    assert_eq!(body["query"], json!({"a": "1", "b": "two"}));
    assert_eq!(
        answer(service.clone(), "/api/routes/more").await.1["at"],
        "more"
    );
    assert_eq!(
        answer(service.clone(), "/api/routes/bound").await.1["plugin"],
        "routes"
    );
}

#[tokio::test]
async fn paths_outside_the_base_are_404_in_the_envelope() {
    let service = PluginService::new(Arc::new(Routes::default()), 1 << 20);
    for path in ["/api/routesx", "/api/other/where", "/routes/where"] {
        assert!(!service.serves(path), "{path}");
        let (status, body) = answer(service.clone(), path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["status"], 404, "{path}: {body}");
    }
    assert!(service.serves("/api/routes"));
    assert!(service.serves("/api/routes/sub/x"));
}

#[tokio::test]
async fn the_standalone_app_serves_the_api_through_the_same_routes() {
    use mint_sdk::app::{StandaloneOptions, create_standalone_app};
    let plugin: Arc<dyn AnalysisPlugin> = Arc::new(Routes::default());
    let mounted = mount_plugin(plugin.clone(), 1 << 20);
    let app = create_standalone_app(plugin, StandaloneOptions::default())
        .expect("valid metadata")
        .service();
    for path in [
        "/api/routes",
        "/api/routes/where?a=1&b=two",
        "/api/routes/items/7",
        "/api/routes/bound",
        "/api/routes/sub/x",
        "/api/routes/more",
        "/api/routes/_mint/runtime",
    ] {
        let expected = answer(mounted.clone(), path).await;
        let got = answer(app.clone(), path).await;
        assert_eq!(got, expected, "{path}");
    }
    // Not the plugin's API: the app's other routes and its 404 envelope, not the plugin's.
    for path in ["/api/routesx/where", "/routes/where", "/__mint/events"] {
        let (status, body) = answer(app.clone(), path).await;
        assert!(status.is_client_error(), "{path}: {status}");
        assert_eq!(body["status"], status.as_u16(), "{path}: {body}");
    }
}

/// A body streamed without `Content-Length` (chunked) gets no early 413, so the upload limit
/// must reach the extractor; a request without a body skips the limit and still answers.
#[tokio::test]
async fn the_upload_limit_holds_for_a_body_without_a_declared_length() {
    let plugin: Arc<dyn AnalysisPlugin> = Arc::new(Routes::default());
    let service = PluginService::new(plugin, 1024);
    let streamed = |n: usize| {
        let chunks = vec![
            Ok::<_, std::io::Error>(vec![b'x'; n / 2]),
            Ok(vec![b'x'; n - n / 2]),
        ];
        Request::post("/api/routes/echo")
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap_or_default()
    };
    let (status, _) = send(service.clone(), streamed(4096)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = send(service.clone(), streamed(512)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"bytes": 512})));
    let (status, body) = answer(service, "/api/routes/items/3").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"item": 3})));
}
