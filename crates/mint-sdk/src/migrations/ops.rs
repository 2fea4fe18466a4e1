//! [`MigrationOps`], the operations a migration's `upgrade` uses (`spec/migrations.md` §3).
//!
//! One `MigrationOps` is built per migration on the run's transaction, so everything a migration
//! does commits or rolls back with the run. Schema operations are idempotent by *name* (existing
//! definitions are never compared) and portable between SQLite and PostgreSQL; raw SQL
//! ([`MigrationOps::execute`]) is neither, and statements that would end the run's transaction
//! are refused. Nothing here panics: requests sea-query cannot render are `Unsupported`.

use std::panic::AssertUnwindSafe;

use sea_orm::sea_query::ColumnType;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbErr, ExecResult, QueryResult, Statement,
    StatementBuilder, Value,
};

use super::error::MigrationError;
use super::rebuild::{Change, rebuild_table};
use super::schema::{
    Column, Dialect, plan_create_table, quote_ident, render_added_column, render_type,
};
use super::sqltext::transaction_control;

/// The operations available to [`PluginMigration::upgrade`](super::PluginMigration::upgrade),
/// bound to the run's transaction (§3).
///
/// | Method | Re-run |
/// |---|---|
/// | [`add_column`](Self::add_column), [`create_table`](Self::create_table), [`create_index`](Self::create_index) | skipped when the column/table/index name exists |
/// | [`drop_table`](Self::drop_table), [`drop_column`](Self::drop_column), [`drop_index`](Self::drop_index) | no-op when absent; need `destructive()` |
/// | [`rename_column`](Self::rename_column) | no-op when only the new name exists |
/// | [`alter_column`](Self::alter_column), [`backfill`](Self::backfill) | safe |
/// | [`execute`](Self::execute), [`query`](Self::query) | the author's job |
///
/// Table names are unqualified; on PostgreSQL with a plugin schema the operations qualify them
/// (`"schema"."table"`), and raw SQL can use [`qualified_table`](Self::qualified_table).
pub struct MigrationOps<'a> {
    txn: &'a DatabaseTransaction,
    dialect: Dialect,
    schema: Option<String>,
    destructive_allowed: bool,
    label: String,
}

impl std::fmt::Debug for MigrationOps<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationOps")
            .field("dialect", &self.dialect)
            .field("schema", &self.schema)
            .field("destructive_allowed", &self.destructive_allowed)
            .field("migration", &self.label)
            .finish()
    }
}

fn missing(what: String) -> MigrationError {
    MigrationError::Database(DbErr::Custom(what))
}

impl<'a> MigrationOps<'a> {
    /// Ops on `txn`. `schema` is ignored on SQLite. `label` names the migration in logs.
    pub(crate) fn new(
        txn: &'a DatabaseTransaction,
        dialect: Dialect,
        schema: Option<&str>,
        destructive_allowed: bool,
        label: &str,
    ) -> Self {
        Self {
            txn,
            dialect,
            schema: schema
                .filter(|_| dialect == Dialect::Postgres)
                .map(str::to_string),
            destructive_allowed,
            label: label.to_string(),
        }
    }

    /// The backend: branch on it for dialect-specific SQL (Python's `op._dialect`).
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The plugin schema (PostgreSQL only; `None` on SQLite or without a schema).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Whether this migration may drop things (its `destructive()`).
    pub fn destructive_allowed(&self) -> bool {
        self.destructive_allowed
    }

