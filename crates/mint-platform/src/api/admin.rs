//! Administration routes (`spec/rbac.md` §7, `spec/platform-api.md` §4.6): users, custom roles,
//! per-plugin user roles, the admin status/system/config pages, and the not-yet-built admin and
//! update routes (501 `feature.not_implemented` after their permission check).
//!
//! Guards: `users.manage` for every `/api/admin/users…` and `/api/admin/roles…` route,
//! `plugins.configure` for plugin roles (both path forms and `/api/admin/users/{id}/plugin-roles`),
//! `platform.view_logs` for status, system and logs, `platform.configure` for config and restart.
//! Lists are bare arrays; password hashes are never returned. Every write is one transaction.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mint_sdk::PluginError;
use mint_sdk::extract::{Json, Path};
use mint_sdk::repositories::User;
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{commit, nullable};
use crate::config::DatabaseMode;
use crate::rbac::{self, PERMISSIONS, Principal};
use crate::repos::users::{self as user_store, user_not_found};
use crate::state::{PLATFORM_VERSION, Platform};
use crate::store::{self, Param, Store};

/// The admin routes (and `GET /api/users/me`).
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
        .route("/api/users/me", get(me))
        .route("/api/admin/users", get(list_users).post(create_user))
        .route(
            "/api/admin/users/{id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/api/admin/users/{id}/activate", post(activate_user))
        .route("/api/admin/users/{id}/deactivate", post(deactivate_user))
        .route("/api/admin/users/{id}/plugin-roles", get(user_plugin_roles))
        .route("/api/admin/roles", get(list_roles).post(create_role))
        .route("/api/admin/roles/permissions", get(list_permissions))
        .route(
            "/api/admin/roles/{id}",
            get(get_role).put(update_role).delete(delete_role),
        )
        .route("/api/admin/plugins/{plugin}/roles", get(list_plugin_roles))
        .route(
            "/api/admin/plugins/{plugin}/roles/{user_id}",
            get(get_plugin_role)
                .put(put_plugin_role)
                .delete(delete_plugin_role),
        )
        .route(
            "/api/admin/plugin-roles/{plugin}",
            get(list_plugin_roles).post(post_plugin_role),
        )
        .route(
            "/api/admin/plugin-roles/{plugin}/{user_id}",
            get(get_plugin_role)
                .put(put_plugin_role)
                .delete(delete_plugin_role),
        )
        .route("/api/admin/status", get(status))
        .route("/api/admin/system", get(system))
        .route("/api/admin/config", get(config))
        .route("/api/admin/restart", post(restart))
        .route("/api/admin/logs", get(logs))
        .route("/api/admin/logs/config", get(logs))
        .route("/api/updates/check", get(updates_read))
        .route("/api/updates/config", get(updates_read))
        .route("/api/updates/sources", get(updates_read))
        .route("/api/updates/releases", get(updates_read))
        .route("/api/updates/plugins/{package}", post(updates_install))
        .route("/api/updates/install-github", post(updates_install))
        .route("/api/updates/platform", post(updates_platform))
}

// ----- shared helpers ---------------------------------------------------------------------------

