//! # mint-sdk
//!
//! The Rust SDK for MINT ("Mass-spec INtegrated Toolkit") plugins. A plugin implements
//! [`AnalysisPlugin`], serves its own axum routes, and runs unchanged standalone (its own
//! SQLite database), integrated in-process, or isolated behind the platform's proxy.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use mint_sdk::{AnalysisPlugin, PluginCore, PluginMetadata};
//!
//! struct Hello { core: PluginCore }
//!
//! impl AnalysisPlugin for Hello {
//!     fn core(&self) -> &PluginCore { &self.core }
//!     fn metadata(&self) -> PluginMetadata {
//!         PluginMetadata::new("hello", "0.1.0", "Says hello", "demo", "/hello")
//!     }
//!     fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
//!         vec![(Router::new().route("/health", get(|| async { "ok" })), String::new())]
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     mint_sdk::app::run(Arc::new(Hello { core: PluginCore::new() }))
//! }
//! ```
//!
//! ## From the Python SDK to Rust
//!
//! | Python (`mint_sdk`) | Rust |
//! |---|---|
//! | `AnalysisPlugin` | [`AnalysisPlugin`] (+ [`PluginCore`] embedded in every plugin) |
//! | `PluginMetadata`, `PluginCapabilities`, `PluginType` | [`PluginMetadata`], [`PluginCapabilities`], [`PluginType`] |
//! | `PlatformContext` | [`PlatformContext`] (host side: [`context::PlatformContextImpl`]) |
//! | `get_current_user_dependency()` / `get_optional_user_dependency()` | the [`CurrentUser`] / [`context::OptionalUser`] extractors |
//! | `require_plugin_role(*roles)` | [`PlatformContext::require_plugin_role`], [`context::require_plugin_role`] |
//! | `get_routers()` | [`AnalysisPlugin::routers`] |
//! | `get_*_repository()` | [`PlatformContext::experiment_repository`] and siblings |
//! | `get_config()` | [`PlatformContext::config`], [`context::filter_platform_config`] |
//! | `get_shared_db_session()` / `get_plugin_db_session()` | [`PlatformContext::shared_db_session`] / [`AnalysisPlugin::plugin_db_session`] |
//! | `Experiment`, `DesignData`, `PluginExperimentData`, `PluginAnalysisResult`, `User`, `UserPluginRole`, `PlatformConfig` | same names in [`repositories`] |
//! | `ExperimentRepository`, `PluginDataRepository`, `UserRepository`, `PluginRoleRepository` | async traits of the same names |
//! | `LocalDatabase`, `LocalDatabaseConfig` | [`LocalDatabase`], [`LocalDatabaseConfig`] |
//! | `_setup_standalone_db()` / `_teardown_standalone_db()` | [`AnalysisPlugin::setup_standalone_db`] / [`AnalysisPlugin::teardown_standalone_db`] |
//! | `HealthStatus`, `PluginHealth`, `LifecycleHookResult` | [`HealthStatus`], [`PluginHealth`], [`LifecycleHookResult`] |
//! | `get_plugin_logger(name)` | [`plugin_logger`] |
//! | `PluginException` and its subclasses | [`PluginError`] variants: `Other`, `Validation`, `Permission`, `Configuration`, `Repository`, `NotFound`, `Conflict`, `Lifecycle` (+ `EventVeto`, `UnsupportedExperimentType`, `DesignDataOwnershipConflict`, `PlatformCompatibility`) |
//! | `settings_model`, `settings`, `apply_settings`, `save_settings`, `get_configurable_settings()` | [`AnalysisPlugin::settings_model`] ([`SettingsModel`]), [`AnalysisPlugin::settings`], [`AnalysisPlugin::apply_settings`], [`AnalysisPlugin::save_settings`], [`AnalysisPlugin::configurable_settings`] |
//! | `PluginDependency`, `require_context` | [`PluginDependency`] (extract with [`Injected`]), [`require_context`] (extract with [`RequireContext`]) |
//! | `create_standalone_app(plugin)` | [`create_standalone_app`] → [`app::StandaloneApp`]; a binary's `main` calls [`app::run`] |
//! | FastAPI `Body`/`Query`/`Path` validation | [`extract::Json`], [`extract::Query`], [`extract::Path`] |
//! | `auto_json_to_tree`, `auto_json_to_csv`, `auto_json_to_summary` (`TreeNode`); plugin `export_tree`/`export_csv`/`export_summary` | [`auto_json_to_tree`] (→ `Vec<`[`TreeNode`]`>`), [`auto_json_to_csv`], [`auto_json_to_summary`], helpers in [`export`]; [`AnalysisPlugin::export_tree`] and siblings |
//! | `SPAStaticFiles` | [`SpaStaticFiles`] (mounted at `{prefix}/` by [`app::StandaloneApp::router`]) |
//! | `mint_sdk.testing.RecordingContext` | `mint_sdk::testing::RecordingContext` (feature `testing`) |
//! | `mint_sdk.testing.make_test_plugin(**options)` | `mint_sdk::testing::make_test_plugin(TestPluginOptions)` → `TestPluginSpec::build()` (feature `testing`) |
//! | `mint_sdk.testing.build_test_app(plugin)` | `mint_sdk::testing::build_test_app(plugin, cors)` (feature `testing`) |
//! | `mint_sdk.testing.write_standalone_plugin_module(dir, …)` | `mint_sdk::testing::write_standalone_plugin_module(dir, &StandaloneModuleOptions)` + the `mint-test-plugin` binary (feature `testing`) |
//! | `PluginMigration` (+ `version`, `name`, `depends_on`, `destructive`, `upgrade`, `downgrade`) | [`PluginMigration`] on an `impl` marked [`#[mint_sdk::migration]`](migration) (compile-time checksum); listed with [`migrations!`] |
//! | `MigrationOps` (`op._dialect`) | [`MigrationOps`] ([`MigrationOps::dialect`] → [`Dialect`]); columns with [`Column`] |
//! | `MigrationRunner(engine, plugin_name, dialect, schema)`, `run`, `discover` | [`MigrationRunner::new`] (+ `with_schema`, `with_lock_timeout`), [`MigrationRunner::run`], [`MigrationRunner::discover`] |
//! | `MigrationResult`; `MigrationError`, `MigrationChecksumError`, `SchemaVersionAheadError`, `DestructiveMigrationError` | [`MigrationResult`]; [`MigrationError`] variants (`Failed`, `Checksum`, `SchemaVersionAhead`, `Destructive`, …) |
//! | `get_migrations_package()`, `get_shared_models()` | [`AnalysisPlugin::migrations`], [`AnalysisPlugin::shared_models`] ([`TableDef`]) |
//!
//! Not yet in this version (tracked on the project's issues): `MINTClient`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Lets `#[mint_sdk::migration]` expansions (which name `::mint_sdk`) work inside this crate.
extern crate self as mint_sdk;

