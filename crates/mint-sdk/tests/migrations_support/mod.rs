//! Shared fixtures of the migration tests: a [`TestDb`] on SQLite (a temporary LocalDatabase
//! file) or PostgreSQL (`MINT_TEST_DATABASE_URL`, a unique plugin name and schema per test),
//! a data-driven [`TestMigration`], and schema snapshots.
//!
//! `both!` writes one test body twice: `<name>::sqlite` always runs, `<name>::postgres` prints
//! that it was skipped when `MINT_TEST_DATABASE_URL` is unset.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mint_sdk::migrations::{
    Column, ColumnType, Dialect, MigrationError, MigrationOps, MigrationRecord, MigrationRunner,
    PluginMigration,
};
use mint_sdk::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, Value,
};
use mint_sdk::{LocalDatabase, LocalDatabaseConfig};

/// Runs `case(&TestDb)` on SQLite and on PostgreSQL (when configured).
#[macro_export]
macro_rules! both {
    ($name:ident, $case:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::migrations_support::TestDb::sqlite().await;
                $case(&db).await;
                db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::migrations_support::TestDb::postgres().await else {
                    return;
                };
                $case(&db).await;
                db.cleanup().await;
            }
        }
    };
}

fn suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A database for one test.
pub struct TestDb {
    pub conn: DatabaseConnection,
    pub dialect: Dialect,
    /// Unique per test.
    pub plugin: String,
    /// PostgreSQL: a unique schema; SQLite: none.
    pub schema: Option<String>,
    pub local: Option<LocalDatabase>,
    pub dir: Option<tempfile::TempDir>,
    pub url: Option<String>,
}

/// The PostgreSQL URL, or `None` after printing that the test is skipped.
pub fn postgres_url() -> Option<String> {
    match std::env::var("MINT_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: MINT_TEST_DATABASE_URL is not set (PostgreSQL test)");
            None
        }
    }
}

pub async fn connect_postgres(url: &str, max: u32) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(max)
        .min_connections(0)
        .sqlx_logging(false);
    Database::connect(options)
        .await
        .expect("connect to PostgreSQL")
}

