//! The standalone app through HTTP: URL layout, error envelopes, request ids, panics, body
//! limits, CORS, auth in both modes, start/shutdown ordering, events and standalone persistence.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http_body_util::BodyExt;
use mint_sdk::context::PlatformContextImpl;
use mint_sdk::extract::Json;
use mint_sdk::{
    AnalysisPlugin, CurrentUser, JsonObject, LifecycleHookResult, PlatformContext,
    PluginCapabilities, PluginCore, PluginError, PluginMetadata, PluginType, StandaloneOptions,
    create_standalone_app,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Default)]
struct Probe {
    shutdowns: AtomicUsize,
    fail_initialize: AtomicBool,
    fail_shutdown: AtomicBool,
}

struct DemoPlugin {
    core: PluginCore,
    probe: Arc<Probe>,
    capabilities: PluginCapabilities,
    plugin_type: PluginType,
}

impl DemoPlugin {
    fn new() -> Arc<Self> {
        Self::with(PluginCapabilities::default(), PluginType::Analysis)
    }
    fn with(capabilities: PluginCapabilities, plugin_type: PluginType) -> Arc<Self> {
        Arc::new(Self {
            core: PluginCore::new(),
            probe: Arc::default(),
            capabilities,
            plugin_type,
        })
    }
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Sample {
    conc: f64,
}
#[derive(Deserialize)]
#[allow(dead_code)]
struct Samples {
    samples: Vec<Sample>,
}

async fn fail(
    axum::extract::Path(kind): axum::extract::Path<String>,
) -> Result<&'static str, PluginError> {
    Err(match kind.as_str() {
        "validation" => PluginError::validation("Replicates must be between 1 and 12")
            .with_field("replicates")
            .with_value(20),
        "permission" => PluginError::permission("no"),
        "not_found" => PluginError::not_found("gone")
            .with_entity("panel")
            .with_entity_id(7),
        "conflict" => PluginError::conflict("dup"),
        "veto" => PluginError::event_veto(""),
        "compat" => PluginError::platform_compatibility("old"),
        "custom" => PluginError::other("slow").with_code("UPSTREAM_TIMEOUT"),
        "unexpected" => PluginError::unexpected("secret connection string"),
        "precondition" => PluginError::http(StatusCode::PRECONDITION_FAILED),
        _ => PluginError::configuration("bad config"),
    })
}

#[async_trait]
impl AnalysisPlugin for DemoPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("demo plugin", "1.2.3", "demo", "test", "/demo")
            .with_capabilities(self.capabilities)
            .with_plugin_type(self.plugin_type)
    }
    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        let main = Router::new()
            .route("/", get(|| async { "root" }))
            .route("/hello", get(|| async { Json(json!({"hello": "world"})) }))
            .route("/fail/{kind}", get(fail))
            .route(
                "/panic",
                get(|| async {
                    if true {
                        panic!("database password is hunter2");
                    }
                    "unreachable"
                }),
            )
            .route(
                "/samples",
                post(|Json(s): Json<Samples>| async move { s.samples.len().to_string() }),
            )
            .route(
                "/whoami",
                get(|user: CurrentUser| async move { Json(user.to_json()) }),
            );
        let items = Router::new().route("/x", get(|| async { "item x" }));
        vec![(main, String::new()), (items, "/items".into())]
    }
    async fn initialize(&self, _context: Option<PlatformContext>) -> Result<(), PluginError> {
        if self.probe.fail_initialize.load(Ordering::SeqCst) {
            return Err(PluginError::lifecycle("cannot start").with_phase("initialize"));
        }
        Ok(())
    }
    async fn shutdown(&self) -> Result<(), PluginError> {
        self.probe.shutdowns.fetch_add(1, Ordering::SeqCst);
        if self.probe.fail_shutdown.load(Ordering::SeqCst) {
            return Err(PluginError::other("shutdown failed"));
        }
        Ok(())
    }
    async fn on_before_experiment_save(
        &self,
        experiment_id: i64,
        _data: &JsonObject,
    ) -> Result<LifecycleHookResult, PluginError> {
        if experiment_id == 13 {
            return Ok(LifecycleHookResult::veto("13 is unlucky"));
        }
        Ok(LifecycleHookResult::default())
    }
}

fn app_router(plugin: Arc<DemoPlugin>, options: StandaloneOptions) -> Router {
    create_standalone_app(plugin, options)
        .expect("valid metadata")
        .router()
}

