//! `/api/projects…`: projects, their members and their experiments (`spec/platform-api.md`
//! §4.4, rights from `spec/rbac.md` §3 via [`rbac::project_access`]).
//!
//! - **Project** = `{id, name, description, status, lead_id, tags, start_date, end_date,
//!   created_by, created_at, updated_at, member_count, experiment_count}`; `experiment_count`
//!   counts the experiments the caller may see (rbac.md §5).
//! - **Member** = `{user_id, user: {id, username, email}, role, status: "active"}`.
//! - `GET /api/projects/{id}/experiments` returns a bare array of Experiment JSON (§4.2),
//!   visible ones only.
//!
//! Who sees which project: a caller with `projects.view` sees every project, anyone else only
//! the projects they are a member of. Archived projects are left out of the list unless
//! `status=archived` is asked for. Every write runs in one transaction.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use mint_sdk::PluginError;
use mint_sdk::extract::{Json, Path, Query};
use sea_orm::{ConnectionTrait, QueryResult};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{commit, nullable};
use crate::rbac::{self, Principal, ProjectRole};
use crate::repos::users::{fetch_user, user_not_found};
use crate::state::Platform;
use crate::store::{self, Param, Store};

/// The project routes.
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
        .route("/api/projects", get(list_projects).post(create_project))
        .route(
            "/api/projects/{id}",
            get(get_project)
                .patch(update_project)
                .delete(delete_project),
        )
        .route("/api/projects/{id}/experiments", get(project_experiments))
        .route(
            "/api/projects/{id}/members",
            get(list_members).post(add_member),
        )
        .route(
            "/api/projects/{id}/members/{user_id}",
            get(get_member).patch(update_member).delete(remove_member),
        )
}

/// The project statuses (`status` query filter and PATCH value).
pub const PROJECT_STATUSES: [&str; 3] = ["active", "archived", "completed"];

/// The default and largest page size (platform-api.md §1.2).
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

// ----- helpers ----------------------------------------------------------------------------------

