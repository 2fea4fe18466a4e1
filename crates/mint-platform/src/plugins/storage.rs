//! Per-plugin storage of in-process plugins (`spec/context-and-data.md` §6,
//! `spec/migrations.md` §1): on PostgreSQL the schema `plugin_<slug>` in the platform database,
//! on SQLite the plugin's own file `<plugins.dataDir>/<safe name>/data.db`. The plugin's
//! migrations run here, under the runner's per-plugin lock, before `initialize`. The data
//! side of an uninstall (archive, purge) is here too.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use mint_sdk::local_database::safe_plugin_name;
use mint_sdk::migrations::{
    MigrationError, MigrationOps, POSTGRES_TRACKING_TABLE, PluginMigration, SQLITE_TRACKING_TABLE,
    TableDef, quote_ident,
};
use mint_sdk::sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use mint_sdk::sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, SqlxSqliteConnector, Statement,
    TransactionTrait,
};
use mint_sdk::{AnalysisPlugin, MigrationResult, MigrationRunner, PluginError};

use crate::config::DatabaseMode;
use crate::state::Platform;

/// The PostgreSQL schema of a plugin: `plugin_<slug>`, slug = the name lowercased with every run
/// of characters outside `[a-z0-9_]` replaced by `_`; the identifier is cut to 63 bytes
/// (PostgreSQL's limit). `"Panel Designer!"` → `plugin_panel_designer_`.
pub fn schema_name(plugin_name: &str) -> String {
    let mut out = String::from("plugin_");
    let mut in_run = false;
    for c in plugin_name.to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    // ASCII only, so any byte index is a char boundary.
    out.truncate(63);
    out
}

/// The directory of a plugin's files on SQLite: `<plugins.dataDir>/<safe name>`.
pub fn plugin_dir(platform: &Platform, plugin_name: &str) -> PathBuf {
    platform
        .config
        .plugins_data_dir()
        .join(safe_plugin_name(plugin_name))
}

/// Where one plugin's tables live.
#[derive(Debug, Clone)]
pub enum PluginStorage {
    /// A schema of the platform's PostgreSQL database.
    Postgres {
        /// The platform's pool.
        conn: DatabaseConnection,
        /// `plugin_<slug>`.
        schema: String,
    },
    /// The plugin's own SQLite file.
    Sqlite {
        /// A pool on `data.db`.
        conn: DatabaseConnection,
        /// The file.
        path: PathBuf,
    },
}

/// What the Migrating phase found (`LoadedPlugin.schema_version`, `pending_migrations`,
/// `migration_error`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The highest applied migration version; `None` for a plugin without migrations.
    pub schema_version: Option<u32>,
    /// Shipped versions not (successfully) applied, ascending.
    pub pending: Vec<u32>,
    /// Why the run failed, when it did.
    pub error: Option<String>,
}

fn storage_error(context: &str, err: impl std::fmt::Display) -> PluginError {
    PluginError::repository(format!("{context}: {err}"))
}

