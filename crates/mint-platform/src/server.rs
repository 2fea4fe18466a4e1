//! Assembles the platform's HTTP application and serves it (`mint serve`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mint_sdk::PluginError;

use crate::state::Platform;

/// The whole application: the platform's routes, the plugin mounts (looked up per request in
/// the manager's prefix table), and the SDK's layers (request id, error envelope, panic
/// isolation, body limits).
pub fn app(platform: Arc<Platform>) -> Router {
    let max_upload =
        usize::try_from(platform.config.settings.server.max_upload_bytes).unwrap_or(usize::MAX);
    let router = crate::api::routes()
        .fallback(dispatch_to_plugin)
        .with_state(platform);
    mint_sdk::app::with_sdk_layers(router, max_upload)
}

async fn dispatch_to_plugin(
    axum::extract::State(platform): axum::extract::State<Arc<Platform>>,
    request: Request,
) -> Response {
    match platform.plugins.route(request).await {
        Some(response) => response,
        None => PluginError::http_message(StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// Serves `app(platform)` on `listener` until `shutdown` resolves, then shuts the plugins
/// down and closes the database.
///
/// Errors: the listener's I/O error.
pub async fn serve(
    platform: Arc<Platform>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(platform.clone());
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    platform.shutdown().await;
    Ok(())
}
