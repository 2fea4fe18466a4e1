//! MigrationRunner behaviour (spec/migrations.md §4, §5, §7) on SQLite and, with
//! `MINT_TEST_DATABASE_URL`, on PostgreSQL: ordering, validation, tracking rows, checksums,
//! stamping, failures and rollback, locking and concurrency.

mod migrations_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use migrations_support::{Op, TestDb, TestMigration, boxed, create, versions};
use mint_sdk::migrations::{
    Dialect, MigrationError, MigrationRunner, PluginMigration, STAMP_MARKER,
};
use mint_sdk::sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

/// Migrations written as plugin authors write them, in several edited variants: each module
/// holds the "same" v1 after a different edit.
mod authored {
    pub mod original {
        use mint_sdk::migrations::{
            Column, Dialect, MigrationError, MigrationOps, PluginMigration,
        };

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
                let kind = match ops.dialect() {
                    Dialect::Sqlite => "sqlite",
                    Dialect::Postgres => "postgresql",
                };
                assert!(!kind.is_empty());
                ops.create_table(
                    "panels",
                    &[Column::integer("id").primary_key(), Column::text("name")],
                )
                .await
            }
        }

        pub struct AddColor;

        #[mint_sdk::migration]
        impl PluginMigration for AddColor {
            fn version(&self) -> u32 {
                2
            }
            fn name(&self) -> &'static str {
                "add_color"
            }
            async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
                ops.add_column("panels", Column::text("color")).await
            }
            async fn downgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
                ops.drop_column("panels", "color").await
            }
        }
    }

    // Kept away from rustfmt: the odd layout *is* the test.
    #[rustfmt::skip]
    pub mod cosmetic {
        use mint_sdk::migrations::{Column, Dialect, MigrationError, MigrationOps, PluginMigration};

        pub struct CreatePanels;

        /// Creates the panels table (a doc comment added after it was applied).
        #[mint_sdk::migration]
        impl PluginMigration for CreatePanels {
            fn version(&self) -> u32 { 1 } // one
            fn name(&self) -> &'static str { "create_panels" }
            /// The upgrade.
            async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
                // which backend
                let kind = match ops.dialect() { Dialect::Sqlite => "sqlite", Dialect::Postgres => "postgresql", };
                assert!(!kind.is_empty(),);
                ops.create_table("panels", &[Column::integer("id").primary_key(), Column::text("name"),],).await
            }
        }
    }

    pub mod edited_body {
        use mint_sdk::migrations::{
            Column, Dialect, MigrationError, MigrationOps, PluginMigration,
        };

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
                let kind = match ops.dialect() {
                    Dialect::Sqlite => "sqlite",
                    Dialect::Postgres => "postgresql",
                };
                assert!(!kind.is_empty());
                ops.create_table(
                    "panels",
                    &[Column::integer("id").primary_key(), Column::text("title")],
                )
                .await
            }
        }
    }

    pub mod edited_name {
        use mint_sdk::migrations::{
            Column, Dialect, MigrationError, MigrationOps, PluginMigration,
        };

        pub struct CreatePanels;

        #[mint_sdk::migration]
        impl PluginMigration for CreatePanels {
            fn version(&self) -> u32 {
                1
            }
            fn name(&self) -> &'static str {
                "create_panel_table"
            }
            async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
                let kind = match ops.dialect() {
                    Dialect::Sqlite => "sqlite",
                    Dialect::Postgres => "postgresql",
                };
                assert!(!kind.is_empty());
                ops.create_table(
                    "panels",
                    &[Column::integer("id").primary_key(), Column::text("name")],
                )
                .await
            }
        }
    }

    pub mod edited_destructive {
        use mint_sdk::migrations::{
            Column, Dialect, MigrationError, MigrationOps, PluginMigration,
        };

        pub struct CreatePanels;

        #[mint_sdk::migration]
        impl PluginMigration for CreatePanels {
            fn version(&self) -> u32 {
                1
            }
            fn name(&self) -> &'static str {
                "create_panels"
            }
            fn destructive(&self) -> bool {
                true
            }
            async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
                let kind = match ops.dialect() {
                    Dialect::Sqlite => "sqlite",
                    Dialect::Postgres => "postgresql",
                };
                assert!(!kind.is_empty());
                ops.create_table(
                    "panels",
                    &[Column::integer("id").primary_key(), Column::text("name")],
                )
                .await
            }
        }
    }

    // rustfmt would unwrap the block (which is exactly the kind of token change §4.4 detects).
    #[rustfmt::skip]
    pub mod wrapped_arm {
        use mint_sdk::migrations::{Column, Dialect, MigrationError, MigrationOps, PluginMigration};

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
                let kind = match ops.dialect() {
                    Dialect::Sqlite => { "sqlite" }
                    Dialect::Postgres => "postgresql",
                };
                assert!(!kind.is_empty());
                ops.create_table(
                    "panels",
                    &[Column::integer("id").primary_key(), Column::text("name")],
                )
                .await
            }
        }
    }

    /// A byte-for-byte copy of `original::AddColor`'s impl, at other lines of the file.
    pub mod moved {
        use mint_sdk::migrations::{Column, MigrationError, MigrationOps, PluginMigration};

        pub struct AddColor;

        #[mint_sdk::migration]
        impl PluginMigration for AddColor {
            fn version(&self) -> u32 {
                2
            }
            fn name(&self) -> &'static str {
                "add_color"
            }
            async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
                ops.add_column("panels", Column::text("color")).await
            }
            async fn downgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
                ops.drop_column("panels", "color").await
            }
        }
    }
}

