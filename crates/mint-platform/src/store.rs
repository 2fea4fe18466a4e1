//! The platform's own storage: users, roles, projects, experiments, design data, analysis
//! results, plugin roles, plugin settings and installed bundles, on SQLite (embedded default) or PostgreSQL
//! (`spec/platform-config.md` §3 `database.*`).
//!
//! SQL is written once for both backends: `$1`, `$2`… placeholders (sqlx binds them by number on
//! SQLite too), integers as `BIGINT`, JSON payloads and timestamps as `TEXT` (RFC 3339, UTC,
//! microseconds, so they sort as text), booleans as `0`/`1`. The schema is versioned in
//! `mint_platform_schema` and migrated by [`Store::migrate`] at start, each version in one
//! transaction.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use mint_sdk::PluginError;
use mint_sdk::error::JsonObject;
use mint_sdk::repositories::{DesignData, PluginAnalysisResult, User, UserPluginRole};
use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult,
    SqlxPostgresConnector, SqlxSqliteConnector, Statement, TransactionTrait, Value as DbValue,
};
use serde_json::Value;

use crate::config::{DatabaseMode, LoadedConfig};

/// A bound SQL parameter.
pub type Param = DbValue;

/// The platform database: a connection pool and its backend.
#[derive(Debug, Clone)]
pub struct Store {
    conn: DatabaseConnection,
    mode: DatabaseMode,
}

/// One schema version: its number and DDL statements (`{pk}` becomes the backend's
/// auto-increment primary key).
const SCHEMA: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE users (
            id {pk},
            username TEXT NOT NULL UNIQUE,
            email TEXT,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            first_name TEXT,
            last_name TEXT,
            shortname TEXT,
            is_active BIGINT NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)",
            "CREATE TABLE roles (
            id {pk},
            name TEXT NOT NULL,
            slug TEXT NOT NULL UNIQUE,
            permissions TEXT NOT NULL,
            is_system BIGINT NOT NULL DEFAULT 0)",
            "CREATE TABLE projects (
            id {pk},
            name TEXT NOT NULL,
            description TEXT,
            status TEXT NOT NULL DEFAULT 'active',
            lead_id BIGINT,
            tags TEXT,
            start_date TEXT,
            end_date TEXT,
            created_by BIGINT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)",
            "CREATE TABLE project_members (
            project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (project_id, user_id))",
            "CREATE TABLE experiments (
            id {pk},
            name TEXT NOT NULL,
            experiment_code TEXT NOT NULL UNIQUE,
            experiment_type TEXT NOT NULL,
            status TEXT NOT NULL,
            project_id BIGINT REFERENCES projects(id) ON DELETE CASCADE,
            parent_experiment_id BIGINT REFERENCES experiments(id) ON DELETE SET NULL,
            notes TEXT,
            tags TEXT NOT NULL,
            custom_metadata TEXT NOT NULL,
            start_date TEXT,
            end_date TEXT,
            created_by BIGINT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)",
            "CREATE INDEX experiments_project ON experiments(project_id)",
            "CREATE TABLE experiment_collaborators (
            experiment_id BIGINT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            PRIMARY KEY (experiment_id, user_id))",
            "CREATE TABLE design_data (
            id {pk},
            experiment_id BIGINT NOT NULL UNIQUE REFERENCES experiments(id) ON DELETE CASCADE,
            plugin_id TEXT NOT NULL,
            data TEXT NOT NULL,
            schema_version TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)",
            "CREATE TABLE analysis_results (
            id {pk},
            experiment_id BIGINT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            plugin_id TEXT NOT NULL,
            result TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (experiment_id, plugin_id))",
            "CREATE TABLE plugin_roles (
            id {pk},
            plugin_id TEXT NOT NULL,
            user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (plugin_id, user_id))",
            "CREATE TABLE plugin_configs (
            plugin_id TEXT PRIMARY KEY,
            config TEXT NOT NULL,
            revision BIGINT NOT NULL,
            updated_at TEXT NOT NULL)",
            "CREATE TABLE counters (
            name TEXT PRIMARY KEY,
            value BIGINT NOT NULL)",
        ],
    ),
    (
        2,
        // Installed plugin bundles (`plugins::installed`): one row per package, naming the
        // installed version's directory relative to the data dir and its manifest.
        &["CREATE TABLE installed_plugins (
            name TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            entry_point TEXT NOT NULL,
            install_dir TEXT NOT NULL,
            manifest TEXT NOT NULL,
            installed_by BIGINT,
            installed_at TEXT NOT NULL)"],
    ),
];

