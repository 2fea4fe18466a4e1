//! The SDK's per-request work as hand-written tower services, so that a request to a plugin
//! route pays for one pass instead of a stack of boxed middlewares.
//!
//! - [`SdkService`] wraps a whole router: request id and logging scope, `/api/…/` → `/api/…`,
//!   413 by `Content-Length`, panic → 500 envelope, non-JSON error → envelope, `X-Request-ID` on
//!   the response (`spec/errors-and-logging.md` §4–5).
//! - [`CorsGate`] puts tower-http's CORS in front of it, for requests that carry an `Origin`
//!   only: a request without one is not a CORS request and gets no CORS headers
//!   (`spec/app-testing-export.md` §1.3).
//! - [`RequireUserLayer`] resolves the user before the routes of a `requires_auth` plugin;
//!   standalone, where there is nothing to resolve, it costs one extension lookup.
//!
//! Nothing here is public: `mount_plugin`, `with_sdk_layers`, `StandaloneApp::router` and
//! `StandaloneApp::service` are the interface.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use pin_project_lite::pin_project;
use serde_json::Value;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use tower_http::cors::{self, CorsLayer};

use super::{RequestId, panic_response};
use crate::error::{PluginError, envelope_body, json_response};
use crate::logging::{self, Scope, ScopedId, current_request_id};
use crate::plugin::BoundPlugin;

/// `X-Request-ID`, as a header name that needs no parsing.
static X_REQUEST_ID: HeaderName = HeaderName::from_static(super::REQUEST_ID_HEADER);

/// The SDK's work around a whole router, in one service (see the module docs).
#[derive(Clone)]
pub(crate) struct SdkService<S> {
    inner: S,
    /// Largest accepted `Content-Length` in bytes.
    max_body_bytes: u64,
}

impl<S> SdkService<S> {
    /// Wraps `inner`; a declared body over `max_body_bytes` is refused with 413.
    pub(crate) fn new(inner: S, max_body_bytes: u64) -> Self {
        Self {
            inner,
            max_body_bytes,
        }
    }
}

impl<S> Service<Request> for SdkService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TaskLocalFuture<Scope, Respond<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let id = resolve_request_id(&req);
        trim_api_trailing_slash(&mut req);
        // A body known to be empty (a GET, `Content-Length: 0`) has nothing to refuse: no
        // header lookup for it.
        let too_large = !req.body().is_end_stream()
            && declared_body_length(req.headers()).is_some_and(|n| n > self.max_body_bytes);
        // DEBUG, so the default INFO threshold creates no span per request (it costs throughput);
        // an OpenTelemetry layer without a level filter still receives it. One interest check
        // decides both the span and the timing of the response log line.
        let debug = tracing::enabled!(target: "mint.sdk.request", tracing::Level::DEBUG);
        let trace = debug.then(|| {
            Box::new(Trace {
                span: tracing::debug_span!(
                    target: "mint.sdk.request",
                    "request",
                    method = %req.method(),
                    path = %req.uri().path(),
                    request_id = %id.as_str()
                ),
                started: Instant::now(),
            })
        });
        let scope = Scope::for_request(id, req.method(), req.uri());
        // The id lives in the request's scope (`RequestId` extracts it from there): one
        // extension, and its allocation, less per request.
        presize_extensions(&mut req);
        let state = if too_large {
            State::TooLarge
        } else {
            match catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
                Ok(future) => State::Running { future },
                Err(payload) => State::Panicked {
                    payload: Some(payload),
                },
            }
        };
        logging::scoped(scope, Respond { state, trace })
    }
}

pin_project! {
    /// The response of [`SdkService`], finished inside the request's logging scope.
    ///
    /// Kept small: hyper moves a request's future into place, and the scope around it is
    /// swapped in and out on every poll. The request id stays in the scope alone (its response
    /// header is made when the response is), and the DEBUG span and clock are boxed, since
    /// they exist only when DEBUG is on.
    pub(crate) struct Respond<F> {
        #[pin]
        state: State<F>,
        trace: Option<Box<Trace>>,
    }
}

/// The request's span and start time, when DEBUG request logging is on.
struct Trace {
    span: tracing::Span,
    started: Instant,
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] future: F },
        TooLarge,
        Panicked { payload: Option<Box<dyn Any + Send>> },
        Done,
    }
}

