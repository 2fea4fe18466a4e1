//! Placeholder: filled in by the experiments slice.

use std::sync::Arc;

use axum::Router;

use crate::state::Platform;

/// The experiments routes.
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
}
