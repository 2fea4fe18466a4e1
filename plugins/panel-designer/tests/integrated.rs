//! The role guard and the design-data writes against a `RecordingContext` (an in-memory
//! platform with the experiment-design write policy).
//!
//! `RecordingContext` gives no shared DB session, so the panels table would be out of reach.
//! The plugin's `plugin_db_session` prefers an attached standalone database, so these tests
//! attach one (temp dir, migrated with `MigrationRunner`) while the plugin is bound to the
//! context: reads and writes of `panels` hit SQLite, design data and roles hit the context.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use common::call;
use mint_sdk::serde_json::{Value, json};
use mint_sdk::testing::{RecordingContext, build_test_app};
use mint_sdk::{AnalysisPlugin, CurrentUser, MigrationRunner, PluginType};
use panel_designer::{PLUGIN_NAME, PanelDesignerPlugin};

const API: &str = "/api/panel-designer";

struct Integrated {
    ctx: RecordingContext,
    router: Router,
    plugin: Arc<PanelDesignerPlugin>,
    _dir: tempfile::TempDir,
}

/// Users: 1 admin (platform), 2 editor, 3 viewer, 4 no plugin role, 5 plugin admin.
fn user(id: i64) -> CurrentUser {
    let role = if id == 1 { "admin" } else { "member" };
    CurrentUser {
        user_id: id.to_string(),
        username: Some(format!("user{id}")),
        role: role.into(),
        role_id: None,
        plugin_role: None,
        permissions: Default::default(),
    }
}

async fn integrated(as_user: i64) -> Integrated {
    let ctx = RecordingContext::builder()
        .plugin_id(PLUGIN_NAME)
        .plugin_type(PluginType::ExperimentDesign)
        .user(user(as_user))
        .experiments([
            json!({"id": 10, "name": "Dose response", "experiment_type": "oncology"}),
            json!({"id": 11, "name": "Second", "experiment_type": "oncology"}),
        ])
        .plugin_roles([
            json!({"user_id": 2, "plugin_id": PLUGIN_NAME, "role": "editor"}),
            json!({"user_id": 3, "plugin_id": PLUGIN_NAME, "role": "viewer"}),
            json!({"user_id": 5, "plugin_id": PLUGIN_NAME, "role": "admin"}),
            json!({"user_id": 4, "plugin_id": "other-plugin", "role": "editor"}),
        ])
        .build()
        .expect("context");
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = Arc::new(PanelDesignerPlugin::new());
    plugin
        .setup_standalone_db(Some(dir.path().to_path_buf()))
        .await
        .expect("db");
    let conn = plugin
        .standalone_db()
        .expect("db")
        .connection()
        .expect("conn");
    MigrationRunner::new(conn, PLUGIN_NAME)
        .expect("runner")
        .run(&plugin.migrations(), false)
        .await
        .expect("migrate");
    mint_sdk::app::start_integrated(plugin.as_ref(), ctx.context())
        .await
        .expect("start");
    let router = build_test_app(plugin.clone(), false).expect("app").router();
    Integrated {
        ctx,
        router,
        plugin,
        _dir: dir,
    }
}

fn body(experiment_id: i64, name: &str) -> Value {
    json!({"experiment_id": experiment_id, "name": name,
           "drugs": [{"name": "doxorubicin", "doses_uM": [0.05, 0.5]}]})
}

fn design_writes(ctx: &RecordingContext) -> usize {
    ctx.calls()
        .iter()
        .filter(|c| c.method == "plugin_data.save_experiment_data")
        .count()
}

