//! The real standalone app (`create_standalone_app` + `start()` on a temp data dir, SQLite),
//! driven with `tower::ServiceExt::oneshot`.

mod common;

use axum::http::StatusCode;
use common::{call, start_standalone};
use mint_sdk::AnalysisPlugin;
use mint_sdk::sea_orm::{ConnectionTrait, DbBackend, Statement};
use mint_sdk::serde_json::{Value, json};
use panel_designer::PanelDesignerPlugin;

const API: &str = "/api/panel-designer";

fn panel_body(experiment_id: i64, name: &str) -> Value {
    json!({
        "experiment_id": experiment_id,
        "name": name,
        "drugs": [
            {"name": "cisplatin", "doses_uM": [0.1, 1, 10]},
            {"name": "paclitaxel", "doses_uM": [0.01, 0.1]}
        ],
        "notes": "first pass"
    })
}

async fn panel_count(plugin: &PanelDesignerPlugin, experiment_id: i64) -> Value {
    let design = plugin
        .load_design(experiment_id)
        .await
        .expect("load design")
        .expect("design data");
    assert_eq!(design.plugin_id, "panel-designer");
    Value::Object(design.data)
}

fn is_rfc3339_utc(text: &Value) -> bool {
    text.as_str()
        .and_then(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|_| t.ends_with('Z'))
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn a_fresh_database_gets_migrations_1_and_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start_standalone(dir.path()).await;
    let conn = s
        .plugin
        .standalone_db()
        .expect("db")
        .connection()
        .expect("connection");
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT version, name, success, checksum FROM _plugin_migrations \
             WHERE plugin_name = 'panel-designer' ORDER BY version",
        ))
        .await
        .expect("tracking rows");
    let got: Vec<(i64, String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "version").expect("version"),
                r.try_get("", "name").expect("name"),
                r.try_get("", "success").expect("success"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "create_panels".to_string(), true),
            (2, "add_tags".to_string(), true)
        ]
    );
    let checksums: Vec<String> = s.plugin.migrations().iter().map(|m| m.checksum()).collect();
    for (row, checksum) in rows.iter().zip(&checksums) {
        assert_eq!(
            &row.try_get::<String>("", "checksum").expect("checksum"),
            checksum
        );
    }
    let columns: Vec<String> = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name FROM pragma_table_info('panels') ORDER BY cid",
        ))
        .await
        .expect("columns")
        .iter()
        .map(|r| r.try_get("", "name").expect("name"))
        .collect();
    assert_eq!(
        columns,
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
    s.app.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn crud_round_trip_keeps_design_data_in_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start_standalone(dir.path()).await;
    let r = &s.router;

    let (status, a) = call(
        r,
        "POST",
        &format!("{API}/panels"),
        Some(panel_body(3, "  Panel A ")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert_eq!(a["name"], "Panel A");
    assert_eq!(a["experiment_id"], 3);
    assert!(a["id"].is_i64());
    assert_eq!(
        a["drugs"][0],
        json!({"name": "cisplatin", "doses_uM": [0.1, 1.0, 10.0]})
    );
    assert_eq!(a["notes"], "first pass");
    assert_eq!(a["tags"], Value::Null);
    assert!(is_rfc3339_utc(&a["created_at"]), "{a}");
    assert_eq!(a["created_at"], a["updated_at"]);
    assert_eq!(panel_count(&s.plugin, 3).await, json!({"panel_count": 1}));

    let (status, b) = call(
        r,
        "POST",
        &format!("{API}/panels"),
        Some(json!({"experiment_id": 3, "name": "Panel B", "tags": ["pilot"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_eq!(b["drugs"], json!([]));
    assert_eq!(b["tags"], json!(["pilot"]));
    assert_eq!(panel_count(&s.plugin, 3).await, json!({"panel_count": 2}));

    // The list is a bare JSON array, oldest first, of this experiment only.
    let (status, list) = call(r, "GET", &format!("{API}/panels/3"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([a, b]));
    let (status, other) = call(r, "GET", &format!("{API}/panels/4"), None).await;
    assert_eq!((status, other), (StatusCode::OK, json!([])));

    let id = a["id"].as_i64().expect("id");
    let (status, got) = call(r, "GET", &format!("{API}/panels/by-id/{id}"), None).await;
    assert_eq!((status, &got), (StatusCode::OK, &a));

    // PATCH is partial: only the given fields change; null clears a nullable field.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, patched) = call(
        r,
        "PATCH",
        &format!("{API}/panels/by-id/{id}"),
        Some(json!({"name": "Panel A2", "notes": null, "tags": ["x", "y"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "Panel A2");
    assert_eq!(patched["notes"], Value::Null);
    assert_eq!(patched["tags"], json!(["x", "y"]));
    assert_eq!(patched["drugs"], a["drugs"]);
    assert_eq!(patched["created_at"], a["created_at"]);
    assert_ne!(patched["updated_at"], a["updated_at"]);
    assert!(is_rfc3339_utc(&patched["updated_at"]));
    assert_eq!(panel_count(&s.plugin, 3).await, json!({"panel_count": 2}));

    // An empty patch changes nothing.
    let (status, same) = call(
        r,
        "PATCH",
        &format!("{API}/panels/by-id/{id}"),
        Some(json!({})),
    )
    .await;
    assert_eq!((status, &same), (StatusCode::OK, &patched));

    let (status, body) = call(r, "DELETE", &format!("{API}/panels/by-id/{id}"), None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(panel_count(&s.plugin, 3).await, json!({"panel_count": 1}));
    let (_, list) = call(r, "GET", &format!("{API}/panels/3"), None).await;
    assert_eq!(list, json!([b]));

    let bid = b["id"].as_i64().expect("id");
    let (status, _) = call(r, "DELETE", &format!("{API}/panels/by-id/{bid}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(panel_count(&s.plugin, 3).await, json!({"panel_count": 0}));
    s.app.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_duplicate_name_in_one_experiment_is_a_409() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start_standalone(dir.path()).await;
    let r = &s.router;
    let (status, first) = call(
        r,
        "POST",
        &format!("{API}/panels"),
        Some(panel_body(1, "Panel A")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // Same name after trimming: conflict, nothing stored, design data unchanged.
    let (status, err) = call(
        r,
        "POST",
        &format!("{API}/panels"),
        Some(panel_body(1, " Panel A")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["code"], "CONFLICT");
    assert_eq!(err["status"], 409);
    assert_eq!(err["details"]["conflict_field"], "name");
    assert_eq!(err["details"]["entity"], "panel");
    let (_, list) = call(r, "GET", &format!("{API}/panels/1"), None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(panel_count(&s.plugin, 1).await, json!({"panel_count": 1}));

    // The same name in another experiment is fine.
    let (status, _) = call(
        r,
        "POST",
        &format!("{API}/panels"),
        Some(panel_body(2, "Panel A")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // Renaming onto an existing name conflicts; "renaming" to its own name does not.
    let (status, second) = call(
        r,
        "POST",
        &format!("{API}/panels"),
        Some(panel_body(1, "Panel B")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let sid = second["id"].as_i64().expect("id");
    let (status, err) = call(
        r,
        "PATCH",
        &format!("{API}/panels/by-id/{sid}"),
        Some(json!({"name": "Panel A"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["details"]["conflict_field"], "name");
    let fid = first["id"].as_i64().expect("id");
    let (status, _) = call(
        r,
        "PATCH",
        &format!("{API}/panels/by-id/{fid}"),
        Some(json!({"name": "Panel A "})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    s.app.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn invalid_input_is_a_400_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start_standalone(dir.path()).await;
    let r = &s.router;
    let long = "x".repeat(201);
    let cases = [
        (json!({"experiment_id": 1, "name": ""}), "name"),
        (json!({"experiment_id": 1, "name": long}), "name"),
        (json!({"name": "a"}), "experiment_id"),
        (
            json!({"experiment_id": 1, "name": "a", "drugs": [{"name": "d", "doses_uM": [1]}, {"name": "e", "doses_uM": [0]}]}),
            "drugs.1.doses_uM.0",
        ),
        (
            json!({"experiment_id": 1, "name": "a", "drugs": [{"name": " ", "doses_uM": [1]}]}),
            "drugs.0.name",
        ),
        (
            json!({"experiment_id": 1, "name": "a", "drugs": [{"name": "d", "doses_uM": "1"}]}),
            "drugs.0.doses_uM",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = call(r, "POST", &format!("{API}/panels"), Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {err}");
        assert_eq!(err["code"], "VALIDATION_ERROR", "{err}");
        assert_eq!(err["details"]["field"], field, "{err}");
    }
    let (status, created) = call(
        r,
        "POST",
        &format!("{API}/panels"),
        Some(panel_body(1, "ok")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_i64().expect("id");
    let (status, err) = call(
        r,
        "PATCH",
        &format!("{API}/panels/by-id/{id}"),
        Some(json!({"drugs": [{"name": "d", "doses_uM": [1, -2]}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["details"]["field"], "drugs.0.doses_uM.1");
    let (status, err) = call(
        r,
        "PATCH",
        &format!("{API}/panels/by-id/{id}"),
        Some(json!({"experiment_id": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["details"]["field"], "experiment_id");
    // Nothing of the refused writes was stored.
    let (_, list) = call(r, "GET", &format!("{API}/panels/1"), None).await;
    assert_eq!(list, json!([created]));
    // A non-integer id is the SDK's 422 request-validation envelope.
    let (status, err) = call(r, "GET", &format!("{API}/panels/by-id/abc"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["code"], "validation.request");
    s.app.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_unknown_panel_is_a_404() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start_standalone(dir.path()).await;
    let r = &s.router;
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"name": "n"}))),
        ("DELETE", None),
    ] {
        let (status, err) = call(r, method, &format!("{API}/panels/by-id/999"), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(err["code"], "NOT_FOUND");
        assert_eq!(err["details"]["entity"], "panel");
        assert_eq!(err["details"]["entity_id"], "999");
    }
    assert!(s.plugin.load_design(999).await.expect("load").is_none());
    s.app.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn panels_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start_standalone(dir.path()).await;
    let (status, created) = call(
        &s.router,
        "POST",
        &format!("{API}/panels"),
        Some(panel_body(5, "Kept")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    s.app.shutdown().await.expect("shutdown");
    drop(s);

    let s = start_standalone(dir.path()).await;
    let (status, list) = call(&s.router, "GET", &format!("{API}/panels/5"), None).await;
    assert_eq!((status, list), (StatusCode::OK, json!([created])));
    assert_eq!(panel_count(&s.plugin, 5).await, json!({"panel_count": 1}));
    // The second start applied nothing: still exactly two tracking rows.
    let conn = s
        .plugin
        .standalone_db()
        .expect("db")
        .connection()
        .expect("conn");
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT version FROM _plugin_migrations WHERE plugin_name = 'panel-designer'",
        ))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2);
    s.app.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn me_role_is_the_standalone_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start_standalone(dir.path()).await;
    let (status, me) = call(&s.router, "GET", &format!("{API}/me/role"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me,
        json!({"user_id": "standalone", "username": "standalone", "role": "member", "plugin_role": null})
    );
    s.app.shutdown().await.expect("shutdown");
}
