//! Permissions, system roles, the authenticated [`Principal`] and the experiment / project
//! access rules (`spec/rbac.md`).
//!
//! Every platform route takes a [`Principal`] (401 without valid credentials) or a
//! [`MaybePrincipal`] (public routes, which ignore bad credentials), then asks it for what it
//! needs: [`Principal::require`] for a system permission (403 `Missing permission: …`),
//! [`experiment_access`] / [`project_access`] for rights on one row (404 when invisible).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use mint_sdk::PluginError;
use mint_sdk::repositories::User;

use crate::state::Platform;
use crate::store::{self, get_opt_i64, get_opt_text};

/// The 18 permissions, in catalog order (rbac.md §1).
pub const PERMISSIONS: [&str; 18] = [
    "projects.view",
    "projects.create",
    "projects.edit",
    "projects.delete",
    "projects.manage_members",
    "experiments.view",
    "experiments.create",
    "experiments.edit",
    "experiments.delete",
    "plugins.view",
    "plugins.use",
    "plugins.configure",
    "plugins.install",
    "users.view",
    "users.invite",
    "users.manage",
    "platform.configure",
    "platform.view_logs",
];

/// Permissions only the system role can grant (never a project role).
pub const PLATFORM_WIDE: [&str; 4] = [
    "plugins.install",
    "platform.configure",
    "platform.view_logs",
    "users.manage",
];

/// The three system roles: slug, display name, permissions (rbac.md §2).
pub fn system_roles() -> [(&'static str, &'static str, Vec<&'static str>); 3] {
    let member: Vec<&str> = PERMISSIONS
        .iter()
        .copied()
        .filter(|p| {
            !matches!(
                *p,
                "users.manage" | "platform.configure" | "plugins.install"
            )
        })
        .collect();
    [
        ("admin", "Admin", PERMISSIONS.to_vec()),
        ("member", "Member", member),
        (
            "viewer",
            "Viewer",
            vec![
                "projects.view",
                "experiments.view",
                "plugins.view",
                "users.view",
            ],
        ),
    ]
}

/// Whether `name` is one of the 18 permissions.
pub fn is_permission(name: &str) -> bool {
    PERMISSIONS.contains(&name)
}

/// An authenticated caller of a platform route: the user row and its system role's permissions.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user (active).
    pub user: User,
    /// The system role's permissions.
    pub permissions: BTreeSet<String>,
}

impl Principal {
    /// The user id.
    pub fn id(&self) -> i64 {
        self.user.id
    }

    /// Whether the system role is `admin` (case-insensitive).
    pub fn is_admin(&self) -> bool {
        self.user.role.eq_ignore_ascii_case("admin")
    }

    /// Whether the system role grants `permission` (admins have all).
    pub fn has(&self, permission: &str) -> bool {
        self.is_admin() || self.permissions.contains(permission)
    }

    /// Ok when the system role grants `permission`.
    ///
    /// Errors: 403 `auth.forbidden`, message `Missing permission: <permission>`.
    pub fn require(&self, permission: &str) -> Result<(), PluginError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(missing_permission(permission))
        }
    }

    /// Loads a user and its role's permissions.
    ///
    /// Errors: `Repository` when the database fails; `None` for an unknown user.
    pub async fn load(platform: &Platform, user_id: i64) -> Result<Option<Self>, PluginError> {
        let store = &platform.store;
        let Some(row) = store
            .one(
                store.connection(),
                &format!("SELECT {} FROM users WHERE id = $1", store::USER_COLUMNS),
                [user_id.into()],
            )
            .await?
        else {
            return Ok(None);
        };
        let user = store::user_row(&row)?;
        let permissions = role_permissions(platform, &user.role).await?;
        Ok(Some(Self { user, permissions }))
    }
}

