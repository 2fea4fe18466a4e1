//! SQL on the `panels` table, on a transaction from
//! [`plugin_db_session`](mint_sdk::AnalysisPlugin::plugin_db_session).
//!
//! Statements are written with `?` placeholders and renumbered to `$n` on PostgreSQL, so the
//! same code serves the standalone SQLite file and the platform's per-plugin schema (the
//! platform's session has the plugin schema on its search path, so names stay unqualified).

use chrono::{DateTime, SecondsFormat, Utc};
use mint_sdk::PluginError;
use mint_sdk::sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, QueryResult, SqlErr, Statement,
    Value as DbValue,
};
use mint_sdk::serde_json::{self, Value};

use crate::model::{Drug, NewPanel, Panel};

const COLUMNS: &str = "id, experiment_id, name, drugs, notes, tags, created_at, updated_at";

/// `sql` with `?` renumbered to `$1…` on PostgreSQL.
fn statement(backend: DbBackend, sql: &str, values: Vec<DbValue>) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    } else {
        sql.to_string()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

async fn query(
    txn: &DatabaseTransaction,
    sql: &str,
    values: Vec<DbValue>,
) -> Result<Vec<QueryResult>, PluginError> {
    let stmt = statement(txn.get_database_backend(), sql, values);
    Ok(txn.query_all_raw(stmt).await?)
}

/// The current time, cut to whole milliseconds so it reads back unchanged.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn corrupt(id: i64, what: &str, err: impl std::fmt::Display) -> PluginError {
    PluginError::repository(format!("Stored panel {id} has an unreadable {what}: {err}"))
        .with_entity("panel")
}

/// A JSON column: native JSON on PostgreSQL, text on SQLite.
fn json_column(row: &QueryResult, column: &str) -> Result<Option<Value>, DbErr> {
    match row.try_get::<Option<Value>>("", column) {
        Ok(v) => Ok(v),
        Err(_) => match row.try_get::<Option<String>>("", column)? {
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| DbErr::Type(e.to_string())),
            None => Ok(None),
        },
    }
}

/// An integer column: `integer` is INT4 on PostgreSQL and 64-bit on SQLite.
fn int(row: &QueryResult, column: &str) -> Result<i64, DbErr> {
    row.try_get::<i64>("", column)
        .or_else(|_| row.try_get::<i32>("", column).map(i64::from))
}

fn panel_of(row: &QueryResult) -> Result<Panel, PluginError> {
    let id = int(row, "id")?;
    let drugs = json_column(row, "drugs").map_err(|e| corrupt(id, "drug list", e))?;
    let drugs: Vec<Drug> = serde_json::from_value(drugs.unwrap_or(Value::Array(Vec::new())))
        .map_err(|e| corrupt(id, "drug list", e))?;
    let tags = json_column(row, "tags").map_err(|e| corrupt(id, "tag list", e))?;
    let tags: Option<Vec<String>> = match tags {
        None | Some(Value::Null) => None,
        Some(v) => Some(serde_json::from_value(v).map_err(|e| corrupt(id, "tag list", e))?),
    };
    let created: DateTime<Utc> = row.try_get("", "created_at")?;
    let updated: DateTime<Utc> = row.try_get("", "updated_at")?;
    Ok(Panel {
        id,
        experiment_id: int(row, "experiment_id")?,
        name: row.try_get("", "name")?,
        drugs,
        notes: row.try_get("", "notes")?,
        tags,
        created_at: rfc3339(created),
        updated_at: rfc3339(updated),
    })
}

fn json_value<T: serde::Serialize>(value: &T) -> Result<DbValue, PluginError> {
    serde_json::to_value(value)
        .map(DbValue::from)
        .map_err(PluginError::unexpected)
}

fn tags_value(tags: Option<&Vec<String>>) -> Result<DbValue, PluginError> {
    match tags {
        Some(t) => json_value(t),
        None => Ok(DbValue::Json(None)),
    }
}

/// The 409 of a name already used in the experiment.
pub fn name_conflict(experiment_id: i64, name: &str) -> PluginError {
    PluginError::conflict(format!(
        "Experiment {experiment_id} already has a panel named '{name}'"
    ))
    .with_entity("panel")
    .with_conflict_field("name")
}

/// Maps a unique-index violation (a concurrent writer won the race) to the name conflict.
fn on_write_error(err: DbErr, experiment_id: i64, name: &str) -> PluginError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => name_conflict(experiment_id, name),
        _ => err.into(),
    }
}

