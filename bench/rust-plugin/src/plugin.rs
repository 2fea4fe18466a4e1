//! [`BenchPlugin`]: the benchmark plugin on `mint-sdk`. Its routes, under `/api/bench`, match
//! the Python bench plugin's one for one:
//!
//! - `GET /ping` → `{"ok": true}` ([`ping`], shared with the bare-axum contender).
//! - `POST /rows` `{"name", "value"}` → the row inserted into the plugin's own table
//!   `bench_rows` through [`AnalysisPlugin::plugin_db_session`] and read back by id, in one
//!   committed transaction.
//! - `POST /analysis/{experiment_id}` (a JSON object) → `save_analysis` then `load_analysis`,
//!   answering the stored result.
//!
//! The table is created in `initialize` with plain SQL (no SDK migrations needed).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use mint_sdk::extract::{Json, Path};
use mint_sdk::sea_orm::{ConnectionTrait, DbBackend, Statement, Value as DbValue};
use mint_sdk::serde_json::{Value, json};
use mint_sdk::{
    AnalysisPlugin, JsonObject, PlatformContext, PluginCore, PluginError, PluginMetadata,
};
use serde::{Deserialize, Serialize};

/// The plugin's one table; the same columns as the Python plugin's `BenchRow` model.
const CREATE_BENCH_ROWS: &str = "CREATE TABLE IF NOT EXISTS bench_rows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    value INTEGER NOT NULL)";

/// The benchmark plugin (`mint-bench`, routes under `/api/bench`).
#[derive(Debug, Default)]
pub struct BenchPlugin {
    core: PluginCore,
}

impl BenchPlugin {
    /// A new, not yet started plugin.
    pub fn new() -> Self {
        Self::default()
    }
}

#[mint_sdk::async_trait]
impl AnalysisPlugin for BenchPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(
            "mint-bench",
            env!("CARGO_PKG_VERSION"),
            "Benchmark plugin: trivial JSON, one DB row, analysis save/load",
            "benchmark",
            "/bench",
        )
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        let router = Router::new()
            .route("/ping", get(ping))
            .route("/rows", post(write_row))
            .route("/analysis/{experiment_id}", post(save_and_load_analysis))
            .with_state(self);
        vec![(router, String::new())]
    }

    async fn initialize(&self, context: Option<PlatformContext>) -> Result<(), PluginError> {
        let _ = context;
        let txn = self.plugin_db_session().await?;
        txn.execute_unprepared(CREATE_BENCH_ROWS).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// The trivial JSON route of workload P1.
pub async fn ping() -> Json<Value> {
    Json(json!({"ok": true}))
}

/// A row to write (request body of `POST /rows`).
#[derive(Debug, Deserialize)]
pub struct NewRow {
    /// Free text.
    pub name: String,
    /// Any integer.
    pub value: i64,
}

/// A row as stored in `bench_rows`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct StoredRow {
    /// The id SQLite assigned.
    pub id: i64,
    /// As written.
    pub name: String,
    /// As written.
    pub value: i64,
}

async fn write_row(
    State(plugin): State<Arc<BenchPlugin>>,
    Json(row): Json<NewRow>,
) -> Result<Json<StoredRow>, PluginError> {
    let txn = plugin.plugin_db_session().await?;
    let backend = txn.get_database_backend();
    let inserted = txn
        .execute_raw(statement(
            backend,
            "INSERT INTO bench_rows (name, value) VALUES (?, ?)",
            vec![row.name.into(), row.value.into()],
        ))
        .await?;
    let id = i64::try_from(inserted.last_insert_id())
        .map_err(|_| PluginError::repository("SQLite returned a row id beyond i64"))?;
    let stored = txn
        .query_one_raw(statement(
            backend,
            "SELECT id, name, value FROM bench_rows WHERE id = ?",
            vec![id.into()],
        ))
        .await?
        .ok_or_else(|| PluginError::repository(format!("Row {id} vanished before read-back")))?;
    let stored = StoredRow {
        id: stored.try_get("", "id")?,
        name: stored.try_get("", "name")?,
        value: stored.try_get("", "value")?,
    };
    txn.commit().await?;
    Ok(Json(stored))
}

async fn save_and_load_analysis(
    State(plugin): State<Arc<BenchPlugin>>,
    Path(experiment_id): Path<i64>,
    Json(result): Json<JsonObject>,
) -> Result<Json<Value>, PluginError> {
    plugin.save_analysis(experiment_id, result).await?;
    let loaded = plugin.load_analysis(experiment_id).await?;
    Ok(Json(
        loaded.map_or(Value::Null, |r| Value::Object(r.result)),
    ))
}

fn statement(backend: DbBackend, sql: &str, values: Vec<DbValue>) -> Statement {
    Statement::from_sql_and_values(backend, sql, values)
}
