//! Experiments, their collaborators, design data and analysis results on the platform store
//! (`spec/platform-api.md` §4.2–4.3, `spec/rbac.md` §4–§6, `spec/context-and-data.md` §5.1–5.2).
//!
//! Callers check *who* may act (RBAC for users, plugin rights for plugins) before calling; this
//! module enforces what holds for everyone: the status vocabulary and transitions, completed
//! experiments, design-data ownership, one transaction per write, and the experiment save hooks
//! (`before_experiment_save` inside the transaction — a veto rolls everything back — then
//! `after_experiment_save` and `experiment_status_changed` after the commit).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use mint_sdk::error::JsonObject;
use mint_sdk::export::TreeNode;
use mint_sdk::repositories::{DesignData, Experiment, PluginAnalysisResult, timestamp};
use mint_sdk::{AnalysisPlugin, PluginError, PluginType};
use sea_orm::{ConnectionTrait, QueryResult};
use serde::Serialize;
use serde_json::{Value, json};

use crate::rbac;
use crate::state::Platform;
use crate::store::{
    self, Param, Store, get_i64, get_object, get_opt_date, get_opt_i64, get_opt_text, get_text,
    get_ts, json_text, now_text, opt_date, opt_i64, opt_text,
};

/// The status vocabulary (rbac.md §6).
pub const STATUSES: [&str; 3] = ["planned", "ongoing", "completed"];

/// The counter behind the global experiment codes.
pub const CODE_COUNTER: &str = "experiment_code";

/// The type of experiments created without one.
pub const DEFAULT_EXPERIMENT_TYPE: &str = "custom";

/// `EXP-001`, `EXP-002`, … (three digits, wider when needed).
pub fn experiment_code(n: i64) -> String {
    format!("EXP-{n:03}")
}

/// One experiment as the REST API shows it (platform-api.md §4.2 "Experiment").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentView {
    /// Numeric id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Global code, `EXP-001`….
    pub experiment_code: String,
    /// Experiment type (`custom` or a design plugin's key).
    pub experiment_type: String,
    /// `planned`, `ongoing` or `completed`.
    pub status: String,
    /// The project's id, if any.
    pub project_id: Option<i64>,
    /// The project's name, if any.
    pub project: Option<String>,
    /// The parent experiment's id.
    pub parent_experiment_id: Option<i64>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Tags object.
    pub tags: JsonObject,
    /// Custom metadata object.
    pub custom_metadata: JsonObject,
    /// Start date, `YYYY-MM-DD`.
    pub start_date: Option<NaiveDate>,
    /// End date, `YYYY-MM-DD`.
    pub end_date: Option<NaiveDate>,
    /// The creating user's id.
    pub created_by: Option<i64>,
    /// Creation time (RFC 3339, UTC `Z`).
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change (RFC 3339, UTC `Z`).
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
    /// Whether a design row exists.
    pub has_design_data: bool,
    /// The plugin owning the design row.
    pub design_owner_plugin_id: Option<String>,
}

impl ExperimentView {
    /// The wire JSON object (what the save hooks receive as `data`).
    pub fn to_object(&self) -> JsonObject {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => JsonObject::new(),
        }
    }

    /// The SDK record handed to plugins (context-and-data.md §7).
    pub fn into_experiment(self) -> Experiment {
        Experiment {
            id: self.id,
            name: self.name,
            experiment_type: self.experiment_type,
            status: self.status,
            created_at: self.created_at,
            updated_at: self.updated_at,
            created_by: self.created_by,
            parent_experiment_id: self.parent_experiment_id,
            project: self.project,
            notes: self.notes,
            tags: self.tags,
            custom_metadata: self.custom_metadata,
            start_date: self.start_date,
            end_date: self.end_date,
        }
    }
}

const SELECT: &str = "SELECT e.id, e.name, e.experiment_code, e.experiment_type, e.status, \
     e.project_id, p.name AS project_name, e.parent_experiment_id, e.notes, e.tags, \
     e.custom_metadata, e.start_date, e.end_date, e.created_by, e.created_at, e.updated_at, \
     d.plugin_id AS design_owner \
     FROM experiments e \
     LEFT JOIN projects p ON p.id = e.project_id \
     LEFT JOIN design_data d ON d.experiment_id = e.id";

fn view_row(row: &QueryResult) -> Result<ExperimentView, PluginError> {
    let design_owner = get_opt_text(row, "design_owner")?;
    Ok(ExperimentView {
        id: get_i64(row, "id")?,
        name: get_text(row, "name")?,
        experiment_code: get_text(row, "experiment_code")?,
        experiment_type: get_text(row, "experiment_type")?,
        status: get_text(row, "status")?,
        project_id: get_opt_i64(row, "project_id")?,
        project: get_opt_text(row, "project_name")?,
        parent_experiment_id: get_opt_i64(row, "parent_experiment_id")?,
        notes: get_opt_text(row, "notes")?,
        tags: get_object(row, "tags")?,
        custom_metadata: get_object(row, "custom_metadata")?,
        start_date: get_opt_date(row, "start_date")?,
        end_date: get_opt_date(row, "end_date")?,
        created_by: get_opt_i64(row, "created_by")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        has_design_data: design_owner.is_some(),
        design_owner_plugin_id: design_owner,
    })
}

