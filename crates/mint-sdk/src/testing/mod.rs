//! The testing harness (feature `testing`; `spec/app-testing-export.md` §4): test a plugin
//! against a platform that lives in memory, through the same app the plugin ships with.
//!
//! - [`RecordingContext`] (§4.3): an in-memory [`PlatformContext`](crate::PlatformContext) with
//!   the platform's repository semantics and write policy, recording every repository and config
//!   call;
//! - [`make_test_plugin`] / [`TestPlugin`] (§4.1): a configurable throwaway plugin;
//! - [`build_test_app`] (§4.2): the standalone app, for `tower::ServiceExt::oneshot`;
//! - [`write_standalone_plugin_module`], [`run_spec_plugin`] and the `mint-test-plugin` binary
//!   (§4.4): a dummy isolated plugin process for host tests.
//!
//! It is for tests only: nothing here persists, and `RecordingContext` gives no shared DB
//! session (test table code against
//! [`AnalysisPlugin::setup_standalone_db`](crate::AnalysisPlugin::setup_standalone_db)).
//! Enable it for tests with `mint-sdk = { version = "…", features = ["testing"] }` under
//! `[dev-dependencies]`.
//!
//! # Write a plugin, test it with a RecordingContext, call it with build_test_app
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::Router;
//! use axum::body::Body;
//! use axum::extract::State;
//! use axum::http::{Request, StatusCode};
//! use axum::routing::post;
//! use mint_sdk::extract::{Json, Path};
//! use mint_sdk::serde_json::{Value, json};
//! use mint_sdk::testing::{RecordingContext, build_test_app};
//! use mint_sdk::{
//!     AnalysisPlugin, CurrentUser, JsonObject, PluginCore, PluginError, PluginMetadata,
//!     PluginType,
//! };
//! use tower::ServiceExt;
//!
//! // 1. A plugin: scores an experiment for the signed-in user and stores the result.
//! struct Scorer {
//!     core: PluginCore,
//! }
//!
//! impl AnalysisPlugin for Scorer {
//!     fn core(&self) -> &PluginCore {
//!         &self.core
//!     }
//!     fn metadata(&self) -> PluginMetadata {
//!         PluginMetadata::new("scorer", "0.1.0", "Scores experiments", "demo", "/scorer")
//!     }
//!     fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
//!         let router = Router::new().route("/score/{id}", post(score)).with_state(self);
//!         vec![(router, String::new())]
//!     }
//! }
//!
//! async fn score(
//!     State(plugin): State<Arc<Scorer>>,
//!     user: CurrentUser,
//!     Path(id): Path<i64>,
//! ) -> Result<Json<Value>, PluginError> {
//!     let mut result = JsonObject::new();
//!     result.insert("score".into(), json!(0.9));
//!     result.insert("by".into(), json!(user.username));
//!     let saved = plugin.save_analysis(id, result).await?;
//!     Ok(Json(json!({"saved": saved.is_some()})))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), PluginError> {
//! // 2. A platform in memory, with the analysis write policy and a signed-in user.
//! let ctx = RecordingContext::builder()
//!     .plugin_id("scorer")
//!     .plugin_type(PluginType::Analysis)
//!     .user(json!({"id": 7, "username": "ada"}))
//!     .build()?;
//! let plugin = Arc::new(Scorer { core: PluginCore::new() });
//! plugin.core().bind_context(Some(ctx.context()));
//! plugin.initialize(Some(ctx.context())).await?;
//!
//! // 3. Call it over HTTP through the app it ships with (no `start()`: the context is bound).
//! let router = build_test_app(plugin.clone(), false)?.router();
//! let request = Request::post("/api/scorer/score/3")
//!     .body(Body::empty())
//!     .map_err(PluginError::unexpected)?;
//! let Ok(response) = router.oneshot(request).await;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // 4. Inspect what reached the platform.
//! let methods: Vec<String> = ctx.calls().into_iter().map(|c| c.method).collect();
//! assert_eq!(methods, ["plugin_data.save_analysis_result"]);
//! assert_eq!(ctx.analysis_results()[0].result["by"], "ada");
//!
//! // The platform's write policy holds: an analysis plugin cannot write design data.
//! let refused = plugin.save_design(3, JsonObject::new(), None).await.err();
//! assert_eq!(
//!     refused.map(|e| e.details()["required_permission"].clone()),
//!     Some(json!("design_data.write"))
//! );
//! # Ok(())
//! # }
//! ```
//!
//! # A throwaway plugin for host tests
//!
//! ```
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use axum::routing::get;
//! use mint_sdk::testing::{TestPluginOptions, build_test_app, make_test_plugin};
//! use mint_sdk::{AnalysisPlugin, HealthStatus, PluginError};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), PluginError> {
//! let spec = make_test_plugin(
//!     TestPluginOptions::default()
//!         .with_routes(|r| r.route("/ping", get(|| async { "pong" })))
//!         .with_health_status(HealthStatus::Degraded),
//! );
//! let plugin = spec.build();
//! assert_eq!(plugin.check_health().await?.status, HealthStatus::Degraded);
//! let request = Request::get("/api/test-plugin/ping")
//!     .body(Body::empty())
//!     .map_err(PluginError::unexpected)?;
//! let Ok(response) = build_test_app(plugin, false)?.router().oneshot(request).await;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```

mod plugin;
mod recording;
mod server;

pub use plugin::{
    AfterSaveHook, BeforeSaveHook, RouteBuilder, StatusChangeHook, TestPlugin, TestPluginOptions,
    TestPluginSpec, build_test_app, make_test_plugin,
};
pub use recording::{RecordedCall, RecordingContext, RecordingContextBuilder, Seed};
pub use server::{
    IMMEDIATE_EXIT_MESSAGE, MODULE_FACTORY, MODULE_PACKAGE, SpecServer, StandaloneModuleOptions,
    module_spec_path, run_spec_plugin, write_standalone_plugin_module,
};
