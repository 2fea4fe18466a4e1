//! The standalone host and migrations (spec/migrations.md §1, plugin.md §6.6,
//! app-testing-export.md §1.6 step 3): a fresh database is migrated, a database built by
//! create_all is stamped, a plugin without migrations gets its model tables and no tracking
//! rows, and a model the migrations do not satisfy fails the start.
//!
//! Not covered here (they need the platform): uninstall keep/archive/purge and the integrated
//! SQLite layout under `<plugins.dataDir>`.

mod migrations_support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use migrations_support::{Op, TestMigration, boxed, open_sqlite};
use mint_sdk::migrations::{Column, PluginMigration, STAMP_MARKER, TableDef};
use mint_sdk::{AnalysisPlugin, PluginCore, PluginError, PluginMetadata, StandaloneOptions};

struct ModelPlugin {
    core: PluginCore,
    migrations: Vec<TestMigration>,
    models: Vec<TableDef>,
}

impl ModelPlugin {
    fn new(migrations: Vec<TestMigration>, models: Vec<TableDef>) -> Arc<Self> {
        Arc::new(Self {
            core: PluginCore::new(),
            migrations,
            models,
        })
    }
}

impl AnalysisPlugin for ModelPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("panel-models", "0.1.0", "Panels", "demo", "/panels")
    }
    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        Vec::new()
    }
    fn migrations(&self) -> Vec<Box<dyn PluginMigration>> {
        boxed(self.migrations.clone())
    }
    fn shared_models(&self) -> Vec<TableDef> {
        self.models.clone()
    }
}

fn panels_model() -> Vec<TableDef> {
    vec![TableDef::new(
        "panels",
        vec![
            Column::integer("id").primary_key(),
            Column::text("name").not_null(),
            Column::integer("experiment_id").index(),
        ],
    )]
}

fn panel_migrations() -> Vec<TestMigration> {
    vec![
        TestMigration::new(1, "create_panels").op(Op::CreateTable(
            "panels",
            vec![
                Column::integer("id").primary_key(),
                Column::text("name").not_null(),
            ],
        )),
        TestMigration::new(2, "add_experiment")
            .op(Op::AddColumn("panels", Column::integer("experiment_id"))),
    ]
}

fn options(dir: &Path) -> StandaloneOptions {
    StandaloneOptions {
        data_dir: Some(dir.to_path_buf()),
        settings_path: Some(dir.join("config.json")),
        env: Some(HashMap::new()),
        ..Default::default()
    }
}

async fn start(
    plugin: Arc<ModelPlugin>,
    dir: &Path,
) -> Result<mint_sdk::StandaloneApp, PluginError> {
    let app = mint_sdk::create_standalone_app(plugin, options(dir)).expect("app");
    app.start().await?;
    Ok(app)
}

async fn strings(dir: &Path, sql: &str) -> Vec<String> {
    use mint_sdk::sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = open_sqlite(dir).await;
    let rows = db
        .connection()
        .expect("connection")
        .query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let out = rows
        .iter()
        .map(|r| {
            r.try_get_by_index::<Option<String>>(0)
                .expect("text")
                .unwrap_or_else(|| "NULL".into())
        })
        .collect();
    db.close().await.expect("close");
    out
}

async fn tracking_rows(dir: &Path) -> Vec<String> {
    let exists = strings(
        dir,
        "SELECT name FROM sqlite_master WHERE name = '_plugin_migrations'",
    )
    .await;
    if exists.is_empty() {
        return Vec::new();
    }
    strings(
        dir,
        "SELECT version || ' ' || success || ' ' || COALESCE(error_message, '-') \
         FROM _plugin_migrations ORDER BY version",
    )
    .await
}

