//! The standalone app: [`create_standalone_app`], [`StandaloneApp`] and the plugin binary's
//! entry [`run`] (`spec/app-testing-export.md` §1).
//!
//! The app mounts each `(router, sub_prefix)` of the plugin at `/api{routes_prefix}{sub_prefix}`,
//! adds `GET /api{prefix}/_mint/runtime` and `POST /__mint/events`, and wraps everything in the
//! SDK layers: request ids on every response, panics turned into the 500 envelope, any non-JSON
//! error turned into the JSON envelope, body limits and CORS. The plugin's API is served by a
//! [`PluginService`] (the platform serves each in-process plugin the same way); [`mount_plugin`]
//! builds the same routes as one router, for tests and hosts that route themselves.

use std::any::Any;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use crate::context::PlatformContext;
use crate::error::{JsonObject, PluginError, envelope_body, json_response, unexpected_envelope};
use crate::extract::Json;
use crate::frontend::SpaStaticFiles;
use crate::logging::{self, current_request_id};
use crate::models::RoutesPrefix;
use crate::plugin::{AnalysisPlugin, BoundPlugin};

mod mount;
mod slab;
mod stack;

pub use mount::{PluginFuture, PluginService};

/// The internal API version this SDK speaks (`MINT_PLATFORM_API_VERSION`).
pub const INTERNAL_API_VERSION: &str = "1";

/// Default body limit of file-upload routes: 1 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 1024 * 1024 * 1024;

/// Options of [`create_standalone_app`] (app-testing-export.md §1).
#[derive(Debug, Clone)]
pub struct StandaloneOptions {
    /// Add CORS headers (default true).
    pub cors: bool,
    /// Allowed origins; `None` or empty means any origin (echoed, never `*`).
    pub cors_origins: Option<Vec<String>>,
    /// Informational title, default `"<name> (Standalone)"`.
    pub title: Option<String>,
    /// Body limit of upload routes in bytes (default 1 GiB). JSON bodies stay at 2 MiB.
    pub max_upload_bytes: usize,
    /// Directory of the standalone database (default `~/.mint/plugins/<safe name>`).
    pub data_dir: Option<PathBuf>,
    /// The standalone settings file (default `<data_dir>/config.json`, else
    /// `~/.mint/plugins/<safe name>/config.json`).
    pub settings_path: Option<PathBuf>,
    /// Extra text for the plugin binary's `--help` (e.g. the plugin's own environment
    /// variables); default: the SDK's logging note.
    pub after_help: Option<String>,
    /// Environment used for mode detection instead of the process environment (tests).
    pub env: Option<HashMap<String, String>>,
    /// Frontend directory served at `{prefix}/` instead of the plugin's `frontend_dir()`
    /// (§1.2, §1.8; set by [`run`] from `--frontend-dir` / `MINT_PLUGIN_FRONTEND_DIR`).
    pub frontend_dir: Option<PathBuf>,
}

impl Default for StandaloneOptions {
    fn default() -> Self {
        Self {
            cors: true,
            cors_origins: None,
            title: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            data_dir: None,
            settings_path: None,
            after_help: None,
            env: None,
            frontend_dir: None,
        }
    }
}

impl StandaloneOptions {
    fn env_var(&self, key: &str) -> Option<String> {
        match &self.env {
            Some(map) => map.get(key).cloned(),
            None => std::env::var(key).ok(),
        }
        .filter(|v| !v.is_empty())
    }
}

/// A plugin wrapped as a standalone HTTP app (seed `create_standalone_app`'s result).
pub struct StandaloneApp {
    plugin: Arc<dyn AnalysisPlugin>,
    options: StandaloneOptions,
    frontend: Option<(RoutesPrefix, SpaStaticFiles)>,
}

