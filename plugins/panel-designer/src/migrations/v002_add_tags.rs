//! v002: the nullable `tags` JSON column.

use mint_sdk::migrations::{Column, MigrationError, MigrationOps, PluginMigration};

use super::PANELS_TABLE;

/// v002: adds `panels.tags` (JSON list of strings, nullable; existing rows get `NULL`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AddTags;

#[mint_sdk::migration]
impl PluginMigration for AddTags {
    fn version(&self) -> u32 {
        2
    }

    fn name(&self) -> &'static str {
        "add_tags"
    }

    fn depends_on(&self) -> Option<u32> {
        Some(1)
    }

    async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
        ops.add_column(PANELS_TABLE, Column::json("tags").nullable())
            .await
    }
}
