//! The plugin manager through real HTTP: mounting, lifecycle failures that stay contained,
//! disabling, the plugin role guard, `requires_auth`, stored settings with revisions, reload,
//! health checks and the per-plugin shared database session (platform-api.md §4.5, §5.2,
//! context-and-data.md §1–§6, migrations.md §1).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::request::Parts;
use axum::routing::{get, post};
use common::{Backend, TestPlatform, postgres_url};
use mint_sdk::context::require_plugin_role;
use mint_sdk::extract::Json;
use mint_sdk::migrations::{Column, MigrationError, MigrationOps, PluginMigration, TableDef};
use mint_sdk::schemars::{self, JsonSchema};
use mint_sdk::sea_orm::{ConnectionTrait, Statement};
use mint_sdk::{
    AnalysisPlugin, CurrentUser, PluginCapabilities, PluginCore, PluginError, PluginHealth,
    PluginMetadata, SettingsModel,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// ----- test plugins -----------------------------------------------------------------------------

/// What a test plugin does wrong, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quirk {
    None,
    /// Ships two migrations; the second fails.
    FailingMigration,
    /// Its routers register one path twice (axum panics while building).
    ConflictingRoutes,
    /// `initialize` fails on the first call only.
    FailsFirstInit,
    /// `check_health` errors.
    HealthError,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct Tuning {
    /// A fraction.
    #[serde(default = "half")]
    #[schemars(range(min = 0.0, max = 1.0))]
    threshold: f64,
    /// A secret.
    #[serde(default)]
    #[schemars(extend("x-mint-secret" = true))]
    api_key: Option<String>,
}

fn half() -> f64 {
    0.5
}

struct TestPlugin {
    core: PluginCore,
    name: String,
    prefix: String,
    capabilities: PluginCapabilities,
    quirk: Quirk,
    init_calls: AtomicU32,
    frontend: Option<std::path::PathBuf>,
}

impl TestPlugin {
    fn new(name: &str, quirk: Quirk) -> Self {
        Self::with(
            name,
            &format!("/{name}"),
            PluginCapabilities::default(),
            quirk,
        )
    }

    fn with(name: &str, prefix: &str, capabilities: PluginCapabilities, quirk: Quirk) -> Self {
        Self {
            core: PluginCore::new(),
            name: name.into(),
            prefix: prefix.into(),
            capabilities,
            quirk,
            init_calls: AtomicU32::new(0),
            frontend: None,
        }
    }

    fn with_frontend(mut self, dir: &std::path::Path) -> Self {
        self.frontend = Some(dir.to_path_buf());
        self
    }

    fn arc(self) -> Arc<dyn AnalysisPlugin> {
        Arc::new(self)
    }
}

struct CreateThings;

#[mint_sdk::async_trait]
impl PluginMigration for CreateThings {
    fn version(&self) -> u32 {
        1
    }
    fn name(&self) -> &'static str {
        "create_things"
    }
    fn checksum(&self) -> String {
        "things-v1".into()
    }
    async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
        ops.create_table("things", &[Column::integer("id").primary_key()])
            .await
    }
}

struct Breaks;

#[mint_sdk::async_trait]
impl PluginMigration for Breaks {
    fn version(&self) -> u32 {
        2
    }
    fn name(&self) -> &'static str {
        "breaks"
    }
    fn checksum(&self) -> String {
        "breaks-v2".into()
    }
    async fn upgrade(&self, _ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
        Err(MigrationError::other("intentional failure"))
    }
}

type Shared = State<Arc<TestPlugin>>;

async fn ping(State(plugin): Shared) -> Json<Value> {
    Json(json!({"plugin": plugin.name}))
}

async fn me(user: CurrentUser) -> Json<Value> {
    Json(json!({
        "user_id": user.user_id,
        "username": user.username,
        "role": user.role,
        "role_id": user.role_id,
        "permissions": user.permissions,
    }))
}

async fn guarded(parts: Parts) -> Result<Json<Value>, PluginError> {
    let user = require_plugin_role(&parts, &["editor"]).await?;
    Ok(Json(
        json!({"user_id": user.user_id, "plugin_role": user.plugin_role}),
    ))
}

async fn platform_config(State(plugin): Shared) -> Result<Json<Value>, PluginError> {
    let ctx = plugin
        .context()
        .ok_or_else(|| PluginError::configuration("no context"))?;
    Ok(Json(Value::Object(ctx.config())))
}