/// Builds the standalone app of `plugin`. Validates the metadata first (plugin.md §4), then the
/// frontend directory, if any (§2).
///
/// Errors: `PluginError::Validation` naming the bad metadata field; `PluginError::Configuration`
/// (`config_key "frontend_dir"`) when the frontend directory has no `index.html`.
pub fn create_standalone_app(
    plugin: Arc<dyn AnalysisPlugin>,
    options: StandaloneOptions,
) -> Result<StandaloneApp, PluginError> {
    let meta = plugin.metadata();
    meta.validate()?;
    // The settings file lives next to the database when a data directory is given.
    let settings_path = options.settings_path.clone().unwrap_or_else(|| {
        options
            .data_dir
            .clone()
            .unwrap_or_else(|| crate::local_database::plugin_data_dir(&meta.name))
            .join(crate::settings::SETTINGS_FILE_NAME)
    });
    plugin.core().set_settings_path(Some(settings_path));
    let frontend = standalone_frontend(plugin.as_ref(), &options)?;
    Ok(StandaloneApp {
        plugin,
        options,
        frontend,
    })
}

/// The frontend served at `{prefix}/` (§1.2): the `frontend_dir` option, else the plugin's
/// `frontend_dir()`; validated now so a bad directory fails construction, not the first request.
fn standalone_frontend(
    plugin: &dyn AnalysisPlugin,
    options: &StandaloneOptions,
) -> Result<Option<(RoutesPrefix, SpaStaticFiles)>, PluginError> {
    let Some(dir) = options
        .frontend_dir
        .clone()
        .or_else(|| plugin.frontend_dir())
    else {
        return Ok(None);
    };
    let routes_prefix = plugin.metadata().routes_prefix;
    let prefix = RoutesPrefix::parse(&routes_prefix).map_err(|e| {
        PluginError::validation(format!("Invalid routes_prefix: {e}"))
            .with_field("routes_prefix")
            .with_value(routes_prefix.clone())
    })?;
    Ok(Some((prefix, SpaStaticFiles::new(&dir)?)))
}

impl StandaloneApp {
    /// The plugin.
    pub fn plugin(&self) -> &Arc<dyn AnalysisPlugin> {
        &self.plugin
    }

    /// The app's title.
    pub fn title(&self) -> String {
        self.options
            .title
            .clone()
            .unwrap_or_else(|| format!("{} (Standalone)", self.plugin.metadata().name))
    }

    /// The complete axum router. Works without [`start`](Self::start): the plugin keeps the
    /// context it has.
    pub fn router(&self) -> Router {
        Router::new().fallback_service(self.service())
    }

    /// The same app as a tower service, without the router around it: what
    /// [`serve`](Self::serve) serves (one routing step less per request). Serve it with
    /// `axum::serve(listener, axum::ServiceExt::<Request>::into_make_service(app.service()))`.
    pub fn service(
        &self,
    ) -> impl tower::Service<
        Request,
        Response = Response,
        Error = Infallible,
        Future: Send + 'static,
    >
    + Clone
    + Send
    + Sync
    + 'static
    + use<> {
        let admission = EventAdmission {
            token: self
                .options
                .env_var("MINT_PLUGIN_TOKEN")
                .unwrap_or_default(),
            plugin_name: self.options.env_var("MINT_PLUGIN_NAME").unwrap_or_default(),
        };
        // Per route, not router-wide: a `Router::layer` costs every route a boxed service.
        let events = post(events_route).layer(Extension(admission));
        let rest = Router::new().route("/__mint/events", events);
        // The frontend at `{prefix}/`, outside `/api` (§1.2).
        let rest = match &self.frontend {
            Some((prefix, files)) => rest.merge(files.router(prefix)),
            None => rest,
        };
        // The plugin's API (every request that matters for speed) goes straight to its
        // `PluginService`; the few other routes keep a router with the binding on each route.
        let dispatch = mount::ApiFirst {
            api: PluginService::new(self.plugin.clone(), self.options.max_upload_bytes),
            rest: rest
                .layer(binding(self.plugin.clone(), self.options.max_upload_bytes))
                .with_state(()),
        };
        let cors = self
            .options
            .cors
            .then(|| cors_layer(self.options.cors_origins.as_deref()));
        let limit = u64::try_from(self.options.max_upload_bytes).unwrap_or(u64::MAX);
        stack::CorsGate::new(stack::SdkService::new(dispatch, limit), cors)
    }