/// A panel created by the editor, so the other users have something to change.
async fn seed_panel(t: &Integrated) -> i64 {
    t.ctx.set_current_user(Some(user(2)));
    let (status, panel) = call(
        &t.router,
        "POST",
        &format!("{API}/panels"),
        Some(body(10, "Seed")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{panel}");
    panel["id"].as_i64().expect("id")
}

#[tokio::test]
async fn viewers_and_users_without_a_plugin_role_cannot_write() {
    let t = integrated(2).await;
    let id = seed_panel(&t).await;
    for refused in [3, 4] {
        t.ctx.set_current_user(Some(user(refused)));
        t.ctx.clear_calls();
        let attempts = [
            ("POST", format!("{API}/panels"), Some(body(10, "Nope"))),
            (
                "PATCH",
                format!("{API}/panels/by-id/{id}"),
                Some(json!({"name": "Nope"})),
            ),
            ("DELETE", format!("{API}/panels/by-id/{id}"), None),
            // The guard runs before the body is read: an invalid body is still a 403.
            (
                "POST",
                format!("{API}/panels"),
                Some(json!({"bogus": true})),
            ),
        ];
        for (method, uri, b) in attempts {
            let (status, err) = call(&t.router, method, &uri, b).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "user {refused} {method} {uri}"
            );
            assert_eq!(err["code"], "auth.forbidden");
            assert_eq!(err["message"], "Requires plugin role: editor, admin");
        }
        assert_eq!(design_writes(&t.ctx), 0);
        // Reading stays open to every signed-in user.
        let (status, list) = call(&t.router, "GET", &format!("{API}/panels/10"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().map(Vec::len), Some(1));
        let (status, _) = call(&t.router, "GET", &format!("{API}/panels/by-id/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn editors_write_and_the_design_data_reaches_the_platform() {
    let t = integrated(2).await;
    let (status, a) = call(
        &t.router,
        "POST",
        &format!("{API}/panels"),
        Some(body(10, "A")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let (status, _) = call(
        &t.router,
        "POST",
        &format!("{API}/panels"),
        Some(body(10, "B")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let design = t.ctx.design_data();
    assert_eq!(design.len(), 1);
    assert_eq!(design[0].experiment_id, 10);
    assert_eq!(design[0].plugin_id, PLUGIN_NAME);
    assert_eq!(
        Value::Object(design[0].data.clone()),
        json!({"panel_count": 2})
    );

    let id = a["id"].as_i64().expect("id");
    let (status, _) = call(
        &t.router,
        "PATCH",
        &format!("{API}/panels/by-id/{id}"),
        Some(json!({"notes": "n"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &t.router,
        "DELETE",
        &format!("{API}/panels/by-id/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(design_writes(&t.ctx), 4);
    assert_eq!(
        Value::Object(t.ctx.design_data()[0].data.clone()),
        json!({"panel_count": 1})
    );
}

#[tokio::test]
async fn plugin_admins_and_platform_admins_pass_the_guard() {
    for writer in [5, 1] {
        let t = integrated(writer).await;
        let id = seed_panel(&t).await;
        t.ctx.set_current_user(Some(user(writer)));
        let (status, _) = call(
            &t.router,
            "PATCH",
            &format!("{API}/panels/by-id/{id}"),
            Some(json!({"tags": ["t"]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "user {writer}");
        let (status, _) = call(
            &t.router,
            "DELETE",
            &format!("{API}/panels/by-id/{id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "user {writer}");
        assert_eq!(
            Value::Object(t.ctx.design_data()[0].data.clone()),
            json!({"panel_count": 0})
        );
    }
}

#[tokio::test]
async fn an_unknown_experiment_is_a_404_and_anonymous_requests_a_401() {
    let t = integrated(2).await;
    let (status, err) = call(
        &t.router,
        "POST",
        &format!("{API}/panels"),
        Some(body(99, "A")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    assert_eq!(err["details"]["entity"], "experiment");
    let (status, _) = call(&t.router, "GET", &format!("{API}/panels/99"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(design_writes(&t.ctx), 0);

    t.ctx.set_current_user(None);
    for (method, uri) in [
        ("GET", format!("{API}/panels/10")),
        ("GET", format!("{API}/me/role")),
        ("DELETE", format!("{API}/panels/by-id/1")),
    ] {
        let (status, _) = call(&t.router, method, &uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
}

#[tokio::test]
async fn me_role_reports_the_plugin_role() {
    let t = integrated(2).await;
    let expected = [
        (1, "admin", json!("admin")),
        (2, "member", json!("editor")),
        (3, "member", json!("viewer")),
        (4, "member", Value::Null),
    ];
    for (id, role, plugin_role) in expected {
        t.ctx.set_current_user(Some(user(id)));
        let (status, me) = call(&t.router, "GET", &format!("{API}/me/role"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            me,
            json!({"user_id": id.to_string(), "username": format!("user{id}"),
                   "role": role, "plugin_role": plugin_role})
        );
    }
    // The plugin is really integrated: the context, not the standalone user.
    assert!(!t.plugin.is_standalone());
}

#[tokio::test]
async fn without_a_table_store_the_guard_still_answers_first() {
    // No attached database: the RecordingContext's missing shared session is all there is.
    let ctx = RecordingContext::builder()
        .plugin_id(PLUGIN_NAME)
        .plugin_type(PluginType::ExperimentDesign)
        .user(user(3))
        .experiments([json!({"id": 10, "name": "E", "experiment_type": "oncology"})])
        .plugin_roles([json!({"user_id": 3, "plugin_id": PLUGIN_NAME, "role": "viewer"})])
        .build()
        .expect("context");
    let plugin = Arc::new(PanelDesignerPlugin::new());
    mint_sdk::app::start_integrated(plugin.as_ref(), ctx.context())
        .await
        .expect("start");
    let router = build_test_app(plugin, false).expect("app").router();
    let (status, _) = call(&router, "DELETE", &format!("{API}/panels/by-id/1"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A permitted user gets past the guard and meets the configuration error.
    ctx.set_current_user(Some(user(1)));
    let (status, err) = call(&router, "DELETE", &format!("{API}/panels/by-id/1"), None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{err}");
    assert_eq!(err["code"], "CONFIGURATION_ERROR");
    assert_eq!(design_writes(&ctx), 0);
}
