//! [`PluginService`]: one plugin's routes as a tower service for a host that has already
//! matched the plugin's base path (the platform's prefix table), so each request pays for one
//! route lookup and no nested-router layers.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::HttpBody as _;
use axum::extract::{DefaultBodyLimit, OriginalUri, Request};
use axum::http::StatusCode;
use axum::http::uri::{PathAndQuery, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use futures_util::future::Either;
use tower::{Layer, Service};

use crate::error::PluginError;
use crate::plugin::{AnalysisPlugin, BoundPlugin};

/// One plugin's API routes, served under its base path `/api{routes_prefix}`.
///
/// The same routes as [`mount_plugin`](super::mount_plugin) (the plugin's routers at their
/// sub-prefixes, the settings routes, `_mint/runtime`, the user resolution of a
/// `requires_auth` plugin, the plugin bound in the extensions and the upload body limit), built
/// for a host that dispatches by prefix itself: the service takes the base off the path once
/// and looks the rest up in a router of relative routes, where `mount_plugin`'s `Router::nest`
/// strips the prefix again in a boxed layer on every route.
///
/// Inside a handler `Uri` and `MatchedPath` are relative to the base (`/ping` for
/// `/api/bench/ping`), as under `Router::nest`; `OriginalUri` is the full request URI. A path
/// outside the base answers 404 in the error envelope (`spec/errors-and-logging.md` §1).
///
/// Cloning is cheap (reference counts); the service is always ready.
#[derive(Clone)]
pub struct PluginService {
    base: Arc<str>,
    bound: BoundPlugin,
    limit: Arc<LimitFn>,
    routes: Router,
}

/// Puts the upload body limit in a request's extensions (see [`PluginService::new`]).
type LimitFn = dyn Fn(Request) -> Request + Send + Sync;

/// The future of [`PluginService`]: the route's own future, or an immediate 404.
pub type PluginFuture =
    Either<RouteFuture<Infallible>, std::future::Ready<Result<Response, Infallible>>>;

impl std::fmt::Debug for PluginService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginService")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl PluginService {
    /// `plugin`'s routes under `/api{routes_prefix}`, with upload routes limited to
    /// `max_upload_bytes` (JSON extractors keep their own 2 MiB limit).
    pub fn new(plugin: Arc<dyn AnalysisPlugin>, max_upload_bytes: usize) -> Self {
        let base: Arc<str> = format!("/api{}", plugin.metadata().routes_prefix).into();
        // `with_state` turns the handlers into routes once, not on every request.
        let routes = super::relative_routes(&plugin).with_state(());
        // axum keeps the body limit in an extension only its own layer can write; that layer
        // is run in front of a service that hands the request straight back, so the route's
        // future is the service's future, not a boxed one.
        let limiter = DefaultBodyLimit::max(max_upload_bytes).layer(HandBack);
        let limit: Arc<LimitFn> = Arc::new(move |req| {
            let mut limiter = limiter;
            match limiter.call(req).into_inner() {
                Ok(req) => req,
                Err(never) => match never {},
            }
        });
        Self {
            base,
            bound: BoundPlugin { plugin },
            limit,
            routes,
        }
    }

    /// The base path this service answers under, `/api{routes_prefix}`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether `path` is the base itself or lies below it (`{base}/…`).
    pub fn serves(&self, path: &str) -> bool {
        relative_path(path, &self.base).is_some()
    }

    /// Answers `req` (what [`Service::call`] does, without needing `&mut self`).
    pub fn serve(&self, mut req: Request) -> PluginFuture {
        let Some(relative) = relative_uri(req.uri(), &self.base) else {
            let response =
                PluginError::http_message(StatusCode::NOT_FOUND, "Not Found").into_response();
            return Either::Right(std::future::ready(Ok(response)));
        };
        let original = std::mem::replace(req.uri_mut(), relative);
        let extensions = req.extensions_mut();
        if extensions.get::<OriginalUri>().is_none() {
            extensions.insert(OriginalUri(original));
        }
        extensions.insert(self.bound.clone());
        // The limit only matters to a body that will be read: a request whose body is known to
        // be empty (a GET, `Content-Length: 0`, an HTTP/2 HEADERS frame that ends the stream)
        // skips the extension and its allocation.
        let req = if req.body().is_end_stream() {
            req
        } else {
            (self.limit)(req)
        };
        // A router is always ready: no `poll_ready` before the call.
        Either::Left(self.routes.clone().call(req))
    }
}

impl Service<Request> for PluginService {
    type Response = Response;
    type Error = Infallible;
    type Future = PluginFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The inner router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        self.serve(req)
    }
}

/// A standalone app's dispatch: a request under the plugin's base path goes to its
/// [`PluginService`], any other (`/__mint/events`, the frontend, an unknown path) to `rest`.
#[derive(Clone)]
pub(crate) struct ApiFirst {
    pub(crate) api: PluginService,
    pub(crate) rest: Router,
}

impl Service<Request> for ApiFirst {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<PluginFuture, RouteFuture<Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both sides are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if self.api.serves(req.uri().path()) {
            Either::Left(self.api.serve(req))
        } else {
            Either::Right(self.rest.clone().call(req))
        }
    }
}

/// A service that answers with its request, unchanged and at once: what an axum layer that
/// only edits the request wraps so the edit can be had without the layer owning the call.
#[derive(Debug, Clone, Copy)]
struct HandBack;

impl Service<Request> for HandBack {
    type Response = Request;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Request, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        std::future::ready(Ok(req))
    }
}

/// The part of `path` below `base`: `/` for the base itself, `None` outside it (a path that
/// merely starts with the base's text, like `/api/benchmark` for `/api/bench`, is outside).
fn relative_path<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    match path.strip_prefix(base)? {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

/// `uri` with `base` taken off its path (query, scheme and authority kept).
fn relative_uri(uri: &Uri, base: &str) -> Option<Uri> {
    let path = relative_path(uri.path(), base)?;
    // Cut from a per-thread buffer: no allocation per request.
    let bytes = match uri.query() {
        Some(query) => super::slab::joined(&[path.as_bytes(), b"?", query.as_bytes()]),
        None => super::slab::joined(&[path.as_bytes()]),
    };
    let path_and_query = PathAndQuery::from_maybe_shared(bytes).ok()?;
    if uri.scheme().is_none() && uri.authority().is_none() {
        return Some(Uri::from(path_and_query));
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_segments_below_the_base_are_served() {
        let cases = [
            ("/api/bench", Some("/")),
            ("/api/bench/ping", Some("/ping")),
            ("/api/bench/a/b", Some("/a/b")),
            ("/api/benchmark", None),
            ("/api/other", None),
            ("/api", None),
        ];
        for (path, relative) in cases {
            assert_eq!(relative_path(path, "/api/bench"), relative, "{path}");
        }
    }

    #[test]
    fn the_query_and_authority_survive_the_strip() {
        let uri: Uri = "/api/bench/ping?a=1&b=x%20y".parse().unwrap_or_default();
        let stripped = relative_uri(&uri, "/api/bench").map(|u| u.to_string());
        assert_eq!(stripped.as_deref(), Some("/ping?a=1&b=x%20y"));
        let absolute: Uri = "http://lab.test:8001/api/bench?x=1"
            .parse()
            .unwrap_or_default();
        let stripped = relative_uri(&absolute, "/api/bench").map(|u| u.to_string());
        assert_eq!(stripped.as_deref(), Some("http://lab.test:8001/?x=1"));
        assert!(relative_uri(&uri, "/api/other").is_none());
    }
}