async fn send(
    router: &Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value, String) {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, json, text)
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn routers_mount_under_api_prefix_and_sub_prefix() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    let (status, _, _, text) = send(&router, get_req("/api/demo/items/x")).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "item x"));
    let (status, _, body, _) = send(&router, get_req("/demo/items/x")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "resource.not_found");
    let (status, _, _, text) = send(&router, get_req("/api/demo/hello/")).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, r#"{"hello":"world"}"#)
    );
}

#[tokio::test]
async fn a_root_route_answers_with_and_without_trailing_slash() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    for uri in ["/api/demo", "/api/demo/"] {
        let (status, _, _, text) = send(&router, get_req(uri)).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "root"), "{uri}");
    }
}

#[tokio::test]
async fn runtime_probe_answers_without_auth() {
    let caps = PluginCapabilities {
        requires_auth: true,
        ..Default::default()
    };
    let plugin = DemoPlugin::with(caps, PluginType::Analysis);
    plugin
        .core()
        .bind_context(Some(PlatformContext::new(FakeContext::anonymous())));
    let router = app_router(plugin, StandaloneOptions::default());
    let (status, _, body, _) = send(&router, get_req("/api/demo/_mint/runtime")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"name": "demo plugin", "configRequiresAdmin": false})
    );
}

#[tokio::test]
async fn there_is_no_sdk_health_route_and_unknown_paths_get_the_envelope() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    let (status, headers, body, _) = send(&router, get_req("/api/demo/health")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "resource.not_found");
    assert_eq!(body["message"], "Not Found");
    assert_eq!(body["detail"], "Not Found");
    assert_eq!(body["details"], Value::Null);
    assert_eq!(body["status"], 404);
    assert_eq!(
        body["request_id"],
        headers["x-request-id"].to_str().unwrap_or_default()
    );
}

#[tokio::test]
async fn wrong_method_is_a_405_envelope() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    let req = Request::delete("/api/demo/hello")
        .body(Body::empty())
        .expect("request");
    let (status, _, body, _) = send(&router, req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "request.method_not_allowed");
    assert_eq!(body["message"], "Method Not Allowed");
}

#[tokio::test]
async fn each_plugin_error_has_its_status_and_envelope() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    let cases = [
        ("validation", 400, "VALIDATION_ERROR"),
        ("permission", 403, "PERMISSION_DENIED"),
        ("not_found", 404, "NOT_FOUND"),
        ("conflict", 409, "CONFLICT"),
        ("veto", 422, "EVENT_VETO"),
        ("compat", 426, "plugin.api_version_mismatch"),
        ("custom", 500, "UPSTREAM_TIMEOUT"),
        ("config", 500, "CONFIGURATION_ERROR"),
        ("precondition", 412, "precondition.failed"),
    ];
    for (kind, status, code) in cases {
        let (got, headers, body, _) =
            send(&router, get_req(&format!("/api/demo/fail/{kind}"))).await;
        assert_eq!(got.as_u16(), status, "{kind}");
        assert_eq!(body["code"], code, "{kind}");
        assert_eq!(body["status"], status, "{kind}");
        assert_eq!(headers["content-type"], "application/json");
        for key in [
            "code",
            "message",
            "status",
            "request_id",
            "details",
            "detail",
        ] {
            assert!(body.get(key).is_some(), "{kind} lacks {key}");
        }
    }
    let (_, _, body, _) = send(&router, get_req("/api/demo/fail/validation")).await;
    assert_eq!(
        body["details"],
        json!({"field": "replicates", "value": "20"})
    );
    assert_eq!(body["error"], "VALIDATION_ERROR");
    assert_eq!(body["detail"]["error"], "VALIDATION_ERROR");
    let (_, _, body, _) = send(&router, get_req("/api/demo/fail/compat")).await;
    assert_eq!(body["error"], "PLATFORM_API_VERSION_MISMATCH");
}