/// 422 `validation.error` with `message`.
fn unprocessable(message: impl Into<String>) -> PluginError {
    PluginError::http_message(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// Numbered placeholders for a query built piece by piece.
#[derive(Default)]
struct Binder {
    params: Vec<Param>,
}

impl Binder {
    /// Adds a parameter and returns its placeholder (`$n`).
    fn bind(&mut self, value: impl Into<Param>) -> String {
        format!("${}", self.bind_index(value))
    }

    /// Adds a parameter and returns its number.
    fn bind_index(&mut self, value: impl Into<Param>) -> usize {
        self.params.push(value.into());
        self.params.len()
    }
}

/// `skip`/`limit` of a list route.
///
/// Errors: 422 for a negative `skip` or a `limit` outside 1..=1000.
fn paging(skip: Option<i64>, limit: Option<i64>) -> Result<(i64, i64), PluginError> {
    let skip = skip.unwrap_or(0);
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if skip < 0 {
        return Err(unprocessable("skip must be 0 or more"));
    }
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(unprocessable(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    Ok((skip, limit))
}

/// A `LIKE` pattern matching `text` as a substring (`\` escapes); callers compare
/// `LOWER(column) LIKE LOWER(pattern)` so each backend folds case the same way on both sides.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The SQL condition (alias `e`) keeping the experiments the caller may see.
fn visible_experiments(principal: &Principal, binder: &mut Binder) -> String {
    if principal.is_admin() {
        "1 = 1".into()
    } else {
        rbac::visibility_sql(binder.bind_index(principal.id()))
    }
}

/// Stored JSON text as a value (`null` when absent or unreadable).
fn json_column(row: &QueryResult, col: &str) -> Result<Value, PluginError> {
    Ok(store::get_opt_text(row, col)?
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null))
}

/// A stored timestamp in the wire format (`…Z`, microseconds).
fn ts_column(row: &QueryResult, col: &str) -> Result<Value, PluginError> {
    Ok(json!(store::ts_text(&store::get_ts(row, col)?)))
}

/// A stored date (`YYYY-MM-DD`) or `null`.
fn date_column(row: &QueryResult, col: &str) -> Result<Value, PluginError> {
    Ok(match store::get_opt_date(row, col)? {
        Some(date) => json!(date.format("%Y-%m-%d").to_string()),
        None => Value::Null,
    })
}

// ----- project rows -----------------------------------------------------------------------------

/// The SELECT list of a project with its counts for the caller.
fn project_select(principal: &Principal, binder: &mut Binder) -> String {
    let visible = visible_experiments(principal, binder);
    format!(
        "SELECT p.id, p.name, p.description, p.status, p.lead_id, p.tags, p.start_date, \
         p.end_date, p.created_by, p.created_at, p.updated_at, \
         (SELECT COUNT(*) FROM project_members m WHERE m.project_id = p.id) AS member_count, \
         (SELECT COUNT(*) FROM experiments e WHERE e.project_id = p.id AND {visible}) \
           AS experiment_count \
         FROM projects p"
    )
}

/// Project JSON (platform-api.md §4.4).
fn project_json(row: &QueryResult) -> Result<Value, PluginError> {
    Ok(json!({
        "id": store::get_i64(row, "id")?,
        "name": store::get_text(row, "name")?,
        "description": store::get_opt_text(row, "description")?,
        "status": store::get_text(row, "status")?,
        "lead_id": store::get_opt_i64(row, "lead_id")?,
        "tags": json_column(row, "tags")?,
        "start_date": date_column(row, "start_date")?,
        "end_date": date_column(row, "end_date")?,
        "created_by": store::get_opt_i64(row, "created_by")?,
        "created_at": ts_column(row, "created_at")?,
        "updated_at": ts_column(row, "updated_at")?,
        "member_count": store::get_i64(row, "member_count")?,
        "experiment_count": store::get_i64(row, "experiment_count")?,
    }))
}

/// One project as the caller sees it.
///
/// Errors: 404 when it does not exist; `Repository`.
async fn project_value(
    store: &Store,
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: i64,
) -> Result<Value, PluginError> {
    let mut binder = Binder::default();
    let select = project_select(principal, &mut binder);
    let idp = binder.bind(id);
    let row = store
        .one(db, &format!("{select} WHERE p.id = {idp}"), binder.params)
        .await?
        .ok_or_else(|| project_not_found(id))?;
    project_json(&row)
}

fn project_not_found(id: i64) -> PluginError {
    crate::api::not_found(format!("Project {id} not found"))
}

// ----- list / create / read / update / delete ---------------------------------------------------

#[derive(Deserialize)]
struct ProjectQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    my_projects: Option<bool>,
    #[serde(default)]
    skip: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

/// `GET /api/projects`: `{projects, total}`.
async fn list_projects(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Query(query): Query<ProjectQuery>,
) -> Result<axum::Json<Value>, PluginError> {
    let (skip, limit) = paging(query.skip, query.limit)?;
    let status = query
        .status
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty());
    if let Some(status) = &status
        && !PROJECT_STATUSES.contains(&status.as_str())
    {
        return Err(unprocessable(format!(
            "status must be one of {}",
            PROJECT_STATUSES.join(", ")
        )));
    }
    let search = query
        .search
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let members_only = query.my_projects.unwrap_or(false) || !principal.has("projects.view");
    let conditions = |binder: &mut Binder| {
        let mut parts = Vec::new();
        if members_only {
            let user = binder.bind(principal.id());
            parts.push(format!(
                "p.id IN (SELECT project_id FROM project_members WHERE user_id = {user})"
            ));
        }
        match &status {
            Some(status) => {
                let s = binder.bind(status.as_str());
                parts.push(format!("p.status = {s}"));
            }
            None => parts.push("p.status <> 'archived'".into()),
        }
        if let Some(search) = &search {
            let s = binder.bind(like_pattern(search));
            parts.push(format!(
                "(LOWER(p.name) LIKE LOWER({s}) ESCAPE '\\' \
                 OR LOWER(COALESCE(p.description, '')) LIKE LOWER({s}) ESCAPE '\\')"
            ));
        }
        format!(" WHERE {}", parts.join(" AND "))
    };
    let store = &platform.store;
    let mut count_binder = Binder::default();
    let where_count = conditions(&mut count_binder);
    let total = store
        .count(
            store.connection(),
            &format!("SELECT COUNT(*) AS n FROM projects p{where_count}"),
            count_binder.params,
        )
        .await?;
    let mut binder = Binder::default();
    let select = project_select(&principal, &mut binder);
    let where_list = conditions(&mut binder);
    let lim = binder.bind(limit);
    let off = binder.bind(skip);
    let rows = store
        .all(
            store.connection(),
            &format!(
                "{select}{where_list} ORDER BY p.created_at DESC, p.id DESC \
                 LIMIT {lim} OFFSET {off}"
            ),
            binder.params,
        )
        .await?;
    let projects = rows
        .iter()
        .map(project_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(json!({"projects": projects, "total": total})))
}

#[derive(Deserialize)]
struct NewProject {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Option<Value>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    lead_id: Option<i64>,
    #[serde(default)]
    start_date: Option<NaiveDate>,
    #[serde(default)]
    end_date: Option<NaiveDate>,
}

/// A project name, trimmed.
///
/// Errors: 422 when empty or longer than 200 characters.
fn checked_name(name: &str) -> Result<String, PluginError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(unprocessable("name must have 1 to 200 characters"));
    }
    Ok(name.to_string())
}

