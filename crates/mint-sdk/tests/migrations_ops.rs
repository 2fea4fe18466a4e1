//! MigrationOps behaviour (spec/migrations.md §3, §7) through the runner, on SQLite and, with
//! `MINT_TEST_DATABASE_URL`, on PostgreSQL: the destructive guard, idempotency, defaults and
//! backfill, create_table's keys/uniques/indexes/foreign keys, the SQLite rebuild, renames, and
//! refusals instead of panics.

mod migrations_support;

use migrations_support::{Op, TestDb, TestMigration, boxed};
use mint_sdk::migrations::{Column, ColumnType, Dialect, ForeignKey, MigrationError};
use mint_sdk::sea_orm::sea_query::{Alias, ColumnDef, Table};

fn destructive_error(op: &'static str, table: &'static str, target: &'static str) -> Op {
    let check: fn(&MigrationError) -> bool = match (op, table, target) {
        ("drop_table", "t", "") => |e| {
            matches!(e, MigrationError::Destructive { operation, table, target }
                if operation == "drop_table" && table == "t" && target.is_empty())
        },
        ("drop_column", "t", "extra") => |e| {
            matches!(e, MigrationError::Destructive { operation, table, target }
                if operation == "drop_column" && table == "t" && target == "extra")
        },
        _ => |e| {
            matches!(e, MigrationError::Destructive { operation, table, target }
                if operation == "drop_index" && table == "ix_t_label" && target == "ix_t_label")
        },
    };
    let inner = match op {
        "drop_table" => Op::DropTable("t"),
        "drop_column" => Op::DropColumn("t", "extra"),
        _ => Op::DropIndex("ix_t_label"),
    };
    Op::ExpectErr(Box::new(inner), check)
}

fn base_table() -> TestMigration {
    TestMigration::new(1, "create_t")
        .op(Op::CreateTable(
            "t",
            vec![
                Column::integer("id").primary_key(),
                Column::text("label"),
                Column::text("extra"),
            ],
        ))
        .op(Op::CreateIndex("ix_t_label", "t", vec!["label"], false))
        .op(Op::Sql(
            "INSERT INTO {t} (label, extra) VALUES ('a', 'x')".into(),
        ))
}

// ----- destructive guard -----------------------------------------------------------------------

async fn drop_operations_need_destructive_case(db: &TestDb) {
    db.run(&boxed(vec![base_table()])).await.expect("v1");
    // Refused before any SQL: within the same migration everything is still there.
    let probe = TestMigration::new(2, "probe")
        .op(destructive_error("drop_index", "ix_t_label", "ix_t_label"))
        .op(Op::ExpectIndex("ix_t_label", true))
        .op(destructive_error("drop_column", "t", "extra"))
        .op(Op::ExpectColumn("t", "extra", true))
        .op(destructive_error("drop_table", "t", ""))
        .op(Op::ExpectTable("t", true));
    db.run(&boxed(vec![base_table(), probe.clone()]))
        .await
        .expect("refusals leave everything in place");

    for (version, op) in [
        (3, Op::DropIndex("ix_t_label")),
        (4, Op::DropColumn("t", "extra")),
        (5, Op::DropTable("t")),
    ] {
        let unguarded = TestMigration::new(version, "drop").op(op.clone());
        let list = boxed(vec![base_table(), probe.clone(), unguarded]);
        match db.run(&list).await {
            Err(MigrationError::Failed {
                version: v, source, ..
            }) => {
                assert_eq!(v, version);
                assert!(
                    matches!(*source, MigrationError::Destructive { .. }),
                    "{source:?}"
                );
            }
            other => panic!("expected Failed with a Destructive source, got {other:?}"),
        }
        let guarded = TestMigration::new(version, "drop").destructive().op(op);
        let list = boxed(vec![base_table(), probe.clone(), guarded]);
        db.run(&list).await.expect("destructive migration may drop");
    }
    assert!(db.tables().await.is_empty());
}
both!(
    drop_operations_need_destructive,
    super::drop_operations_need_destructive_case
);