#[tokio::test]
async fn unexpected_errors_and_panics_give_the_generic_500_without_the_message() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    for uri in ["/api/demo/fail/unexpected", "/api/demo/panic"] {
        let (status, headers, body, text) = send(&router, get_req(uri)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert_eq!(body["code"], "internal.error");
        assert_eq!(body["message"], "An unexpected error occurred");
        assert!(
            !text.contains("hunter2") && !text.contains("secret"),
            "{text}"
        );
        assert!(headers.contains_key("x-request-id"));
    }
    // The app keeps serving after a panic.
    let (status, _, _, _) = send(&router, get_req("/api/demo/hello")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated_on_every_response() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    let req = Request::get("/api/demo/fail/conflict")
        .header("x-request-id", "abc")
        .body(Body::empty())
        .expect("request");
    let (_, headers, body, _) = send(&router, req).await;
    assert_eq!(headers["x-request-id"], "abc");
    assert_eq!(body["request_id"], "abc");
    let (_, headers, _, _) = send(&router, get_req("/api/demo/hello")).await;
    let id = headers["x-request-id"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(id.len(), 16);
    assert!(
        id.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{id}"
    );
    let long = "x".repeat(200);
    let req = Request::get("/api/demo/hello")
        .header("x-request-id", long.as_str())
        .body(Body::empty())
        .expect("request");
    let (_, headers, _, _) = send(&router, req).await;
    assert_eq!(headers["x-request-id"].len(), 16);
}

#[tokio::test]
async fn a_trailing_slash_is_trimmed_with_the_query_kept() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    let (status, _, _, text) = send(&router, get_req("/api/demo/items/x/?page=2")).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "item x"));
    // Only under /api: the frontend and the app root keep their paths.
    let (status, _, _, _) = send(&router, get_req("/__mint/events/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_service_answers_as_the_router_does() {
    let app = create_standalone_app(DemoPlugin::new(), StandaloneOptions::default())
        .expect("valid metadata");
    let service = app.service();
    let resp = service
        .clone()
        .oneshot(get_req("/api/demo/hello"))
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().contains_key("x-request-id"));
    let resp = service
        .oneshot(get_req("/api/demo/nothing"))
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(body["code"], "resource.not_found");
}

#[tokio::test]
async fn malformed_json_is_a_422_with_field_paths() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    let post = |body: &str| {
        Request::post("/api/demo/samples")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    };
    let (status, _, body, _) = send(&router, post("{oops")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "validation.request");
    assert_eq!(body["message"], "Request validation failed");
    assert_eq!(body["details"][0]["field"], "__root__");
    let (_, _, body, _) = send(
        &router,
        post(r#"{"samples":[{"conc":1},{"conc":2},{"conc":"x"}]}"#),
    )
    .await;
    assert_eq!(body["details"][0]["field"], "samples.2.conc");
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "samples", 2, "conc"])
    );
    let (status, _, _, text) = send(&router, post(r#"{"samples":[{"conc":1}]}"#)).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "1"));
}

#[tokio::test]
async fn a_json_body_over_2_mib_is_413() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    let big = format!(
        r#"{{"samples":[],"pad":"{}"}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    let req = Request::post("/api/demo/samples")
        .header("content-type", "application/json")
        .body(Body::from(big))
        .expect("request");
    let (status, _, body, _) = send(&router, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "request.too_large");
}

#[tokio::test]
async fn a_body_over_max_upload_bytes_is_413_before_the_handler() {
    let options = StandaloneOptions {
        max_upload_bytes: 1024,
        ..Default::default()
    };
    let router = app_router(DemoPlugin::new(), options);
    let req = Request::post("/api/demo/samples")
        .header("content-length", "4096")
        .body(Body::from(vec![b' '; 4096]))
        .expect("request");
    let (status, _, body, _) = send(&router, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "request.too_large");
}

#[tokio::test]
async fn cors_preflight_echoes_the_origin_with_credentials() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    let req = Request::options("/api/demo/hello")
        .header("origin", "http://a.test")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "x-custom")
        .body(Body::empty())
        .expect("request");
    let (status, headers, _, _) = send(&router, req).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers["access-control-allow-origin"], "http://a.test");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["access-control-max-age"], "600");
    assert_eq!(headers["access-control-allow-methods"], "PUT");
    assert_eq!(headers["access-control-allow-headers"], "x-custom");

    let options = StandaloneOptions {
        cors_origins: Some(vec!["http://b.test".into()]),
        ..Default::default()
    };
    let router = app_router(DemoPlugin::new(), options);
    let req = Request::get("/api/demo/hello")
        .header("origin", "http://a.test")
        .body(Body::empty())
        .expect("request");
    let (_, headers, _, _) = send(&router, req).await;
    assert!(!headers.contains_key("access-control-allow-origin"));

    let options = StandaloneOptions {
        cors: false,
        ..Default::default()
    };
    let router = app_router(DemoPlugin::new(), options);
    let req = Request::get("/api/demo/hello")
        .header("origin", "http://a.test")
        .body(Body::empty())
        .expect("request");
    let (_, headers, _, _) = send(&router, req).await;
    assert!(
        !headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control"))
    );
}

