//! The standalone plugin's own SQLite database: [`LocalDatabase`], [`LocalDatabaseConfig`], and
//! the store that backs the convenience methods when no platform is there
//! (`spec/context-and-data.md` §9, `spec/plugin.md` §6.4).
//!
//! The database file is `<storage_dir>/<db_filename>` (default `~/.mint/plugins/<safe
//! name>/data.db`). Initialization creates the two SDK tables `mint_design_data` and
//! `mint_analysis_results`, so a standalone plugin's saved design data and analysis results
//! survive a restart of its process (Python's standalone mode drops them).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult,
    SqlxSqliteConnector, Statement, TransactionTrait, Value as DbValue,
};

use crate::error::{JsonObject, PluginError};
use crate::models::PluginType;
use crate::repositories::{
    DesignData, PluginAnalysisResult, PluginDataRepository, analysis_cannot_write_design_data,
    design_cannot_write_analysis_results, foreign_plugin_error, now_utc, timestamp,
};

/// Where and how a [`LocalDatabase`] stores its file (§9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDatabaseConfig {
    /// Directory of the database file; `None` = `~/.mint/plugins/<safe name>`.
    pub storage_dir: Option<PathBuf>,
    /// File name inside `storage_dir` (default `data.db`).
    pub db_filename: String,
    /// Log every SQL statement at debug level.
    pub echo_sql: bool,
}

impl Default for LocalDatabaseConfig {
    fn default() -> Self {
        Self {
            storage_dir: None,
            db_filename: "data.db".into(),
            echo_sql: false,
        }
    }
}

/// A plugin name reduced to ASCII alphanumerics, `-` and `_` (`"My Plugin!"` → `MyPlugin`);
/// `plugin` when nothing remains.
pub fn safe_plugin_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if safe.is_empty() {
        "plugin".into()
    } else {
        safe
    }
}

/// The plugin's data directory, `~/.mint/plugins/<safe name>` (`$HOME`; `.` when unset).
pub fn plugin_data_dir(plugin_name: &str) -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".mint")
        .join("plugins")
        .join(safe_plugin_name(plugin_name))
}

const SDK_TABLES: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS mint_design_data (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment_id INTEGER NOT NULL UNIQUE,
        plugin_id TEXT NOT NULL,
        data TEXT NOT NULL,
        schema_version TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mint_analysis_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment_id INTEGER NOT NULL,
        plugin_id TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE(experiment_id, plugin_id))",
];

/// The standalone plugin's SQLite database (seed `LocalDatabase`). Cheap to clone; clones share
/// one connection pool.
///
/// Connections use the WAL journal with `PRAGMA synchronous = NORMAL`, the setting SQLite
/// documents as safe with WAL: the file never corrupts, and a crashed plugin process loses no
/// committed transaction, but a power loss or operating-system crash can undo the last commits
/// before the next WAL checkpoint. Commits then wait for no `fsync`, which makes small writes
/// several times faster (BENCHMARKS.md, P2). Foreign keys are on; a busy database is retried for
/// up to 10 s.
#[derive(Clone)]
pub struct LocalDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    plugin_name: String,
    config: LocalDatabaseConfig,
    db_path: PathBuf,
    conn: RwLock<Option<DatabaseConnection>>,
}

impl std::fmt::Debug for LocalDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDatabase")
            .field("plugin_name", &self.inner.plugin_name)
            .field("db_path", &self.inner.db_path)
            .field("initialized", &self.is_initialized())
            .finish()
    }
}

fn not_initialized() -> PluginError {
    PluginError::configuration("LocalDatabase not initialized. Call initialize() first.")
        .with_config_key("local_database")
}

impl LocalDatabase {
    /// A database for `plugin_name`; nothing is opened until [`initialize`](Self::initialize).
    pub fn new(plugin_name: &str, config: Option<LocalDatabaseConfig>) -> Self {
        let config = config.unwrap_or_default();
        let dir = config
            .storage_dir
            .clone()
            .unwrap_or_else(|| plugin_data_dir(plugin_name));
        let db_path = dir.join(&config.db_filename);
        Self {
            inner: Arc::new(Inner {
                plugin_name: plugin_name.to_string(),
                config,
                db_path,
                conn: RwLock::new(None),
            }),
        }
    }