pub mod app;
pub mod context;
pub mod dependency;
pub mod error;
pub mod export;
pub mod extract;
pub mod frontend;
pub mod lifecycle;
pub mod local_database;
pub mod logging;
pub mod migrations;
pub mod models;
pub mod plugin;
pub mod repositories;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use app::{StandaloneApp, StandaloneOptions, create_standalone_app};
pub use context::{CurrentUser, PlatformContext};
pub use dependency::{Injected, PluginDependency, RequireContext, require_context};
pub use error::{JsonObject, PluginError};
pub use export::{TreeNode, auto_json_to_csv, auto_json_to_summary, auto_json_to_tree};
pub use frontend::SpaStaticFiles;
pub use lifecycle::{HealthStatus, LifecycleHookResult, PluginHealth};
pub use local_database::{LocalDatabase, LocalDatabaseConfig};
pub use logging::{current_request_id, plugin_logger};
pub use migrations::{
    Column, Dialect, MigrationError, MigrationOps, MigrationResult, MigrationRunner,
    PluginMigration, TableDef,
};
/// Marks `impl PluginMigration for X { … }` as a migration: compile-time checksum,
/// `has_downgrade()`, and `async_trait` (migrations.md §4.4).
pub use mint_sdk_macros::migration;
pub use models::{PluginCapabilities, PluginMetadata, PluginType, RoutesPrefix, derive_slug};
pub use plugin::{AnalysisPlugin, PluginCore};
pub use repositories::{
    DesignData, Experiment, ExperimentRepository, PlatformConfig, PluginAnalysisResult,
    PluginDataRepository, PluginExperimentData, PluginRoleRepository, User, UserPluginRole,
    UserRepository,
};
pub use settings::SettingsModel;

/// The SDK's version (Python `mint_sdk.__version__`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

// Re-exported so plugins use the same versions as the SDK.
pub use async_trait::async_trait;
pub use axum;
pub use schemars;
pub use sea_orm;
pub use serde_json;