impl<F> Future for Respond<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.trace.as_ref().map(|trace| trace.span.enter());
        let response = match this.state.as_mut().project() {
            StateProj::Running { future } => {
                match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(Ok(response))) => response,
                    Err(payload) => panic_response(payload),
                }
            }
            StateProj::TooLarge => PluginError::http(StatusCode::PAYLOAD_TOO_LARGE).into_response(),
            StateProj::Panicked { payload } => match payload.take() {
                Some(payload) => panic_response(payload),
                None => panic!("`Respond` polled after completion"),
            },
            StateProj::Done => panic!("`Respond` polled after completion"),
        };
        this.state.set(State::Done);
        let mut response = envelope_for_non_json_error(response);
        if let Some(trace) = this.trace.as_ref() {
            log_response(&response, trace.started);
        }
        if let Some(id) = logging::with_scoped_id(response_header_value).flatten() {
            response.headers_mut().insert(X_REQUEST_ID.clone(), id);
        }
        Poll::Ready(Ok(response))
    }
}

/// The request id (§5): an outer layer's → the inbound header, when acceptable → fresh.
fn resolve_request_id(req: &Request) -> ScopedId {
    if let Some(RequestId(id)) = req.extensions().get::<RequestId>() {
        return ScopedId::Text(id.clone());
    }
    let inbound = req.headers().get(&X_REQUEST_ID);
    if let Some(value) = inbound
        && let Ok(text) = value.to_str()
        && acceptable_request_id(text)
    {
        return ScopedId::Header(value.clone());
    }
    ScopedId::Fresh(fresh_request_id())
}

/// The `X-Request-ID` response header value of `id` (§5). A fresh id's is cut from a
/// per-thread buffer (`slab`), so making it allocates nothing; an inbound header's is shared.
fn response_header_value(id: &ScopedId) -> Option<HeaderValue> {
    match id {
        ScopedId::Fresh(digits) => {
            HeaderValue::from_maybe_shared(super::slab::joined(&[digits])).ok()
        }
        ScopedId::Header(value) => Some(value.clone()),
        ScopedId::Text(text) => HeaderValue::from_str(text).ok(),
    }
}

/// Gives a request without extensions a map with room for the ones a plugin request collects
/// (the original URI, the bound plugin, the body limit, axum's matched path and path
/// parameters, the resolved caller...), so none of their inserts has to grow it. Growing the
/// map from its first capacity (3) rehashes and reallocates it, a measurable share of a trivial
/// request (`benches/route_stack.rs`). The map is cloned from an empty one with that room:
/// cloning keeps the capacity, inserting into a fresh map does not.
fn presize_extensions(req: &mut Request) {
    static EMPTY_WITH_ROOM: std::sync::LazyLock<Extensions> = std::sync::LazyLock::new(|| {
        #[derive(Clone)]
        struct Slot<const N: usize>;
        let mut room = Extensions::new();
        room.insert(Slot::<0>);
        room.insert(Slot::<1>);
        room.insert(Slot::<2>);
        room.insert(Slot::<3>);
        room.remove::<Slot<0>>();
        room.remove::<Slot<1>>();
        room.remove::<Slot<2>>();
        room.remove::<Slot<3>>();
        room
    });
    if req.extensions().is_empty() {
        *req.extensions_mut() = EMPTY_WITH_ROOM.clone();
    }
}

/// 16 lowercase hex characters from 64 random bits.
///
/// The bits come from a per-thread wyrand generator seeded once from the OS-seeded thread RNG:
/// a request id has to be unique in the logs, not unpredictable, and this costs a multiply
/// where the cryptographic generator costs a block refill every few calls.
fn fresh_request_id() -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(rand::random());
    }
    let n = STATE.with(|state| {
        let next = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(next);
        let wide = u128::from(next) * u128::from(next ^ 0xe703_7ed1_a0b4_28db);
        // The high and low halves folded together (wyrand's mix): truncation intended.
        ((wide >> 64) as u64) ^ (wide as u64)
    });
    let mut text = [0u8; 16];
    for (i, digit) in text.iter_mut().enumerate() {
        *digit = HEX[((n >> ((15 - i) * 4)) & 0xf) as usize];
    }
    text
}

