//! Placeholder: filled in by the projects slice.

use std::sync::Arc;

use axum::Router;

use crate::state::Platform;

/// The projects routes.
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
}