#[tokio::test]
async fn a_request_without_origin_is_not_a_cors_request() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    let (status, headers, _, _) = send(&router, get_req("/api/demo/hello")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control") || k == "vary"),
        "{headers:?}"
    );
    // OPTIONS without Origin is no preflight: the router answers it.
    let req = Request::options("/api/demo/hello")
        .body(Body::empty())
        .expect("request");
    let (status, _, body, _) = send(&router, req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "request.method_not_allowed");
}

#[tokio::test]
async fn cors_headers_reach_error_responses_too() {
    let router = app_router(DemoPlugin::new(), StandaloneOptions::default());
    for (uri, expected) in [
        ("/api/demo/nothing", StatusCode::NOT_FOUND),
        ("/api/demo/panic", StatusCode::INTERNAL_SERVER_ERROR),
    ] {
        let req = Request::get(uri)
            .header("origin", "http://a.test")
            .body(Body::empty())
            .expect("request");
        let (status, headers, body, _) = send(&router, req).await;
        assert_eq!(status, expected, "{uri}");
        assert_eq!(headers["access-control-allow-origin"], "http://a.test");
        assert_eq!(headers["access-control-allow-credentials"], "true");
        assert_eq!(
            body["request_id"],
            headers["x-request-id"].to_str().unwrap_or_default()
        );
    }
}

/// A context with a fixed (or no) user, enough to exercise auth.
struct FakeContext {
    user: Option<CurrentUser>,
}

impl FakeContext {
    fn anonymous() -> Self {
        Self { user: None }
    }
}

#[async_trait]
impl PlatformContextImpl for FakeContext {
    fn plugin_id(&self) -> Option<String> {
        Some("demo plugin".into())
    }
    fn is_authenticated(&self) -> bool {
        self.user.is_some()
    }
    async fn resolve_user(&self, _parts: &Parts) -> Result<Option<CurrentUser>, PluginError> {
        Ok(self.user.clone())
    }
    fn user_repository(&self) -> Option<Arc<dyn mint_sdk::UserRepository>> {
        None
    }
    fn experiment_repository(&self) -> Option<Arc<dyn mint_sdk::ExperimentRepository>> {
        None
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
        Err(PluginError::configuration("no shared database")
            .with_config_key("requires_shared_database"))
    }
}

#[tokio::test]
async fn requires_auth_passes_standalone_and_is_401_integrated_when_anonymous() {
    let caps = PluginCapabilities {
        requires_auth: true,
        ..Default::default()
    };
    let plugin = DemoPlugin::with(caps, PluginType::Analysis);
    let router = app_router(plugin.clone(), StandaloneOptions::default());
    let (status, _, body, _) = send(&router, get_req("/api/demo/whoami")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "standalone");
    assert_eq!(body["role"], "member");

    plugin
        .core()
        .bind_context(Some(PlatformContext::new(FakeContext::anonymous())));
    let (status, _, body, _) = send(&router, get_req("/api/demo/whoami")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "auth.unauthorized");
    assert_eq!(body["message"], "Not authenticated");

    let user = CurrentUser {
        user_id: "4".into(),
        username: Some("ada".into()),
        role: "member".into(),
        role_id: None,
        plugin_role: None,
        permissions: Default::default(),
    };
    plugin
        .core()
        .bind_context(Some(PlatformContext::new(FakeContext { user: Some(user) })));
    let (status, _, body, _) = send(&router, get_req("/api/demo/whoami")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["username"], "ada");
}