impl PluginStorage {
    /// Opens (creating when missing) the storage of `plugin_name`: the schema on PostgreSQL,
    /// the directory and `data.db` on SQLite.
    ///
    /// Errors: `Repository` when the schema cannot be created; `Configuration`
    /// (`plugins.dataDir`) when the file cannot be created or opened.
    pub async fn open(platform: &Platform, plugin_name: &str) -> Result<Self, PluginError> {
        match platform.store.mode() {
            DatabaseMode::Postgresql => {
                let schema = schema_name(plugin_name);
                let conn = platform.store.connection().clone();
                let create = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&schema));
                if let Err(err) = conn.execute_unprepared(&create).await {
                    // Two servers creating it at once: fine if it exists now.
                    let exists = conn
                        .query_one_raw(Statement::from_sql_and_values(
                            conn.get_database_backend(),
                            "SELECT 1 AS n FROM pg_namespace WHERE nspname = $1",
                            [schema.clone().into()],
                        ))
                        .await
                        .ok()
                        .flatten()
                        .is_some();
                    if !exists {
                        return Err(storage_error(
                            &format!("Cannot create the schema {schema}"),
                            err,
                        ));
                    }
                }
                Ok(Self::Postgres { conn, schema })
            }
            DatabaseMode::Sqlite => {
                let path = plugin_dir(platform, plugin_name).join("data.db");
                let conn = open_sqlite(&path).await?;
                Ok(Self::Sqlite { conn, path })
            }
        }
    }

    /// The connection migrations and sessions use.
    pub fn connection(&self) -> &DatabaseConnection {
        match self {
            Self::Postgres { conn, .. } | Self::Sqlite { conn, .. } => conn,
        }
    }

    /// A transaction on the plugin's tables: on PostgreSQL it starts with
    /// `SET LOCAL search_path TO "<schema>"`, so unqualified names are the plugin's.
    ///
    /// Errors: `Repository` when the database is unreachable.
    pub async fn session(&self) -> Result<DatabaseTransaction, PluginError> {
        let txn = self
            .connection()
            .begin()
            .await
            .map_err(|e| storage_error("Cannot begin a plugin transaction", e))?;
        if let Self::Postgres { schema, .. } = self {
            txn.execute_unprepared(&format!("SET LOCAL search_path TO {}", quote_ident(schema)))
                .await
                .map_err(|e| storage_error("Cannot scope the session to the plugin schema", e))?;
        }
        Ok(txn)
    }

    /// Closes the plugin's own SQLite pool (the PostgreSQL pool is the platform's).
    pub async fn close(&self) {
        if let Self::Sqlite { conn, .. } = self {
            let _ = conn.clone().close().await;
        }
    }

    fn runner(&self, runner_name: &str) -> Result<MigrationRunner, MigrationError> {
        let runner = MigrationRunner::new(self.connection().clone(), runner_name)?;
        Ok(match self {
            Self::Postgres { schema, .. } => runner.with_schema(schema.clone()),
            Self::Sqlite { .. } => runner,
        })
    }

    /// The Migrating phase (migrations.md §1): with migrations, runs them (adopting a database
    /// built from the shared models), then requires every model table and column; without
    /// migrations, creates the missing shared-model tables.
    ///
    /// Errors: the status with `error` set (and the pending versions) when a step failed.
    pub async fn migrate(
        &self,
        plugin: &dyn AnalysisPlugin,
        plugin_name: &str,
    ) -> Result<MigrationStatus, MigrationStatus> {
        let migrations = plugin.migrations();
        let models = plugin.shared_models();
        if migrations.is_empty() {
            return match self.create_model_tables(plugin_name, models).await {
                Ok(()) => Ok(MigrationStatus::default()),
                Err(message) => Err(MigrationStatus {
                    error: Some(message),
                    ..MigrationStatus::default()
                }),
            };
        }
        let mut shipped: Vec<u32> = migrations.iter().map(|m| m.version()).collect();
        shipped.sort_unstable();
        shipped.dedup();
        let runner = match self.runner(plugin_name) {
            Ok(r) => r,
            Err(e) => {
                return Err(MigrationStatus {
                    schema_version: Some(0),
                    pending: shipped,
                    error: Some(e.to_string()),
                });
            }
        };
        let outcome = async {
            let adopt = runner.tables_already_exist(&models).await?;
            runner.run(&migrations, adopt).await
        }
        .await;
        match outcome {
            Ok(result) => {
                let missing = runner
                    .missing_model_parts(&models)
                    .await
                    .unwrap_or_default();
                if !missing.is_empty() {
                    return Err(MigrationStatus {
                        schema_version: Some(result.current_version),
                        pending: Vec::new(),
                        error: Some(format!(
                            "After its migrations the plugin's tables lack shared-model parts: {}",
                            missing.join(", ")
                        )),
                    });
                }
                Ok(MigrationStatus {
                    schema_version: Some(result.current_version),
                    pending: Vec::new(),
                    error: None,
                })
            }
            Err(err) => {
                let line = MigrationResult::from_error(&err)
                    .errors
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| err.to_string());
                let applied: Vec<u32> = runner
                    .records()
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| r.success)
                    .map(|r| r.version)
                    .collect();
                Err(MigrationStatus {
                    schema_version: Some(applied.iter().copied().max().unwrap_or(0)),
                    pending: shipped
                        .into_iter()
                        .filter(|v| !applied.contains(v))
                        .collect(),
                    error: Some(line),
                })
            }
        }
    }

    /// create_all for a plugin without migrations (migrations.md §1 rule 1): each missing model
    /// table with its indexes, in one transaction, leaving no tracking rows behind.
    async fn create_model_tables(
        &self,
        plugin_name: &str,
        models: Vec<TableDef>,
    ) -> Result<(), String> {
        if models.is_empty() {
            return Ok(());
        }
        // The SDK builds table DDL only inside a migration run, so the tables are created by a
        // one-off migration under a name of its own, whose tracking rows are removed after.
        let runner_name = format!("{plugin_name}#create_all");
        let runner = self.runner(&runner_name).map_err(|e| e.to_string())?;
        let create: Vec<Box<dyn PluginMigration>> = vec![Box::new(CreateAll { models })];
        runner
            .run(&create, false)
            .await
            .map_err(|e| format!("Cannot create the shared-model tables: {e}"))?;
        let conn = self.connection();
        let sql = format!(
            "DELETE FROM {} WHERE plugin_name = $1",
            runner.tracking_table()
        );
        conn.execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [runner_name.into()],
        ))
        .await
        .map_err(|e| format!("Cannot clean up after creating the model tables: {e}"))?;
        Ok(())
    }
}