/// The permissions of a role slug (case-insensitive); empty for an unknown role.
///
/// Errors: `Repository` when the database fails.
pub async fn role_permissions(
    platform: &Platform,
    slug: &str,
) -> Result<BTreeSet<String>, PluginError> {
    let store = &platform.store;
    let row = store
        .one(
            store.connection(),
            "SELECT permissions FROM roles WHERE LOWER(slug) = LOWER($1)",
            [slug.into()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(BTreeSet::new());
    };
    let text = store::get_text(&row, "permissions")?;
    Ok(serde_json::from_str::<Vec<String>>(&text)
        .unwrap_or_default()
        .into_iter()
        .collect())
}

/// 403 naming the missing permission (rbac.md §8).
pub fn missing_permission(permission: &str) -> PluginError {
    PluginError::http_message(
        StatusCode::FORBIDDEN,
        format!("Missing permission: {permission}"),
    )
}

/// 401 in the envelope.
pub fn unauthorized(message: &str) -> PluginError {
    PluginError::http_message(StatusCode::UNAUTHORIZED, message.to_string())
}

/// The bearer token of a request: `Authorization: Bearer …`, else the `mint_token` cookie.
pub fn request_token(parts: &Parts) -> Option<String> {
    token_in(&parts.headers)
}

/// Whether `headers` might hold credentials [`token_in`] would find: an `Authorization`
/// header of any scheme, or a `Cookie` header naming the session cookie. A cheap superset test
/// (no allocation) for the paths that skip caller resolution when there is nothing to resolve.
pub fn may_carry_credentials(headers: &axum::http::HeaderMap) -> bool {
    use axum::http::header::{AUTHORIZATION, COOKIE};
    // One pass over the few headers of a request: cheaper than two hashed lookups.
    headers.iter().any(|(name, value)| {
        *name == AUTHORIZATION || (*name == COOKIE && mentions_session_cookie(value.as_bytes()))
    })
}

/// Whether a `Cookie` header value mentions the session cookie's name.
fn mentions_session_cookie(value: &[u8]) -> bool {
    let name = crate::api::auth::COOKIE_NAME.as_bytes();
    value.windows(name.len()).any(|w| w == name)
}

/// The bearer token in `headers`: `Authorization: Bearer …`, else the `mint_token` cookie.
pub fn token_in(headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION)
        && let Ok(text) = value.to_str()
    {
        let mut it = text.splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (it.next(), it.next())
            && scheme.eq_ignore_ascii_case("bearer")
            && !token.trim().is_empty()
        {
            return Some(token.trim().to_string());
        }
    }
    for value in headers.get_all(axum::http::header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, token)) = pair.trim().split_once('=')
                && name == crate::api::auth::COOKIE_NAME
                && !token.is_empty()
            {
                return Some(token.to_string());
            }
        }
    }
    None
}

/// Resolves the caller of a request: a valid token's active user, the seeded admin for a
/// token-less request in dev mode, else `None`. A request with an invalid token is `None`
/// even in dev mode.
///
/// Errors: `Repository` when the database fails.
pub async fn resolve_principal(
    platform: &Platform,
    parts: &Parts,
) -> Result<Option<Principal>, PluginError> {
    resolve_principal_from(platform, &parts.headers, &parts.extensions).await
}

/// [`resolve_principal`] from a request's headers and extensions.
///
/// Errors: `Repository` when the database fails.
pub async fn resolve_principal_from(
    platform: &Platform,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> Result<Option<Principal>, PluginError> {
    if let Some(cached) = extensions.get::<ResolvedPrincipal>() {
        return Ok(cached.0.clone());
    }
    let principal = match token_in(headers) {
        Some(token) => match platform.tokens.verify(&token, chrono::Utc::now()) {
            Ok(claims) => match claims.sub.parse::<i64>() {
                Ok(id) => Principal::load(platform, id).await?,
                Err(_) => None,
            },
            Err(_) => None,
        },
        None if platform.config.settings.dev_mode => Principal::load(platform, 1).await?,
        None => None,
    };
    Ok(principal.filter(|p| p.user.is_active))
}

/// A resolved caller cached in the request extensions by the platform's plugin routing, so
/// plugin routes do not verify the token twice.
#[derive(Debug, Clone)]
pub struct ResolvedPrincipal(pub Option<Principal>);

impl FromRequestParts<Arc<Platform>> for Principal {
    type Rejection = PluginError;

    async fn from_request_parts(
        parts: &mut Parts,
        platform: &Arc<Platform>,
    ) -> Result<Self, Self::Rejection> {
        resolve_principal(platform, parts)
            .await?
            .ok_or_else(|| unauthorized("Authentication required"))
    }
}

/// The caller of a public route, if any; bad credentials are ignored.
#[derive(Debug, Clone)]
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequestParts<Arc<Platform>> for MaybePrincipal {
    type Rejection = PluginError;

    async fn from_request_parts(
        parts: &mut Parts,
        platform: &Arc<Platform>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(resolve_principal(platform, parts).await?))
    }
}

/// A project role (rbac.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectRole {
    /// Full rights on the project.
    Owner,
    /// Create and edit experiments; delete own.
    Editor,
    /// Read only.
    Viewer,
}

impl ProjectRole {
    /// Parses the wire value (`owner`, `editor`, `viewer`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(Self::Owner),
            "editor" => Some(Self::Editor),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
        }
    }
}

/// The caller's project role in `project_id`, if a member.
///
/// Errors: `Repository`.
pub async fn project_role(
    platform: &Platform,
    project_id: i64,
    user_id: i64,
) -> Result<Option<ProjectRole>, PluginError> {
    let store = &platform.store;
    let row = store
        .one(
            store.connection(),
            "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2",
            [project_id.into(), user_id.into()],
        )
        .await?;
    Ok(match row {
        Some(row) => ProjectRole::parse(&store::get_text(&row, "role")?),
        None => None,
    })
}

/// What a caller may do with one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectAccess {
    /// The caller's project role, if a member.
    pub role: Option<ProjectRole>,
    /// Read the project and its experiments.
    pub view: bool,
    /// Edit metadata, archive.
    pub edit: bool,
    /// Delete the project.
    pub delete: bool,
    /// Add, re-role and remove members.
    pub manage_members: bool,
    /// Create experiments in it.
    pub create_experiments: bool,
}