    /// Starts the plugin (§1.6): detects the mode, sets up the standalone database, binds the
    /// context and awaits `initialize`. On failure everything started is undone and the
    /// original error returned.
    pub async fn start(&self) -> Result<(), PluginError> {
        let result = self.start_steps().await;
        if let Err(err) = result {
            if self.plugin.core().initialization_started() {
                let _ = self.plugin.shutdown().await;
            }
            let _ = self.plugin.teardown_standalone_db().await;
            if let Some(ctx) = self.plugin.core().context() {
                let _ = ctx.close().await;
            }
            return Err(err);
        }
        Ok(())
    }

    async fn start_steps(&self) -> Result<(), PluginError> {
        let meta = self.plugin.metadata();
        if self.options.env_var("MINT_PLATFORM_URL").is_some() {
            if meta.capabilities.requires_shared_database {
                return Err(PluginError::configuration(
                    "A plugin that requires the shared database cannot run isolated",
                )
                .with_config_key("requires_shared_database"));
            }
            return Err(PluginError::configuration(
                "MINT_PLATFORM_URL is set, but this SDK build has no isolated-mode context yet; \
                 unset it to run standalone",
            )
            .with_config_key("MINT_PLATFORM_URL"));
        }
        self.plugin
            .setup_standalone_db(self.options.data_dir.clone())
            .await?;
        if let Some(db) = self.plugin.standalone_db() {
            crate::migrations::host::migrate_standalone(self.plugin.as_ref(), &db).await?;
        }
        if self.plugin.settings_model().is_some() {
            let path = crate::plugin::standalone_settings_path(self.plugin.as_ref());
            let stored = crate::settings::read_settings_file(&path)?;
            self.plugin
                .apply_settings(&Value::Object(stored))
                .map_err(|e| {
                    PluginError::configuration(format!(
                        "Stored settings in {} are invalid: {e}",
                        path.display()
                    ))
                    .with_config_key("settings")
                })?;
        }
        self.plugin.core().bind_context(None);
        self.plugin.core().mark_initialization_started();
        self.plugin.initialize(None).await
    }

    /// Stops the plugin (§1.7): `shutdown`, then — even if that failed — the standalone
    /// database and the context. Returns the first error.
    pub async fn shutdown(&self) -> Result<(), PluginError> {
        let first = self.plugin.shutdown().await;
        let db = self.plugin.teardown_standalone_db().await;
        let ctx = match self.plugin.core().context() {
            Some(ctx) => ctx.close().await,
            None => Ok(()),
        };
        first.and(db).and(ctx)
    }

    /// Starts, serves on `addr` until Ctrl-C or SIGTERM, then shuts down.
    ///
    /// Errors: start failures, or `Configuration` when the address cannot be bound.
    pub async fn serve(&self, addr: SocketAddr) -> Result<(), PluginError> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            PluginError::configuration(format!("Cannot listen on {addr}: {e}"))
                .with_config_key("port")
        })?;
        self.serve_on(listener).await
    }

    /// Like [`serve`](Self::serve) on an already bound listener.
    pub async fn serve_on(&self, listener: tokio::net::TcpListener) -> Result<(), PluginError> {
        self.start().await?;
        let meta = self.plugin.metadata();
        let local = listener.local_addr().ok();
        tracing::info!(
            target: "mint.sdk",
            plugin = %meta.name,
            address = %local.map(|a| a.to_string()).unwrap_or_default(),
            "Serving {} {} standalone on http://{} (routes under /api{}/…, readiness probe /api{}/_mint/runtime)",
            meta.name,
            meta.version,
            local.map(|a| a.to_string()).unwrap_or_default(),
            meta.routes_prefix,
            meta.routes_prefix
        );
        match &self.frontend {
            Some((prefix, files)) => tracing::info!(
                target: "mint.sdk",
                plugin = %meta.name,
                "Serving the frontend in {} at {}/",
                files.dir().display(),
                prefix.as_str()
            ),
            None => tracing::info!(
                target: "mint.sdk",
                plugin = %meta.name,
                "No frontend (none built at the plugin's frontend_dir; --frontend-dir sets one)"
            ),
        }
        let service = axum::ServiceExt::<Request>::into_make_service(self.service());
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(PluginError::unexpected);
        tracing::info!(target: "mint.sdk", plugin = %meta.name, "Stopping");
        let stopped = self.shutdown().await;
        served.and(stopped)
    }
}

