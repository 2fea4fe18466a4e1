//! # mint-platform
//!
//! The MINT platform host (`docs/spec/platform-api.md` §1–§4.5, `rbac.md`,
//! `platform-config.md`): it loads its configuration, stores users, projects, experiments,
//! design data and analysis results on SQLite or PostgreSQL, authenticates people (argon2,
//! HS256 JWT), enforces the 18 permissions, and hosts compiled-in plugins in-process.
//!
//! | module | what |
//! |---|---|
//! | [`config`] | sources, precedence, the `MINT_*__*` mapping, typed keys |
//! | [`store`] | the schema (migrated at start) and one SQL dialect for both backends |
//! | [`auth`], [`rbac`] | passwords, tokens; permissions, roles, the [`rbac::Principal`] extractor, project and experiment access |
//! | [`services`] | experiment writes shared by the REST API and plugin repositories (one transaction, save hooks) |
//! | [`api`] | the public REST routes under `/api` and the OpenAPI document |
//! | [`repos`] | the SDK's repository traits for plugin contexts, scoped to the request's caller |
//! | [`plugins`] | the plugin manager: lifecycle, per-plugin storage and migrations, in-process context, the run-time mount table, hooks, health; bundle install and uninstall |
//! | [`state`], [`server`], [`builder`] | the running [`Platform`], the HTTP app, [`PlatformBuilder`] for a lab's own binary |
//!
//! Plugin bundles (`.mint`) are installed, listed and uninstalled ([`plugins::installed`]), but
//! isolated (subprocess) plugins and the internal API of §5 are not built yet, so an installed
//! bundle is listed as Failed and never started.
//! Depends on `mint-sdk` for every shared wire type; `mint-sdk` never depends on it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod builder;
pub mod config;
pub mod plugins;
pub mod rbac;
pub mod repos;
pub mod server;
pub mod services;
pub mod state;
pub mod store;

pub use builder::{BoundPlatform, PlatformBuilder, ServeError};
pub use config::{ConfigError, ConfigSources, LoadedConfig, PlatformSettings};
pub use state::{Platform, StartError, StartOptions};