/// The caller's rights on a project (rbac.md §3: project role ∪ system permissions).
///
/// Errors: 404 `resource.not_found` when the project does not exist or the caller can see
/// nothing of it; `Repository`.
pub async fn project_access(
    platform: &Platform,
    principal: &Principal,
    project_id: i64,
) -> Result<ProjectAccess, PluginError> {
    let store = &platform.store;
    let exists = store
        .count(
            store.connection(),
            "SELECT COUNT(*) AS n FROM projects WHERE id = $1",
            [project_id.into()],
        )
        .await?;
    let not_found = || crate::api::not_found(format!("Project {project_id} not found"));
    if exists == 0 {
        return Err(not_found());
    }
    let role = project_role(platform, project_id, principal.id()).await?;
    let owner = principal.is_admin() || role == Some(ProjectRole::Owner);
    let access = ProjectAccess {
        role,
        view: role.is_some() || principal.has("projects.view"),
        edit: owner || principal.has("projects.edit"),
        delete: owner || principal.has("projects.delete"),
        manage_members: owner || principal.has("projects.manage_members"),
        create_experiments: owner
            || role == Some(ProjectRole::Editor)
            || principal.has("experiments.create"),
    };
    if !access.view {
        return Err(not_found());
    }
    Ok(access)
}

/// What a caller may do with one experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentAccess {
    /// The experiment's project, if any.
    pub project_id: Option<i64>,
    /// Its creator.
    pub created_by: Option<i64>,
    /// Its status.
    pub status: String,
    /// Edit it, its design data and its results.
    pub edit: bool,
    /// Delete it.
    pub delete: bool,
    /// Owner rights: change collaborators (creator, owner collaborator, project Owner, admin).
    pub owner: bool,
}

/// The SQL condition (on alias `e`) that keeps only experiments user `$N` may see
/// (rbac.md §5); `param` is the placeholder number of the user id.
pub fn visibility_sql(param: usize) -> String {
    format!(
        "(e.created_by = ${param} OR e.project_id IS NULL \
         OR e.project_id IN (SELECT project_id FROM project_members WHERE user_id = ${param}) \
         OR e.id IN (SELECT experiment_id FROM experiment_collaborators WHERE user_id = ${param}))"
    )
}

/// The caller's rights on an experiment (rbac.md §3–§5).
///
/// Errors: 404 `resource.not_found` (`Experiment <id> not found`) when it does not exist or is
/// invisible to the caller — never 403; `Repository`.
pub async fn experiment_access(
    platform: &Platform,
    principal: &Principal,
    experiment_id: i64,
) -> Result<ExperimentAccess, PluginError> {
    let store = &platform.store;
    let not_found = || crate::api::not_found(format!("Experiment {experiment_id} not found"));
    let row = store
        .one(
            store.connection(),
            "SELECT e.project_id, e.created_by, e.status, \
             (SELECT role FROM experiment_collaborators c \
                WHERE c.experiment_id = e.id AND c.user_id = $2) AS collaborator_role, \
             (SELECT role FROM project_members m \
                WHERE m.project_id = e.project_id AND m.user_id = $2) AS project_role \
             FROM experiments e WHERE e.id = $1",
            [experiment_id.into(), principal.id().into()],
        )
        .await?
        .ok_or_else(not_found)?;
    let project_id = get_opt_i64(&row, "project_id")?;
    let created_by = get_opt_i64(&row, "created_by")?;
    let status = store::get_text(&row, "status")?;
    let collaborator = get_opt_text(&row, "collaborator_role")?;
    let project = get_opt_text(&row, "project_role")?
        .as_deref()
        .and_then(ProjectRole::parse);
    let admin = principal.is_admin();
    let creator = created_by == Some(principal.id());
    let visible = admin
        || creator
        || collaborator.is_some()
        || project.is_some()
        || (project_id.is_none() && principal.has("experiments.view"));
    if !visible {
        return Err(not_found());
    }
    let collab_owner = collaborator.as_deref() == Some("owner");
    let collab_editor = collaborator.as_deref() == Some("editor");
    let owner = admin || creator || collab_owner || project == Some(ProjectRole::Owner);
    Ok(ExperimentAccess {
        project_id,
        created_by,
        status,
        edit: owner
            || collab_editor
            || project == Some(ProjectRole::Editor)
            || principal.has("experiments.edit"),
        delete: owner
            || (project == Some(ProjectRole::Editor) && creator)
            || principal.has("experiments.delete"),
        owner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_roles_have_exactly_their_permission_sets() {
        let [admin, member, viewer] = system_roles();
        assert_eq!(admin.2.len(), 18);
        assert_eq!(member.2.len(), 15);
        for p in ["users.manage", "platform.configure", "plugins.install"] {
            assert!(!member.2.contains(&p), "{p}");
        }
        assert_eq!(
            viewer.2,
            vec![
                "projects.view",
                "experiments.view",
                "plugins.view",
                "users.view"
            ]
        );
        assert!(PERMISSIONS.iter().all(|p| is_permission(p)));
        assert!(!is_permission("experiments.approve"));
    }
}
