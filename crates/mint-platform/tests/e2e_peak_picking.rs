//! End to end (issue #5 "Done when"): start the platform, log in, create a project and an
//! experiment, run peak-picking on the HILIC standards run through the platform URL, and read
//! the result back at `/api/experiments/{id}/results` — on SQLite, and on PostgreSQL when
//! `MINT_TEST_DATABASE_URL` is set.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{Backend, TestPlatform, postgres_url};
use serde_json::{Value, json};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(name)
}

async fn run_end_to_end(backend: Backend) {
    let plugin: Arc<dyn mint_sdk::AnalysisPlugin> =
        Arc::new(peak_picking::PeakPickingPlugin::new());
    let tp = TestPlatform::start_with(backend, vec![plugin], |_| {}).await;
    let token = tp.admin_token().await;

    // The plugin is Ready.
    let (status, plugins) = tp.get("/api/plugins", Some(&token)).await;
    assert_eq!(status, 200, "{plugins}");
    let loaded = plugins["loaded"].as_array().unwrap();
    let pp = loaded.iter().find(|p| p["name"] == "peak-picking").unwrap();
    assert_eq!(pp["status"], "ready", "{pp}");
    let (status, project) = tp
        .post(
            "/api/projects",
            Some(&token),
            json!({"name": "HILIC standards", "description": "negative mode"}),
        )
        .await;
    assert_eq!(status, 201, "{project}");
    let (status, experiment) = tp
        .post(
            "/api/experiments",
            Some(&token),
            json!({"name": "StdH1", "experiment_type": "lcms", "project_id": project["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{experiment}");
    assert_eq!(experiment["experiment_code"], "EXP-001");
    let id = experiment["id"].as_i64().unwrap();

    // Anonymous calls to the plugin are refused: it requires auth.
    let (status, _) = tp
        .get(&format!("/api/peak-picking/experiments/{id}/result"), None)
        .await;
    assert_eq!(status, 401);

    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(
                std::fs::read(example("HILICNeg15_StdH1.mzML")).unwrap(),
            )
            .file_name("HILICNeg15_StdH1.mzML"),
        )
        .part(
            "targets",
            reqwest::multipart::Part::bytes(
                std::fs::read(example("HILICNeg15_StdH1_targets.csv")).unwrap(),
            )
            .file_name("targets.csv"),
        );
    let response = tp
        .client
        .post(tp.at(&format!("/api/peak-picking/experiments/{id}/runs")))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let run: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{run}");

    let (status, results) = tp
        .get(&format!("/api/experiments/{id}/results"), Some(&token))
        .await;
    assert_eq!(status, 200, "{results}");
    let list = results["results"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{results}");
    assert_eq!(list[0]["plugin_id"], "peak-picking");
    assert_eq!(list[0]["experiment_id"], id);
    let targets = list[0]["result"]["latest"]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 6, "six targets in the CSV");
    let areas: Vec<f64> = targets
        .iter()
        .map(|t| t["peak_area"].as_f64().unwrap_or(0.0))
        .collect();
    assert!(
        areas.iter().all(|a| *a > 0.0),
        "every target found: {areas:?}"
    );
    assert_eq!(
        targets,
        run["targets"].as_array().unwrap(),
        "the stored result is the run the plugin answered"
    );
    tp.finish().await;
}

#[tokio::test]
async fn peak_picking_through_the_platform_on_sqlite() {
    run_end_to_end(Backend::Sqlite).await;
}

#[tokio::test]
async fn peak_picking_through_the_platform_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set");
        return;
    }
    run_end_to_end(Backend::Postgres).await;
}