async fn current_settings(State(plugin): Shared) -> Result<Json<Value>, PluginError> {
    Ok(Json(Value::Object(plugin.settings()?)))
}

/// Creates `notes` through the plugin's session, inserts a row and commits.
async fn add_note(State(plugin): Shared) -> Result<Json<Value>, PluginError> {
    let txn = plugin.plugin_db_session().await?;
    let backend = txn.get_database_backend();
    txn.execute_unprepared("CREATE TABLE IF NOT EXISTS notes (id BIGINT PRIMARY KEY, body TEXT)")
        .await?;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        "INSERT INTO notes (id, body) VALUES ($1, $2)",
        [1i64.into(), "hello".into()],
    ))
    .await?;
    let n = txn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM notes",
        ))
        .await?
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or(0);
    txn.commit().await?;
    Ok(Json(json!({"notes": n})))
}

#[mint_sdk::async_trait]
impl AnalysisPlugin for TestPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        let mut meta =
            PluginMetadata::new(&self.name, "1.2.3", "a test plugin", "test", &self.prefix);
        meta.capabilities = self.capabilities;
        meta
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        let mut router = Router::new()
            .route("/ping", get(ping))
            .route("/me", get(me))
            .route("/guarded", get(guarded))
            .route("/platform-config", get(platform_config))
            .route("/settings-now", get(current_settings))
            .route("/notes", post(add_note));
        if self.quirk == Quirk::ConflictingRoutes {
            router = router.route("/ping", get(ping));
        }
        vec![(router.with_state(self), String::new())]
    }

    async fn initialize(
        &self,
        _context: Option<mint_sdk::PlatformContext>,
    ) -> Result<(), PluginError> {
        let calls = self.init_calls.fetch_add(1, Ordering::SeqCst);
        if self.quirk == Quirk::FailsFirstInit && calls == 0 {
            return Err(PluginError::configuration(
                "the instrument is not connected yet",
            ));
        }
        Ok(())
    }

    async fn check_health(&self) -> Result<PluginHealth, PluginError> {
        if self.quirk == Quirk::HealthError {
            return Err(PluginError::other("sensor offline"));
        }
        Ok(PluginHealth::default())
    }

    fn migrations(&self) -> Vec<Box<dyn PluginMigration>> {
        match self.quirk {
            Quirk::FailingMigration => mint_sdk::migrations![CreateThings, Breaks],
            _ => Vec::new(),
        }
    }

    fn shared_models(&self) -> Vec<TableDef> {
        if self.capabilities.requires_shared_database {
            vec![TableDef::new(
                "model_rows",
                vec![Column::integer("id").primary_key(), Column::text("label")],
            )]
        } else {
            Vec::new()
        }
    }

    fn settings_model(&self) -> Option<SettingsModel> {
        Some(SettingsModel::of::<Tuning>())
    }

    fn frontend_dir(&self) -> Option<std::path::PathBuf> {
        self.frontend.clone()
    }
}

fn hello() -> Arc<dyn AnalysisPlugin> {
    Arc::new(hello_mint::HelloMintPlugin::new())
}

// ----- helpers ----------------------------------------------------------------------------------

/// A custom system role with exactly `permissions`.
async fn add_role(tp: &TestPlatform, slug: &str, permissions: &[&str]) {
    let store = &tp.platform.store;
    store
        .exec(
            store.connection(),
            "INSERT INTO roles (name, slug, permissions, is_system) VALUES ($1, $1, $2, 0)",
            [slug.into(), json!(permissions).to_string().into()],
        )
        .await
        .unwrap();
}

fn loaded<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["loaded"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {list}"))
}

