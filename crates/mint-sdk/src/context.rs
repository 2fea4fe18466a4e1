//! The runtime handle the platform gives a plugin: [`PlatformContext`], the request's
//! [`CurrentUser`], the plugin-role guard and the config filter (`spec/context-and-data.md`
//! §1, §3, §4).
//!
//! `PlatformContext` is a cheap, cloneable handle over a host implementation
//! ([`PlatformContextImpl`]): the platform's in-process context, the isolated-mode remote
//! context and the test context each implement it. Standalone plugins have no context; the
//! user extractors then yield the synthetic standalone user.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{JsonObject, PluginError};
use crate::plugin::BoundPlugin;
use crate::repositories::{
    ExperimentRepository, PlatformConfig, PluginDataRepository, PluginRoleRepository,
    UserRepository,
};

/// The user of the current request (§1 "CurrentUser").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    /// Numeric string for platform users; `standalone` for the synthetic user.
    pub user_id: String,
    /// Login name.
    pub username: Option<String>,
    /// Platform role slug (`admin`, `member`, `viewer` or custom).
    pub role: String,
    /// Platform role id.
    pub role_id: Option<i64>,
    /// The user's role in this plugin, once looked up.
    pub plugin_role: Option<String>,
    /// Platform permissions.
    pub permissions: BTreeSet<String>,
}

impl CurrentUser {
    /// The synthetic user of standalone mode: id and username `standalone`, role `member`.
    pub fn standalone() -> Self {
        Self {
            user_id: "standalone".into(),
            username: Some("standalone".into()),
            role: "member".into(),
            role_id: None,
            plugin_role: None,
            permissions: BTreeSet::new(),
        }
    }

    /// True when the platform role is `admin`, case-insensitively.
    pub fn is_platform_admin(&self) -> bool {
        self.role.eq_ignore_ascii_case("admin")
    }

    /// The legacy "user dict": `{"sub", "username", "role"}` plus `role_id`, `plugin_role` and
    /// sorted `permissions` when present.
    pub fn to_json(&self) -> Value {
        let mut out = JsonObject::new();
        out.insert("sub".into(), self.user_id.clone().into());
        out.insert("username".into(), json!(self.username));
        out.insert("role".into(), self.role.clone().into());
        if let Some(id) = self.role_id {
            out.insert("role_id".into(), id.into());
        }
        if let Some(r) = &self.plugin_role {
            out.insert("plugin_role".into(), r.clone().into());
        }
        if !self.permissions.is_empty() {
            out.insert("permissions".into(), json!(self.permissions));
        }
        Value::Object(out)
    }
}

/// What a host implements to back a [`PlatformContext`].
///
/// Repositories are `None` when the host withholds them (capability gating is the host's job).
#[async_trait]
pub trait PlatformContextImpl: Send + Sync + 'static {
    /// The plugin this context serves (its `metadata().name`), when known.
    fn plugin_id(&self) -> Option<String>;
    /// Whether a user is bound to the current request scope.
    fn is_authenticated(&self) -> bool;
    /// The request's user, `None` when anonymous. A malformed identity is an error (403).
    async fn resolve_user(&self, parts: &Parts) -> Result<Option<CurrentUser>, PluginError>;
    /// Users (read-only).
    fn user_repository(&self) -> Option<Arc<dyn UserRepository>>;
    /// Experiments.
    fn experiment_repository(&self) -> Option<Arc<dyn ExperimentRepository>>;
    /// Design data and analysis results.
    fn plugin_data_repository(&self) -> Option<Arc<dyn PluginDataRepository>>;
    /// Plugin roles.
    fn plugin_role_repository(&self) -> Option<Arc<dyn PluginRoleRepository>>;
    /// The filtered platform configuration.
    fn config(&self) -> PlatformConfig;
    /// This plugin's stored settings.
    async fn plugin_config(&self) -> Result<JsonObject, PluginError>;
    /// Replaces the `owned_keys` of this plugin's stored settings with `settings`' values.
    async fn set_plugin_config(
        &self,
        settings: JsonObject,
        owned_keys: Vec<String>,
    ) -> Result<(), PluginError>;
    /// A transaction on the plugin's own schema (needs `requires_shared_database`).
    async fn shared_db_session(&self) -> Result<sea_orm::DatabaseTransaction, PluginError>;
    /// Releases what the context holds (called by the host at shutdown).
    async fn close(&self) -> Result<(), PluginError> {
        Ok(())
    }
}

