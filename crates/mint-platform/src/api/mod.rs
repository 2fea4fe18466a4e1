//! The platform's public REST API under `/api` (`spec/platform-api.md` §1–§4).

use std::sync::Arc;

use axum::Router;

use crate::state::Platform;

pub mod admin;
pub mod auth;
pub mod experiments;
pub mod health;
pub mod openapi;
pub mod plugins;
pub mod projects;

/// Every platform route, with the platform as state.
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(auth::routes())
        .merge(experiments::routes())
        .merge(projects::routes())
        .merge(admin::routes())
        .merge(plugins::routes())
}

/// 404 `resource.not_found` with `message`: the public code of a missing or invisible row
/// (`spec/platform-api.md` §1.1; the SDK's `NotFound` variant carries `NOT_FOUND`, the internal
/// API's code).
pub fn not_found(message: impl Into<String>) -> mint_sdk::PluginError {
    mint_sdk::PluginError::http_message(axum::http::StatusCode::NOT_FOUND, message.into())
}

/// Commits a route's transaction.
///
/// Errors: `Repository` when the commit fails (nothing is stored).
pub(crate) async fn commit(txn: sea_orm::DatabaseTransaction) -> Result<(), mint_sdk::PluginError> {
    txn.commit()
        .await
        .map_err(|e| mint_sdk::PluginError::repository(format!("Cannot commit: {e}")))
}

/// Serde `deserialize_with` for a field that may be absent (`None`), `null` (`Some(None)`) or
/// a value (`Some(Some(v))`): PATCH bodies tell "clear" from "leave unchanged".
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}