#[tokio::test]
async fn metadata_is_validated_when_the_app_is_built() {
    struct Bad(PluginCore);
    impl AnalysisPlugin for Bad {
        fn core(&self) -> &PluginCore {
            &self.0
        }
        fn metadata(&self) -> PluginMetadata {
            PluginMetadata::new("bad", "1", "d", "t", "/auth")
        }
        fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
            vec![]
        }
    }
    match create_standalone_app(
        Arc::new(Bad(PluginCore::new())),
        StandaloneOptions::default(),
    ) {
        Err(PluginError::Validation { field, .. }) => {
            assert_eq!(field.as_deref(), Some("routes_prefix"))
        }
        Err(other) => panic!("expected a validation error, got {other:?}"),
        Ok(_) => panic!("reserved prefix accepted"),
    }
}

fn data_options(dir: &std::path::Path) -> StandaloneOptions {
    StandaloneOptions {
        data_dir: Some(dir.to_path_buf()),
        env: Some(HashMap::new()),
        ..Default::default()
    }
}

#[tokio::test]
async fn start_creates_the_database_and_binds_standalone_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = DemoPlugin::new();
    let app = create_standalone_app(plugin.clone(), data_options(dir.path())).expect("app");
    app.start().await.expect("start");
    assert!(dir.path().join("data.db").exists());
    assert!(plugin.is_standalone());
    assert!(plugin.standalone_db().is_some());
    app.shutdown().await.expect("shutdown");
    assert!(plugin.standalone_db().is_none());
    assert_eq!(plugin.probe.shutdowns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failing_initialize_still_calls_shutdown_and_tears_down_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = DemoPlugin::new();
    plugin.probe.fail_initialize.store(true, Ordering::SeqCst);
    let app = create_standalone_app(plugin.clone(), data_options(dir.path())).expect("app");
    let err = app.start().await.expect_err("initialize fails");
    assert_eq!(err.code(), "LIFECYCLE_ERROR");
    assert_eq!(plugin.probe.shutdowns.load(Ordering::SeqCst), 1);
    assert!(plugin.standalone_db().is_none());
}

#[tokio::test]
async fn shutdown_tears_down_the_database_even_when_the_plugin_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = DemoPlugin::new();
    let app = create_standalone_app(plugin.clone(), data_options(dir.path())).expect("app");
    app.start().await.expect("start");
    plugin.probe.fail_shutdown.store(true, Ordering::SeqCst);
    let err = app.shutdown().await.expect_err("plugin shutdown fails");
    assert_eq!(err.message(), "shutdown failed");
    assert!(plugin.standalone_db().is_none());
}

