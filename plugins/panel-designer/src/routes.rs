//! The HTTP routes (see the crate docs for the table).

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use mint_sdk::context::require_plugin_role;
use mint_sdk::extract::{Json, Path};
use mint_sdk::serde_json::{Value, json};
use mint_sdk::{AnalysisPlugin, CurrentUser, PluginError};

use crate::model::{self, Panel};
use crate::store;
use crate::{PanelDesignerPlugin, WRITE_ROLES};

type Shared = State<Arc<PanelDesignerPlugin>>;

/// Extractor admitting only users with plugin role `editor` or `admin` (platform admins
/// always; the standalone user always). Put it first in a handler so a refused user gets the
/// 403 before the body or path is looked at.
#[derive(Debug, Clone)]
pub struct PanelEditor(pub CurrentUser);

impl<S: Send + Sync> FromRequestParts<S> for PanelEditor {
    type Rejection = PluginError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        require_plugin_role(parts, WRITE_ROLES).await.map(Self)
    }
}

pub(crate) fn router(plugin: Arc<PanelDesignerPlugin>) -> Router {
    Router::new()
        .route("/panels", post(create_panel))
        .route("/panels/{experiment_id}", get(list_panels))
        .route(
            "/panels/by-id/{panel_id}",
            get(get_panel).patch(update_panel).delete(delete_panel),
        )
        .route("/me/role", get(my_role))
        .with_state(plugin)
}

fn panel_not_found(panel_id: i64) -> PluginError {
    PluginError::not_found(format!("Panel {panel_id} not found"))
        .with_entity("panel")
        .with_entity_id(panel_id)
}

async fn create_panel(
    _editor: PanelEditor,
    State(plugin): Shared,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Panel>), PluginError> {
    let new = model::new_panel(&body)?;
    let _write = plugin.write_guard().await;
    plugin.check_experiment(new.experiment_id).await?;
    let txn = plugin.plugin_db_session().await?;
    if store::name_taken(&txn, new.experiment_id, &new.name, None).await? {
        return Err(store::name_conflict(new.experiment_id, &new.name));
    }
    let panel = store::insert(&txn, &new).await?;
    let count = store::count(&txn, new.experiment_id).await?;
    txn.commit().await?;
    plugin
        .record_panel_count(panel.experiment_id, count)
        .await?;
    Ok((StatusCode::CREATED, Json(panel)))
}

async fn list_panels(
    State(plugin): Shared,
    Path(experiment_id): Path<i64>,
) -> Result<Json<Vec<Panel>>, PluginError> {
    plugin.check_experiment(experiment_id).await?;
    let txn = plugin.plugin_db_session().await?;
    let panels = store::list(&txn, experiment_id).await?;
    txn.commit().await?;
    Ok(Json(panels))
}

async fn get_panel(
    State(plugin): Shared,
    Path(panel_id): Path<i64>,
) -> Result<Json<Panel>, PluginError> {
    let txn = plugin.plugin_db_session().await?;
    let panel = store::get(&txn, panel_id).await?;
    txn.commit().await?;
    panel.map(Json).ok_or_else(|| panel_not_found(panel_id))
}

async fn update_panel(
    _editor: PanelEditor,
    State(plugin): Shared,
    Path(panel_id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<Json<Panel>, PluginError> {
    let patch = model::panel_patch(&body)?;
    let _write = plugin.write_guard().await;
    let txn = plugin.plugin_db_session().await?;
    let mut panel = store::get(&txn, panel_id)
        .await?
        .ok_or_else(|| panel_not_found(panel_id))?;
    if patch.is_empty() {
        // Nothing to change: no write, no new updated_at, no design-data update.
        txn.commit().await?;
        return Ok(Json(panel));
    }
    if let Some(name) = &patch.name
        && name != &panel.name
        && store::name_taken(&txn, panel.experiment_id, name, Some(panel_id)).await?
    {
        return Err(store::name_conflict(panel.experiment_id, name));
    }
    patch.apply_to(&mut panel);
    let panel = store::update(&txn, &panel).await?;
    let count = store::count(&txn, panel.experiment_id).await?;
    txn.commit().await?;
    plugin
        .record_panel_count(panel.experiment_id, count)
        .await?;
    Ok(Json(panel))
}

async fn delete_panel(
    _editor: PanelEditor,
    State(plugin): Shared,
    Path(panel_id): Path<i64>,
) -> Result<StatusCode, PluginError> {
    let _write = plugin.write_guard().await;
    let txn = plugin.plugin_db_session().await?;
    let panel = store::get(&txn, panel_id)
        .await?
        .ok_or_else(|| panel_not_found(panel_id))?;
    store::delete(&txn, panel_id).await?;
    let count = store::count(&txn, panel.experiment_id).await?;
    txn.commit().await?;
    plugin
        .record_panel_count(panel.experiment_id, count)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{user_id, username, role, plugin_role}`: `plugin_role` is the role the write guard would
/// see — `"admin"` for a platform admin, else the stored plugin role or `null` (always `null`
/// standalone).
async fn my_role(State(plugin): Shared, user: CurrentUser) -> Result<Json<Value>, PluginError> {
    let plugin_role = match plugin.context() {
        None => None,
        Some(_) if user.is_platform_admin() => Some("admin".to_string()),
        Some(ctx) => match (ctx.plugin_role_repository(), user.user_id.parse::<i64>()) {
            (Some(repo), Ok(id)) => repo.get_role(&plugin.plugin_id(), id).await?,
            _ => None,
        },
    };
    Ok(Json(json!({
        "user_id": user.user_id,
        "username": user.username,
        "role": user.role,
        "plugin_role": plugin_role,
    })))
}
