//! Placeholder: the admin slice implements these against the platform store.

use std::sync::Weak;

use async_trait::async_trait;
use mint_sdk::repositories::{PluginRoleRepository, User, UserPluginRole, UserRepository};
use mint_sdk::{PluginError, PluginMetadata};

use crate::state::Platform;

fn pending() -> PluginError {
    PluginError::other("not implemented yet")
}

/// Users, read-only.
pub struct PlatformUserRepository {
    #[allow(dead_code)]
    platform: Weak<Platform>,
}

impl PlatformUserRepository {
    /// The repository.
    pub fn new(platform: Weak<Platform>) -> Self {
        Self { platform }
    }
}

#[async_trait]
impl UserRepository for PlatformUserRepository {
    async fn get_by_id(&self, _id: i64) -> Result<Option<User>, PluginError> {
        Err(pending())
    }
    async fn get_by_username(&self, _u: &str) -> Result<Option<User>, PluginError> {
        Err(pending())
    }
    async fn list_all(&self, _skip: u64, _limit: u64) -> Result<Vec<User>, PluginError> {
        Err(pending())
    }
}

/// One plugin's user roles.
pub struct PlatformRoleRepository {
    #[allow(dead_code)]
    platform: Weak<Platform>,
    #[allow(dead_code)]
    plugin_id: String,
}

impl PlatformRoleRepository {
    /// The repository of `plugin`.
    pub fn new(platform: Weak<Platform>, plugin: &PluginMetadata) -> Self {
        Self {
            platform,
            plugin_id: plugin.name.clone(),
        }
    }
}

#[async_trait]
impl PluginRoleRepository for PlatformRoleRepository {
    async fn get_role(&self, _p: &str, _u: i64) -> Result<Option<String>, PluginError> {
        Err(pending())
    }
    async fn set_role(
        &self,
        _p: &str,
        _u: i64,
        _role: &str,
    ) -> Result<UserPluginRole, PluginError> {
        Err(pending())
    }
    async fn remove_role(&self, _p: &str, _u: i64) -> Result<bool, PluginError> {
        Err(pending())
    }
    async fn list_plugin_roles(&self, _p: &str) -> Result<Vec<UserPluginRole>, PluginError> {
        Err(pending())
    }
    async fn list_user_roles(&self, _u: i64) -> Result<Vec<UserPluginRole>, PluginError> {
        Err(pending())
    }
}
