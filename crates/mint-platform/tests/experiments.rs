//! Experiments, collaborators, design data, results, save hooks and the plugin-facing
//! repositories through real HTTP (platform-api.md §4.2–4.3, rbac.md §4–§6,
//! context-and-data.md §5.1–5.2).

mod common;

use std::sync::{Arc, Mutex, Weak};

use common::{Backend, TestPlatform, postgres_url};
use mint_platform::Platform;
use mint_sdk::repositories::{ExperimentFilter, ExperimentUpdate, NewExperiment};
use mint_sdk::{
    AnalysisPlugin, JsonObject, LifecycleHookResult, PluginCore, PluginError, PluginMetadata,
    PluginType,
};
use serde_json::{Value, json};

// ----- helpers -----------------------------------------------------------------------------------

/// Inserts a project directly.
async fn add_project(tp: &TestPlatform, name: &str) -> i64 {
    let store = &tp.platform.store;
    store
        .insert(
            store.connection(),
            "INSERT INTO projects (name, status, created_at, updated_at) \
             VALUES ($1, 'active', $2, $2) RETURNING id",
            [name.into(), mint_platform::store::now_text().into()],
        )
        .await
        .expect("insert project")
}

/// Makes `user` a member of `project` with `role`.
async fn add_member(tp: &TestPlatform, project: i64, user: i64, role: &str) {
    let store = &tp.platform.store;
    store
        .exec(
            store.connection(),
            "INSERT INTO project_members (project_id, user_id, role, created_at) \
             VALUES ($1, $2, $3, $4)",
            [
                project.into(),
                user.into(),
                role.into(),
                mint_platform::store::now_text().into(),
            ],
        )
        .await
        .expect("insert member");
}

async fn create(tp: &TestPlatform, token: &str, body: Value) -> Value {
    let (status, created) = tp.post("/api/experiments", Some(token), body).await;
    assert_eq!(status, 201, "{created}");
    created
}