async fn fetch(
    store: &Store,
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<ExperimentView>, PluginError> {
    store
        .one(db, &format!("{SELECT} WHERE e.id = $1"), [id.into()])
        .await?
        .map(|row| view_row(&row))
        .transpose()
}

/// `NotFound` for experiment `id` (code `NOT_FOUND`, entity `experiment`).
pub(crate) fn experiment_not_found(id: i64) -> PluginError {
    PluginError::not_found(format!("Experiment {id} not found"))
        .with_entity("experiment")
        .with_entity_id(id)
}

/// Who performs a write: the status rules treat admins differently (rbac.md §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A platform user.
    User {
        /// The user id (recorded as `created_by` on create).
        id: i64,
        /// Whether the system role is admin.
        admin: bool,
    },
    /// A plugin acting with its own rights (no user); never an admin.
    Plugin {
        /// The plugin id.
        plugin_id: String,
    },
}

impl Actor {
    /// The actor of a REST request.
    pub fn user(principal: &rbac::Principal) -> Self {
        Self::User {
            id: principal.id(),
            admin: principal.is_admin(),
        }
    }

    /// Whether admin-only transitions and completed experiments are open to it.
    pub fn is_admin(&self) -> bool {
        matches!(self, Self::User { admin: true, .. })
    }
}

/// A project named by id (REST) or by name (plugin repositories).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    /// By id.
    Id(i64),
    /// By exact name (the lowest id wins when names repeat).
    Name(String),
}

async fn resolve_project(
    store: &Store,
    db: &impl ConnectionTrait,
    project: &ProjectRef,
) -> Result<i64, PluginError> {
    let row = match project {
        ProjectRef::Id(id) => {
            store
                .one(db, "SELECT id FROM projects WHERE id = $1", [(*id).into()])
                .await?
        }
        ProjectRef::Name(name) => {
            store
                .one(
                    db,
                    "SELECT id FROM projects WHERE name = $1 ORDER BY id LIMIT 1",
                    [name.clone().into()],
                )
                .await?
        }
    };
    match row {
        Some(row) => get_i64(&row, "id"),
        None => Err(match project {
            ProjectRef::Id(id) => PluginError::not_found(format!("Project {id} not found"))
                .with_entity("project")
                .with_entity_id(id),
            ProjectRef::Name(name) => PluginError::not_found(format!("Project '{name}' not found"))
                .with_entity("project")
                .with_entity_id(name),
        }),
    }
}

async fn check_parent(
    store: &Store,
    db: &impl ConnectionTrait,
    parent: i64,
    own: Option<i64>,
) -> Result<(), PluginError> {
    if own == Some(parent) {
        return Err(
            PluginError::validation("An experiment cannot be its own parent")
                .with_field("parent_experiment_id")
                .with_value(parent),
        );
    }
    let n = store
        .count(
            db,
            "SELECT COUNT(*) AS n FROM experiments WHERE id = $1",
            [parent.into()],
        )
        .await?;
    if n == 0 {
        return Err(
            PluginError::validation(format!("Parent experiment {parent} does not exist"))
                .with_field("parent_experiment_id")
                .with_value(parent),
        );
    }
    Ok(())
}

fn clean_name(name: &str) -> Result<String, PluginError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(PluginError::validation("Experiment name must not be empty").with_field("name"));
    }
    Ok(name.to_string())
}

fn clean_type(experiment_type: Option<&str>) -> String {
    experiment_type
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_EXPERIMENT_TYPE)
        .to_string()
}

/// Input of [`create`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewExperimentInput {
    /// Display name (required, trimmed, non-empty).
    pub name: String,
    /// Type; empty or `None` means `custom`.
    pub experiment_type: Option<String>,
    /// The project, if any.
    pub project: Option<ProjectRef>,
    /// The parent experiment (must exist).
    pub parent_experiment_id: Option<i64>,
    /// Notes.
    pub notes: Option<String>,
    /// Tags (`{}` when absent).
    pub tags: Option<JsonObject>,
    /// Custom metadata (`{}` when absent).
    pub custom_metadata: Option<JsonObject>,
    /// Start date.
    pub start_date: Option<NaiveDate>,
    /// End date.
    pub end_date: Option<NaiveDate>,
    /// The creator; a user actor's id is used when `None`.
    pub created_by: Option<i64>,
}

