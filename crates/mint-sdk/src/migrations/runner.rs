//! [`MigrationRunner`]: applies a plugin's migrations once each, in version order, under a lock,
//! in one transaction, and records them in the tracking table (`spec/migrations.md` §4).
//!
//! The tracking table's DDL is identical to the Python SDK's, so databases stay interchangeable:
//! SQLite `_plugin_migrations` (one per database file), PostgreSQL
//! `public.plugin_schema_migrations` (shared by all plugins). Runs of one plugin serialize:
//! PostgreSQL through `pg_advisory_xact_lock` with the Python key (so mixed fleets serialize
//! too), SQLite through an immediate write lock (`BEGIN IMMEDIATE` semantics, waiting up to the
//! lock timeout; it serializes all plugins of the file). A run is
//! atomic on both backends; a failed migration leaves the schema exactly as before the run,
//! and a `success = false` row records the attempt.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::FutureExt;
use md5::{Digest, Md5};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, Statement, TransactionTrait,
    Value,
};

use super::error::{MigrationError, migration_label};
use super::ops::{MigrationOps, probe_columns, probe_table};
use super::schema::{Dialect, TableDef, quote_ident};
use super::{MigrationResult, PluginMigration};

/// The marker stored in `error_message` of a stamped row (§4.2): the migration was recorded as
/// applied because its tables already existed, not executed.
pub const STAMP_MARKER: &str = "stamped_on_fresh_install";

/// SQLite tracking table (one per database file).
pub const SQLITE_TRACKING_TABLE: &str = "_plugin_migrations";

/// PostgreSQL tracking table, always in `public`, shared by all plugins.
pub const POSTGRES_TRACKING_TABLE: &str = "public.plugin_schema_migrations";

/// Default wait for the migration lock (§4.1).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

const SQLITE_TRACKING_DDL: &str = "CREATE TABLE IF NOT EXISTS _plugin_migrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_name TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    checksum TEXT,
    success INTEGER NOT NULL DEFAULT 1,
    error_message TEXT,
    UNIQUE(plugin_name, version))";

const POSTGRES_TRACKING_DDL: &str = "CREATE TABLE IF NOT EXISTS public.plugin_schema_migrations (
    id SERIAL PRIMARY KEY,
    plugin_name VARCHAR(255) NOT NULL,
    version INTEGER NOT NULL,
    name VARCHAR(255) NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    checksum VARCHAR(64),
    success BOOLEAN NOT NULL DEFAULT TRUE,
    error_message TEXT,
    UNIQUE(plugin_name, version))";

/// Two-key advisory lock taken only while creating the shared tracking table, so two plugins'
/// first runs on a fresh PostgreSQL database do not race on `CREATE TABLE IF NOT EXISTS`. The
/// two-key space does not overlap the one-key space of the per-plugin locks.
const TRACKING_DDL_LOCK: (i32, i32) = (0x4d49_4e54, 1);

/// One row of the tracking table for this plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRecord {
    /// The migration version.
    pub version: u32,
    /// The name recorded with it.
    pub name: String,
    /// The checksum recorded (SHA-256 hex), if any.
    pub checksum: Option<String>,
    /// `false` for a failed attempt (informational only).
    pub success: bool,
    /// The failure message, or [`STAMP_MARKER`] for a stamped row.
    pub error_message: Option<String>,
}

/// Runs one plugin's migrations against one database (§4).
///
/// ```no_run
/// # async fn demo(db: sea_orm::DatabaseConnection) -> Result<(), mint_sdk::MigrationError> {
/// use mint_sdk::MigrationRunner;
/// let runner = MigrationRunner::new(db, "panel-designer")?.with_schema("plugin_panel_designer");
/// let result = runner.run(&[], false).await?;
/// assert_eq!(result.current_version, 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MigrationRunner {
    db: DatabaseConnection,
    plugin_name: String,
    dialect: Dialect,
    schema: Option<String>,
    lock_timeout: Duration,
}

/// The run's transaction, holding the lock; on SQLite also the connection's own busy timeout,
/// put back before the transaction ends.
struct LockedTxn {
    txn: DatabaseTransaction,
    restore_busy_timeout_ms: Option<i64>,
}