fn db_error(context: &str, err: impl std::fmt::Display) -> PluginError {
    PluginError::repository(format!("{context}: {err}"))
}

impl Store {
    /// Opens the configured database: the SQLite file (created with its directory; WAL,
    /// foreign keys on) or the PostgreSQL URL (`+driver` suffixes such as `+asyncpg` dropped).
    ///
    /// Errors: `Configuration` (`database.url` / `database.path`) when it cannot be opened.
    pub async fn connect(config: &LoadedConfig) -> Result<Self, PluginError> {
        let settings = &config.settings;
        let pool = &settings.database.pool;
        let max = pool.max.max(1);
        let min = pool.min.min(max);
        let mode = if settings.dev_mode {
            DatabaseMode::Sqlite
        } else {
            settings.database.mode
        };
        match mode {
            DatabaseMode::Sqlite => {
                let path = config.sqlite_path();
                let fail = |e: &dyn std::fmt::Display| {
                    PluginError::configuration(format!(
                        "Cannot open the platform database {}: {e}",
                        path.display()
                    ))
                    .with_config_key("database.path")
                };
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| fail(&e))?;
                }
                let options = SqliteConnectOptions::from_str("sqlite://")
                    .map_err(|e| fail(&e))?
                    .filename(&path)
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10));
                let options = {
                    use sea_orm::sqlx::ConnectOptions as _;
                    options.disable_statement_logging()
                };
                let pool = SqlitePoolOptions::new()
                    .min_connections(min)
                    .max_connections(max)
                    .connect_with(options)
                    .await
                    .map_err(|e| fail(&e))?;
                Ok(Self {
                    conn: SqlxSqliteConnector::from_sqlx_sqlite_pool(pool),
                    mode,
                })
            }
            DatabaseMode::Postgresql => {
                let url = settings.database.url.clone().ok_or_else(|| {
                    PluginError::configuration(
                        "database.url is required when database.mode is postgresql",
                    )
                    .with_config_key("database.url")
                })?;
                Self::connect_postgres(&url, min, max).await
            }
        }
    }

    /// Opens a PostgreSQL database by URL with the given pool bounds.
    ///
    /// Errors: `Configuration` (`database.url`); the message never repeats the password.
    pub async fn connect_postgres(url: &str, min: u32, max: u32) -> Result<Self, PluginError> {
        let url = normalize_postgres_url(url);
        let options = sea_orm::sqlx::postgres::PgConnectOptions::from_str(&url).map_err(|_| {
            PluginError::configuration("database.url is not a valid PostgreSQL URL")
                .with_config_key("database.url")
        })?;
        let options = {
            use sea_orm::sqlx::ConnectOptions as _;
            options.disable_statement_logging()
        };
        let pool = PgPoolOptions::new()
            .min_connections(min)
            .max_connections(max.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| {
                PluginError::configuration(format!("Cannot connect to PostgreSQL: {e}"))
                    .with_config_key("database.url")
            })?;
        Ok(Self {
            conn: SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
            mode: DatabaseMode::Postgresql,
        })
    }

    /// The backend in use.
    pub fn mode(&self) -> DatabaseMode {
        self.mode
    }

    /// sea-orm's name for the backend.
    pub fn backend(&self) -> DbBackend {
        match self.mode {
            DatabaseMode::Sqlite => DbBackend::Sqlite,
            DatabaseMode::Postgresql => DbBackend::Postgres,
        }
    }

    /// The connection pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Begins a transaction; dropping it rolls back.
    ///
    /// Errors: `Repository` when the database is unreachable.
    pub async fn begin(&self) -> Result<DatabaseTransaction, PluginError> {
        self.conn
            .begin()
            .await
            .map_err(|e| db_error("Cannot begin a transaction", e))
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.conn
            .query_one_raw(Statement::from_string(self.backend(), "SELECT 1"))
            .await
            .is_ok()
    }

    /// Closes the pool.
    pub async fn close(&self) {
        let _ = self.conn.clone().close().await;
    }

    /// Applies every schema version not yet recorded, each in its own transaction; returns the
    /// versions applied.
    ///
    /// Errors: `Repository` when a statement fails (that version is rolled back).
    pub async fn migrate(&self) -> Result<Vec<i64>, PluginError> {
        self.conn
            .execute_unprepared(
                "CREATE TABLE IF NOT EXISTS mint_platform_schema (
                    version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
            )
            .await
            .map_err(|e| db_error("Cannot create the schema table", e))?;
        let pk = match self.mode {
            DatabaseMode::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            DatabaseMode::Postgresql => "BIGSERIAL PRIMARY KEY",
        };
        let mut applied = Vec::new();
        for (version, statements) in SCHEMA {
            let txn = self.begin().await?;
            if self.mode == DatabaseMode::Postgresql {
                // One platform at a time migrates the schema.
                txn.execute_unprepared("SELECT pg_advisory_xact_lock(7263510001)")
                    .await
                    .map_err(|e| db_error("Cannot lock the schema", e))?;
            }
            let done = self
                .one(
                    &txn,
                    "SELECT version FROM mint_platform_schema WHERE version = $1",
                    [(*version).into()],
                )
                .await?;
            if done.is_some() {
                continue;
            }
            for ddl in *statements {
                txn.execute_unprepared(&ddl.replace("{pk}", pk))
                    .await
                    .map_err(|e| db_error(&format!("Schema version {version} failed"), e))?;
            }
            self.exec(
                &txn,
                "INSERT INTO mint_platform_schema (version, applied_at) VALUES ($1, $2)",
                [(*version).into(), now_text().into()],
            )
            .await?;
            txn.commit()
                .await
                .map_err(|e| db_error("Cannot commit the schema", e))?;
            applied.push(*version);
        }
        Ok(applied)
    }

    fn stmt(&self, sql: &str, params: impl IntoIterator<Item = Param>) -> Statement {
        Statement::from_sql_and_values(self.backend(), sql, params)
    }

    /// Runs a statement; returns the number of rows affected.
    ///
    /// Errors: `Repository`; unique and foreign-key violations become 409 `Conflict` (without
    /// driver text), as `PluginError: From<DbErr>` does.
    pub async fn exec(
        &self,
        db: &impl ConnectionTrait,
        sql: &str,
        params: impl IntoIterator<Item = Param>,
    ) -> Result<u64, PluginError> {
        Ok(db
            .execute_raw(self.stmt(sql, params))
            .await
            .map_err(PluginError::from)?
            .rows_affected())
    }

    /// All rows of a query.
    ///
    /// Errors: as [`Store::exec`].
    pub async fn all(
        &self,
        db: &impl ConnectionTrait,
        sql: &str,
        params: impl IntoIterator<Item = Param>,
    ) -> Result<Vec<QueryResult>, PluginError> {
        db.query_all_raw(self.stmt(sql, params))
            .await
            .map_err(PluginError::from)
    }

    /// The first row of a query, if any.
    ///
    /// Errors: as [`Store::exec`].
    pub async fn one(
        &self,
        db: &impl ConnectionTrait,
        sql: &str,
        params: impl IntoIterator<Item = Param>,
    ) -> Result<Option<QueryResult>, PluginError> {
        db.query_one_raw(self.stmt(sql, params))
            .await
            .map_err(PluginError::from)
    }

    /// Runs an `INSERT … RETURNING id` and returns the new id.
    ///
    /// Errors: as [`Store::exec`].
    pub async fn insert(
        &self,
        db: &impl ConnectionTrait,
        sql: &str,
        params: impl IntoIterator<Item = Param>,
    ) -> Result<i64, PluginError> {
        let row = self
            .one(db, sql, params)
            .await?
            .ok_or_else(|| PluginError::repository("The database returned no id"))?;
        get_i64(&row, "id")
    }

    /// A single integer, e.g. `SELECT COUNT(*) AS n …`.
    ///
    /// Errors: as [`Store::exec`].
    pub async fn count(
        &self,
        db: &impl ConnectionTrait,
        sql: &str,
        params: impl IntoIterator<Item = Param>,
    ) -> Result<i64, PluginError> {
        match self.one(db, sql, params).await? {
            Some(row) => get_i64(&row, "n"),
            None => Ok(0),
        }
    }

    /// Increments and returns the named counter (starting at 1), inside `db`'s transaction.
    ///
    /// Errors: as [`Store::exec`].
    pub async fn next_counter(
        &self,
        db: &impl ConnectionTrait,
        name: &str,
    ) -> Result<i64, PluginError> {
        let updated = self
            .exec(
                db,
                "UPDATE counters SET value = value + 1 WHERE name = $1",
                [name.into()],
            )
            .await?;
        if updated == 0 {
            self.exec(
                db,
                "INSERT INTO counters (name, value) VALUES ($1, 1)",
                [name.into()],
            )
            .await?;
        }
        self.count(
            db,
            "SELECT value AS n FROM counters WHERE name = $1",
            [name.into()],
        )
        .await
    }

    /// Reads the named counter without changing it (0 when never used).
    ///
    /// Errors: as [`Store::exec`].
    pub async fn peek_counter(
        &self,
        db: &impl ConnectionTrait,
        name: &str,
    ) -> Result<i64, PluginError> {
        self.count(
            db,
            "SELECT value AS n FROM counters WHERE name = $1",
            [name.into()],
        )
        .await
    }
}