/// Creates an experiment with status `planned` and the next global code, in one transaction
/// with the `before_experiment_save` hooks; after the commit `after_experiment_save` runs.
///
/// Errors: `Validation` (`name`, `parent_experiment_id`); `NotFound` for an unknown project;
/// `EventVeto` when a plugin vetoes (nothing is stored); `Repository`.
pub async fn create(
    platform: &Platform,
    actor: &Actor,
    input: NewExperimentInput,
) -> Result<ExperimentView, PluginError> {
    let name = clean_name(&input.name)?;
    let experiment_type = clean_type(input.experiment_type.as_deref());
    let created_by = input.created_by.or(match actor {
        Actor::User { id, .. } => Some(*id),
        Actor::Plugin { .. } => None,
    });
    let store = &platform.store;
    let txn = store.begin().await?;
    // Take the write lock first (SQLite) and make sure the counter row exists, so concurrent
    // first creates queue on it instead of racing to insert it.
    store
        .exec(
            &txn,
            "INSERT INTO counters (name, value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
            [CODE_COUNTER.into()],
        )
        .await?;
    let project_id = match &input.project {
        Some(project) => Some(resolve_project(store, &txn, project).await?),
        None => None,
    };
    if let Some(parent) = input.parent_experiment_id {
        check_parent(store, &txn, parent, None).await?;
    }
    let code = experiment_code(store.next_counter(&txn, CODE_COUNTER).await?);
    let now = now_text();
    let id = store
        .insert(
            &txn,
            "INSERT INTO experiments (name, experiment_code, experiment_type, status, project_id, \
             parent_experiment_id, notes, tags, custom_metadata, start_date, end_date, created_by, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, 'planned', $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
             RETURNING id",
            [
                name.into(),
                code.into(),
                experiment_type.into(),
                opt_i64(project_id),
                opt_i64(input.parent_experiment_id),
                opt_text(input.notes),
                json_text(&input.tags.unwrap_or_default()).into(),
                json_text(&input.custom_metadata.unwrap_or_default()).into(),
                opt_date(input.start_date),
                opt_date(input.end_date),
                opt_i64(created_by),
                now.into(),
            ],
        )
        .await?;
    let view = fetch(store, &txn, id)
        .await?
        .ok_or_else(|| experiment_not_found(id))?;
    let data = view.to_object();
    platform.plugins.before_experiment_save(id, &data).await?;
    txn.commit().await.map_err(PluginError::from)?;
    platform.plugins.after_experiment_save(id, &data).await;
    Ok(view)
}

/// Changes to one experiment (for `Option<Option<_>>` fields, `Some(None)` clears the value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExperimentPatch {
    /// New name (trimmed, non-empty).
    pub name: Option<String>,
    /// New status (rbac.md §6 transitions).
    pub status: Option<String>,
    /// New type (empty means `custom`).
    pub experiment_type: Option<String>,
    /// New project, or none.
    pub project: Option<Option<ProjectRef>>,
    /// New parent, or none.
    pub parent_experiment_id: Option<Option<i64>>,
    /// New notes, or none.
    pub notes: Option<Option<String>>,
    /// Replaces the whole tags object.
    pub tags: Option<JsonObject>,
    /// Replaces the whole custom metadata object.
    pub custom_metadata: Option<JsonObject>,
    /// New start date, or none.
    pub start_date: Option<Option<NaiveDate>>,
    /// New end date, or none.
    pub end_date: Option<Option<NaiveDate>>,
}

/// Checks a status change (rbac.md §6): `old` is the stored status, `new` the requested one.
///
/// Errors: 400 `Validation` (field `status`) for an unknown status or a disallowed transition;
/// 403 `Permission` for a non-admin reopening or otherwise changing a completed experiment.
pub fn check_status_change(actor: &Actor, old: &str, new: Option<&str>) -> Result<(), PluginError> {
    if let Some(new) = new
        && !STATUSES.contains(&new)
    {
        return Err(PluginError::validation(format!(
            "Invalid status '{new}': expected one of planned, ongoing, completed"
        ))
        .with_field("status")
        .with_value(new));
    }
    if old == "completed" && !actor.is_admin() {
        return Err(if new == Some("ongoing") {
            PluginError::permission("Only admins may reopen a completed experiment")
        } else {
            PluginError::permission("Experiment is completed")
        });
    }
    let Some(new) = new else { return Ok(()) };
    let allowed = old == new
        || matches!(
            (old, new),
            ("planned", "ongoing")
                | ("ongoing", "completed")
                | ("planned", "completed")
                | ("completed", "ongoing")
        );
    if allowed {
        Ok(())
    } else {
        Err(
            PluginError::validation(format!("Status cannot change from '{old}' to '{new}'"))
                .with_field("status")
                .with_value(new),
        )
    }
}