async fn rename_alter_and_raw_drop_need_no_destructive_case(db: &TestDb) {
    let v2 = TestMigration::new(2, "reshape")
        .op(Op::CreateTable(
            "scratch",
            vec![Column::integer("id").primary_key()],
        ))
        .op(Op::RenameColumn("t", "label", "title"))
        .op(Op::AlterColumn("t", "extra", ColumnType::Text))
        .op(Op::Sql("DROP TABLE {scratch}".into()));
    let result = db.run(&boxed(vec![base_table(), v2])).await.expect("run");
    assert_eq!(result.applied, [1, 2]);
    assert_eq!(db.columns("t").await, ["id", "title", "extra"]);
    assert_eq!(db.tables().await, ["t"]);
}
both!(
    rename_alter_and_raw_drop_need_no_destructive,
    super::rename_alter_and_raw_drop_need_no_destructive_case
);

// ----- idempotency -----------------------------------------------------------------------------

fn building_ops() -> Vec<Op> {
    vec![
        Op::CreateTable(
            "t",
            vec![
                Column::integer("id").primary_key(),
                Column::text("label").index(),
                Column::text("extra"),
            ],
        ),
        Op::AddColumn("t", Column::text("note")),
        Op::CreateIndex("ix_t_note", "t", vec!["note"], false),
        Op::Backfill("t", "note", "filled".into()),
    ]
}

fn dropping_ops() -> Vec<Op> {
    vec![
        Op::DropIndex("ix_t_note"),
        Op::DropColumn("t", "extra"),
        Op::DropTable("t"),
        Op::ExpectTable("t", false),
    ]
}

fn with_ops(version: u32, ops: Vec<Op>) -> TestMigration {
    ops.into_iter()
        .fold(TestMigration::new(version, "ops"), TestMigration::op)
}

async fn operations_are_idempotent_case(db: &TestDb) {
    let first = with_ops(1, building_ops());
    db.run(&boxed(vec![first.clone()])).await.expect("first");
    db.exec(&format!("INSERT INTO {} (label) VALUES ('row')", db.q("t")))
        .await;
    db.exec(&format!("UPDATE {} SET note = 'kept'", db.q("t")))
        .await;
    let before = db.snapshot().await;
    let again = with_ops(2, building_ops());
    db.run(&boxed(vec![first.clone(), again.clone()]))
        .await
        .expect("the same operations again");
    assert_eq!(db.snapshot().await, before);
    assert_eq!(
        db.strings(&format!("SELECT note FROM {}", db.q("t"))).await,
        ["kept"]
    );

    // Dropping twice: the second time finds nothing to drop.
    let drop = with_ops(3, dropping_ops()).destructive();
    let drop_again = with_ops(4, dropping_ops()).destructive();
    db.run(&boxed(vec![first, again, drop, drop_again]))
        .await
        .expect("drops twice");
    assert!(db.tables().await.is_empty());
}
both!(
    operations_are_idempotent,
    super::operations_are_idempotent_case
);

// ----- defaults and backfill -------------------------------------------------------------------

async fn add_column_with_default_fills_existing_rows_case(db: &TestDb) {
    let v2 = TestMigration::new(2, "add")
        .op(Op::Sql("INSERT INTO {t} (label) VALUES ('b')".into()))
        .op(Op::AddColumn(
            "t",
            Column::integer("qty").not_null().default_value(7),
        ))
        .op(Op::AddColumn("t", Column::text("unit").default_value("0")));
    db.run(&boxed(vec![base_table(), v2])).await.expect("run");
    let rows = db
        .strings(&format!(
            "SELECT CAST(qty AS TEXT) || '/' || unit FROM {} ORDER BY id",
            db.q("t")
        ))
        .await;
    assert_eq!(rows, ["7/0", "7/0"]);
    // NOT NULL holds for new rows too.
    assert!(
        db.try_exec(&format!(
            "INSERT INTO {} (label, qty) VALUES ('c', NULL)",
            db.q("t")
        ))
        .await
        .is_err()
    );
}
both!(
    add_column_with_default_fills_existing_rows,
    super::add_column_with_default_fills_existing_rows_case
);

async fn backfill_touches_only_nulls_case(db: &TestDb) {
    let v2 = TestMigration::new(2, "fill")
        .op(Op::Sql("INSERT INTO {t} (label) VALUES (NULL)".into()))
        .op(Op::Sql("INSERT INTO {t} (label) VALUES (NULL)".into()))
        .op(Op::Backfill("t", "label", "z".into()));
    db.run(&boxed(vec![base_table(), v2])).await.expect("run");
    let labels = db
        .strings(&format!("SELECT label FROM {} ORDER BY id", db.q("t")))
        .await;
    assert_eq!(labels, ["a", "z", "z"]);
}
both!(
    backfill_touches_only_nulls,
    super::backfill_touches_only_nulls_case
);

