//! What the SDK's layers cost per request: the same trivial JSON handler (`GET
//! /api/bench/ping` → `{"ok": true}`) behind growing parts of the standalone app's stack, called
//! in-process on one thread (no sockets, no HTTP parsing), the response body collected as a
//! server would write it.
//!
//! | stack | what it adds |
//! |---|---|
//! | `bare_axum` | the handler on a plain axum router: the floor |
//! | `mount_plugin` | nesting, `_mint/runtime`, body limit, the plugin extension |
//! | `with_sdk_layers` | request id and log scope, error envelope, panic guard, size check, trailing-slash trim |
//! | `app_without_cors` | `StandaloneApp::router` with `cors: false` (`/__mint/events`, two extensions) |
//! | `app` | `StandaloneApp::router` with the default options (CORS on), a request without `Origin` |
//! | `app_service` | `StandaloneApp::service`, what `serve` serves: the same without the outer router |
//! | `app_with_origin` | the same app, a request from a browser origin (CORS headers added) |
//!
//! Run: `cargo bench -p mint-sdk --bench route_stack`. On a shared machine wall times wander by
//! 10–30 %; instruction counts do not. With `ROUTE_STACK=<stack> ROUTE_STACK_REQUESTS=<n>` the
//! binary sends exactly `n` requests through one stack and exits, so that two runs under
//! `valgrind --tool=callgrind` (say 1000 and 3000 requests) give instructions per request as the
//! difference over 2000. The end-to-end comparison over HTTP with the Python SDK is `bench/run`
//! (BENCHMARKS.md).

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use axum::routing::get;
use criterion::{Criterion, criterion_group};
use http_body_util::BodyExt;
use mint_sdk::app::{DEFAULT_MAX_UPLOAD_BYTES, mount_plugin, with_sdk_layers};
use mint_sdk::extract::Json;
use mint_sdk::{
    AnalysisPlugin, PluginCore, PluginMetadata, StandaloneOptions, create_standalone_app,
};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};

/// A plugin with one route, `GET /api/bench/ping`.
#[derive(Default)]
struct PingPlugin {
    core: PluginCore,
}

#[async_trait::async_trait]
impl AnalysisPlugin for PingPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(
            "bench",
            "0.1.0",
            "Route stack benchmark",
            "benchmark",
            "/bench",
        )
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        vec![(Router::new().route("/ping", get(ping)), String::new())]
    }
}

async fn ping() -> Json<Value> {
    Json(json!({"ok": true}))
}

fn plugin() -> Arc<PingPlugin> {
    Arc::new(PingPlugin::default())
}

fn app(cors: bool) -> Router {
    let options = StandaloneOptions {
        cors,
        ..Default::default()
    };
    create_standalone_app(plugin(), options)
        .map(|app| app.router())
        .unwrap_or_else(|e| panic!("the bench plugin's metadata is valid: {e}"))
}

/// One request as a server would run it: a clone of the app, the call, the body read to its end.
async fn serve_one<S>(service: &S, origin: Option<&str>) -> usize
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    let mut req = Request::get("/api/bench/ping").header("host", "127.0.0.1:18700");
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    let req = req.body(Body::empty()).unwrap_or_default();
    let Ok(resp) = service.clone().oneshot(req).await;
    let status = resp.status();
    assert!(status.is_success(), "{status}");
    let body = resp.into_body().collect().await.map(|b| b.to_bytes());
    body.map(|b| b.len()).unwrap_or_default()
}

/// Runs `iters` requests through a stack and returns the time they took.
type Runner = Box<dyn Fn(&Runtime, u64) -> Duration>;

fn runner<S>(service: S, origin: Option<&'static str>) -> Runner
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + 'static,
{
    Box::new(move |runtime, iters| {
        runtime.block_on(async {
            let started = Instant::now();
            for _ in 0..iters {
                black_box(serve_one(&service, origin).await);
            }
            started.elapsed()
        })
    })
}

fn stacks() -> Vec<(&'static str, Runner)> {
    let app_service = create_standalone_app(plugin(), StandaloneOptions::default())
        .map(|app| app.service())
        .unwrap_or_else(|e| panic!("the bench plugin's metadata is valid: {e}"));
    vec![
        (
            "bare_axum",
            runner(Router::new().route("/api/bench/ping", get(ping)), None),
        ),
        (
            "mount_plugin",
            runner(mount_plugin(plugin(), DEFAULT_MAX_UPLOAD_BYTES), None),
        ),
        (
            "with_sdk_layers",
            runner(
                with_sdk_layers(
                    mount_plugin(plugin(), DEFAULT_MAX_UPLOAD_BYTES),
                    DEFAULT_MAX_UPLOAD_BYTES,
                ),
                None,
            ),
        ),
        ("app_without_cors", runner(app(false), None)),
        ("app", runner(app(true), None)),
        ("app_service", runner(app_service, None)),
        ("app_with_origin", runner(app(true), Some("http://a.test"))),
    ]
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("a current-thread runtime: {e}"))
}

fn route_stack(c: &mut Criterion) {
    let runtime = current_thread();
    let mut group = c.benchmark_group("route_stack");
    group.measurement_time(Duration::from_secs(5));
    for (name, run) in stacks() {
        group.bench_function(name, |b| b.iter_custom(|iters| run(&runtime, iters)));
    }
    group.finish();
}

criterion_group!(benches, route_stack);

/// Criterion, or with `ROUTE_STACK=<stack>` and `ROUTE_STACK_REQUESTS=<n>` exactly `n` requests
/// through that stack and nothing else (for instruction counts under callgrind).
fn main() {
    let fixed = std::env::var("ROUTE_STACK").ok().zip(
        std::env::var("ROUTE_STACK_REQUESTS")
            .ok()
            .and_then(|n| n.parse::<u64>().ok()),
    );
    if let Some((name, requests)) = fixed {
        let runtime = current_thread();
        match stacks().into_iter().find(|(n, _)| *n == name) {
            Some((_, run)) => {
                run(&runtime, requests);
            }
            None => eprintln!("no stack named {name}"),
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