use authored::*;

fn shipped() -> Vec<Box<dyn PluginMigration>> {
    mint_sdk::migrations![original::CreatePanels, original::AddColor]
}

// ----- applying and re-running ------------------------------------------------------------------

async fn fresh_database_applies_every_migration_case(db: &TestDb) {
    let result = db.run(&shipped()).await.expect("run");
    assert_eq!(result.applied, [1, 2]);
    assert_eq!(result.current_version, 2);
    assert!(result.stamped.is_empty() && result.errors.is_empty());
    let records = db.records().await;
    assert_eq!(versions(&records, true), [1, 2]);
    for record in &records {
        let checksum = record.checksum.as_deref().unwrap_or_default();
        assert_eq!(checksum.len(), 64, "{record:?}");
        assert!(checksum.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        assert_eq!(record.error_message, None);
    }
    assert_eq!(records[0].name, "create_panels");
    assert_eq!(db.columns("panels").await, ["id", "name", "color"]);
}
both!(
    fresh_database_applies_every_migration,
    super::fresh_database_applies_every_migration_case
);

async fn rerun_applies_nothing_and_keeps_rows_case(db: &TestDb) {
    let applied_at = format!(
        "SELECT CAST(applied_at AS TEXT) FROM {} WHERE plugin_name = '{}' ORDER BY version",
        db.runner().tracking_table(),
        db.plugin
    );
    db.run(&shipped()).await.expect("first run");
    let before = db.records().await;
    let stamps = db.strings(&applied_at).await;
    assert_eq!(stamps.len(), 2);
    let result = db.run(&shipped()).await.expect("rerun");
    assert!(result.applied.is_empty());
    assert_eq!(result.current_version, 2);
    assert_eq!(db.records().await, before);
    assert_eq!(db.strings(&applied_at).await, stamps);
}
both!(
    rerun_applies_nothing_and_keeps_rows,
    super::rerun_applies_nothing_and_keeps_rows_case
);

async fn tracking_table_has_the_python_layout_case(db: &TestDb) {
    db.run(&shipped()).await.expect("run");
    match db.dialect {
        Dialect::Sqlite => {
            let columns = db
                .strings(
                    "SELECT name || ' ' || type || ' ' || \"notnull\" || ' ' || COALESCE(dflt_value, '-') || ' ' || pk \
                     FROM pragma_table_info('_plugin_migrations') ORDER BY cid",
                )
                .await;
            assert_eq!(
                columns,
                [
                    "id INTEGER 0 - 1",
                    "plugin_name TEXT 1 - 0",
                    "version INTEGER 1 - 0",
                    "name TEXT 1 - 0",
                    "applied_at TEXT 1 - 0",
                    "checksum TEXT 0 - 0",
                    "success INTEGER 1 1 0",
                    "error_message TEXT 0 - 0",
                ]
            );
            let sql = db
                .strings("SELECT sql FROM sqlite_master WHERE name = '_plugin_migrations'")
                .await
                .join("");
            assert!(sql.contains("AUTOINCREMENT"), "{sql}");
            let unique = db
                .strings(
                    "SELECT group_concat(i.name, ',') FROM pragma_index_list('_plugin_migrations') l, \
                     pragma_index_info(l.name) i WHERE l.\"unique\" = 1 AND l.origin = 'u'",
                )
                .await;
            assert_eq!(unique, ["plugin_name,version"]);
            let applied_at = db
                .strings("SELECT applied_at FROM _plugin_migrations LIMIT 1")
                .await
                .join("");
            assert!(applied_at.ends_with("+00:00"), "{applied_at}");
            assert_eq!(applied_at.split('.').nth(1).map(|f| f.len()), Some(6 + 6));
        }
        Dialect::Postgres => {
            let columns = db
                .strings(
                    "SELECT column_name || ' ' || data_type || ' ' || COALESCE(character_maximum_length::text, '-') \
                     || ' ' || is_nullable || ' ' || COALESCE(column_default, '-') FROM information_schema.columns \
                     WHERE table_schema = 'public' AND table_name = 'plugin_schema_migrations' ORDER BY ordinal_position",
                )
                .await;
            assert_eq!(
                columns,
                [
                    "id integer - NO nextval('plugin_schema_migrations_id_seq'::regclass)",
                    "plugin_name character varying 255 NO -",
                    "version integer - NO -",
                    "name character varying 255 NO -",
                    "applied_at timestamp without time zone - NO -",
                    "checksum character varying 64 YES -",
                    "success boolean - NO true",
                    "error_message text - YES -",
                ]
            );
            let unique = db
                .strings(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' \
                     AND tablename = 'plugin_schema_migrations' AND indexdef LIKE 'CREATE UNIQUE%' \
                     AND indexdef LIKE '%(plugin_name, version)'",
                )
                .await;
            assert_eq!(unique.len(), 1);
            let schema = db.schema.clone().expect("schema");
            let in_plugin_schema = db
                .strings(&format!(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = '{schema}' AND table_name = 'plugin_schema_migrations'"
                ))
                .await;
            assert!(in_plugin_schema.is_empty());
            assert_eq!(db.tables().await, ["panels"]);
        }
    }
}
both!(
    tracking_table_has_the_python_layout,
    super::tracking_table_has_the_python_layout_case
);

#[tokio::test]
async fn postgres_schema_holds_tables_indexes_and_raw_ddl() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let list = boxed(vec![
        TestMigration::new(1, "create")
            .op(Op::CreateTable(
                "panels",
                vec![
                    mint_sdk::Column::integer("id").primary_key(),
                    mint_sdk::Column::integer("experiment_id").index(),
                ],
            ))
            .op(Op::Sql("CREATE TABLE raw_notes (id integer)".into()))
            .op(Op::Sql(
                "CREATE INDEX ix_raw_notes_id ON raw_notes (id)".into(),
            )),
    ]);
    db.run(&list).await.expect("run");
    assert_eq!(db.tables().await, ["panels", "raw_notes"]);
    assert_eq!(db.indexes("panels").await, ["ix_panels_experiment_id"]);
    assert_eq!(db.indexes("raw_notes").await, ["ix_raw_notes_id"]);
    let in_public = db
        .strings(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
             AND table_name IN ('panels', 'raw_notes')",
        )
        .await;
    assert!(in_public.is_empty(), "{in_public:?}");
    db.cleanup().await;
}