// ----- create_table ----------------------------------------------------------------------------

async fn create_table_honours_keys_uniques_indexes_and_foreign_keys_case(db: &TestDb) {
    let v1 = TestMigration::new(1, "tables")
        .op(Op::CreateTable(
            "owners",
            vec![Column::integer("id").primary_key()],
        ))
        .op(Op::CreateTable(
            "links",
            vec![
                Column::integer("a").primary_key(),
                Column::integer("b").primary_key(),
            ],
        ))
        .op(Op::CreateTable(
            "items",
            vec![
                Column::integer("id").primary_key(),
                Column::text("code").unique(),
                Column::integer("experiment_id").index(),
                Column::text("slug").unique().index(),
                Column::integer("owner_id")
                    .references(ForeignKey::to("owners.id").on_delete("cascade")),
            ],
        ));
    db.run(&boxed(vec![v1])).await.expect("run");
    let (items, links, owners) = (db.q("items"), db.q("links"), db.q("owners"));

    db.exec(&format!("INSERT INTO {links} (a, b) VALUES (1, 1), (1, 2)"))
        .await;
    assert!(
        db.try_exec(&format!("INSERT INTO {links} (a, b) VALUES (1, 2)"))
            .await
            .is_err()
    );
    assert!(
        db.try_exec(&format!("INSERT INTO {links} (a) VALUES (3)"))
            .await
            .is_err(),
        "key columns are NOT NULL"
    );

    assert_eq!(
        db.indexes("items").await,
        ["ix_items_experiment_id", "ix_items_slug"]
    );
    db.exec(&format!("INSERT INTO {owners} (id) VALUES (10)"))
        .await;
    db.exec(&format!(
        "INSERT INTO {items} (code, experiment_id, slug, owner_id) VALUES ('c1', 5, 's1', 10)"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {items} (code, experiment_id, slug, owner_id) VALUES ('c2', 5, 's2', 10)"
    ))
    .await;
    for duplicate in [
        "('c1', 6, 's3', 10)", // unique code
        "('c3', 6, 's1', 10)", // unique index on slug
        "('c4', 6, 's4', 99)", // foreign key
    ] {
        assert!(
            db.try_exec(&format!(
                "INSERT INTO {items} (code, experiment_id, slug, owner_id) VALUES {duplicate}"
            ))
            .await
            .is_err(),
            "{duplicate}"
        );
    }
    assert_eq!(
        db.strings(&format!("SELECT CAST(id AS TEXT) FROM {items} ORDER BY id"))
            .await,
        ["1", "2"],
        "a single integer key auto-assigns ids"
    );
    db.exec(&format!("DELETE FROM {owners} WHERE id = 10"))
        .await;
    assert_eq!(db.count("items").await, 0, "ON DELETE CASCADE");
}
both!(
    create_table_honours_keys_uniques_indexes_and_foreign_keys,
    super::create_table_honours_keys_uniques_indexes_and_foreign_keys_case
);

async fn single_integer_primary_key_auto_assigns_unless_opted_out_case(db: &TestDb) {
    let v1 = TestMigration::new(1, "tables")
        .op(Op::CreateTable(
            "auto",
            vec![Column::big_integer("id").primary_key(), Column::text("x")],
        ))
        .op(Op::CreateTable(
            "manual",
            vec![
                Column::integer("id").primary_key().no_auto_increment(),
                Column::text("x"),
            ],
        ));
    db.run(&boxed(vec![v1])).await.expect("run");
    db.exec(&format!(
        "INSERT INTO {} (x) VALUES ('a'), ('b')",
        db.q("auto")
    ))
    .await;
    assert_eq!(
        db.strings(&format!(
            "SELECT CAST(id AS TEXT) FROM {} ORDER BY id",
            db.q("auto")
        ))
        .await,
        ["1", "2"]
    );
    assert!(
        db.try_exec(&format!("INSERT INTO {} (x) VALUES ('a')", db.q("manual")))
            .await
            .is_err()
    );
    db.exec(&format!(
        "INSERT INTO {} (id, x) VALUES (7, 'a')",
        db.q("manual")
    ))
    .await;
}
both!(
    single_integer_primary_key_auto_assigns_unless_opted_out,
    super::single_integer_primary_key_auto_assigns_unless_opted_out_case
);