/// The runtime object the platform hands to a plugin (seed `PlatformContext`).
#[derive(Clone)]
pub struct PlatformContext(Arc<dyn PlatformContextImpl>);

impl std::fmt::Debug for PlatformContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformContext")
            .field("plugin_id", &self.0.plugin_id())
            .finish()
    }
}

impl PlatformContext {
    /// Wraps a host implementation.
    pub fn new(inner: impl PlatformContextImpl) -> Self {
        Self(Arc::new(inner))
    }

    /// Wraps a shared host implementation.
    pub fn from_arc(inner: Arc<dyn PlatformContextImpl>) -> Self {
        Self(inner)
    }

    /// The plugin id this context serves, when known.
    pub fn plugin_id(&self) -> Option<String> {
        self.0.plugin_id()
    }

    /// True iff a user is bound to the current request scope.
    pub fn is_authenticated(&self) -> bool {
        self.0.is_authenticated()
    }

    /// The authenticated user, or 401 `Not authenticated` (seed `get_current_user_dependency`).
    pub async fn current_user(&self, parts: &Parts) -> Result<CurrentUser, PluginError> {
        self.0
            .resolve_user(parts)
            .await?
            .ok_or_else(not_authenticated)
    }

    /// The user, or `None` when anonymous (seed `get_optional_user_dependency`).
    pub async fn optional_user(&self, parts: &Parts) -> Result<Option<CurrentUser>, PluginError> {
        self.0.resolve_user(parts).await
    }

    /// Users (seed `get_user_repository`).
    pub fn user_repository(&self) -> Option<Arc<dyn UserRepository>> {
        self.0.user_repository()
    }

    /// Experiments (seed `get_experiment_repository`); `None` without `requires_experiments`.
    pub fn experiment_repository(&self) -> Option<Arc<dyn ExperimentRepository>> {
        self.0.experiment_repository()
    }

    /// Design data and results (seed `get_plugin_data_repository`); `None` without
    /// `requires_database`.
    pub fn plugin_data_repository(&self) -> Option<Arc<dyn PluginDataRepository>> {
        self.0.plugin_data_repository()
    }

    /// Plugin roles (seed `get_plugin_role_repository`).
    pub fn plugin_role_repository(&self) -> Option<Arc<dyn PluginRoleRepository>> {
        self.0.plugin_role_repository()
    }

    /// The filtered platform configuration (seed `get_config`).
    pub fn config(&self) -> PlatformConfig {
        self.0.config()
    }

    /// This plugin's stored settings.
    pub async fn plugin_config(&self) -> Result<JsonObject, PluginError> {
        self.0.plugin_config().await
    }

    /// Stores this plugin's settings for `owned_keys`, leaving other stored keys alone.
    pub async fn set_plugin_config(
        &self,
        settings: JsonObject,
        owned_keys: Vec<String>,
    ) -> Result<(), PluginError> {
        self.0.set_plugin_config(settings, owned_keys).await
    }

    /// A transaction scoped to the plugin's schema (seed `get_shared_db_session`): commit it
    /// when done; dropping it rolls back.
    pub async fn shared_db_session(&self) -> Result<sea_orm::DatabaseTransaction, PluginError> {
        self.0.shared_db_session().await
    }

    /// Checks that the request's user has one of `roles` in this plugin (§3); returns the user
    /// with `plugin_role` set. Platform admins pass with `plugin_role = "admin"`.
    pub async fn require_plugin_role(
        &self,
        parts: &Parts,
        roles: &[&str],
    ) -> Result<CurrentUser, PluginError> {
        let mut user = self.current_user(parts).await?;
        if user.is_platform_admin() {
            user.plugin_role = Some("admin".into());
            return Ok(user);
        }
        let Some(plugin_id) = self.plugin_id() else {
            return Err(forbidden("Plugin name is required for plugin role checks"));
        };
        let Ok(user_id) = user.user_id.parse::<i64>() else {
            return Err(forbidden("Invalid user ID format"));
        };
        let role = match self.plugin_role_repository() {
            Some(repo) => repo.get_role(&plugin_id, user_id).await?,
            None => None,
        };
        match role {
            Some(role) if roles.contains(&role.as_str()) => {
                user.plugin_role = Some(role);
                Ok(user)
            }
            _ => Err(forbidden(&format!(
                "Requires plugin role: {}",
                roles.join(", ")
            ))),
        }
    }