#[tokio::test]
async fn postgres_without_a_schema_uses_public() {
    let Some(db) = TestDb::postgres_with_schema(false).await else {
        return;
    };
    let table: &'static str = Box::leak(format!("t_{}", &db.plugin[5..]).into_boxed_str());
    let list = boxed(vec![create(1, "create", table)]);
    let result = db.run(&list).await.expect("run");
    assert_eq!(result.applied, [1]);
    assert_eq!(db.columns(table).await, ["id", "label"]);
    db.exec(&format!("DROP TABLE public.\"{table}\"")).await;
    db.cleanup().await;
}

// ----- ordering --------------------------------------------------------------------------------

async fn migrations_apply_in_version_order_case(db: &TestDb) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let list = boxed(vec![
        TestMigration::new(2, "second").op(Op::Log(log.clone())),
        TestMigration::new(1, "first").op(Op::Log(log.clone())),
    ]);
    let result = db.run(&list).await.expect("run");
    assert_eq!(result.applied, [1, 2]);
    assert_eq!(*log.lock().expect("log"), [1, 2]);
}
both!(
    migrations_apply_in_version_order,
    super::migrations_apply_in_version_order_case
);

async fn version_gaps_are_fine_case(db: &TestDb) {
    let list = boxed(vec![
        create(1, "a", "a"),
        create(5, "e", "e"),
        create(6, "f", "f"),
    ]);
    let result = db.run(&list).await.expect("run");
    assert_eq!(result.applied, [1, 5, 6]);
    assert_eq!(result.current_version, 6);
    assert_eq!(db.tables().await, ["a", "e", "f"]);
}
both!(version_gaps_are_fine, super::version_gaps_are_fine_case);

async fn missing_lower_version_is_applied_after_higher_ones_case(db: &TestDb) {
    db.run(&boxed(vec![create(1, "a", "a"), create(3, "c", "c")]))
        .await
        .expect("first run");
    let result = db
        .run(&boxed(vec![
            create(1, "a", "a"),
            create(2, "b", "b"),
            create(3, "c", "c"),
        ]))
        .await
        .expect("second run");
    assert_eq!(result.applied, [2]);
    assert_eq!(result.current_version, 3);
    assert_eq!(versions(&db.records().await, true), [1, 2, 3]);
}
both!(
    missing_lower_version_is_applied_after_higher_ones,
    super::missing_lower_version_is_applied_after_higher_ones_case
);

// ----- validation ------------------------------------------------------------------------------