async fn plugin_status(tp: &TestPlatform, token: &str, name: &str) -> Value {
    let (status, body) = tp.get("/api/plugins", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    loaded(&body, name).clone()
}

// ----- tests ------------------------------------------------------------------------------------

#[tokio::test]
async fn plugins_are_mounted_listed_and_install_routes_answer_per_permission() {
    let tp = TestPlatform::start(vec![hello(), TestPlugin::new("alpha", Quirk::None).arc()]).await;
    let admin = tp.admin_token().await;
    let (_, viewer) = tp.add_user("vera", "viewer").await;

    let (status, body) = tp.get("/api/hello-mint/health", None).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    let (status, body) = tp.get("/api/alpha/ping", None).await;
    assert_eq!((status, body), (200, json!({"plugin": "alpha"})));
    let (status, body) = tp.get("/api/alpha/_mint/runtime", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "alpha");
    let (status, body) = tp.get("/api/alphabet/ping", None).await;
    assert_eq!(status, 404, "a prefix matches whole segments only: {body}");
    assert_eq!(body["code"], "resource.not_found");

    let (status, _) = tp.get("/api/plugins", None).await;
    assert_eq!(status, 401);
    let (status, list) = tp.get("/api/plugins", Some(&viewer)).await;
    assert_eq!(status, 200);
    assert_eq!(list["installed"], json!([]));
    let alpha = loaded(&list, "alpha");
    let keys: Vec<&str> = alpha
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "version",
            "description",
            "plugin_type",
            "analysis_type",
            "routes_prefix",
            "enabled",
            "status",
            "error",
            "lifecycle",
            "health",
            "mode",
            "capabilities",
            "schema_version",
            "pending_migrations",
            "migration_error"
        ]
    );
    assert_eq!(alpha["status"], "ready");
    assert_eq!(alpha["lifecycle"], "Ready");
    assert_eq!(alpha["enabled"], true);
    assert_eq!(alpha["mode"], "in_process");
    assert_eq!(alpha["plugin_type"], "analysis");
    assert_eq!(alpha["routes_prefix"], "/alpha");
    assert_eq!(alpha["error"], Value::Null);
    assert_eq!(alpha["pending_migrations"], json!([]));
    assert_eq!(alpha["capabilities"]["requires_auth"], false);
    assert_eq!(
        loaded(&list, "hello-mint")["capabilities"]["requires_experiments"],
        true
    );

    // The context hands out the filtered platform configuration.
    let (status, config) = tp.get("/api/alpha/platform-config", None).await;
    assert_eq!(status, 200);
    assert_eq!(config["server"]["port"], 8001);
    assert!(config["auth"].get("jwtSecret").is_none(), "{config}");

    // Install-side routes: 403 for a viewer; for an admin, 501 where this build has no way
    // (bundles: tests/bundles.rs).
    for (path, body, admin_status) in [
        (
            "/api/plugins/install",
            json!({"source": "https://x.invalid/p.mint"}),
            501,
        ),
        (
            "/api/plugins/install",
            json!({"source": "some-plugin"}),
            501,
        ),
        ("/api/plugins/upload", json!({}), 422),
        ("/api/plugins/alpha/upgrade", json!({}), 501),
        ("/api/plugins/runtime/docker", json!({"image": "x"}), 501),
        ("/api/plugins/runtime/external", json!({"name": "x"}), 501),
    ] {
        let (status, answer) = tp.post(path, Some(&viewer), body.clone()).await;
        assert_eq!(status, 403, "{path}: {answer}");
        assert_eq!(answer["message"], "Missing permission: plugins.install");
        let (status, answer) = tp.post(path, Some(&admin), body).await;
        assert_eq!(status, admin_status, "{path}: {answer}");
        if admin_status == 501 {
            assert_eq!(answer["code"], "feature.not_implemented");
        }
    }
    let (status, _) = tp.delete("/api/plugins/alpha", Some(&viewer)).await;
    assert_eq!(status, 403);
    let (status, answer) = tp.delete("/api/plugins/alpha", Some(&admin)).await;
    assert_eq!(
        status, 409,
        "a compiled-in plugin cannot be uninstalled: {answer}"
    );

    let (status, body) = tp.get("/api/plugins/snapshots", Some(&viewer)).await;
    assert_eq!((status, body), (200, json!([])));
    let (status, body) = tp
        .get("/api/plugins/config/extra-index-urls", Some(&viewer))
        .await;
    assert_eq!((status, body), (200, json!({"urls": []})));
    let urls = json!({"urls": ["https://pypi.example/simple", "https://pypi.example/simple"]});
    let (status, _) = tp
        .put(
            "/api/plugins/config/extra-index-urls",
            Some(&viewer),
            urls.clone(),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = tp
        .put("/api/plugins/config/extra-index-urls", Some(&admin), urls)
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"urls": ["https://pypi.example/simple"]}))
    );
    let (status, body) = tp
        .put(
            "/api/plugins/config/extra-index-urls",
            Some(&admin),
            json!({"urls": ["file:///etc"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, body) = tp
        .get("/api/plugins/config/extra-index-urls", Some(&admin))
        .await;
    assert_eq!(body, json!({"urls": ["https://pypi.example/simple"]}));
    tp.finish().await;
}

#[tokio::test]
async fn a_plugin_frontend_is_served_at_its_prefix_without_api() {
    let assets = tempfile::tempdir().unwrap();
    std::fs::write(assets.path().join("index.html"), "<html>alpha ui</html>").unwrap();
    std::fs::write(assets.path().join("app.js"), "console.log(1)").unwrap();
    let tp = TestPlatform::start(vec![
        TestPlugin::new("alpha", Quirk::None)
            .with_frontend(assets.path())
            .arc(),
        // A frontend directory without index.html is not served; the plugin still loads.
        TestPlugin::new("beta", Quirk::None)
            .with_frontend(&assets.path().join("missing"))
            .arc(),
    ])
    .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(tp.at("/alpha")).send().await.unwrap();
    assert_eq!(response.status(), 307);
    assert_eq!(response.headers()["location"], "/alpha/");
    for path in ["/alpha/", "/alpha/runs/42"] {
        let response = client.get(tp.at(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), "<html>alpha ui</html>");
    }
    let response = client.get(tp.at("/alpha/app.js")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "console.log(1)");
    let (status, body) = tp.get("/alpha/missing.js", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "resource.not_found");
    let (status, _) = tp.get("/beta/", None).await;
    assert_eq!(status, 404);
    let (status, _) = tp.get("/api/beta/ping", None).await;
    assert_eq!(status, 200);
    let (status, _) = tp.get("/api/alpha/ping", None).await;
    assert_eq!(status, 200);
    tp.finish().await;
}

#[tokio::test]
async fn a_failing_migration_fails_only_its_plugin_and_health_is_degraded() {
    let tp = TestPlatform::start(vec![
        TestPlugin::new("broken", Quirk::FailingMigration).arc(),
        hello(),
    ])
    .await;
    let admin = tp.admin_token().await;
    let broken = plugin_status(&tp, &admin, "broken").await;
    assert_eq!(broken["status"], "error");
    assert_eq!(broken["lifecycle"], "Failed");
    let error = broken["error"].as_str().unwrap();
    assert!(error.contains("intentional failure"), "{error}");
    let migration_error = broken["migration_error"].as_str().unwrap();
    assert!(
        migration_error.starts_with("v002_breaks"),
        "{migration_error}"
    );
    // The run is one transaction: v001 was rolled back with v002.
    assert_eq!(broken["schema_version"], 0);
    assert_eq!(broken["pending_migrations"], json!([1, 2]));

    let (status, _) = tp.get("/api/broken/ping", None).await;
    assert_eq!(status, 404, "a Failed plugin has no routes");
    let (status, body) = tp.get("/api/hello-mint/health", None).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));

    let (status, health) = tp.get("/api/health", None).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded");
    let statuses: Vec<(&str, &str)> = health["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("broken", "error"), ("hello-mint", "ready")]);
    tp.finish().await;
}

#[tokio::test]
async fn a_route_conflict_while_building_fails_only_its_plugin() {
    let tp = TestPlatform::start(vec![
        TestPlugin::new("clash", Quirk::ConflictingRoutes).arc(),
        TestPlugin::new("alpha", Quirk::None).arc(),
    ])
    .await;
    let admin = tp.admin_token().await;
    let clash = plugin_status(&tp, &admin, "clash").await;
    assert_eq!(clash["lifecycle"], "Failed");
    assert!(
        clash["error"].as_str().unwrap().contains("panicked"),
        "{clash}"
    );
    let (status, _) = tp.get("/api/clash/ping", None).await;
    assert_eq!(status, 404);
    let (status, _) = tp.get("/api/alpha/ping", None).await;
    assert_eq!(status, 200);
    tp.finish().await;
}

#[tokio::test]
async fn disabled_plugins_report_disabled_and_have_no_routes() {
    let tp = TestPlatform::start_with(
        Backend::Sqlite,
        vec![
            hello(),
            TestPlugin::new("alpha", Quirk::None).arc(),
            TestPlugin::new("beta", Quirk::None).arc(),
        ],
        |config| {
            config.settings.plugins.enabled = vec!["hello-mint".into(), "alpha".into()];
            config.settings.plugins.disabled = vec!["hello-mint".into()];
        },
    )
    .await;
    let admin = tp.admin_token().await;
    for name in ["hello-mint", "beta"] {
        let entry = plugin_status(&tp, &admin, name).await;
        assert_eq!(entry["status"], "disabled", "{entry}");
        assert_eq!(entry["lifecycle"], "Registered");
        assert_eq!(entry["enabled"], false);
    }
    assert_eq!(plugin_status(&tp, &admin, "alpha").await["status"], "ready");
    let (status, _) = tp.get("/api/hello-mint/health", None).await;
    assert_eq!(status, 404);
    let (status, _) = tp.get("/api/beta/ping", None).await;
    assert_eq!(status, 404);
    let (status, _) = tp.get("/api/alpha/ping", None).await;
    assert_eq!(status, 200);
    let (status, body) = tp
        .post("/api/plugins/hello-mint/reload", Some(&admin), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    let (_, health) = tp.get("/api/health", None).await;
    assert_eq!(health["status"], "healthy", "disabled is not a failure");
    assert_eq!(health["plugins"][0]["status"], "disabled");
    tp.finish().await;
}

#[tokio::test]
async fn duplicates_bad_metadata_and_force_isolated_fail_the_plugin_concerned() {
    let tp = TestPlatform::start_with(
        Backend::Sqlite,
        vec![
            TestPlugin::new("alpha", Quirk::None).arc(),
            TestPlugin::with("alpha", "/alpha-two", Default::default(), Quirk::None).arc(),
            TestPlugin::with("gamma", "/alpha", Default::default(), Quirk::None).arc(),
            TestPlugin::with("ALPHA", "/alpha-three", Default::default(), Quirk::None).arc(),
            TestPlugin::with("delta", "/api", Default::default(), Quirk::None).arc(),
            TestPlugin::new("remote", Quirk::None).arc(),
        ],
        |config| config.settings.plugins.force_isolated = vec!["remote".into()],
    )
    .await;
    let admin = tp.admin_token().await;
    let (_, list) = tp.get("/api/plugins", Some(&admin)).await;
    let entries = list["loaded"].as_array().unwrap();
    let phases: Vec<(&str, &str)> = entries
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        phases,
        [
            ("alpha", "ready"),
            ("alpha", "error"),
            ("gamma", "error"),
            ("ALPHA", "error"),
            ("delta", "error"),
            ("remote", "error"),
        ]
    );
    let reason = |i: usize| entries[i]["error"].as_str().unwrap().to_string();
    assert!(reason(1).contains("named 'alpha'"), "{}", reason(1));
    assert!(reason(2).contains("Routes prefix /alpha"), "{}", reason(2));
    assert!(reason(3).contains("schema plugin_alpha "), "{}", reason(3));
    assert!(reason(4).contains("routes_prefix"), "{}", reason(4));
    assert!(reason(5).contains("forceIsolated"), "{}", reason(5));
    let (status, body) = tp.get("/api/alpha/ping", None).await;
    assert_eq!((status, body), (200, json!({"plugin": "alpha"})));
    tp.finish().await;
}

#[tokio::test]
async fn the_plugin_role_guard_refuses_anonymous_callers_and_lets_admins_pass() {
    let tp = TestPlatform::start(vec![TestPlugin::new("alpha", Quirk::None).arc()]).await;
    let admin = tp.admin_token().await;
    let (status, body) = tp.get("/api/alpha/guarded", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "auth.unauthorized");
    let (status, body) = tp.get("/api/alpha/guarded", Some(&admin)).await;
    assert_eq!(
        (status, body),
        (200, json!({"user_id": "1", "plugin_role": "admin"}))
    );
    tp.finish().await;
}

#[tokio::test]
async fn the_plugin_role_guard_checks_the_stored_plugin_role() {
    let tp = TestPlatform::start(vec![TestPlugin::new("alpha", Quirk::None).arc()]).await;
    let (member_id, member) = tp.add_user("mia", "member").await;
    let (status, body) = tp.get("/api/alpha/guarded", Some(&member)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["message"], "Requires plugin role: editor");

    let store = &tp.platform.store;
    let now = mint_platform::store::now_text();
    store
        .exec(
            store.connection(),
            "INSERT INTO plugin_roles (plugin_id, user_id, role, created_at, updated_at) \
             VALUES ('alpha', $1, 'editor', $2, $2)",
            [member_id.into(), now.into()],
        )
        .await
        .unwrap();
    let (status, body) = tp.get("/api/alpha/guarded", Some(&member)).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"user_id": member_id.to_string(), "plugin_role": "editor"})
        )
    );
    tp.finish().await;
}

