//! `GET /api/openapi.json` through real HTTP: public, OpenAPI 3.1, the platform's routes, the
//! bearer scheme, the error envelope and the Ready plugins.

mod common;

use std::sync::Arc;

use axum::Router;
use common::TestPlatform;
use mint_sdk::{AnalysisPlugin, PluginCore, PluginMetadata};

struct Demo {
    core: PluginCore,
}

impl AnalysisPlugin for Demo {
    fn core(&self) -> &PluginCore {
        &self.core
    }
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("demo-plugin", "1.2.3", "A demo", "demo", "/demo-plugin")
    }
    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        Vec::new()
    }
}

#[tokio::test]
async fn openapi_document_is_public_and_describes_the_api() {
    let demo: Arc<dyn AnalysisPlugin> = Arc::new(Demo {
        core: PluginCore::new(),
    });
    let tp = TestPlatform::start(vec![demo]).await;

    // Public: no token, and a garbage token is ignored.
    let (status, doc) = tp.get("/api/openapi.json", Some("garbage")).await;
    assert_eq!(status, 200, "{doc}");
    let (status, same) = tp.get("/api/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc, same);

    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "MINT platform API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let paths = doc["paths"].as_object().expect("paths");
    let experiments = &paths["/api/experiments"];
    assert!(experiments.get("get").is_some() && experiments.get("post").is_some());
    assert_eq!(experiments["get"]["tags"][0], "experiments");
    assert_eq!(
        experiments["post"]["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Experiment"
    );
    assert_eq!(
        experiments["get"]["security"][0]["bearerAuth"],
        serde_json::json!([])
    );
    let query: Vec<&str> = experiments["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "status",
        "project_id",
        "mine",
        "created_after",
        "skip",
        "limit",
        "sort_by",
    ] {
        assert!(query.contains(&name), "missing query parameter {name}");
    }
    // Error responses use the envelope.
    assert_eq!(
        experiments["get"]["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorEnvelope"
    );

    let login = &paths["/api/auth/login"]["post"];
    assert_eq!(login["tags"][0], "auth");
    assert!(login["responses"].get("429").is_some());
    assert_eq!(login["security"], serde_json::json!([]), "login is public");
    for path in [
        "/api/health",
        "/api/auth/verify",
        "/api/experiments/{id}",
        "/api/experiments/{id}/objects/{key}",
        "/api/projects/{id}/members/{user_id}",
        "/api/plugins/{name}/config",
        "/api/admin/roles/permissions",
        "/api/openapi.json",
    ] {
        assert!(paths.contains_key(path), "missing {path}");
    }
    assert_eq!(
        paths["/api/health"]["get"]["responses"]["503"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Health"
    );

    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let envelope = &doc["components"]["schemas"]["ErrorEnvelope"];
    for field in [
        "code",
        "message",
        "status",
        "detail",
        "request_id",
        "details",
    ] {
        assert!(
            envelope["properties"].get(field).is_some(),
            "envelope lacks {field}"
        );
    }
    assert_eq!(
        envelope["required"],
        serde_json::json!(["code", "message", "status"])
    );

    let plugins = doc["x-mint-plugins"].as_array().expect("x-mint-plugins");
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0]["name"], "demo-plugin");
    assert_eq!(plugins[0]["base_path"], "/api/demo-plugin");
    tp.finish().await;
}
