//! The platform's public REST API under `/api` (`spec/platform-api.md` §1–§4).

use std::sync::Arc;

use axum::Router;

use crate::state::Platform;

pub mod auth;
pub mod health;

/// Every platform route, with the platform as state.
pub fn routes() -> Router<Arc<Platform>> {
    Router::new().merge(health::routes()).merge(auth::routes())
}
