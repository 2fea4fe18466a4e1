//! What hosting a plugin in the platform costs per request (issue #5's goal: at most 10 %
//! slower than bare axum): the same trivial JSON handler (`GET /api/bench/ping` →
//! `{"ok": true}`) on a plain axum router, and mounted by the platform's plugin manager behind
//! the platform's whole application (its routes, the prefix-table fallback, the SDK layers),
//! called in-process on one thread with the body collected as a server would write it.
//!
//! Run: `cargo bench -p mint-platform --bench platform_route`. The comparison over loopback
//! HTTP is `bench/run`'s "platform" row (BENCHMARKS.md). With `PLATFORM_ROUTE=<stack>` and
//! `PLATFORM_ROUTE_REQUESTS=<n>` the binary sends exactly `n` requests through one stack
//! (`bare_axum`, `mount_plugin`, `mount_plugin_with_sdk_layers`, `platform`) and exits: two runs
//! under `valgrind --tool=callgrind` give instructions per request as the difference.

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
use mint_platform::config::{ConfigSources, load};
use mint_platform::{Platform, StartOptions};
use mint_sdk::extract::Json;
use mint_sdk::{AnalysisPlugin, PluginCapabilities, PluginCore, PluginMetadata};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};

/// A plugin with one public route, `GET /api/bench/ping`.
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
            "Platform route benchmark",
            "benchmark",
            "/bench",
        )
        .with_capabilities(PluginCapabilities {
            requires_auth: false,
            ..Default::default()
        })
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        vec![(Router::new().route("/ping", get(ping)), String::new())]
    }
}

async fn ping() -> Json<Value> {
    Json(json!({"ok": true}))
}

async fn serve_one<S>(service: &S) -> usize
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    let req = Request::get("/api/bench/ping")
        .header("host", "127.0.0.1:8001")
        .body(Body::empty())
        .unwrap_or_default();
    let Ok(resp) = service.clone().oneshot(req).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let body = resp.into_body().collect().await.map(|b| b.to_bytes());
    body.map(|b| b.len()).unwrap_or_default()
}

fn time<S>(runtime: &Runtime, service: &S, iters: u64) -> Duration
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    runtime.block_on(async {
        let started = Instant::now();
        for _ in 0..iters {
            black_box(serve_one(service).await);
        }
        started.elapsed()
    })
}

/// The four stacks, on a started platform (returned so the caller can shut it down).
fn stacks(
    runtime: &Runtime,
    dir: &std::path::Path,
) -> (Arc<Platform>, Vec<(&'static str, Runner)>) {
    let sources = ConfigSources {
        data_dir: Some(dir.to_path_buf()),
        ..Default::default()
    };
    let config = load(&sources).expect("config");
    let plugin: Arc<dyn AnalysisPlugin> = Arc::new(PingPlugin::default());
    let platform = runtime
        .block_on(Platform::start(
            config,
            vec![plugin],
            StartOptions {
                admin_password: Some("bench-password".into()),
            },
        ))
        .expect("platform starts");
    let bare = Router::new().route("/api/bench/ping", get(ping));
    let hosted = mint_platform::server::service(platform.clone());
    let ping_plugin: Arc<dyn AnalysisPlugin> = Arc::new(PingPlugin::default());
    let mounted = mint_sdk::app::mount_plugin(ping_plugin.clone(), 1 << 20);
    let layered =
        mint_sdk::app::with_sdk_layers(mint_sdk::app::mount_plugin(ping_plugin, 1 << 20), 1 << 20);

    let stacks = vec![
        ("bare_axum", runner(bare)),
        ("mount_plugin", runner(mounted)),
        ("mount_plugin_with_sdk_layers", runner(layered)),
        ("platform", runner(hosted)),
    ];
    (platform, stacks)
}

/// Runs `iters` requests through one stack and returns the time they took.
type Runner = Box<dyn Fn(&Runtime, u64) -> Duration>;

fn runner<S>(service: S) -> Runner
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + 'static,
{
    Box::new(move |runtime, iters| time(runtime, &service, iters))
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn platform_route(c: &mut Criterion) {
    let runtime = current_thread();
    let dir = tempfile::tempdir().expect("tempdir");
    let (platform, stacks) = stacks(&runtime, dir.path());
    let mut group = c.benchmark_group("platform_route");
    for (name, run) in &stacks {
        group.bench_function(*name, |b| b.iter_custom(|iters| run(&runtime, iters)));
    }
    group.finish();
    runtime.block_on(platform.shutdown());
}

criterion_group!(benches, platform_route);

/// Criterion, or with `PLATFORM_ROUTE=<stack>` and `PLATFORM_ROUTE_REQUESTS=<n>` exactly `n`
/// requests through that stack and nothing else (for instruction counts under callgrind).
fn main() {
    let fixed = std::env::var("PLATFORM_ROUTE").ok().zip(
        std::env::var("PLATFORM_ROUTE_REQUESTS")
            .ok()
            .and_then(|n| n.parse::<u64>().ok()),
    );
    if let Some((name, requests)) = fixed {
        let runtime = current_thread();
        let dir = tempfile::tempdir().expect("tempdir");
        let (platform, stacks) = stacks(&runtime, dir.path());
        match stacks.iter().find(|(n, _)| *n == name) {
            Some((_, run)) => {
                black_box(run(&runtime, requests));
            }
            None => eprintln!("no stack named {name}"),
        }
        runtime.block_on(platform.shutdown());
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