    /// Releases the context's resources.
    pub async fn close(&self) -> Result<(), PluginError> {
        self.0.close().await
    }
}

fn not_authenticated() -> PluginError {
    PluginError::http_message(StatusCode::UNAUTHORIZED, "Not authenticated")
}

fn forbidden(message: &str) -> PluginError {
    PluginError::http_message(StatusCode::FORBIDDEN, message)
}

/// Checks a plugin role for the request behind `parts`, in any mode: standalone admits the
/// synthetic user whatever `roles` say (§3, last note).
pub async fn require_plugin_role(
    parts: &Parts,
    roles: &[&str],
) -> Result<CurrentUser, PluginError> {
    match bound_context(parts)? {
        Some(ctx) => ctx.require_plugin_role(parts, roles).await,
        None => Ok(CurrentUser::standalone()),
    }
}

/// The context bound to the plugin serving this request (`None` standalone).
fn bound_context(parts: &Parts) -> Result<Option<PlatformContext>, PluginError> {
    let bound = parts.extensions.get::<BoundPlugin>().ok_or_else(|| {
        PluginError::configuration("Route is not mounted by a MINT app (no plugin bound)")
    })?;
    Ok(bound.plugin.core().context())
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = PluginError;

    /// Integrated: the authenticated user or 401. Standalone: the synthetic standalone user.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let user = match bound_context(parts)? {
            Some(ctx) => ctx.current_user(parts).await?,
            None => CurrentUser::standalone(),
        };
        crate::logging::note_current_user(&user.user_id);
        Ok(user)
    }
}

/// Extractor: the request's user or `None` when anonymous (standalone: the synthetic user).
#[derive(Debug, Clone)]
pub struct OptionalUser(pub Option<CurrentUser>);

impl<S: Send + Sync> FromRequestParts<S> for OptionalUser {
    type Rejection = PluginError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match bound_context(parts)? {
            Some(ctx) => Ok(Self(ctx.optional_user(parts).await?)),
            None => Ok(Self(Some(CurrentUser::standalone()))),
        }
    }
}

/// Removes secrets from a platform configuration (§4): `database.url`, `database.path`, and at
/// any depth every key that, lowercased without `_` and `-`, contains `secret`, `password`,
/// `passwd`, `token`, `apikey`, `privatekey` or `credential`.
pub fn filter_platform_config(config: &Value) -> Value {
    const SECRET_WORDS: [&str; 7] = [
        "secret",
        "password",
        "passwd",
        "token",
        "apikey",
        "privatekey",
        "credential",
    ];
    fn is_secret(key: &str) -> bool {
        let norm: String = key
            .to_lowercase()
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .collect();
        SECRET_WORDS.iter().any(|w| norm.contains(w))
    }
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| !is_secret(k))
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    let mut out = strip(config);
    if let Some(db) = out.get_mut("database").and_then(Value::as_object_mut) {
        db.remove("url");
        db.remove("path");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_drops_secrets_and_database_location() {
        let cfg = json!({
            "auth": {"jwtSecret": "x", "jwtTtlHours": 24, "passkeysEnabled": true},
            "database": {"mode": "postgresql", "url": "postgresql://u:p@h/db", "path": "/x"},
            "plugins": [{"name": "a", "apiKey": "k", "client_secret": "s", "Private-Key": "p"}],
            "devMode": false
        });
        assert_eq!(
            filter_platform_config(&cfg),
            json!({
                "auth": {"jwtTtlHours": 24, "passkeysEnabled": true},
                "database": {"mode": "postgresql"},
                "plugins": [{"name": "a"}],
                "devMode": false
            })
        );
    }

    #[test]
    fn user_json_includes_optional_keys_only_when_present() {
        let u = CurrentUser::standalone();
        assert_eq!(
            u.to_json(),
            json!({"sub": "standalone", "username": "standalone", "role": "member"})
        );
        let mut u = u;
        u.role = "ADMIN".into();
        u.permissions.insert("b".into());
        u.permissions.insert("a".into());
        assert!(u.is_platform_admin());
        assert_eq!(u.to_json()["permissions"], json!(["a", "b"]));
    }
}
