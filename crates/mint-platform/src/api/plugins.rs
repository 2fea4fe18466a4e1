//! Placeholder: filled in by the plugins slice.

use std::sync::Arc;

use axum::Router;

use crate::state::Platform;

/// The plugins routes.
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
}