/// Up to 128 visible ASCII characters (§5's hardening).
fn acceptable_request_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// `/api/x/` → `/api/x` (query kept), so a router route `/` answers both forms (§1.2).
fn trim_api_trailing_slash(req: &mut Request) {
    let path = req.uri().path();
    if path.len() <= 5 || !path.starts_with("/api/") || !path.ends_with('/') {
        return;
    }
    let trimmed = path.trim_end_matches('/');
    let new = match req.uri().query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_string(),
    };
    if let Ok(uri) = new.parse() {
        *req.uri_mut() = uri;
    }
}

fn declared_body_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn log_response(response: &Response, started: Instant) {
    let (method, path) = logging::current_request_target().unwrap_or_default();
    let status = response.status().as_u16();
    tracing::debug!(
        target: "mint.sdk.request",
        request_id = %current_request_id().unwrap_or_default(),
        method = %method,
        path = %path,
        status,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "{method} {path} → {status}"
    );
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"))
}

/// Safety net: an error response whose body is not JSON (router 404/405, extractor rejections,
/// body-limit 413) becomes the envelope with the same status.
fn envelope_for_non_json_error(response: Response) -> Response {
    let status = response.status();
    if status.as_u16() < 400 || is_json(response.headers()) {
        return response;
    }
    let message = match status {
        StatusCode::NOT_FOUND => "Not Found",
        StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed",
        other => crate::error::default_message(other),
    };
    let body = envelope_body(
        crate::error::default_code(status),
        message,
        status,
        current_request_id().as_deref(),
        Value::Null,
        Value::String(message.to_string()),
        None,
    );
    let mut out = json_response(status, &body);
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(v) = response.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

// ----- CORS, for requests with an Origin -----------------------------------------------------------

/// tower-http's CORS (when configured) for requests with an `Origin` header; the others go
/// straight to the inner service. The CORS configuration is shared, not cloned with the
/// service: servers clone their service for every request.
#[derive(Clone)]
pub(crate) struct CorsGate<S> {
    inner: S,
    cors: Option<Arc<CorsLayer>>,
}

impl<S> CorsGate<S> {
    /// `inner` behind `cors`, or alone when `cors` is `None`.
    pub(crate) fn new(inner: S, cors: Option<CorsLayer>) -> Self {
        // tower-http checks its rules whenever it wraps a service: once here, so that a bad
        // configuration fails when the app is built, not on the first browser request.
        if let Some(layer) = &cors {
            let _checked = layer.layer(());
        }
        Self {
            inner,
            cors: cors.map(Arc::new),
        }
    }
}

impl<S> Service<Request> for CorsGate<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match &self.cors {
            Some(cors) if req.headers().contains_key(header::ORIGIN) => {
                // The ready service answers this request behind CORS; its clone the next.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                GateFuture::Cors {
                    future: cors.layer(ready).call(req),
                }
            }
            _ => GateFuture::Direct {
                future: self.inner.call(req),
            },
        }
    }
}

pin_project! {
    /// The response of [`CorsGate`].
    #[project = GateProj]
    pub(crate) enum GateFuture<F> {
        Direct { #[pin] future: F },
        Cors { #[pin] future: cors::ResponseFuture<F> },
    }
}

impl<F> Future for GateFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GateProj::Direct { future } => future.poll(cx),
            GateProj::Cors { future } => future.poll(cx),
        }
    }
}

// ----- requires_auth -------------------------------------------------------------------------------

/// Resolves the user before each route of a `requires_auth` plugin (§1.2): with a platform
/// context, 401 (or the context's error) when there is none, else the user goes into the
/// request extensions and the log scope; standalone, the request passes untouched.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RequireUserLayer;

impl<S> Layer<S> for RequireUserLayer {
    type Service = RequireUser<S>;

    fn layer(&self, inner: S) -> RequireUser<S> {
        RequireUser { inner }
    }
}

/// The service of [`RequireUserLayer`].
#[derive(Debug, Clone)]
pub(crate) struct RequireUser<S> {
    inner: S,
}

