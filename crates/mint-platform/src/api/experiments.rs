//! `/api/experiments…`: experiments, their collaborators, design data and analysis results
//! (`spec/platform-api.md` §4.2–4.3) with the rights of `spec/rbac.md` §3–§6.
//!
//! Every route under `/api/experiments/{id}` first resolves the caller's access to the
//! experiment, so an experiment the caller cannot see answers 404 `resource.not_found` there,
//! never 403. The literal routes (`experiment-types`, `naming/next-seq`) are matched before
//! `{id}`. Analysis artifacts and data objects are not stored yet: their routes answer 501
//! `feature.not_implemented` (after the visibility check).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use chrono::NaiveDate;
use mint_sdk::PluginError;
use mint_sdk::error::JsonObject;
use mint_sdk::extract::{Json, Path, Query};
use serde::Deserialize;
use serde_json::{Value, json};

use super::nullable;
use crate::rbac::{self, Principal};
use crate::services::ApiError;
use crate::services::experiments::{
    self as svc, Actor, ExperimentPatch, ListQuery, NewExperimentInput, ProjectRef, SortKey, Viewer,
};
use crate::state::Platform;

type ApiResult = Result<Response, ApiError>;

/// The experiments routes.
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
        .route("/api/experiments", get(list).post(create))
        .route("/api/experiments/experiment-types", get(experiment_types))
        .route("/api/experiments/naming/next-seq", get(next_seq))
        .route(
            "/api/experiments/{id}",
            get(get_one).patch(patch_one).delete(delete_one),
        )
        .route(
            "/api/experiments/{id}/collaborators",
            get(list_collaborators),
        )
        .route(
            "/api/experiments/{id}/collaborators/{user_id}",
            put(put_collaborator).delete(delete_collaborator),
        )
        .route(
            "/api/experiments/{id}/data",
            get(get_data).put(put_data).delete(delete_data),
        )
        .route("/api/experiments/{id}/data/tree", get(data_tree))
        .route("/api/experiments/{id}/data/summary", get(data_summary))
        .route("/api/experiments/{id}/data/export", get(data_export))
        .route("/api/experiments/{id}/results", get(list_results))
        .route(
            "/api/experiments/{id}/results/{plugin_id}",
            get(get_result).put(put_result).delete(delete_result),
        )
        .route(
            "/api/experiments/{id}/analysis-artifacts",
            any(not_implemented),
        )
        .route(
            "/api/experiments/{id}/analysis-artifacts/{*rest}",
            any(not_implemented_tail),
        )
        .route("/api/experiments/{id}/objects", any(not_implemented))
        .route(
            "/api/experiments/{id}/objects/{*key}",
            any(not_implemented_tail),
        )
}

