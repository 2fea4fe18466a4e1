//! Users (read-only) and per-plugin user roles against the platform store
//! (`spec/context-and-data.md` §5.3–§5.4), plus the store queries the admin routes share with
//! them (`spec/rbac.md` §7).
//!
//! Roles are lowercase slugs on the way out (`rbac.md` §2): a stored `Admin` reads as `admin`.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use mint_sdk::repositories::{
    PluginRoleRepository, User, UserPluginRole, UserRepository, foreign_plugin_error,
};
use mint_sdk::{PluginError, PluginMetadata};
use sea_orm::ConnectionTrait;

use crate::state::Platform;
use crate::store::{self, Store};

/// The columns every plugin-role query selects.
const ROLE_COLUMNS: &str = "id, plugin_id, user_id, role, created_at, updated_at";

/// A `users` row with its role slug lowercased.
fn normalized_user(row: &sea_orm::QueryResult) -> Result<User, PluginError> {
    let mut user = store::user_row(row)?;
    user.role = user.role.to_ascii_lowercase();
    Ok(user)
}

/// One user by id (without the password hash), `None` when unknown.
///
/// Errors: `Repository` when the database fails.
pub async fn fetch_user(
    store: &Store,
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<User>, PluginError> {
    store
        .one(
            db,
            &format!("SELECT {} FROM users WHERE id = $1", store::USER_COLUMNS),
            [id.into()],
        )
        .await?
        .map(|row| normalized_user(&row))
        .transpose()
}

/// One user by exact, case-sensitive username, `None` when unknown.
///
/// Errors: `Repository` when the database fails.
pub async fn fetch_user_by_username(
    store: &Store,
    username: &str,
) -> Result<Option<User>, PluginError> {
    store
        .one(
            store.connection(),
            &format!(
                "SELECT {} FROM users WHERE username = $1",
                store::USER_COLUMNS
            ),
            [username.into()],
        )
        .await?
        .map(|row| normalized_user(&row))
        .transpose()
}

/// A page of users ordered by id (`skip` rows skipped, at most `limit`).
///
/// Errors: `Repository` when the database fails.
pub async fn list_users(store: &Store, skip: u64, limit: u64) -> Result<Vec<User>, PluginError> {
    let rows = store
        .all(
            store.connection(),
            &format!(
                "SELECT {} FROM users ORDER BY id LIMIT $1 OFFSET $2",
                store::USER_COLUMNS
            ),
            [clamp(limit).into(), clamp(skip).into()],
        )
        .await?;
    rows.iter().map(normalized_user).collect()
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The role of `user_id` in `plugin_id`, if any.
///
/// Errors: `Repository` when the database fails.
pub async fn plugin_role(
    store: &Store,
    plugin_id: &str,
    user_id: i64,
) -> Result<Option<UserPluginRole>, PluginError> {
    store
        .one(
            store.connection(),
            &format!(
                "SELECT {ROLE_COLUMNS} FROM plugin_roles WHERE plugin_id = $1 AND user_id = $2"
            ),
            [plugin_id.into(), user_id.into()],
        )
        .await?
        .map(|row| store::plugin_role_row(&row))
        .transpose()
}

/// Sets the role of `user_id` in `plugin_id` (insert, or update keeping id and `created_at`),
/// in one statement, and returns the row.
///
/// Errors: 404 `NotFound` for an unknown user; `Repository` when the database fails.
pub async fn upsert_plugin_role(
    store: &Store,
    plugin_id: &str,
    user_id: i64,
    role: &str,
) -> Result<UserPluginRole, PluginError> {
    let txn = store.begin().await?;
    if fetch_user(store, &txn, user_id).await?.is_none() {
        return Err(user_not_found(user_id));
    }
    let now = store::now_text();
    let row = store
        .one(
            &txn,
            &format!(
                "INSERT INTO plugin_roles (plugin_id, user_id, role, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (plugin_id, user_id) \
                 DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at \
                 RETURNING {ROLE_COLUMNS}"
            ),
            [plugin_id.into(), user_id.into(), role.into(), now.into()],
        )
        .await?
        .ok_or_else(|| PluginError::repository("The database returned no plugin role"))?;
    let saved = store::plugin_role_row(&row)?;
    txn.commit()
        .await
        .map_err(|e| PluginError::repository(format!("Cannot commit the plugin role: {e}")))?;
    Ok(saved)
}

/// Removes the role of `user_id` in `plugin_id`; `false` when there was none.
///
/// Errors: `Repository` when the database fails.
pub async fn delete_plugin_role(
    store: &Store,
    plugin_id: &str,
    user_id: i64,
) -> Result<bool, PluginError> {
    let n = store
        .exec(
            store.connection(),
            "DELETE FROM plugin_roles WHERE plugin_id = $1 AND user_id = $2",
            [plugin_id.into(), user_id.into()],
        )
        .await?;
    Ok(n > 0)
}

/// Every role of one plugin, ordered by (user_id, id).
///
/// Errors: `Repository` when the database fails.
pub async fn list_plugin_roles(
    store: &Store,
    plugin_id: &str,
) -> Result<Vec<UserPluginRole>, PluginError> {
    let rows = store
        .all(
            store.connection(),
            &format!(
                "SELECT {ROLE_COLUMNS} FROM plugin_roles WHERE plugin_id = $1 \
                 ORDER BY user_id, id"
            ),
            [plugin_id.into()],
        )
        .await?;
    rows.iter().map(store::plugin_role_row).collect()
}

/// The plugin roles of one user, ordered by (plugin_id, id); only those of `plugin_id` when
/// given.
///
/// Errors: `Repository` when the database fails.
pub async fn list_user_plugin_roles(
    store: &Store,
    user_id: i64,
    plugin_id: Option<&str>,
) -> Result<Vec<UserPluginRole>, PluginError> {
    let rows = match plugin_id {
        Some(plugin_id) => {
            store
                .all(
                    store.connection(),
                    &format!(
                        "SELECT {ROLE_COLUMNS} FROM plugin_roles \
                         WHERE user_id = $1 AND plugin_id = $2 ORDER BY plugin_id, id"
                    ),
                    [user_id.into(), plugin_id.into()],
                )
                .await?
        }
        None => {
            store
                .all(
                    store.connection(),
                    &format!(
                        "SELECT {ROLE_COLUMNS} FROM plugin_roles WHERE user_id = $1 \
                         ORDER BY plugin_id, id"
                    ),
                    [user_id.into()],
                )
                .await?
        }
    };
    rows.iter().map(store::plugin_role_row).collect()
}

/// 404 `User <id> not found`.
pub fn user_not_found(id: i64) -> PluginError {
    PluginError::not_found(format!("User {id} not found"))
        .with_entity("user")
        .with_entity_id(id)
}

fn upgrade(platform: &Weak<Platform>) -> Result<Arc<Platform>, PluginError> {
    platform.upgrade().ok_or_else(super::platform_gone)
}

/// Users, read-only (context-and-data.md §5.3).
pub struct PlatformUserRepository {
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
    async fn get_by_id(&self, id: i64) -> Result<Option<User>, PluginError> {
        let platform = upgrade(&self.platform)?;
        fetch_user(&platform.store, platform.store.connection(), id).await
    }

    async fn get_by_username(&self, username: &str) -> Result<Option<User>, PluginError> {
        let platform = upgrade(&self.platform)?;
        fetch_user_by_username(&platform.store, username).await
    }

    async fn list_all(&self, skip: u64, limit: u64) -> Result<Vec<User>, PluginError> {
        let platform = upgrade(&self.platform)?;
        list_users(&platform.store, skip, limit).await
    }
}

/// One plugin's user roles (context-and-data.md §5.4): every method refuses another plugin's id.
pub struct PlatformRoleRepository {
    platform: Weak<Platform>,
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

    /// The platform, after checking `plugin_id` is the caller's own.
    ///
    /// Errors: `Permission` (`plugin_roles.self`, details `{requested_plugin_id,
    /// own_plugin_id}`); `Lifecycle` during shutdown.
    fn own(&self, plugin_id: &str) -> Result<Arc<Platform>, PluginError> {
        if plugin_id != self.plugin_id {
            return Err(foreign_plugin_error(
                "plugin_roles.self",
                plugin_id,
                &self.plugin_id,
            ));
        }
        upgrade(&self.platform)
    }
}

#[async_trait]
impl PluginRoleRepository for PlatformRoleRepository {
    async fn get_role(&self, plugin_id: &str, user_id: i64) -> Result<Option<String>, PluginError> {
        let platform = self.own(plugin_id)?;
        Ok(plugin_role(&platform.store, plugin_id, user_id)
            .await?
            .map(|r| r.role))
    }

    async fn set_role(
        &self,
        plugin_id: &str,
        user_id: i64,
        role: &str,
    ) -> Result<UserPluginRole, PluginError> {
        let platform = self.own(plugin_id)?;
        let role = role.trim();
        if role.is_empty() {
            return Err(PluginError::validation("role cannot be empty").with_field("role"));
        }
        upsert_plugin_role(&platform.store, plugin_id, user_id, role).await
    }

    async fn remove_role(&self, plugin_id: &str, user_id: i64) -> Result<bool, PluginError> {
        let platform = self.own(plugin_id)?;
        delete_plugin_role(&platform.store, plugin_id, user_id).await
    }

    async fn list_plugin_roles(&self, plugin_id: &str) -> Result<Vec<UserPluginRole>, PluginError> {
        let platform = self.own(plugin_id)?;
        list_plugin_roles(&platform.store, plugin_id).await
    }

    async fn list_user_roles(&self, user_id: i64) -> Result<Vec<UserPluginRole>, PluginError> {
        let platform = upgrade(&self.platform)?;
        list_user_plugin_roles(&platform.store, user_id, Some(&self.plugin_id)).await
    }
}