fn ids(list: &Value) -> Vec<i64> {
    list["experiments"]
        .as_array()
        .expect("experiments array")
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

/// A plugin that records its hooks, vetoes saves of experiments named `VETO…`, and has its own
/// summary export.
struct HookPlugin {
    core: PluginCore,
    name: String,
    plugin_type: PluginType,
    calls: Arc<Mutex<Vec<String>>>,
}

impl HookPlugin {
    fn new(name: &str, plugin_type: PluginType) -> Arc<Self> {
        Arc::new(Self {
            core: PluginCore::new(),
            name: name.into(),
            plugin_type,
            calls: Arc::default(),
        })
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

#[mint_sdk::async_trait]
impl AnalysisPlugin for HookPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(
            self.name.clone(),
            "0.1.0",
            format!("{} for tests", self.name),
            "testing",
            format!("/{}", self.name),
        )
        .with_plugin_type(self.plugin_type)
    }

    fn routers(self: Arc<Self>) -> Vec<(mint_sdk::axum::Router, String)> {
        Vec::new()
    }

    async fn on_before_experiment_save(
        &self,
        experiment_id: i64,
        data: &JsonObject,
    ) -> Result<LifecycleHookResult, PluginError> {
        self.record(format!("before:{experiment_id}"));
        let name = data.get("name").and_then(Value::as_str).unwrap_or("");
        if name.starts_with("VETO") {
            return Ok(LifecycleHookResult::veto(
                "Names starting with VETO are refused",
            ));
        }
        Ok(LifecycleHookResult::default())
    }

    async fn on_after_experiment_save(
        &self,
        experiment_id: i64,
        _data: &JsonObject,
    ) -> Result<(), PluginError> {
        self.record(format!("after:{experiment_id}"));
        Ok(())
    }

    async fn on_experiment_status_change(
        &self,
        experiment_id: i64,
        old_status: &str,
        new_status: &str,
    ) -> Result<(), PluginError> {
        self.record(format!("status:{experiment_id}:{old_status}->{new_status}"));
        Ok(())
    }

    fn export_summary(&self, data: &JsonObject) -> Value {
        json!({"metadata": {"exported_by": self.name, "keys": data.len()}, "sections": []})
    }
}

// ----- list, create, literal routes ---------------------------------------------------------------

/// Create, list filters/paging/sort/total, and the literal routes, on `backend`.
async fn create_and_list_flow(backend: Backend) {
    let design = HookPlugin::new("hook-design", PluginType::ExperimentDesign);
    let tp = TestPlatform::start_with(backend, vec![design.clone()], |_| {}).await;
    let admin = tp.admin_token().await;

    let (status, seq) = tp
        .get(
            "/api/experiments/naming/next-seq?experiment_type=custom",
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200, "{seq}");
    assert_eq!(
        seq,
        json!({"experiment_type": "custom", "next_seq": 1, "code": "EXP-001"})
    );

    let first = create(
        &tp,
        &admin,
        json!({"name": "TCA cycle run", "notes": "glucose"}),
    )
    .await;
    assert_eq!(first["experiment_code"], "EXP-001");
    assert_eq!(first["status"], "planned");
    assert_eq!(first["experiment_type"], "custom");
    assert_eq!(first["created_by"], 1);
    assert_eq!(first["has_design_data"], false);
    assert_eq!(first["design_owner_plugin_id"], Value::Null);
    assert_eq!(first["tags"], json!({}));
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["project"], Value::Null);
    assert_eq!(
        design.calls(),
        vec![
            format!("before:{}", first["id"]),
            format!("after:{}", first["id"])
        ]
    );

    let project = add_project(&tp, "Metabolomics").await;
    let second = create(
        &tp,
        &admin,
        json!({"name": "Lipids", "experiment_type": "hook-design", "project_id": project,
               "tags": {"k": "v"}}),
    )
    .await;
    assert_eq!(second["experiment_code"], "EXP-002");
    assert_eq!(second["project"], "Metabolomics");
    assert_eq!(second["project_id"], project);
    let third = create(
        &tp,
        &admin,
        json!({"name": "Amino acids", "notes": "Contains tca notes"}),
    )
    .await;
    let (status, _) = tp
        .patch(
            &format!("/api/experiments/{}", third["id"]),
            Some(&admin),
            json!({"status": "ongoing"}),
        )
        .await;
    assert_eq!(status, 200);

    // The peek does not take a code.
    let (_, seq) = tp
        .get("/api/experiments/naming/next-seq", Some(&admin))
        .await;
    assert_eq!(seq["next_seq"], 4);
    let (_, seq) = tp
        .get("/api/experiments/naming/next-seq", Some(&admin))
        .await;
    assert_eq!(seq["code"], "EXP-004");

    let (a, b, c) = (
        first["id"].as_i64().unwrap(),
        second["id"].as_i64().unwrap(),
        third["id"].as_i64().unwrap(),
    );
    let (status, all) = tp.get("/api/experiments", Some(&admin)).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"], 3);
    assert_eq!(ids(&all), vec![c, b, a], "default order is created_at desc");

    let project_filter = format!("project_id={project}");
    let cases: Vec<(&str, Vec<i64>, u64)> = vec![
        ("status=ongoing", vec![c], 1),
        ("experiment_type=hook-design", vec![b], 1),
        (&project_filter, vec![b], 1),
        ("search=tca", vec![c, a], 2),
        ("search=EXP-002", vec![b], 1),
        ("search=GLUCOSE", vec![a], 1),
        ("mine=true&sort_by=id&sort_order=asc", vec![a, b, c], 3),
        ("sort_by=name&sort_order=asc", vec![c, b, a], 3),
        ("sort_by=id&sort_order=asc&skip=1&limit=1", vec![b], 3),
        (
            "created_after=2000-01-01&sort_by=id&sort_order=asc",
            vec![a, b, c],
            3,
        ),
        ("created_before=2000-01-01", vec![], 0),
        ("created_after=2999-01-01T00:00:00Z", vec![], 0),
    ];
    for (query, expected, total) in cases {
        let (status, list) = tp
            .get(&format!("/api/experiments?{query}"), Some(&admin))
            .await;
        assert_eq!(status, 200, "{query}: {list}");
        assert_eq!(ids(&list), expected, "{query}");
        assert_eq!(list["total"], total, "{query}");
    }

    for bad in [
        "limit=5000",
        "sort_by=colour",
        "sort_order=sideways",
        "created_after=yesterday",
        "skip=-1",
    ] {
        let (status, body) = tp
            .get(&format!("/api/experiments?{bad}"), Some(&admin))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["code"], "validation.request", "{bad}");
    }
    let (_, body) = tp.get("/api/experiments?limit=5000", Some(&admin)).await;
    assert_eq!(body["details"][0]["field"], "limit");

    let (status, types) = tp
        .get("/api/experiments/experiment-types", Some(&admin))
        .await;
    assert_eq!(status, 200, "{types}");
    let keys: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["custom", "hook-design"]);
    assert_eq!(types[1]["plugin_id"], "hook-design");
    assert_eq!(types[1]["label"], "Hook Design");

    let (status, _) = tp.get("/api/experiments", None).await;
    assert_eq!(status, 401);
    let (status, body) = tp.get("/api/experiments/999", Some(&admin)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("resource.not_found"))
    );

    let (status, _) = tp
        .delete(&format!("/api/experiments/{a}"), Some(&admin))
        .await;
    assert_eq!(status, 204);
    let (status, _) = tp.get(&format!("/api/experiments/{a}"), Some(&admin)).await;
    assert_eq!(status, 404);
    tp.finish().await;
}

