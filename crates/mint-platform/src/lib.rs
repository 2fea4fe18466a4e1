//! # mint-platform
//!
//! The MINT platform host: it loads its configuration, stores users, projects, experiments and
//! results, authenticates people, and hosts plugins in-process or isolated
//! (`docs/spec/platform-api.md`). This version holds the configuration layer
//! (`docs/spec/platform-config.md`) and password/token handling (`auth`); storage, the REST API
//! and the plugin manager follow.
//!
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
