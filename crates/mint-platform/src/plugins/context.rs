//! The in-process [`PlatformContextImpl`]: what a compiled-in plugin gets from the platform
//! (`spec/context-and-data.md` §1–§4, §6). One per loaded plugin, long-lived.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use axum::http::request::Parts;
use mint_sdk::context::{CurrentUser, PlatformContextImpl, filter_platform_config};
use mint_sdk::error::JsonObject;
use mint_sdk::repositories::{
    ExperimentRepository, PlatformConfig, PluginDataRepository, PluginRoleRepository,
    UserRepository,
};
use mint_sdk::{PluginError, PluginMetadata};
use sea_orm::DatabaseTransaction;
use serde_json::Value;

use super::config_store;
use super::storage::PluginStorage;
use crate::rbac;
use crate::state::Platform;
use crate::store;

/// The platform side of one in-process plugin's `PlatformContext`.
pub struct InProcessContext {
    platform: Weak<Platform>,
    plugin_id: String,
    requires_shared_database: bool,
    storage: Option<PluginStorage>,
    config: PlatformConfig,
    experiments: Option<Arc<dyn ExperimentRepository>>,
    data: Option<Arc<dyn PluginDataRepository>>,
    users: Arc<dyn UserRepository>,
    roles: Arc<dyn PluginRoleRepository>,
}

impl std::fmt::Debug for InProcessContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessContext")
            .field("plugin_id", &self.plugin_id)
            .field("storage", &self.storage)
            .finish()
    }
}

impl InProcessContext {
    /// The context of the plugin described by `meta`; `storage` is its schema or file, when it
    /// has one. Repositories are gated by the capabilities (§1): experiments need
    /// `requires_experiments`, design data and results need `requires_database`.
    pub fn new(
        platform: &Arc<Platform>,
        meta: &PluginMetadata,
        storage: Option<PluginStorage>,
    ) -> Self {
        let weak = Arc::downgrade(platform);
        let caps = &meta.capabilities;
        let config = match filter_platform_config(&platform.config.effective) {
            Value::Object(map) => map,
            _ => PlatformConfig::new(),
        };
        Self {
            plugin_id: meta.name.clone(),
            requires_shared_database: caps.requires_shared_database,
            storage,
            config,
            experiments: caps
                .requires_experiments
                .then(|| crate::repos::experiment_repository(weak.clone(), meta)),
            data: caps
                .requires_database
                .then(|| crate::repos::plugin_data_repository(weak.clone(), meta)),
            users: crate::repos::user_repository(weak.clone()),
            roles: crate::repos::plugin_role_repository(weak.clone(), meta),
            platform: weak,
        }
    }

    fn platform(&self) -> Result<Arc<Platform>, PluginError> {
        self.platform
            .upgrade()
            .ok_or_else(|| PluginError::lifecycle("The platform is shutting down"))
    }
}

/// The `CurrentUser` of a platform principal: id as a decimal string, role slug lowercase,
/// the system role's permissions.
pub fn current_user(principal: &rbac::Principal, role_id: Option<i64>) -> CurrentUser {
    CurrentUser {
        user_id: principal.user.id.to_string(),
        username: Some(principal.user.username.clone()),
        role: principal.user.role.to_ascii_lowercase(),
        role_id,
        plugin_role: None,
        permissions: principal.permissions.clone(),
    }
}

#[async_trait]
impl PlatformContextImpl for InProcessContext {
    fn plugin_id(&self) -> Option<String> {
        Some(self.plugin_id.clone())
    }

    fn is_authenticated(&self) -> bool {
        true
    }

    /// Reuses the principal the platform's routing resolved for this request, else resolves the
    /// request's token (or the dev-mode admin).
    async fn resolve_user(&self, parts: &Parts) -> Result<Option<CurrentUser>, PluginError> {
        let platform = self.platform()?;
        let Some(principal) = rbac::resolve_principal(&platform, parts).await? else {
            return Ok(None);
        };
        let store = &platform.store;
        let role_id = store
            .one(
                store.connection(),
                "SELECT id FROM roles WHERE LOWER(slug) = LOWER($1)",
                [principal.user.role.clone().into()],
            )
            .await?
            .map(|row| store::get_i64(&row, "id"))
            .transpose()?;
        Ok(Some(current_user(&principal, role_id)))
    }

    fn user_repository(&self) -> Option<Arc<dyn UserRepository>> {
        Some(self.users.clone())
    }

    fn experiment_repository(&self) -> Option<Arc<dyn ExperimentRepository>> {
        self.experiments.clone()
    }

    fn plugin_data_repository(&self) -> Option<Arc<dyn PluginDataRepository>> {
        self.data.clone()
    }

    fn plugin_role_repository(&self) -> Option<Arc<dyn PluginRoleRepository>> {
        Some(self.roles.clone())
    }

    fn config(&self) -> PlatformConfig {
        self.config.clone()
    }

    async fn plugin_config(&self) -> Result<JsonObject, PluginError> {
        let platform = self.platform()?;
        Ok(config_store::load(&platform.store, &self.plugin_id)
            .await?
            .config)
    }

    /// Replaces the owned keys only: an owned key absent from `settings` is removed, keys not
    /// owned stay as stored. Bumps the revision.
    async fn set_plugin_config(
        &self,
        settings: JsonObject,
        owned_keys: Vec<String>,
    ) -> Result<(), PluginError> {
        let platform = self.platform()?;
        config_store::update::<PluginError>(&platform.store, &self.plugin_id, |current| {
            let mut next = current.config.clone();
            for key in &owned_keys {
                match settings.get(key) {
                    Some(value) => {
                        next.insert(key.clone(), value.clone());
                    }
                    None => {
                        next.shift_remove(key);
                    }
                }
            }
            Ok(next)
        })
        .await?;
        Ok(())
    }

    /// §6: PostgreSQL → a transaction on the platform pool with the plugin schema as its whole
    /// search path; SQLite → a transaction on the plugin's own `data.db`.
    async fn shared_db_session(&self) -> Result<DatabaseTransaction, PluginError> {
        if !self.requires_shared_database {
            return Err(PluginError::configuration(format!(
                "Plugin '{}' does not declare requires_shared_database, so it has no shared \
                 database session",
                self.plugin_id
            ))
            .with_config_key("requires_shared_database"));
        }
        match &self.storage {
            Some(storage) => storage.session().await,
            None => Err(PluginError::configuration(format!(
                "Plugin '{}' has no storage (it failed to load)",
                self.plugin_id
            ))
            .with_config_key("requires_shared_database")),
        }
    }
}