/// A project status.
///
/// Errors: 422 unless active, archived or completed.
fn checked_status(status: &str) -> Result<String, PluginError> {
    let status = status.trim().to_ascii_lowercase();
    if PROJECT_STATUSES.contains(&status.as_str()) {
        Ok(status)
    } else {
        Err(unprocessable(format!(
            "status must be one of {}",
            PROJECT_STATUSES.join(", ")
        )))
    }
}

/// Project tags as stored text: a JSON array or object; `null` clears them.
///
/// Errors: 422 for any other JSON value.
fn checked_tags(tags: Option<Value>) -> Result<Option<String>, PluginError> {
    match tags {
        None | Some(Value::Null) => Ok(None),
        Some(v @ (Value::Array(_) | Value::Object(_))) => Ok(Some(store::json_text(&v))),
        Some(_) => Err(unprocessable("tags must be a JSON array or object")),
    }
}

/// Checks that a lead exists.
///
/// Errors: 422 `Unknown user` for an unknown id.
async fn checked_lead(
    store: &Store,
    db: &impl ConnectionTrait,
    lead: Option<i64>,
) -> Result<(), PluginError> {
    if let Some(lead) = lead
        && fetch_user(store, db, lead).await?.is_none()
    {
        return Err(unprocessable(format!("lead_id: unknown user {lead}")));
    }
    Ok(())
}

fn checked_dates(start: Option<NaiveDate>, end: Option<NaiveDate>) -> Result<(), PluginError> {
    match (start, end) {
        (Some(start), Some(end)) if end < start => {
            Err(unprocessable("end_date cannot be before start_date"))
        }
        _ => Ok(()),
    }
}

/// `POST /api/projects` (`projects.create`): 201 Project; the creator becomes its owner member.
async fn create_project(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Json(body): Json<NewProject>,
) -> Result<Response, PluginError> {
    principal.require("projects.create")?;
    let store = &platform.store;
    let name = checked_name(&body.name)?;
    let status = match &body.status {
        Some(status) => checked_status(status)?,
        None => "active".into(),
    };
    let tags = checked_tags(body.tags)?;
    checked_dates(body.start_date, body.end_date)?;
    let description = body
        .description
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    let txn = store.begin().await?;
    checked_lead(store, &txn, body.lead_id).await?;
    let now = store::now_text();
    let id = store
        .insert(
            &txn,
            "INSERT INTO projects (name, description, status, lead_id, tags, start_date, \
             end_date, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
            [
                name.into(),
                store::opt_text(description),
                status.into(),
                store::opt_i64(body.lead_id),
                store::opt_text(tags),
                store::opt_date(body.start_date),
                store::opt_date(body.end_date),
                principal.id().into(),
                now.as_str().into(),
            ],
        )
        .await?;
    store
        .exec(
            &txn,
            "INSERT INTO project_members (project_id, user_id, role, created_at) \
             VALUES ($1, $2, 'owner', $3)",
            [id.into(), principal.id().into(), now.into()],
        )
        .await?;
    let project = project_value(store, &txn, &principal, id).await?;
    commit(txn).await?;
    tracing::info!(project_id = id, actor = principal.id(), "project created");
    Ok((StatusCode::CREATED, axum::Json(project)).into_response())
}