#[tokio::test]
async fn fresh_standalone_database_is_migrated_not_stamped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let migrations = panel_migrations();
    let plugin = ModelPlugin::new(migrations.clone(), panels_model());
    let app = start(plugin, dir.path()).await.expect("start");
    assert_eq!(tracking_rows(dir.path()).await, ["1 1 -", "2 1 -"]);
    assert!(
        migrations.iter().all(|m| m.upgrade_count() == 1),
        "every upgrade ran"
    );
    assert_eq!(
        strings(
            dir.path(),
            "SELECT name FROM pragma_table_info('panels') ORDER BY cid"
        )
        .await,
        ["id", "name", "experiment_id"]
    );
    app.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn setup_standalone_db_with_migrations_creates_no_model_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = ModelPlugin::new(panel_migrations(), panels_model());
    plugin
        .setup_standalone_db(Some(dir.path().to_path_buf()))
        .await
        .expect("setup");
    plugin.teardown_standalone_db().await.expect("teardown");
    assert!(
        strings(
            dir.path(),
            "SELECT name FROM sqlite_master WHERE name = 'panels'"
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn database_built_by_create_all_is_stamped() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An earlier release without migrations built the tables from its models.
    let earlier = start(ModelPlugin::new(Vec::new(), panels_model()), dir.path())
        .await
        .expect("start without migrations");
    earlier.shutdown().await.expect("shutdown");
    let migrations = panel_migrations();
    let app = start(
        ModelPlugin::new(migrations.clone(), panels_model()),
        dir.path(),
    )
    .await
    .expect("start with migrations");
    let marker = format!("1 1 {STAMP_MARKER}");
    let marker2 = format!("2 1 {STAMP_MARKER}");
    assert_eq!(tracking_rows(dir.path()).await, [marker, marker2]);
    assert!(
        migrations.iter().all(|m| m.upgrade_count() == 0),
        "nothing executed"
    );
    app.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn plugin_without_migrations_gets_model_tables_and_no_tracking_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(ModelPlugin::new(Vec::new(), panels_model()), dir.path())
        .await
        .expect("start");
    assert_eq!(
        strings(
            dir.path(),
            "SELECT name FROM pragma_table_info('panels') ORDER BY cid"
        )
        .await,
        ["id", "name", "experiment_id"]
    );
    assert_eq!(
        strings(
            dir.path(),
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'panels'"
        )
        .await,
        ["ix_panels_experiment_id"]
    );
    assert!(
        strings(
            dir.path(),
            "SELECT name FROM sqlite_master WHERE name = '_plugin_migrations'"
        )
        .await
        .is_empty()
    );
    app.shutdown().await.expect("shutdown");
    // A restart finds the tables and leaves them alone.
    let again = start(ModelPlugin::new(Vec::new(), panels_model()), dir.path())
        .await
        .expect("restart");
    again.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn model_column_missing_after_migrations_fails_start_with_configuration_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let only_v1 = vec![panel_migrations().remove(0)];
    match start(ModelPlugin::new(only_v1, panels_model()), dir.path()).await {
        Err(PluginError::Configuration {
            message,
            config_key,
            ..
        }) => {
            assert_eq!(config_key.as_deref(), Some("migrations"));
            assert!(message.contains("panels.experiment_id"), "{message}");
        }
        Err(other) => panic!("expected a Configuration error, got {other:?}"),
        Ok(_) => panic!("expected a Configuration error, got a started app"),
    }
}

#[tokio::test]
async fn failed_migration_fails_start_as_a_lifecycle_migrate_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = vec![TestMigration::new(1, "broken").op(Op::Fail("no way"))];
    match start(ModelPlugin::new(broken, Vec::new()), dir.path()).await {
        Err(err @ PluginError::Lifecycle { .. }) => {
            assert_eq!(err.details()["phase"], "migrate");
            assert_eq!(err.details()["plugin_name"], "panel-models");
            assert!(err.to_string().contains("v001_broken"), "{err}");
            assert_eq!(err.status().as_u16(), 500);
        }
        Err(other) => panic!("expected a Lifecycle error, got {other:?}"),
        Ok(_) => panic!("expected a Lifecycle error, got a started app"),
    }
    assert_eq!(tracking_rows(dir.path()).await, ["1 0 no way"]);
}

#[test]
fn manifest_lists_migrations_by_version() {
    let mut list = panel_migrations();
    list.reverse();
    let plugin = ModelPlugin::new(list, Vec::new());
    assert_eq!(
        plugin.manifest()["migrations"],
        serde_json::json!([
            {"version": 1, "name": "create_panels"},
            {"version": 2, "name": "add_experiment"}
        ])
    );
}
