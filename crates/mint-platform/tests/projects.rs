//! Projects, members and project experiments through real HTTP (platform-api.md §4.4,
//! rbac.md §3 and §5).

mod common;

use common::{Backend, TestPlatform, postgres_url};
use serde_json::{Value, json};

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

fn names(list: &Value) -> Vec<String> {
    list["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// Inserts an experiment row directly (the experiments API is another slice's).
async fn insert_experiment(
    tp: &TestPlatform,
    code: &str,
    project_id: Option<i64>,
    created_by: i64,
) -> i64 {
    let store = &tp.platform.store;
    let now = mint_platform::store::now_text();
    store
        .insert(
            store.connection(),
            "INSERT INTO experiments (name, experiment_code, experiment_type, status, project_id, \
             notes, tags, custom_metadata, start_date, created_by, created_at, updated_at) \
             VALUES ($1, $2, 'custom', 'planned', $3, NULL, $4, '{}', '2026-05-01', $5, $6, $6) \
             RETURNING id",
            [
                format!("Experiment {code}").into(),
                code.into(),
                mint_platform::store::opt_i64(project_id),
                r#"{"batch": "B1"}"#.into(),
                created_by.into(),
                now.into(),
            ],
        )
        .await
        .unwrap()
}

async fn count(tp: &TestPlatform, sql: &str) -> i64 {
    let store = &tp.platform.store;
    store.count(store.connection(), sql, []).await.unwrap()
}

#[tokio::test]
async fn project_list_is_wrapped_filters_and_hides_archived() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (status, alpha) = tp
        .post(
            "/api/projects",
            Some(&admin),
            json!({"name": "Alpha TCA", "description": "citrate cycle", "tags": ["lcms", "tca"]}),
        )
        .await;
    assert_eq!(status, 201, "{alpha}");
    for key in [
        "id",
        "name",
        "description",
        "status",
        "lead_id",
        "tags",
        "start_date",
        "end_date",
        "created_at",
        "updated_at",
        "member_count",
        "experiment_count",
    ] {
        assert!(alpha.get(key).is_some(), "{key} in {alpha}");
    }
    assert_eq!(alpha["status"], "active");
    assert_eq!(alpha["member_count"], 1, "the creator is the owner member");
    assert_eq!(alpha["experiment_count"], 0);
    assert_eq!(alpha["tags"], json!(["lcms", "tca"]));
    assert_eq!(alpha["start_date"], Value::Null);
    assert!(alpha["created_at"].as_str().unwrap().ends_with('Z'));
    let alpha_id = alpha["id"].as_i64().unwrap();

    let (_, beta) = tp
        .post("/api/projects", Some(&admin), json!({"name": "Beta"}))
        .await;
    let (_, gamma) = tp
        .post("/api/projects", Some(&admin), json!({"name": "Gamma"}))
        .await;
    let (status, archived) = tp
        .patch(
            &format!("/api/projects/{}", beta["id"]),
            Some(&admin),
            json!({"status": "archived"}),
        )
        .await;
    assert_eq!((status, &archived["status"]), (200, &json!("archived")));
    let (status, _) = tp
        .patch(
            &format!("/api/projects/{}", gamma["id"]),
            Some(&admin),
            json!({"status": "completed", "start_date": "2026-01-01", "end_date": "2026-03-01",
                   "lead_id": 1, "description": "done"}),
        )
        .await;
    assert_eq!(status, 200);

    let (status, list) = tp.get("/api/projects", Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 2, "archived hidden: {list}");
    assert_eq!(names(&list), vec!["Gamma", "Alpha TCA"], "newest first");
    let (_, list) = tp.get("/api/projects?status=archived", Some(&admin)).await;
    assert_eq!(
        (names(&list), &list["total"]),
        (vec!["Beta".into()], &json!(1))
    );
    let (_, list) = tp.get("/api/projects?status=completed", Some(&admin)).await;
    assert_eq!(names(&list), vec!["Gamma"]);
    assert_eq!(list["projects"][0]["start_date"], "2026-01-01");
    assert_eq!(list["projects"][0]["lead_id"], 1);
    let (_, list) = tp.get("/api/projects?search=CITRATE", Some(&admin)).await;
    assert_eq!(names(&list), vec!["Alpha TCA"], "search covers description");
    let (_, list) = tp.get("/api/projects?search=tca", Some(&admin)).await;
    assert_eq!(names(&list), vec!["Alpha TCA"]);
    let (_, list) = tp.get("/api/projects?search=CYCLE", Some(&admin)).await;
    assert_eq!(names(&list), vec!["Alpha TCA"]);
    let (_, list) = tp.get("/api/projects?search=%25", Some(&admin)).await;
    assert_eq!(list["total"], 0, "% is literal");
    let (_, list) = tp.get("/api/projects?limit=1&skip=1", Some(&admin)).await;
    assert_eq!(
        (names(&list), &list["total"]),
        (vec!["Alpha TCA".into()], &json!(2))
    );

    for bad in [
        "limit=5000",
        "limit=0",
        "skip=-1",
        "status=bogus",
        "my_projects=maybe",
    ] {
        let (status, body) = tp.get(&format!("/api/projects?{bad}"), Some(&admin)).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }

    // my_projects: only memberships; a member without them sees nothing there.
    let (mid, member) = tp.user(&admin, "mo", "member").await;
    let (_, list) = tp
        .get("/api/projects?my_projects=true", Some(&member))
        .await;
    assert_eq!(list["total"], 0);
    let (_, list) = tp.get("/api/projects", Some(&member)).await;
    assert_eq!(list["total"], 2, "projects.view shows all");
    let (status, _) = tp
        .post(
            &format!("/api/projects/{alpha_id}/members"),
            Some(&admin),
            json!({"user_id": mid, "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, list) = tp
        .get("/api/projects?my_projects=true", Some(&member))
        .await;
    assert_eq!(names(&list), vec!["Alpha TCA"]);
    assert_eq!(list["projects"][0]["member_count"], 2);

    // Bad bodies.
    let (status, _) = tp
        .post("/api/projects", Some(&admin), json!({"name": "  "}))
        .await;
    assert_eq!(status, 422);
    let (status, _) = tp
        .patch(
            &format!("/api/projects/{alpha_id}"),
            Some(&admin),
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = tp
        .patch(
            &format!("/api/projects/{alpha_id}"),
            Some(&admin),
            json!({"start_date": "2026-05-01", "end_date": "2026-04-01"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = tp
        .patch(
            &format!("/api/projects/{alpha_id}"),
            Some(&admin),
            json!({"lead_id": 999}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = tp.get("/api/projects/999", Some(&admin)).await;
    assert_eq!(status, 404);
    tp.finish().await;
}

#[tokio::test]
async fn viewers_read_projects_but_cannot_change_them() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (_, viewer) = tp.user(&admin, "vic", "viewer").await;
    let (_, project) = tp
        .post("/api/projects", Some(&admin), json!({"name": "Read me"}))
        .await;
    let id = project["id"].as_i64().unwrap();
    let (status, list) = tp.get("/api/projects", Some(&viewer)).await;
    assert_eq!((status, &list["total"]), (200, &json!(1)));
    let (status, got) = tp.get(&format!("/api/projects/{id}"), Some(&viewer)).await;
    assert_eq!((status, &got["name"]), (200, &json!("Read me")));
    let (status, body) = tp
        .post("/api/projects", Some(&viewer), json!({"name": "x"}))
        .await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: projects.create")
    );
    let (status, body) = tp
        .patch(
            &format!("/api/projects/{id}"),
            Some(&viewer),
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: projects.edit")
    );
    let (status, body) = tp
        .delete(&format!("/api/projects/{id}"), Some(&viewer))
        .await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: projects.delete")
    );

    // A custom role without projects.view sees only projects it belongs to.
    let (status, _) = tp
        .post(
            "/api/admin/roles",
            Some(&admin),
            json!({"name": "Outsider", "permissions": ["plugins.view"]}),
        )
        .await;
    assert_eq!(status, 201);
    let (oid, outsider) = tp.user(&admin, "otto", "outsider").await;
    let (status, list) = tp.get("/api/projects", Some(&outsider)).await;
    assert_eq!((status, &list["total"]), (200, &json!(0)));
    let (status, _) = tp
        .get(&format!("/api/projects/{id}"), Some(&outsider))
        .await;
    assert_eq!(status, 404, "invisible, not forbidden");
    tp.post(
        &format!("/api/projects/{id}/members"),
        Some(&admin),
        json!({"user_id": oid, "role": "viewer"}),
    )
    .await;
    let (status, _) = tp
        .get(&format!("/api/projects/{id}"), Some(&outsider))
        .await;
    assert_eq!(status, 200, "membership grants reading");
    let (_, list) = tp.get("/api/projects", Some(&outsider)).await;
    assert_eq!(list["total"], 1);
    tp.finish().await;
}

#[tokio::test]
async fn project_owner_manages_members_and_an_editor_cannot() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (owner_id, owner) = tp.user(&admin, "olga", "member").await;
    // System viewers: their project role is all they have on the project.
    let (editor_id, editor) = tp.user(&admin, "eddie", "viewer").await;
    let (other_id, _) = tp.user(&admin, "otis", "viewer").await;
    let (status, project) = tp
        .post("/api/projects", Some(&owner), json!({"name": "Owned"}))
        .await;
    assert_eq!(status, 201);
    let id = project["id"].as_i64().unwrap();
    let members_path = format!("/api/projects/{id}/members");

    let (status, member) = tp
        .post(
            &members_path,
            Some(&owner),
            json!({"user_id": editor_id, "role": "editor"}),
        )
        .await;
    assert_eq!(status, 201, "{member}");
    assert_eq!(
        member,
        json!({"user_id": editor_id, "user": {"id": editor_id, "username": "eddie", "email": null},
               "role": "editor", "status": "active"})
    );
    let (status, _) = tp
        .post(
            &members_path,
            Some(&owner),
            json!({"user_id": editor_id, "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 409, "already a member");
    let (status, _) = tp
        .post(
            &members_path,
            Some(&owner),
            json!({"user_id": 999, "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 404, "unknown user");
    let (status, _) = tp
        .post(
            &members_path,
            Some(&owner),
            json!({"user_id": other_id, "role": "boss"}),
        )
        .await;
    assert_eq!(status, 422, "bad role");

    // The editor reads the members but cannot change them.
    let (status, list) = tp.get(&members_path, Some(&editor)).await;
    assert_eq!(status, 200);
    let list = list.as_array().expect("a bare array");
    let ids: Vec<i64> = list
        .iter()
        .map(|m| m["user_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![owner_id, editor_id]);
    assert_eq!(list[0]["role"], "owner");
    let (status, body) = tp
        .post(
            &members_path,
            Some(&editor),
            json!({"user_id": other_id, "role": "viewer"}),
        )
        .await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: projects.manage_members")
    );
    let (status, _) = tp
        .patch(
            &format!("{members_path}/{editor_id}"),
            Some(&editor),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = tp
        .delete(&format!("{members_path}/{owner_id}"), Some(&editor))
        .await;
    assert_eq!(status, 403);

    // Owner re-roles and removes.
    let (status, changed) = tp
        .patch(
            &format!("{members_path}/{editor_id}"),
            Some(&owner),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!((status, &changed["role"]), (200, &json!("viewer")));
    let (status, _) = tp
        .patch(
            &format!("{members_path}/{other_id}"),
            Some(&owner),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, 404, "not a member");
    let (status, body) = tp
        .delete(&format!("{members_path}/{editor_id}"), Some(&owner))
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, _) = tp
        .delete(&format!("{members_path}/{editor_id}"), Some(&owner))
        .await;
    assert_eq!(status, 404);
    let (status, _) = tp.get(&format!("/api/projects/{id}"), Some(&editor)).await;
    assert_eq!(status, 200, "projects.view still shows it");

    // The last owner stays.
    let (status, body) = tp
        .patch(
            &format!("{members_path}/{owner_id}"),
            Some(&owner),
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = tp
        .delete(&format!("{members_path}/{owner_id}"), Some(&owner))
        .await;
    assert_eq!(status, 409);
    let (_, got) = tp.get(&format!("/api/projects/{id}"), Some(&owner)).await;
    assert_eq!(got["member_count"], 1);

    // A project Owner who is a system viewer may still edit and delete the project.
    let (status, _) = tp
        .post(
            &members_path,
            Some(&owner),
            json!({"user_id": other_id, "role": "owner"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = tp
        .patch(
            &format!("{members_path}/{owner_id}"),
            Some(&owner),
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(status, 200, "another owner exists now");
    let other = tp.login("otis", "pw-123456").await;
    let (status, _) = tp
        .patch(
            &format!("/api/projects/{id}"),
            Some(&other),
            json!({"description": "by otis"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = tp
        .delete(&format!("/api/projects/{id}"), Some(&other))
        .await;
    assert_eq!(status, 204);
    tp.finish().await;
}

#[tokio::test]
async fn project_experiments_are_a_bare_array_of_visible_experiments_and_delete_cascades() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    // A system viewer: all it may do here comes from its project role.
    let (member_id, member) = tp.user(&admin, "mia", "viewer").await;
    let (outsider_id, outsider) = tp.user(&admin, "oz", "member").await;
    let (_, project) = tp
        .post("/api/projects", Some(&admin), json!({"name": "Exp host"}))
        .await;
    let id = project["id"].as_i64().unwrap();
    tp.post(
        &format!("/api/projects/{id}/members"),
        Some(&admin),
        json!({"user_id": member_id, "role": "editor"}),
    )
    .await;
    let e1 = insert_experiment(&tp, "EXP-001", Some(id), 1).await;
    let e2 = insert_experiment(&tp, "EXP-002", Some(id), outsider_id).await;
    let elsewhere = insert_experiment(&tp, "EXP-003", None, 1).await;
    let store = &tp.platform.store;
    let now = mint_platform::store::now_text();
    store
        .exec(
            store.connection(),
            "INSERT INTO design_data (experiment_id, plugin_id, data, schema_version, created_at, \
             updated_at) VALUES ($1, 'designer', '{}', '1.0', $2, $2)",
            [e1.into(), now.into()],
        )
        .await
        .unwrap();

    let path = format!("/api/projects/{id}/experiments");
    let (status, list) = tp.get(&path, Some(&member)).await;
    assert_eq!(status, 200);
    let list = list.as_array().expect("a bare array").clone();
    let ids: Vec<i64> = list.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![e2, e1], "members see all, newest first");
    let first = list.iter().find(|e| e["id"] == e1).unwrap();
    assert_eq!(first["experiment_code"], "EXP-001");
    assert_eq!(first["project"], "Exp host");
    assert_eq!(first["project_id"], id);
    assert_eq!(first["has_design_data"], true);
    assert_eq!(first["design_owner_plugin_id"], "designer");
    assert_eq!(first["tags"], json!({"batch": "B1"}));
    assert_eq!(first["custom_metadata"], json!({}));
    assert_eq!(first["start_date"], "2026-05-01");
    assert_eq!(first["end_date"], Value::Null);
    assert_eq!(first["notes"], Value::Null);
    assert_eq!(first["parent_experiment_id"], Value::Null);
    assert_eq!(first["created_by"], 1);
    assert!(first["updated_at"].as_str().unwrap().ends_with('Z'));
    let second = list.iter().find(|e| e["id"] == e2).unwrap();
    assert_eq!(second["has_design_data"], false);
    assert_eq!(second["design_owner_plugin_id"], Value::Null);

    // A non-member sees only what they created; counts follow visibility.
    let (status, list) = tp.get(&path, Some(&outsider)).await;
    assert_eq!(status, 200);
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![e2]);
    let (_, seen) = tp
        .get(&format!("/api/projects/{id}"), Some(&outsider))
        .await;
    assert_eq!(seen["experiment_count"], 1);
    let (_, seen) = tp.get(&format!("/api/projects/{id}"), Some(&admin)).await;
    assert_eq!(seen["experiment_count"], 2);
    let (_, list) = tp.get(&format!("{path}?limit=1"), Some(&admin)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, _) = tp.get(&format!("{path}?limit=1001"), Some(&admin)).await;
    assert_eq!(status, 422);

    // Deleting the project removes its experiments (and their design data), nothing else.
    let (status, _) = tp
        .delete(&format!("/api/projects/{id}"), Some(&member))
        .await;
    assert_eq!(status, 403, "a project Editor cannot delete the project");
    let (status, body) = tp
        .delete(&format!("/api/projects/{id}"), Some(&admin))
        .await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(count(&tp, "SELECT COUNT(*) AS n FROM experiments").await, 1);
    assert_eq!(count(&tp, "SELECT COUNT(*) AS n FROM design_data").await, 0);
    assert_eq!(
        count(&tp, "SELECT COUNT(*) AS n FROM project_members").await,
        0
    );
    let (status, _) = tp.get(&format!("/api/projects/{id}"), Some(&admin)).await;
    assert_eq!(status, 404);
    let _ = elsewhere;
    tp.finish().await;
}

#[tokio::test]
async fn projects_and_members_work_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set");
        return;
    }
    let tp = TestPlatform::start_with(Backend::Postgres, vec![], |_| {}).await;
    let admin = tp.admin_token().await;
    let (uid, user) = tp.user(&admin, "pg-user", "viewer").await;
    let (status, project) = tp
        .post(
            "/api/projects",
            Some(&admin),
            json!({"name": "PG 50%", "tags": {"k": "v"}}),
        )
        .await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_i64().unwrap();
    insert_experiment(&tp, "EXP-001", Some(id), 1).await;
    let (status, member) = tp
        .post(
            &format!("/api/projects/{id}/members"),
            Some(&admin),
            json!({"user_id": uid, "role": "editor"}),
        )
        .await;
    assert_eq!(status, 201, "{member}");
    let (_, list) = tp.get("/api/projects?search=50%25", Some(&user)).await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["projects"][0]["experiment_count"], 1);
    assert_eq!(list["projects"][0]["member_count"], 2);
    let (_, list) = tp
        .get("/api/projects?my_projects=true&status=active", Some(&user))
        .await;
    assert_eq!(list["total"], 1);
    let (status, list) = tp
        .get(&format!("/api/projects/{id}/experiments"), Some(&user))
        .await;
    assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)));
    let (status, _) = tp
        .patch(
            &format!("/api/projects/{id}"),
            Some(&admin),
            json!({"status": "archived", "end_date": "2026-12-31"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, list) = tp.get("/api/projects", Some(&user)).await;
    assert_eq!(list["total"], 0);
    let (status, _) = tp
        .delete(&format!("/api/projects/{id}"), Some(&admin))
        .await;
    assert_eq!(status, 204);
    assert_eq!(count(&tp, "SELECT COUNT(*) AS n FROM experiments").await, 0);
    tp.finish().await;
}