#[tokio::test]
async fn a_requires_auth_plugin_needs_a_user_with_plugins_use() {
    let caps = PluginCapabilities {
        requires_auth: true,
        ..Default::default()
    };
    let tp = TestPlatform::start(vec![
        TestPlugin::with("secure", "/secure", caps, Quirk::None).arc(),
    ])
    .await;
    let (status, body) = tp.get("/api/secure/ping", None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = tp.get("/api/secure/ping", Some("not-a-token")).await;
    assert_eq!(status, 401, "{body}");
    let (_, viewer) = tp.add_user("vera", "viewer").await;
    let (status, body) = tp.get("/api/secure/ping", Some(&viewer)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["message"], "Missing permission: plugins.use");

    add_role(&tp, "lab-viewer", &["plugins.view", "plugins.use"]).await;
    let (user_id, token) = tp.add_user("lou", "lab-viewer").await;
    let (status, body) = tp.get("/api/secure/ping", Some(&token)).await;
    assert_eq!((status, body), (200, json!({"plugin": "secure"})));
    let (status, body) = tp.get("/api/secure/me", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], user_id.to_string());
    assert_eq!(body["username"], "lou");
    assert_eq!(body["role"], "lab-viewer");
    assert!(body["role_id"].as_i64().is_some(), "{body}");
    assert_eq!(body["permissions"], json!(["plugins.use", "plugins.view"]));
    tp.finish().await;
}

