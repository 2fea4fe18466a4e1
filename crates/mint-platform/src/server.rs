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
    Router::new().fallback_service(service(platform))
}

/// [`app`] as a tower service, without a router around it: what [`serve`] serves (two routing
/// steps less per request).
pub fn service(
    platform: Arc<Platform>,
) -> impl tower::Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static {
    let (first, max_upload) = PluginsFirst::new(platform);
    mint_sdk::app::sdk_layers_service(first, max_upload)
}

async fn not_found() -> Response {
    PluginError::http_message(StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// Plugin mounts first, then the platform's own router.
///
/// hyper's glue clones the connection's service for every request, so what it shares sits
/// behind one reference count.
#[derive(Clone)]
struct PluginsFirst {
    shared: Arc<Dispatch>,
    /// The connection's peer, put in each request to the platform's own routes as
    /// `ConnectInfo<SocketAddr>` (the login rate limit keys on it). Plugin routes do not get
    /// it, as under the SDK's standalone app.
    peer: Option<SocketAddr>,
}

/// What every connection's [`PluginsFirst`] shares.
struct Dispatch {
    platform: Arc<Platform>,
    api: Router,
}

impl PluginsFirst {
    /// The dispatch of `platform` (no peer address yet) and its upload limit in bytes.
    fn new(platform: Arc<Platform>) -> (Self, usize) {
        let max_upload =
            usize::try_from(platform.config.settings.server.max_upload_bytes).unwrap_or(usize::MAX);
        let api = crate::api::routes()
            .fallback(not_found)
            .with_state(platform.clone());
        let first = Self {
            shared: Arc::new(Dispatch { platform, api }),
            peer: None,
        };
        (first, max_upload)
    }
}

type Either<A, B> = futures_util::future::Either<A, B>;

impl tower::Service<Request> for PluginsFirst {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        Either<
            crate::plugins::AnonymousResponse,
            futures_util::future::BoxFuture<'static, Result<Response, Infallible>>,
        >,
        <Router as tower::Service<Request>>::Future,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        use futures_util::FutureExt as _;
        let plugins = &self.shared.platform.plugins;
        let Some(mount) = plugins.mount_for(request.uri().path()) else {
            let mut request = request;
            if let Some(peer) = self.peer {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
            }
            // A router is always ready: no `poll_ready` before the call.
            return Either::Right(self.shared.api.clone().call(request));
        };
        if plugins.is_anonymous(&mount, request.headers()) {
            return Either::Left(Either::Left(plugins.serve_anonymous(&mount, request)));
        }
        let platform = self.shared.platform.clone();
        Either::Left(Either::Right(
            async move { Ok(platform.plugins.serve_mount(mount, request).await) }.boxed(),
        ))
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
    let (first, max_upload) = PluginsFirst::new(platform.clone());
    let peers = WithPeerAddr(move |peer: SocketAddr| {
        let first = PluginsFirst {
            peer: Some(peer),
            ..first.clone()
        };
        mint_sdk::app::sdk_layers_service(first, max_upload)
    });
    axum::serve(listener, peers)
        .with_graceful_shutdown(shutdown)
        .await?;
    platform.shutdown().await;
    Ok(())
}

/// Makes one service per accepted connection from its peer address (what
/// `Router::into_make_service_with_connect_info` does, for any service).
#[derive(Clone)]
struct WithPeerAddr<F>(F);

impl<'a, F, S> tower::Service<axum::serve::IncomingStream<'a, tokio::net::TcpListener>>
    for WithPeerAddr<F>
where
    F: Fn(SocketAddr) -> S,
{
    type Response = S;
    type Error = Infallible;
    type Future = std::future::Ready<Result<S, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(
        &mut self,
        stream: axum::serve::IncomingStream<'a, tokio::net::TcpListener>,
    ) -> Self::Future {
        std::future::ready(Ok((self.0)(*stream.remote_addr())))
    }
}
