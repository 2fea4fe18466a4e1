//! `GET /api/health` and its alias `GET /health` (`spec/platform-api.md` §4.1).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::config::DatabaseMode;
use crate::state::{PLATFORM_VERSION, Platform};

/// The health routes (no auth; bad credentials are ignored).
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
        .route("/api/health", get(health))
        .route("/health", get(health))
}

async fn health(State(platform): State<Arc<Platform>>) -> Response {
    let database_ok = platform.store.ping().await;
    let plugins: Vec<_> = platform
        .plugins
        .entries()
        .iter()
        .map(|entry| {
            let status = entry.status();
            let meta = entry.metadata();
            json!({
                "name": entry.name(),
                "version": meta.map(|m| m.version.clone()),
                "plugin_type": meta.map(|m| m.plugin_type),
                "status": status,
                "mode": "in_process",
            })
        })
        .chain(platform.plugins.bundles().iter().map(|bundle| {
            json!({
                "name": bundle.name,
                "version": bundle.version,
                "plugin_type": bundle.metadata.as_ref().map(|m| m.plugin_type),
                "status": bundle.status(),
                "mode": "isolated",
            })
        }))
        .collect();
    let any_failed = plugins.iter().any(|p| p["status"] == "error");
    let status = if !database_ok {
        "unhealthy"
    } else if any_failed {
        "degraded"
    } else {
        "healthy"
    };
    let body = json!({
        "status": status,
        "version": PLATFORM_VERSION,
        "api_version": "1",
        "boot_id": platform.boot_id,
        "uptime_seconds": platform.started_at.elapsed().as_secs_f64(),
        "database": {
            "mode": match platform.store.mode() {
                DatabaseMode::Sqlite => "sqlite",
                DatabaseMode::Postgresql => "postgresql",
            },
            "ok": database_ok,
        },
        "plugins": plugins,
    });
    let code = if database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}