impl<S> Service<Request> for RequireUser<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = UserFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let context = req
            .extensions()
            .get::<BoundPlugin>()
            .and_then(|b| b.plugin.core().context());
        let Some(context) = context else {
            return UserFuture::Direct {
                future: self.inner.call(req),
            };
        };
        // The ready service answers this request; its clone the next (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        UserFuture::Resolving {
            future: Box::pin(async move {
                let (mut parts, body) = req.into_parts();
                match context.current_user(&parts).await {
                    Ok(user) => {
                        logging::note_current_user(&user.user_id);
                        parts.extensions.insert(user);
                    }
                    Err(err) => return Ok(err.into_response()),
                }
                inner.call(Request::from_parts(parts, body)).await
            }),
        }
    }
}

pin_project! {
    /// The response of [`RequireUser`]: the route's own future standalone, a boxed one when a
    /// user has to be resolved first.
    #[project = UserProj]
    pub(crate) enum UserFuture<F> {
        Direct { #[pin] future: F },
        Resolving { future: BoxFuture<'static, Result<Response, Infallible>> },
    }
}

impl<F> Future for UserFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            UserProj::Direct { future } => future.poll(cx),
            UserProj::Resolving { future } => future.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_request_ids_are_16_lowercase_hex_characters() {
        let a = ScopedId::Fresh(fresh_request_id());
        let b = ScopedId::Fresh(fresh_request_id());
        assert_ne!(a.as_str(), b.as_str());
        for id in [a.as_str(), b.as_str()] {
            assert_eq!(id.len(), 16, "{id}");
            assert!(
                id.bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
                "{id}"
            );
        }
    }

    #[test]
    fn inbound_request_ids_are_kept_only_when_acceptable() {
        let long = "x".repeat(129);
        let cases = [
            ("abc", true),
            ("3f2a9c0d-1e4b", true),
            (&long[..128], true),
            (long.as_str(), false),
            ("", false),
            ("with space", false),
            ("tab\there", false),
        ];
        for (id, kept) in cases {
            assert_eq!(acceptable_request_id(id), kept, "{id:?}");
        }
    }

    #[test]
    fn only_api_paths_lose_their_trailing_slashes() {
        let cases = [
            ("/api/x/", "/api/x"),
            ("/api/x//?a=1", "/api/x?a=1"),
            ("/api/", "/api/"),
            ("/x/", "/x/"),
            ("/api/x", "/api/x"),
        ];
        for (from, to) in cases {
            let mut req = Request::get(from)
                .body(axum::body::Body::empty())
                .unwrap_or_default();
            trim_api_trailing_slash(&mut req);
            assert_eq!(req.uri().to_string(), to, "{from}");
        }
    }

    /// An outer layer's id (the `RequestId` extension) wins over the inbound header, and the
    /// response header is made from the scope even when the handler panics.
    #[tokio::test]
    async fn an_outer_layers_request_id_is_the_response_header_even_after_a_panic() {
        use tower::ServiceExt as _;
        let inner = tower::service_fn(|req: Request| async move {
            if req.uri().path() == "/panic" {
                panic!("handler failed");
            }
            let seen = current_request_id().unwrap_or_default();
            Ok::<_, Infallible>(seen.into_response())
        });
        for path in ["/ok", "/panic"] {
            let mut req = Request::get(path)
                .header("x-request-id", "inbound")
                .body(axum::body::Body::empty())
                .unwrap_or_default();
            req.extensions_mut().insert(RequestId("outer-7".into()));
            let Ok(response) = SdkService::new(inner, 1024).oneshot(req).await;
            let header = response.headers().get(&X_REQUEST_ID).cloned();
            assert_eq!(header, Some(HeaderValue::from_static("outer-7")), "{path}");
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&body).to_string();
            if path == "/ok" {
                assert_eq!((status, text.as_str()), (StatusCode::OK, "outer-7"));
            } else {
                assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
                assert!(text.contains("\"request_id\":\"outer-7\""), "{text}");
            }
        }
    }

    #[test]
    fn the_declared_body_length_is_read_from_content_length() {
        let mut headers = HeaderMap::new();
        assert_eq!(declared_body_length(&headers), None);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("4096"));
        assert_eq!(declared_body_length(&headers), Some(4096));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("lots"));
        assert_eq!(declared_body_length(&headers), None);
    }
}
