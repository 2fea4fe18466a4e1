//! The plugin's migrations and table SQL on PostgreSQL (skipped, with a note, when
//! `MINT_TEST_DATABASE_URL` is unset). The standalone host is SQLite-only, so this runs the
//! migrations with `MigrationRunner` on a unique schema, as the platform will, then drives the
//! `store` functions on a session whose search path is that schema.

use std::time::{SystemTime, UNIX_EPOCH};

use mint_sdk::sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait,
};
use mint_sdk::{AnalysisPlugin, MigrationRunner};
use panel_designer::model::{Drug, NewPanel};
use panel_designer::{PanelDesignerPlugin, store};

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}_{}", std::process::id(), nanos % 1_000_000_000)
}

async fn cleanup(conn: &DatabaseConnection, schema: &str, plugin: &str) {
    let _ = conn
        .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await;
    let _ = conn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM public.plugin_schema_migrations WHERE plugin_name = $1",
            vec![plugin.into()],
        ))
        .await;
}

#[tokio::test]
async fn migrations_and_table_sql_work_on_postgres() {
    let Some(url) = std::env::var("MINT_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set (PostgreSQL test)");
        return;
    };
    let conn = Database::connect(url.as_str()).await.expect("connect");
    let id = unique_suffix();
    let schema = format!("panel_designer_{id}");
    // A unique tracking name, so reruns and parallel runs never see each other's rows.
    let tracking_name = format!("panel-designer-test-{id}");
    // The body runs on its own task so the schema is dropped even when an assertion fails.
    let task = tokio::spawn(exercise(
        conn.clone(),
        schema.clone(),
        tracking_name.clone(),
    ));
    let joined = task.await;
    cleanup(&conn, &schema, &tracking_name).await;
    if let Err(err) = joined {
        if err.is_panic() {
            std::panic::resume_unwind(err.into_panic());
        }
        panic!("test task failed: {err}");
    }
}

async fn exercise(conn: DatabaseConnection, schema: String, tracking_name: String) {
    let plugin = PanelDesignerPlugin::new();
    let migrations = plugin.migrations();
    let runner = || {
        MigrationRunner::new(conn.clone(), tracking_name.clone())
            .expect("runner")
            .with_schema(schema.clone())
    };
    {
        let result = runner().run(&migrations, false).await.expect("first run");
        assert_eq!(result.applied, [1, 2]);
        assert_eq!(result.current_version, 2);
        let again = runner().run(&migrations, false).await.expect("second run");
        assert!(again.applied.is_empty());

        let columns: Vec<(String, String)> = conn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT column_name::text AS name, is_nullable::text AS nullable \
                 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'panels' \
                 ORDER BY ordinal_position",
                vec![schema.clone().into()],
            ))
            .await
            .expect("columns")
            .iter()
            .map(|r| {
                (
                    r.try_get("", "name").expect("name"),
                    r.try_get("", "nullable").expect("nullable"),
                )
            })
            .collect();
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "experiment_id",
                "name",
                "drugs",
                "notes",
                "created_at",
                "updated_at",
                "tags"
            ]
        );
        assert!(columns.iter().any(|(n, null)| n == "tags" && null == "YES"));
        let tracked = conn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT version FROM public.plugin_schema_migrations \
                 WHERE plugin_name = $1 AND success ORDER BY version",
                vec![tracking_name.clone().into()],
            ))
            .await
            .expect("tracking")
            .iter()
            .map(|r| r.try_get::<i32>("", "version").expect("version"))
            .collect::<Vec<_>>();
        assert_eq!(tracked, [1, 2]);

        // The table code, on a session scoped to the plugin schema like the platform's.
        let txn = conn.begin().await.expect("begin");
        txn.execute_unprepared(&format!("SET LOCAL search_path TO \"{schema}\""))
            .await
            .expect("search_path");
        let new = NewPanel {
            experiment_id: 7,
            name: "PG panel".into(),
            drugs: vec![Drug {
                name: "cisplatin".into(),
                doses_um: vec![0.5, 5.0],
            }],
            notes: None,
            tags: Some(vec!["pg".into()]),
        };
        let panel = store::insert(&txn, &new).await.expect("insert");
        assert_eq!(panel.drugs, new.drugs);
        assert_eq!(panel.tags, new.tags);
        assert!(panel.created_at.ends_with('Z'));
        let dup = store::insert(&txn, &new).await.expect_err("duplicate");
        assert_eq!(dup.status().as_u16(), 409);
        txn.rollback().await.expect("rollback");

        let txn = conn.begin().await.expect("begin");
        txn.execute_unprepared(&format!("SET LOCAL search_path TO \"{schema}\""))
            .await
            .expect("search_path");
        let panel = store::insert(&txn, &new).await.expect("insert");
        assert!(
            store::name_taken(&txn, 7, "PG panel", None)
                .await
                .expect("taken")
        );
        assert!(
            !store::name_taken(&txn, 7, "PG panel", Some(panel.id))
                .await
                .expect("taken")
        );
        let mut changed = panel.clone();
        changed.tags = None;
        changed.notes = Some("n".into());
        let changed = store::update(&txn, &changed).await.expect("update");
        assert_eq!((changed.tags, changed.notes.as_deref()), (None, Some("n")));
        assert_eq!(store::list(&txn, 7).await.expect("list").len(), 1);
        assert_eq!(store::count(&txn, 7).await.expect("count"), 1);
        assert!(store::delete(&txn, panel.id).await.expect("delete"));
        assert!(store::get(&txn, panel.id).await.expect("get").is_none());
        txn.commit().await.expect("commit");
    }
}
