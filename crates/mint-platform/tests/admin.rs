//! Users, roles, plugin roles and the admin pages through real HTTP (rbac.md §2, §7;
//! platform-api.md §4.6), plus the platform's user and plugin-role repositories
//! (context-and-data.md §5.3–§5.4).

mod common;

use std::sync::Arc;

use common::{Backend, TestPlatform, postgres_url};
use mint_sdk::PluginMetadata;
use serde_json::{Value, json};

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

fn role_by_slug<'a>(roles: &'a Value, slug: &str) -> &'a Value {
    roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["slug"] == slug)
        .unwrap_or_else(|| panic!("role {slug} in {roles}"))
}

#[tokio::test]
async fn each_system_role_has_exactly_its_permissions_and_they_are_enforced() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (status, roles) = tp.get("/api/admin/roles", Some(&admin)).await;
    assert_eq!(status, 200);
    let (_, catalog) = tp.get("/api/admin/roles/permissions", Some(&admin)).await;
    let catalog: Vec<String> = serde_json::from_value(catalog).unwrap();
    assert_eq!(catalog.len(), 18);
    assert!(catalog.contains(&"platform.view_logs".to_string()));
    let perms = |slug: &str| -> Vec<String> {
        serde_json::from_value(role_by_slug(&roles, slug)["permissions"].clone()).unwrap()
    };
    assert_eq!(perms("admin"), catalog);
    let member = perms("member");
    assert_eq!(member.len(), 15);
    for p in ["users.manage", "platform.configure", "plugins.install"] {
        assert!(!member.contains(&p.to_string()), "{p}");
    }
    assert_eq!(
        perms("viewer"),
        [
            "projects.view",
            "experiments.view",
            "plugins.view",
            "users.view"
        ]
    );
    for slug in ["admin", "member", "viewer"] {
        assert_eq!(role_by_slug(&roles, slug)["is_system"], true);
    }

    let (_, viewer) = tp.user(&admin, "vera", "viewer").await;
    let (_, member) = tp.user(&admin, "mona", "member").await;

    // Viewer: reads, never writes.
    let (status, _) = tp.get("/api/projects", Some(&viewer)).await;
    assert_eq!(status, 200);
    let (status, body) = tp
        .post("/api/projects", Some(&viewer), json!({"name": "P"}))
        .await;
    assert_eq!(status, 403);
    assert_eq!(message(&body), "Missing permission: projects.create");
    assert_eq!(body["code"], "auth.forbidden");
    let (status, body) = tp.get("/api/admin/plugins/x/roles", Some(&viewer)).await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: plugins.configure")
    );

    // Member: creates projects and configures plugins, but no user admin, install or settings.
    let (status, _) = tp
        .post("/api/projects", Some(&member), json!({"name": "P"}))
        .await;
    assert_eq!(status, 201);
    let (status, body) = tp.get("/api/admin/users", Some(&member)).await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: users.manage")
    );
    let (status, body) = tp.get("/api/admin/roles", Some(&member)).await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: users.manage")
    );
    let (status, body) = tp.get("/api/admin/config", Some(&member)).await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: platform.configure")
    );
    let (status, body) = tp
        .post("/api/updates/plugins/some-pkg", Some(&member), json!({}))
        .await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: plugins.install")
    );
    let (status, _) = tp.get("/api/admin/plugins/x/roles", Some(&member)).await;
    assert_eq!(status, 200);
    let (status, _) = tp.get("/api/admin/status", Some(&member)).await;
    assert_eq!(status, 200, "member has platform.view_logs");

    // No token at all: 401.
    let (status, _) = tp.get("/api/admin/users", None).await;
    assert_eq!(status, 401);
    tp.finish().await;
}