#[tokio::test]
async fn create_list_filters_paging_sort_and_literal_routes() {
    create_and_list_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn create_and_list_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set");
        return;
    }
    create_and_list_flow(Backend::Postgres).await;
}

// ----- status rules ----------------------------------------------------------------------------

async fn status_flow(backend: Backend) {
    let hooks = HookPlugin::new("hook-analysis", PluginType::Analysis);
    let tp = TestPlatform::start_with(backend, vec![hooks.clone()], |_| {}).await;
    let admin = tp.admin_token().await;
    let (_, member) = tp.add_user("mia", "member").await;
    let exp = create(&tp, &member, json!({"name": "Run"})).await;
    let path = format!("/api/experiments/{}", exp["id"]);
    let id = exp["id"].as_i64().unwrap();

    let (status, body) = tp
        .patch(&path, Some(&member), json!({"status": "ongoing"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ongoing");
    assert!(
        hooks
            .calls()
            .contains(&format!("status:{id}:planned->ongoing"))
    );

    let (status, body) = tp
        .patch(&path, Some(&member), json!({"status": "planned"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "VALIDATION_ERROR");
    assert_eq!(body["details"]["field"], "status");
    let (status, body) = tp
        .patch(&path, Some(&member), json!({"status": "done"}))
        .await;
    assert_eq!((status, &body["details"]["field"]), (400, &json!("status")));

    let (status, _) = tp
        .patch(&path, Some(&member), json!({"status": "completed"}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = tp
        .patch(&path, Some(&member), json!({"notes": "late"}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["message"], "Experiment is completed");
    let (status, _) = tp
        .patch(&path, Some(&member), json!({"status": "ongoing"}))
        .await;
    assert_eq!(status, 403, "members cannot reopen");
    let (status, _) = tp.delete(&path, Some(&member)).await;
    assert_eq!(status, 403, "members cannot delete a completed experiment");

    let (status, body) = tp
        .patch(&path, Some(&admin), json!({"status": "ongoing"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ongoing");
    assert!(
        hooks
            .calls()
            .contains(&format!("status:{id}:completed->ongoing"))
    );

    // planned → completed directly is allowed; PATCH fields and null clears.
    let other = create(&tp, &member, json!({"name": "Other", "notes": "n"})).await;
    let other_path = format!("/api/experiments/{}", other["id"]);
    let (status, body) = tp
        .patch(
            &other_path,
            Some(&member),
            json!({"status": "completed", "notes": null, "start_date": "2026-05-01",
                   "custom_metadata": {"a": 1}, "parent_experiment_id": id}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["notes"], Value::Null);
    assert_eq!(body["start_date"], "2026-05-01");
    assert_eq!(body["custom_metadata"], json!({"a": 1}));
    assert_eq!(body["parent_experiment_id"], id);
    tp.finish().await;
}

#[tokio::test]
async fn status_transitions_and_completed_experiments() {
    status_flow(Backend::Sqlite).await;
}

// ----- visibility and rights ---------------------------------------------------------------------

async fn visibility_flow(backend: Backend) {
    let tp = TestPlatform::start_with(backend, vec![], |_| {}).await;
    let admin = tp.admin_token().await;
    let (alice_id, alice) = tp.add_user("alice", "member").await;
    let (_, bob) = tp.add_user("bob", "member").await;
    let (vera_id, vera) = tp.add_user("vera", "viewer").await;
    let project = add_project(&tp, "Alice's project").await;
    add_member(&tp, project, alice_id, "owner").await;

    let hidden = create(
        &tp,
        &alice,
        json!({"name": "Secret", "project_id": project}),
    )
    .await;
    let open = create(&tp, &alice, json!({"name": "Open"})).await;
    let hidden_path = format!("/api/experiments/{}", hidden["id"]);

    let (_, list) = tp.get("/api/experiments", Some(&bob)).await;
    assert_eq!(ids(&list), vec![open["id"].as_i64().unwrap()]);
    assert_eq!(list["total"], 1);
    let (_, list) = tp.get("/api/experiments", Some(&admin)).await;
    assert_eq!(list["total"], 2);
    for sub in [
        "",
        "/data",
        "/results",
        "/collaborators",
        "/objects",
        "/analysis-artifacts",
    ] {
        let (status, body) = tp.get(&format!("{hidden_path}{sub}"), Some(&bob)).await;
        assert_eq!(status, 404, "{sub}: {body}");
        assert_eq!(body["code"], "resource.not_found");
    }
    let (status, _) = tp
        .patch(&hidden_path, Some(&bob), json!({"name": "x"}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = tp.get(&hidden_path, Some(&alice)).await;
    assert_eq!(status, 200);

    // A viewer cannot create, not even in a project it does not edit.
    let (status, body) = tp
        .post("/api/experiments", Some(&vera), json!({"name": "No"}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["message"], "Missing permission: experiments.create");

    // Collaborators: owner rights to change, visibility to read.
    let collab = format!("{hidden_path}/collaborators/{vera_id}");
    let (status, _) = tp.put(&collab, Some(&bob), json!({"role": "viewer"})).await;
    assert_eq!(status, 404, "bob cannot see the experiment");
    let (status, body) = tp.put(&collab, Some(&alice), json!({"role": "boss"})).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = tp
        .put(
            &format!("{hidden_path}/collaborators/9999"),
            Some(&alice),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = tp
        .put(&collab, Some(&alice), json!({"role": "viewer"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"user_id": vera_id, "username": "vera", "role": "viewer"})
    );

    let (status, body) = tp.get(&hidden_path, Some(&vera)).await;
    assert_eq!(status, 200, "a viewer collaborator reads: {body}");
    let (_, list) = tp.get("/api/experiments", Some(&vera)).await;
    assert_eq!(list["total"], 2);
    let (status, list) = tp
        .get(&format!("{hidden_path}/collaborators"), Some(&vera))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!([{"user_id": vera_id, "username": "vera", "role": "viewer"}])
    );
    let (status, _) = tp
        .patch(&hidden_path, Some(&vera), json!({"name": "x"}))
        .await;
    assert_eq!(status, 403, "a viewer collaborator cannot edit");
    let (status, _) = tp.put(&collab, Some(&vera), json!({"role": "owner"})).await;
    assert_eq!(
        status, 403,
        "a viewer collaborator cannot change collaborators"
    );

    // An editor collaborator (system viewer) may edit; an owner collaborator may delete.
    let (status, _) = tp
        .put(&collab, Some(&alice), json!({"role": "editor"}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = tp
        .patch(&hidden_path, Some(&vera), json!({"notes": "checked"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = tp.delete(&collab, Some(&alice)).await;
    assert_eq!(status, 204);
    let (status, _) = tp.get(&hidden_path, Some(&vera)).await;
    assert_eq!(status, 404, "gone with the collaboration");

    // A system viewer who is project Editor may create in that project only.
    add_member(&tp, project, vera_id, "editor").await;
    let (status, body) = tp
        .post(
            "/api/experiments",
            Some(&vera),
            json!({"name": "In project", "project_id": project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    tp.finish().await;
}

#[tokio::test]
async fn visibility_collaborators_and_create_rights() {
    visibility_flow(Backend::Sqlite).await;
}

// ----- design data, exports, results ------------------------------------------------------------

async fn design_data_flow(backend: Backend) {
    let design = HookPlugin::new("hook-design", PluginType::ExperimentDesign);
    let tp = TestPlatform::start_with(backend, vec![design.clone()], |_| {}).await;
    let admin = tp.admin_token().await;
    let exp = create(&tp, &admin, json!({"name": "Designed"})).await;
    let base = format!("/api/experiments/{}", exp["id"]);

    let (status, _) = tp.get(&format!("{base}/data"), Some(&admin)).await;
    assert_eq!(status, 404);
    let data =
        json!({"plate": "P1", "samples": [{"name": "s1", "conc": 1.5}, {"name": "s2", "conc": 2}]});
    let (status, saved) = tp
        .put(
            &format!("{base}/data"),
            Some(&admin),
            json!({"plugin_id": "hook-design", "data": data, "schema_version": "2.0"}),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["plugin_id"], "hook-design");
    assert_eq!(saved["schema_version"], "2.0");
    let (status, again) = tp
        .put(
            &format!("{base}/data"),
            Some(&admin),
            json!({"plugin_id": "hook-design", "data": data}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], saved["id"], "upsert keeps the id");
    assert_eq!(again["created_at"], saved["created_at"]);
    assert_eq!(again["schema_version"], "1.0");
    let (_, got) = tp.get(&format!("{base}/data"), Some(&admin)).await;
    assert_eq!(got["data"], data);
    let (_, exp_now) = tp.get(&base, Some(&admin)).await;
    assert_eq!(exp_now["has_design_data"], true);
    assert_eq!(exp_now["design_owner_plugin_id"], "hook-design");

    let (status, body) = tp
        .put(
            &format!("{base}/data"),
            Some(&admin),
            json!({"plugin_id": "someone-else", "data": {}}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "DESIGN_DATA_OWNERSHIP_CONFLICT");
    assert_eq!(body["details"]["current_owner_plugin_id"], "hook-design");

    let (status, tree) = tp.get(&format!("{base}/data/tree"), Some(&admin)).await;
    assert_eq!(status, 200, "{tree}");
    assert_eq!(tree["plugin_id"], "hook-design");
    assert_eq!(tree["experiment_id"], exp["id"]);
    assert!(tree["tree"].as_array().is_some_and(|t| !t.is_empty()));
    let (_, summary) = tp.get(&format!("{base}/data/summary"), Some(&admin)).await;
    assert_eq!(
        summary["metadata"]["exported_by"], "hook-design",
        "the owner's export"
    );

    let (status, exported) = tp.get(&format!("{base}/data/export"), Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(exported, data);
    let response = tp
        .client
        .get(tp.at(&format!("{base}/data/export?format=csv")))
        .bearer_auth(&admin)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let csv: Value = response.json().await.unwrap();
    let csv = csv.as_str().expect("CSV as a JSON string").to_string();
    assert!(csv.contains("s1"), "{csv}");
    let response = tp
        .client
        .get(tp.at(&format!("{base}/data/export?format=csv")))
        .bearer_auth(&admin)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(response.text().await.unwrap(), csv);
    let (status, _) = tp
        .get(&format!("{base}/data/export?format=xml"), Some(&admin))
        .await;
    assert_eq!(status, 422);

    // Results.
    let (status, body) = tp.get(&format!("{base}/results"), Some(&admin)).await;
    assert_eq!((status, body), (200, json!({"results": []})));
    let (status, saved) = tp
        .put(
            &format!("{base}/results/peaks"),
            Some(&admin),
            json!({"result": {"n_peaks": 3, "table": []}}),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["result_keys"], json!(["n_peaks", "table"]));
    let (_, one) = tp.get(&format!("{base}/results/peaks"), Some(&admin)).await;
    assert_eq!(one["result"]["n_peaks"], 3);
    let (_, list) = tp.get(&format!("{base}/results"), Some(&admin)).await;
    assert_eq!(list["results"][0]["plugin_id"], "peaks");
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    let (status, _) = tp
        .delete(&format!("{base}/results/peaks"), Some(&admin))
        .await;
    assert_eq!(status, 204);
    let (status, _) = tp.get(&format!("{base}/results/peaks"), Some(&admin)).await;
    assert_eq!(status, 404);

    for path in [
        "analysis-artifacts",
        "objects",
        "objects/a/b.txt",
        "analysis-artifacts/p/k",
    ] {
        let (status, body) = tp.get(&format!("{base}/{path}"), Some(&admin)).await;
        assert_eq!(status, 501, "{path}");
        assert_eq!(body["code"], "feature.not_implemented");
    }

    // A viewer reads but cannot write data.
    let (_, vera) = tp.add_user("vera", "viewer").await;
    let (status, _) = tp.get(&format!("{base}/data"), Some(&vera)).await;
    assert_eq!(status, 200);
    let (status, _) = tp
        .put(
            &format!("{base}/results/peaks"),
            Some(&vera),
            json!({"result": {}}),
        )
        .await;
    assert_eq!(status, 403);

    let (status, _) = tp.delete(&format!("{base}/data"), Some(&admin)).await;
    assert_eq!(status, 204);
    let (status, _) = tp.get(&format!("{base}/data/tree"), Some(&admin)).await;
    assert_eq!(status, 404);
    tp.finish().await;
}

#[tokio::test]
async fn design_data_exports_and_results() {
    design_data_flow(Backend::Sqlite).await;
}

// ----- hooks -------------------------------------------------------------------------------------

async fn veto_flow(backend: Backend) {
    let hooks = HookPlugin::new("hook-analysis", PluginType::Analysis);
    let tp = TestPlatform::start_with(backend, vec![hooks.clone()], |_| {}).await;
    let admin = tp.admin_token().await;

    let (status, body) = tp
        .post("/api/experiments", Some(&admin), json!({"name": "VETO me"}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "EVENT_VETO");
    assert_eq!(body["status"], 409);
    assert_eq!(body["message"], "Names starting with VETO are refused");
    let (_, list) = tp.get("/api/experiments", Some(&admin)).await;
    assert_eq!(list["total"], 0, "nothing stored");
    let calls = hooks.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].starts_with("before:"));
    let (_, seq) = tp
        .get("/api/experiments/naming/next-seq", Some(&admin))
        .await;
    assert_eq!(seq["code"], "EXP-001", "the vetoed code was not used");

    let exp = create(&tp, &admin, json!({"name": "Fine"})).await;
    assert_eq!(exp["experiment_code"], "EXP-001");
    let path = format!("/api/experiments/{}", exp["id"]);
    let before = hooks.calls().len();
    let (status, body) = tp
        .patch(
            &path,
            Some(&admin),
            json!({"name": "VETO rename", "status": "ongoing"}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("EVENT_VETO")));
    let (_, still) = tp.get(&path, Some(&admin)).await;
    assert_eq!(still["name"], "Fine");
    assert_eq!(still["status"], "planned");
    assert_eq!(
        still["updated_at"], exp["updated_at"],
        "the update was rolled back"
    );
    let after: Vec<String> = hooks.calls()[before..].to_vec();
    assert_eq!(
        after,
        vec![format!("before:{}", exp["id"])],
        "no after-save, no status hook"
    );
    tp.finish().await;
}

#[tokio::test]
async fn before_save_veto_stores_nothing_and_skips_after_save() {
    veto_flow(Backend::Sqlite).await;
}

// ----- repositories --------------------------------------------------------------------------------

fn repos(
    platform: &Arc<Platform>,
    plugin: &dyn AnalysisPlugin,
) -> (
    Arc<dyn mint_sdk::repositories::ExperimentRepository>,
    Arc<dyn mint_sdk::repositories::PluginDataRepository>,
) {
    let weak: Weak<Platform> = Arc::downgrade(platform);
    let meta = plugin.metadata();
    (
        mint_platform::repos::experiment_repository(weak.clone(), &meta),
        mint_platform::repos::plugin_data_repository(weak, &meta),
    )
}

async fn repositories_flow(backend: Backend) {
    let design = HookPlugin::new("hook-design", PluginType::ExperimentDesign);
    let other_design = HookPlugin::new("other-design", PluginType::ExperimentDesign);
    let analysis = HookPlugin::new("hook-analysis", PluginType::Analysis);
    let tp = TestPlatform::start_with(
        backend,
        vec![design.clone(), other_design.clone(), analysis.clone()],
        |_| {},
    )
    .await;
    let (design_exps, design_data) = repos(&tp.platform, design.as_ref());
    let (_, other_data) = repos(&tp.platform, other_design.as_ref());
    let (analysis_exps, analysis_data) = repos(&tp.platform, analysis.as_ref());
    add_project(&tp, "Lipidomics").await;

    let err = analysis_exps
        .create(NewExperiment {
            name: "x".into(),
            experiment_type: "custom".into(),
            ..Default::default()
        })
        .await
        .expect_err("analysis plugins cannot create");
    assert!(err.is_permission());
    assert_eq!(err.status().as_u16(), 403);
    assert_eq!(err.details()["required_permission"], "experiment:write");
    assert!(analysis_exps.delete(1).await.unwrap_err().is_permission());
    assert!(
        analysis_exps
            .update(1, ExperimentUpdate::default())
            .await
            .unwrap_err()
            .is_permission()
    );

    let created = design_exps
        .create(NewExperiment {
            name: "From plugin".into(),
            experiment_type: "hook-design".into(),
            project: Some("Lipidomics".into()),
            notes: Some("TCA notes".into()),
            ..Default::default()
        })
        .await
        .expect("design plugins create");
    assert_eq!(created.status, "planned");
    assert_eq!(created.project.as_deref(), Some("Lipidomics"));
    assert!(created.tags.is_empty());
    assert_eq!(created.created_at, created.updated_at);
    assert!(
        analysis.calls().contains(&format!("after:{}", created.id)),
        "hooks fire"
    );
    let second = design_exps
        .create(NewExperiment {
            name: "tca second".into(),
            experiment_type: "hook-design".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let vetoed = design_exps
        .create(NewExperiment {
            name: "VETO".into(),
            experiment_type: "x".into(),
            ..Default::default()
        })
        .await
        .expect_err("vetoed");
    assert_eq!(vetoed.code(), "EVENT_VETO");

    let (page, total) = design_exps
        .list_all(ExperimentFilter {
            search: Some("tca".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, created.id, "ordered by id");
    let (page, total) = analysis_exps
        .list_all(ExperimentFilter {
            project: Some("Lipidomics".into()),
            status: Some(String::new()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 1));

    let updated = design_exps
        .update(
            second.id,
            ExperimentUpdate {
                status: Some("ongoing".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(updated.status, "ongoing");
    assert_eq!(updated.name, "tca second");
    assert!(
        analysis
            .calls()
            .contains(&format!("status:{}:planned->ongoing", second.id))
    );
    assert!(
        design_exps
            .update(9999, ExperimentUpdate::default())
            .await
            .unwrap()
            .is_none()
    );
    let bad = design_exps
        .update(
            second.id,
            ExperimentUpdate {
                status: Some("archived".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.details()["field"], "status");
    assert!(analysis_exps.get_by_id(second.id).await.unwrap().is_some());

    // Design data: type policy, own id, ownership, upsert.
    let eid = created.id;
    let err = analysis_data
        .save_experiment_data(eid, "hook-analysis", JsonObject::new(), "1.0")
        .await
        .unwrap_err();
    assert_eq!(err.details()["required_permission"], "design_data.write");
    let err = design_data
        .save_experiment_data(eid, "other-design", JsonObject::new(), "1.0")
        .await
        .unwrap_err();
    assert_eq!(err.details()["required_permission"], "design_data.self");
    assert_eq!(err.details()["requested_plugin_id"], "other-design");
    let first = design_data
        .save_experiment_data(
            eid,
            "hook-design",
            json!({"a": 1}).as_object().unwrap().clone(),
            "1.0",
        )
        .await
        .unwrap();
    let again = design_data
        .save_experiment_data(
            eid,
            "hook-design",
            json!({"a": 2}).as_object().unwrap().clone(),
            "1.1",
        )
        .await
        .unwrap();
    assert_eq!((again.id, again.created_at), (first.id, first.created_at));
    assert_eq!(again.data["a"], 2);
    assert!(design_exps.has_design_data(eid).await.unwrap());
    let conflict = other_data
        .save_experiment_data(eid, "other-design", JsonObject::new(), "1.0")
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), "DESIGN_DATA_OWNERSHIP_CONFLICT");
    assert_eq!(conflict.status().as_u16(), 409);
    let err = other_data.delete_experiment_data(eid).await.unwrap_err();
    assert_eq!(err.details()["required_permission"], "design_data.self");
    assert!(
        analysis_data
            .get_experiment_data(eid)
            .await
            .unwrap()
            .is_some()
    );

    // Results: type policy, own id, all plugins' rows ordered by id.
    let err = design_data
        .save_analysis_result(eid, "hook-design", JsonObject::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.details()["required_permission"],
        "analysis_results.write"
    );
    let err = analysis_data
        .save_analysis_result(eid, "peaks", JsonObject::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.details()["required_permission"],
        "analysis_results.self"
    );
    let store = &tp.platform.store;
    store
        .exec(
            store.connection(),
            "INSERT INTO analysis_results (experiment_id, plugin_id, result, created_at, updated_at) \
             VALUES ($1, 'zz-older', '{}', $2, $2)",
            [eid.into(), mint_platform::store::now_text().into()],
        )
        .await
        .unwrap();
    let mine = analysis_data
        .save_analysis_result(
            eid,
            "hook-analysis",
            json!({"n": 1}).as_object().unwrap().clone(),
        )
        .await
        .unwrap();
    let all = design_data.get_analysis_results(eid).await.unwrap();
    let plugins: Vec<&str> = all.iter().map(|r| r.plugin_id.as_str()).collect();
    assert_eq!(plugins, vec!["zz-older", "hook-analysis"]);
    assert_eq!(
        analysis_data
            .get_analysis_result(eid, "hook-analysis")
            .await
            .unwrap()
            .unwrap()
            .id,
        mine.id
    );
    assert!(
        analysis_data
            .delete_analysis_result(eid, "hook-analysis")
            .await
            .unwrap()
    );
    assert!(
        !analysis_data
            .delete_analysis_result(eid, "hook-analysis")
            .await
            .unwrap()
    );

    assert!(design_data.delete_experiment_data(eid).await.unwrap());
    assert!(!design_data.delete_experiment_data(eid).await.unwrap());
    assert!(design_exps.delete(eid).await.unwrap());
    assert!(!design_exps.delete(eid).await.unwrap());
    assert!(design_exps.get_by_id(eid).await.unwrap().is_none());
    tp.finish().await;
}

#[tokio::test]
async fn repositories_follow_plugin_rights_and_fire_hooks() {
    repositories_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn rights_data_hooks_and_repositories_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set");
        return;
    }
    status_flow(Backend::Postgres).await;
    visibility_flow(Backend::Postgres).await;
    design_data_flow(Backend::Postgres).await;
    veto_flow(Backend::Postgres).await;
    repositories_flow(Backend::Postgres).await;
}