// ----- renames and native ALTER ----------------------------------------------------------------

async fn rename_column_keeps_indexes_and_foreign_keys_case(db: &TestDb) {
    let v1 = TestMigration::new(1, "tables")
        .op(Op::CreateTable(
            "p",
            vec![Column::integer("id").primary_key()],
        ))
        .op(Op::CreateTable(
            "c",
            vec![
                Column::integer("id").primary_key(),
                Column::integer("p_id").references("p.id"),
                Column::text("label").index(),
            ],
        ));
    let v2 = TestMigration::new(2, "rename")
        .op(Op::RenameColumn("c", "label", "title"))
        .op(Op::RenameColumn("c", "p_id", "parent_id"))
        // Re-run form: old absent, new present.
        .op(Op::RenameColumn("c", "label", "title"))
        .op(Op::ExpectErr(
            Box::new(Op::RenameColumn("c", "nope", "still_nope")),
            |e| matches!(e, MigrationError::Database(_)),
        ));
    // PostgreSQL aborts a transaction after a failed statement; probe the error case alone.
    let list = match db.dialect {
        Dialect::Sqlite => vec![v1, v2],
        Dialect::Postgres => {
            let mut v2 = v2;
            v2.ops.pop();
            vec![v1, v2]
        }
    };
    db.run(&boxed(list)).await.expect("run");
    assert_eq!(db.columns("c").await, ["id", "parent_id", "title"]);
    assert_eq!(db.indexes("c").await, ["ix_c_label"]);
    let index_sql = match db.dialect {
        Dialect::Sqlite => {
            db.strings("SELECT sql FROM sqlite_master WHERE name = 'ix_c_label'")
                .await
        }
        Dialect::Postgres => {
            db.strings(&format!(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = '{}' AND indexname = 'ix_c_label'",
                db.schema.clone().unwrap_or_default()
            ))
            .await
        }
    };
    assert!(index_sql.join("").contains("title"), "{index_sql:?}");
    db.exec(&format!("INSERT INTO {} (id) VALUES (1)", db.q("p")))
        .await;
    db.exec(&format!("INSERT INTO {} (parent_id) VALUES (1)", db.q("c")))
        .await;
    assert!(
        db.try_exec(&format!("INSERT INTO {} (parent_id) VALUES (2)", db.q("c")))
            .await
            .is_err(),
        "the foreign key follows the rename"
    );
    if db.dialect == Dialect::Postgres {
        let broken = TestMigration::new(3, "rename_missing").op(Op::RenameColumn("c", "nope", "x"));
        let list = boxed(vec![
            TestMigration::new(1, "tables"),
            TestMigration::new(2, "rename"),
            broken,
        ]);
        match db.runner().run(&list, false).await {
            Err(MigrationError::Failed {
                version: 3, source, ..
            }) => {
                assert!(matches!(*source, MigrationError::Database(_)), "{source:?}")
            }
            other => panic!("renaming a missing column must fail, got {other:?}"),
        }
    }
}
both!(
    rename_column_keeps_indexes_and_foreign_keys,
    super::rename_column_keeps_indexes_and_foreign_keys_case
);

#[tokio::test]
async fn postgres_drop_and_alter_are_native_alter_table() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let v2 = TestMigration::new(2, "reshape")
        .destructive()
        .op(Op::CreateIndex("ix_t_extra", "t", vec!["extra"], false))
        .op(Op::AlterColumn(
            "t",
            "label",
            ColumnType::String(mint_sdk::sea_orm::sea_query::StringLen::N(40)),
        ))
        .op(Op::DropColumn("t", "extra"));
    db.run(&boxed(vec![base_table(), v2])).await.expect("run");
    let schema = db.schema.clone().unwrap_or_default();
    let types = db
        .strings(&format!(
            "SELECT column_name || ' ' || data_type || ' ' || COALESCE(character_maximum_length::text, '-') \
             FROM information_schema.columns WHERE table_schema = '{schema}' AND table_name = 't' \
             ORDER BY ordinal_position"
        ))
        .await;
    assert_eq!(types, ["id integer -", "label character varying 40"]);
    assert_eq!(
        db.indexes("t").await,
        ["ix_t_label"],
        "DROP COLUMN took its index along"
    );
    assert_eq!(
        db.strings(&format!("SELECT label FROM {}", db.q("t")))
            .await,
        ["a"]
    );
    db.cleanup().await;
}

