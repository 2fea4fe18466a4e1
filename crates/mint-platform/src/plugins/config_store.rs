//! Stored plugin settings: one flat JSON object and a revision per plugin in the
//! `plugin_configs` table (`spec/platform-api.md` §4.5 `/api/plugins/{name}/config`,
//! `spec/context-and-data.md` §1 `plugin_config` / `set_plugin_config`).

use mint_sdk::PluginError;
use mint_sdk::error::JsonObject;

use crate::config::DatabaseMode;
use crate::store::{self, Store};

/// A plugin's stored settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredConfig {
    /// The flat settings object (`{}` when never written).
    pub config: JsonObject,
    /// Bumped by every write; 0 when never written.
    pub revision: i64,
}

/// Reads the stored settings of `plugin_id`.
///
/// Errors: `Repository` when the database fails or the row is not a JSON object.
pub async fn load(store: &Store, plugin_id: &str) -> Result<StoredConfig, PluginError> {
    let row = store
        .one(
            store.connection(),
            "SELECT config, revision FROM plugin_configs WHERE plugin_id = $1",
            [plugin_id.into()],
        )
        .await?;
    match row {
        Some(row) => Ok(StoredConfig {
            config: store::get_object(&row, "config")?,
            revision: store::get_i64(&row, "revision")?,
        }),
        None => Ok(StoredConfig::default()),
    }
}

/// Replaces the stored settings of `plugin_id` with what `change` makes of the current ones,
/// atomically: the row is locked first, so concurrent writers queue and `change` sees the
/// latest revision (compare-and-swap callers check it there). Bumps the revision.
///
/// Errors: `change`'s error (nothing is written); `Repository` (converted into `E`).
pub async fn update<E: From<PluginError>>(
    store: &Store,
    plugin_id: &str,
    change: impl FnOnce(&StoredConfig) -> Result<JsonObject, E>,
) -> Result<StoredConfig, E> {
    let txn = store.begin().await?;
    // Takes SQLite's write lock (any write statement does) and makes sure the row exists.
    store
        .exec(
            &txn,
            "INSERT INTO plugin_configs (plugin_id, config, revision, updated_at) \
             VALUES ($1, '{}', 0, $2) ON CONFLICT (plugin_id) DO NOTHING",
            [plugin_id.into(), store::now_text().into()],
        )
        .await?;
    let lock = match store.mode() {
        DatabaseMode::Postgresql => " FOR UPDATE",
        DatabaseMode::Sqlite => "",
    };
    let row = store
        .one(
            &txn,
            &format!("SELECT config, revision FROM plugin_configs WHERE plugin_id = $1{lock}"),
            [plugin_id.into()],
        )
        .await?
        .ok_or_else(|| PluginError::repository("The plugin settings row vanished"))?;
    let current = StoredConfig {
        config: store::get_object(&row, "config")?,
        revision: store::get_i64(&row, "revision")?,
    };
    let next = StoredConfig {
        config: change(&current)?,
        revision: current.revision + 1,
    };
    store
        .exec(
            &txn,
            "UPDATE plugin_configs SET config = $2, revision = $3, updated_at = $4 \
             WHERE plugin_id = $1",
            [
                plugin_id.into(),
                store::json_text(&next.config).into(),
                next.revision.into(),
                store::now_text().into(),
            ],
        )
        .await?;
    txn.commit()
        .await
        .map_err(|e| PluginError::repository(format!("Cannot save the plugin settings: {e}")))?;
    Ok(next)
}