#[tokio::test]
async fn a_custom_role_grants_exactly_its_subset() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (status, role) = tp
        .post(
            "/api/admin/roles",
            Some(&admin),
            json!({"name": "Project Clerk", "permissions": ["projects.create", "projects.view", "projects.view"]}),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    assert_eq!(role["slug"], "project-clerk");
    assert_eq!(role["is_system"], false);
    assert_eq!(
        role["permissions"],
        json!(["projects.view", "projects.create"])
    );
    let role_id = role["id"].as_i64().unwrap();

    let (status, body) = tp
        .post(
            "/api/admin/roles",
            Some(&admin),
            json!({"name": "Other", "slug": "Project-Clerk", "permissions": []}),
        )
        .await;
    assert_eq!(status, 409, "slugs compare case-insensitively: {body}");
    let (status, _) = tp
        .post(
            "/api/admin/roles",
            Some(&admin),
            json!({"name": "Admin", "permissions": []}),
        )
        .await;
    assert_eq!(status, 409, "a system slug is taken");
    let (status, body) = tp
        .post(
            "/api/admin/roles",
            Some(&admin),
            json!({"name": "Approver", "permissions": ["experiments.approve"]}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(message(&body).contains("experiments.approve"), "{body}");

    let (clerk_id, clerk) = tp.user(&admin, "clara", "project-clerk").await;
    let (status, me) = tp.get("/api/users/me", Some(&clerk)).await;
    assert_eq!((status, &me["role"]), (200, &json!("project-clerk")));

    // Exactly the subset: create and list projects; nothing else.
    let (status, project) = tp
        .post("/api/projects", Some(&clerk), json!({"name": "Clerk's"}))
        .await;
    assert_eq!(status, 201);
    let (status, list) = tp.get("/api/projects", Some(&clerk)).await;
    assert_eq!((status, list["total"].as_i64()), (200, Some(1)));
    let (status, admin_project) = tp
        .post("/api/projects", Some(&admin), json!({"name": "Admin's"}))
        .await;
    assert_eq!(status, 201);
    let pid = admin_project["id"].as_i64().unwrap();
    let (status, _) = tp.get(&format!("/api/projects/{pid}"), Some(&clerk)).await;
    assert_eq!(status, 200, "projects.view shows every project");
    let (status, body) = tp
        .patch(
            &format!("/api/projects/{pid}"),
            Some(&clerk),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: projects.edit")
    );
    let own = project["id"].as_i64().unwrap();
    let (status, _) = tp
        .patch(
            &format!("/api/projects/{own}"),
            Some(&clerk),
            json!({"name": "mine, renamed"}),
        )
        .await;
    assert_eq!(status, 200, "the creator owns the project");
    let (status, _) = tp.get("/api/admin/users", Some(&clerk)).await;
    assert_eq!(status, 403);
    let (status, _) = tp.get("/api/admin/plugins/x/roles", Some(&clerk)).await;
    assert_eq!(status, 403);

    // The role changes with PUT and takes effect on the next request.
    let (status, updated) = tp
        .put(
            &format!("/api/admin/roles/{role_id}"),
            Some(&admin),
            json!({"name": "Clerk", "permissions": ["projects.view"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["name"], "Clerk");
    assert_eq!(updated["slug"], "project-clerk");
    let (status, _) = tp
        .post("/api/projects", Some(&clerk), json!({"name": "again"}))
        .await;
    assert_eq!(status, 403);

    // System roles cannot change; an assigned role cannot go.
    let (_, roles) = tp.get("/api/admin/roles", Some(&admin)).await;
    let viewer_id = role_by_slug(&roles, "viewer")["id"].as_i64().unwrap();
    let (status, _) = tp
        .put(
            &format!("/api/admin/roles/{viewer_id}"),
            Some(&admin),
            json!({"permissions": []}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = tp
        .delete(&format!("/api/admin/roles/{viewer_id}"), Some(&admin))
        .await;
    assert_eq!(status, 409);
    let (status, body) = tp
        .delete(&format!("/api/admin/roles/{role_id}"), Some(&admin))
        .await;
    assert_eq!(status, 409, "still assigned: {body}");
    let (status, _) = tp
        .patch(
            &format!("/api/admin/users/{clerk_id}"),
            Some(&admin),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = tp
        .delete(&format!("/api/admin/roles/{role_id}"), Some(&admin))
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, _) = tp
        .get(&format!("/api/admin/roles/{role_id}"), Some(&admin))
        .await;
    assert_eq!(status, 404);
    tp.finish().await;
}

#[tokio::test]
async fn a_stored_capitalized_admin_role_counts_as_admin() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (id, token) = tp.user(&admin, "ada", "member").await;
    let store = &tp.platform.store;
    store
        .exec(
            store.connection(),
            "UPDATE users SET role = 'Admin' WHERE id = $1",
            [id.into()],
        )
        .await
        .unwrap();
    let (status, users) = tp.get("/api/admin/users", Some(&token)).await;
    assert_eq!(status, 200, "{users}");
    let ada = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap();
    assert_eq!(ada["role"], "admin", "the wire carries the lowercase slug");

    // A role given by its display name is stored as the slug.
    let (status, created) = tp
        .post(
            "/api/admin/users",
            Some(&admin),
            json!({"username": "bob", "password": "pw-123456", "role": "Admin"}),
        )
        .await;
    assert_eq!((status, &created["role"]), (201, &json!("admin")));
    tp.finish().await;
}

#[tokio::test]
async fn admin_creates_changes_and_deactivates_users() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (status, user) = tp
        .post(
            "/api/admin/users",
            Some(&admin),
            json!({"username": "carol", "password": "pw-123456", "role": "viewer",
                   "email": "carol@example.org", "first_name": "Carol", "shortname": "CA"}),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    for key in [
        "id",
        "username",
        "role",
        "is_active",
        "created_at",
        "updated_at",
        "email",
        "shortname",
        "first_name",
        "last_name",
    ] {
        assert!(user.get(key).is_some(), "{key} in {user}");
    }
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());
    assert_eq!(user["role"], "viewer");
    assert_eq!(user["last_name"], Value::Null);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    let id = user["id"].as_i64().unwrap();

    let (status, body) = tp
        .post(
            "/api/admin/users",
            Some(&admin),
            json!({"username": "carol", "password": "pw-123456", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "CONFLICT");
    let (status, _) = tp
        .post(
            "/api/admin/users",
            Some(&admin),
            json!({"username": "carl", "password": "pw-123456", "role": "viewer",
                   "email": "CAROL@example.org"}),
        )
        .await;
    assert_eq!(status, 409, "e-mail addresses are unique");
    let (status, body) = tp
        .post(
            "/api/admin/users",
            Some(&admin),
            json!({"username": "dave", "password": "pw-123456", "role": "wizard"}),
        )
        .await;
    assert_eq!((status, message(&body)), (422, "Unknown role: wizard"));
    let (status, _) = tp
        .post(
            "/api/admin/users",
            Some(&admin),
            json!({"username": "dave", "password": "short", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = tp
        .post(
            "/api/admin/users",
            Some(&admin),
            json!({"username": "dave", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 422, "password is required");

    let (status, list) = tp.get("/api/admin/users", Some(&admin)).await;
    assert_eq!(status, 200);
    let ids: Vec<i64> = list
        .as_array()
        .expect("a bare array")
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, id]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|u| u.get("password_hash").is_none())
    );

    // Role change and new password.
    let (status, changed) = tp
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"role": "member", "password": "new-password-1", "last_name": "Jones"}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["role"], "member");
    assert_eq!(changed["last_name"], "Jones");
    let token = tp.login("carol", "new-password-1").await;
    let (status, _) = tp
        .post(
            "/api/projects",
            Some(&token),
            json!({"name": "now allowed"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = tp
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"role": "nope"}),
        )
        .await;
    assert_eq!(status, 422);

    // Deactivation locks the account out at once; activation lets it back in.
    let (status, body) = tp
        .post(
            &format!("/api/admin/users/{id}/deactivate"),
            Some(&admin),
            json!(null),
        )
        .await;
    assert_eq!((status, &body["is_active"]), (200, &json!(false)));
    let (status, _) = tp.get("/api/projects", Some(&token)).await;
    assert_eq!(status, 401);
    let (status, _) = tp
        .post(
            "/api/auth/login",
            None,
            json!({"username": "carol", "password": "new-password-1"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = tp
        .post(
            &format!("/api/admin/users/{id}/activate"),
            Some(&admin),
            json!(null),
        )
        .await;
    assert_eq!(status, 200);
    let (status, one) = tp
        .get(&format!("/api/admin/users/{id}"), Some(&admin))
        .await;
    assert_eq!((status, &one["is_active"]), (200, &json!(true)));
    let (status, _) = tp.get("/api/admin/users/999", Some(&admin)).await;
    assert_eq!(status, 404);

    // The last active admin cannot be demoted or deactivated.
    let (status, body) = tp
        .patch(
            "/api/admin/users/1",
            Some(&admin),
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = tp
        .patch(
            "/api/admin/users/1",
            Some(&admin),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = tp
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = tp
        .patch(
            "/api/admin/users/1",
            Some(&admin),
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(status, 200, "another admin exists now");

    // Deleting users is not built: 501 after the permission check.
    let (status, body) = tp
        .delete(&format!("/api/admin/users/{id}"), Some(&token))
        .await;
    assert_eq!(
        (status, &body["code"]),
        (501, &json!("feature.not_implemented"))
    );
    tp.finish().await;
}

#[tokio::test]
async fn plugin_roles_work_through_both_path_forms_and_need_plugins_configure() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (uid, viewer) = tp.user(&admin, "pat", "viewer").await;
    let (uid2, _) = tp.user(&admin, "quinn", "viewer").await;

    let (status, saved) = tp
        .put(
            &format!("/api/admin/plugins/peak-picking/roles/{uid}"),
            Some(&admin),
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["plugin_id"], "peak-picking");
    assert_eq!(saved["user_id"], uid);
    assert_eq!(saved["role"], "editor");
    let first_id = saved["id"].clone();
    let created_at = saved["created_at"].clone();

    // Upsert through the alias keeps id and created_at.
    let (status, again) = tp
        .put(
            &format!("/api/admin/plugin-roles/peak-picking/{uid}"),
            Some(&admin),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], first_id);
    assert_eq!(again["created_at"], created_at);
    assert_eq!(again["role"], "admin");
    let (status, _) = tp
        .post(
            "/api/admin/plugin-roles/peak-picking",
            Some(&admin),
            json!({"user_id": uid2, "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, _) = tp
        .put(
            &format!("/api/admin/plugins/other/roles/{uid}"),
            Some(&admin),
            json!({"role": "viewer"}),
        )
        .await;

    for path in [
        "/api/admin/plugins/peak-picking/roles",
        "/api/admin/plugin-roles/peak-picking",
    ] {
        let (status, list) = tp.get(path, Some(&admin)).await;
        assert_eq!(status, 200);
        let pairs: Vec<(i64, String)> = list
            .as_array()
            .expect("a bare array")
            .iter()
            .map(|r| {
                (
                    r["user_id"].as_i64().unwrap(),
                    r["role"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(pairs, vec![(uid, "admin".into()), (uid2, "viewer".into())]);
    }
    let (status, one) = tp
        .get(
            &format!("/api/admin/plugin-roles/peak-picking/{uid2}"),
            Some(&admin),
        )
        .await;
    assert_eq!((status, &one["role"]), (200, &json!("viewer")));
    let (status, mine) = tp
        .get(
            &format!("/api/admin/users/{uid}/plugin-roles"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200);
    let plugins: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["plugin_id"].as_str().unwrap())
        .collect();
    assert_eq!(plugins, vec!["other", "peak-picking"]);

    // Errors and guards.
    let (status, _) = tp
        .put(
            "/api/admin/plugins/peak-picking/roles/999",
            Some(&admin),
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(status, 404, "unknown user");
    let (status, _) = tp
        .put(
            &format!("/api/admin/plugins/peak-picking/roles/{uid}"),
            Some(&admin),
            json!({"role": "  "}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, body) = tp
        .put(
            &format!("/api/admin/plugins/peak-picking/roles/{uid}"),
            Some(&viewer),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(
        (status, message(&body)),
        (403, "Missing permission: plugins.configure")
    );
    let (status, _) = tp
        .get(
            &format!("/api/admin/users/{uid}/plugin-roles"),
            Some(&viewer),
        )
        .await;
    assert_eq!(status, 403);

    // users.manage alone does not grant plugin roles.
    let (status, _) = tp
        .post(
            "/api/admin/roles",
            Some(&admin),
            json!({"name": "User Admin", "permissions": ["users.manage"]}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, user_admin) = tp.user(&admin, "uma", "user-admin").await;
    let (status, _) = tp.get("/api/admin/users", Some(&user_admin)).await;
    assert_eq!(status, 200);
    let (status, _) = tp
        .get("/api/admin/plugin-roles/peak-picking", Some(&user_admin))
        .await;
    assert_eq!(status, 403);

    // DELETE through both forms; idempotent.
    let (status, body) = tp
        .delete(
            &format!("/api/admin/plugins/peak-picking/roles/{uid}"),
            Some(&admin),
        )
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, _) = tp
        .delete(
            &format!("/api/admin/plugin-roles/peak-picking/{uid2}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = tp
        .delete(
            &format!("/api/admin/plugin-roles/peak-picking/{uid2}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 204);
    let (_, list) = tp
        .get("/api/admin/plugins/peak-picking/roles", Some(&admin))
        .await;
    assert_eq!(list, json!([]));
    let (status, _) = tp
        .get(
            &format!("/api/admin/plugin-roles/peak-picking/{uid2}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 404);
    tp.finish().await;
}

#[tokio::test]
async fn admin_pages_answer_or_say_not_implemented_after_the_permission_check() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (_, viewer) = tp.user(&admin, "val", "viewer").await;
    let (status, body) = tp.get("/api/admin/status", Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(body["total_users"], 2);
    assert_eq!(body["auth_enabled"], true);
    let (status, body) = tp.get("/api/admin/system", Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(body["resources"]["database"]["mode"], "sqlite");
    assert_eq!(body["errors"], json!([]));
    let (status, config) = tp.get("/api/admin/config", Some(&admin)).await;
    assert_eq!(status, 200);
    let text = config.to_string();
    assert!(!text.contains("test-secret-test-secret"), "{text}");
    assert!(config.is_object());

    for (method, path, permission) in [
        ("POST", "/api/admin/restart", "platform.configure"),
        ("GET", "/api/admin/logs", "platform.view_logs"),
        ("GET", "/api/admin/logs/config", "platform.view_logs"),
        ("GET", "/api/updates/check", "plugins.view"),
        ("POST", "/api/updates/install-github", "plugins.install"),
        ("POST", "/api/updates/platform", "platform.configure"),
    ] {
        let method: reqwest::Method = method.parse().unwrap();
        let (status, body) = tp
            .call(method.clone(), path, Some(&admin), Some(json!({})))
            .await;
        assert_eq!(status, 501, "{path}");
        assert_eq!(body["code"], "feature.not_implemented", "{path}");
        if permission != "plugins.view" {
            let (status, body) = tp.call(method, path, Some(&viewer), Some(json!({}))).await;
            assert_eq!(status, 403, "{path}");
            assert_eq!(message(&body), format!("Missing permission: {permission}"));
        }
    }
    let (status, me) = tp.get("/api/users/me", Some(&viewer)).await;
    assert_eq!((status, &me["username"]), (200, &json!("val")));
    tp.finish().await;
}

#[tokio::test]
async fn plugin_role_repository_refuses_foreign_plugins_and_keeps_ids() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (uid, _) = tp.user(&admin, "rita", "member").await;
    let weak = Arc::downgrade(&tp.platform);
    let meta = PluginMetadata::new("Peak Picker", "1.0.0", "d", "metabolomics", "/peaks");
    let repo = mint_platform::repos::plugin_role_repository(weak.clone(), &meta);

    let first = repo.set_role("Peak Picker", uid, "editor").await.unwrap();
    let second = repo.set_role("Peak Picker", uid, "viewer").await.unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(first.created_at, second.created_at);
    assert_eq!(second.role, "viewer");
    assert_eq!(
        repo.get_role("Peak Picker", uid).await.unwrap().as_deref(),
        Some("viewer")
    );
    assert_eq!(repo.get_role("Peak Picker", 1).await.unwrap(), None);
    repo.set_role("Peak Picker", 1, "admin").await.unwrap();
    let listed: Vec<i64> = repo
        .list_plugin_roles("Peak Picker")
        .await
        .unwrap()
        .iter()
        .map(|r| r.user_id)
        .collect();
    assert_eq!(listed, vec![1, uid]);

    // Another plugin's role is invisible to this one's list_user_roles.
    let (status, _) = tp
        .put(
            &format!("/api/admin/plugins/other/roles/{uid}"),
            Some(&admin),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(status, 200);
    let own = repo.list_user_roles(uid).await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].plugin_id, "Peak Picker");

    for err in [
        repo.get_role("other", uid).await.unwrap_err(),
        repo.set_role("other", uid, "x").await.unwrap_err(),
        repo.remove_role("other", uid).await.unwrap_err(),
        repo.list_plugin_roles("other").await.unwrap_err(),
    ] {
        assert!(err.is_permission(), "{err:?}");
        assert_eq!(err.status(), 403);
        let details = err.details();
        assert_eq!(details["required_permission"], "plugin_roles.self");
        assert_eq!(details["requested_plugin_id"], "other");
        assert_eq!(details["own_plugin_id"], "Peak Picker");
    }
    let err = repo.set_role("Peak Picker", 999, "x").await.unwrap_err();
    assert_eq!(err.status(), 404);
    assert!(repo.remove_role("Peak Picker", uid).await.unwrap());
    assert!(!repo.remove_role("Peak Picker", uid).await.unwrap());

    // The user repository: exact usernames, id order, no hashes.
    let users = mint_platform::repos::user_repository(weak);
    assert_eq!(
        users.get_by_username("rita").await.unwrap().unwrap().id,
        uid
    );
    assert!(users.get_by_username("RITA").await.unwrap().is_none());
    assert_eq!(users.get_by_id(1).await.unwrap().unwrap().username, "admin");
    assert!(users.get_by_id(999).await.unwrap().is_none());
    let all: Vec<i64> = users
        .list_all(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(all, vec![1, uid]);
    let page: Vec<i64> = users
        .list_all(1, 1)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(page, vec![uid]);
    tp.finish().await;
}

#[tokio::test]
async fn users_roles_and_plugin_roles_work_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set");
        return;
    }
    let tp = TestPlatform::start_with(Backend::Postgres, vec![], |_| {}).await;
    let admin = tp.admin_token().await;
    let (status, role) = tp
        .post(
            "/api/admin/roles",
            Some(&admin),
            json!({"name": "Reader", "permissions": ["projects.view"]}),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    let (uid, reader) = tp.user(&admin, "rex", "reader").await;
    let (status, users) = tp.get("/api/admin/users", Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(users[1]["role"], "reader");
    let (status, _) = tp
        .post("/api/projects", Some(&reader), json!({"name": "x"}))
        .await;
    assert_eq!(status, 403);
    let (status, _) = tp
        .post(
            "/api/admin/users",
            Some(&admin),
            json!({"username": "rex", "password": "pw-123456", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, first) = tp
        .put(
            &format!("/api/admin/plugin-roles/p/{uid}"),
            Some(&admin),
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let (_, second) = tp
        .put(
            &format!("/api/admin/plugins/p/roles/{uid}"),
            Some(&admin),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(first["id"], second["id"]);
    let (status, _) = tp
        .patch(
            &format!("/api/admin/users/{uid}"),
            Some(&admin),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = tp.get("/api/projects", Some(&reader)).await;
    assert_eq!(status, 401);
    tp.finish().await;
}