/// Renames each table listed in `rows` (column `t`; in `schema` on PostgreSQL) to
/// `archived_<stamp>_<table>`, cut to PostgreSQL's 63-byte identifier limit on a char
/// boundary; returns the new names.
///
/// Errors: `Repository` when a name cannot be read or a rename fails.
async fn rename_to_archived(
    txn: &sea_orm::DatabaseTransaction,
    rows: Vec<sea_orm::QueryResult>,
    schema: Option<&str>,
    stamp: i64,
) -> Result<Vec<String>, PluginError> {
    let mut archived = Vec::with_capacity(rows.len());
    for row in rows {
        let table: String = row
            .try_get("", "t")
            .map_err(|e| storage_error("Cannot read a table name", e))?;
        let mut new_name = format!("archived_{stamp}_{table}");
        while new_name.len() > 63 {
            new_name.pop();
        }
        let qualified = match schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(&table)),
            None => quote_ident(&table),
        };
        txn.execute_unprepared(&format!(
            "ALTER TABLE {qualified} RENAME TO {}",
            quote_ident(&new_name)
        ))
        .await
        .map_err(|e| storage_error(&format!("Cannot archive the table {table}"), e))?;
        archived.push(new_name);
    }
    Ok(archived)
}

/// Archives a plugin's tables for an `archive` uninstall (migrations.md §1): every table of
/// the plugin (not the tracking table, not tables archived before) is renamed to
/// `archived_<unix-ts>_<table>`, and its tracking rows are deleted, in one transaction. On
/// PostgreSQL the tables stay in the schema `plugin_<slug>`; on SQLite in the plugin's
/// `data.db`. Returns the new table names (none when the plugin never stored anything).
///
/// Errors: `Repository` when a statement fails (nothing is renamed then).
pub async fn archive_plugin_data(
    platform: &Platform,
    plugin_name: &str,
) -> Result<Vec<String>, PluginError> {
    let stamp = chrono::Utc::now().timestamp();
    match platform.store.mode() {
        DatabaseMode::Postgresql => {
            let schema = schema_name(plugin_name);
            let conn = platform.store.connection();
            let txn = conn
                .begin()
                .await
                .map_err(|e| storage_error("Cannot begin the archive", e))?;
            let rows = txn
                .query_all_raw(Statement::from_sql_and_values(
                    conn.get_database_backend(),
                    "SELECT table_name::text AS t FROM information_schema.tables \
                     WHERE table_schema = $1 AND table_type = 'BASE TABLE' \
                     AND table_name::text NOT LIKE 'archived\\_%' ORDER BY table_name",
                    [schema.clone().into()],
                ))
                .await
                .map_err(|e| storage_error("Cannot list the plugin's tables", e))?;
            let archived = rename_to_archived(&txn, rows, Some(&schema), stamp).await?;
            delete_postgres_tracking_rows(&txn, plugin_name).await?;
            txn.commit()
                .await
                .map_err(|e| storage_error("Cannot commit the archive", e))?;
            Ok(archived)
        }
        DatabaseMode::Sqlite => {
            let path = plugin_dir(platform, plugin_name).join("data.db");
            if !path.is_file() {
                return Ok(Vec::new());
            }
            let conn = open_sqlite(&path).await?;
            let outcome = async {
                let txn = conn
                    .begin()
                    .await
                    .map_err(|e| storage_error("Cannot begin the archive", e))?;
                let rows = txn
                    .query_all_raw(Statement::from_string(
                        conn.get_database_backend(),
                        format!(
                            "SELECT name AS t FROM sqlite_master WHERE type = 'table' \
                             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                             AND name NOT LIKE 'archived\\_%' ESCAPE '\\' \
                             AND name <> '{SQLITE_TRACKING_TABLE}' ORDER BY name"
                        ),
                    ))
                    .await
                    .map_err(|e| storage_error("Cannot list the plugin's tables", e))?;
                let archived = rename_to_archived(&txn, rows, None, stamp).await?;
                let tracking = txn
                    .query_one_raw(Statement::from_string(
                        conn.get_database_backend(),
                        format!(
                            "SELECT 1 AS n FROM sqlite_master WHERE type = 'table' \
                             AND name = '{SQLITE_TRACKING_TABLE}'"
                        ),
                    ))
                    .await
                    .map_err(|e| storage_error("Cannot look for the tracking table", e))?;
                if tracking.is_some() {
                    txn.execute_raw(Statement::from_sql_and_values(
                        conn.get_database_backend(),
                        format!("DELETE FROM {SQLITE_TRACKING_TABLE} WHERE plugin_name = $1"),
                        [plugin_name.into()],
                    ))
                    .await
                    .map_err(|e| storage_error("Cannot delete the tracking rows", e))?;
                }
                txn.commit()
                    .await
                    .map_err(|e| storage_error("Cannot commit the archive", e))?;
                Ok(archived)
            }
            .await;
            let _ = conn.close().await;
            outcome
        }
    }
}

