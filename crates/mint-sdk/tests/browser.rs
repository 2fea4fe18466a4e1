//! End to end in a real browser (app-testing-export.md §2): the standalone app of a small plugin
//! serves `tests/fixtures/spa` on a loopback socket, and headless Chromium opens a deep link. The
//! dumped DOM shows text the fixture's fingerprinted script wrote, which proves both the SPA
//! fallback (the deep link got `index.html`) and that the asset it references loaded.
//!
//! Without a `chromium` on `PATH` the browser test prints `skipped: chromium not installed` and
//! passes; CI (`.ci/run`) installs Debian's `chromium` so it runs there.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::routing::get;
use mint_sdk::{AnalysisPlugin, PluginCore, PluginMetadata, StandaloneOptions};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Must match the script URL in `tests/fixtures/spa/index.html`.
const PREFIX: &str = "/spa-demo";
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(120);
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

struct SpaDemo {
    core: PluginCore,
}

#[async_trait]
impl AnalysisPlugin for SpaDemo {
    fn core(&self) -> &PluginCore {
        &self.core
    }
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("spa demo", "0.1.0", "browser test", "test", PREFIX)
    }
    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        vec![(
            Router::new().route("/health", get(|| async { "ok" })),
            String::new(),
        )]
    }
    fn frontend_dir(&self) -> Option<PathBuf> {
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spa"))
    }
}

/// The app served on `127.0.0.1:<free port>` until dropped.
struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_demo() -> Server {
    let plugin = Arc::new(SpaDemo {
        core: PluginCore::new(),
    });
    let app = mint_sdk::create_standalone_app(plugin, StandaloneOptions::default())
        .expect("fixture frontend is valid");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let router = app.router();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server { addr, task }
}

/// A minimal HTTP/1.1 GET over a fresh connection: (status, body).
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.expect("read");
        String::from_utf8_lossy(&reply).to_string()
    };
    let reply = tokio::time::timeout(HTTP_TIMEOUT, exchange)
        .await
        .expect("the server answers in time");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP reply");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, body.to_string())
}

fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs `chromium --headless --dump-dom url` in its own process group and returns its stdout.
/// Output goes to files, not pipes, so helper processes that outlive the browser cannot block
/// the test; the whole group is killed afterwards, and after `timeout` at the latest.
fn dump_dom(chromium: &Path, url: &str, timeout: Duration) -> Result<String, String> {
    use std::os::unix::process::CommandExt;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let stdout_path = scratch.path().join("dom.html");
    let stderr_path = scratch.path().join("stderr.txt");
    let stdout = std::fs::File::create(&stdout_path).map_err(|e| e.to_string())?;
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.path().join("profile").display()
        ))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
    let kill_group = |pid: u32| {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    };
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => break None,
        }
    };
    kill_group(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let dom = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(dom),
        Some(s) => Err(format!("chromium exited with {s}; stderr:\n{log}")),
        None => Err(format!(
            "chromium did not finish within {timeout:?}; stderr:\n{log}"
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_a_deep_link_through_the_spa_fallback() {
    let Some(chromium) = find_chromium() else {
        println!("skipped: chromium not installed");
        return;
    };
    let server = serve_demo().await;
    let route = format!("{PREFIX}/settings/deep");
    let url = format!("http://{}{route}", server.addr);
    let started = Instant::now();
    let dom = tokio::task::spawn_blocking(move || dump_dom(&chromium, &url, CHROMIUM_TIMEOUT))
        .await
        .expect("the chromium runner does not panic")
        .unwrap_or_else(|e| panic!("{e}"));
    println!("chromium --dump-dom took {:?}", started.elapsed());
    let expected = format!("MINT SPA OK {route}");
    assert!(dom.contains(&expected), "expected {expected:?} in:\n{dom}");
}

#[tokio::test]
async fn a_missing_asset_over_a_real_socket_is_the_404_envelope() {
    let server = serve_demo().await;
    let (status, body) = http_get(server.addr, &format!("{PREFIX}/assets/x-12345678.js")).await;
    assert_eq!(status, 404, "{body}");
    let envelope: Value = serde_json::from_str(&body).expect("a JSON envelope");
    assert_eq!(envelope["code"], "resource.not_found");
    assert_eq!(envelope["status"], 404);
    let (status, body) = http_get(server.addr, &format!("{PREFIX}/assets/app-Mn7Rq2Xs.js")).await;
    assert_eq!(status, 200);
    assert!(body.contains("MINT SPA OK"), "{body}");
}
