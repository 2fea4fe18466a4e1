//! The standalone host's migration step (`spec/migrations.md` §1, `spec/app-testing-export.md`
//! §1.6 step 3): run the plugin's migrations on its LocalDatabase, adopting a database built by
//! create_all, then require every shared-model table and column to exist.
//!
//! The platform has its own loader; this module is only what `StandaloneApp::start` calls.

use crate::error::PluginError;
use crate::local_database::LocalDatabase;
use crate::plugin::AnalysisPlugin;

use super::{MigrationResult, MigrationRunner};

/// Runs `plugin`'s migrations on `db` when it has any (§1 rule 2): `tables_already_exist` =
/// models non-empty ∧ every model table/column exists ∧ no successful tracking row; afterwards
/// every model table and column must exist. Returns `None` when the plugin ships no migrations
/// (its model tables were created from the models, rule 1).
///
/// Errors: the migration error as `PluginError::Lifecycle { phase: "migrate" }`; a missing model
/// table or column after the run as `PluginError::Configuration` (`config_key "migrations"`).
pub(crate) async fn migrate_standalone(
    plugin: &dyn AnalysisPlugin,
    db: &LocalDatabase,
) -> Result<Option<MigrationResult>, PluginError> {
    let migrations = plugin.migrations();
    if migrations.is_empty() {
        return Ok(None);
    }
    let name = plugin.metadata().name;
    let models = plugin.shared_models();
    let lift = |e: super::MigrationError| e.into_plugin_error(&name);
    let runner = MigrationRunner::new(db.connection()?, name.clone()).map_err(lift)?;
    let adopt = runner.tables_already_exist(&models).await.map_err(lift)?;
    let result = runner.run(&migrations, adopt).await.map_err(lift)?;
    tracing::info!(
        target: "mint.sdk",
        plugin = %name,
        current_version = result.current_version,
        applied = ?result.applied,
        stamped = ?result.stamped,
        "Migrations of {name} are at v{}",
        result.current_version
    );
    let missing = runner.missing_model_parts(&models).await.map_err(lift)?;
    if !missing.is_empty() {
        return Err(PluginError::configuration(format!(
            "After its migrations, the database of plugin '{name}' lacks shared-model parts: {} \
             (add a migration that creates them, or fix shared_models())",
            missing.join(", ")
        ))
        .with_config_key("migrations"));
    }
    Ok(Some(result))
}