/// The experiment's panels, oldest first.
pub async fn list(
    txn: &DatabaseTransaction,
    experiment_id: i64,
) -> Result<Vec<Panel>, PluginError> {
    let rows = query(
        txn,
        &format!("SELECT {COLUMNS} FROM panels WHERE experiment_id = ? ORDER BY id"),
        vec![experiment_id.into()],
    )
    .await?;
    rows.iter().map(panel_of).collect()
}

/// The panel with `id`, if any.
pub async fn get(txn: &DatabaseTransaction, id: i64) -> Result<Option<Panel>, PluginError> {
    let rows = query(
        txn,
        &format!("SELECT {COLUMNS} FROM panels WHERE id = ?"),
        vec![id.into()],
    )
    .await?;
    rows.first().map(panel_of).transpose()
}

/// Whether another panel (not `except`) of the experiment has `name`.
pub async fn name_taken(
    txn: &DatabaseTransaction,
    experiment_id: i64,
    name: &str,
    except: Option<i64>,
) -> Result<bool, PluginError> {
    let rows = query(
        txn,
        "SELECT id FROM panels WHERE experiment_id = ? AND name = ? AND id <> ?",
        vec![
            experiment_id.into(),
            name.into(),
            except.unwrap_or(0).into(),
        ],
    )
    .await?;
    Ok(!rows.is_empty())
}

/// How many panels the experiment has.
pub async fn count(txn: &DatabaseTransaction, experiment_id: i64) -> Result<i64, PluginError> {
    let rows = query(
        txn,
        "SELECT COUNT(*) AS n FROM panels WHERE experiment_id = ?",
        vec![experiment_id.into()],
    )
    .await?;
    match rows.first() {
        Some(row) => Ok(int(row, "n")?),
        None => Ok(0),
    }
}

/// Inserts the panel; returns it as stored.
///
/// Errors: the name conflict when the unique index refuses the row.
pub async fn insert(txn: &DatabaseTransaction, panel: &NewPanel) -> Result<Panel, PluginError> {
    let at = now();
    let stmt = statement(
        txn.get_database_backend(),
        "INSERT INTO panels (experiment_id, name, drugs, notes, tags, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        vec![
            panel.experiment_id.into(),
            panel.name.clone().into(),
            json_value(&panel.drugs)?,
            panel.notes.clone().into(),
            tags_value(panel.tags.as_ref())?,
            at.into(),
            at.into(),
        ],
    );
    let rows = txn
        .query_all_raw(stmt)
        .await
        .map_err(|e| on_write_error(e, panel.experiment_id, &panel.name))?;
    let id: i64 = match rows.first() {
        Some(row) => int(row, "id")?,
        None => return Err(PluginError::repository("INSERT returned no id").with_entity("panel")),
    };
    get(txn, id)
        .await?
        .ok_or_else(|| PluginError::repository("Inserted panel vanished").with_entity("panel"))
}

/// Writes every mutable field of `panel` and sets `updated_at` to now; returns it as stored.
///
/// Errors: the name conflict when the unique index refuses the name.
pub async fn update(txn: &DatabaseTransaction, panel: &Panel) -> Result<Panel, PluginError> {
    let stmt = statement(
        txn.get_database_backend(),
        "UPDATE panels SET name = ?, drugs = ?, notes = ?, tags = ?, updated_at = ? WHERE id = ?",
        vec![
            panel.name.clone().into(),
            json_value(&panel.drugs)?,
            panel.notes.clone().into(),
            tags_value(panel.tags.as_ref())?,
            now().into(),
            panel.id.into(),
        ],
    );
    txn.execute_raw(stmt)
        .await
        .map_err(|e| on_write_error(e, panel.experiment_id, &panel.name))?;
    get(txn, panel.id)
        .await?
        .ok_or_else(|| PluginError::repository("Updated panel vanished").with_entity("panel"))
}

/// Deletes the panel; `true` iff a row was removed.
pub async fn delete(txn: &DatabaseTransaction, id: i64) -> Result<bool, PluginError> {
    let stmt = statement(
        txn.get_database_backend(),
        "DELETE FROM panels WHERE id = ?",
        vec![id.into()],
    );
    Ok(txn.execute_raw(stmt).await?.rows_affected() > 0)
}