#[tokio::test]
async fn isolated_mode_with_shared_database_fails_before_initialize() {
    let caps = PluginCapabilities {
        requires_shared_database: true,
        ..Default::default()
    };
    let plugin = DemoPlugin::with(caps, PluginType::Analysis);
    let mut env = HashMap::new();
    env.insert(
        "MINT_PLATFORM_URL".to_string(),
        "http://127.0.0.1:1".to_string(),
    );
    let options = StandaloneOptions {
        env: Some(env),
        ..Default::default()
    };
    let app = create_standalone_app(plugin.clone(), options).expect("app");
    match app.start().await {
        Err(PluginError::Configuration { config_key, .. }) => {
            assert_eq!(config_key.as_deref(), Some("requires_shared_database"))
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert_eq!(plugin.probe.shutdowns.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn standalone_results_persist_across_teardown_and_setup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = DemoPlugin::new();
    plugin
        .setup_standalone_db(Some(dir.path().into()))
        .await
        .expect("setup");
    let mut result = JsonObject::new();
    result.insert("area".into(), json!(12.5));
    let saved = plugin
        .save_analysis(7, result.clone())
        .await
        .expect("save")
        .expect("stored");
    assert_eq!(saved.plugin_id, "demo plugin");
    plugin.teardown_standalone_db().await.expect("teardown");
    assert!(
        plugin.load_analysis(7).await.expect("load").is_none(),
        "no store after teardown"
    );
    plugin
        .setup_standalone_db(Some(dir.path().into()))
        .await
        .expect("setup again");
    let loaded = plugin
        .load_analysis(7)
        .await
        .expect("load")
        .expect("persisted");
    assert_eq!(loaded.result, result);
    assert_eq!(loaded.id, saved.id);
    assert!(plugin.delete_analysis(7).await.expect("delete"));
    assert!(!plugin.delete_analysis(7).await.expect("delete again"));
}

#[tokio::test]
async fn setup_standalone_db_twice_is_a_no_op() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = tempfile::tempdir().expect("tempdir");
    let plugin = DemoPlugin::new();
    plugin
        .setup_standalone_db(Some(dir.path().into()))
        .await
        .expect("setup");
    plugin
        .setup_standalone_db(Some(other.path().into()))
        .await
        .expect("setup twice");
    let db = plugin.standalone_db().expect("attached");
    assert_eq!(db.db_path(), dir.path().join("data.db"));
}

#[tokio::test]
async fn without_a_store_saves_return_none_and_deletes_false() {
    let plugin = DemoPlugin::new();
    assert_eq!(plugin.load(1).await.expect("load"), (None, None));
    assert!(
        plugin
            .save_analysis(1, JsonObject::new())
            .await
            .expect("save")
            .is_none()
    );
    assert!(!plugin.delete_design(1).await.expect("delete"));
    assert!(!plugin.delete_analysis(1).await.expect("delete"));
    match plugin.plugin_db_session().await {
        Err(PluginError::Configuration { .. }) => {}
        other => panic!(
            "expected a configuration error, got {:?}",
            other.map(|_| ())
        ),
    }
}

#[tokio::test]
async fn design_writes_use_the_metadata_schema_version_for_empty_arguments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = DemoPlugin::with(PluginCapabilities::default(), PluginType::ExperimentDesign);
    plugin
        .setup_standalone_db(Some(dir.path().into()))
        .await
        .expect("setup");
    let (design, analysis) = plugin
        .save(3, Some(JsonObject::new()), None, Some(""))
        .await
        .expect("save");
    let design = design.expect("saved");
    assert!(analysis.is_none());
    assert_eq!(design.schema_version, "1.0");
    assert!(design.data.is_empty());
    let again = plugin
        .save_design(
            3,
            json!({"n": 1}).as_object().cloned().unwrap_or_default(),
            Some("2.1"),
        )
        .await
        .expect("save")
        .expect("saved");
    assert_eq!((again.id, again.created_at), (design.id, design.created_at));
    assert_eq!(again.schema_version, "2.1");
    let err = plugin
        .save_analysis(3, JsonObject::new())
        .await
        .expect_err("design plugin");
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    let response = err.into_response();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

fn event(body: Value, token: Option<&str>, version: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/__mint/events").header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("x-mint-internal-token", t);
    }
    if let Some(v) = version {
        req = req.header("x-mint-platform-api-version", v);
    }
    req.body(Body::from(body.to_string())).expect("request")
}

#[tokio::test]
async fn event_intake_checks_the_token_and_dispatches_hooks() {
    let mut env = HashMap::new();
    env.insert("MINT_PLUGIN_TOKEN".to_string(), "s3cret".to_string());
    let options = StandaloneOptions {
        env: Some(env),
        ..Default::default()
    };
    let router = app_router(DemoPlugin::new(), options);
    let before = |id: i64| json!({"event": "experiment.before_save", "payload": {"experiment_id": id, "data": {}}});

    let (status, _, body, _) = send(&router, event(before(1), Some("wrong"), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["message"], "Invalid plugin internal token");
    let (status, _, _, _) = send(&router, event(before(1), None, None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _, _) = send(&router, event(before(1), Some("s3cret"), Some("2"))).await;
    assert_eq!(status.as_u16(), 426);

    let (status, _, body, _) = send(&router, event(before(1), Some("s3cret"), Some("1"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"handled": true, "veto": null}));
    let (_, _, body, _) = send(&router, event(before(13), Some("s3cret"), None)).await;
    assert_eq!(
        body,
        json!({"handled": true, "veto": {"message": "13 is unlucky"}})
    );
    let (_, _, body, _) = send(
        &router,
        event(json!({"event": "x.y"}), Some("s3cret"), None),
    )
    .await;
    assert_eq!(body, json!({"handled": false, "veto": null}));
    let bad = json!({"event": "experiment.after_save", "payload": {"experiment_id": "seven"}});
    let (status, _, body, _) = send(&router, event(bad, Some("s3cret"), None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "VALIDATION_ERROR");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Invalid event payload")
    );
}

#[tokio::test]
async fn events_are_refused_when_no_token_is_configured() {
    let options = StandaloneOptions {
        env: Some(HashMap::new()),
        ..Default::default()
    };
    let router = app_router(DemoPlugin::new(), options);
    let body = json!({"event": "experiment.after_save", "payload": {"experiment_id": 1}});
    let (status, _, _, _) = send(&router, event(body, Some(""), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