/// `GET /api/projects/{id}`: 404 when unknown or invisible.
async fn get_project(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>, PluginError> {
    rbac::project_access(&platform, &principal, id).await?;
    let store = &platform.store;
    Ok(axum::Json(
        project_value(store, store.connection(), &principal, id).await?,
    ))
}

#[derive(Deserialize)]
struct ProjectPatch {
    #[serde(default, deserialize_with = "nullable")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    status: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    tags: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    lead_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    start_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    end_date: Option<Option<NaiveDate>>,
}

/// `PATCH /api/projects/{id}` (edit right): any subset of `name, description, status, tags,
/// lead_id, start_date, end_date`; `null` clears the optional ones; `status: "archived"`
/// archives.
async fn update_project(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
    Json(patch): Json<ProjectPatch>,
) -> Result<axum::Json<Value>, PluginError> {
    let access = rbac::project_access(&platform, &principal, id).await?;
    if !access.edit {
        return Err(rbac::missing_permission("projects.edit"));
    }
    let store = &platform.store;
    let name = match patch.name {
        Some(Some(name)) => Some(checked_name(&name)?),
        Some(None) => return Err(unprocessable("name cannot be null")),
        None => None,
    };
    let status = match patch.status {
        Some(Some(status)) => Some(checked_status(&status)?),
        Some(None) => return Err(unprocessable("status cannot be null")),
        None => None,
    };
    let tags = patch.tags.map(checked_tags).transpose()?;
    let txn = store.begin().await?;
    let row = store
        .one(
            &txn,
            "SELECT start_date, end_date FROM projects WHERE id = $1",
            [id.into()],
        )
        .await?
        .ok_or_else(|| project_not_found(id))?;
    let start = patch
        .start_date
        .unwrap_or(store::get_opt_date(&row, "start_date")?);
    let end = patch
        .end_date
        .unwrap_or(store::get_opt_date(&row, "end_date")?);
    checked_dates(start, end)?;
    if let Some(lead) = patch.lead_id {
        checked_lead(store, &txn, lead).await?;
    }
    let mut binder = Binder::default();
    let mut sets = Vec::new();
    if let Some(name) = name {
        sets.push(format!("name = {}", binder.bind(name)));
    }
    if let Some(description) = patch.description {
        let description = description
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        sets.push(format!(
            "description = {}",
            binder.bind(store::opt_text(description))
        ));
    }
    if let Some(status) = status {
        sets.push(format!("status = {}", binder.bind(status)));
    }
    if let Some(tags) = tags {
        sets.push(format!("tags = {}", binder.bind(store::opt_text(tags))));
    }
    if let Some(lead) = patch.lead_id {
        sets.push(format!("lead_id = {}", binder.bind(store::opt_i64(lead))));
    }
    if let Some(start) = patch.start_date {
        sets.push(format!(
            "start_date = {}",
            binder.bind(store::opt_date(start))
        ));
    }
    if let Some(end) = patch.end_date {
        sets.push(format!("end_date = {}", binder.bind(store::opt_date(end))));
    }
    sets.push(format!("updated_at = {}", binder.bind(store::now_text())));
    let idp = binder.bind(id);
    store
        .exec(
            &txn,
            &format!("UPDATE projects SET {} WHERE id = {idp}", sets.join(", ")),
            binder.params,
        )
        .await?;
    let project = project_value(store, &txn, &principal, id).await?;
    commit(txn).await?;
    tracing::info!(project_id = id, actor = principal.id(), "project updated");
    Ok(axum::Json(project))
}

/// `DELETE /api/projects/{id}` (delete right): 204; its experiments (and their design data,
/// results and collaborators) and memberships go with it.
async fn delete_project(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
) -> Result<StatusCode, PluginError> {
    let access = rbac::project_access(&platform, &principal, id).await?;
    if !access.delete {
        return Err(rbac::missing_permission("projects.delete"));
    }
    let store = &platform.store;
    let txn = store.begin().await?;
    let deleted = store
        .exec(&txn, "DELETE FROM projects WHERE id = $1", [id.into()])
        .await?;
    if deleted == 0 {
        return Err(project_not_found(id));
    }
    commit(txn).await?;
    tracing::info!(project_id = id, actor = principal.id(), "project deleted");
    Ok(StatusCode::NO_CONTENT)
}

// ----- experiments of a project -----------------------------------------------------------------

#[derive(Deserialize)]
struct PageQuery {
    #[serde(default)]
    skip: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

/// Experiment JSON (platform-api.md §4.2).
fn experiment_json(row: &QueryResult) -> Result<Value, PluginError> {
    let owner = store::get_opt_text(row, "design_owner_plugin_id")?;
    Ok(json!({
        "id": store::get_i64(row, "id")?,
        "name": store::get_text(row, "name")?,
        "experiment_code": store::get_text(row, "experiment_code")?,
        "experiment_type": store::get_text(row, "experiment_type")?,
        "status": store::get_text(row, "status")?,
        "project_id": store::get_opt_i64(row, "project_id")?,
        "project": store::get_opt_text(row, "project_name")?,
        "parent_experiment_id": store::get_opt_i64(row, "parent_experiment_id")?,
        "notes": store::get_opt_text(row, "notes")?,
        "tags": Value::Object(store::get_object(row, "tags")?),
        "custom_metadata": Value::Object(store::get_object(row, "custom_metadata")?),
        "start_date": date_column(row, "start_date")?,
        "end_date": date_column(row, "end_date")?,
        "created_by": store::get_opt_i64(row, "created_by")?,
        "created_at": ts_column(row, "created_at")?,
        "updated_at": ts_column(row, "updated_at")?,
        "has_design_data": owner.is_some(),
        "design_owner_plugin_id": owner,
    }))
}

/// `GET /api/projects/{id}/experiments`: bare array of the experiments of the project the
/// caller may see, newest first.
async fn project_experiments(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Value>, PluginError> {
    let (skip, limit) = paging(query.skip, query.limit)?;
    rbac::project_access(&platform, &principal, id).await?;
    let store = &platform.store;
    let mut binder = Binder::default();
    let idp = binder.bind(id);
    let visible = visible_experiments(&principal, &mut binder);
    let lim = binder.bind(limit);
    let off = binder.bind(skip);
    let rows = store
        .all(
            store.connection(),
            &format!(
                "SELECT e.id, e.name, e.experiment_code, e.experiment_type, e.status, \
                 e.project_id, p.name AS project_name, e.parent_experiment_id, e.notes, e.tags, \
                 e.custom_metadata, e.start_date, e.end_date, e.created_by, e.created_at, \
                 e.updated_at, d.plugin_id AS design_owner_plugin_id \
                 FROM experiments e \
                 LEFT JOIN projects p ON p.id = e.project_id \
                 LEFT JOIN design_data d ON d.experiment_id = e.id \
                 WHERE e.project_id = {idp} AND {visible} \
                 ORDER BY e.created_at DESC, e.id DESC LIMIT {lim} OFFSET {off}"
            ),
            binder.params,
        )
        .await?;
    let experiments = rows
        .iter()
        .map(experiment_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(Value::Array(experiments)))
}

// ----- members ----------------------------------------------------------------------------------

const MEMBER_SELECT: &str = "SELECT m.user_id, m.role, u.username, u.email \
                             FROM project_members m JOIN users u ON u.id = m.user_id";

/// Member JSON (platform-api.md §4.4).
fn member_json(row: &QueryResult) -> Result<Value, PluginError> {
    let user_id = store::get_i64(row, "user_id")?;
    Ok(json!({
        "user_id": user_id,
        "user": {
            "id": user_id,
            "username": store::get_text(row, "username")?,
            "email": store::get_opt_text(row, "email")?,
        },
        "role": store::get_text(row, "role")?.to_ascii_lowercase(),
        "status": "active",
    }))
}

async fn member_row(
    store: &Store,
    db: &impl ConnectionTrait,
    project_id: i64,
    user_id: i64,
) -> Result<Option<QueryResult>, PluginError> {
    store
        .one(
            db,
            &format!("{MEMBER_SELECT} WHERE m.project_id = $1 AND m.user_id = $2"),
            [project_id.into(), user_id.into()],
        )
        .await
}

fn not_a_member(project_id: i64, user_id: i64) -> PluginError {
    crate::api::not_found(format!(
        "User {user_id} is not a member of project {project_id}"
    ))
}

/// A project role from a request body (case-insensitive).
///
/// Errors: 422 unless owner, editor or viewer.
fn checked_project_role(role: &str) -> Result<ProjectRole, PluginError> {
    ProjectRole::parse(&role.trim().to_ascii_lowercase())
        .ok_or_else(|| unprocessable("role must be one of owner, editor, viewer"))
}

/// Checks the caller may manage the members of `project_id`.
///
/// Errors: 404 invisible project; 403 `Missing permission: projects.manage_members`.
async fn require_manage_members(
    platform: &Platform,
    principal: &Principal,
    project_id: i64,
) -> Result<(), PluginError> {
    let access = rbac::project_access(platform, principal, project_id).await?;
    if access.manage_members {
        Ok(())
    } else {
        Err(rbac::missing_permission("projects.manage_members"))
    }
}

/// Refuses a change that would leave the project without an owner.
///
/// Errors: 409 when `user_id` is the only owner.
async fn keep_an_owner(
    store: &Store,
    db: &impl ConnectionTrait,
    project_id: i64,
    user_id: i64,
) -> Result<(), PluginError> {
    let others = store
        .count(
            db,
            "SELECT COUNT(*) AS n FROM project_members \
             WHERE project_id = $1 AND role = 'owner' AND user_id <> $2",
            [project_id.into(), user_id.into()],
        )
        .await?;
    if others == 0 {
        return Err(PluginError::conflict(
            "A project needs at least one owner; add another owner first",
        )
        .with_entity("project_member"));
    }
    Ok(())
}

/// `GET /api/projects/{id}/members`: bare array, in joining order.
async fn list_members(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>, PluginError> {
    rbac::project_access(&platform, &principal, id).await?;
    let store = &platform.store;
    let rows = store
        .all(
            store.connection(),
            &format!("{MEMBER_SELECT} WHERE m.project_id = $1 ORDER BY m.created_at, m.user_id"),
            [id.into()],
        )
        .await?;
    let members = rows
        .iter()
        .map(member_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(Value::Array(members)))
}

/// `GET /api/projects/{id}/members/{user_id}`: one Member; 404 when not a member.
async fn get_member(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path((id, user_id)): Path<(i64, i64)>,
) -> Result<axum::Json<Value>, PluginError> {
    rbac::project_access(&platform, &principal, id).await?;
    let store = &platform.store;
    let row = member_row(store, store.connection(), id, user_id)
        .await?
        .ok_or_else(|| not_a_member(id, user_id))?;
    Ok(axum::Json(member_json(&row)?))
}

#[derive(Deserialize)]
struct NewMember {
    user_id: i64,
    role: String,
}

/// `POST /api/projects/{id}/members` (manage members): 201 Member; 404 unknown user; 409
/// already a member; 422 bad role.
async fn add_member(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path(id): Path<i64>,
    Json(body): Json<NewMember>,
) -> Result<Response, PluginError> {
    require_manage_members(&platform, &principal, id).await?;
    let role = checked_project_role(&body.role)?;
    let store = &platform.store;
    let txn = store.begin().await?;
    if fetch_user(store, &txn, body.user_id).await?.is_none() {
        return Err(crate::api::not_found(
            user_not_found(body.user_id).message(),
        ));
    }
    if member_row(store, &txn, id, body.user_id).await?.is_some() {
        return Err(PluginError::conflict(format!(
            "User {} is already a member of project {id}",
            body.user_id
        ))
        .with_entity("project_member")
        .with_conflict_field("user_id"));
    }
    store
        .exec(
            &txn,
            "INSERT INTO project_members (project_id, user_id, role, created_at) \
             VALUES ($1, $2, $3, $4)",
            [
                id.into(),
                body.user_id.into(),
                role.as_str().into(),
                store::now_text().into(),
            ],
        )
        .await?;
    let row = member_row(store, &txn, id, body.user_id)
        .await?
        .ok_or_else(|| not_a_member(id, body.user_id))?;
    let member = member_json(&row)?;
    commit(txn).await?;
    tracing::info!(
        project_id = id,
        user_id = body.user_id,
        actor = principal.id(),
        "member added"
    );
    Ok((StatusCode::CREATED, axum::Json(member)).into_response())
}

#[derive(Deserialize)]
struct MemberPatch {
    role: String,
}

/// `PATCH /api/projects/{id}/members/{user_id}` (manage members) `{role}`: Member; 404 not a
/// member; 409 when it would demote the last owner.
async fn update_member(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path((id, user_id)): Path<(i64, i64)>,
    Json(body): Json<MemberPatch>,
) -> Result<axum::Json<Value>, PluginError> {
    require_manage_members(&platform, &principal, id).await?;
    let role = checked_project_role(&body.role)?;
    let store = &platform.store;
    let txn = store.begin().await?;
    let row = member_row(store, &txn, id, user_id)
        .await?
        .ok_or_else(|| not_a_member(id, user_id))?;
    let current = store::get_text(&row, "role")?.to_ascii_lowercase();
    if current == "owner" && role != ProjectRole::Owner {
        keep_an_owner(store, &txn, id, user_id).await?;
    }
    store
        .exec(
            &txn,
            "UPDATE project_members SET role = $1 WHERE project_id = $2 AND user_id = $3",
            [role.as_str().into(), id.into(), user_id.into()],
        )
        .await?;
    let row = member_row(store, &txn, id, user_id)
        .await?
        .ok_or_else(|| not_a_member(id, user_id))?;
    let member = member_json(&row)?;
    commit(txn).await?;
    tracing::info!(
        project_id = id,
        user_id,
        actor = principal.id(),
        "member re-roled"
    );
    Ok(axum::Json(member))
}

/// `DELETE /api/projects/{id}/members/{user_id}` (manage members): 204; 404 not a member; 409
/// for the last owner. Experiment collaborator rows survive (rbac.md §4).
async fn remove_member(
    principal: Principal,
    State(platform): State<Arc<Platform>>,
    Path((id, user_id)): Path<(i64, i64)>,
) -> Result<StatusCode, PluginError> {
    require_manage_members(&platform, &principal, id).await?;
    let store = &platform.store;
    let txn = store.begin().await?;
    let row = member_row(store, &txn, id, user_id)
        .await?
        .ok_or_else(|| not_a_member(id, user_id))?;
    if store::get_text(&row, "role")?.eq_ignore_ascii_case("owner") {
        keep_an_owner(store, &txn, id, user_id).await?;
    }
    store
        .exec(
            &txn,
            "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2",
            [id.into(), user_id.into()],
        )
        .await?;
    commit(txn).await?;
    tracing::info!(
        project_id = id,
        user_id,
        actor = principal.id(),
        "member removed"
    );
    Ok(StatusCode::NO_CONTENT)
}
