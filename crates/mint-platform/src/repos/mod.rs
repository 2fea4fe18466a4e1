//! The platform's implementations of the SDK's four repository traits, handed to in-process
//! plugins through their `PlatformContext` (`spec/context-and-data.md` §5). They act with the
//! plugin's rights (no user): analysis plugins cannot write experiments, design plugins cannot
//! write analysis results, and a plugin writes only its own design data and results.

use std::sync::{Arc, Weak};

use mint_sdk::PluginMetadata;
use mint_sdk::repositories::{
    ExperimentRepository, PluginDataRepository, PluginRoleRepository, UserRepository,
};

use crate::state::Platform;

pub mod experiments;
pub mod users;

/// The experiment repository of one plugin.
pub fn experiment_repository(
    platform: Weak<Platform>,
    plugin: &PluginMetadata,
) -> Arc<dyn ExperimentRepository> {
    Arc::new(experiments::PlatformExperimentRepository::new(
        platform, plugin,
    ))
}

/// The design-data / analysis-result repository of one plugin.
pub fn plugin_data_repository(
    platform: Weak<Platform>,
    plugin: &PluginMetadata,
) -> Arc<dyn PluginDataRepository> {
    Arc::new(experiments::PlatformDataRepository::new(platform, plugin))
}

/// The read-only user repository.
pub fn user_repository(platform: Weak<Platform>) -> Arc<dyn UserRepository> {
    Arc::new(users::PlatformUserRepository::new(platform))
}

/// The plugin-role repository of one plugin (it may touch only its own roles).
pub fn plugin_role_repository(
    platform: Weak<Platform>,
    plugin: &PluginMetadata,
) -> Arc<dyn PluginRoleRepository> {
    Arc::new(users::PlatformRoleRepository::new(platform, plugin))
}

/// The error when the platform is gone (only during shutdown).
#[allow(dead_code)] // used by the slices that fill in the repositories
pub(crate) fn platform_gone() -> mint_sdk::PluginError {
    mint_sdk::PluginError::lifecycle("The platform is shutting down")
}