    /// The database file's path.
    pub fn db_path(&self) -> &Path {
        &self.inner.db_path
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &LocalDatabaseConfig {
        &self.inner.config
    }

    /// True between [`initialize`](Self::initialize) and [`close`](Self::close).
    pub fn is_initialized(&self) -> bool {
        self.inner.conn.read().map(|c| c.is_some()).unwrap_or(false)
    }

    /// Creates missing parent directories, opens (or creates) the file with
    /// `PRAGMA foreign_keys = ON`, the WAL journal and `PRAGMA synchronous = NORMAL` on every
    /// connection (see [`LocalDatabase`] for what that means for durability), and creates the
    /// SDK tables. Idempotent.
    ///
    /// Errors: `PluginError::Configuration` (`config_key "local_database"`) when the directory
    /// or file cannot be created or opened.
    pub async fn initialize(&self) -> Result<(), PluginError> {
        if self.is_initialized() {
            return Ok(());
        }
        let path = &self.inner.db_path;
        let open_error = |what: String| {
            PluginError::configuration(format!(
                "Cannot open the plugin database at {}: {what}",
                path.display()
            ))
            .with_config_key("local_database")
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_error(e.to_string()))?;
        }
        let mut options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| open_error(e.to_string()))?
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL syncs at checkpoints only: safe against corruption and process
            // crashes, not against power loss (https://sqlite.org/pragma.html#pragma_synchronous).
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        if !self.inner.config.echo_sql {
            use sea_orm::sqlx::ConnectOptions as _;
            options = options.disable_statement_logging();
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| open_error(e.to_string()))?;
        let conn = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
        for ddl in SDK_TABLES {
            conn.execute_unprepared(ddl).await?;
        }
        if let Ok(mut slot) = self.inner.conn.write() {
            *slot = Some(conn);
        }
        Ok(())
    }

    /// Creates each shared-model table that is missing, with its indexes (create_all;
    /// `spec/context-and-data.md` §9, migrations.md §1 rule 1), in one transaction. Existing
    /// tables are left as they are; foreign keys to undeclared tables are allowed.
    ///
    /// Errors: `Configuration` (`local_database`) before `initialize`; `Repository` for a
    /// definition SQLite refuses or cannot hold (the migration error's text).
    pub async fn create_model_tables(
        &self,
        models: &[crate::migrations::TableDef],
    ) -> Result<(), PluginError> {
        if models.is_empty() {
            return Ok(());
        }
        let txn = self.session().await?;
        let mut ops = crate::migrations::MigrationOps::new(
            &txn,
            crate::migrations::Dialect::Sqlite,
            None,
            false,
            "create_all",
        );
        for model in models {
            ops.create_table(&model.name, &model.columns)
                .await
                .map_err(|e| {
                    PluginError::repository(format!(
                        "Cannot create model table '{}': {e}",
                        model.name
                    ))
                })?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The connection pool (seed `engine`). Errors with `Configuration` (`local_database`)
    /// before `initialize` or after `close`.
    pub fn connection(&self) -> Result<DatabaseConnection, PluginError> {
        self.inner
            .conn
            .read()
            .ok()
            .and_then(|c| c.clone())
            .ok_or_else(not_initialized)
    }

    /// Begins a transaction: call `commit()` when done; dropping it rolls back, so an error
    /// leaves nothing behind.
    pub async fn session(&self) -> Result<DatabaseTransaction, PluginError> {
        Ok(self.connection()?.begin().await?)
    }

    /// Releases the connections; `is_initialized()` is false afterwards. Idempotent.
    pub async fn close(&self) -> Result<(), PluginError> {
        let conn = self.inner.conn.write().ok().and_then(|mut c| c.take());
        if let Some(conn) = conn {
            conn.close().await?;
        }
        Ok(())
    }
}

/// The standalone store behind the convenience methods: the SDK tables of a [`LocalDatabase`],
/// with the platform's upsert semantics and write policy (plugin.md §3, §6.4).
#[derive(Debug, Clone)]
pub struct StandaloneDataRepository {
    db: LocalDatabase,
    plugin_id: String,
    plugin_type: PluginType,
}

impl StandaloneDataRepository {
    /// The store of plugin `plugin_id` of type `plugin_type` in `db`.
    pub fn new(db: LocalDatabase, plugin_id: &str, plugin_type: PluginType) -> Self {
        Self {
            db,
            plugin_id: plugin_id.to_string(),
            plugin_type,
        }
    }

    fn check_owner(&self, requested: &str, permission: &str) -> Result<(), PluginError> {
        if requested != self.plugin_id {
            return Err(foreign_plugin_error(permission, requested, &self.plugin_id));
        }
        Ok(())
    }
}

fn stmt(sql: &str, values: Vec<DbValue>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

fn parse_ts(text: &str) -> Result<DateTime<Utc>, PluginError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| PluginError::repository(format!("Stored timestamp '{text}' is invalid: {e}")))
}

