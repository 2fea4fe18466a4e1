//! A configurable throwaway plugin, [`make_test_plugin`], and [`build_test_app`]
//! (`spec/app-testing-export.md` §4.1–4.2).
//!
//! For testing hosts and SDK machinery (mounting, events, health) without writing a plugin
//! type; a real plugin is tested as itself, with a [`RecordingContext`](super::RecordingContext).

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;

use crate::app::{StandaloneApp, StandaloneOptions, create_standalone_app};
use crate::context::PlatformContext;
use crate::error::{JsonObject, PluginError};
use crate::lifecycle::{HealthStatus, LifecycleHookResult, PluginHealth};
use crate::models::{PluginCapabilities, PluginMetadata, PluginType};
use crate::plugin::{AnalysisPlugin, PluginCore};

/// Adds routes to the test plugin's (empty) router; runs on every `routers()` call (§4.1).
pub type RouteBuilder = Arc<dyn Fn(Router) -> Router + Send + Sync>;
/// Answers `on_before_experiment_save` (§4.1).
pub type BeforeSaveHook = Arc<dyn Fn(i64, &JsonObject) -> LifecycleHookResult + Send + Sync>;
/// Observes `on_after_experiment_save` (§4.1).
pub type AfterSaveHook = Arc<dyn Fn(i64, &JsonObject) + Send + Sync>;
/// Observes `on_experiment_status_change(experiment_id, old_status, new_status)` (§4.1).
pub type StatusChangeHook = Arc<dyn Fn(i64, &str, &str) + Send + Sync>;

/// Options of [`make_test_plugin`], defaults as tabled in §4.1.
///
/// ```
/// use mint_sdk::HealthStatus;
/// use mint_sdk::testing::{TestPluginOptions, make_test_plugin};
///
/// let options = TestPluginOptions::default().with_health_status_str("degraded")?;
/// assert_eq!(options.health_status, HealthStatus::Degraded);
/// assert!(TestPluginOptions::default().with_health_status_str("fine").is_err());
/// let meta = make_test_plugin(options).metadata();
/// assert_eq!((meta.name.as_str(), meta.routes_prefix.as_str()), ("test-plugin", "/test-plugin"));
/// # Ok::<(), mint_sdk::PluginError>(())
/// ```
#[derive(Clone)]
pub struct TestPluginOptions {
    /// Plugin name, default `"test-plugin"`; the description is `"test plugin <name>"`.
    pub name: String,
    /// Default `"0.0.1"`.
    pub version: String,
    /// Default `"/test-plugin"`.
    pub routes_prefix: String,
    /// Default `Analysis`.
    pub plugin_type: PluginType,
    /// Default `"test"`.
    pub analysis_type: String,
    /// Default `requires_database` and `requires_experiments`, the rest false.
    pub capabilities: PluginCapabilities,
    /// Adds routes; `None` leaves the router empty.
    pub route_builder: Option<RouteBuilder>,
    /// Sub-prefix of the one router, default `""`.
    pub sub_prefix: String,
    /// `None`: before-save succeeds.
    pub before_save: Option<BeforeSaveHook>,
    /// `None`: nothing happens after a save.
    pub after_save: Option<AfterSaveHook>,
    /// `None`: nothing happens on a status change.
    pub status_change: Option<StatusChangeHook>,
    /// What `check_health` reports, default `Healthy`.
    pub health_status: HealthStatus,
    /// The health message, default none.
    pub health_message: Option<String>,
}

impl Default for TestPluginOptions {
    fn default() -> Self {
        Self {
            name: "test-plugin".into(),
            version: "0.0.1".into(),
            routes_prefix: "/test-plugin".into(),
            plugin_type: PluginType::Analysis,
            analysis_type: "test".into(),
            capabilities: PluginCapabilities {
                requires_database: true,
                requires_experiments: true,
                ..Default::default()
            },
            route_builder: None,
            sub_prefix: String::new(),
            before_save: None,
            after_save: None,
            status_change: None,
            health_status: HealthStatus::Healthy,
            health_message: None,
        }
    }
}