/// Deletes a plugin's tracking rows from `public.plugin_schema_migrations`, when that table
/// exists.
async fn delete_postgres_tracking_rows(
    txn: &DatabaseTransaction,
    plugin_name: &str,
) -> Result<(), PluginError> {
    let backend = txn.get_database_backend();
    let exists = txn
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT to_regclass('{POSTGRES_TRACKING_TABLE}')::text AS t"),
        ))
        .await
        .map_err(|e| storage_error("Cannot look for the tracking table", e))?
        .and_then(|row| row.try_get::<Option<String>>("", "t").ok().flatten())
        .is_some();
    if exists {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM {POSTGRES_TRACKING_TABLE} WHERE plugin_name = $1"),
            [plugin_name.into()],
        ))
        .await
        .map_err(|e| storage_error("Cannot delete the tracking rows", e))?;
    }
    Ok(())
}

/// Purges a plugin's data for a `purge` uninstall (migrations.md §1): on PostgreSQL drops the
/// schema `plugin_<slug>` with its tables and deletes the tracking rows (one transaction);
/// on both backends then removes `<plugins.dataDir>/<safe name>/` (on SQLite that holds the
/// tables and the tracking rows), renaming it aside first so it never stays half-deleted
/// under its own name.
///
/// Errors: `Repository` when the schema cannot be dropped (nothing is removed then);
/// `Configuration` (`plugins.dataDir`) when the directory cannot be moved aside.
pub async fn purge_plugin_data(platform: &Platform, plugin_name: &str) -> Result<(), PluginError> {
    if platform.store.mode() == DatabaseMode::Postgresql {
        let conn = platform.store.connection();
        let txn = conn
            .begin()
            .await
            .map_err(|e| storage_error("Cannot begin the purge", e))?;
        let schema = schema_name(plugin_name);
        txn.execute_unprepared(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            quote_ident(&schema)
        ))
        .await
        .map_err(|e| storage_error(&format!("Cannot drop the schema {schema}"), e))?;
        delete_postgres_tracking_rows(&txn, plugin_name).await?;
        txn.commit()
            .await
            .map_err(|e| storage_error("Cannot commit the purge", e))?;
    }
    let dir = plugin_dir(platform, plugin_name);
    let removed = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if !dir.exists() {
            return Ok(());
        }
        let aside = dir.with_file_name(format!(
            ".purged-{}-{:016x}",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            rand::random::<u64>()
        ));
        std::fs::rename(&dir, &aside)?;
        if let Err(err) = std::fs::remove_dir_all(&aside) {
            tracing::warn!(dir = %aside.display(), error = %err, "cannot remove purged plugin data");
        }
        Ok(())
    })
    .await
    .map_err(|e| PluginError::unexpected(format!("The purge panicked: {e}")))?;
    removed.map_err(|e| {
        PluginError::configuration(format!("Cannot remove the plugin's data directory: {e}"))
            .with_config_key("plugins.dataDir")
    })
}