fn parse_object(text: &str) -> Result<JsonObject, PluginError> {
    serde_json::from_str(text)
        .map_err(|e| PluginError::repository(format!("Stored JSON payload is invalid: {e}")))
}

fn design_row(row: &QueryResult) -> Result<DesignData, PluginError> {
    Ok(DesignData {
        id: row.try_get("", "id")?,
        experiment_id: row.try_get("", "experiment_id")?,
        plugin_id: row.try_get("", "plugin_id")?,
        data: parse_object(&row.try_get::<String>("", "data")?)?,
        schema_version: row.try_get("", "schema_version")?,
        created_at: parse_ts(&row.try_get::<String>("", "created_at")?)?,
        updated_at: parse_ts(&row.try_get::<String>("", "updated_at")?)?,
    })
}

fn result_row(row: &QueryResult) -> Result<PluginAnalysisResult, PluginError> {
    Ok(PluginAnalysisResult {
        id: row.try_get("", "id")?,
        experiment_id: row.try_get("", "experiment_id")?,
        plugin_id: row.try_get("", "plugin_id")?,
        result: parse_object(&row.try_get::<String>("", "result")?)?,
        created_at: parse_ts(&row.try_get::<String>("", "created_at")?)?,
        updated_at: parse_ts(&row.try_get::<String>("", "updated_at")?)?,
    })
}

fn missing_row() -> PluginError {
    PluginError::repository("The database returned no row after a write")
}