async fn invalid_migration_lists_are_refused_before_any_write_case(db: &TestDb) {
    let mut depends = create(2, "b", "b");
    depends.depends_on = Some(2);
    let cases: Vec<(&str, Vec<TestMigration>)> = vec![
        ("duplicate", vec![create(1, "a", "a"), create(1, "b", "b")]),
        ("zero", vec![create(0, "a", "a")]),
        ("empty name", vec![create(1, "", "a")]),
        ("depends_on", vec![create(1, "a", "a"), depends]),
        ("too large", vec![create(1 << 31, "a", "a")]),
    ];
    for (case, list) in cases {
        let list = boxed(list);
        match db.run(&list).await {
            Err(MigrationError::Invalid(message)) => {
                assert!(message.contains(&db.plugin), "{case}: {message}")
            }
            other => panic!("{case}: expected Invalid, got {other:?}"),
        }
        assert!(
            MigrationRunner::discover(list).is_err(),
            "{case}: discover must refuse too"
        );
    }
    assert!(db.records().await.is_empty());
    assert!(db.tables().await.is_empty());
    if db.dialect == Dialect::Sqlite {
        assert!(
            db.strings("SELECT name FROM sqlite_master WHERE name = '_plugin_migrations'")
                .await
                .is_empty()
        );
    } else {
        let schema = db.schema.clone().unwrap_or_default();
        assert!(
            db.strings(&format!(
                "SELECT nspname::text FROM pg_namespace WHERE nspname = '{schema}'"
            ))
            .await
            .is_empty()
        );
    }
}
both!(
    invalid_migration_lists_are_refused_before_any_write,
    super::invalid_migration_lists_are_refused_before_any_write_case
);

#[test]
fn discover_sorts_by_version() {
    let sorted = MigrationRunner::discover(boxed(vec![create(3, "c", "c"), create(1, "a", "a")]))
        .expect("valid");
    let labels: Vec<String> = sorted.iter().map(|m| m.label()).collect();
    assert_eq!(labels, ["v001_a", "v003_c"]);
    assert_eq!(format!("{:?}", sorted[0]), "<Migration v001_a>");
}

async fn empty_list_returns_the_zero_result_even_with_history_case(db: &TestDb) {
    db.run(&shipped()).await.expect("run");
    let result = db.run(&[]).await.expect("empty run");
    assert_eq!(result, mint_sdk::MigrationResult::default());
    assert_eq!(versions(&db.records().await, true), [1, 2]);
}
both!(
    empty_list_returns_the_zero_result_even_with_history,
    super::empty_list_returns_the_zero_result_even_with_history_case
);

async fn older_plugin_on_newer_schema_is_refused_case(db: &TestDb) {
    db.run(&shipped()).await.expect("run");
    let before = db.snapshot().await;
    let records = db.records().await;
    let older = mint_sdk::migrations![original::CreatePanels];
    match db.run(&older).await {
        Err(MigrationError::SchemaVersionAhead {
            plugin_name,
            db_version: 2,
            plugin_max_version: 1,
        }) => assert_eq!(plugin_name, db.plugin),
        other => panic!("expected SchemaVersionAhead {{2, 1}}, got {other:?}"),
    }
    assert_eq!(db.snapshot().await, before);
    assert_eq!(db.records().await, records);
}
both!(
    older_plugin_on_newer_schema_is_refused,
    super::older_plugin_on_newer_schema_is_refused_case
);

// ----- checksums -------------------------------------------------------------------------------

async fn edited_applied_migrations_fail_the_checksum_check_case(db: &TestDb) {
    db.run(&mint_sdk::migrations![original::CreatePanels])
        .await
        .expect("first run");
    let edits: Vec<(&str, Vec<Box<dyn PluginMigration>>)> = vec![
        (
            "body",
            mint_sdk::migrations![edited_body::CreatePanels, original::AddColor],
        ),
        (
            "name",
            mint_sdk::migrations![edited_name::CreatePanels, original::AddColor],
        ),
        (
            "destructive",
            mint_sdk::migrations![edited_destructive::CreatePanels, original::AddColor],
        ),
        (
            "match arm wrapped in a block",
            mint_sdk::migrations![wrapped_arm::CreatePanels, original::AddColor],
        ),
    ];
    let stored = original::CreatePanels.checksum();
    for (edit, list) in edits {
        match db.run(&list).await {
            Err(err @ MigrationError::Checksum { .. }) => {
                let text = err.to_string();
                assert!(text.contains("v001_"), "{edit}: {text}");
                assert!(text.contains(&stored[..8]), "{edit}: {text}");
                if let MigrationError::Checksum {
                    version,
                    expected,
                    actual,
                    ..
                } = err
                {
                    assert_eq!((version, expected.as_str()), (1, stored.as_str()), "{edit}");
                    assert_ne!(actual, stored, "{edit}");
                }
            }
            other => panic!("{edit}: expected Checksum, got {other:?}"),
        }
        // Nothing applied: v2 did not run.
        assert_eq!(db.columns("panels").await, ["id", "name"], "{edit}");
        assert_eq!(versions(&db.records().await, true), [1], "{edit}");
    }
}
both!(
    edited_applied_migrations_fail_the_checksum_check,
    super::edited_applied_migrations_fail_the_checksum_check_case
);

