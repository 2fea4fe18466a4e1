//! [`MigrationError`], everything a migration run or a migration operation can report
//! (`spec/migrations.md` §6, `spec/errors-and-logging.md` §7).
//!
//! These are not [`PluginError`]s: the runner returns them to the host, which marks the plugin
//! Failed with the Display text. When one has to cross HTTP it becomes
//! `PluginError::Lifecycle { phase: "migrate", .. }` ([`MigrationError::into_plugin_error`] or
//! the `From` impl).

use std::time::Duration;

use crate::error::PluginError;

/// `vNNN_name`, the label of a migration in logs and errors (version zero-padded to 3 digits).
pub fn migration_label(version: u32, name: &str) -> String {
    format!("v{version:03}_{name}")
}

/// The first 8 characters of a checksum, followed by `…` (how checksums appear in messages).
fn short(checksum: &str) -> String {
    let prefix: String = checksum.chars().take(8).collect();
    format!("{prefix}…")
}

/// Every failure of the migration system (Python's `MigrationError` family, §6).
///
/// Display texts name the plugin and the migration as `vNNN_name` where they have one, and show
/// checksums as 8-character prefixes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// A migration's `upgrade` (or its tracking row) failed; the whole run was rolled back and a
    /// `success = false` row records the attempt (§4.8). `source` is the specific cause.
    #[error("Migration {} of plugin '{plugin_name}' failed: {message}", migration_label(*.version, .name))]
    Failed {
        /// The plugin whose migration failed.
        plugin_name: String,
        /// The failing migration's version.
        version: u32,
        /// The failing migration's name.
        name: String,
        /// The cause's message (also stored in the tracking row's `error_message`).
        message: String,
        /// The cause: a [`Destructive`](Self::Destructive), [`Database`](Self::Database),
        /// [`Unsupported`](Self::Unsupported), [`Other`](Self::Other) error, ….
        #[source]
        source: Box<MigrationError>,
    },
    /// The shipped migrations are invalid (§2): version outside `1..=2147483647`, empty or
    /// over-long name, duplicate version, `depends_on` not below `version`, checksum longer than
    /// 64 characters. Nothing was written.
    #[error("Invalid migrations: {0}")]
    Invalid(String),
    /// The database is managed by Alembic (table `alembic_version` has a row); the runner
    /// refuses to touch it. Nothing was written.
    #[error(
        "The database of plugin '{plugin_name}' is managed by Alembic (alembic_version has a row); \
         refusing to run plugin migrations on it"
    )]
    Foreign {
        /// The plugin.
        plugin_name: String,
    },
    /// Another run held the plugin's migration lock longer than the lock timeout. Nothing was
    /// written.
    #[error(
        "Timed out after {timeout:?} waiting for the migration lock of plugin '{plugin_name}' \
         (another instance is migrating it)"
    )]
    LockTimeout {
        /// The plugin.
        plugin_name: String,
        /// The configured lock timeout.
        timeout: Duration,
    },
    /// The requested operation cannot be done on this backend or with these arguments (a
    /// rebuild of a table with foreign keys, a type the dialect lacks, a transaction-control
    /// statement, a statement sea-query cannot render, …). Nothing was sent for it.
    #[error("Unsupported migration operation: {0}")]
    Unsupported(String),
    /// A driver error.
    #[error("Database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// An applied migration's stored checksum differs from the shipped one: its code was edited
    /// after it ran (§4.4). Nothing was applied.
    #[error(
        "Checksum mismatch for migration {} of plugin '{plugin_name}': recorded {}, shipped {} \
         (an applied migration was edited; revert the edit, or bless it with accepted_checksums())",
        migration_label(*.version, .name), short(.expected), short(.actual)
    )]
    Checksum {
        /// The plugin.
        plugin_name: String,
        /// The migration's version.
        version: u32,
        /// The migration's (shipped) name.
        name: String,
        /// The checksum recorded when it was applied.
        expected: String,
        /// The checksum of the shipped code.
        actual: String,
    },
    /// The database records a higher version than the plugin ships: an older plugin on a newer
    /// schema. Downgrades are not supported. Nothing was changed.
    #[error(
        "The database schema of plugin '{plugin_name}' is at v{db_version}, but this plugin \
         version ships migrations only up to v{plugin_max_version}; downgrades are not supported"
    )]
    SchemaVersionAhead {
        /// The plugin.
        plugin_name: String,
        /// The highest successfully recorded version.
        db_version: u32,
        /// The highest shipped version.
        plugin_max_version: u32,
    },
    /// A destructive operation (`drop_table`, `drop_column`, `drop_index`) in a migration that
    /// does not declare `destructive() == true`. No SQL was sent.
    #[error(
        "Destructive operation {operation} on '{table}'{} needs a migration that declares \
         destructive() = true",
        if .target.is_empty() { String::new() } else { format!(" (target '{}')", .target) }
    )]
    Destructive {
        /// The operation: `drop_table`, `drop_column` or `drop_index`.
        operation: String,
        /// The table (for `drop_index`, the index name).
        table: String,
        /// The column or index; empty for `drop_table`.
        target: String,
    },
    /// An error raised by migration code itself (`MigrationError::other("…")`).
    #[error("{0}")]
    Other(String),
}