/// `postgresql+asyncpg://…` → `postgresql://…` (Python configs carry a driver suffix).
pub fn normalize_postgres_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = scheme.split('+').next().unwrap_or(scheme);
            format!("{scheme}://{rest}")
        }
        None => url.to_string(),
    }
}

// ----- row helpers ------------------------------------------------------------------------------

/// Now as stored: RFC 3339, UTC `Z`, microseconds.
pub fn now_text() -> String {
    ts_text(&mint_sdk::repositories::now_utc())
}

/// A timestamp as stored.
pub fn ts_text(ts: &DateTime<Utc>) -> String {
    mint_sdk::repositories::timestamp::format(ts)
}

/// A column as `i64`.
///
/// Errors: `Repository` when the column is missing or not an integer.
pub fn get_i64(row: &QueryResult, col: &str) -> Result<i64, PluginError> {
    row.try_get::<i64>("", col)
        .map_err(|e| db_error(&format!("column {col}"), e))
}

/// A nullable integer column.
///
/// Errors: `Repository` when the column is missing or not an integer.
pub fn get_opt_i64(row: &QueryResult, col: &str) -> Result<Option<i64>, PluginError> {
    row.try_get::<Option<i64>>("", col)
        .map_err(|e| db_error(&format!("column {col}"), e))
}