/// The one-off migration behind create_all.
struct CreateAll {
    models: Vec<TableDef>,
}

#[async_trait]
impl PluginMigration for CreateAll {
    fn version(&self) -> u32 {
        1
    }

    fn name(&self) -> &'static str {
        "create_all"
    }

    fn checksum(&self) -> String {
        "create_all".into()
    }

    async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
        for model in &self.models {
            ops.create_table(&model.name, &model.columns).await?;
        }
        Ok(())
    }
}

/// Opens a plugin's SQLite file (directory created; WAL, foreign keys on, 10 s busy timeout).
async fn open_sqlite(path: &Path) -> Result<DatabaseConnection, PluginError> {
    let fail = |e: &dyn std::fmt::Display| {
        PluginError::configuration(format!(
            "Cannot open the plugin database {}: {e}",
            path.display()
        ))
        .with_config_key("plugins.dataDir")
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| fail(&e))?;
    }
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(|e| fail(&e))?
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10));
    let options = {
        use mint_sdk::sea_orm::sqlx::ConnectOptions as _;
        options.disable_statement_logging()
    };
    let pool = SqlitePoolOptions::new()
        .min_connections(0)
        .max_connections(8)
        .connect_with(options)
        .await
        .map_err(|e| fail(&e))?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_follow_the_slug_rule_and_the_length_limit() {
        assert_eq!(schema_name("panel-designer"), "plugin_panel_designer");
        assert_eq!(schema_name("Hello MINT!!"), "plugin_hello_mint_");
        assert_eq!(schema_name("a__b"), "plugin_a__b");
        assert_eq!(schema_name("Zelle--2"), "plugin_zelle_2");
        assert_eq!(schema_name("Ünïcode"), "plugin__n_code");
        let long = schema_name(&"x".repeat(100));
        assert_eq!(long.len(), 63);
        assert!(long.starts_with("plugin_xxx"));
    }
}
