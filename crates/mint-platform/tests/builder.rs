//! `PlatformBuilder`: configuration from sources, binding an ephemeral port, serving until a
//! shutdown future resolves, and the start-up refusals (platform-config.md §1, §3).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use mint_platform::StartError;
use mint_platform::builder::{PlatformBuilder, ServeError};
use mint_platform::config::ConfigSources;
use mint_sdk::{AnalysisPlugin, PluginCore, PluginMetadata};
use serde_json::{Value, json};

struct Named {
    core: PluginCore,
    name: &'static str,
}

impl AnalysisPlugin for Named {
    fn core(&self) -> &PluginCore {
        &self.core
    }
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(
            self.name,
            "0.1.0",
            "A test plugin",
            "test",
            format!("/{}", self.name),
        )
    }
    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        Vec::new()
    }
}

fn plugin(name: &'static str) -> Arc<dyn AnalysisPlugin> {
    Arc::new(Named {
        core: PluginCore::new(),
        name,
    })
}

fn sources(dir: &std::path::Path) -> ConfigSources {
    ConfigSources {
        env: HashMap::new(),
        dotenv_path: Some(dir.join(".env")),
        data_dir: Some(dir.to_path_buf()),
        port: Some(0),
        ..Default::default()
    }
}

#[tokio::test]
async fn bind_serves_on_an_ephemeral_port_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = sources(dir.path());
    s.env
        .insert("MINT_ADMIN_PASSWORD".into(), "builder-pw".into());
    let bound = PlatformBuilder::new()
        .logging(false)
        .plugin(plugin("alpha"))
        .plugins([plugin("beta")])
        .sources(s)
        .bind()
        .await
        .expect("binds");
    assert_ne!(bound.local_addr().port(), 0, "a real port was chosen");
    assert!(bound.local_addr().ip().is_loopback());
    let url = bound.url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(bound.platform().plugins.entries().len(), 2);

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve_until(async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let health: Value = client
        .get(format!("{url}/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = health["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    // MINT_ADMIN_PASSWORD from the sources seeded the admin.
    let login = client
        .post(format!("{url}/api/auth/login"))
        .json(&json!({"username": "admin", "password": "builder-pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);

    tx.send(()).unwrap();
    let result = tokio::time::timeout(std::time::Duration::from_secs(20), server)
        .await
        .expect("stops in time")
        .expect("task");
    assert!(result.is_ok(), "{result:?}");
    assert!(
        client
            .get(format!("{url}/api/health"))
            .send()
            .await
            .is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn explicit_admin_password_and_loaded_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = mint_platform::config::load(&sources(dir.path())).unwrap();
    let platform = PlatformBuilder::new()
        .logging(false)
        .config(config)
        .admin_password("explicit-pw")
        .build()
        .await
        .expect("starts");
    assert!(platform.plugins.entries().is_empty());
    platform.shutdown().await;
    assert!(dir.path().join("mint.db").exists());
    assert!(dir.path().join("jwt-secret").exists());
}

#[tokio::test]
async fn a_busy_port_is_a_bind_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut s = sources(dir.path());
    s.port = Some(port);
    let err = PlatformBuilder::new()
        .logging(false)
        .sources(s)
        .bind()
        .await
        .expect_err("port in use");
    assert!(matches!(err, ServeError::Bind { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        !dir.path().join("mint.db").exists(),
        "bound before touching storage"
    );
}

#[tokio::test]
async fn postgresql_without_a_secret_outside_dev_mode_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"database": {"mode": "postgresql", "url": "postgresql://u:p@127.0.0.1:1/none"}}"#,
    )
    .unwrap();
    let err = PlatformBuilder::new()
        .logging(false)
        .sources(sources(dir.path()))
        .build()
        .await
        .expect_err("refused");
    assert!(matches!(err, StartError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("auth.jwtSecret"), "{err}");
}

#[tokio::test]
async fn a_stuck_request_delays_shutdown_only_up_to_the_drain_timeout() {
    use tokio::io::AsyncWriteExt as _;
    let dir = tempfile::tempdir().unwrap();
    let bound = PlatformBuilder::new()
        .logging(false)
        .sources(sources(dir.path()))
        .bind()
        .await
        .expect("binds")
        .drain_timeout(std::time::Duration::from_millis(500));
    let addr = bound.local_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve_until(async {
        let _ = rx.await;
    }));
    // A request whose body never finishes keeps its connection busy.
    let mut stuck = tokio::net::TcpStream::connect(addr).await.unwrap();
    stuck
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"username\":",
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    tx.send(()).unwrap();
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("stops after the drain timeout")
        .expect("task");
    assert!(result.is_ok(), "{result:?}");
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(400),
        "it waited for the request: {waited:?}"
    );
    drop(stuck);
}