/// A text column.
///
/// Errors: `Repository` when the column is missing or not text.
pub fn get_text(row: &QueryResult, col: &str) -> Result<String, PluginError> {
    row.try_get::<String>("", col)
        .map_err(|e| db_error(&format!("column {col}"), e))
}

/// A nullable text column.
///
/// Errors: `Repository` when the column is missing or not text.
pub fn get_opt_text(row: &QueryResult, col: &str) -> Result<Option<String>, PluginError> {
    row.try_get::<Option<String>>("", col)
        .map_err(|e| db_error(&format!("column {col}"), e))
}

/// A `0`/`1` column as a bool.
///
/// Errors: as [`get_i64`].
pub fn get_bool(row: &QueryResult, col: &str) -> Result<bool, PluginError> {
    Ok(get_i64(row, col)? != 0)
}

/// A stored timestamp.
///
/// Errors: `Repository` when it does not parse.
pub fn get_ts(row: &QueryResult, col: &str) -> Result<DateTime<Utc>, PluginError> {
    let text = get_text(row, col)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| db_error(&format!("column {col} holds '{text}'"), e))
}

/// A stored date (`YYYY-MM-DD`), if any.
///
/// Errors: `Repository` when it does not parse.
pub fn get_opt_date(row: &QueryResult, col: &str) -> Result<Option<NaiveDate>, PluginError> {
    get_opt_text(row, col)?
        .map(|text| {
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map_err(|e| db_error(&format!("column {col} holds '{text}'"), e))
        })
        .transpose()
}

/// A stored JSON object (`{}` for NULL).
///
/// Errors: `Repository` when it does not parse as an object.
pub fn get_object(row: &QueryResult, col: &str) -> Result<JsonObject, PluginError> {
    match get_opt_text(row, col)? {
        None => Ok(JsonObject::new()),
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Ok(JsonObject::new()),
            _ => Err(PluginError::repository(format!(
                "column {col} does not hold a JSON object"
            ))),
        },
    }
}