impl std::fmt::Debug for TestPluginOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPluginOptions")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("routes_prefix", &self.routes_prefix)
            .field("plugin_type", &self.plugin_type)
            .field("analysis_type", &self.analysis_type)
            .field("capabilities", &self.capabilities)
            .field("route_builder", &self.route_builder.is_some())
            .field("sub_prefix", &self.sub_prefix)
            .field("before_save", &self.before_save.is_some())
            .field("after_save", &self.after_save.is_some())
            .field("status_change", &self.status_change.is_some())
            .field("health_status", &self.health_status)
            .field("health_message", &self.health_message)
            .finish()
    }
}

impl TestPluginOptions {
    /// Sets the name (§4.1).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the version (§4.1).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Sets the routes prefix (§4.1).
    pub fn with_routes_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.routes_prefix = prefix.into();
        self
    }

    /// Sets the plugin type (§4.1).
    pub fn with_plugin_type(mut self, plugin_type: PluginType) -> Self {
        self.plugin_type = plugin_type;
        self
    }

    /// Sets the analysis type (§4.1).
    pub fn with_analysis_type(mut self, analysis_type: impl Into<String>) -> Self {
        self.analysis_type = analysis_type.into();
        self
    }

    /// Sets the capabilities (§4.1).
    pub fn with_capabilities(mut self, capabilities: PluginCapabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets the route builder, e.g. `|r| r.route("/ping", get(|| async { "pong" }))` (§4.1).
    pub fn with_routes(mut self, build: impl Fn(Router) -> Router + Send + Sync + 'static) -> Self {
        self.route_builder = Some(Arc::new(build));
        self
    }

    /// Sets the sub-prefix of the router (§4.1).
    pub fn with_sub_prefix(mut self, sub_prefix: impl Into<String>) -> Self {
        self.sub_prefix = sub_prefix.into();
        self
    }

    /// Sets the before-save callback (§4.1).
    pub fn with_before_save(
        mut self,
        hook: impl Fn(i64, &JsonObject) -> LifecycleHookResult + Send + Sync + 'static,
    ) -> Self {
        self.before_save = Some(Arc::new(hook));
        self
    }

    /// Sets the after-save callback (§4.1).
    pub fn with_after_save(
        mut self,
        hook: impl Fn(i64, &JsonObject) + Send + Sync + 'static,
    ) -> Self {
        self.after_save = Some(Arc::new(hook));
        self
    }

    /// Sets the status-change callback (§4.1).
    pub fn with_status_change(
        mut self,
        hook: impl Fn(i64, &str, &str) + Send + Sync + 'static,
    ) -> Self {
        self.status_change = Some(Arc::new(hook));
        self
    }

    /// Sets the reported health status (§4.1).
    pub fn with_health_status(mut self, status: HealthStatus) -> Self {
        self.health_status = status;
        self
    }

    /// Sets the reported health status from its wire string (`"healthy"`, `"degraded"`,
    /// `"unhealthy"`, `"unknown"`) (§4.1).
    ///
    /// Errors: `PluginError::Validation` (field `health_status`) for any other string.
    pub fn with_health_status_str(mut self, status: &str) -> Result<Self, PluginError> {
        self.health_status = status.parse()?;
        Ok(self)
    }

    /// Sets the health message (§4.1).
    pub fn with_health_message(mut self, message: impl Into<String>) -> Self {
        self.health_message = Some(message.into());
        self
    }
}

/// The recipe [`make_test_plugin`] returns; [`build`](Self::build) makes fresh instances (§4.1).
#[derive(Debug, Clone)]
pub struct TestPluginSpec {
    options: TestPluginOptions,
}

impl TestPluginSpec {
    /// A new, unstarted plugin instance (its own core, no context) (§4.1).
    pub fn build(&self) -> Arc<TestPlugin> {
        Arc::new(TestPlugin {
            core: PluginCore::new(),
            options: self.options.clone(),
        })
    }