impl LockedTxn {
    async fn restore(&self) {
        if let Some(ms) = self.restore_busy_timeout_ms {
            let _ = self
                .txn
                .execute_unprepared(&format!("PRAGMA busy_timeout = {ms}"))
                .await;
        }
    }

    async fn commit(self) -> Result<(), DbErr> {
        self.restore().await;
        self.txn.commit().await
    }

    async fn rollback(self) -> Result<(), DbErr> {
        self.restore().await;
        self.txn.rollback().await
    }
}

/// One tracking-row write.
struct RowWrite<'a> {
    version: u32,
    name: &'a str,
    checksum: &'a str,
    success: bool,
    error_message: Option<&'a str>,
    only_over_failed: bool,
}

/// Why a locked run stopped.
enum Stop {
    /// Refused before applying anything (Alembic, ahead, checksum, database errors of the
    /// runner itself): roll back and return the error.
    Refused(MigrationError),
    /// A migration failed: roll back, record the failure, return `Failed`.
    Migration {
        version: u32,
        name: String,
        checksum: String,
        source: MigrationError,
    },
}

impl From<DbErr> for Stop {
    fn from(e: DbErr) -> Self {
        Stop::Refused(e.into())
    }
}

impl From<MigrationError> for Stop {
    fn from(e: MigrationError) -> Self {
        Stop::Refused(e)
    }
}