    /// `name` as the operations render it: `"schema"."name"` on PostgreSQL with a schema, else
    /// `"name"` (inner `"` doubled). For raw SQL in [`execute`](Self::execute).
    pub fn qualified_table(&self, name: &str) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(name)),
            None => quote_ident(name),
        }
    }

    /// The schema the existence probes look in: the plugin schema, else `public`.
    fn probe_schema(&self) -> &str {
        self.schema.as_deref().unwrap_or("public")
    }

    fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.dialect.backend(), sql, values)
    }

    /// `?` on SQLite, `$n` on PostgreSQL.
    fn param(&self, n: usize) -> String {
        match self.dialect {
            Dialect::Sqlite => "?".into(),
            Dialect::Postgres => format!("${n}"),
        }
    }

    async fn run_sql(&self, sql: &str) -> Result<ExecResult, MigrationError> {
        tracing::debug!(target: "mint.sdk", migration = %self.label, sql, "Migration statement");
        Ok(self.txn.execute_raw(self.stmt(sql, vec![])).await?)
    }

    async fn rows(
        &self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>, MigrationError> {
        Ok(self.txn.query_all_raw(self.stmt(sql, values)).await?)
    }

    /// Whether table `name` exists (SQLite: `sqlite_master`, case-insensitive; PostgreSQL:
    /// `information_schema.tables` in the effective schema: the plugin schema, else `public`).
    ///
    /// Errors: `Database`.
    pub async fn table_exists(&self, name: &str) -> Result<bool, MigrationError> {
        Ok(probe_table(self.txn, self.dialect, Some(self.probe_schema()), name).await?)
    }

    /// The column names of `table`, in order; empty when the table does not exist.
    ///
    /// Errors: `Database`.
    pub async fn columns_of(&self, table: &str) -> Result<Vec<String>, MigrationError> {
        Ok(probe_columns(self.txn, self.dialect, Some(self.probe_schema()), table).await?)
    }

    /// Whether `table` has `column` (SQLite compares names case-insensitively, as it does).
    ///
    /// Errors: `Database`.
    pub async fn column_exists(&self, table: &str, column: &str) -> Result<bool, MigrationError> {
        let columns = self.columns_of(table).await?;
        Ok(columns.iter().any(|c| self.same_name(c, column)))
    }

    fn same_name(&self, a: &str, b: &str) -> bool {
        match self.dialect {
            Dialect::Sqlite => a.eq_ignore_ascii_case(b),
            Dialect::Postgres => a == b,
        }
    }

    /// Whether index `name` exists (SQLite: `sqlite_master`; PostgreSQL: `pg_indexes` in the
    /// effective schema).
    ///
    /// Errors: `Database`.
    pub async fn index_exists(&self, name: &str) -> Result<bool, MigrationError> {
        let rows = match self.dialect {
            Dialect::Sqlite => {
                self.rows(
                    "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ? COLLATE NOCASE",
                    vec![name.into()],
                )
                .await?
            }
            Dialect::Postgres => {
                self.rows(
                    "SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2",
                    vec![self.probe_schema().into(), name.into()],
                )
                .await?
            }
        };
        Ok(!rows.is_empty())
    }

    fn guard(&self, operation: &str, table: &str, target: &str) -> Result<(), MigrationError> {
        if self.destructive_allowed {
            Ok(())
        } else {
            Err(MigrationError::Destructive {
                operation: operation.into(),
                table: table.into(),
                target: target.into(),
            })
        }
    }

    /// `ALTER TABLE t ADD COLUMN "c" <type>[ NOT NULL][ DEFAULT d]`, skipped when the column
    /// exists. Only the type, an explicit `.not_null()` and the default are used (§3). SQLite
    /// refuses NOT NULL without a non-null default; PostgreSQL only when rows exist.
    ///
    /// Errors: `Unsupported` for a type the backend lacks; `Database` (missing table, …).
    pub async fn add_column(&mut self, table: &str, column: Column) -> Result<(), MigrationError> {
        let definition = render_added_column(self.dialect, &column)?;
        if self.column_exists(table, &column.name).await? {
            return Ok(());
        }
        self.run_sql(&format!(
            "ALTER TABLE {} ADD COLUMN {definition}",
            self.qualified_table(table)
        ))
        .await?;
        Ok(())
    }

    /// `CREATE TABLE` with the §3 column text plus an index `ix_<table>_<column>` per
    /// index-flagged column; skipped entirely (implied indexes too) when the table exists.
    ///
    /// Errors: `Unsupported` (no columns, unsupported type, malformed foreign key target or
    /// action); `Database`.
    pub async fn create_table(
        &mut self,
        name: &str,
        columns: &[Column],
    ) -> Result<(), MigrationError> {
        let qualified = self.qualified_table(name);
        let plan = plan_create_table(self.dialect, self.schema(), &qualified, name, columns)?;
        if self.table_exists(name).await? {
            return Ok(());
        }
        self.run_sql(&plan.create).await?;
        for (index, column, unique) in &plan.indexes {
            self.create_index(index, name, &[column.as_str()], *unique)
                .await?;
        }
        Ok(())
    }

    /// `CREATE [UNIQUE ]INDEX "name" ON t (cols)`, skipped when an index of that name exists.
    /// On PostgreSQL the index lands in the table's schema.
    ///
    /// Errors: `Unsupported` without columns; `Database`.
    pub async fn create_index(
        &mut self,
        name: &str,
        table: &str,
        columns: &[&str],
        unique: bool,
    ) -> Result<(), MigrationError> {
        if columns.is_empty() {
            return Err(MigrationError::Unsupported(format!(
                "create_index('{name}') without columns"
            )));
        }
        if self.index_exists(name).await? {
            return Ok(());
        }
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        self.run_sql(&format!(
            "CREATE {}INDEX {} ON {} ({})",
            if unique { "UNIQUE " } else { "" },
            quote_ident(name),
            self.qualified_table(table),
            cols.join(", ")
        ))
        .await?;
        Ok(())
    }

    /// `DROP INDEX IF EXISTS "name"` (qualified on PostgreSQL with a schema).
    ///
    /// Errors: `Destructive` (index name as table and target) unless the migration is
    /// destructive — checked first, no SQL sent.
    pub async fn drop_index(&mut self, name: &str) -> Result<(), MigrationError> {
        self.guard("drop_index", name, name)?;
        self.run_sql(&format!(
            "DROP INDEX IF EXISTS {}",
            self.qualified_table(name)
        ))
        .await?;
        Ok(())
    }

    /// `DROP TABLE IF EXISTS t` (no `CASCADE`).
    ///
    /// Errors: `Destructive` unless the migration is destructive (no SQL sent); `Database`
    /// (e.g. PostgreSQL refuses while other tables reference it).
    pub async fn drop_table(&mut self, name: &str) -> Result<(), MigrationError> {
        self.guard("drop_table", name, "")?;
        self.run_sql(&format!(
            "DROP TABLE IF EXISTS {}",
            self.qualified_table(name)
        ))
        .await?;
        Ok(())
    }

    /// Drops `column`; a no-op when it (or its table) is absent. PostgreSQL: `ALTER TABLE IF
    /// EXISTS t DROP COLUMN IF EXISTS "c"` (indexes using it go too). SQLite: rebuilds the table without it (rows,
    /// NOT NULL, defaults, primary key, UNIQUE constraints and indexes kept; an index that used
    /// the column is dropped).
    ///
    /// Errors: `Destructive` unless the migration is destructive (no SQL sent); SQLite
    /// `Unsupported` for a table with foreign keys (either direction), a composite primary
    /// key, generated columns or `WITHOUT ROWID` (table unchanged); `Database`.
    pub async fn drop_column(&mut self, table: &str, column: &str) -> Result<(), MigrationError> {
        self.guard("drop_column", table, column)?;
        match self.dialect {
            Dialect::Postgres => {
                self.run_sql(&format!(
                    "ALTER TABLE IF EXISTS {} DROP COLUMN IF EXISTS {}",
                    self.qualified_table(table),
                    quote_ident(column)
                ))
                .await?;
            }
            Dialect::Sqlite => {
                if self.column_exists(table, column).await? {
                    rebuild_table(self.txn, table, Change::Drop(column)).await?;
                }
            }
        }
        Ok(())
    }

    /// `ALTER TABLE t RENAME COLUMN "old" TO "new"` on both backends (SQLite keeps constraints,
    /// indexes and foreign keys). A no-op when `old` is absent and `new` present.
    ///
    /// Errors: `Database` when neither exists (or the table is missing).
    pub async fn rename_column(
        &mut self,
        table: &str,
        old: &str,
        new: &str,
    ) -> Result<(), MigrationError> {
        let columns = self.columns_of(table).await?;
        let has = |name: &str| columns.iter().any(|c| self.same_name(c, name));
        if !has(old) && has(new) {
            return Ok(());
        }
        self.run_sql(&format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            self.qualified_table(table),
            quote_ident(old),
            quote_ident(new)
        ))
        .await?;
        Ok(())
    }

    /// Changes the column's type only. PostgreSQL: `ALTER TABLE t ALTER COLUMN "c" TYPE <t>`
    /// (no `USING`). SQLite: rebuilds the table with the new declared type (see
    /// [`drop_column`](Self::drop_column) for what a rebuild keeps and refuses).
    ///
    /// Errors: `Unsupported` (type, rebuild refusals); `Database` (missing table or column,
    /// values PostgreSQL cannot cast).
    pub async fn alter_column(
        &mut self,
        table: &str,
        column: &str,
        column_type: ColumnType,
    ) -> Result<(), MigrationError> {
        let ty = render_type(self.dialect, &column_type)?;
        match self.dialect {
            Dialect::Postgres => {
                self.run_sql(&format!(
                    "ALTER TABLE {} ALTER COLUMN {} TYPE {ty}",
                    self.qualified_table(table),
                    quote_ident(column)
                ))
                .await?;
            }
            Dialect::Sqlite => {
                if !self.column_exists(table, column).await? {
                    return Err(missing(format!("no such column: {table}.{column}")));
                }
                rebuild_table(self.txn, table, Change::Retype(column, ty)).await?;
            }
        }
        Ok(())
    }

    /// `UPDATE t SET "c" = <value> WHERE "c" IS NULL` (value bound, never interpolated).
    /// Returns the number of rows filled and logs it.
    ///
    /// Errors: `Database`.
    pub async fn backfill(
        &mut self,
        table: &str,
        column: &str,
        value: impl Into<Value>,
    ) -> Result<u64, MigrationError> {
        let col = quote_ident(column);
        let sql = format!(
            "UPDATE {} SET {col} = {} WHERE {col} IS NULL",
            self.qualified_table(table),
            self.param(1)
        );
        let done = self
            .txn
            .execute_raw(self.stmt(&sql, vec![value.into()]))
            .await?;
        tracing::info!(
            target: "mint.sdk",
            migration = %self.label,
            table,
            column,
            rows = done.rows_affected(),
            "Backfilled {} row(s) of {table}.{column}",
            done.rows_affected()
        );
        Ok(done.rows_affected())
    }

    fn refuse_transaction_control(sql: &str) -> Result<(), MigrationError> {
        match transaction_control(sql) {
            Some(keyword) => Err(MigrationError::Unsupported(format!(
                "{keyword} in a migration: a migration runs inside the run's transaction and \
                 must not end it (it would break atomicity and release the migration lock)"
            ))),
            None => Ok(()),
        }
    }

    /// Runs any statement on the run's transaction, with bound `values` (`?` placeholders on
    /// SQLite, `$1…` on PostgreSQL). No portability, idempotency or destructive guard.
    ///
    /// Errors: `Unsupported` for a statement that controls transactions (`BEGIN`, `COMMIT`,
    /// `END`, `ROLLBACK`, `SAVEPOINT`, `RELEASE`, `START`, `ABORT`), nothing sent; `Database`.
    pub async fn execute(
        &mut self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<ExecResult, MigrationError> {
        Self::refuse_transaction_control(sql)?;
        tracing::debug!(target: "mint.sdk", migration = %self.label, sql, "Migration statement");
        Ok(self.txn.execute_raw(self.stmt(sql, values)).await?)
    }

    /// Like [`execute`](Self::execute), returning the rows (for `SELECT` or `RETURNING`).
    pub async fn query(
        &mut self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>, MigrationError> {
        Self::refuse_transaction_control(sql)?;
        Ok(self.txn.query_all_raw(self.stmt(sql, values)).await?)
    }

    fn build<S: StatementBuilder>(&self, stmt: &S) -> Result<Statement, MigrationError> {
        let backend = self.dialect.backend();
        // sea-query panics on some statements (SQLite ModifyColumn, several alter options in
        // one statement, foreign-key alters, …); turn that into an error.
        std::panic::catch_unwind(AssertUnwindSafe(|| stmt.build(&backend))).map_err(|panic| {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown reason".into());
            MigrationError::Unsupported(format!(
                "sea-query cannot render this statement for {}: {reason}",
                self.dialect
            ))
        })
    }

    /// Runs a sea-query statement (`Table::create()`, `Query::insert()`, …) rendered for this
    /// backend.
    ///
    /// Errors: `Unsupported` when sea-query cannot render it for this backend (nothing sent);
    /// `Database`.
    pub async fn execute_stmt<S: StatementBuilder>(
        &mut self,
        stmt: &S,
    ) -> Result<ExecResult, MigrationError> {
        let statement = self.build(stmt)?;
        Self::refuse_transaction_control(&statement.sql)?;
        Ok(self.txn.execute_raw(statement).await?)
    }

    /// Like [`execute_stmt`](Self::execute_stmt), returning the rows.
    pub async fn query_stmt<S: StatementBuilder>(
        &mut self,
        stmt: &S,
    ) -> Result<Vec<QueryResult>, MigrationError> {
        let statement = self.build(stmt)?;
        Ok(self.txn.query_all_raw(statement).await?)
    }
}

/// Whether table `name` exists: SQLite `sqlite_master` (case-insensitive; `schema` ignored),
/// PostgreSQL `information_schema.tables` in `schema` (default `public`).
pub(crate) async fn probe_table<C: ConnectionTrait>(
    conn: &C,
    dialect: Dialect,
    schema: Option<&str>,
    name: &str,
) -> Result<bool, DbErr> {
    let stmt = match dialect {
        Dialect::Sqlite => Statement::from_sql_and_values(
            dialect.backend(),
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
            vec![name.into()],
        ),
        Dialect::Postgres => Statement::from_sql_and_values(
            dialect.backend(),
            "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
            vec![schema.unwrap_or("public").into(), name.into()],
        ),
    };
    Ok(!conn.query_all_raw(stmt).await?.is_empty())
}

/// The column names of `table` in order (empty when it does not exist): SQLite
/// `PRAGMA table_info`, PostgreSQL `information_schema.columns` in `schema` (default `public`).
pub(crate) async fn probe_columns<C: ConnectionTrait>(
    conn: &C,
    dialect: Dialect,
    schema: Option<&str>,
    table: &str,
) -> Result<Vec<String>, DbErr> {
    let stmt = match dialect {
        Dialect::Sqlite => Statement::from_sql_and_values(
            dialect.backend(),
            "SELECT name FROM pragma_table_info(?) ORDER BY cid",
            vec![table.into()],
        ),
        Dialect::Postgres => Statement::from_sql_and_values(
            dialect.backend(),
            "SELECT column_name::text AS name FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            vec![schema.unwrap_or("public").into(), table.into()],
        ),
    };
    conn.query_all_raw(stmt)
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "name"))
        .collect()
}