async fn cosmetic_edits_pass_the_checksum_check_case(db: &TestDb) {
    db.run(&mint_sdk::migrations![original::CreatePanels])
        .await
        .expect("first run");
    assert_eq!(
        cosmetic::CreatePanels.checksum(),
        original::CreatePanels.checksum()
    );
    let result = db
        .run(&mint_sdk::migrations![
            cosmetic::CreatePanels,
            original::AddColor
        ])
        .await
        .expect("comments, doc comments, formatting and trailing commas pass");
    assert_eq!(result.applied, [2]);
}
both!(
    cosmetic_edits_pass_the_checksum_check,
    super::cosmetic_edits_pass_the_checksum_check_case
);

#[test]
fn identical_migrations_at_different_lines_have_equal_checksums() {
    assert_eq!(moved::AddColor.checksum(), original::AddColor.checksum());
    assert_ne!(
        original::AddColor.checksum(),
        original::CreatePanels.checksum()
    );
    // Pinned: the same tokens must give this digest in every build and on every toolchain.
    assert_eq!(
        original::AddColor.checksum(),
        "72026121760fea870f2ffc61f8817db9c4772965a8e608d8ad402603525d335c"
    );
}

async fn accepted_checksums_bless_a_stored_checksum_case(db: &TestDb) {
    db.run(&boxed(vec![create(1, "a", "a").checksum("aaaa")]))
        .await
        .expect("first run");
    let edited = create(1, "a", "a").checksum("bbbb");
    assert!(matches!(
        db.run(&boxed(vec![edited.clone()])).await,
        Err(MigrationError::Checksum { .. })
    ));
    let mut blessed = edited;
    blessed.accepted = &["aaaa"];
    db.run(&boxed(vec![blessed, create(2, "b", "b")]))
        .await
        .expect("accepted checksum passes");
    let records = db.records().await;
    assert_eq!(
        records[0].checksum.as_deref(),
        Some("aaaa"),
        "stored value is kept"
    );
    assert_eq!(versions(&records, true), [1, 2]);
}
both!(
    accepted_checksums_bless_a_stored_checksum,
    super::accepted_checksums_bless_a_stored_checksum_case
);

async fn null_or_empty_stored_checksums_are_not_checked_case(db: &TestDb) {
    db.run(&boxed(vec![create(1, "a", "a"), create(2, "b", "b")]))
        .await
        .expect("first run");
    let table = db.runner().tracking_table();
    db.exec(&format!(
        "UPDATE {table} SET checksum = NULL WHERE plugin_name = '{}' AND version = 1",
        db.plugin
    ))
    .await;
    db.exec(&format!(
        "UPDATE {table} SET checksum = '' WHERE plugin_name = '{}' AND version = 2",
        db.plugin
    ))
    .await;
    let result = db
        .run(&boxed(vec![
            create(1, "a", "a").checksum("other1"),
            create(2, "b", "b").checksum("other2"),
        ]))
        .await
        .expect("unchecked");
    assert!(result.applied.is_empty());
}
both!(
    null_or_empty_stored_checksums_are_not_checked,
    super::null_or_empty_stored_checksums_are_not_checked_case
);

// ----- stamping --------------------------------------------------------------------------------

async fn stamp_records_every_migration_without_running_it_case(db: &TestDb) {
    let first = create(1, "a", "a");
    let second = create(3, "c", "c");
    let list = boxed(vec![first.clone(), second.clone()]);
    let result = db.runner().run(&list, true).await.expect("stamp");
    assert_eq!(result.stamped, [1, 3]);
    assert!(result.applied.is_empty());
    assert_eq!(result.current_version, 3);
    assert_eq!(first.upgrade_count() + second.upgrade_count(), 0);
    assert!(db.tables().await.is_empty(), "no upgrade ran");
    let records = db.records().await;
    assert_eq!(versions(&records, true), [1, 3]);
    assert!(
        records
            .iter()
            .all(|r| r.error_message.as_deref() == Some(STAMP_MARKER)
                && r.checksum.as_deref().map(str::len) == Some(64))
    );
}
both!(
    stamp_records_every_migration_without_running_it,
    super::stamp_records_every_migration_without_running_it_case
);

async fn stamp_flag_is_ignored_when_history_exists_case(db: &TestDb) {
    db.run(&boxed(vec![create(1, "a", "a")]))
        .await
        .expect("first");
    let second = create(2, "b", "b");
    let result = db
        .runner()
        .run(&boxed(vec![create(1, "a", "a"), second.clone()]), true)
        .await
        .expect("second");
    assert_eq!(result.applied, [2]);
    assert!(result.stamped.is_empty());
    assert_eq!(second.upgrade_count(), 1);
    assert!(db.records().await.iter().all(|r| r.error_message.is_none()));
}
both!(
    stamp_flag_is_ignored_when_history_exists,
    super::stamp_flag_is_ignored_when_history_exists_case
);