fn db_error_code(err: &DbErr) -> Option<String> {
    match err {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)) => match e.as_ref() {
            sea_orm::sqlx::Error::Database(db) => db.code().map(|c| c.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// SQLite `SQLITE_BUSY` / `SQLITE_LOCKED` (any extended code).
fn is_sqlite_busy(err: &DbErr) -> bool {
    db_error_code(err)
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// PostgreSQL `lock_not_available` (lock_timeout expired).
fn is_pg_lock_timeout(err: &DbErr) -> bool {
    db_error_code(err).as_deref() == Some("55P03")
}

/// Checks the §2 value rules; `context` prefixes messages (the plugin).
fn validate(migrations: &[Box<dyn PluginMigration>], context: &str) -> Result<(), MigrationError> {
    let invalid = |msg: String| MigrationError::Invalid(format!("{context}{msg}"));
    let mut seen: HashMap<u32, String> = HashMap::new();
    for m in migrations {
        let version = m.version();
        let name = m.name();
        let label = migration_label(version, name);
        if version == 0 || i32::try_from(version).is_err() {
            return Err(invalid(format!(
                "{label}: version must be between 1 and {}",
                i32::MAX
            )));
        }
        if name.is_empty() {
            return Err(invalid(format!(
                "migration version {version} has an empty name"
            )));
        }
        if name.len() > 255 {
            return Err(invalid(format!("{label}: name is longer than 255 bytes")));
        }
        if let Some(dep) = m.depends_on()
            && dep >= version
        {
            return Err(invalid(format!(
                "{label}: depends_on ({dep}) must be lower than the version"
            )));
        }
        if m.checksum().len() > 64 {
            return Err(invalid(format!(
                "{label}: checksum is longer than 64 characters"
            )));
        }
        if let Some(other) = seen.insert(version, label.clone()) {
            return Err(invalid(format!(
                "duplicate version {version}: {other} and {label}"
            )));
        }
    }
    Ok(())
}

impl MigrationRunner {
    /// A runner for `plugin_name` on `db`; the dialect comes from the connection.
    ///
    /// Errors: `Unsupported` for backends other than SQLite and PostgreSQL.
    pub fn new(
        db: DatabaseConnection,
        plugin_name: impl Into<String>,
    ) -> Result<Self, MigrationError> {
        let backend = db.get_database_backend();
        let dialect = Dialect::from_backend(backend).ok_or_else(|| {
            MigrationError::Unsupported(format!(
                "plugin migrations run on SQLite and PostgreSQL, not {backend:?}"
            ))
        })?;
        Ok(Self {
            db,
            plugin_name: plugin_name.into(),
            dialect,
            schema: None,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        })
    }

    /// The plugin schema (PostgreSQL; ignored on SQLite): created if missing in the run's
    /// transaction, first on the run's search path, and where the operations put tables.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        if self.dialect == Dialect::Postgres {
            self.schema = Some(schema.into());
        }
        self
    }

    /// How long a run waits for the plugin's lock (default 30 s). On PostgreSQL it is the
    /// transaction's `lock_timeout`, so it also caps every other lock wait of the run; on
    /// SQLite it is the busy timeout of the run's connection while it waits for the write lock
    /// (the connection's own setting is restored afterwards).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The plugin name the rows are recorded under.
    pub fn plugin_name(&self) -> &str {
        &self.plugin_name
    }

    /// The backend.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The plugin schema (PostgreSQL only).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The tracking table's (qualified) name on this backend.
    pub fn tracking_table(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => SQLITE_TRACKING_TABLE,
            Dialect::Postgres => POSTGRES_TRACKING_TABLE,
        }
    }

    /// The PostgreSQL advisory-lock key of a plugin (§4.3): the first 8 hex digits of
    /// MD5(UTF-8 name) as an unsigned 32-bit number, used with the one-bigint
    /// `pg_advisory_xact_lock`. `"p"` → 2206698641, as in the Python SDK.
    pub fn advisory_lock_key(plugin_name: &str) -> i64 {
        let digest = Md5::digest(plugin_name.as_bytes());
        i64::from(u32::from_be_bytes([
            digest[0], digest[1], digest[2], digest[3],
        ]))
    }

    /// Validates the §2 rules (versions in `1..=i32::MAX`, non-empty names of at most 255
    /// bytes, no duplicate versions, `depends_on` below `version`, checksums of at most 64
    /// characters) and sorts by version (stable). Python's package walk has no Rust
    /// counterpart: plugins list their migrations with [`migrations!`](crate::migrations!).
    ///
    /// Errors: `Invalid`.
    pub fn discover(
        migrations: Vec<Box<dyn PluginMigration>>,
    ) -> Result<Vec<Box<dyn PluginMigration>>, MigrationError> {
        validate(&migrations, "")?;
        let mut migrations = migrations;
        migrations.sort_by_key(|m| m.version());
        Ok(migrations)
    }

    fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.dialect.backend(), sql, values)
    }

    /// Opens the run's transaction holding the plugin's lock (§4.3).
    async fn begin_locked(&self) -> Result<LockedTxn, MigrationError> {
        let timeout = MigrationError::LockTimeout {
            plugin_name: self.plugin_name.clone(),
            timeout: self.lock_timeout,
        };
        match self.dialect {
            Dialect::Postgres => {
                let txn = self.db.begin().await?;
                let ms = self.lock_timeout.as_millis().max(1);
                txn.execute_unprepared(&format!("SET LOCAL lock_timeout = '{ms}ms'"))
                    .await?;
                let key = Self::advisory_lock_key(&self.plugin_name);
                match txn
                    .execute_raw(self.stmt("SELECT pg_advisory_xact_lock($1)", vec![key.into()]))
                    .await
                {
                    Ok(_) => Ok(LockedTxn {
                        txn,
                        restore_busy_timeout_ms: None,
                    }),
                    Err(e) => {
                        let _ = txn.rollback().await;
                        if is_pg_lock_timeout(&e) {
                            Err(timeout)
                        } else {
                            Err(e.into())
                        }
                    }
                }
            }
            Dialect::Sqlite => {
                let deadline = Instant::now() + self.lock_timeout;
                loop {
                    match self.sqlite_write_lock(deadline).await {
                        Ok(locked) => return Ok(locked),
                        Err(e) if is_sqlite_busy(&e) => {
                            if Instant::now() >= deadline {
                                return Err(timeout);
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }

    /// One attempt at the SQLite write lock, the equivalent of `BEGIN IMMEDIATE` with a busy
    /// timeout equal to the time left until `deadline`.
    ///
    /// The busy timeout is a per-connection setting and sea-orm sends `BEGIN IMMEDIATE` before
    /// any statement can reach the pooled connection it picks, so instead: `BEGIN` (deferred,
    /// no lock yet, connection pinned), set `PRAGMA busy_timeout` on that connection, then a
    /// no-op write on the tracking table (`UPDATE … WHERE 0`, or creating the table), which
    /// takes the write lock as `BEGIN IMMEDIATE` would, waiting through the busy handler. The
    /// connection's own busy timeout is put back when the transaction ends.
    async fn sqlite_write_lock(&self, deadline: Instant) -> Result<LockedTxn, DbErr> {
        let txn = self.db.begin().await?;
        let original = txn
            .query_one_raw(self.stmt("PRAGMA busy_timeout", vec![]))
            .await?
            .and_then(|row| row.try_get_by_index::<i64>(0).ok());
        let locked = LockedTxn {
            txn,
            restore_busy_timeout_ms: original,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let left_ms = i64::try_from(left.as_millis()).unwrap_or(i64::MAX).max(1);
        let attempt = async {
            locked
                .txn
                .execute_unprepared(&format!("PRAGMA busy_timeout = {left_ms}"))
                .await?;
            let touch = "UPDATE _plugin_migrations SET id = id WHERE 0";
            if locked.txn.execute_unprepared(touch).await.is_err() {
                // Most likely no tracking table yet: creating it takes the write lock. If
                // another runner created it meanwhile, the touch below takes the lock (or
                // reports busy, and the caller retries).
                locked.txn.execute_unprepared(SQLITE_TRACKING_DDL).await?;
                locked.txn.execute_unprepared(touch).await?;
            }
            Ok::<(), DbErr>(())
        }
        .await;
        match attempt {
            Ok(()) => Ok(locked),
            Err(e) => {
                let _ = locked.rollback().await;
                Err(e)
            }
        }
    }

    async fn ensure_tracking_table(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        match self.dialect {
            Dialect::Sqlite => {
                txn.execute_unprepared(SQLITE_TRACKING_DDL).await?;
            }
            Dialect::Postgres => {
                if !probe_table(
                    txn,
                    self.dialect,
                    Some("public"),
                    "plugin_schema_migrations",
                )
                .await?
                {
                    txn.execute_raw(self.stmt(
                        "SELECT pg_advisory_xact_lock($1, $2)",
                        vec![TRACKING_DDL_LOCK.0.into(), TRACKING_DDL_LOCK.1.into()],
                    ))
                    .await?;
                    txn.execute_unprepared(POSTGRES_TRACKING_DDL).await?;
                }
            }
        }
        Ok(())
    }

    async fn tracking_table_exists<C: ConnectionTrait>(&self, conn: &C) -> Result<bool, DbErr> {
        match self.dialect {
            Dialect::Sqlite => probe_table(conn, self.dialect, None, SQLITE_TRACKING_TABLE).await,
            Dialect::Postgres => {
                probe_table(
                    conn,
                    self.dialect,
                    Some("public"),
                    "plugin_schema_migrations",
                )
                .await
            }
        }
    }

    async fn load_records<C: ConnectionTrait>(
        &self,
        conn: &C,
    ) -> Result<Vec<MigrationRecord>, DbErr> {
        let sql = format!(
            "SELECT version, name, checksum, success, error_message FROM {} \
             WHERE plugin_name = {} ORDER BY version",
            self.tracking_table(),
            match self.dialect {
                Dialect::Sqlite => "?",
                Dialect::Postgres => "$1",
            }
        );
        let rows = conn
            .query_all_raw(self.stmt(&sql, vec![self.plugin_name.clone().into()]))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (version, success) = match self.dialect {
                Dialect::Sqlite => (
                    row.try_get::<i64>("", "version")?,
                    row.try_get::<i64>("", "success")? != 0,
                ),
                Dialect::Postgres => (
                    i64::from(row.try_get::<i32>("", "version")?),
                    row.try_get::<bool>("", "success")?,
                ),
            };
            // Python accepts 0 and negative versions; Rust never ships them, so such rows are
            // never matched and never counted.
            let Ok(version) = u32::try_from(version) else {
                continue;
            };
            out.push(MigrationRecord {
                version,
                name: row.try_get("", "name")?,
                checksum: row.try_get("", "checksum")?,
                success,
                error_message: row.try_get("", "error_message")?,
            });
        }
        Ok(out)
    }

    /// This plugin's tracking rows, by version (none when the table does not exist yet). Reads
    /// without the lock.
    ///
    /// Errors: `Database`.
    pub async fn records(&self) -> Result<Vec<MigrationRecord>, MigrationError> {
        if !self.tracking_table_exists(&self.db).await? {
            return Ok(Vec::new());
        }
        Ok(self.load_records(&self.db).await?)
    }

    /// `table` or `table.column` for every part of `models` missing from the database (in the
    /// plugin schema on PostgreSQL); empty when all exist. The §1 conformance check.
    ///
    /// Errors: `Database`.
    pub async fn missing_model_parts(
        &self,
        models: &[TableDef],
    ) -> Result<Vec<String>, MigrationError> {
        let mut missing = Vec::new();
        for model in models {
            let columns =
                probe_columns(&self.db, self.dialect, self.schema.as_deref(), &model.name).await?;
            if columns.is_empty() {
                missing.push(model.name.clone());
                continue;
            }
            for column in &model.columns {
                let found = columns.iter().any(|c| match self.dialect {
                    Dialect::Sqlite => c.eq_ignore_ascii_case(&column.name),
                    Dialect::Postgres => *c == column.name,
                });
                if !found {
                    missing.push(format!("{}.{}", model.name, column.name));
                }
            }
        }
        Ok(missing)
    }

    /// The §1 rule-2 adoption test, the `tables_already_exist` argument hosts pass to
    /// [`run`](Self::run): `models` is non-empty, every model table and column exists, and the
    /// plugin has no successful tracking row (a database built by create_all before the plugin
    /// shipped migrations).
    ///
    /// Errors: `Database`.
    pub async fn tables_already_exist(&self, models: &[TableDef]) -> Result<bool, MigrationError> {
        if models.is_empty() || !self.missing_model_parts(models).await?.is_empty() {
            return Ok(false);
        }
        Ok(!self.records().await?.iter().any(|r| r.success))
    }

    /// Applies `migrations` (§4.5): under the plugin's lock and in one transaction, refuses an
    /// Alembic-managed database, creates the tracking table if missing, checks that the
    /// database is not ahead of the shipped versions and that applied migrations are unedited,
    /// then either stamps every migration (`tables_already_exist` and no successful row, §4.7)
    /// or applies each migration without a successful row in version order, recording each.
    ///
    /// Errors (nothing changed by the run in every case): `Invalid` (§2, checked before any
    /// write), `LockTimeout`, `Foreign`, `SchemaVersionAhead`, `Checksum`, `Database`, and
    /// `Failed { version, name, message, source }` when a migration failed — the run is rolled
    /// back and a `success = false` row for that version records the attempt.
    pub async fn run(
        &self,
        migrations: &[Box<dyn PluginMigration>],
        tables_already_exist: bool,
    ) -> Result<MigrationResult, MigrationError> {
        validate(migrations, &format!("plugin '{}': ", self.plugin_name))?;
        let mut sorted: Vec<&dyn PluginMigration> = migrations.iter().map(|m| m.as_ref()).collect();
        sorted.sort_by_key(|m| m.version());

        let txn = self.begin_locked().await?;
        match self
            .run_locked(&txn.txn, &sorted, tables_already_exist)
            .await
        {
            Ok(result) => {
                txn.commit().await?;
                Ok(result)
            }
            Err(Stop::Refused(err)) => {
                let _ = txn.rollback().await;
                Err(err)
            }
            Err(Stop::Migration {
                version,
                name,
                checksum,
                source,
            }) => {
                let _ = txn.rollback().await;
                let message = source.to_string();
                tracing::error!(
                    target: "mint.sdk",
                    plugin = %self.plugin_name,
                    migration = %migration_label(version, &name),
                    error = %message,
                    "Migration {} of plugin {} failed; the run was rolled back",
                    migration_label(version, &name),
                    self.plugin_name
                );
                if let Err(e) = self
                    .record_failure(version, &name, &checksum, &message)
                    .await
                {
                    tracing::warn!(
                        target: "mint.sdk",
                        plugin = %self.plugin_name,
                        error = %e,
                        "Could not record the failed migration attempt"
                    );
                }
                Err(MigrationError::Failed {
                    plugin_name: self.plugin_name.clone(),
                    version,
                    name,
                    message,
                    source: Box::new(source),
                })
            }
        }
    }

    async fn alembic_managed(&self, txn: &DatabaseTransaction) -> Result<bool, DbErr> {
        let schema = self.schema.as_deref().or(match self.dialect {
            Dialect::Postgres => Some("public"),
            Dialect::Sqlite => None,
        });
        if !probe_table(txn, self.dialect, schema, "alembic_version").await? {
            return Ok(false);
        }
        let table = match schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident("alembic_version")),
            None => quote_ident("alembic_version"),
        };
        let rows = txn
            .query_all_raw(self.stmt(&format!("SELECT 1 FROM {table} LIMIT 1"), vec![]))
            .await?;
        Ok(!rows.is_empty())
    }

    async fn prepare_schema(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        if self.dialect != Dialect::Postgres {
            return Ok(());
        }
        match &self.schema {
            Some(schema) => {
                let exists = txn
                    .query_all_raw(self.stmt(
                        "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                        vec![schema.clone().into()],
                    ))
                    .await?;
                if exists.is_empty() {
                    txn.execute_unprepared(&format!(
                        "CREATE SCHEMA IF NOT EXISTS {}",
                        quote_ident(schema)
                    ))
                    .await?;
                }
                txn.execute_unprepared(&format!(
                    "SET LOCAL search_path TO {}, public",
                    quote_ident(schema)
                ))
                .await?;
            }
            None => {
                txn.execute_unprepared("SET LOCAL search_path TO public")
                    .await?;
            }
        }
        Ok(())
    }

    fn now_value(&self) -> Value {
        let now = Utc::now();
        match self.dialect {
            // Python's isoformat(): microseconds and an explicit +00:00.
            Dialect::Sqlite => now.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string().into(),
            // Naive UTC, as Python's datetime.utcnow().
            Dialect::Postgres => now.naive_utc().into(),
        }
    }

    /// Inserts or updates the row of (plugin, version). `row.only_over_failed` keeps a
    /// successful row untouched (failure records never overwrite success).
    async fn upsert_row(&self, conn: &DatabaseTransaction, row: RowWrite<'_>) -> Result<(), DbErr> {
        let (placeholders, excluded, guard) = match self.dialect {
            Dialect::Sqlite => (
                "?, ?, ?, ?, ?, ?, ?",
                "excluded",
                "_plugin_migrations.success = 0",
            ),
            Dialect::Postgres => (
                "$1, $2, $3, $4, $5, $6, $7",
                "EXCLUDED",
                "plugin_schema_migrations.success = FALSE",
            ),
        };
        let mut sql = format!(
            "INSERT INTO {table} (plugin_name, version, name, applied_at, checksum, success, error_message) \
             VALUES ({placeholders}) ON CONFLICT (plugin_name, version) DO UPDATE SET \
             name = {excluded}.name, applied_at = {excluded}.applied_at, checksum = {excluded}.checksum, \
             success = {excluded}.success, error_message = {excluded}.error_message",
            table = self.tracking_table(),
        );
        if row.only_over_failed {
            sql.push_str(" WHERE ");
            sql.push_str(guard);
        }
        let version = i32::try_from(row.version).unwrap_or(i32::MAX);
        conn.execute_raw(self.stmt(
            &sql,
            vec![
                self.plugin_name.clone().into(),
                version.into(),
                row.name.into(),
                self.now_value(),
                row.checksum.into(),
                row.success.into(),
                row.error_message.map(str::to_string).into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn record_failure(
        &self,
        version: u32,
        name: &str,
        checksum: &str,
        message: &str,
    ) -> Result<(), MigrationError> {
        let txn = self.begin_locked().await?;
        let written = async {
            self.ensure_tracking_table(&txn.txn).await?;
            self.upsert_row(
                &txn.txn,
                RowWrite {
                    version,
                    name,
                    checksum,
                    success: false,
                    error_message: Some(message),
                    only_over_failed: true,
                },
            )
            .await
        }
        .await;
        match written {
            Ok(()) => Ok(txn.commit().await?),
            Err(e) => {
                let _ = txn.rollback().await;
                Err(e.into())
            }
        }
    }

    async fn run_locked(
        &self,
        txn: &DatabaseTransaction,
        sorted: &[&dyn PluginMigration],
        tables_already_exist: bool,
    ) -> Result<MigrationResult, Stop> {
        if self.alembic_managed(txn).await? {
            return Err(Stop::Refused(MigrationError::Foreign {
                plugin_name: self.plugin_name.clone(),
            }));
        }
        self.prepare_schema(txn).await?;
        self.ensure_tracking_table(txn).await?;
        let Some(plugin_max) = sorted.last().map(|m| m.version()) else {
            return Ok(MigrationResult::default());
        };

        let records: HashMap<u32, MigrationRecord> = self
            .load_records(txn)
            .await?
            .into_iter()
            .map(|r| (r.version, r))
            .collect();
        let applied_ok = |v: u32| records.get(&v).is_some_and(|r| r.success);
        let db_version = records
            .values()
            .filter(|r| r.success)
            .map(|r| r.version)
            .max()
            .unwrap_or(0);
        if db_version > plugin_max {
            return Err(Stop::Refused(MigrationError::SchemaVersionAhead {
                plugin_name: self.plugin_name.clone(),
                db_version,
                plugin_max_version: plugin_max,
            }));
        }
        for m in sorted {
            let Some(record) = records.get(&m.version()).filter(|r| r.success) else {
                continue;
            };
            let Some(stored) = record.checksum.as_deref().filter(|c| !c.is_empty()) else {
                continue;
            };
            let actual = m.checksum();
            if stored != actual && !m.accepted_checksums().contains(&stored) {
                return Err(Stop::Refused(MigrationError::Checksum {
                    plugin_name: self.plugin_name.clone(),
                    version: m.version(),
                    name: m.name().to_string(),
                    expected: stored.to_string(),
                    actual,
                }));
            }
        }

        if tables_already_exist && !records.values().any(|r| r.success) {
            for m in sorted {
                self.upsert_row(
                    txn,
                    RowWrite {
                        version: m.version(),
                        name: m.name(),
                        checksum: &m.checksum(),
                        success: true,
                        error_message: Some(STAMP_MARKER),
                        only_over_failed: false,
                    },
                )
                .await?;
            }
            tracing::info!(
                target: "mint.sdk",
                plugin = %self.plugin_name,
                "Stamped {} migration(s) of plugin {} as applied: its tables already existed",
                sorted.len(),
                self.plugin_name
            );
            return Ok(MigrationResult {
                current_version: plugin_max,
                applied: Vec::new(),
                stamped: sorted.iter().map(|m| m.version()).collect(),
                errors: Vec::new(),
            });
        }

        let mut applied = Vec::new();
        for m in sorted.iter().filter(|m| !applied_ok(m.version())) {
            let label = m.label();
            let stop = |source: MigrationError| Stop::Migration {
                version: m.version(),
                name: m.name().to_string(),
                checksum: m.checksum(),
                source,
            };
            let mut ops = MigrationOps::new(
                txn,
                self.dialect,
                self.schema.as_deref(),
                m.destructive(),
                &label,
            );
            let outcome = AssertUnwindSafe(m.upgrade(&mut ops)).catch_unwind().await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(stop(e)),
                Err(panic) => {
                    let reason = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown reason".into());
                    return Err(stop(MigrationError::other(format!(
                        "upgrade panicked: {reason}"
                    ))));
                }
            }
            self.upsert_row(
                txn,
                RowWrite {
                    version: m.version(),
                    name: m.name(),
                    checksum: &m.checksum(),
                    success: true,
                    error_message: None,
                    only_over_failed: false,
                },
            )
            .await
            .map_err(|e| stop(e.into()))?;
            tracing::info!(
                target: "mint.sdk",
                plugin = %self.plugin_name,
                migration = %label,
                "Applied migration {label} of plugin {}",
                self.plugin_name
            );
            applied.push(m.version());
        }
        let current_version = applied.last().copied().unwrap_or(0).max(db_version);
        Ok(MigrationResult {
            current_version,
            applied,
            stamped: Vec::new(),
            errors: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisory_lock_key_matches_the_python_sdk() {
        assert_eq!(MigrationRunner::advisory_lock_key("p"), 2_206_698_641);
        assert!(MigrationRunner::advisory_lock_key("a") >= 0);
        assert!(MigrationRunner::advisory_lock_key("zzz") <= i64::from(u32::MAX));
    }
}