/// Applies `patch` in one transaction with the save hooks; `None` when the experiment does not
/// exist. `updated_at` is always bumped. After the commit `after_experiment_save` runs, and
/// `experiment_status_changed` when the status changed.
///
/// Errors: as [`check_status_change`]; `Validation` (`name`, `parent_experiment_id`);
/// `NotFound` for an unknown project; `EventVeto` (nothing is stored); `Repository`.
pub async fn update(
    platform: &Platform,
    actor: &Actor,
    id: i64,
    patch: ExperimentPatch,
) -> Result<Option<ExperimentView>, PluginError> {
    let store = &platform.store;
    let txn = store.begin().await?;
    let now = now_text();
    // Writing first locks the row (PostgreSQL) or the database (SQLite) for this transaction.
    let touched = store
        .exec(
            &txn,
            "UPDATE experiments SET updated_at = $2 WHERE id = $1",
            [id.into(), now.into()],
        )
        .await?;
    if touched == 0 {
        return Ok(None);
    }
    let old = fetch(store, &txn, id)
        .await?
        .ok_or_else(|| experiment_not_found(id))?;
    check_status_change(actor, &old.status, patch.status.as_deref())?;

    let mut sets: Vec<String> = Vec::new();
    let mut params: Vec<Param> = vec![id.into()];
    let mut set = |column: &str, value: Param| {
        params.push(value);
        sets.push(format!("{column} = ${}", params.len()));
    };
    if let Some(name) = &patch.name {
        set("name", clean_name(name)?.into());
    }
    if let Some(status) = &patch.status {
        set("status", status.clone().into());
    }
    if let Some(t) = &patch.experiment_type {
        set("experiment_type", clean_type(Some(t)).into());
    }
    if let Some(project) = &patch.project {
        let project_id = match project {
            Some(p) => Some(resolve_project(store, &txn, p).await?),
            None => None,
        };
        set("project_id", opt_i64(project_id));
    }
    if let Some(parent) = patch.parent_experiment_id {
        if let Some(p) = parent {
            check_parent(store, &txn, p, Some(id)).await?;
        }
        set("parent_experiment_id", opt_i64(parent));
    }
    if let Some(notes) = patch.notes {
        set("notes", opt_text(notes));
    }
    if let Some(tags) = &patch.tags {
        set("tags", json_text(tags).into());
    }
    if let Some(meta) = &patch.custom_metadata {
        set("custom_metadata", json_text(meta).into());
    }
    if let Some(date) = patch.start_date {
        set("start_date", opt_date(date));
    }
    if let Some(date) = patch.end_date {
        set("end_date", opt_date(date));
    }
    if !sets.is_empty() {
        store
            .exec(
                &txn,
                &format!("UPDATE experiments SET {} WHERE id = $1", sets.join(", ")),
                params,
            )
            .await?;
    }
    let view = fetch(store, &txn, id)
        .await?
        .ok_or_else(|| experiment_not_found(id))?;
    let data = view.to_object();
    platform.plugins.before_experiment_save(id, &data).await?;
    txn.commit().await.map_err(PluginError::from)?;
    platform.plugins.after_experiment_save(id, &data).await;
    if view.status != old.status {
        platform
            .plugins
            .experiment_status_changed(id, &old.status, &view.status)
            .await;
    }
    Ok(Some(view))
}

/// Deletes an experiment (its design data, results and collaborators go with it; children
/// lose their parent); `false` when it did not exist.
///
/// Errors: `Repository`.
pub async fn delete(platform: &Platform, id: i64) -> Result<bool, PluginError> {
    let store = &platform.store;
    let n = store
        .exec(
            store.connection(),
            "DELETE FROM experiments WHERE id = $1",
            [id.into()],
        )
        .await?;
    Ok(n > 0)
}

/// One experiment, `None` when unknown (no visibility check).
///
/// Errors: `Repository`.
pub async fn get(platform: &Platform, id: i64) -> Result<Option<ExperimentView>, PluginError> {
    fetch(&platform.store, platform.store.connection(), id).await
}

/// Whose experiments a list may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Viewer {
    /// Everything (admins, plugins).
    #[default]
    All,
    /// A non-admin user (rbac.md §5).
    User {
        /// The user id.
        id: i64,
        /// Whether the user has `experiments.view` (needed for experiments without project).
        sees_unassigned: bool,
    },
}

/// The sort columns of the REST list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// `created_at` (the REST default).
    #[default]
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
    /// `name`.
    Name,
    /// `status`.
    Status,
    /// `experiment_type`.
    ExperimentType,
    /// `id` (the repository order).
    Id,
}

impl SortKey {
    fn column(self) -> &'static str {
        match self {
            Self::CreatedAt => "e.created_at",
            Self::UpdatedAt => "e.updated_at",
            Self::Name => "e.name",
            Self::Status => "e.status",
            Self::ExperimentType => "e.experiment_type",
            Self::Id => "e.id",
        }
    }
}

