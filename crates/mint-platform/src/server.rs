//! Assembles the platform's HTTP application and serves it (`mint serve`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mint_sdk::PluginError;

use crate::state::Platform;

/// The whole application: a request under a mounted plugin's prefix goes straight to that
/// plugin (looked up per request in the manager's prefix table, so mounts change while
/// serving); everything else to the platform's routes; all of it behind the SDK's layers
/// (request id, error envelope, panic isolation, body limits).
pub fn app(platform: Arc<Platform>) -> Router {
    let max_upload =
        usize::try_from(platform.config.settings.server.max_upload_bytes).unwrap_or(usize::MAX);
    let api = crate::api::routes()
        .fallback(not_found)
        .with_state(platform.clone());
    let dispatch = PluginsFirst { platform, api };
    mint_sdk::app::with_sdk_layers(Router::new().fallback_service(dispatch), max_upload)
}

async fn not_found() -> Response {
    PluginError::http_message(StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// Plugin mounts first, then the platform's own router.
#[derive(Clone)]
struct PluginsFirst {
    platform: Arc<Platform>,
    api: Router,
}

impl tower::Service<Request> for PluginsFirst {
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::Either<
        futures_util::future::BoxFuture<'static, Result<Response, Infallible>>,
        <Router as tower::Service<Request>>::Future,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        use futures_util::FutureExt as _;
        match self.platform.plugins.mount_for(request.uri().path()) {
            Some(mount) => {
                let platform = self.platform.clone();
                futures_util::future::Either::Left(
                    async move { Ok(platform.plugins.serve_mount(mount, request).await) }.boxed(),
                )
            }
            None => futures_util::future::Either::Right(self.api.call(request)),
        }
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