fn json_ok(value: impl serde::Serialize) -> Response {
    axum::Json(value).into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn not_found(id: i64) -> ApiError {
    PluginError::not_found(format!("Experiment {id} not found")).into()
}

// ----- list, create, read, update, delete --------------------------------------------------------

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SortBy {
    CreatedAt,
    UpdatedAt,
    Name,
    Status,
    ExperimentType,
    Id,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SortOrder {
    Asc,
    Desc,
}

#[derive(Debug, Deserialize)]
struct ListParams {
    status: Option<String>,
    experiment_type: Option<String>,
    project_id: Option<i64>,
    search: Option<String>,
    mine: Option<bool>,
    created_after: Option<String>,
    created_before: Option<String>,
    #[serde(default)]
    skip: u64,
    limit: Option<u64>,
    sort_by: Option<SortBy>,
    sort_order: Option<SortOrder>,
}

/// Largest `limit` of a list (platform-api.md §1.2).
const MAX_LIMIT: u64 = 1000;

fn time_bound(
    field: &str,
    value: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    match value.filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(text) => svc::parse_time_bound(text).map(Some).ok_or_else(|| {
            ApiError::invalid(
                "query",
                field,
                format!("'{text}' is not a date (YYYY-MM-DD) or a datetime (RFC 3339)"),
            )
        }),
    }
}

async fn list(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> ApiResult {
    let limit = params.limit.unwrap_or(100);
    if limit > MAX_LIMIT {
        return Err(ApiError::invalid(
            "query",
            "limit",
            format!("limit must be at most {MAX_LIMIT}"),
        ));
    }
    let viewer = if principal.is_admin() {
        Viewer::All
    } else {
        Viewer::User {
            id: principal.id(),
            sees_unassigned: principal.has("experiments.view"),
        }
    };
    let query = ListQuery {
        skip: params.skip,
        limit,
        status: params.status,
        experiment_type: params.experiment_type,
        project_id: params.project_id,
        created_by: params.mine.unwrap_or(false).then(|| principal.id()),
        search: params.search,
        search_code: true,
        created_after: time_bound("created_after", params.created_after.as_deref())?,
        created_before: time_bound("created_before", params.created_before.as_deref())?,
        sort: match params.sort_by.unwrap_or(SortBy::CreatedAt) {
            SortBy::CreatedAt => SortKey::CreatedAt,
            SortBy::UpdatedAt => SortKey::UpdatedAt,
            SortBy::Name => SortKey::Name,
            SortBy::Status => SortKey::Status,
            SortBy::ExperimentType => SortKey::ExperimentType,
            SortBy::Id => SortKey::Id,
        },
        descending: !matches!(params.sort_order, Some(SortOrder::Asc)),
        viewer,
        ..ListQuery::default()
    };
    let (experiments, total) = svc::list(&platform, &query).await?;
    Ok(json_ok(json!({"experiments": experiments, "total": total})))
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    experiment_type: Option<String>,
    #[serde(default)]
    project_id: Option<i64>,
    #[serde(default)]
    parent_experiment_id: Option<i64>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    tags: Option<JsonObject>,
    #[serde(default)]
    custom_metadata: Option<JsonObject>,
    #[serde(default)]
    start_date: Option<NaiveDate>,
    #[serde(default)]
    end_date: Option<NaiveDate>,
}

/// Creating in a project needs the project's create right (project Owner/Editor, or
/// `experiments.create`); without a project, `experiments.create`.
async fn require_create_in(
    platform: &Platform,
    principal: &Principal,
    project_id: Option<i64>,
) -> Result<(), ApiError> {
    match project_id {
        Some(project_id) => {
            let access = rbac::project_access(platform, principal, project_id).await?;
            if access.create_experiments {
                Ok(())
            } else {
                Err(rbac::missing_permission("experiments.create").into())
            }
        }
        None => Ok(principal.require("experiments.create")?),
    }
}

async fn create(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Json(body): Json<CreateBody>,
) -> ApiResult {
    require_create_in(&platform, &principal, body.project_id).await?;
    let input = NewExperimentInput {
        name: body.name,
        experiment_type: body.experiment_type,
        project: body.project_id.map(ProjectRef::Id),
        parent_experiment_id: body.parent_experiment_id,
        notes: body.notes,
        tags: body.tags,
        custom_metadata: body.custom_metadata,
        start_date: body.start_date,
        end_date: body.end_date,
        created_by: None,
    };
    let view = svc::create(&platform, &Actor::user(&principal), input).await?;
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

async fn get_one(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
) -> ApiResult {
    rbac::experiment_access(&platform, &principal, id).await?;
    let view = svc::get(&platform, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(json_ok(view))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PatchBody {
    name: Option<String>,
    status: Option<String>,
    experiment_type: Option<String>,
    #[serde(deserialize_with = "nullable")]
    project_id: Option<Option<i64>>,
    #[serde(deserialize_with = "nullable")]
    parent_experiment_id: Option<Option<i64>>,
    #[serde(deserialize_with = "nullable")]
    notes: Option<Option<String>>,
    tags: Option<JsonObject>,
    custom_metadata: Option<JsonObject>,
    #[serde(deserialize_with = "nullable")]
    start_date: Option<Option<NaiveDate>>,
    #[serde(deserialize_with = "nullable")]
    end_date: Option<Option<NaiveDate>>,
}

async fn patch_one(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
    Json(body): Json<PatchBody>,
) -> ApiResult {
    let access = rbac::experiment_access(&platform, &principal, id).await?;
    if !access.edit {
        return Err(rbac::missing_permission("experiments.edit").into());
    }
    if let Some(Some(project_id)) = body.project_id
        && access.project_id != Some(project_id)
    {
        require_create_in(&platform, &principal, Some(project_id)).await?;
    }
    let patch = ExperimentPatch {
        name: body.name,
        status: body.status,
        experiment_type: body.experiment_type,
        project: body.project_id.map(|p| p.map(ProjectRef::Id)),
        parent_experiment_id: body.parent_experiment_id,
        notes: body.notes,
        tags: body.tags,
        custom_metadata: body.custom_metadata,
        start_date: body.start_date,
        end_date: body.end_date,
    };
    let view = svc::update(&platform, &Actor::user(&principal), id, patch)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(json_ok(view))
}

async fn delete_one(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
) -> ApiResult {
    let access = rbac::experiment_access(&platform, &principal, id).await?;
    if !access.delete {
        return Err(rbac::missing_permission("experiments.delete").into());
    }
    if access.status == "completed" && !principal.is_admin() {
        return Err(PluginError::permission("Experiment is completed").into());
    }
    if svc::delete(&platform, id).await? {
        Ok(no_content())
    } else {
        Err(not_found(id))
    }
}

// ----- types and codes ---------------------------------------------------------------------------

async fn experiment_types(
    State(platform): State<Arc<Platform>>,
    _principal: Principal,
) -> ApiResult {
    Ok(json_ok(svc::experiment_types(&platform)))
}

#[derive(Debug, Deserialize)]
struct NextSeqParams {
    experiment_type: Option<String>,
}

async fn next_seq(
    State(platform): State<Arc<Platform>>,
    _principal: Principal,
    Query(params): Query<NextSeqParams>,
) -> ApiResult {
    let (next, code) = svc::peek_next_code(&platform).await?;
    let experiment_type = params
        .experiment_type
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| svc::DEFAULT_EXPERIMENT_TYPE.into());
    Ok(json_ok(json!({
        "experiment_type": experiment_type,
        "next_seq": next,
        "code": code,
    })))
}

// ----- collaborators -----------------------------------------------------------------------------

async fn list_collaborators(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
) -> ApiResult {
    rbac::experiment_access(&platform, &principal, id).await?;
    Ok(json_ok(svc::collaborators(&platform, id).await?))
}

#[derive(Debug, Deserialize)]
struct CollaboratorBody {
    role: String,
}

async fn require_owner(
    platform: &Platform,
    principal: &Principal,
    id: i64,
) -> Result<(), ApiError> {
    let access = rbac::experiment_access(platform, principal, id).await?;
    if access.owner {
        Ok(())
    } else {
        Err(PluginError::http_message(
            StatusCode::FORBIDDEN,
            "Only the experiment's owners may change its collaborators",
        )
        .into())
    }
}

async fn put_collaborator(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path((id, user_id)): Path<(i64, i64)>,
    Json(body): Json<CollaboratorBody>,
) -> ApiResult {
    require_owner(&platform, &principal, id).await?;
    if !svc::COLLABORATOR_ROLES.contains(&body.role.as_str()) {
        return Err(ApiError::invalid(
            "body",
            "role",
            "role must be one of owner, editor, viewer",
        ));
    }
    Ok(json_ok(
        svc::set_collaborator(&platform, id, user_id, &body.role).await?,
    ))
}

async fn delete_collaborator(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path((id, user_id)): Path<(i64, i64)>,
) -> ApiResult {
    require_owner(&platform, &principal, id).await?;
    if svc::remove_collaborator(&platform, id, user_id).await? {
        Ok(no_content())
    } else {
        Err(PluginError::not_found(format!(
            "User {user_id} is not a collaborator of experiment {id}"
        ))
        .into())
    }
}

// ----- design data -------------------------------------------------------------------------------

async fn require_edit(platform: &Platform, principal: &Principal, id: i64) -> Result<(), ApiError> {
    let access = rbac::experiment_access(platform, principal, id).await?;
    if access.edit {
        Ok(())
    } else {
        Err(rbac::missing_permission("experiments.edit").into())
    }
}

async fn design_of(
    platform: &Platform,
    principal: &Principal,
    id: i64,
) -> Result<mint_sdk::repositories::DesignData, ApiError> {
    rbac::experiment_access(platform, principal, id).await?;
    svc::get_design(platform, id)
        .await?
        .ok_or_else(|| PluginError::not_found(format!("Experiment {id} has no design data")).into())
}

async fn get_data(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
) -> ApiResult {
    Ok(json_ok(design_of(&platform, &principal, id).await?))
}

fn default_schema_version() -> String {
    "1.0".into()
}

#[derive(Debug, Deserialize)]
struct DesignBody {
    plugin_id: String,
    #[serde(default)]
    data: JsonObject,
    #[serde(default = "default_schema_version")]
    schema_version: String,
}

async fn put_data(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
    Json(body): Json<DesignBody>,
) -> ApiResult {
    require_edit(&platform, &principal, id).await?;
    if body.plugin_id.trim().is_empty() {
        return Err(ApiError::invalid(
            "body",
            "plugin_id",
            "plugin_id must not be empty",
        ));
    }
    let saved = svc::save_design(
        &platform,
        id,
        &body.plugin_id,
        body.data,
        &body.schema_version,
    )
    .await?;
    Ok(json_ok(saved))
}

async fn delete_data(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
) -> ApiResult {
    require_edit(&platform, &principal, id).await?;
    if svc::delete_design(&platform, id, None).await? {
        Ok(no_content())
    } else {
        Err(PluginError::not_found(format!("Experiment {id} has no design data")).into())
    }
}

async fn data_tree(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
) -> ApiResult {
    let design = design_of(&platform, &principal, id).await?;
    let tree = svc::design_tree(&platform, &design);
    Ok(json_ok(json!({
        "experiment_id": id,
        "plugin_id": design.plugin_id,
        "tree": tree,
    })))
}

async fn data_summary(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
) -> ApiResult {
    let design = design_of(&platform, &principal, id).await?;
    Ok(json_ok(svc::design_summary(&platform, &design)))
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ExportFormat {
    Json,
    Csv,
}

#[derive(Debug, Deserialize)]
struct ExportParams {
    format: Option<ExportFormat>,
}

/// Whether the `Accept` header admits JSON: absent, `application/json`, `application/*` or
/// `*/*`, unless given with `q=0`.
fn accepts_json(headers: &HeaderMap) -> bool {
    let values: Vec<&str> = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return true;
    }
    values.iter().flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused && matches!(media.as_str(), "application/json" | "application/*" | "*/*")
    })
}

async fn data_export(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
    Query(params): Query<ExportParams>,
    headers: HeaderMap,
) -> ApiResult {
    let design = design_of(&platform, &principal, id).await?;
    match params.format.unwrap_or(ExportFormat::Json) {
        ExportFormat::Json => Ok(json_ok(&design.data)),
        ExportFormat::Csv => {
            let csv = svc::design_csv(&platform, &design);
            if accepts_json(&headers) {
                Ok(json_ok(csv))
            } else {
                let mut response = csv.into_response();
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                );
                Ok(response)
            }
        }
    }
}

// ----- analysis results --------------------------------------------------------------------------

async fn list_results(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
) -> ApiResult {
    rbac::experiment_access(&platform, &principal, id).await?;
    let results: Vec<Value> = svc::list_results(&platform, id)
        .await?
        .iter()
        .map(svc::result_json)
        .collect();
    Ok(json_ok(json!({"results": results})))
}

fn no_result(id: i64, plugin_id: &str) -> ApiError {
    PluginError::not_found(format!(
        "Experiment {id} has no analysis result of plugin '{plugin_id}'"
    ))
    .into()
}

async fn get_result(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path((id, plugin_id)): Path<(i64, String)>,
) -> ApiResult {
    rbac::experiment_access(&platform, &principal, id).await?;
    let result = svc::get_result(&platform, id, &plugin_id)
        .await?
        .ok_or_else(|| no_result(id, &plugin_id))?;
    Ok(json_ok(svc::result_json(&result)))
}

#[derive(Debug, Deserialize)]
struct ResultBody {
    #[serde(default)]
    result: JsonObject,
}

async fn put_result(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path((id, plugin_id)): Path<(i64, String)>,
    Json(body): Json<ResultBody>,
) -> ApiResult {
    require_edit(&platform, &principal, id).await?;
    let saved = svc::save_result(&platform, id, &plugin_id, body.result).await?;
    Ok(json_ok(svc::result_json(&saved)))
}

async fn delete_result(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path((id, plugin_id)): Path<(i64, String)>,
) -> ApiResult {
    require_edit(&platform, &principal, id).await?;
    if svc::delete_result(&platform, id, &plugin_id).await? {
        Ok(no_content())
    } else {
        Err(no_result(id, &plugin_id))
    }
}

// ----- not yet stored ----------------------------------------------------------------------------

fn feature_missing() -> ApiError {
    PluginError::http_message(
        StatusCode::NOT_IMPLEMENTED,
        "Analysis artifacts and data objects are not available on this platform yet",
    )
    .into()
}

async fn not_implemented(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(id): Path<i64>,
) -> ApiResult {
    rbac::experiment_access(&platform, &principal, id).await?;
    Err(feature_missing())
}

async fn not_implemented_tail(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path((id, _rest)): Path<(i64, String)>,
) -> ApiResult {
    rbac::experiment_access(&platform, &principal, id).await?;
    Err(feature_missing())
}