/// A JSON value as stored text.
pub fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

/// A nullable text parameter.
pub fn opt_text(value: Option<impl Into<String>>) -> Param {
    DbValue::String(value.map(|v| v.into()))
}

/// A nullable integer parameter.
pub fn opt_i64(value: Option<i64>) -> Param {
    DbValue::BigInt(value)
}

/// A nullable date parameter (stored as `YYYY-MM-DD`).
pub fn opt_date(value: Option<NaiveDate>) -> Param {
    opt_text(value.map(|d| d.format("%Y-%m-%d").to_string()))
}

/// The user columns every user query selects.
pub const USER_COLUMNS: &str = "id, username, email, role, first_name, last_name, shortname, \
                                is_active, created_at, updated_at";

/// A `users` row (without the hash).
///
/// Errors: `Repository` for a malformed row.
pub fn user_row(row: &QueryResult) -> Result<User, PluginError> {
    Ok(User {
        id: get_i64(row, "id")?,
        username: get_text(row, "username")?,
        role: get_text(row, "role")?,
        is_active: get_bool(row, "is_active")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        email: get_opt_text(row, "email")?,
        shortname: get_opt_text(row, "shortname")?,
        first_name: get_opt_text(row, "first_name")?,
        last_name: get_opt_text(row, "last_name")?,
    })
}

/// A `design_data` row.
///
/// Errors: `Repository` for a malformed row.
pub fn design_row(row: &QueryResult) -> Result<DesignData, PluginError> {
    Ok(DesignData {
        id: get_i64(row, "id")?,
        experiment_id: get_i64(row, "experiment_id")?,
        plugin_id: get_text(row, "plugin_id")?,
        data: get_object(row, "data")?,
        schema_version: get_text(row, "schema_version")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

/// An `analysis_results` row.
///
/// Errors: `Repository` for a malformed row.
pub fn result_row(row: &QueryResult) -> Result<PluginAnalysisResult, PluginError> {
    Ok(PluginAnalysisResult {
        id: get_i64(row, "id")?,
        experiment_id: get_i64(row, "experiment_id")?,
        plugin_id: get_text(row, "plugin_id")?,
        result: get_object(row, "result")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

/// A `plugin_roles` row.
///
/// Errors: `Repository` for a malformed row.
pub fn plugin_role_row(row: &QueryResult) -> Result<UserPluginRole, PluginError> {
    Ok(UserPluginRole {
        id: get_i64(row, "id")?,
        user_id: get_i64(row, "user_id")?,
        plugin_id: get_text(row, "plugin_id")?,
        role: get_text(row, "role")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh SQLite store in `dir`, migrated.
    pub(crate) async fn sqlite_store(dir: &std::path::Path) -> Store {
        let sources = crate::config::ConfigSources {
            data_dir: Some(dir.to_path_buf()),
            ..Default::default()
        };
        let config = crate::config::load(&sources).expect("config");
        let store = Store::connect(&config).await.expect("connect");
        store.migrate().await.expect("migrate");
        store
    }

    #[tokio::test]
    async fn migrate_is_idempotent_and_numbered_params_bind_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path()).await;
        assert!(store.migrate().await.unwrap().is_empty());
        let conn = store.connection();
        // `$2` used twice and before `$1`: bound by number, not by position.
        let row = store
            .one(
                conn,
                "SELECT $2 AS a, $1 AS b, $2 AS c",
                ["one".into(), "two".into()],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(get_text(&row, "a").unwrap(), "two");
        assert_eq!(get_text(&row, "b").unwrap(), "one");
        assert_eq!(get_text(&row, "c").unwrap(), "two");
        assert_eq!(store.next_counter(conn, "exp").await.unwrap(), 1);
        assert_eq!(store.next_counter(conn, "exp").await.unwrap(), 2);
        assert_eq!(store.peek_counter(conn, "exp").await.unwrap(), 2);
        assert_eq!(store.peek_counter(conn, "other").await.unwrap(), 0);
    }

    #[test]
    fn driver_suffixes_are_dropped_from_postgres_urls() {
        assert_eq!(
            normalize_postgres_url("postgresql+asyncpg://u:p@h:5432/db"),
            "postgresql://u:p@h:5432/db"
        );
        assert_eq!(normalize_postgres_url("postgres://h/db"), "postgres://h/db");
    }
}
