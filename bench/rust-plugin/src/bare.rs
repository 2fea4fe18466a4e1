//! The bare-axum contender: [`crate::plugin::ping`] at the plugin's path on a plain axum
//! router, without the SDK's layers (request ids, envelopes, body limits, CORS, panic guard).
//! The gap between it and the plugin is what the SDK costs per request.

use axum::Router;
use axum::routing::get;

use crate::plugin::ping;

/// `GET /api/bench/ping` → `{"ok": true}` and nothing else.
pub fn router() -> Router {
    Router::new().route("/api/bench/ping", get(ping))
}