pub async fn open_sqlite(dir: &std::path::Path) -> LocalDatabase {
    let db = LocalDatabase::new(
        "migration-test",
        Some(LocalDatabaseConfig {
            storage_dir: Some(dir.to_path_buf()),
            ..Default::default()
        }),
    );
    db.initialize().await.expect("open SQLite");
    db
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let local = open_sqlite(dir.path()).await;
        Self {
            conn: local.connection().expect("connection"),
            dialect: Dialect::Sqlite,
            plugin: format!("plug_{}", suffix()),
            schema: None,
            local: Some(local),
            dir: Some(dir),
            url: None,
        }
    }

    pub async fn postgres() -> Option<Self> {
        Self::postgres_with_schema(true).await
    }

    /// PostgreSQL with (`true`) or without a plugin schema.
    pub async fn postgres_with_schema(with_schema: bool) -> Option<Self> {
        let url = postgres_url()?;
        let id = suffix();
        Some(Self {
            conn: connect_postgres(&url, 12).await,
            dialect: Dialect::Postgres,
            plugin: format!("plug_{id}"),
            schema: with_schema.then(|| format!("s_{id}")),
            local: None,
            dir: None,
            url: Some(url),
        })
    }

    /// A second, independent connection pool to the same database.
    pub async fn reconnect(&self) -> DatabaseConnection {
        match (&self.url, &self.dir) {
            (Some(url), _) => connect_postgres(url, 12).await,
            (None, Some(dir)) => open_sqlite(dir.path())
                .await
                .connection()
                .expect("connection"),
            _ => self.conn.clone(),
        }
    }

    pub fn runner(&self) -> MigrationRunner {
        self.runner_on(self.conn.clone(), &self.plugin)
    }

    pub fn runner_on(&self, conn: DatabaseConnection, plugin: &str) -> MigrationRunner {
        let runner = MigrationRunner::new(conn, plugin).expect("runner");
        match &self.schema {
            Some(s) => runner.with_schema(s),
            None => runner,
        }
    }

    pub async fn run(
        &self,
        migrations: &[Box<dyn PluginMigration>],
    ) -> Result<mint_sdk::MigrationResult, MigrationError> {
        self.runner().run(migrations, false).await
    }

    pub async fn records(&self) -> Vec<MigrationRecord> {
        self.runner().records().await.expect("records")
    }

    /// `"schema"."name"` on PostgreSQL with a schema, else `"name"`.
    pub fn q(&self, name: &str) -> String {
        match &self.schema {
            Some(s) => format!("\"{s}\".\"{name}\""),
            None => format!("\"{name}\""),
        }
    }

    fn backend(&self) -> DbBackend {
        self.dialect.backend()
    }

    pub async fn exec(&self, sql: &str) {
        self.conn
            .execute_raw(Statement::from_string(self.backend(), sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub async fn try_exec(&self, sql: &str) -> Result<(), mint_sdk::sea_orm::DbErr> {
        self.conn
            .execute_raw(Statement::from_string(self.backend(), sql))
            .await
            .map(|_| ())
    }

    /// The first column of every row, as text (use `CAST(… AS TEXT)` for other types).
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        self.conn
            .query_all_raw(Statement::from_string(self.backend(), sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| {
                r.try_get_by_index::<Option<String>>(0)
                    .expect("text column")
                    .unwrap_or_else(|| "NULL".into())
            })
            .collect()
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {}", self.q(table));
        self.conn
            .query_one_raw(Statement::from_string(self.backend(), &sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .and_then(|r| r.try_get_by_index::<i64>(0).ok())
            .unwrap_or(-1)
    }

    fn probe_schema(&self) -> String {
        self.schema.clone().unwrap_or_else(|| "public".into())
    }

    /// Plugin tables (SDK and tracking tables left out), sorted.
    pub async fn tables(&self) -> Vec<String> {
        match self.dialect {
            Dialect::Sqlite => {
                self.strings(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                     AND name NOT LIKE 'mint_%' AND name <> '_plugin_migrations' ORDER BY name",
                )
                .await
            }
            Dialect::Postgres => {
                self.strings(&format!(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = '{}' \
                     AND table_name <> 'plugin_schema_migrations' ORDER BY table_name",
                    self.probe_schema()
                ))
                .await
            }
        }
    }

    pub async fn columns(&self, table: &str) -> Vec<String> {
        match self.dialect {
            Dialect::Sqlite => {
                self.strings(&format!(
                    "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
                ))
                .await
            }
            Dialect::Postgres => {
                self.strings(&format!(
                    "SELECT column_name::text FROM information_schema.columns WHERE table_schema = '{}' \
                     AND table_name = '{table}' ORDER BY ordinal_position",
                    self.probe_schema()
                ))
                .await
            }
        }
    }

    /// Index names of `table` (internal SQLite autoindexes and PostgreSQL key indexes left out).
    pub async fn indexes(&self, table: &str) -> Vec<String> {
        match self.dialect {
            Dialect::Sqlite => {
                self.strings(&format!(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' \
                     AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY name"
                ))
                .await
            }
            Dialect::Postgres => {
                self.strings(&format!(
                    "SELECT indexname::text FROM pg_indexes WHERE schemaname = '{}' AND tablename = '{table}' \
                     AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key' ORDER BY indexname",
                    self.probe_schema()
                ))
                .await
            }
        }
    }

    /// Everything that defines the plugin's schema and data volume: tables, columns with
    /// type/nullability/default, index definitions, row counts.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.dialect {
            Dialect::Sqlite => {
                out.extend(
                    self.strings(
                        "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master \
                         WHERE name NOT LIKE 'mint_%' AND tbl_name <> '_plugin_migrations' \
                         AND name <> 'sqlite_sequence' ORDER BY type, name",
                    )
                    .await,
                );
            }
            Dialect::Postgres => {
                let s = self.probe_schema();
                out.extend(
                    self.strings(&format!(
                        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
                         || ' ' || COALESCE(column_default, '') FROM information_schema.columns \
                         WHERE table_schema = '{s}' ORDER BY table_name, ordinal_position"
                    ))
                    .await,
                );
                out.extend(
                    self.strings(&format!(
                        "SELECT indexdef FROM pg_indexes WHERE schemaname = '{s}' ORDER BY indexname"
                    ))
                    .await,
                );
            }
        }
        for table in self.tables().await {
            out.push(format!("{table}: {} rows", self.count(&table).await));
        }
        out
    }

    /// Drops what the test created (best effort).
    pub async fn cleanup(self) {
        if self.dialect == Dialect::Postgres {
            if let Some(schema) = &self.schema {
                let _ = self
                    .try_exec(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await;
            }
            let _ = self
                .conn
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "DELETE FROM public.plugin_schema_migrations WHERE plugin_name LIKE $1",
                    vec![format!("{}%", self.plugin).into()],
                ))
                .await;
            let _ = self.conn.clone().close().await;
        }
    }
}

/// A schema operation of a [`TestMigration`]. In `Sql`, `{name}` becomes
/// `ops.qualified_table("name")`.
#[derive(Clone)]
pub enum Op {
    CreateTable(&'static str, Vec<Column>),
    AddColumn(&'static str, Column),
    CreateIndex(&'static str, &'static str, Vec<&'static str>, bool),
    DropIndex(&'static str),
    DropTable(&'static str),
    DropColumn(&'static str, &'static str),
    RenameColumn(&'static str, &'static str, &'static str),
    AlterColumn(&'static str, &'static str, ColumnType),
    Backfill(&'static str, &'static str, Value),
    Sql(String),
    Fail(&'static str),
    Panic(&'static str),
    /// Appends the migration's version to the log.
    Log(Arc<Mutex<Vec<u32>>>),
    /// Runs the op and requires an error matching the predicate (the migration continues).
    ExpectErr(Box<Op>, fn(&MigrationError) -> bool),
    /// Requires the table to exist (or not) at this point of the migration.
    ExpectTable(&'static str, bool),
    /// Requires the column to exist (or not).
    ExpectColumn(&'static str, &'static str, bool),
    /// Requires the index to exist (or not).
    ExpectIndex(&'static str, bool),
    /// A sea-query statement through `execute_stmt`.
    Stmt(mint_sdk::sea_orm::sea_query::TableAlterStatement),
    /// Raw SQL through `query`.
    Query(String),
    /// Notifies `started`, then waits for `release`.
    Pause {
        started: Arc<tokio::sync::Notify>,
        release: Arc<tokio::sync::Notify>,
    },
}

/// Replaces `{name}` with the qualified table name.
pub fn render_sql(ops: &MigrationOps<'_>, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&ops.qualified_table(&rest[open + 1..open + close]));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

pub async fn apply_op(
    ops: &mut MigrationOps<'_>,
    op: &Op,
    version: u32,
) -> Result<(), MigrationError> {
    match op {
        Op::CreateTable(t, cols) => ops.create_table(t, cols).await,
        Op::AddColumn(t, c) => ops.add_column(t, c.clone()).await,
        Op::CreateIndex(n, t, cols, unique) => ops.create_index(n, t, cols, *unique).await,
        Op::DropIndex(n) => ops.drop_index(n).await,
        Op::DropTable(t) => ops.drop_table(t).await,
        Op::DropColumn(t, c) => ops.drop_column(t, c).await,
        Op::RenameColumn(t, a, b) => ops.rename_column(t, a, b).await,
        Op::AlterColumn(t, c, ty) => ops.alter_column(t, c, ty.clone()).await,
        Op::Backfill(t, c, v) => ops.backfill(t, c, v.clone()).await.map(|_| ()),
        Op::Sql(template) => {
            let sql = render_sql(ops, template);
            ops.execute(&sql, vec![]).await.map(|_| ())
        }
        Op::Fail(message) => Err(MigrationError::other(*message)),
        Op::ExpectErr(inner, matches) => match Box::pin(apply_op(ops, inner, version)).await {
            Err(e) if matches(&e) => Ok(()),
            Err(e) => Err(MigrationError::other(format!("unexpected error: {e:?}"))),
            Ok(()) => Err(MigrationError::other("expected an error, got Ok")),
        },
        Op::ExpectTable(t, exists) => expect(ops.table_exists(t).await? == *exists, t),
        Op::ExpectColumn(t, c, exists) => expect(ops.column_exists(t, c).await? == *exists, c),
        Op::ExpectIndex(i, exists) => expect(ops.index_exists(i).await? == *exists, i),
        Op::Stmt(stmt) => ops.execute_stmt(stmt).await.map(|_| ()),
        Op::Query(sql) => ops.query(sql, vec![]).await.map(|_| ()),
        Op::Panic(message) => panic!("{message}"),
        Op::Log(log) => {
            log.lock().expect("log").push(version);
            Ok(())
        }
        Op::Pause { started, release } => {
            started.notify_one();
            release.notified().await;
            Ok(())
        }
    }
}

fn expect(ok: bool, what: &str) -> Result<(), MigrationError> {
    if ok {
        Ok(())
    } else {
        Err(MigrationError::other(format!(
            "expectation about '{what}' failed"
        )))
    }
}

/// A migration built from data: version, name, checksum and a list of [`Op`]s.
#[derive(Clone)]
pub struct TestMigration {
    pub version: u32,
    pub name: &'static str,
    pub checksum: String,
    pub accepted: &'static [&'static str],
    pub destructive: bool,
    pub depends_on: Option<u32>,
    pub ops: Vec<Op>,
    pub upgrades: Arc<AtomicUsize>,
    pub downgrades: Arc<AtomicUsize>,
}

impl TestMigration {
    pub fn new(version: u32, name: &'static str) -> Self {
        Self {
            version,
            name,
            checksum: mint_sdk::migrations::checksum_of(&format!("{version} {name}")),
            accepted: &[],
            destructive: false,
            depends_on: None,
            ops: Vec::new(),
            upgrades: Arc::default(),
            downgrades: Arc::default(),
        }
    }
    pub fn op(mut self, op: Op) -> Self {
        self.ops.push(op);
        self
    }
    pub fn destructive(mut self) -> Self {
        self.destructive = true;
        self
    }
    pub fn checksum(mut self, checksum: &str) -> Self {
        self.checksum = checksum.to_string();
        self
    }
    pub fn boxed(self) -> Box<dyn PluginMigration> {
        Box::new(self)
    }
    pub fn upgrade_count(&self) -> usize {
        self.upgrades.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl PluginMigration for TestMigration {
    fn version(&self) -> u32 {
        self.version
    }
    fn name(&self) -> &'static str {
        self.name
    }
    fn depends_on(&self) -> Option<u32> {
        self.depends_on
    }
    fn destructive(&self) -> bool {
        self.destructive
    }
    fn checksum(&self) -> String {
        self.checksum.clone()
    }
    fn accepted_checksums(&self) -> &'static [&'static str] {
        self.accepted
    }
    fn has_downgrade(&self) -> bool {
        true
    }
    async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
        self.upgrades.fetch_add(1, Ordering::SeqCst);
        for op in &self.ops {
            apply_op(ops, op, self.version).await?;
        }
        Ok(())
    }
    async fn downgrade(&self, _ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
        self.downgrades.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// `create table <name> (id pk, label text)`.
pub fn create(version: u32, name: &'static str, table: &'static str) -> TestMigration {
    TestMigration::new(version, name).op(Op::CreateTable(
        table,
        vec![Column::integer("id").primary_key(), Column::text("label")],
    ))
}

pub fn boxed(list: Vec<TestMigration>) -> Vec<Box<dyn PluginMigration>> {
    list.into_iter().map(TestMigration::boxed).collect()
}

/// Versions of the successful / failed rows.
pub fn versions(records: &[MigrationRecord], success: bool) -> Vec<u32> {
    records
        .iter()
        .filter(|r| r.success == success)
        .map(|r| r.version)
        .collect()
}
