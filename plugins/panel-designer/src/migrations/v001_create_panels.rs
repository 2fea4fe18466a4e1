//! v001: the `panels` table and its unique (experiment_id, name) index.

use mint_sdk::migrations::{Column, MigrationError, MigrationOps, PluginMigration};

use super::{PANELS_TABLE, UNIQUE_NAME_INDEX};

/// v001: creates `panels` (id, experiment_id, name, drugs, notes, created_at, updated_at).
#[derive(Debug, Clone, Copy, Default)]
pub struct CreatePanels;

#[mint_sdk::migration]
impl PluginMigration for CreatePanels {
    fn version(&self) -> u32 {
        1
    }

    fn name(&self) -> &'static str {
        "create_panels"
    }

    async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
        ops.create_table(
            PANELS_TABLE,
            &[
                Column::integer("id").primary_key(),
                Column::integer("experiment_id").not_null().index(),
                Column::text("name").not_null(),
                Column::json("drugs").not_null(),
                Column::text("notes").nullable(),
                Column::timestamp_tz("created_at").not_null(),
                Column::timestamp_tz("updated_at").not_null(),
            ],
        )
        .await?;
        ops.create_index(
            UNIQUE_NAME_INDEX,
            PANELS_TABLE,
            &["experiment_id", "name"],
            true,
        )
        .await
    }
}