// ----- failures --------------------------------------------------------------------------------

async fn failed_migration_rolls_back_the_whole_run_case(db: &TestDb) {
    let list = boxed(vec![
        create(1, "create_a", "a").op(Op::Sql(
            "INSERT INTO {a} (id, label) VALUES (1, 'x')".into(),
        )),
        TestMigration::new(2, "broken").op(Op::Fail("boom")),
    ]);
    match db.run(&list).await {
        Err(err @ MigrationError::Failed { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains(&db.plugin) && text.contains("v002_broken"),
                "{text}"
            );
            let MigrationError::Failed {
                version,
                name,
                message,
                source,
                ..
            } = err
            else {
                unreachable!()
            };
            assert_eq!(
                (version, name.as_str(), message.as_str()),
                (2, "broken", "boom")
            );
            assert!(matches!(*source, MigrationError::Other(_)));
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(db.tables().await.is_empty(), "no v1 table or data");
    let records = db.records().await;
    assert_eq!(versions(&records, true), Vec::<u32>::new());
    assert_eq!(versions(&records, false), [2]);
    assert_eq!(records[0].error_message.as_deref(), Some("boom"));
}
both!(
    failed_migration_rolls_back_the_whole_run,
    super::failed_migration_rolls_back_the_whole_run_case
);

async fn failed_migration_leaves_the_schema_exactly_as_before_case(db: &TestDb) {
    db.run(&boxed(vec![create(1, "create_a", "a")]))
        .await
        .expect("v1");
    db.exec(&format!(
        "INSERT INTO {} (id, label) VALUES (1, 'kept')",
        db.q("a")
    ))
    .await;
    let before = db.snapshot().await;
    let list = boxed(vec![
        create(1, "create_a", "a"),
        TestMigration::new(2, "widen")
            .op(Op::AddColumn(
                "a",
                mint_sdk::Column::integer("n").not_null().default_value(0),
            ))
            .op(Op::CreateIndex("ix_a_n", "a", vec!["n"], false))
            .op(Op::Sql("UPDATE {a} SET label = 'changed'".into())),
        create(3, "create_b", "b").op(Op::Sql("INSERT INTO {b} (label) VALUES ('y')".into())),
        TestMigration::new(4, "panics").op(Op::Panic("upgrade bug")),
    ]);
    match db.run(&list).await {
        Err(MigrationError::Failed {
            version: 4,
            message,
            ..
        }) => {
            assert!(message.contains("upgrade bug"), "{message}")
        }
        other => panic!("expected Failed v4, got {other:?}"),
    }
    assert_eq!(db.snapshot().await, before);
    assert_eq!(
        db.strings(&format!("SELECT label FROM {}", db.q("a")))
            .await,
        ["kept"]
    );
    let records = db.records().await;
    assert_eq!(versions(&records, true), [1]);
    assert_eq!(versions(&records, false), [4]);
}
both!(
    failed_migration_leaves_the_schema_exactly_as_before,
    super::failed_migration_leaves_the_schema_exactly_as_before_case
);

async fn rerun_after_a_fix_applies_and_replaces_the_failed_row_case(db: &TestDb) {
    let broken = boxed(vec![
        create(1, "create_a", "a"),
        TestMigration::new(2, "broken").op(Op::Fail("boom")),
    ]);
    assert!(db.run(&broken).await.is_err());
    let fixed = boxed(vec![create(1, "create_a", "a"), create(2, "broken", "b")]);
    let result = db.run(&fixed).await.expect("fixed run");
    assert_eq!(result.applied, [1, 2]);
    let records = db.records().await;
    assert_eq!(versions(&records, true), [1, 2]);
    assert!(versions(&records, false).is_empty());
    assert_eq!(records[1].error_message, None);
}
both!(
    rerun_after_a_fix_applies_and_replaces_the_failed_row,
    super::rerun_after_a_fix_applies_and_replaces_the_failed_row_case
);

async fn failed_row_above_shipped_versions_is_not_ahead_case(db: &TestDb) {
    let v5 = boxed(vec![
        create(1, "a", "a"),
        TestMigration::new(5, "broken").op(Op::Fail("boom")),
    ]);
    assert!(db.run(&v5).await.is_err());
    let result = db
        .run(&boxed(vec![create(1, "a", "a"), create(4, "d", "d")]))
        .await
        .expect("rolling back to a release shipping v4 works");
    assert_eq!(result.applied, [1, 4]);
    assert_eq!(result.current_version, 4);
    assert_eq!(versions(&db.records().await, false), [5]);
}
both!(
    failed_row_above_shipped_versions_is_not_ahead,
    super::failed_row_above_shipped_versions_is_not_ahead_case
);

async fn failure_record_never_overwrites_a_successful_row_case(db: &TestDb) {
    db.run(&boxed(vec![create(1, "a", "a")])).await.expect("v1");
    // The same version failing in a concurrent universe (e.g. a stale plugin copy) must not
    // turn the successful row into a failed one: simulate by failing v2 twice.
    let list = boxed(vec![
        create(1, "a", "a"),
        TestMigration::new(2, "b").op(Op::Fail("x")),
    ]);
    assert!(db.run(&list).await.is_err());
    assert!(db.run(&list).await.is_err());
    let records = db.records().await;
    assert_eq!(versions(&records, true), [1]);
    assert_eq!(versions(&records, false), [2]);
}
both!(
    failure_record_never_overwrites_a_successful_row,
    super::failure_record_never_overwrites_a_successful_row_case
);

// ----- foreign databases and downgrades --------------------------------------------------------

async fn alembic_managed_database_is_refused_case(db: &TestDb) {
    let table = match &db.schema {
        Some(s) => {
            db.exec(&format!("CREATE SCHEMA \"{s}\"")).await;
            format!("\"{s}\".alembic_version")
        }
        None => "alembic_version".to_string(),
    };
    db.exec(&format!(
        "CREATE TABLE {table} (version_num VARCHAR(32) NOT NULL)"
    ))
    .await;
    // An empty alembic_version is not a claim.
    db.run(&boxed(vec![create(1, "a", "a")]))
        .await
        .expect("empty alembic table");
    db.exec(&format!("INSERT INTO {table} VALUES ('abc123')"))
        .await;
    let before = db.records().await;
    match db
        .run(&boxed(vec![create(1, "a", "a"), create(2, "b", "b")]))
        .await
    {
        Err(MigrationError::Foreign { plugin_name }) => assert_eq!(plugin_name, db.plugin),
        other => panic!("expected Foreign, got {other:?}"),
    }
    assert_eq!(db.records().await, before);
    assert!(!db.tables().await.contains(&"b".to_string()));
}
both!(
    alembic_managed_database_is_refused,
    super::alembic_managed_database_is_refused_case
);

async fn downgrade_is_declared_but_never_called_case(db: &TestDb) {
    assert!(!original::CreatePanels.has_downgrade());
    assert!(original::AddColor.has_downgrade());
    let migration = create(1, "a", "a");
    db.run(&boxed(vec![migration.clone()])).await.expect("run");
    db.run(&boxed(vec![migration.clone()]))
        .await
        .expect("rerun");
    assert_eq!(migration.upgrade_count(), 1);
    assert_eq!(
        migration
            .downgrades
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}
both!(
    downgrade_is_declared_but_never_called,
    super::downgrade_is_declared_but_never_called_case
);

// ----- locking and concurrency -----------------------------------------------------------------

async fn concurrent_runners_apply_each_migration_once_case(db: &TestDb) {
    let list = Arc::new(boxed(vec![
        create(1, "a", "a").op(Op::Sql("INSERT INTO {a} (label) VALUES ('v1')".into())),
        create(2, "b", "b").op(Op::Sql("INSERT INTO {b} (label) VALUES ('v2')".into())),
    ]));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let runner = db.runner_on(db.reconnect().await, &db.plugin);
        let list = list.clone();
        tasks.push(tokio::spawn(async move { runner.run(&list, false).await }));
    }
    let mut applied = Vec::new();
    for task in tasks {
        applied.push(task.await.expect("join").expect("run").applied);
    }
    applied.sort();
    assert_eq!(
        applied.iter().filter(|a| a.is_empty()).count(),
        7,
        "{applied:?}"
    );
    assert_eq!(applied.last().cloned().unwrap_or_default(), [1, 2]);
    assert_eq!((db.count("a").await, db.count("b").await), (1, 1));
    assert_eq!(versions(&db.records().await, true), [1, 2]);
}
both!(
    concurrent_runners_apply_each_migration_once,
    super::concurrent_runners_apply_each_migration_once_case
);

async fn second_runner_waits_for_the_first_and_applies_nothing_case(db: &TestDb) {
    let started = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let holding = boxed(vec![create(1, "a", "a").op(Op::Pause {
        started: started.clone(),
        release: release.clone(),
    })]);
    let first = db.runner_on(db.reconnect().await, &db.plugin);
    let first = tokio::spawn(async move { first.run(&holding, false).await });
    started.notified().await;
    // While the first run holds the lock, a short-timeout runner gives up and writes nothing.
    let impatient = db
        .runner_on(db.reconnect().await, &db.plugin)
        .with_lock_timeout(Duration::from_millis(300));
    let plain = boxed(vec![create(1, "a", "a")]);
    match impatient.run(&plain, false).await {
        Err(MigrationError::LockTimeout { plugin_name, .. }) => assert_eq!(plugin_name, db.plugin),
        other => panic!("expected LockTimeout, got {other:?}"),
    }
    // A patient runner waits for the first one's commit, then applies nothing.
    let patient = db.runner_on(db.reconnect().await, &db.plugin);
    let second = tokio::spawn(async move { patient.run(&plain, false).await });
    release.notify_one();
    assert_eq!(first.await.expect("join").expect("first run").applied, [1]);
    assert!(
        second
            .await
            .expect("join")
            .expect("second run")
            .applied
            .is_empty()
    );
    assert_eq!(versions(&db.records().await, true), [1]);
}
both!(
    second_runner_waits_for_the_first_and_applies_nothing,
    super::second_runner_waits_for_the_first_and_applies_nothing_case
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_plugins_migrate_concurrently() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let started = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let holding = boxed(vec![create(1, "a", "a").op(Op::Pause {
        started: started.clone(),
        release: release.clone(),
    })]);
    let first = db.runner_on(db.reconnect().await, &db.plugin);
    let first = tokio::spawn(async move { first.run(&holding, false).await });
    started.notified().await;
    // Another plugin (other key, other schema) is not blocked by the held lock.
    let other_plugin = format!("{}_other", db.plugin);
    let other = MigrationRunner::new(db.reconnect().await, other_plugin.clone())
        .expect("runner")
        .with_schema(format!("{}_other", db.schema.clone().unwrap_or_default()))
        .with_lock_timeout(Duration::from_secs(5));
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        other.run(&boxed(vec![create(1, "a", "a")]), false),
    )
    .await
    .expect("the other plugin must not wait for the first plugin's lock")
    .expect("other run");
    assert_eq!(result.applied, [1]);
    release.notify_one();
    assert_eq!(first.await.expect("join").expect("first").applied, [1]);
    db.exec(&format!(
        "DROP SCHEMA IF EXISTS \"{}_other\" CASCADE",
        db.schema.clone().unwrap_or_default()
    ))
    .await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lock_held_elsewhere_times_out_and_writes_nothing() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let holder = db.reconnect().await;
    let txn = holder.begin().await.expect("begin");
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        vec![MigrationRunner::advisory_lock_key(&db.plugin).into()],
    ))
    .await
    .expect("hold the plugin's lock");
    let runner = db.runner().with_lock_timeout(Duration::from_secs(1));
    let started = std::time::Instant::now();
    match runner.run(&boxed(vec![create(1, "a", "a")]), false).await {
        Err(MigrationError::LockTimeout { timeout, .. }) => {
            assert_eq!(timeout, Duration::from_secs(1))
        }
        other => panic!("expected LockTimeout, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(900));
    txn.rollback().await.expect("release");
    assert!(db.records().await.is_empty());
    assert!(db.tables().await.is_empty());
    db.cleanup().await;
}

async fn one_connection_sqlite(url: &str) -> mint_sdk::sea_orm::DatabaseConnection {
    let mut options = mint_sdk::sea_orm::ConnectOptions::new(url.to_string());
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    mint_sdk::sea_orm::Database::connect(options)
        .await
        .expect("connect")
}

async fn busy_timeout(conn: &mint_sdk::sea_orm::DatabaseConnection) -> Option<i64> {
    conn.query_one_raw(Statement::from_string(
        DbBackend::Sqlite,
        "PRAGMA busy_timeout",
    ))
    .await
    .expect("pragma")
    .and_then(|row| row.try_get_by_index::<i64>(0).ok())
}

#[tokio::test]
async fn sqlite_run_restores_the_connection_busy_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("one.db").display());
    let conn = one_connection_sqlite(&url).await;
    let before = busy_timeout(&conn).await;
    assert!(before.is_some());
    let runner = MigrationRunner::new(conn.clone(), "busy")
        .expect("runner")
        .with_lock_timeout(Duration::from_millis(1234));
    runner
        .run(&boxed(vec![create(1, "a", "a")]), false)
        .await
        .expect("run");
    assert!(
        runner
            .run(
                &boxed(vec![TestMigration::new(2, "b").op(Op::Fail("x"))]),
                false
            )
            .await
            .is_err()
    );
    assert_eq!(busy_timeout(&conn).await, before);
}

#[tokio::test]
async fn sqlite_in_memory_database_with_one_connection_migrates() {
    let conn = one_connection_sqlite("sqlite::memory:").await;
    let runner = MigrationRunner::new(conn, "memory").expect("runner");
    let list = boxed(vec![create(1, "a", "a"), create(2, "b", "b")]);
    assert_eq!(runner.run(&list, false).await.expect("run").applied, [1, 2]);
    assert!(
        runner
            .run(&list, false)
            .await
            .expect("rerun")
            .applied
            .is_empty()
    );
}