    /// The metadata every instance reports (§4.1).
    pub fn metadata(&self) -> PluginMetadata {
        metadata_of(&self.options)
    }

    /// The options (§4.1).
    pub fn options(&self) -> &TestPluginOptions {
        &self.options
    }
}

/// A plugin spec from `options` (seed `make_test_plugin`, §4.1).
pub fn make_test_plugin(options: TestPluginOptions) -> TestPluginSpec {
    TestPluginSpec { options }
}

fn metadata_of(o: &TestPluginOptions) -> PluginMetadata {
    PluginMetadata::new(
        o.name.clone(),
        o.version.clone(),
        format!("test plugin {}", o.name),
        o.analysis_type.clone(),
        o.routes_prefix.clone(),
    )
    .with_plugin_type(o.plugin_type)
    .with_capabilities(o.capabilities)
}

/// The plugin built by a [`TestPluginSpec`] (§4.1): `routers()` returns exactly one
/// `(route_builder(Router::new()), sub_prefix)`, `initialize` binds the context it is given,
/// `shutdown` does nothing, `check_health` reports the configured status and message, and the
/// lifecycle hooks call the configured callbacks.
pub struct TestPlugin {
    core: PluginCore,
    options: TestPluginOptions,
}

impl std::fmt::Debug for TestPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPlugin")
            .field("name", &self.options.name)
            .field("context", &self.core.context())
            .finish()
    }
}

impl TestPlugin {
    /// The options it was built from (§4.1).
    pub fn options(&self) -> &TestPluginOptions {
        &self.options
    }
}

#[async_trait]
impl AnalysisPlugin for TestPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        metadata_of(&self.options)
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        let router = match &self.options.route_builder {
            Some(build) => build(Router::new()),
            None => Router::new(),
        };
        vec![(router, self.options.sub_prefix.clone())]
    }

    /// Stores the context (binds it into the core), so a test may call `initialize` directly.
    async fn initialize(&self, context: Option<PlatformContext>) -> Result<(), PluginError> {
        self.core.bind_context(context);
        Ok(())
    }

    async fn check_health(&self) -> Result<PluginHealth, PluginError> {
        let mut health = PluginHealth::new(self.options.health_status);
        health.message = self.options.health_message.clone();
        Ok(health)
    }

    async fn on_before_experiment_save(
        &self,
        experiment_id: i64,
        data: &JsonObject,
    ) -> Result<LifecycleHookResult, PluginError> {
        Ok(match &self.options.before_save {
            Some(hook) => hook(experiment_id, data),
            None => LifecycleHookResult::default(),
        })
    }

    async fn on_after_experiment_save(
        &self,
        experiment_id: i64,
        data: &JsonObject,
    ) -> Result<(), PluginError> {
        if let Some(hook) = &self.options.after_save {
            hook(experiment_id, data);
        }
        Ok(())
    }

    async fn on_experiment_status_change(
        &self,
        experiment_id: i64,
        old_status: &str,
        new_status: &str,
    ) -> Result<(), PluginError> {
        if let Some(hook) = &self.options.status_change {
            hook(experiment_id, old_status, new_status);
        }
        Ok(())
    }
}

/// The standalone app of `plugin` with CORS on or off and every other option at its default
/// (seed `build_test_app`, §4.2): exactly [`create_standalone_app`], the same mounting code path
/// as production.
///
/// Drive [`StandaloneApp::router`] with `tower::ServiceExt::oneshot`; bind the context first
/// (`plugin.initialize(Some(ctx.context()))` for a [`TestPlugin`]). Do not call
/// [`StandaloneApp::start`]: it re-detects the mode and re-initializes the plugin standalone.
///
/// Errors: `PluginError::Validation` for invalid metadata.
pub fn build_test_app(
    plugin: Arc<dyn AnalysisPlugin>,
    cors: bool,
) -> Result<StandaloneApp, PluginError> {
    create_standalone_app(
        plugin,
        StandaloneOptions {
            cors,
            ..StandaloneOptions::default()
        },
    )
}