#[async_trait]
impl PluginDataRepository for StandaloneDataRepository {
    async fn save_experiment_data(
        &self,
        experiment_id: i64,
        plugin_id: &str,
        data: JsonObject,
        schema_version: &str,
    ) -> Result<DesignData, PluginError> {
        if self.plugin_type != PluginType::ExperimentDesign {
            return Err(analysis_cannot_write_design_data());
        }
        self.check_owner(plugin_id, "design_data.self")?;
        let txn = self.db.session().await?;
        let owner = txn
            .query_one_raw(stmt(
                "SELECT plugin_id FROM mint_design_data WHERE experiment_id = ?",
                vec![experiment_id.into()],
            ))
            .await?;
        if let Some(row) = owner {
            let current: String = row.try_get("", "plugin_id")?;
            if current != plugin_id {
                return Err(PluginError::design_data_ownership_conflict(
                    experiment_id,
                    current,
                    plugin_id,
                ));
            }
        }
        let now = timestamp::format(&now_utc());
        let row = txn
            .query_one_raw(stmt(
                "INSERT INTO mint_design_data
                   (experiment_id, plugin_id, data, schema_version, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT(experiment_id) DO UPDATE SET
                   data = excluded.data, schema_version = excluded.schema_version,
                   updated_at = excluded.updated_at
                 RETURNING *",
                vec![
                    experiment_id.into(),
                    plugin_id.into(),
                    serde_json::Value::Object(data).to_string().into(),
                    schema_version.into(),
                    now.clone().into(),
                    now.into(),
                ],
            ))
            .await?
            .ok_or_else(missing_row)?;
        let saved = design_row(&row)?;
        txn.commit().await?;
        Ok(saved)
    }

    async fn get_experiment_data(
        &self,
        experiment_id: i64,
    ) -> Result<Option<DesignData>, PluginError> {
        let conn = self.db.connection()?;
        conn.query_one_raw(stmt(
            "SELECT * FROM mint_design_data WHERE experiment_id = ?",
            vec![experiment_id.into()],
        ))
        .await?
        .map(|r| design_row(&r))
        .transpose()
    }

    async fn delete_experiment_data(&self, experiment_id: i64) -> Result<bool, PluginError> {
        if self.plugin_type != PluginType::ExperimentDesign {
            return Err(analysis_cannot_write_design_data());
        }
        let txn = self.db.session().await?;
        let owner = txn
            .query_one_raw(stmt(
                "SELECT plugin_id FROM mint_design_data WHERE experiment_id = ?",
                vec![experiment_id.into()],
            ))
            .await?;
        let Some(row) = owner else {
            return Ok(false);
        };
        let current: String = row.try_get("", "plugin_id")?;
        self.check_owner(&current, "design_data.self")?;
        let done = txn
            .execute_raw(stmt(
                "DELETE FROM mint_design_data WHERE experiment_id = ?",
                vec![experiment_id.into()],
            ))
            .await?;
        txn.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn save_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
        result: JsonObject,
    ) -> Result<PluginAnalysisResult, PluginError> {
        if self.plugin_type != PluginType::Analysis {
            return Err(design_cannot_write_analysis_results());
        }
        self.check_owner(plugin_id, "analysis_results.self")?;
        let now = timestamp::format(&now_utc());
        let conn = self.db.connection()?;
        let row = conn
            .query_one_raw(stmt(
                "INSERT INTO mint_analysis_results
                   (experiment_id, plugin_id, result, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT(experiment_id, plugin_id) DO UPDATE SET
                   result = excluded.result, updated_at = excluded.updated_at
                 RETURNING *",
                vec![
                    experiment_id.into(),
                    plugin_id.into(),
                    serde_json::Value::Object(result).to_string().into(),
                    now.clone().into(),
                    now.into(),
                ],
            ))
            .await?
            .ok_or_else(missing_row)?;
        result_row(&row)
    }

    async fn get_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
    ) -> Result<Option<PluginAnalysisResult>, PluginError> {
        let conn = self.db.connection()?;
        conn.query_one_raw(stmt(
            "SELECT * FROM mint_analysis_results WHERE experiment_id = ? AND plugin_id = ?",
            vec![experiment_id.into(), plugin_id.into()],
        ))
        .await?
        .map(|r| result_row(&r))
        .transpose()
    }

    async fn get_analysis_results(
        &self,
        experiment_id: i64,
    ) -> Result<Vec<PluginAnalysisResult>, PluginError> {
        let conn = self.db.connection()?;
        conn.query_all_raw(stmt(
            "SELECT * FROM mint_analysis_results WHERE experiment_id = ? ORDER BY id",
            vec![experiment_id.into()],
        ))
        .await?
        .iter()
        .map(result_row)
        .collect()
    }

    async fn delete_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
    ) -> Result<bool, PluginError> {
        self.check_owner(plugin_id, "analysis_results.self")?;
        let conn = self.db.connection()?;
        let done = conn
            .execute_raw(stmt(
                "DELETE FROM mint_analysis_results WHERE experiment_id = ? AND plugin_id = ?",
                vec![experiment_id.into(), plugin_id.into()],
            ))
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: serde_json::Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    fn temp_db(dir: &Path) -> LocalDatabase {
        LocalDatabase::new(
            "test",
            Some(LocalDatabaseConfig {
                storage_dir: Some(dir.join("nested").join("deeper")),
                ..Default::default()
            }),
        )
    }

    #[test]
    fn config_defaults_and_paths() {
        let c = LocalDatabaseConfig::default();
        assert_eq!(
            c,
            LocalDatabaseConfig {
                storage_dir: None,
                db_filename: "data.db".into(),
                echo_sql: false
            }
        );
        let db = LocalDatabase::new(
            "x",
            Some(LocalDatabaseConfig {
                storage_dir: Some("/tmp/x".into()),
                ..Default::default()
            }),
        );
        assert_eq!(db.db_path(), Path::new("/tmp/x/data.db"));
        let db = LocalDatabase::new("My Plugin!", None);
        assert!(
            db.db_path().ends_with(".mint/plugins/MyPlugin/data.db"),
            "{:?}",
            db.db_path()
        );
        assert_eq!(safe_plugin_name("///"), "plugin");
    }

    #[tokio::test]
    async fn pool_before_initialize_is_a_configuration_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = temp_db(dir.path());
        match db.connection() {
            Err(PluginError::Configuration { config_key, .. }) => {
                assert_eq!(config_key.as_deref(), Some("local_database"))
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
        assert!(db.session().await.is_err());
    }

    #[tokio::test]
    async fn initialize_creates_directories_tables_and_enables_foreign_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = temp_db(dir.path());
        db.initialize().await.expect("initialize");
        assert!(db.db_path().exists());
        let conn = db.connection().expect("connection");
        let fk = conn
            .query_one_raw(stmt("PRAGMA foreign_keys", vec![]))
            .await
            .expect("pragma")
            .and_then(|r| r.try_get_by_index::<i64>(0).ok());
        assert_eq!(fk, Some(1));
        let tables: Vec<String> = conn
            .query_all_raw(stmt(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'mint_%' ORDER BY name",
                vec![],
            ))
            .await
            .expect("tables")
            .iter()
            .filter_map(|r| r.try_get("", "name").ok())
            .collect();
        assert_eq!(tables, ["mint_analysis_results", "mint_design_data"]);
        db.close().await.expect("close");
        db.close().await.expect("close twice");
        assert!(!db.is_initialized());
    }

    #[tokio::test]
    async fn every_connection_uses_wal_with_synchronous_normal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = temp_db(dir.path());
        db.initialize().await.expect("initialize");
        // Two open sessions hold two different pooled connections.
        let first = db.session().await.expect("session");
        let second = db.session().await.expect("session");
        for txn in [&first, &second] {
            let pragma = |sql: &'static str| async move {
                txn.query_one_raw(stmt(sql, vec![]))
                    .await
                    .expect("pragma")
                    .expect("a row")
            };
            let journal: String = pragma("PRAGMA journal_mode")
                .await
                .try_get_by_index(0)
                .expect("text");
            let synchronous: i64 = pragma("PRAGMA synchronous")
                .await
                .try_get_by_index(0)
                .expect("integer");
            assert_eq!((journal.as_str(), synchronous), ("wal", 1), "1 is NORMAL");
        }
        first.rollback().await.expect("rollback");
        second.rollback().await.expect("rollback");
        db.close().await.expect("close");
    }

    #[tokio::test]
    async fn a_session_dropped_after_an_error_leaves_no_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = temp_db(dir.path());
        db.initialize().await.expect("initialize");
        let attempt = async {
            let txn = db.session().await?;
            txn.execute_unprepared(
                "INSERT INTO mint_analysis_results (experiment_id, plugin_id, result, created_at, updated_at)
                 VALUES (1, 'p', '{}', 'x', 'x')",
            )
            .await?;
            txn.execute_unprepared("INSERT INTO no_such_table VALUES (1)")
                .await?;
            txn.commit().await?;
            Ok::<(), PluginError>(())
        };
        assert!(attempt.await.is_err());
        let n = db
            .connection()
            .expect("conn")
            .query_one_raw(stmt(
                "SELECT COUNT(*) AS n FROM mint_analysis_results",
                vec![],
            ))
            .await
            .expect("count")
            .and_then(|r| r.try_get::<i64>("", "n").ok());
        assert_eq!(n, Some(0));
    }

    #[tokio::test]
    async fn a_unique_violation_becomes_a_409_without_driver_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = temp_db(dir.path());
        db.initialize().await.expect("initialize");
        let conn = db.connection().expect("conn");
        conn.execute_unprepared("CREATE TABLE plates (barcode TEXT UNIQUE)")
            .await
            .expect("create");
        conn.execute_unprepared("INSERT INTO plates VALUES ('PL-1')")
            .await
            .expect("first insert");
        let err: PluginError = conn
            .execute_unprepared("INSERT INTO plates VALUES ('PL-1')")
            .await
            .expect_err("duplicate")
            .into();
        assert_eq!(err.status().as_u16(), 409);
        let body = err.envelope(None).to_string();
        assert!(!body.contains("plates.barcode"), "{body}");
    }

    #[tokio::test]
    async fn standalone_store_upserts_keep_id_and_created_at() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = temp_db(dir.path());
        db.initialize().await.expect("initialize");
        let design =
            StandaloneDataRepository::new(db.clone(), "designer", PluginType::ExperimentDesign);
        let first = design
            .save_experiment_data(5, "designer", obj(json!({"a": 1})), "1.0")
            .await
            .expect("save");
        let second = design
            .save_experiment_data(5, "designer", obj(json!({"a": 2})), "2.0")
            .await
            .expect("save again");
        assert_eq!(first.id, second.id);
        assert_eq!(first.created_at, second.created_at);
        assert!(second.updated_at >= first.updated_at);
        assert_eq!(second.data, obj(json!({"a": 2})));
        assert_eq!(second.schema_version, "2.0");
        let other =
            StandaloneDataRepository::new(db.clone(), "other", PluginType::ExperimentDesign);
        match other
            .save_experiment_data(5, "other", JsonObject::new(), "1.0")
            .await
        {
            Err(e @ PluginError::DesignDataOwnershipConflict { .. }) => {
                assert_eq!(e.status().as_u16(), 409)
            }
            r => panic!("expected an ownership conflict, got {r:?}"),
        }
        match other.delete_experiment_data(5).await {
            Err(PluginError::Permission {
                required_permission,
                ..
            }) => {
                assert_eq!(required_permission.as_deref(), Some("design_data.self"))
            }
            r => panic!("expected a permission error, got {r:?}"),
        }
    }

    #[tokio::test]
    async fn standalone_store_enforces_the_write_policy_by_plugin_type() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = temp_db(dir.path());
        db.initialize().await.expect("initialize");
        let analysis = StandaloneDataRepository::new(db.clone(), "a", PluginType::Analysis);
        let err = analysis
            .save_experiment_data(1, "a", JsonObject::new(), "1.0")
            .await
            .expect_err("analysis plugins cannot write design data");
        assert_eq!(err.status().as_u16(), 403);
        assert_eq!(err.details()["required_permission"], "design_data.write");
        let err = analysis
            .save_analysis_result(1, "b", JsonObject::new())
            .await
            .expect_err("foreign plugin id");
        assert_eq!(
            err.details()["required_permission"],
            "analysis_results.self"
        );
        assert_eq!(err.details()["requested_plugin_id"], "b");
        let design = StandaloneDataRepository::new(db.clone(), "d", PluginType::ExperimentDesign);
        let err = design
            .save_analysis_result(1, "d", JsonObject::new())
            .await
            .expect_err("design plugins cannot write results");
        assert_eq!(
            err.details()["required_permission"],
            "analysis_results.write"
        );
    }

    #[tokio::test]
    async fn analysis_results_of_all_plugins_are_listed_by_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = temp_db(dir.path());
        db.initialize().await.expect("initialize");
        for name in ["b", "a"] {
            StandaloneDataRepository::new(db.clone(), name, PluginType::Analysis)
                .save_analysis_result(3, name, obj(json!({"by": name})))
                .await
                .expect("save");
        }
        let repo = StandaloneDataRepository::new(db.clone(), "a", PluginType::Analysis);
        let all = repo.get_analysis_results(3).await.expect("list");
        let owners: Vec<&str> = all.iter().map(|r| r.plugin_id.as_str()).collect();
        assert_eq!(owners, ["b", "a"]);
        assert!(repo.delete_analysis_result(3, "a").await.expect("delete"));
        assert!(
            !repo
                .delete_analysis_result(3, "a")
                .await
                .expect("delete again")
        );
    }
}