/// Filters, paging and order of [`list`]. String filters that are empty count as absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Rows skipped.
    pub skip: u64,
    /// Most rows returned.
    pub limit: u64,
    /// Exact status.
    pub status: Option<String>,
    /// Exact type.
    pub experiment_type: Option<String>,
    /// Exact project id.
    pub project_id: Option<i64>,
    /// Exact project name.
    pub project: Option<String>,
    /// Exact creator.
    pub created_by: Option<i64>,
    /// Exact parent.
    pub parent_experiment_id: Option<i64>,
    /// Case-insensitive substring of name or notes (and the code when `search_code`).
    pub search: Option<String>,
    /// Whether `search` also matches `experiment_code`.
    pub search_code: bool,
    /// `created_at >=` this.
    pub created_after: Option<DateTime<Utc>>,
    /// `created_at <=` this.
    pub created_before: Option<DateTime<Utc>>,
    /// Sort column (ties broken by id in the same direction).
    pub sort: SortKey,
    /// Descending order.
    pub descending: bool,
    /// Visibility.
    pub viewer: Viewer,
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn like_pattern(search: &str) -> String {
    let mut out = String::from("%");
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A page of experiments and the number of matches before paging.
///
/// Errors: `Repository`.
pub async fn list(
    platform: &Platform,
    query: &ListQuery,
) -> Result<(Vec<ExperimentView>, u64), PluginError> {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    fn push(params: &mut Vec<Param>, value: Param) -> usize {
        params.push(value);
        params.len()
    }
    if let Viewer::User {
        id,
        sees_unassigned,
    } = query.viewer
    {
        let n = push(&mut params, id.into());
        conds.push(if sees_unassigned {
            rbac::visibility_sql(n)
        } else {
            format!(
                "(e.created_by = ${n} \
                 OR e.project_id IN (SELECT project_id FROM project_members WHERE user_id = ${n}) \
                 OR e.id IN (SELECT experiment_id FROM experiment_collaborators WHERE user_id = ${n}))"
            )
        });
    }
    if let Some(status) = non_empty(&query.status) {
        let n = push(&mut params, status.into());
        conds.push(format!("e.status = ${n}"));
    }
    if let Some(t) = non_empty(&query.experiment_type) {
        let n = push(&mut params, t.into());
        conds.push(format!("e.experiment_type = ${n}"));
    }
    if let Some(project_id) = query.project_id {
        let n = push(&mut params, project_id.into());
        conds.push(format!("e.project_id = ${n}"));
    }
    if let Some(project) = non_empty(&query.project) {
        let n = push(&mut params, project.into());
        conds.push(format!("p.name = ${n}"));
    }
    if let Some(created_by) = query.created_by {
        let n = push(&mut params, created_by.into());
        conds.push(format!("e.created_by = ${n}"));
    }
    if let Some(parent) = query.parent_experiment_id {
        let n = push(&mut params, parent.into());
        conds.push(format!("e.parent_experiment_id = ${n}"));
    }
    if let Some(search) = non_empty(&query.search) {
        let n = push(&mut params, like_pattern(search).into());
        let code = if query.search_code {
            format!(" OR LOWER(e.experiment_code) LIKE ${n} ESCAPE '\\'")
        } else {
            String::new()
        };
        conds.push(format!(
            "(LOWER(e.name) LIKE ${n} ESCAPE '\\' \
             OR LOWER(COALESCE(e.notes, '')) LIKE ${n} ESCAPE '\\'{code})"
        ));
    }
    if let Some(after) = &query.created_after {
        let n = push(&mut params, store::ts_text(after).into());
        conds.push(format!("e.created_at >= ${n}"));
    }
    if let Some(before) = &query.created_before {
        let n = push(&mut params, store::ts_text(before).into());
        conds.push(format!("e.created_at <= ${n}"));
    }
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    let store = &platform.store;
    let db = store.connection();
    let total = store
        .count(
            db,
            &format!(
                "SELECT COUNT(*) AS n FROM experiments e \
                 LEFT JOIN projects p ON p.id = e.project_id{filter}"
            ),
            params.clone(),
        )
        .await?;
    let direction = if query.descending { "DESC" } else { "ASC" };
    let limit = push(
        &mut params,
        i64::try_from(query.limit).unwrap_or(i64::MAX).into(),
    );
    let offset = push(
        &mut params,
        i64::try_from(query.skip).unwrap_or(i64::MAX).into(),
    );
    let column = query.sort.column();
    let rows = store
        .all(
            db,
            &format!(
                "{SELECT}{filter} ORDER BY {column} {direction}, e.id {direction} \
                 LIMIT ${limit} OFFSET ${offset}"
            ),
            params,
        )
        .await?;
    let items = rows.iter().map(view_row).collect::<Result<Vec<_>, _>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// Parses a `created_after` / `created_before` bound: a date (`2026-05-01`, midnight UTC) or a
/// datetime (RFC 3339 with offset, or without one, read as UTC; `T` or space). `None` when it
/// is neither.
pub fn parse_time_bound(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(ts) = DateTime::parse_from_rfc3339(text) {
        return Some(ts.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    let spaced = text.replacen(' ', "T", 1);
    if let Ok(ts) = DateTime::parse_from_rfc3339(&spaced) {
        return Some(ts.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&spaced, format) {
            return Some(naive.and_utc());
        }
    }
    None
}

// ----- experiment types and codes ---------------------------------------------------------------

/// `panel-designer` → `Panel Designer`.
fn humanize(name: &str) -> String {
    name.split(['-', '_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The experiment types (platform-api.md §4.2): `custom` first, then one per Ready
/// experiment-design plugin in registration order, keyed by the plugin id (its name, which is
/// unique, unlike the domain label `analysis_type`).
pub fn experiment_types(platform: &Platform) -> Vec<Value> {
    let mut out = vec![json!({
        "key": DEFAULT_EXPERIMENT_TYPE,
        "label": "Custom",
        "description": "A general experiment without a design plugin",
        "plugin_id": null,
    })];
    for plugin in platform.plugins.ready() {
        let meta = plugin.metadata();
        if meta.plugin_type != PluginType::ExperimentDesign || meta.name == DEFAULT_EXPERIMENT_TYPE
        {
            continue;
        }
        out.push(json!({
            "key": meta.name,
            "label": humanize(&meta.name),
            "description": meta.description,
            "plugin_id": meta.name,
        }));
    }
    out
}

/// The next code without taking it: `(next_seq, code)`.
///
/// Errors: `Repository`.
pub async fn peek_next_code(platform: &Platform) -> Result<(i64, String), PluginError> {
    let store = &platform.store;
    let next = store.peek_counter(store.connection(), CODE_COUNTER).await? + 1;
    Ok((next, experiment_code(next)))
}

// ----- collaborators ----------------------------------------------------------------------------

/// The roles a collaborator may have (rbac.md §4).
pub const COLLABORATOR_ROLES: [&str; 3] = ["owner", "editor", "viewer"];

/// The collaborators of an experiment, `[{user_id, username, role}]` ordered by user id.
///
/// Errors: `Repository`.
pub async fn collaborators(
    platform: &Platform,
    experiment_id: i64,
) -> Result<Vec<Value>, PluginError> {
    let store = &platform.store;
    let rows = store
        .all(
            store.connection(),
            "SELECT c.user_id, u.username, c.role FROM experiment_collaborators c \
             JOIN users u ON u.id = c.user_id WHERE c.experiment_id = $1 ORDER BY c.user_id",
            [experiment_id.into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(json!({
                "user_id": get_i64(row, "user_id")?,
                "username": get_text(row, "username")?,
                "role": get_text(row, "role")?,
            }))
        })
        .collect()
}

/// Adds or re-roles a collaborator and returns `{user_id, username, role}`. `role` must be
/// one of [`COLLABORATOR_ROLES`] (callers check it).
///
/// Errors: `NotFound` for an unknown user or experiment; `Repository`.
pub async fn set_collaborator(
    platform: &Platform,
    experiment_id: i64,
    user_id: i64,
    role: &str,
) -> Result<Value, PluginError> {
    let store = &platform.store;
    let db = store.connection();
    let user = store
        .one(
            db,
            "SELECT username FROM users WHERE id = $1",
            [user_id.into()],
        )
        .await?
        .ok_or_else(|| {
            PluginError::not_found(format!("User {user_id} not found"))
                .with_entity("user")
                .with_entity_id(user_id)
        })?;
    let username = get_text(&user, "username")?;
    // One statement: atomic on its own (a user or experiment deleted meanwhile is a 409).
    store
        .exec(
            db,
            "INSERT INTO experiment_collaborators (experiment_id, user_id, role) \
             SELECT id, $2, $3 FROM experiments WHERE id = $1 \
             ON CONFLICT (experiment_id, user_id) DO UPDATE SET role = excluded.role",
            [experiment_id.into(), user_id.into(), role.into()],
        )
        .await
        .and_then(|n| {
            if n == 0 {
                Err(experiment_not_found(experiment_id))
            } else {
                Ok(())
            }
        })?;
    Ok(json!({"user_id": user_id, "username": username, "role": role}))
}

/// Removes a collaborator; `false` when there was none.
///
/// Errors: `Repository`.
pub async fn remove_collaborator(
    platform: &Platform,
    experiment_id: i64,
    user_id: i64,
) -> Result<bool, PluginError> {
    let store = &platform.store;
    let n = store
        .exec(
            store.connection(),
            "DELETE FROM experiment_collaborators WHERE experiment_id = $1 AND user_id = $2",
            [experiment_id.into(), user_id.into()],
        )
        .await?;
    Ok(n > 0)
}

// ----- design data ------------------------------------------------------------------------------

/// Locks the experiment row for the rest of the transaction by writing it (on SQLite this
/// takes the database write lock before anything is read, so a later write cannot fail on a
/// stale snapshot); `false` when the experiment does not exist.
async fn lock_experiment(
    store: &Store,
    db: &impl ConnectionTrait,
    experiment_id: i64,
) -> Result<bool, PluginError> {
    let n = store
        .exec(
            db,
            "UPDATE experiments SET updated_at = updated_at WHERE id = $1",
            [experiment_id.into()],
        )
        .await?;
    Ok(n > 0)
}

/// The experiment's design row, whoever owns it.
///
/// Errors: `Repository`.
pub async fn get_design(
    platform: &Platform,
    experiment_id: i64,
) -> Result<Option<DesignData>, PluginError> {
    let store = &platform.store;
    store
        .one(
            store.connection(),
            "SELECT * FROM design_data WHERE experiment_id = $1",
            [experiment_id.into()],
        )
        .await?
        .map(|row| store::design_row(&row))
        .transpose()
}

/// Upserts the design row of `plugin_id` (keeps id and `created_at`), in one transaction.
///
/// Errors: `NotFound` for an unknown experiment; 409 `DESIGN_DATA_OWNERSHIP_CONFLICT` when
/// another plugin owns the row; `Repository`.
pub async fn save_design(
    platform: &Platform,
    experiment_id: i64,
    plugin_id: &str,
    data: JsonObject,
    schema_version: &str,
) -> Result<DesignData, PluginError> {
    let store = &platform.store;
    let txn = store.begin().await?;
    if !lock_experiment(store, &txn, experiment_id).await? {
        return Err(experiment_not_found(experiment_id));
    }
    if let Some(row) = store
        .one(
            &txn,
            "SELECT plugin_id FROM design_data WHERE experiment_id = $1",
            [experiment_id.into()],
        )
        .await?
    {
        let current = get_text(&row, "plugin_id")?;
        if current != plugin_id {
            return Err(PluginError::design_data_ownership_conflict(
                experiment_id,
                current,
                plugin_id,
            ));
        }
    }
    let now = now_text();
    let row = store
        .one(
            &txn,
            "INSERT INTO design_data \
               (experiment_id, plugin_id, data, schema_version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (experiment_id) DO UPDATE SET \
               data = excluded.data, schema_version = excluded.schema_version, \
               updated_at = excluded.updated_at \
             RETURNING *",
            [
                experiment_id.into(),
                plugin_id.into(),
                json_text(&data).into(),
                schema_version.into(),
                now.into(),
            ],
        )
        .await?
        .ok_or_else(|| PluginError::repository("The database returned no design row"))?;
    let saved = store::design_row(&row)?;
    txn.commit().await.map_err(PluginError::from)?;
    Ok(saved)
}

/// Deletes the design row; `false` when there was none. With `only_owner`, a row owned by
/// another plugin is refused.
///
/// Errors: `Permission` (`design_data.self`) for another plugin's row; `Repository`.
pub async fn delete_design(
    platform: &Platform,
    experiment_id: i64,
    only_owner: Option<&str>,
) -> Result<bool, PluginError> {
    let store = &platform.store;
    let txn = store.begin().await?;
    if !lock_experiment(store, &txn, experiment_id).await? {
        return Ok(false);
    }
    let Some(row) = store
        .one(
            &txn,
            "SELECT plugin_id FROM design_data WHERE experiment_id = $1",
            [experiment_id.into()],
        )
        .await?
    else {
        return Ok(false);
    };
    let current = get_text(&row, "plugin_id")?;
    if let Some(own) = only_owner
        && own != current
    {
        return Err(mint_sdk::repositories::foreign_plugin_error(
            "design_data.self",
            &current,
            own,
        ));
    }
    let n = store
        .exec(
            &txn,
            "DELETE FROM design_data WHERE experiment_id = $1",
            [experiment_id.into()],
        )
        .await?;
    txn.commit().await.map_err(PluginError::from)?;
    Ok(n > 0)
}

fn ready_plugin(platform: &Platform, plugin_id: &str) -> Option<Arc<dyn AnalysisPlugin>> {
    platform
        .plugins
        .ready()
        .into_iter()
        .find(|p| p.metadata().name == plugin_id)
}

/// The design data as a tree: the owning plugin's `export_tree` when it is Ready, else the
/// SDK's compact [`auto_json_to_tree`](mint_sdk::export::auto_json_to_tree).
pub fn design_tree(platform: &Platform, design: &DesignData) -> Vec<TreeNode> {
    match ready_plugin(platform, &design.plugin_id) {
        Some(plugin) => plugin.export_tree(&design.data),
        None => mint_sdk::export::auto_json_to_tree(&design.data, true),
    }
}

/// The design data as `{"metadata", "sections"}`: the owning plugin's `export_summary` when it
/// is Ready, else [`auto_json_to_summary`](mint_sdk::export::auto_json_to_summary).
pub fn design_summary(platform: &Platform, design: &DesignData) -> Value {
    match ready_plugin(platform, &design.plugin_id) {
        Some(plugin) => plugin.export_summary(&design.data),
        None => mint_sdk::export::auto_json_to_summary(&design.data),
    }
}

/// The design data as CSV text: the owning plugin's `export_csv` when it is Ready, else
/// [`auto_json_to_csv`](mint_sdk::export::auto_json_to_csv).
pub fn design_csv(platform: &Platform, design: &DesignData) -> String {
    match ready_plugin(platform, &design.plugin_id) {
        Some(plugin) => plugin.export_csv(&design.data),
        None => mint_sdk::export::auto_json_to_csv(&design.data),
    }
}

// ----- analysis results -------------------------------------------------------------------------

/// An analysis result as the REST API shows it (platform-api.md §4.3 "AnalysisResult"): the
/// row, the artifact fields (`null`; artifacts are not stored yet) and `result_keys`, the
/// result's top-level keys in order.
pub fn result_json(result: &PluginAnalysisResult) -> Value {
    let keys: Vec<&String> = result.result.keys().collect();
    json!({
        "id": result.id,
        "experiment_id": result.experiment_id,
        "plugin_id": result.plugin_id,
        "result": result.result,
        "created_at": timestamp::format(&result.created_at),
        "updated_at": timestamp::format(&result.updated_at),
        "artifact_id": null,
        "artifact_key": null,
        "display_name": null,
        "status": null,
        "result_keys": keys,
    })
}

/// Every plugin's analysis row of the experiment, ordered by id.
///
/// Errors: `Repository`.
pub async fn list_results(
    platform: &Platform,
    experiment_id: i64,
) -> Result<Vec<PluginAnalysisResult>, PluginError> {
    let store = &platform.store;
    store
        .all(
            store.connection(),
            "SELECT * FROM analysis_results WHERE experiment_id = $1 ORDER BY id",
            [experiment_id.into()],
        )
        .await?
        .iter()
        .map(store::result_row)
        .collect()
}

/// The (experiment, plugin) analysis row.
///
/// Errors: `Repository`.
pub async fn get_result(
    platform: &Platform,
    experiment_id: i64,
    plugin_id: &str,
) -> Result<Option<PluginAnalysisResult>, PluginError> {
    let store = &platform.store;
    store
        .one(
            store.connection(),
            "SELECT * FROM analysis_results WHERE experiment_id = $1 AND plugin_id = $2",
            [experiment_id.into(), plugin_id.into()],
        )
        .await?
        .map(|row| store::result_row(&row))
        .transpose()
}

/// Upserts the (experiment, plugin) analysis row (keeps id and `created_at`).
///
/// Errors: `NotFound` for an unknown experiment; `Repository`.
pub async fn save_result(
    platform: &Platform,
    experiment_id: i64,
    plugin_id: &str,
    result: JsonObject,
) -> Result<PluginAnalysisResult, PluginError> {
    let store = &platform.store;
    let txn = store.begin().await?;
    if !lock_experiment(store, &txn, experiment_id).await? {
        return Err(experiment_not_found(experiment_id));
    }
    let now = now_text();
    let row = store
        .one(
            &txn,
            "INSERT INTO analysis_results (experiment_id, plugin_id, result, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (experiment_id, plugin_id) DO UPDATE SET \
               result = excluded.result, updated_at = excluded.updated_at \
             RETURNING *",
            [
                experiment_id.into(),
                plugin_id.into(),
                json_text(&result).into(),
                now.into(),
            ],
        )
        .await?
        .ok_or_else(|| PluginError::repository("The database returned no result row"))?;
    let saved = store::result_row(&row)?;
    txn.commit().await.map_err(PluginError::from)?;
    Ok(saved)
}

/// Deletes the (experiment, plugin) analysis row; `false` when there was none.
///
/// Errors: `Repository`.
pub async fn delete_result(
    platform: &Platform,
    experiment_id: i64,
    plugin_id: &str,
) -> Result<bool, PluginError> {
    let store = &platform.store;
    let n = store
        .exec(
            store.connection(),
            "DELETE FROM analysis_results WHERE experiment_id = $1 AND plugin_id = $2",
            [experiment_id.into(), plugin_id.into()],
        )
        .await?;
    Ok(n > 0)
}

/// The `allowed_experiment_types` of a plugin's stored settings, when it sets a list.
///
/// Errors: `Repository`.
pub async fn allowed_experiment_types(
    platform: &Platform,
    plugin_id: &str,
) -> Result<Option<Vec<String>>, PluginError> {
    let store = &platform.store;
    let Some(row) = store
        .one(
            store.connection(),
            "SELECT config FROM plugin_configs WHERE plugin_id = $1",
            [plugin_id.into()],
        )
        .await?
    else {
        return Ok(None);
    };
    let config = get_object(&row, "config")?;
    Ok(match config.get("allowed_experiment_types") {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_zero_padded_to_three_digits_and_grow() {
        assert_eq!(experiment_code(1), "EXP-001");
        assert_eq!(experiment_code(42), "EXP-042");
        assert_eq!(experiment_code(1234), "EXP-1234");
    }

    #[test]
    fn status_transitions_follow_rbac_6() {
        let member = Actor::User {
            id: 2,
            admin: false,
        };
        let admin = Actor::User { id: 1, admin: true };
        assert!(check_status_change(&member, "planned", Some("ongoing")).is_ok());
        assert!(check_status_change(&member, "planned", Some("completed")).is_ok());
        assert!(check_status_change(&member, "ongoing", Some("completed")).is_ok());
        assert!(check_status_change(&member, "ongoing", Some("ongoing")).is_ok());
        let back = check_status_change(&member, "ongoing", Some("planned")).unwrap_err();
        assert_eq!(back.status().as_u16(), 400);
        assert_eq!(back.details()["field"], "status");
        let unknown = check_status_change(&admin, "planned", Some("done")).unwrap_err();
        assert_eq!(unknown.code(), "VALIDATION_ERROR");
        let reopen = check_status_change(&member, "completed", Some("ongoing")).unwrap_err();
        assert_eq!(reopen.status().as_u16(), 403);
        let edit = check_status_change(&member, "completed", None).unwrap_err();
        assert_eq!(edit.message(), "Experiment is completed");
        assert!(check_status_change(&admin, "completed", Some("ongoing")).is_ok());
        assert!(check_status_change(&admin, "completed", Some("planned")).is_err());
        let plugin = Actor::Plugin {
            plugin_id: "p".into(),
        };
        assert!(check_status_change(&plugin, "completed", None).is_err());
    }

    #[test]
    fn time_bounds_take_dates_and_datetimes() {
        let day = parse_time_bound("2026-05-01").unwrap();
        assert_eq!(store::ts_text(&day), "2026-05-01T00:00:00.000000Z");
        let offset = parse_time_bound("2026-05-01T12:00:00+02:00").unwrap();
        assert_eq!(store::ts_text(&offset), "2026-05-01T10:00:00.000000Z");
        let naive = parse_time_bound("2026-05-01 10:30:00").unwrap();
        assert_eq!(store::ts_text(&naive), "2026-05-01T10:30:00.000000Z");
        assert!(parse_time_bound("yesterday").is_none());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("TCA_1%"), "%tca\\_1\\%%");
    }

    #[test]
    fn plugin_names_become_labels() {
        assert_eq!(humanize("panel-designer"), "Panel Designer");
        assert_eq!(humanize("lc_ms"), "Lc Ms");
    }
}
