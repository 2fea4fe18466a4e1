//! Placeholder: filled in by the admin slice.

use std::sync::Arc;

use axum::Router;

use crate::state::Platform;

/// The admin routes.
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
}
