//! A real platform on an ephemeral loopback port for integration tests: SQLite in a temp dir,
//! or a fresh PostgreSQL database when asked and `MINT_TEST_DATABASE_URL` is set.
#![allow(dead_code)]

use std::sync::Arc;

use mint_platform::config::{ConfigSources, DatabaseMode, LoadedConfig};
use mint_platform::{Platform, StartOptions};
use mint_sdk::AnalysisPlugin;
use serde_json::{Value, json};

/// The seeded admin's password in tests.
pub const ADMIN_PASSWORD: &str = "admin-test-password";

/// A running platform.
pub struct TestPlatform {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub platform: Arc<Platform>,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pg_database: Option<(String, String)>,
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL URL for tests, or `None` (the test then says it was skipped).
pub fn postgres_url() -> Option<String> {
    std::env::var("MINT_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Loads a config for a temp data dir; `edit` adjusts the settings.
pub fn test_config(dir: &std::path::Path, edit: impl FnOnce(&mut LoadedConfig)) -> LoadedConfig {
    let sources = ConfigSources {
        data_dir: Some(dir.to_path_buf()),
        ..Default::default()
    };
    let mut config = mint_platform::config::load(&sources).expect("config");
    config.settings.auth.jwt_secret = Some("test-secret-test-secret-test-secret".into());
    edit(&mut config);
    config
}

async fn create_pg_database(base: &str) -> (String, String) {
    use sea_orm::ConnectionTrait;
    let name = format!("mint_t_{:016x}", rand::random::<u64>());
    let conn = sea_orm::Database::connect(base).await.expect("connect PG");
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    conn.close().await.ok();
    let (prefix, _) = base.rsplit_once('/').expect("url with a database");
    (format!("{prefix}/{name}"), name)
}

impl TestPlatform {
    /// Starts on SQLite with `plugins`.
    pub async fn start(plugins: Vec<Arc<dyn AnalysisPlugin>>) -> Self {
        Self::start_with(Backend::Sqlite, plugins, |_| {}).await
    }

    /// Starts on `backend` (PostgreSQL needs `MINT_TEST_DATABASE_URL`; check
    /// [`postgres_url`] first) with `plugins` and adjusted settings.
    pub async fn start_with(
        backend: Backend,
        plugins: Vec<Arc<dyn AnalysisPlugin>>,
        edit: impl FnOnce(&mut LoadedConfig),
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut pg_database = None;
        let mut config = test_config(dir.path(), edit);
        if backend == Backend::Postgres {
            let base = postgres_url().expect("MINT_TEST_DATABASE_URL");
            let (url, name) = create_pg_database(&base).await;
            config.settings.database.mode = DatabaseMode::Postgresql;
            config.settings.database.url = Some(url);
            pg_database = Some((base, name));
        }
        Self::serve(config, plugins, dir, pg_database).await
    }

    async fn serve(
        config: LoadedConfig,
        plugins: Vec<Arc<dyn AnalysisPlugin>>,
        dir: tempfile::TempDir,
        pg_database: Option<(String, String)>,
    ) -> Self {
        let platform = Platform::start(
            config,
            plugins,
            StartOptions {
                admin_password: Some(ADMIN_PASSWORD.into()),
            },
        )
        .await
        .expect("platform starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = platform.clone();
        let task = tokio::spawn(async move {
            mint_platform::server::serve(served, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        Self {
            url,
            platform,
            client: reqwest::Client::new(),
            dir,
            shutdown: Some(tx),
            task: Some(task),
            pg_database,
        }
    }

    /// Stops the server and starts a new platform on the same data directory (and the same
    /// PostgreSQL database) with `plugins` and adjusted settings: a restart.
    pub async fn restart(
        mut self,
        plugins: Vec<Arc<dyn AnalysisPlugin>>,
        edit: impl FnOnce(&mut LoadedConfig),
    ) -> Self {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let pg_database = self.pg_database.take();
        let mut config = test_config(self.dir.path(), edit);
        if let Some((base, name)) = &pg_database {
            let (prefix, _) = base.rsplit_once('/').expect("url with a database");
            config.settings.database.mode = DatabaseMode::Postgresql;
            config.settings.database.url = Some(format!("{prefix}/{name}"));
        }
        Self::serve(config, plugins, self.dir, pg_database).await
    }

    /// Stops the server and drops a PostgreSQL test database.
    pub async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some((base, name)) = self.pg_database.take() {
            use sea_orm::ConnectionTrait;
            if let Ok(conn) = sea_orm::Database::connect(&base).await {
                let _ = conn
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                conn.close().await.ok();
            }
        }
    }

    /// `url + path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Logs in and returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let response = self
            .client
            .post(self.at("/api/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "login of {username}");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// The admin's token.
    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user with `role` (as the admin) and returns `(id, token)`.
    pub async fn user(&self, admin_token: &str, username: &str, role: &str) -> (i64, String) {
        let response = self
            .client
            .post(self.at("/api/admin/users"))
            .bearer_auth(admin_token)
            .json(&json!({"username": username, "password": "pw-123456", "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "create user {username}");
        let body: Value = response.json().await.unwrap();
        let id = body["id"].as_i64().unwrap();
        (id, self.login(username, "pw-123456").await)
    }

    /// Inserts a user with `role` straight into the database (any role string, also ones the
    /// admin routes refuse) with the password `pw-123456`, and returns `(id, token)`.
    pub async fn add_user(&self, username: &str, role: &str) -> (i64, String) {
        let store = &self.platform.store;
        let hash = mint_platform::auth::hash_password("pw-123456").expect("hash");
        let now = mint_platform::store::now_text();
        let id = store
            .insert(
                store.connection(),
                "INSERT INTO users (username, email, password_hash, role, is_active, created_at, \
                 updated_at) VALUES ($1, NULL, $2, $3, 1, $4, $4) RETURNING id",
                [username.into(), hash.into(), role.into(), now.into()],
            )
            .await
            .expect("insert user");
        (id, self.login(username, "pw-123456").await)
    }

    /// Sends a request with an optional bearer token and JSON body; returns status and JSON
    /// (Null for an empty body).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.at(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, path, token, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, token, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, token, None).await
    }
}