/// Resolves on Ctrl-C or (Unix) SIGTERM: the graceful-stop trigger of every SDK server.
/// Starts `plugin` the way an integrated host does (app-testing-export.md §1.6 steps 5–6):
/// binds `context`, applies the settings the platform stores for the plugin (when it has a
/// settings model), then awaits `initialize(Some(context))`. The platform's in-process loader
/// and tests with a `RecordingContext` use it.
///
/// Errors: invalid stored settings (`Configuration`, key `settings`) or `initialize`'s error;
/// on an `initialize` error `shutdown` has been called.
pub async fn start_integrated(
    plugin: &dyn AnalysisPlugin,
    context: PlatformContext,
) -> Result<(), PluginError> {
    plugin.core().bind_context(Some(context.clone()));
    if plugin.settings_model().is_some() {
        let stored = context.plugin_config().await?;
        plugin.apply_settings(&Value::Object(stored)).map_err(|e| {
            PluginError::configuration(format!("Stored settings are invalid: {e}"))
                .with_config_key("settings")
        })?;
    }
    plugin.core().mark_initialization_started();
    if let Err(err) = plugin.initialize(Some(context)).await {
        let _ = plugin.shutdown().await;
        return Err(err);
    }
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Mounts `plugin`'s routers at `/api{routes_prefix}{sub_prefix}` plus its `_mint/runtime`
/// probe, with the plugin bound in every request's extensions and, when `requires_auth`, a user
/// resolved before each plugin route: the routes a [`PluginService`] serves, as one router with
/// axum's nesting (the standalone app and the platform serve a `PluginService` instead).
pub fn mount_plugin(plugin: Arc<dyn AnalysisPlugin>, max_upload_bytes: usize) -> Router {
    let base = format!("/api{}", plugin.metadata().routes_prefix);
    let mut router = Router::new();
    for (sub_prefix, sub_router) in route_groups(&plugin) {
        router = router.nest(&format!("{base}{sub_prefix}"), sub_router);
    }
    // One layer of two services: each `Router::layer` boxes every route once more.
    router.layer(binding(plugin, max_upload_bytes))
}

/// The plugin's routes relative to its base `/api{routes_prefix}` (what [`PluginService`] serves
/// after taking the base off the path): the group of the empty sub-prefix at the root, the
/// others nested at their sub-prefix.
pub(crate) fn relative_routes(plugin: &Arc<dyn AnalysisPlugin>) -> Router {
    let mut router = Router::new();
    for (sub_prefix, sub_router) in route_groups(plugin) {
        router = if sub_prefix.is_empty() {
            router.merge(sub_router)
        } else {
            router.nest(&sub_prefix, sub_router)
        };
    }
    router
}

/// The plugin's routes as `(sub_prefix, router)` groups, each relative to the base
/// `/api{routes_prefix}`: routers sharing a sub-prefix merged (axum cannot nest twice at one
/// path), the plugin's own routes behind the user resolution when `requires_auth`, and the
/// SDK's routes (settings, when the plugin has a settings model and wants them, and
/// `_mint/runtime`) in the group of the empty sub-prefix.
fn route_groups(plugin: &Arc<dyn AnalysisPlugin>) -> Vec<(String, Router)> {
    let meta = plugin.metadata();
    let mut groups: Vec<(String, Router)> = Vec::new();
    for (sub_router, sub_prefix) in plugin.clone().routers() {
        match groups.iter_mut().find(|(p, _)| *p == sub_prefix) {
            Some((_, merged)) => *merged = std::mem::take(merged).merge(sub_router),
            None => groups.push((sub_prefix, sub_router)),
        }
    }
    if meta.capabilities.requires_auth {
        for (_, router) in &mut groups {
            *router = std::mem::take(router).route_layer(stack::RequireUserLayer);
        }
    }
    let mut sdk_routes = Router::new();
    if plugin.settings_model().is_some() && plugin.sdk_settings_routes() {
        sdk_routes = sdk_routes.nest("/settings", settings_router(plugin.clone()));
    }
    let name = meta.name;
    sdk_routes = sdk_routes.route(
        "/_mint/runtime",
        get(move || {
            let name = name.clone();
            async move { Json(json!({"name": name, "configRequiresAdmin": false})) }
        }),
    );
    match groups.iter_mut().find(|(p, _)| p.is_empty()) {
        Some((_, root)) => *root = std::mem::take(root).merge(sdk_routes),
        None => groups.push((String::new(), sdk_routes)),
    }
    groups
}

/// What binds requests to `plugin`: the plugin in the extensions (the SDK's extractors and
/// guards find it there) and the body limit of its upload routes.
fn binding(
    plugin: Arc<dyn AnalysisPlugin>,
    max_upload_bytes: usize,
) -> (Extension<BoundPlugin>, DefaultBodyLimit) {
    (
        Extension(BoundPlugin { plugin }),
        DefaultBodyLimit::max(max_upload_bytes),
    )
}

/// Wraps a router in the SDK layers, in one service: request id and log scope (outermost),
/// `/api/…/` → `/api/…` path normalization, a request body limit by `Content-Length`, panic →
/// 500 envelope, non-JSON error → envelope, and `X-Request-ID` on every response.
pub fn with_sdk_layers(router: Router, max_upload_bytes: usize) -> Router {
    Router::new().fallback_service(sdk_service(router, max_upload_bytes))
}

/// The SDK's layers (request id and log scope, `/api/…/` trim, 413 by `Content-Length`, panic →
/// 500 envelope, non-JSON error → envelope, `X-Request-ID` on every response) around any
/// service, without a router around them: what a host serves when it dispatches itself (the
/// platform's plugin-first routing). [`with_sdk_layers`] is the same for a router, as a router.
pub fn sdk_layers_service<S>(
    inner: S,
    max_upload_bytes: usize,
) -> impl tower::Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static
where
    S: tower::Service<Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let limit = u64::try_from(max_upload_bytes).unwrap_or(u64::MAX);
    stack::SdkService::new(inner, limit)
}