impl MigrationError {
    /// An error of the migration's own making, e.g. a data check that failed.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other(message.into())
    }

    /// The plugin the error names, when it names one.
    pub fn plugin_name(&self) -> Option<&str> {
        match self {
            Self::Failed { plugin_name, .. }
            | Self::Foreign { plugin_name }
            | Self::LockTimeout { plugin_name, .. }
            | Self::Checksum { plugin_name, .. }
            | Self::SchemaVersionAhead { plugin_name, .. } => Some(plugin_name),
            _ => None,
        }
    }

    /// The error as it crosses HTTP: `PluginError::Lifecycle` (500 `LIFECYCLE_ERROR`) with
    /// `phase "migrate"`, `plugin_name` and the Display text as message
    /// (errors-and-logging.md §7).
    pub fn into_plugin_error(self, plugin_name: &str) -> PluginError {
        PluginError::lifecycle(self.to_string())
            .with_phase("migrate")
            .with_plugin_name(plugin_name)
    }
}

impl From<MigrationError> for PluginError {
    /// `Lifecycle { phase: "migrate" }`, with the plugin name when the error carries one.
    fn from(err: MigrationError) -> Self {
        let plugin = err.plugin_name().map(str::to_string);
        let out = PluginError::lifecycle(err.to_string()).with_phase("migrate");
        match plugin {
            Some(name) => out.with_plugin_name(name),
            None => out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_texts_name_plugin_label_and_short_checksums() {
        let failed = MigrationError::Failed {
            plugin_name: "panels".into(),
            version: 2,
            name: "add_color".into(),
            message: "boom".into(),
            source: Box::new(MigrationError::other("boom")),
        };
        assert_eq!(
            failed.to_string(),
            "Migration v002_add_color of plugin 'panels' failed: boom"
        );
        let checksum = MigrationError::Checksum {
            plugin_name: "panels".into(),
            version: 7,
            name: "x".into(),
            expected: "0123456789abcdef".into(),
            actual: "fedcba9876543210".into(),
        };
        let text = checksum.to_string();
        assert!(text.contains("v007_x"), "{text}");
        assert!(text.contains("'panels'"), "{text}");
        assert!(
            text.contains("01234567…") && text.contains("fedcba98…"),
            "{text}"
        );
        assert!(!text.contains("0123456789"), "{text}");
        let ahead = MigrationError::SchemaVersionAhead {
            plugin_name: "panels".into(),
            db_version: 5,
            plugin_max_version: 4,
        };
        assert!(ahead.to_string().contains("v5") && ahead.to_string().contains("v4"));
        let destructive = MigrationError::Destructive {
            operation: "drop_column".into(),
            table: "panels".into(),
            target: "color".into(),
        };
        assert_eq!(
            destructive.to_string(),
            "Destructive operation drop_column on 'panels' (target 'color') needs a migration \
             that declares destructive() = true"
        );
    }

    #[test]
    fn migration_errors_cross_http_as_lifecycle_migrate() {
        let err: PluginError = MigrationError::Foreign {
            plugin_name: "p".into(),
        }
        .into();
        assert_eq!(err.status().as_u16(), 500);
        assert_eq!(err.code(), "LIFECYCLE_ERROR");
        assert_eq!(err.details()["phase"], "migrate");
        assert_eq!(err.details()["plugin_name"], "p");
        let err = MigrationError::Invalid("x".into()).into_plugin_error("q");
        assert_eq!(err.details()["plugin_name"], "q");
        assert_eq!(err.to_string(), "Invalid migrations: x");
    }
}
