//! The plugin's migrations: v001 creates `panels`, v002 adds the nullable `tags` column.

mod v001_create_panels;
mod v002_add_tags;

pub use v001_create_panels::CreatePanels;
pub use v002_add_tags::AddTags;

/// The table every migration and query of this plugin works on.
pub const PANELS_TABLE: &str = "panels";

/// The unique index behind the "one name per experiment" rule.
pub const UNIQUE_NAME_INDEX: &str = "ux_panels_experiment_id_name";