fn sdk_service(router: Router, max_upload_bytes: usize) -> stack::SdkService<Router> {
    let limit = u64::try_from(max_upload_bytes).unwrap_or(u64::MAX);
    stack::SdkService::new(router, limit)
}

fn cors_layer(origins: Option<&[String]>) -> CorsLayer {
    let allow_origin = match origins.filter(|o| !o.is_empty()) {
        None => AllowOrigin::mirror_request(),
        Some(list) if list.iter().any(|o| o == "*") => AllowOrigin::mirror_request(),
        Some(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        ),
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_credentials(true)
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(Duration::from_secs(600))
}

/// The request-id header name.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request id chosen for a request (`spec/errors-and-logging.md` §5): an extractor,
/// `async fn handler(RequestId(id): RequestId)`, equal to [`current_request_id`] in the
/// handler. A layer outside the SDK's may set it in the request extensions first; the SDK then
/// keeps that id. Rejection (500 envelope) only outside the SDK's layers, where no request has
/// an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = PluginError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        if let Some(id) = parts.extensions.get::<RequestId>() {
            return Ok(id.clone());
        }
        current_request_id()
            .map(RequestId)
            .ok_or_else(|| PluginError::other("No request id: the SDK's layers are not in place"))
    }
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic with a non-string payload".into());
    let (method, path) = logging::current_request_target().unwrap_or_default();
    tracing::error!(target: "mint.sdk", error = %text, "Unhandled error [{method} {path}]");
    let body = unexpected_envelope(current_request_id().as_deref());
    json_response(StatusCode::INTERNAL_SERVER_ERROR, &body)
}