// ----- SQLite rebuild --------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_rebuild_keeps_rows_constraints_and_indexes() {
    let db = TestDb::sqlite().await;
    let v1 = TestMigration::new(1, "create")
        .op(Op::Sql(
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, \
             qty INTEGER NOT NULL DEFAULT 5, note TEXT DEFAULT 'n/a', color TEXT)"
                .into(),
        ))
        .op(Op::CreateIndex("ix_t_note", "t", vec!["note"], false))
        .op(Op::CreateIndex("ix_t_color", "t", vec!["color"], false))
        .op(Op::CreateIndex("ix_t_name_color", "t", vec!["name", "color"], true))
        .op(Op::Sql(
            "INSERT INTO t (name, qty, note, color) VALUES ('a', 1, 'x', 'red'), ('b', 2, NULL, 'blue')"
                .into(),
        ));
    let v2 = TestMigration::new(2, "drop_color")
        .destructive()
        .op(Op::DropColumn("t", "color"));
    let v3 =
        TestMigration::new(3, "retype_note").op(Op::AlterColumn("t", "note", ColumnType::Integer));
    db.run(&boxed(vec![v1, v2, v3])).await.expect("run");

    assert_eq!(db.columns("t").await, ["id", "name", "qty", "note"]);
    let rows = db
        .strings("SELECT id || ' ' || name || ' ' || qty || ' ' || COALESCE(note, 'NULL') FROM t ORDER BY id")
        .await;
    assert_eq!(rows, ["1 a 1 x", "2 b 2 NULL"]);
    let info = db
        .strings(
            "SELECT name || ' ' || lower(type) || ' ' || \"notnull\" || ' ' || COALESCE(dflt_value, '-') || ' ' || pk \
             FROM pragma_table_info('t') ORDER BY cid",
        )
        .await;
    assert_eq!(
        info,
        [
            "id integer 0 - 1",
            "name text 1 - 0",
            "qty integer 1 5 0",
            "note integer 0 'n/a' 0"
        ]
    );
    let sql = db
        .strings("SELECT sql FROM sqlite_master WHERE name = 't'")
        .await
        .join("");
    assert!(sql.contains("AUTOINCREMENT"), "{sql}");
    assert_eq!(
        db.indexes("t").await,
        ["ix_t_note"],
        "indexes on the dropped column are gone"
    );
    // Defaults, NOT NULL, UNIQUE and the rowid key still work.
    db.exec("INSERT INTO t (name) VALUES ('c')").await;
    assert_eq!(
        db.strings("SELECT id || ' ' || qty FROM t WHERE name = 'c'")
            .await,
        ["3 5"]
    );
    assert!(
        db.try_exec("INSERT INTO t (name) VALUES ('a')")
            .await
            .is_err(),
        "UNIQUE kept"
    );
    assert!(
        db.try_exec("INSERT INTO t (name, qty) VALUES ('d', NULL)")
            .await
            .is_err(),
        "NOT NULL kept"
    );
    assert!(
        db.strings("SELECT name FROM sqlite_master WHERE name LIKE '_mint_tmp_%'")
            .await
            .is_empty()
    );
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite_rebuild_refuses_foreign_keys_and_composite_keys() {
    let db = TestDb::sqlite().await;
    let v1 = TestMigration::new(1, "create")
        .op(Op::CreateTable(
            "p",
            vec![Column::integer("id").primary_key(), Column::text("x")],
        ))
        .op(Op::CreateTable(
            "c",
            vec![
                Column::integer("id").primary_key(),
                Column::integer("p_id").references("p.id"),
                Column::text("x"),
            ],
        ))
        .op(Op::CreateTable(
            "pair",
            vec![
                Column::integer("a").primary_key(),
                Column::integer("b").primary_key(),
                Column::text("x"),
            ],
        ));
    db.run(&boxed(vec![v1.clone()])).await.expect("v1");
    let unsupported: fn(&MigrationError) -> bool = |e| matches!(e, MigrationError::Unsupported(_));
    let mut probe = TestMigration::new(2, "probe").destructive();
    for table in ["p", "c", "pair"] {
        probe = probe
            .op(Op::ExpectErr(
                Box::new(Op::DropColumn(table, "x")),
                unsupported,
            ))
            .op(Op::ExpectErr(
                Box::new(Op::AlterColumn(table, "x", ColumnType::Integer)),
                unsupported,
            ))
            .op(Op::ExpectColumn(table, "x", true));
    }
    let before = db.snapshot().await;
    db.run(&boxed(vec![v1.clone(), probe]))
        .await
        .expect("refusals");
    assert_eq!(db.snapshot().await, before);
    let direct = TestMigration::new(3, "drop")
        .destructive()
        .op(Op::DropColumn("c", "x"));
    match db
        .run(&boxed(vec![v1, TestMigration::new(2, "probe"), direct]))
        .await
    {
        Err(MigrationError::Failed {
            version: 3, source, ..
        }) => {
            assert!(
                matches!(*source, MigrationError::Unsupported(_)),
                "{source:?}"
            )
        }
        other => panic!("expected Failed v3 with an Unsupported source, got {other:?}"),
    }
    assert_eq!(db.snapshot().await, before, "table unchanged");
    db.cleanup().await;
}

