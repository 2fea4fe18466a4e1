//! Plugin routes see experiments with the request caller's rights (rbac.md §5 applies to
//! plugin routes too): the repositories handed to an in-process plugin hide what the caller
//! cannot see and refuse writes the caller may not make.

mod common;

use std::sync::Arc;

use common::TestPlatform;
use serde_json::json;

#[tokio::test]
async fn plugin_reads_follow_the_callers_visibility() {
    let hello: Arc<dyn mint_sdk::AnalysisPlugin> = Arc::new(hello_mint::HelloMintPlugin::new());
    let peak: Arc<dyn mint_sdk::AnalysisPlugin> = Arc::new(peak_picking::PeakPickingPlugin::new());
    let tp = TestPlatform::start(vec![hello, peak]).await;
    let admin = tp.admin_token().await;
    let (_, project) = tp
        .post("/api/projects", Some(&admin), json!({"name": "Private"}))
        .await;
    let (status, experiment) = tp
        .post(
            "/api/experiments",
            Some(&admin),
            json!({"name": "Secret run", "project_id": project["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{experiment}");
    let id = experiment["id"].as_i64().unwrap();
    let (_, member) = tp.user(&admin, "mo", "member").await;

    // The admin reads it through the plugin; anonymous callers and a member outside the
    // project get the plugin's 404, as from the platform's own route.
    let path = format!("/api/hello-mint/experiments/{id}");
    let (status, body) = tp.get(&path, Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Secret run");
    let (status, body) = tp.get(&path, None).await;
    assert_eq!(status, 404, "anonymous: {body}");
    let (status, _) = tp.get(&path, Some(&member)).await;
    assert_eq!(status, 404, "member outside the project");
    let (status, _) = tp
        .get(&format!("/api/experiments/{id}"), Some(&member))
        .await;
    assert_eq!(status, 404);

    // A write through a plugin needs the caller to see the experiment.
    let (status, body) = tp
        .call(
            reqwest::Method::POST,
            &format!("/api/peak-picking/experiments/{id}/runs"),
            Some(&member),
            Some(json!({"path": "nowhere.mzML", "targets": []})),
        )
        .await;
    assert_eq!(status, 404, "{body}");

    // Peak-picking's read routes answer the hidden experiment as not found, like the platform.
    for sub in ["result", "runs", "result.csv"] {
        let (status, body) = tp
            .get(
                &format!("/api/peak-picking/experiments/{id}/{sub}"),
                Some(&member),
            )
            .await;
        assert_eq!(status, 404, "{sub}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("not found")),
            "{sub}: {body}"
        );
    }

    // Once a member of the project, the member sees it through the plugin too.
    let (status, _) = tp
        .post(
            &format!("/api/projects/{}/members", project["id"]),
            Some(&admin),
            json!({"user_id": 2, "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = tp.get(&path, Some(&member)).await;
    assert_eq!(status, 200, "{body}");
    tp.finish().await;
}