/// 422 `validation.error` with `message`.
fn unprocessable(message: impl Into<String>) -> PluginError {
    PluginError::http_message(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// 501 `feature.not_implemented` for a route that exists but is not built yet.
fn not_implemented(what: &str) -> PluginError {
    PluginError::http_message(
        StatusCode::NOT_IMPLEMENTED,
        format!("{what} is not implemented by this platform yet"),
    )
}

/// Trims an optional text; empty becomes `None`.
fn clean(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// An optional e-mail address, trimmed; `None` when empty.
///
/// Errors: 422 when it has no `@`.
fn clean_email(text: Option<String>) -> Result<Option<String>, PluginError> {
    match clean(text) {
        Some(email) if !email.contains('@') || email.chars().any(char::is_whitespace) => Err(
            unprocessable(format!("'{email}' is not a valid e-mail address")),
        ),
        other => Ok(other),
    }
}

/// The shortest password the admin routes accept.
const MIN_PASSWORD_CHARS: usize = 8;

/// Hashes a new password.
///
/// Errors: 422 when shorter than [`MIN_PASSWORD_CHARS`]; 500 when hashing fails.
fn new_password_hash(password: &str) -> Result<String, PluginError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(unprocessable(format!(
            "password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    crate::auth::hash_password(password).map_err(|e| PluginError::unexpected(e.to_string()))
}

/// User JSON (context-and-data.md §7): never the hash, role as its lowercase slug.
fn user_json(user: &User) -> Value {
    serde_json::to_value(user).unwrap_or(Value::Null)
}

/// The stored slug of the role named `role` (slug, or display name, case-insensitive).
///
/// Errors: 422 `Unknown role: <role>`.
async fn resolve_role(
    store: &Store,
    db: &impl ConnectionTrait,
    role: &str,
) -> Result<String, PluginError> {
    let role = role.trim();
    let row = store
        .one(
            db,
            "SELECT slug FROM roles WHERE LOWER(slug) = LOWER($1) OR LOWER(name) = LOWER($1) \
             ORDER BY CASE WHEN LOWER(slug) = LOWER($1) THEN 0 ELSE 1 END, id LIMIT 1",
            [role.into()],
        )
        .await?;
    match row {
        Some(row) => Ok(store::get_text(&row, "slug")?.to_ascii_lowercase()),
        None => Err(unprocessable(format!("Unknown role: {role}"))),
    }
}

/// Active admins other than `except`.
async fn other_active_admins(
    store: &Store,
    db: &impl ConnectionTrait,
    except: i64,
) -> Result<i64, PluginError> {
    store
        .count(
            db,
            "SELECT COUNT(*) AS n FROM users WHERE LOWER(role) = 'admin' AND is_active = 1 \
             AND id <> $1",
            [except.into()],
        )
        .await
}

async fn email_taken(
    store: &Store,
    db: &impl ConnectionTrait,
    email: &str,
    except: i64,
) -> Result<bool, PluginError> {
    Ok(store
        .count(
            db,
            "SELECT COUNT(*) AS n FROM users WHERE email IS NOT NULL \
             AND LOWER(email) = LOWER($1) AND id <> $2",
            [email.into(), except.into()],
        )
        .await?
        > 0)
}

// ----- /api/users/me ----------------------------------------------------------------------------

/// `GET /api/users/me`: the caller's `UserInfo` (platform-api.md §2).
async fn me(principal: Principal) -> axum::Json<Value> {
    axum::Json(crate::api::auth::user_info(&principal.user))
}

// ----- users ------------------------------------------------------------------------------------

async fn list_users(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("users.manage")?;
    let users = user_store::list_users(&platform.store, 0, u64::MAX).await?;
    Ok(axum::Json(Value::Array(
        users.iter().map(user_json).collect(),
    )))
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    role: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    shortname: Option<String>,
}

/// `POST /api/admin/users`: 201 User; 409 taken username or e-mail; 422 unknown role, empty
/// username, short password, bad e-mail.
async fn create_user(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Json(body): Json<NewUser>,
) -> Result<Response, PluginError> {
    principal.require("users.manage")?;
    let store = &platform.store;
    let username = body.username.trim().to_string();
    if username.is_empty() || username.chars().count() > 150 {
        return Err(unprocessable("username must have 1 to 150 characters"));
    }
    if username.chars().any(char::is_whitespace) {
        return Err(unprocessable("username cannot contain whitespace"));
    }
    let email = clean_email(body.email)?;
    let hash = new_password_hash(&body.password)?;
    let txn = store.begin().await?;
    let role = resolve_role(store, &txn, &body.role).await?;
    let taken = store
        .count(
            &txn,
            "SELECT COUNT(*) AS n FROM users WHERE username = $1",
            [username.as_str().into()],
        )
        .await?;
    if taken > 0 {
        return Err(
            PluginError::conflict(format!("Username '{username}' is already taken"))
                .with_entity("user")
                .with_conflict_field("username"),
        );
    }
    if let Some(email) = &email
        && email_taken(store, &txn, email, 0).await?
    {
        return Err(
            PluginError::conflict(format!("E-mail '{email}' is already in use"))
                .with_entity("user")
                .with_conflict_field("email"),
        );
    }
    let now = store::now_text();
    let id = store
        .insert(
            &txn,
            "INSERT INTO users (username, email, password_hash, role, first_name, last_name, \
             shortname, is_active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) RETURNING id",
            [
                username.into(),
                store::opt_text(email),
                hash.into(),
                role.into(),
                store::opt_text(clean(body.first_name)),
                store::opt_text(clean(body.last_name)),
                store::opt_text(clean(body.shortname)),
                now.into(),
            ],
        )
        .await?;
    let user = user_store::fetch_user(store, &txn, id)
        .await?
        .ok_or_else(|| crate::api::not_found(user_not_found(id).message()))?;
    commit(txn).await?;
    tracing::info!(user_id = id, actor = principal.id(), "user created");
    Ok((StatusCode::CREATED, axum::Json(user_json(&user))).into_response())
}

async fn get_user(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("users.manage")?;
    let store = &platform.store;
    let user = user_store::fetch_user(store, store.connection(), id)
        .await?
        .ok_or_else(|| crate::api::not_found(user_not_found(id).message()))?;
    Ok(axum::Json(user_json(&user)))
}

#[derive(Deserialize, Default)]
struct UserPatch {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    is_active: Option<bool>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    shortname: Option<Option<String>>,
}

/// Applies `patch` to user `id` in one transaction and returns the user.
///
/// Errors: 404 unknown user; 422 unknown role / short password / bad e-mail; 409 taken e-mail,
/// or a change that would leave no active admin.
async fn apply_user_patch(
    platform: &Platform,
    principal: &Principal,
    id: i64,
    patch: UserPatch,
) -> Result<User, PluginError> {
    let store = &platform.store;
    let hash = match &patch.password {
        Some(password) => Some(new_password_hash(password)?),
        None => None,
    };
    let email = match patch.email {
        Some(email) => Some(clean_email(email)?),
        None => None,
    };
    let txn = store.begin().await?;
    let current = user_store::fetch_user(store, &txn, id)
        .await?
        .ok_or_else(|| crate::api::not_found(user_not_found(id).message()))?;
    let role = match &patch.role {
        Some(role) => Some(resolve_role(store, &txn, role).await?),
        None => None,
    };
    let stays_admin = role.as_deref().unwrap_or(&current.role) == "admin"
        && patch.is_active.unwrap_or(current.is_active);
    if current.role == "admin"
        && current.is_active
        && !stays_admin
        && other_active_admins(store, &txn, id).await? == 0
    {
        return Err(PluginError::conflict(
            "The platform needs at least one active admin; this change would remove the last one",
        )
        .with_entity("user"));
    }
    if let Some(Some(email)) = &email
        && email_taken(store, &txn, email, id).await?
    {
        return Err(
            PluginError::conflict(format!("E-mail '{email}' is already in use"))
                .with_entity("user")
                .with_conflict_field("email"),
        );
    }
    let mut sets: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let mut set = |column: &str, value: Param| {
        params.push(value);
        sets.push(format!("{column} = ${}", params.len()));
    };
    if let Some(role) = role {
        set("role", role.into());
    }
    if let Some(active) = patch.is_active {
        set("is_active", i64::from(active).into());
    }
    if let Some(hash) = hash {
        set("password_hash", hash.into());
    }
    if let Some(email) = email {
        set("email", store::opt_text(email));
    }
    if let Some(v) = patch.first_name {
        set("first_name", store::opt_text(clean(v)));
    }
    if let Some(v) = patch.last_name {
        set("last_name", store::opt_text(clean(v)));
    }
    if let Some(v) = patch.shortname {
        set("shortname", store::opt_text(clean(v)));
    }
    set("updated_at", store::now_text().into());
    params.push(id.into());
    let sql = format!(
        "UPDATE users SET {} WHERE id = ${}",
        sets.join(", "),
        params.len()
    );
    store.exec(&txn, &sql, params).await?;
    let user = user_store::fetch_user(store, &txn, id)
        .await?
        .ok_or_else(|| crate::api::not_found(user_not_found(id).message()))?;
    commit(txn).await?;
    tracing::info!(user_id = id, actor = principal.id(), "user updated");
    Ok(user)
}

/// `PATCH /api/admin/users/{id}`: any of `role`, `is_active`, `password`, `email`,
/// `first_name`, `last_name`, `shortname`.
async fn update_user(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
    Json(patch): Json<UserPatch>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("users.manage")?;
    let user = apply_user_patch(&platform, &principal, id, patch).await?;
    Ok(axum::Json(user_json(&user)))
}

async fn activate_user(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>, PluginError> {
    set_active(principal, platform, id, true).await
}

async fn deactivate_user(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>, PluginError> {
    set_active(principal, platform, id, false).await
}

async fn set_active(
    principal: Principal,
    platform: Arc<Platform>,
    id: i64,
    active: bool,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("users.manage")?;
    let patch = UserPatch {
        is_active: Some(active),
        ..UserPatch::default()
    };
    let user = apply_user_patch(&platform, &principal, id, patch).await?;
    Ok(axum::Json(user_json(&user)))
}

/// `DELETE /api/admin/users/{id}`: not built yet (deactivate instead).
async fn delete_user(principal: Principal, Path(_id): Path<i64>) -> Result<Response, PluginError> {
    principal.require("users.manage")?;
    Err(not_implemented(
        "Deleting users (deactivate them with POST /api/admin/users/{id}/deactivate)",
    ))
}

// ----- roles ------------------------------------------------------------------------------------

/// Role JSON (rbac.md §7).
fn role_json(row: &sea_orm::QueryResult) -> Result<Value, PluginError> {
    let permissions: Vec<String> =
        serde_json::from_str(&store::get_text(row, "permissions")?).unwrap_or_default();
    Ok(json!({
        "id": store::get_i64(row, "id")?,
        "name": store::get_text(row, "name")?,
        "slug": store::get_text(row, "slug")?.to_ascii_lowercase(),
        "permissions": permissions,
        "is_system": store::get_bool(row, "is_system")?,
    }))
}

const ROLE_COLUMNS: &str = "id, name, slug, permissions, is_system";

async fn fetch_role(
    store: &Store,
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<sea_orm::QueryResult, PluginError> {
    store
        .one(
            db,
            &format!("SELECT {ROLE_COLUMNS} FROM roles WHERE id = $1"),
            [id.into()],
        )
        .await?
        .ok_or_else(|| {
            crate::api::not_found(format!("Role {id} not found"))
                .with_entity("role")
                .with_entity_id(id)
        })
}

/// The permissions of a role body: each one of the 18, deduplicated, in catalog order.
///
/// Errors: 422 naming the unknown permissions.
fn checked_permissions(requested: &[String]) -> Result<Vec<&'static str>, PluginError> {
    let unknown: Vec<&str> = requested
        .iter()
        .map(|p| p.trim())
        .filter(|p| !rbac::is_permission(p))
        .collect();
    if !unknown.is_empty() {
        return Err(unprocessable(format!(
            "Unknown permission: {}",
            unknown.join(", ")
        )));
    }
    Ok(PERMISSIONS
        .iter()
        .copied()
        .filter(|p| requested.iter().any(|r| r.trim() == *p))
        .collect())
}

/// A role display name, trimmed.
///
/// Errors: 422 when empty or longer than 100 characters.
fn checked_role_name(name: &str) -> Result<String, PluginError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(unprocessable("name must have 1 to 100 characters"));
    }
    Ok(name.to_string())
}

async fn list_roles(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("users.manage")?;
    let store = &platform.store;
    let rows = store
        .all(
            store.connection(),
            &format!("SELECT {ROLE_COLUMNS} FROM roles ORDER BY id"),
            [],
        )
        .await?;
    let roles = rows.iter().map(role_json).collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(Value::Array(roles)))
}

async fn list_permissions(principal: Principal) -> Result<axum::Json<Value>, PluginError> {
    principal.require("users.manage")?;
    Ok(axum::Json(json!(PERMISSIONS)))
}

async fn get_role(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("users.manage")?;
    let store = &platform.store;
    let row = fetch_role(store, store.connection(), id).await?;
    Ok(axum::Json(role_json(&row)?))
}

#[derive(Deserialize)]
struct NewRole {
    name: String,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    slug: Option<String>,
}

/// `POST /api/admin/roles`: 201 Role; 422 unknown permission or unusable name/slug; 409 taken
/// slug (case-insensitive; the system slugs are taken).
async fn create_role(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Json(body): Json<NewRole>,
) -> Result<Response, PluginError> {
    principal.require("users.manage")?;
    let store = &platform.store;
    let name = checked_role_name(&body.name)?;
    let permissions = checked_permissions(&body.permissions)?;
    let slug = match clean(body.slug) {
        Some(slug) => {
            let slug = slug.to_ascii_lowercase();
            let valid = slug.len() <= 64
                && slug.starts_with(|c: char| c.is_ascii_lowercase())
                && slug
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !valid {
                return Err(unprocessable(
                    "slug must start with a letter and hold only letters, digits, '-' and '_' \
                     (at most 64)",
                ));
            }
            slug
        }
        None => mint_sdk::derive_slug(&name).map_err(|e| unprocessable(e.message()))?,
    };
    let txn = store.begin().await?;
    let taken = store
        .count(
            &txn,
            "SELECT COUNT(*) AS n FROM roles WHERE LOWER(slug) = LOWER($1)",
            [slug.as_str().into()],
        )
        .await?;
    if taken > 0 {
        return Err(
            PluginError::conflict(format!("Role slug '{slug}' is already taken"))
                .with_entity("role")
                .with_conflict_field("slug"),
        );
    }
    let id = store
        .insert(
            &txn,
            "INSERT INTO roles (name, slug, permissions, is_system) VALUES ($1, $2, $3, 0) \
             RETURNING id",
            [
                name.into(),
                slug.into(),
                store::json_text(&permissions).into(),
            ],
        )
        .await?;
    let row = fetch_role(store, &txn, id).await?;
    let role = role_json(&row)?;
    commit(txn).await?;
    tracing::info!(role_id = id, actor = principal.id(), "role created");
    Ok((StatusCode::CREATED, axum::Json(role)).into_response())
}

#[derive(Deserialize)]
struct RoleUpdate {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

/// `PUT /api/admin/roles/{id}`: new name and/or permissions (the slug stays); 409 for a
/// system role.
async fn update_role(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
    Json(body): Json<RoleUpdate>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("users.manage")?;
    let store = &platform.store;
    let name = body.name.as_deref().map(checked_role_name).transpose()?;
    let permissions = body
        .permissions
        .as_deref()
        .map(checked_permissions)
        .transpose()?;
    let txn = store.begin().await?;
    let row = fetch_role(store, &txn, id).await?;
    if store::get_bool(&row, "is_system")? {
        return Err(PluginError::conflict("System roles cannot be changed").with_entity("role"));
    }
    if let Some(name) = name {
        store
            .exec(
                &txn,
                "UPDATE roles SET name = $1 WHERE id = $2",
                [name.into(), id.into()],
            )
            .await?;
    }
    if let Some(permissions) = permissions {
        store
            .exec(
                &txn,
                "UPDATE roles SET permissions = $1 WHERE id = $2",
                [store::json_text(&permissions).into(), id.into()],
            )
            .await?;
    }
    let row = fetch_role(store, &txn, id).await?;
    let role = role_json(&row)?;
    commit(txn).await?;
    tracing::info!(role_id = id, actor = principal.id(), "role updated");
    Ok(axum::Json(role))
}

/// `DELETE /api/admin/roles/{id}`: 204; 409 for a system role or one still assigned.
async fn delete_role(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
) -> Result<StatusCode, PluginError> {
    principal.require("users.manage")?;
    let store = &platform.store;
    let txn = store.begin().await?;
    let row = fetch_role(store, &txn, id).await?;
    if store::get_bool(&row, "is_system")? {
        return Err(PluginError::conflict("System roles cannot be deleted").with_entity("role"));
    }
    let slug = store::get_text(&row, "slug")?;
    let assigned = store
        .count(
            &txn,
            "SELECT COUNT(*) AS n FROM users WHERE LOWER(role) = LOWER($1)",
            [slug.as_str().into()],
        )
        .await?;
    if assigned > 0 {
        return Err(PluginError::conflict(format!(
            "Role '{slug}' is still assigned to {assigned} user(s)"
        ))
        .with_entity("role"));
    }
    store
        .exec(&txn, "DELETE FROM roles WHERE id = $1", [id.into()])
        .await?;
    commit(txn).await?;
    tracing::info!(role_id = id, actor = principal.id(), "role deleted");
    Ok(StatusCode::NO_CONTENT)
}

// ----- plugin roles -----------------------------------------------------------------------------

fn role_of_plugin_json(role: &mint_sdk::repositories::UserPluginRole) -> Value {
    serde_json::to_value(role).unwrap_or(Value::Null)
}

/// A plugin id from the path, trimmed.
///
/// Errors: 422 when empty.
fn checked_plugin(plugin: &str) -> Result<String, PluginError> {
    let plugin = plugin.trim();
    if plugin.is_empty() {
        return Err(unprocessable("plugin cannot be empty"));
    }
    Ok(plugin.to_string())
}

/// A plugin role value, trimmed.
///
/// Errors: 422 when empty or longer than 100 characters.
fn checked_plugin_role(role: &str) -> Result<String, PluginError> {
    let role = role.trim();
    if role.is_empty() || role.chars().count() > 100 {
        return Err(unprocessable("role must have 1 to 100 characters"));
    }
    Ok(role.to_string())
}

async fn list_plugin_roles(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(plugin): Path<String>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("plugins.configure")?;
    let plugin = checked_plugin(&plugin)?;
    let roles = user_store::list_plugin_roles(&platform.store, &plugin).await?;
    Ok(axum::Json(Value::Array(
        roles.iter().map(role_of_plugin_json).collect(),
    )))
}

async fn get_plugin_role(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path((plugin, user_id)): Path<(String, i64)>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("plugins.configure")?;
    let plugin = checked_plugin(&plugin)?;
    let role = user_store::plugin_role(&platform.store, &plugin, user_id)
        .await?
        .ok_or_else(|| {
            crate::api::not_found(format!("User {user_id} has no role in plugin '{plugin}'"))
                .with_entity("plugin_role")
        })?;
    Ok(axum::Json(role_of_plugin_json(&role)))
}

#[derive(Deserialize)]
struct PluginRoleBody {
    role: String,
}

/// `PUT …/roles/{user_id}` `{role}`: upsert; 404 unknown user.
async fn put_plugin_role(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path((plugin, user_id)): Path<(String, i64)>,
    Json(body): Json<PluginRoleBody>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("plugins.configure")?;
    let plugin = checked_plugin(&plugin)?;
    let role = checked_plugin_role(&body.role)?;
    let saved = user_store::upsert_plugin_role(&platform.store, &plugin, user_id, &role).await?;
    tracing::info!(plugin = %plugin, user_id, actor = principal.id(), "plugin role set");
    Ok(axum::Json(role_of_plugin_json(&saved)))
}

#[derive(Deserialize)]
struct PluginRolePost {
    user_id: i64,
    role: String,
}

/// `POST /api/admin/plugin-roles/{plugin}` `{user_id, role}`: the same upsert as PUT.
async fn post_plugin_role(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(plugin): Path<String>,
    Json(body): Json<PluginRolePost>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("plugins.configure")?;
    let plugin = checked_plugin(&plugin)?;
    let role = checked_plugin_role(&body.role)?;
    let saved =
        user_store::upsert_plugin_role(&platform.store, &plugin, body.user_id, &role).await?;
    tracing::info!(plugin = %plugin, user_id = body.user_id, actor = principal.id(), "plugin role set");
    Ok(axum::Json(role_of_plugin_json(&saved)))
}

/// `DELETE …/roles/{user_id}`: 204 whether or not a role existed (idempotent, so a retried
/// DELETE does not fail).
async fn delete_plugin_role(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path((plugin, user_id)): Path<(String, i64)>,
) -> Result<StatusCode, PluginError> {
    principal.require("plugins.configure")?;
    let plugin = checked_plugin(&plugin)?;
    if user_store::delete_plugin_role(&platform.store, &plugin, user_id).await? {
        tracing::info!(plugin = %plugin, user_id, actor = principal.id(), "plugin role removed");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/users/{id}/plugin-roles`: the user's roles in every plugin, ordered by
/// plugin id; 404 unknown user.
async fn user_plugin_roles(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("plugins.configure")?;
    let store = &platform.store;
    if user_store::fetch_user(store, store.connection(), id)
        .await?
        .is_none()
    {
        return Err(crate::api::not_found(user_not_found(id).message()));
    }
    let roles = user_store::list_user_plugin_roles(store, id, None).await?;
    Ok(axum::Json(Value::Array(
        roles.iter().map(role_of_plugin_json).collect(),
    )))
}

// ----- status, system, config, not-yet-built routes ---------------------------------------------

/// `GET /api/admin/status` (`platform.view_logs`): `{total_users, active_users, auth_enabled,
/// dev_mode, version, plugin_count}`.
async fn status(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("platform.view_logs")?;
    let store = &platform.store;
    let total = store
        .count(store.connection(), "SELECT COUNT(*) AS n FROM users", [])
        .await?;
    let active = store
        .count(
            store.connection(),
            "SELECT COUNT(*) AS n FROM users WHERE is_active = 1",
            [],
        )
        .await?;
    let dev_mode = platform.config.settings.dev_mode;
    Ok(axum::Json(json!({
        "total_users": total,
        "active_users": active,
        "auth_enabled": !dev_mode,
        "dev_mode": dev_mode,
        "version": PLATFORM_VERSION,
        "plugin_count": platform.plugins.entries().len(),
    })))
}

/// `GET /api/admin/system` (`platform.view_logs`): `{platform: {version, plugin_count,
/// ready_plugins, boot_id}, resources: {uptime_seconds, database: {mode, ok}}, errors: []}`.
async fn system(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("platform.view_logs")?;
    let database_ok = platform.store.ping().await;
    let mode = match platform.store.mode() {
        DatabaseMode::Sqlite => "sqlite",
        DatabaseMode::Postgresql => "postgresql",
    };
    let errors: Vec<Value> = if database_ok {
        vec![]
    } else {
        vec![json!("The database does not answer")]
    };
    Ok(axum::Json(json!({
        "platform": {
            "version": PLATFORM_VERSION,
            "plugin_count": platform.plugins.entries().len(),
            "ready_plugins": platform.plugins.ready().len(),
            "boot_id": platform.boot_id,
        },
        "resources": {
            "uptime_seconds": platform.started_at.elapsed().as_secs_f64(),
            "database": {"mode": mode, "ok": database_ok},
        },
        "errors": errors,
    })))
}

/// `GET /api/admin/config` (`platform.configure`): the effective configuration without
/// secrets (`filter_platform_config`).
async fn config(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
) -> Result<axum::Json<Value>, PluginError> {
    principal.require("platform.configure")?;
    Ok(axum::Json(mint_sdk::context::filter_platform_config(
        &platform.config.effective,
    )))
}

async fn restart(principal: Principal) -> Result<Response, PluginError> {
    principal.require("platform.configure")?;
    Err(not_implemented("Restarting the platform"))
}

async fn logs(principal: Principal) -> Result<Response, PluginError> {
    principal.require("platform.view_logs")?;
    Err(not_implemented("The log viewer"))
}

async fn updates_read(principal: Principal) -> Result<Response, PluginError> {
    principal.require("plugins.view")?;
    Err(not_implemented("Update checks"))
}

async fn updates_install(principal: Principal) -> Result<Response, PluginError> {
    principal.require("plugins.install")?;
    Err(not_implemented(
        "Installing plugin updates from a registry or GitHub",
    ))
}

async fn updates_platform(principal: Principal) -> Result<Response, PluginError> {
    principal.require("platform.configure")?;
    Err(not_implemented("Updating the platform"))
}