// ----- refusals instead of panics --------------------------------------------------------------

async fn unsupported_requests_are_errors_not_panics_case(db: &TestDb) {
    let unsupported: fn(&MigrationError) -> bool = |e| matches!(e, MigrationError::Unsupported(_));
    let missing_type = match db.dialect {
        Dialect::Sqlite => ColumnType::Interval(None, None),
        Dialect::Postgres => ColumnType::Year,
    };
    let mut two_changes = Table::alter();
    two_changes
        .table(Alias::new("t"))
        .add_column(ColumnDef::new(Alias::new("a")).integer())
        .add_column(ColumnDef::new(Alias::new("b")).integer());
    let probe = TestMigration::new(2, "probe")
        .op(Op::ExpectErr(
            Box::new(Op::CreateTable(
                "bad",
                vec![Column::new("x", missing_type.clone())],
            )),
            unsupported,
        ))
        .op(Op::ExpectErr(
            Box::new(Op::AddColumn("t", Column::new("x", missing_type.clone()))),
            unsupported,
        ))
        .op(Op::ExpectErr(
            Box::new(Op::AlterColumn("t", "label", missing_type)),
            unsupported,
        ))
        .op(Op::ExpectErr(
            Box::new(Op::Stmt(Table::alter())),
            unsupported,
        ))
        .op(Op::ExpectErr(
            Box::new(Op::CreateTable(
                "bad",
                vec![Column::integer("x").references("no_column")],
            )),
            unsupported,
        ))
        .op(Op::ExpectErr(
            Box::new(Op::Sql("COMMIT".into())),
            unsupported,
        ))
        .op(Op::ExpectErr(
            Box::new(Op::Sql("SELECT 1; COMMIT".into())),
            unsupported,
        ))
        .op(Op::ExpectErr(
            Box::new(Op::Query("ROLLBACK".into())),
            unsupported,
        ))
        .op(Op::ExpectErr(
            Box::new(Op::Sql("begin transaction".into())),
            unsupported,
        ))
        .op(Op::ExpectTable("bad", false));
    let probe = match db.dialect {
        // sea-query panics on several alter options in one SQLite statement.
        Dialect::Sqlite => probe.op(Op::ExpectErr(Box::new(Op::Stmt(two_changes)), unsupported)),
        Dialect::Postgres => probe,
    };
    db.run(&boxed(vec![base_table(), probe]))
        .await
        .expect("refusals are errors");
    match db
        .run(&boxed(vec![
            base_table(),
            TestMigration::new(2, "probe"),
            TestMigration::new(3, "commit").op(Op::Sql("COMMIT".into())),
        ]))
        .await
    {
        Err(MigrationError::Failed {
            version: 3, source, ..
        }) => {
            assert!(
                matches!(*source, MigrationError::Unsupported(_)),
                "{source:?}"
            )
        }
        other => panic!("expected Failed v3, got {other:?}"),
    }
}
both!(
    unsupported_requests_are_errors_not_panics,
    super::unsupported_requests_are_errors_not_panics_case
);