// ----- POST /__mint/events (isolated-mode hooks, §1.5) -------------------------------------------

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What `POST /__mint/events` admits: the env's `MINT_PLUGIN_TOKEN` and `MINT_PLUGIN_NAME`.
#[derive(Debug, Clone, Default)]
struct EventAdmission {
    token: String,
    plugin_name: String,
}

fn event_admission(headers: &HeaderMap, admission: &EventAdmission) -> Result<(), PluginError> {
    let denied = || PluginError::permission("Invalid plugin internal token");
    let expected = &admission.token;
    let mut tokens = headers.get_all("x-mint-internal-token").iter();
    let token = tokens
        .next()
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if expected.is_empty()
        || tokens.next().is_some()
        || !constant_time_eq(token.as_bytes(), expected.as_bytes())
    {
        return Err(denied());
    }
    let sent_name = headers
        .get("x-mint-plugin-name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let own_name = &admission.plugin_name;
    if !sent_name.is_empty() && !own_name.is_empty() && sent_name != own_name {
        return Err(denied());
    }
    if let Some(version) = headers
        .get("x-mint-platform-api-version")
        .and_then(|v| v.to_str().ok())
        && version != INTERNAL_API_VERSION
    {
        return Err(PluginError::platform_compatibility(format!(
            "Platform internal API version {version} is not supported (SDK speaks {INTERNAL_API_VERSION})"
        ))
        .with_api_versions(INTERNAL_API_VERSION, version));
    }
    Ok(())
}

async fn events_route(
    Extension(bound): Extension<BoundPlugin>,
    Extension(admission): Extension<EventAdmission>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(err) = event_admission(&headers, &admission) {
        return err.into_response();
    }
    let event = body
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let payload = body
        .get("payload")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let request_id = body
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(current_request_id)
        .unwrap_or_default();
    let plugin = bound.plugin.clone();
    let outcome =
        logging::with_request_id(request_id, dispatch_event(plugin, &event, payload)).await;
    match outcome {
        Ok((handled, veto)) => Json(json!({"handled": handled, "veto": veto})).into_response(),
        Err(EventFailure::BadPayload(msg)) => {
            PluginError::validation(format!("Invalid event payload: {msg}")).into_response()
        }
        Err(EventFailure::Hook(err)) => {
            let err = match err {
                e @ PluginError::Unexpected { .. } => {
                    PluginError::lifecycle(format!("Plugin event handler failed: {e}"))
                        .with_phase("event")
                }
                e => e,
            };
            json_response(StatusCode::INTERNAL_SERVER_ERROR, &err.to_dict())
        }
    }
}

enum EventFailure {
    BadPayload(String),
    Hook(PluginError),
}

async fn dispatch_event(
    plugin: Arc<dyn AnalysisPlugin>,
    event: &str,
    payload: JsonObject,
) -> Result<(bool, Value), EventFailure> {
    let known = matches!(
        event,
        "experiment.before_save" | "experiment.after_save" | "experiment.status_changed"
    );
    if !known {
        return Ok((false, Value::Null));
    }
    let experiment_id = payload
        .get("experiment_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| EventFailure::BadPayload("experiment_id must be an integer".into()))?;
    let data = payload
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    match event {
        "experiment.before_save" => {
            let result = plugin
                .on_before_experiment_save(experiment_id, &data)
                .await
                .map_err(EventFailure::Hook)?;
            let veto = if result.success {
                Value::Null
            } else {
                json!({"message": result.veto_message()})
            };
            Ok((true, veto))
        }
        "experiment.after_save" => {
            plugin
                .on_after_experiment_save(experiment_id, &data)
                .await
                .map_err(EventFailure::Hook)?;
            Ok((true, Value::Null))
        }
        _ => {
            let text = |k: &str| {
                payload
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            plugin
                .on_experiment_status_change(
                    experiment_id,
                    &text("old_status"),
                    &text("new_status"),
                )
                .await
                .map_err(EventFailure::Hook)?;
            Ok((true, Value::Null))
        }
    }
}

// ----- the plugin binary (§1.8) -------------------------------------------------------------------

#[derive(Debug, Parser)]
#[command(
    about = "Serve a MINT plugin standalone, or print its metadata",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the plugin over HTTP (the default).
    Serve(ServeArgs),
    /// Print the plugin's metadata and exit.
    Metadata {
        /// Print JSON (the only format).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MINT_PLUGIN_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(long, env = "MINT_PLUGIN_PORT", default_value_t = 8003)]
    port: u16,
    /// Directory of the plugin's SQLite database (default ~/.mint/plugins/<name>).
    #[arg(long, env = "MINT_PLUGIN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Built frontend served at `{prefix}/` (default: the plugin's `frontend_dir()`).
    // An OsString, not a PathBuf: clap refuses an empty PathBuf, but an empty variable means unset.
    #[arg(long, env = "MINT_PLUGIN_FRONTEND_DIR")]
    frontend_dir: Option<std::ffi::OsString>,
}

/// The entry of every plugin binary: `fn main() -> ExitCode { mint_sdk::app::run(plugin) }`.
///
/// Argv: `[serve] [--host H] [--port P] [--data-dir DIR] [--frontend-dir DIR]` (flags beat
/// `MINT_PLUGIN_HOST`, `MINT_PLUGIN_PORT`, `MINT_PLUGIN_DATA_DIR`, `MINT_PLUGIN_FRONTEND_DIR`;
/// defaults `127.0.0.1:8003`, frontend from `frontend_dir()`), or `metadata --json`.
/// Exit codes: 0 after a clean stop, 1 when start or serve fails, 2 on a usage error.
pub fn run(plugin: Arc<dyn AnalysisPlugin>) -> ExitCode {
    run_with(plugin, StandaloneOptions::default())
}

/// [`run`] with explicit app options (the parsed flags still apply).
pub fn run_with(plugin: Arc<dyn AnalysisPlugin>, options: StandaloneOptions) -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let meta = plugin.metadata();
    let mut command = Cli::command()
        .name(meta.name.clone())
        .version(meta.version.clone())
        .about(meta.description.clone())
        .after_help(options.after_help.clone().unwrap_or_else(|| {
            "Environment: MINT_LOG_LEVEL (debug, info, warning, error) sets the log threshold; logs are JSON lines on stderr.".into()
        }));
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let serve = match cli.command {
        Some(Command::Metadata { .. }) => {
            use std::io::Write as _;
            let text = serde_json::to_string_pretty(&plugin.manifest()).unwrap_or_default();
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            return ExitCode::SUCCESS;
        }
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    logging::init_json_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let addr: SocketAddr = match format!("{}:{}", serve.host, serve.port).parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "error: invalid --host/--port '{}:{}': {e}",
                serve.host, serve.port
            );
            return ExitCode::from(2);
        }
    };
    let mut options = options;
    if serve.data_dir.is_some() {
        options.data_dir = serve.data_dir;
    }
    if let Some(dir) = serve.frontend_dir.filter(|d| !d.is_empty()) {
        options.frontend_dir = Some(PathBuf::from(dir));
    }
    let result = runtime.block_on(async move {
        let app = create_standalone_app(plugin, options)?;
        app.serve(addr).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

// ----- settings routes (§1.4) ----------------------------------------------------------------------

fn settings_router(plugin: Arc<dyn AnalysisPlugin>) -> Router {
    Router::new()
        .route("/", get(get_settings).put(put_settings))
        .route("/reset", post(reset_settings))
        .route("/schema", get(settings_schema))
        .route("/mode", get(settings_mode))
        .route_layer(middleware::from_fn(settings_permission))
        .with_state(plugin)
}

type PluginState = axum::extract::State<Arc<dyn AnalysisPlugin>>;

fn mode_of(plugin: &dyn AnalysisPlugin) -> &'static str {
    if plugin.is_standalone() {
        "standalone"
    } else {
        "integrated"
    }
}

fn visible_settings(plugin: &dyn AnalysisPlugin) -> Result<JsonObject, PluginError> {
    let settings = plugin.settings()?;
    let secrets = plugin
        .settings_model()
        .map(|m| m.secret_keys())
        .unwrap_or_default();
    Ok(crate::settings::mask_secrets(&settings, &secrets))
}

fn settings_body(plugin: &dyn AnalysisPlugin) -> Result<Value, PluginError> {
    Ok(json!({"settings": visible_settings(plugin)?, "mode": mode_of(plugin)}))
}

/// Integrated only: reading needs `plugins.view`, changing needs `plugins.configure`.
async fn settings_permission(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let ctx = parts
        .extensions
        .get::<BoundPlugin>()
        .and_then(|b| b.plugin.core().context());
    if let Some(ctx) = ctx {
        let needed = if parts.method == axum::http::Method::GET
            || parts.method == axum::http::Method::HEAD
        {
            "plugins.view"
        } else {
            "plugins.configure"
        };
        match ctx.current_user(&parts).await {
            Ok(user) if user.is_platform_admin() || user.permissions.contains(needed) => {}
            Ok(_) => {
                return PluginError::http_message(
                    StatusCode::FORBIDDEN,
                    format!("Missing permission: {needed}"),
                )
                .into_response();
            }
            Err(err) => return err.into_response(),
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

async fn get_settings(
    axum::extract::State(plugin): PluginState,
) -> Result<Json<Value>, PluginError> {
    Ok(Json(settings_body(plugin.as_ref())?))
}

/// The 422 of an invalid settings PUT: field path only, the input is never echoed.
fn settings_rejection(err: PluginError) -> Response {
    let PluginError::Validation { field, .. } = &err else {
        return err.into_response();
    };
    let field = field.clone().unwrap_or_else(|| "__root__".into());
    let mut loc = vec![Value::from("body")];
    loc.extend(field.split('.').map(Value::from));
    let body = envelope_body(
        "validation.error",
        "Validation error",
        StatusCode::UNPROCESSABLE_ENTITY,
        current_request_id().as_deref(),
        json!([{"field": field, "message": "Invalid value", "type": "value_error"}]),
        json!([{"type": "value_error", "loc": loc, "msg": "Invalid value"}]),
        None,
    );
    json_response(StatusCode::UNPROCESSABLE_ENTITY, &body)
}

async fn put_settings(
    axum::extract::State(plugin): PluginState,
    Json(body): Json<Value>,
) -> Response {
    match plugin.save_settings(body).await {
        Ok(_) => match settings_body(plugin.as_ref()) {
            Ok(b) => Json(b).into_response(),
            Err(e) => e.into_response(),
        },
        Err(err) => settings_rejection(err),
    }
}

async fn reset_settings(axum::extract::State(plugin): PluginState) -> Response {
    let defaults = match plugin.settings_model().map(|m| m.defaults()) {
        Some(Ok(d)) => d,
        Some(Err(e)) => return settings_rejection(e),
        None => JsonObject::new(),
    };
    match plugin.save_settings(Value::Object(defaults)).await {
        Ok(_) => match visible_settings(plugin.as_ref()) {
            Ok(s) => {
                Json(json!({"success": true, "settings": s, "mode": mode_of(plugin.as_ref())}))
                    .into_response()
            }
            Err(e) => e.into_response(),
        },
        Err(err) => settings_rejection(err),
    }
}

async fn settings_schema(axum::extract::State(plugin): PluginState) -> Json<Value> {
    let name = plugin.metadata().name;
    Json(json!({"groups": [{
        "id": "settings",
        "label": format!("{name} Settings"),
        "columns": 1,
        "fields": plugin.configurable_settings(),
    }]}))
}

async fn settings_mode(axum::extract::State(plugin): PluginState) -> Json<Value> {
    let has_database = match plugin.context() {
        Some(ctx) => ctx.experiment_repository().is_some(),
        None => plugin.standalone_db().is_some(),
    };
    Json(json!({"mode": mode_of(plugin.as_ref()), "has_database": has_database}))
}