#[tokio::test]
async fn plugin_config_needs_a_current_revision_and_is_validated_and_applied() {
    let tp = TestPlatform::start(vec![TestPlugin::new("alpha", Quirk::None).arc()]).await;
    let admin = tp.admin_token().await;
    let (_, viewer) = tp.add_user("vera", "viewer").await;
    let path = "/api/plugins/alpha/config";

    let (status, body) = tp.get(path, Some(&viewer)).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"plugin": "alpha", "config": {}, "revision": "0"})
        )
    );
    let (status, _) = tp.get("/api/plugins/nope/config", Some(&admin)).await;
    assert_eq!(status, 404);

    let put = |token: &str, if_match: Option<&str>, config: Value| {
        let mut request = tp
            .client
            .put(tp.at(path))
            .bearer_auth(token)
            .json(&json!({ "config": config }));
        if let Some(tag) = if_match {
            request = request.header("If-Match", tag);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let etag = response
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            (status, etag, response.json::<Value>().await.unwrap())
        }
    };
    let (status, _, body) = put(&viewer, Some("\"0\""), json!({"threshold": 0.2})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["message"], "Missing permission: plugins.configure");
    let (status, _, body) = put(&admin, None, json!({"threshold": 0.2})).await;
    assert_eq!(status, 428, "{body}");
    assert_eq!(body["code"], "precondition.required");
    let (status, _, body) = put(&admin, Some("\"7\""), json!({"threshold": 0.2})).await;
    assert_eq!(status, 412, "{body}");
    assert_eq!(body["code"], "precondition.failed");
    let (status, _, body) = put(&admin, Some("\"0\""), json!({"threshold": 3})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "validation.error");
    assert_eq!(
        body["details"],
        json!([{"field": "config.threshold", "message": "Invalid value"}]),
        "the input is not echoed"
    );

    let (status, etag, body) = put(
        &admin,
        Some("\"0\""),
        json!({"threshold": 0.2, "api_key": "s3cret", "allowed_experiment_types": ["lcms"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag.as_deref(), Some("\"1\""));
    assert_eq!(
        body,
        json!({"plugin": "alpha", "revision": "1", "config": {
            "threshold": 0.2, "api_key": null, "allowed_experiment_types": ["lcms"]}})
    );
    // The running plugin got the settings, secret included.
    let (_, settings) = tp.get("/api/alpha/settings-now", None).await;
    assert_eq!(settings, json!({"threshold": 0.2, "api_key": "s3cret"}));

    // A stale revision after the write; PATCH merges and keeps the secret.
    let (status, _, _) = put(&admin, Some("\"0\""), json!({"threshold": 0.3})).await;
    assert_eq!(status, 412);
    let (status, body) = tp
        .patch(path, Some(&admin), json!({"config": {"threshold": 0.9}}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revision"], "2");
    assert_eq!(body["config"]["threshold"], 0.9);
    assert_eq!(body["config"]["allowed_experiment_types"], json!(["lcms"]));
    let (_, settings) = tp.get("/api/alpha/settings-now", None).await;
    assert_eq!(settings, json!({"threshold": 0.9, "api_key": "s3cret"}));
    let (status, body) = tp
        .patch(path, Some(&admin), json!({"config": {"threshold": "high"}}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, body) = tp.get(path, Some(&admin)).await;
    assert_eq!(body["revision"], "2", "a refused write changes nothing");

    // The SDK's own settings route persists through the context into the same store.
    let (status, body) = tp
        .put(
            "/api/alpha/settings",
            Some(&admin),
            json!({"threshold": 0.4}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = tp.get(path, Some(&admin)).await;
    assert_eq!(body["revision"], "3");
    assert_eq!(body["config"]["threshold"], 0.4);
    assert_eq!(body["config"]["allowed_experiment_types"], json!(["lcms"]));
    tp.finish().await;
}

#[tokio::test]
async fn reload_brings_a_failed_plugin_up_once_its_cause_is_gone() {
    let tp = TestPlatform::start(vec![
        TestPlugin::new("flaky", Quirk::FailsFirstInit).arc(),
        TestPlugin::new("alpha", Quirk::None).arc(),
    ])
    .await;
    let admin = tp.admin_token().await;
    let flaky = plugin_status(&tp, &admin, "flaky").await;
    assert_eq!(flaky["lifecycle"], "Failed");
    assert!(
        flaky["error"]
            .as_str()
            .unwrap()
            .contains("the instrument is not connected yet"),
        "{flaky}"
    );
    let (status, _) = tp.get("/api/flaky/ping", None).await;
    assert_eq!(status, 404);

    let (_, member) = tp.add_user("mia", "member").await;
    let (status, _) = tp
        .post("/api/plugins/flaky/reload", Some(&member), json!({}))
        .await;
    assert_eq!(status, 403, "reload needs plugins.install");
    let (status, body) = tp
        .post("/api/plugins/flaky/reload", Some(&admin), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["lifecycle"], "Ready");
    assert_eq!(body["error"], Value::Null);
    let (status, body) = tp.get("/api/flaky/ping", None).await;
    assert_eq!((status, body), (200, json!({"plugin": "flaky"})));

    // Reloading a Ready plugin shuts it down and starts it again.
    let (status, body) = tp
        .post("/api/plugins/alpha/reload", Some(&admin), json!({}))
        .await;
    assert_eq!((status, &body["status"]), (200, &json!("ready")));
    let (status, _) = tp.get("/api/alpha/ping", None).await;
    assert_eq!(status, 200);
    let (status, _) = tp
        .post("/api/plugins/nope/reload", Some(&admin), json!({}))
        .await;
    assert_eq!(status, 404);
    let (_, health) = tp.get("/api/health", None).await;
    assert_eq!(health["status"], "healthy");
    tp.finish().await;
}

#[tokio::test]
async fn health_checks_are_stored_and_errors_are_unhealthy() {
    let tp = TestPlatform::start(vec![
        TestPlugin::new("sick", Quirk::HealthError).arc(),
        TestPlugin::new("alpha", Quirk::None).arc(),
    ])
    .await;
    let admin = tp.admin_token().await;
    tp.platform.plugins.check_health_now().await;
    let sick = plugin_status(&tp, &admin, "sick").await;
    assert_eq!(sick["status"], "ready", "health does not change the phase");
    assert_eq!(sick["health"]["status"], "unhealthy");
    assert_eq!(
        sick["health"]["message"],
        "Health check failed: sensor offline"
    );
    assert!(
        sick["health"]["checked_at"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );
    let alpha = plugin_status(&tp, &admin, "alpha").await;
    assert_eq!(alpha["health"]["status"], "healthy");
    assert_eq!(alpha["health"]["message"], Value::Null);
    tp.finish().await;
}

fn shared_caps() -> PluginCapabilities {
    PluginCapabilities {
        requires_shared_database: true,
        ..Default::default()
    }
}

async fn sqlite_tables(path: &std::path::Path) -> Vec<String> {
    let url = format!("sqlite://{}?mode=ro", path.display());
    let conn = mint_sdk::sea_orm::Database::connect(&url).await.unwrap();
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        ))
        .await
        .unwrap();
    let names = rows
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect();
    conn.close().await.ok();
    names
}

#[tokio::test]
async fn the_shared_session_on_sqlite_is_the_plugins_own_data_db() {
    let tp = TestPlatform::start(vec![
        TestPlugin::with("notes", "/notes", shared_caps(), Quirk::None).arc(),
        TestPlugin::new("alpha", Quirk::None).arc(),
        Arc::new(panel_designer::PanelDesignerPlugin::new()),
    ])
    .await;
    let admin = tp.admin_token().await;
    let (status, body) = tp.post("/api/notes/notes", None, json!({})).await;
    assert_eq!((status, body), (200, json!({"notes": 1})));

    let data_db = tp
        .dir
        .path()
        .join("plugin-data")
        .join("notes")
        .join("data.db");
    let tables = sqlite_tables(&data_db).await;
    assert!(tables.contains(&"notes".to_string()), "{tables:?}");
    assert!(
        tables.contains(&"model_rows".to_string()),
        "shared models are created: {tables:?}"
    );
    assert!(
        !tables.contains(&"_plugin_migrations".to_string())
            || sqlite_count(&data_db, "_plugin_migrations").await == 0,
        "create_all leaves no tracking rows"
    );
    let platform_tables = sqlite_tables(&tp.dir.path().join("mint.db")).await;
    assert!(!platform_tables.contains(&"notes".to_string()));

    // Without requires_shared_database there is no session.
    let (status, body) = tp.post("/api/alpha/notes", None, json!({})).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["code"], "CONFIGURATION_ERROR");
    assert!(!tp.dir.path().join("plugin-data").join("alpha").exists());

    // panel-designer (its own plugin_db_session override) migrates into its data.db and reads
    // its table through the platform's session.
    let panels = plugin_status(&tp, &admin, "panel-designer").await;
    assert_eq!(panels["status"], "ready", "{panels}");
    assert_eq!(panels["schema_version"], 2);
    let (status, body) = tp
        .get("/api/panel-designer/panels/by-id/41", Some(&admin))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["message"], "Panel 41 not found");
    let panel_tables = sqlite_tables(
        &tp.dir
            .path()
            .join("plugin-data")
            .join("panel-designer")
            .join("data.db"),
    )
    .await;
    assert!(
        panel_tables.contains(&"panels".to_string()),
        "{panel_tables:?}"
    );
    tp.finish().await;
}

async fn sqlite_count(path: &std::path::Path, table: &str) -> i64 {
    let url = format!("sqlite://{}?mode=ro", path.display());
    let conn = mint_sdk::sea_orm::Database::connect(&url).await.unwrap();
    let n = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0);
    conn.close().await.ok();
    n
}

#[tokio::test]
async fn the_shared_session_on_postgres_is_scoped_to_the_plugin_schema() {
    if postgres_url().is_none() {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set");
        return;
    }
    let tp = TestPlatform::start_with(
        Backend::Postgres,
        vec![
            TestPlugin::with("Shared Notes", "/shared-notes", shared_caps(), Quirk::None).arc(),
            TestPlugin::new("broken", Quirk::FailingMigration).arc(),
            Arc::new(panel_designer::PanelDesignerPlugin::new()),
        ],
        |_| {},
    )
    .await;
    let admin = tp.admin_token().await;
    let (status, body) = tp.post("/api/shared-notes/notes", None, json!({})).await;
    assert_eq!((status, body), (200, json!({"notes": 1})));

    let store = &tp.platform.store;
    let rows = store
        .all(
            store.connection(),
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_name IN ('notes', 'model_rows', 'panels', 'things') \
             ORDER BY table_name",
            [],
        )
        .await
        .unwrap();
    let found: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                mint_platform::store::get_text(r, "table_schema").unwrap(),
                mint_platform::store::get_text(r, "table_name").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("plugin_shared_notes".to_string(), "model_rows".to_string()),
            ("plugin_shared_notes".to_string(), "notes".to_string()),
            ("plugin_panel_designer".to_string(), "panels".to_string()),
        ]
    );
    let leftovers = store
        .count(
            store.connection(),
            "SELECT COUNT(*) AS n FROM public.plugin_schema_migrations \
             WHERE plugin_name LIKE '%#create_all'",
            [],
        )
        .await
        .unwrap();
    assert_eq!(leftovers, 0);

    let broken = plugin_status(&tp, &admin, "broken").await;
    assert_eq!(broken["lifecycle"], "Failed");
    assert_eq!(broken["pending_migrations"], json!([1, 2]));
    let panels = plugin_status(&tp, &admin, "panel-designer").await;
    assert_eq!(
        (&panels["status"], &panels["schema_version"]),
        (&json!("ready"), &json!(2))
    );
    let (status, body) = tp
        .get("/api/panel-designer/panels/by-id/41", Some(&admin))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["message"], "Panel 41 not found");
    tp.finish().await;
}
