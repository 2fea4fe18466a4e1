//! The testing harness (app-testing-export.md §4) and, through `RecordingContext`, the
//! repository, role-guard and config rules of context-and-data.md §3–§5.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::get;
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use mint_sdk::context::filter_platform_config;
use mint_sdk::extract::Json;
use mint_sdk::repositories::{ExperimentFilter, ExperimentUpdate, NewExperiment};
use mint_sdk::testing::{
    RecordedCall, RecordingContext, StandaloneModuleOptions, TestPluginOptions, build_test_app,
    make_test_plugin, module_spec_path, write_standalone_plugin_module,
};
use mint_sdk::{
    AnalysisPlugin, CurrentUser, HealthStatus, JsonObject, LifecycleHookResult, PluginCapabilities,
    PluginError, PluginType,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tower::ServiceExt;

// ----- helpers -----------------------------------------------------------------------------------

fn obj(v: Value) -> JsonObject {
    v.as_object().cloned().unwrap_or_default()
}

fn parts() -> Parts {
    Request::new(()).into_parts().0
}

fn ts(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .expect("valid timestamp")
}

fn build(builder: mint_sdk::testing::RecordingContextBuilder) -> RecordingContext {
    builder.build().expect("valid seeds")
}

fn methods(ctx: &RecordingContext) -> Vec<String> {
    ctx.calls().into_iter().map(|c| c.method).collect()
}

fn required_permission(err: &PluginError) -> Value {
    err.details()
        .get("required_permission")
        .cloned()
        .unwrap_or(Value::Null)
}

fn assert_permission(err: &PluginError, permission: &str) {
    assert_eq!(err.status(), StatusCode::FORBIDDEN, "{err:?}");
    assert_eq!(err.code(), "PERMISSION_DENIED");
    assert_eq!(required_permission(err), json!(permission), "{err:?}");
}

async fn send(router: Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let resp = router.oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

/// Five experiments seeded out of id order, as JSON.
fn lab() -> RecordingContext {
    build(RecordingContext::builder().experiments([
        json!({"id": 5, "name": "Amino acids", "experiment_type": "lcms", "status": "completed",
               "project": "Metabolomics", "created_by": 2}),
        json!({"id": 3, "name": "Lipids", "experiment_type": "gcms", "status": "ongoing",
               "project": "Lipidomics", "created_by": 1, "parent_experiment_id": 1,
               "notes": "batch B"}),
        json!({"id": 1, "name": "TCA standards", "experiment_type": "lcms", "status": "ongoing",
               "project": "Metabolomics", "created_by": 1}),
        json!({"id": 4, "name": "Blank run", "experiment_type": "lcms", "status": "ongoing"}),
        json!({"id": 2, "name": "Glycolysis", "experiment_type": "lcms", "status": "planned",
               "project": "Metabolomics", "created_by": 2, "notes": "tca cycle follow-up"}),
    ]))
}

// ----- §4.1 make_test_plugin --------------------------------------------------------------------

#[test]
fn make_test_plugin_defaults_match_the_table() {
    let spec = make_test_plugin(TestPluginOptions::default());
    let meta = spec.build().metadata();
    assert_eq!(meta.name, "test-plugin");
    assert_eq!(meta.description, "test plugin test-plugin");
    assert_eq!(meta.version, "0.0.1");
    assert_eq!(meta.routes_prefix, "/test-plugin");
    assert_eq!(meta.plugin_type, PluginType::Analysis);
    assert_eq!(meta.analysis_type, "test");
    assert_eq!(
        meta.capabilities,
        PluginCapabilities {
            requires_database: true,
            requires_experiments: true,
            ..Default::default()
        }
    );
    let opts = TestPluginOptions::default();
    assert!(opts.route_builder.is_none() && opts.before_save.is_none());
    assert_eq!(opts.sub_prefix, "");
    assert_eq!(opts.health_status, HealthStatus::Healthy);
    assert_eq!(opts.health_message, None);
}

#[test]
fn the_description_follows_the_name() {
    let meta = make_test_plugin(TestPluginOptions::default().with_name("x")).metadata();
    assert_eq!(meta.description, "test plugin x");
}

#[tokio::test]
async fn make_test_plugin_reports_the_configured_health() {
    let default = make_test_plugin(TestPluginOptions::default()).build();
    let health = default.check_health().await.expect("health");
    assert_eq!(
        (health.status, health.message),
        (HealthStatus::Healthy, None)
    );
    let spec = make_test_plugin(
        TestPluginOptions::default()
            .with_health_status_str("unhealthy")
            .expect("wire string")
            .with_health_message("disk full"),
    );
    let health = spec.build().check_health().await.expect("health");
    assert_eq!(health.status, HealthStatus::Unhealthy);
    assert_eq!(health.message.as_deref(), Some("disk full"));
}

#[test]
fn an_unknown_health_wire_string_is_an_error() {
    let err = TestPluginOptions::default()
        .with_health_status_str("fine")
        .expect_err("unknown status");
    assert_eq!(err.code(), "VALIDATION_ERROR");
    assert_eq!(err.details()["field"], "health_status");
}

#[test]
fn routers_return_one_router_and_run_the_builder_on_every_call() {
    let runs = Arc::new(Mutex::new(0));
    let counter = runs.clone();
    let spec = make_test_plugin(
        TestPluginOptions::default()
            .with_sub_prefix("/items")
            .with_routes(move |r| {
                if let Ok(mut n) = counter.lock() {
                    *n += 1;
                }
                r.route("/x", get(|| async { "x" }))
            }),
    );
    let plugin = spec.build();
    for _ in 0..2 {
        let routers = plugin.clone().routers();
        assert_eq!(routers.len(), 1);
        assert_eq!(routers[0].1, "/items");
    }
    assert_eq!(*runs.lock().expect("lock"), 2);
    assert_eq!(
        make_test_plugin(TestPluginOptions::default())
            .build()
            .routers()
            .len(),
        1
    );
}

#[test]
fn build_makes_fresh_instances() {
    let spec = make_test_plugin(TestPluginOptions::default());
    let (a, b) = (spec.build(), spec.build());
    a.core()
        .bind_context(Some(RecordingContext::new().context()));
    assert!(!a.is_standalone());
    assert!(b.is_standalone());
}

#[tokio::test]
async fn lifecycle_hooks_call_the_callbacks() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let (after, change) = (seen.clone(), seen.clone());
    let plugin = make_test_plugin(
        TestPluginOptions::default()
            .with_before_save(|id, _| {
                if id == 13 {
                    LifecycleHookResult::veto("13 is unlucky")
                } else {
                    LifecycleHookResult::default()
                }
            })
            .with_after_save(move |id, data| {
                if let Ok(mut s) = after.lock() {
                    s.push(format!("after {id} {}", Value::Object(data.clone())));
                }
            })
            .with_status_change(move |id, old, new| {
                if let Ok(mut s) = change.lock() {
                    s.push(format!("status {id} {old}->{new}"));
                }
            }),
    )
    .build();
    let data = obj(json!({"a": 1}));
    let veto = plugin
        .on_before_experiment_save(13, &data)
        .await
        .expect("hook");
    assert!(!veto.success);
    assert_eq!(veto.message.as_deref(), Some("13 is unlucky"));
    assert!(
        plugin
            .on_before_experiment_save(1, &data)
            .await
            .expect("hook")
            .success
    );
    plugin
        .on_after_experiment_save(2, &data)
        .await
        .expect("hook");
    plugin
        .on_experiment_status_change(2, "planned", "ongoing")
        .await
        .expect("hook");
    assert_eq!(
        *seen.lock().expect("lock"),
        [r#"after 2 {"a":1}"#, "status 2 planned->ongoing"]
    );
}

#[tokio::test]
async fn without_callbacks_hooks_succeed_and_do_nothing() {
    let plugin = make_test_plugin(TestPluginOptions::default()).build();
    let data = JsonObject::new();
    assert!(
        plugin
            .on_before_experiment_save(1, &data)
            .await
            .expect("hook")
            .success
    );
    plugin
        .on_after_experiment_save(1, &data)
        .await
        .expect("hook");
    plugin
        .on_experiment_status_change(1, "a", "b")
        .await
        .expect("hook");
    plugin.shutdown().await.expect("shutdown does nothing");
}

#[tokio::test]
async fn initialize_stores_the_context() {
    let ctx = RecordingContext::builder()
        .plugin_id("test-plugin")
        .build()
        .expect("ctx");
    let plugin = make_test_plugin(TestPluginOptions::default()).build();
    plugin
        .initialize(Some(ctx.context()))
        .await
        .expect("initialize");
    assert_eq!(
        plugin.context().and_then(|c| c.plugin_id()).as_deref(),
        Some("test-plugin")
    );
}

// ----- §4.2 build_test_app ----------------------------------------------------------------------

fn whoami_plugin(capabilities: PluginCapabilities) -> Arc<mint_sdk::testing::TestPlugin> {
    make_test_plugin(
        TestPluginOptions::default()
            .with_capabilities(capabilities)
            .with_routes(|r| {
                r.route(
                    "/whoami",
                    get(|user: CurrentUser| async move { Json(user.to_json()) }),
                )
                .route(
                    "/editors",
                    get(|parts: Parts| async move {
                        mint_sdk::context::require_plugin_role(&parts, &["editor"])
                            .await
                            .map(|u| Json(json!({"plugin_role": u.plugin_role})))
                    }),
                )
            }),
    )
    .build()
}

#[tokio::test]
async fn current_user_route_is_401_without_a_user_and_200_with_one() {
    let ctx = build(RecordingContext::builder().plugin_id("test-plugin"));
    let plugin = whoami_plugin(PluginCapabilities::default());
    plugin
        .initialize(Some(ctx.context()))
        .await
        .expect("initialize");
    let router = build_test_app(plugin, false).expect("app").router();

    let (status, _, body) = send(router.clone(), get_req("/api/test-plugin/whoami")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "auth.unauthorized");
    assert_eq!(body["message"], "Not authenticated");

    ctx.set_current_user(Some(CurrentUser {
        user_id: "7".into(),
        username: Some("ada".into()),
        role: String::new(),
        role_id: None,
        plugin_role: None,
        permissions: Default::default(),
    }));
    let (status, _, body) = send(router, get_req("/api/test-plugin/whoami")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"sub": "7", "username": "ada", "role": "member"})
    );
}

#[tokio::test]
async fn requires_auth_routes_are_401_for_an_anonymous_recording_context() {
    let ctx = build(RecordingContext::builder());
    let plugin = whoami_plugin(PluginCapabilities {
        requires_auth: true,
        ..Default::default()
    });
    plugin
        .initialize(Some(ctx.context()))
        .await
        .expect("initialize");
    let router = build_test_app(plugin, false).expect("app").router();
    let (status, _, body) = send(router.clone(), get_req("/api/test-plugin/whoami")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "auth.unauthorized");
    let (status, _, _) = send(router, get_req("/api/test-plugin/_mint/runtime")).await;
    assert_eq!(status, StatusCode::OK, "the runtime probe needs no user");
}

#[tokio::test]
async fn the_role_guard_works_over_http() {
    let ctx = build(
        RecordingContext::builder()
            .plugin_id("test-plugin")
            .user(json!({"id": 7}))
            .plugin_roles([json!({"user_id": 7, "plugin_id": "test-plugin", "role": "viewer"})]),
    );
    let plugin = whoami_plugin(PluginCapabilities::default());
    plugin
        .initialize(Some(ctx.context()))
        .await
        .expect("initialize");
    let router = build_test_app(plugin, false).expect("app").router();
    let (status, _, body) = send(router.clone(), get_req("/api/test-plugin/editors")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "auth.forbidden");
    assert_eq!(body["message"], "Requires plugin role: editor");
    let repo = ctx.context().plugin_role_repository().expect("roles");
    repo.set_role("test-plugin", 7, "editor")
        .await
        .expect("set");
    let (status, _, body) = send(router, get_req("/api/test-plugin/editors")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"plugin_role": "editor"}));
}

#[tokio::test]
async fn build_test_app_switches_cors() {
    let preflight = || {
        Request::builder()
            .method("OPTIONS")
            .uri("/api/test-plugin/whoami")
            .header("origin", "http://a.test")
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .expect("request")
    };
    let plugin = whoami_plugin(PluginCapabilities::default());
    let (_, headers, _) = send(
        build_test_app(plugin.clone(), false).expect("app").router(),
        preflight(),
    )
    .await;
    assert!(headers.get("access-control-allow-origin").is_none());
    let (_, headers, _) = send(
        build_test_app(plugin, true).expect("app").router(),
        preflight(),
    )
    .await;
    assert_eq!(headers["access-control-allow-origin"], "http://a.test");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["access-control-max-age"], "600");
}

#[test]
fn build_test_app_validates_metadata() {
    let plugin = make_test_plugin(TestPluginOptions::default().with_routes_prefix("/api")).build();
    let err = build_test_app(plugin, false)
        .err()
        .expect("reserved prefix");
    assert_eq!(err.details()["field"], "routes_prefix");
}

#[tokio::test]
async fn sub_prefix_routes_answer_under_the_api_prefix() {
    let plugin = make_test_plugin(
        TestPluginOptions::default()
            .with_sub_prefix("/items")
            .with_routes(|r| r.route("/x", get(|| async { Json(json!("x")) }))),
    )
    .build();
    let router = build_test_app(plugin, false).expect("app").router();
    let (status, _, body) = send(router.clone(), get_req("/api/test-plugin/items/x")).await;
    assert_eq!((status, body), (StatusCode::OK, json!("x")));
    let (status, _, _) = send(router, get_req("/test-plugin/items/x")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ----- §4.3 RecordingContext: identity ----------------------------------------------------------

#[tokio::test]
async fn recording_context_is_unauthenticated_by_default() {
    let ctx = RecordingContext::new();
    assert!(!ctx.is_authenticated());
    assert!(!ctx.context().is_authenticated());
    assert_eq!(
        ctx.context().optional_user(&parts()).await.expect("ok"),
        None
    );
    let err = ctx.context().current_user(&parts()).await.expect_err("401");
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(err.code(), "auth.unauthorized");
    assert_eq!(err.message(), "Not authenticated");
}

#[tokio::test]
async fn a_json_user_is_returned_with_role_member() {
    let ctx = build(RecordingContext::builder().user(json!({"id": 7, "username": "ada"})));
    assert!(ctx.is_authenticated());
    let user = ctx.context().current_user(&parts()).await.expect("user");
    assert_eq!(user.user_id, "7");
    assert_eq!(user.username.as_deref(), Some("ada"));
    assert_eq!(user.role, "member");
}

#[tokio::test]
async fn a_json_user_accepts_sub_and_the_optional_keys() {
    let ctx = build(RecordingContext::builder().user(json!({
        "sub": "12", "role": "viewer", "role_id": 3, "permissions": ["b", "a"]
    })));
    let user = ctx.current_user().expect("user");
    assert_eq!(
        (user.user_id.as_str(), user.role.as_str()),
        ("12", "viewer")
    );
    assert_eq!(user.role_id, Some(3));
    assert_eq!(user.to_json()["permissions"], json!(["a", "b"]));
}

#[tokio::test]
async fn set_current_user_switches_authentication() {
    let ctx = RecordingContext::new();
    let handle = ctx.context();
    ctx.set_current_user(Some(CurrentUser::standalone()));
    assert!(handle.is_authenticated());
    ctx.set_current_user(None);
    assert!(!handle.is_authenticated());
}

#[test]
fn invalid_seeds_are_validation_errors_naming_the_seed() {
    let cases: Vec<(mint_sdk::testing::RecordingContextBuilder, &str)> = vec![
        (
            RecordingContext::builder().user(json!({"username": "x"})),
            "user",
        ),
        (RecordingContext::builder().user(json!("ada")), "user"),
        (
            RecordingContext::builder().user(json!({"id": 1, "permissions": "all"})),
            "user",
        ),
        (
            RecordingContext::builder().experiments([
                json!({"id": 1, "name": "a", "experiment_type": "x"}),
                json!({"id": 2, "name": "b"}),
            ]),
            "experiments.1",
        ),
        (
            RecordingContext::builder().users([json!({"id": 1})]),
            "users.0",
        ),
        (
            RecordingContext::builder().plugin_roles([json!({"user_id": 1, "plugin_id": "p"})]),
            "plugin_roles.0",
        ),
        (
            RecordingContext::builder().platform_config(json!([1])),
            "platform_config",
        ),
        (
            RecordingContext::builder().plugin_config(json!("x")),
            "plugin_config",
        ),
    ];
    for (builder, field) in cases {
        let err = builder.build().expect_err(field);
        assert_eq!(err.code(), "VALIDATION_ERROR", "{field}");
        assert_eq!(err.details()["field"], field);
    }
}

// ----- §3 the role guard through RecordingContext -----------------------------------------------

#[tokio::test]
async fn role_guard_follows_context_spec_section_3() {
    struct Case {
        name: &'static str,
        user: Option<Value>,
        plugin_id: Option<&'static str>,
        role: Option<&'static str>,
        required: &'static [&'static str],
        expected: Result<&'static str, (u16, &'static str)>,
    }
    let editor_or_admin: &[&str] = &["editor", "admin"];
    let cases = [
        Case {
            name: "platform Admin bypasses without a role row",
            user: Some(json!({"id": 9, "role": "Admin"})),
            plugin_id: Some("p"),
            role: None,
            required: editor_or_admin,
            expected: Ok("admin"),
        },
        Case {
            name: "admin bypass needs no plugin id",
            user: Some(json!({"id": "not-a-number", "role": "ADMIN"})),
            plugin_id: None,
            role: None,
            required: &[],
            expected: Ok("admin"),
        },
        Case {
            name: "viewer is not enough",
            user: Some(json!({"id": 7})),
            plugin_id: Some("p"),
            role: Some("viewer"),
            required: editor_or_admin,
            expected: Err((403, "Requires plugin role: editor, admin")),
        },
        Case {
            name: "member without a role",
            user: Some(json!({"id": 7})),
            plugin_id: Some("p"),
            role: None,
            required: editor_or_admin,
            expected: Err((403, "Requires plugin role: editor, admin")),
        },
        Case {
            name: "member with editor",
            user: Some(json!({"id": 7})),
            plugin_id: Some("p"),
            role: Some("editor"),
            required: editor_or_admin,
            expected: Ok("editor"),
        },
        Case {
            name: "roles compare case-sensitively",
            user: Some(json!({"id": 7})),
            plugin_id: Some("p"),
            role: Some("Editor"),
            required: editor_or_admin,
            expected: Err((403, "Requires plugin role: editor, admin")),
        },
        Case {
            name: "no roles admit only admins",
            user: Some(json!({"id": 7})),
            plugin_id: Some("p"),
            role: Some("editor"),
            required: &[],
            expected: Err((403, "Requires plugin role: ")),
        },
        Case {
            name: "non-numeric user id",
            user: Some(json!({"id": "ada"})),
            plugin_id: Some("p"),
            role: None,
            required: editor_or_admin,
            expected: Err((403, "Invalid user ID format")),
        },
        Case {
            name: "no plugin id",
            user: Some(json!({"id": 7})),
            plugin_id: None,
            role: Some("editor"),
            required: editor_or_admin,
            expected: Err((403, "Plugin name is required for plugin role checks")),
        },
        Case {
            name: "anonymous",
            user: None,
            plugin_id: Some("p"),
            role: None,
            required: editor_or_admin,
            expected: Err((401, "Not authenticated")),
        },
    ];
    for case in cases {
        let mut builder = RecordingContext::builder();
        if let Some(user) = case.user {
            builder = builder.user(user);
        }
        if let Some(id) = case.plugin_id {
            builder = builder.plugin_id(id);
        }
        if let Some(role) = case.role {
            builder = builder.plugin_roles([json!({"user_id": 7, "plugin_id": "p", "role": role})]);
        }
        let ctx = build(builder);
        let outcome = ctx
            .context()
            .require_plugin_role(&parts(), case.required)
            .await;
        match (outcome, case.expected) {
            (Ok(user), Ok(role)) => {
                assert_eq!(user.plugin_role.as_deref(), Some(role), "{}", case.name)
            }
            (Err(err), Err((status, message))) => {
                assert_eq!(err.status().as_u16(), status, "{}", case.name);
                assert_eq!(err.message(), message, "{}", case.name);
                let code = if status == 401 {
                    "auth.unauthorized"
                } else {
                    "auth.forbidden"
                };
                assert_eq!(err.code(), code, "{}", case.name);
            }
            (got, want) => panic!("{}: got {got:?}, want {want:?}", case.name),
        }
    }
}

#[tokio::test]
async fn the_role_guard_looks_up_the_role_on_every_call() {
    let ctx = build(
        RecordingContext::builder()
            .plugin_id("p")
            .user(json!({"id": 7}))
            .plugin_roles([json!({"user_id": 7, "plugin_id": "p", "role": "editor"})]),
    );
    for _ in 0..2 {
        ctx.context()
            .require_plugin_role(&parts(), &["editor"])
            .await
            .expect("editor");
    }
    assert_eq!(
        methods(&ctx),
        ["plugin_roles.get_role", "plugin_roles.get_role"]
    );
    assert_eq!(
        ctx.calls()[0].args,
        obj(json!({"plugin_id": "p", "user_id": 7}))
    );
}

// ----- §4 config --------------------------------------------------------------------------------

#[test]
fn config_is_the_filtered_platform_config() {
    let raw = json!({
        "auth": {"jwtSecret": "x", "jwtTtlHours": 24, "passkeysEnabled": true},
        "database": {"mode": "postgresql", "url": "postgresql://u:p@h/db", "path": "/x"},
        "marketplace": {"registryUrl": "https://r.test", "apiKey": "k"},
        "plugins": [{"name": "a", "client_secret": "s", "enabled": true}],
        "devMode": false
    });
    let ctx = build(RecordingContext::builder().platform_config(raw.clone()));
    let config = ctx.context().config();
    assert_eq!(Value::Object(config.clone()), filter_platform_config(&raw));
    assert_eq!(
        Value::Object(config),
        json!({
            "auth": {"jwtTtlHours": 24, "passkeysEnabled": true},
            "database": {"mode": "postgresql"},
            "marketplace": {"registryUrl": "https://r.test"},
            "plugins": [{"name": "a", "enabled": true}],
            "devMode": false
        })
    );
    assert_eq!(methods(&ctx), ["config.get_config"]);
    assert!(RecordingContext::new().context().config().is_empty());
}

#[tokio::test]
async fn plugin_config_needs_a_plugin_id() {
    let ctx = RecordingContext::new();
    let err = ctx
        .context()
        .plugin_config()
        .await
        .expect_err("no plugin id");
    assert_eq!(err.code(), "CONFIGURATION_ERROR");
    let err = ctx
        .context()
        .set_plugin_config(JsonObject::new(), vec![])
        .await
        .expect_err("no plugin id");
    assert_eq!(err.details()["config_key"], "plugin_id");
    assert_eq!(
        methods(&ctx),
        ["config.get_plugin_config", "config.set_plugin_config"],
        "failed calls are recorded too"
    );
}

#[tokio::test]
async fn set_plugin_config_replaces_only_the_owned_keys() {
    let ctx = build(
        RecordingContext::builder()
            .plugin_id("p")
            .plugin_config(json!({"a": 1, "b": 2, "keep": true})),
    );
    let handle = ctx.context();
    assert_eq!(
        handle.plugin_config().await.expect("get"),
        obj(json!({"a": 1, "b": 2, "keep": true}))
    );
    handle
        .set_plugin_config(
            obj(json!({"a": 10, "c": 3, "not_owned": 9})),
            vec!["a".into(), "b".into(), "c".into()],
        )
        .await
        .expect("set");
    assert_eq!(
        ctx.plugin_config(),
        obj(json!({"a": 10, "keep": true, "c": 3}))
    );
    assert_eq!(
        ctx.calls()[1],
        RecordedCall {
            method: "config.set_plugin_config".into(),
            args: obj(json!({
                "settings": {"a": 10, "c": 3, "not_owned": 9},
                "owned_keys": ["a", "b", "c"]
            })),
        }
    );
}

#[tokio::test]
async fn shared_db_session_is_a_configuration_error() {
    let err = RecordingContext::new()
        .context()
        .shared_db_session()
        .await
        .expect_err("no shared session");
    assert_eq!(err.code(), "CONFIGURATION_ERROR");
    assert_eq!(err.details()["config_key"], "requires_shared_database");
}

#[test]
fn all_four_repositories_are_always_present() {
    let ctx = RecordingContext::new().context();
    assert!(ctx.experiment_repository().is_some());
    assert!(ctx.plugin_data_repository().is_some());
    assert!(ctx.user_repository().is_some());
    assert!(ctx.plugin_role_repository().is_some());
}

// ----- §5.1 experiments -------------------------------------------------------------------------

#[tokio::test]
async fn list_all_filters_pages_and_counts() {
    let ctx = lab();
    let repo = ctx.context().experiment_repository().expect("repo");
    let f = ExperimentFilter::default;
    let s = |v: &str| Some(v.to_string());
    // (filter, expected ids, expected total)
    let cases: Vec<(ExperimentFilter, Vec<i64>, u64)> = vec![
        (f(), vec![1, 2, 3, 4, 5], 5),
        (
            ExperimentFilter {
                status: s("ongoing"),
                ..f()
            },
            vec![1, 3, 4],
            3,
        ),
        (
            ExperimentFilter {
                status: s("ongoing"),
                limit: 1,
                ..f()
            },
            vec![1],
            3,
        ),
        (
            ExperimentFilter {
                status: s("ongoing"),
                skip: 1,
                limit: 1,
                ..f()
            },
            vec![3],
            3,
        ),
        (
            ExperimentFilter {
                status: s("ongoing"),
                experiment_type: s("lcms"),
                ..f()
            },
            vec![1, 4],
            2,
        ),
        (
            ExperimentFilter {
                project: s("Metabolomics"),
                ..f()
            },
            vec![1, 2, 5],
            3,
        ),
        (
            ExperimentFilter {
                created_by: Some(1),
                ..f()
            },
            vec![1, 3],
            2,
        ),
        (
            ExperimentFilter {
                parent_experiment_id: Some(1),
                ..f()
            },
            vec![3],
            1,
        ),
        (
            ExperimentFilter {
                search: s("TCA"),
                ..f()
            },
            vec![1, 2],
            2,
        ),
        (
            ExperimentFilter {
                search: s("tca"),
                ..f()
            },
            vec![1, 2],
            2,
        ),
        (
            ExperimentFilter {
                search: s("BATCH b"),
                ..f()
            },
            vec![3],
            1,
        ),
        (
            ExperimentFilter {
                search: s(""),
                ..f()
            },
            vec![1, 2, 3, 4, 5],
            5,
        ),
        (
            ExperimentFilter {
                status: s(""),
                project: s(""),
                experiment_type: s(""),
                ..f()
            },
            vec![1, 2, 3, 4, 5],
            5,
        ),
        (
            ExperimentFilter {
                search: s("nothing"),
                ..f()
            },
            vec![],
            0,
        ),
        (ExperimentFilter { skip: 10, ..f() }, vec![], 5),
        (
            ExperimentFilter {
                project: s("metabolomics"),
                ..f()
            },
            vec![],
            0,
        ),
    ];
    for (filter, ids, total) in cases {
        let label = format!("{filter:?}");
        let (rows, n) = repo.list_all(filter).await.expect("list");
        let got: Vec<i64> = rows.iter().map(|e| e.id).collect();
        assert_eq!((got, n), (ids, total), "{label}");
    }
}

#[tokio::test]
async fn list_all_records_its_named_arguments() {
    let ctx = lab();
    let repo = ctx.context().experiment_repository().expect("repo");
    repo.list_all(ExperimentFilter {
        status: Some("ongoing".into()),
        limit: 1,
        ..Default::default()
    })
    .await
    .expect("list");
    assert_eq!(
        ctx.calls(),
        [RecordedCall {
            method: "experiments.list_all".into(),
            args: obj(json!({
                "skip": 0, "limit": 1, "status": "ongoing", "experiment_type": null,
                "project": null, "created_by": null, "parent_experiment_id": null, "search": null
            })),
        }]
    );
}

#[tokio::test]
async fn experiment_json_seeds_get_the_defaults() {
    let ctx = lab();
    let e = ctx
        .context()
        .experiment_repository()
        .expect("repo")
        .get_by_id(4)
        .await
        .expect("get")
        .expect("seeded");
    assert_eq!(e.status, "ongoing");
    let ctx = build(
        RecordingContext::builder()
            .experiments([json!({"id": 1, "name": "n", "experiment_type": "t"})]),
    );
    let e = &ctx.experiments()[0];
    assert_eq!(e.status, "planned");
    assert!(e.tags.is_empty() && e.custom_metadata.is_empty());
    assert_eq!(
        (e.project.clone(), e.notes.clone(), e.created_by),
        (None, None, None)
    );
}

#[tokio::test]
async fn create_yields_planned_with_empty_tags_and_equal_timestamps() {
    let ctx = RecordingContext::new();
    let repo = ctx.context().experiment_repository().expect("repo");
    let e = repo
        .create(NewExperiment {
            name: "Run 1".into(),
            experiment_type: "lcms".into(),
            created_by: Some(3),
            notes: Some("n".into()),
            ..Default::default()
        })
        .await
        .expect("create");
    assert_eq!((e.id, e.status.as_str()), (1, "planned"));
    assert!(e.tags.is_empty() && e.custom_metadata.is_empty());
    assert_eq!(e.created_at, e.updated_at);
    assert_eq!((e.created_by, e.notes.as_deref()), (Some(3), Some("n")));
    let tagged = repo
        .create(NewExperiment {
            name: "Run 2".into(),
            experiment_type: "lcms".into(),
            tags: Some(obj(json!({"batch": "B"}))),
            ..Default::default()
        })
        .await
        .expect("create");
    assert_eq!(tagged.tags, obj(json!({"batch": "B"})));
    assert_eq!(ctx.experiments().len(), 2);
}

#[tokio::test]
async fn seeded_experiment_ids_continue_at_max_plus_one() {
    let ctx = build(RecordingContext::builder().experiments([
        json!({"id": 10, "name": "a", "experiment_type": "t"}),
        json!({"id": 3, "name": "b", "experiment_type": "t"}),
    ]));
    let repo = ctx.context().experiment_repository().expect("repo");
    let new = || NewExperiment {
        name: "n".into(),
        experiment_type: "t".into(),
        ..Default::default()
    };
    assert_eq!(repo.create(new()).await.expect("create").id, 11);
    assert!(repo.delete(11).await.expect("delete"));
    assert_eq!(
        repo.create(new()).await.expect("create").id,
        12,
        "ids are never reused"
    );
}

#[tokio::test]
async fn update_without_arguments_only_bumps_updated_at() {
    let old = "2026-01-01T00:00:00Z";
    let ctx = build(RecordingContext::builder().experiments([json!({
        "id": 1, "name": "n", "experiment_type": "t", "notes": "keep me",
        "tags": {"a": 1}, "created_at": old, "updated_at": old
    })]));
    let before = ctx.experiments()[0].clone();
    let repo = ctx.context().experiment_repository().expect("repo");
    let after = repo
        .update(1, ExperimentUpdate::default())
        .await
        .expect("update")
        .expect("found");
    assert!(after.updated_at > ts(old));
    assert_eq!(after.created_at, ts(old));
    let mut expected = before;
    expected.updated_at = after.updated_at;
    assert_eq!(after, expected);
}

#[tokio::test]
async fn update_changes_given_fields_and_replaces_tags() {
    let ctx = build(RecordingContext::builder().experiments([json!({
        "id": 1, "name": "n", "experiment_type": "t", "notes": "keep me", "tags": {"a": 1, "b": 2}
    })]));
    let repo = ctx.context().experiment_repository().expect("repo");
    let e = repo
        .update(
            1,
            ExperimentUpdate {
                status: Some("ongoing".into()),
                tags: Some(obj(json!({"c": 3}))),
                ..Default::default()
            },
        )
        .await
        .expect("update")
        .expect("found");
    assert_eq!((e.status.as_str(), e.name.as_str()), ("ongoing", "n"));
    assert_eq!(e.notes.as_deref(), Some("keep me"));
    assert_eq!(e.tags, obj(json!({"c": 3})));
    assert_eq!(ctx.calls()[0].args["experiment_id"], 1);
    assert_eq!(ctx.calls()[0].args["status"], "ongoing");
}

#[tokio::test]
async fn update_or_delete_of_an_unknown_id_finds_nothing() {
    let ctx = lab();
    let repo = ctx.context().experiment_repository().expect("repo");
    assert_eq!(
        repo.update(99, ExperimentUpdate::default())
            .await
            .expect("update"),
        None
    );
    assert!(!repo.delete(99).await.expect("delete"));
    assert_eq!(repo.get_by_id(99).await.expect("get"), None);
}

#[tokio::test]
async fn analysis_plugins_cannot_modify_experiments() {
    let ctx = build(
        RecordingContext::builder()
            .plugin_type(PluginType::Analysis)
            .experiments([json!({"id": 1, "name": "n", "experiment_type": "t"})]),
    );
    let repo = ctx.context().experiment_repository().expect("repo");
    let errors = [
        repo.create(NewExperiment {
            name: "x".into(),
            experiment_type: "t".into(),
            ..Default::default()
        })
        .await
        .expect_err("create"),
        repo.update(
            1,
            ExperimentUpdate {
                name: Some("renamed".into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("update"),
        repo.delete(1).await.expect_err("delete"),
        repo.delete(99).await.expect_err("checked before looking"),
    ];
    for err in &errors {
        assert_permission(err, "experiment:write");
        assert_eq!(err.message(), "Analysis plugins cannot modify experiments");
    }
    assert_eq!(ctx.experiments()[0].name, "n", "nothing was touched");
    assert!(repo.get_by_id(1).await.expect("reads work").is_some());
    assert_eq!(
        repo.list_all(ExperimentFilter::default())
            .await
            .expect("list")
            .1,
        1
    );
}

#[tokio::test]
async fn design_plugins_and_untyped_contexts_may_modify_experiments() {
    for ctx in [
        build(RecordingContext::builder().plugin_type(PluginType::ExperimentDesign)),
        RecordingContext::new(),
    ] {
        let repo = ctx.context().experiment_repository().expect("repo");
        let e = repo
            .create(NewExperiment {
                name: "x".into(),
                experiment_type: "t".into(),
                ..Default::default()
            })
            .await
            .expect("create");
        assert!(repo.delete(e.id).await.expect("delete"));
    }
}

#[tokio::test]
async fn has_design_data_needs_the_experiment_and_a_design_row() {
    let ctx = build(
        RecordingContext::builder()
            .plugin_id("designer")
            .experiments([json!({"id": 1, "name": "n", "experiment_type": "t"})]),
    );
    let handle = ctx.context();
    let experiments = handle.experiment_repository().expect("repo");
    let data = handle.plugin_data_repository().expect("repo");
    assert!(!experiments.has_design_data(1).await.expect("has"));
    data.save_experiment_data(1, "designer", JsonObject::new(), "1.0")
        .await
        .expect("save");
    data.save_experiment_data(2, "designer", JsonObject::new(), "1.0")
        .await
        .expect("any experiment id is accepted");
    assert!(experiments.has_design_data(1).await.expect("has"));
    assert!(
        !experiments
            .has_design_data(2)
            .await
            .expect("no such experiment")
    );
}

#[tokio::test]
async fn deleting_an_experiment_removes_its_design_and_results() {
    let ctx = build(
        RecordingContext::builder()
            .experiments([json!({"id": 1, "name": "n", "experiment_type": "t"})]),
    );
    let data = ctx.context().plugin_data_repository().expect("repo");
    data.save_experiment_data(1, "d", JsonObject::new(), "1.0")
        .await
        .expect("save");
    data.save_analysis_result(1, "a", JsonObject::new())
        .await
        .expect("save");
    let repo = ctx.context().experiment_repository().expect("repo");
    assert!(repo.delete(1).await.expect("delete"));
    assert!(ctx.design_data().is_empty() && ctx.analysis_results().is_empty());
}

// ----- §5.2 design data and analysis results ----------------------------------------------------

#[tokio::test]
async fn saving_design_data_twice_keeps_id_and_created_at() {
    let ctx = build(RecordingContext::builder().plugin_id("designer"));
    let repo = ctx.context().plugin_data_repository().expect("repo");
    let first = repo
        .save_experiment_data(5, "designer", obj(json!({"a": 1})), "1.0")
        .await
        .expect("save");
    let second = repo
        .save_experiment_data(5, "designer", obj(json!({"a": 2})), "2.0")
        .await
        .expect("save again");
    assert_eq!((first.id, first.created_at), (second.id, second.created_at));
    assert!(second.updated_at >= first.updated_at);
    assert_eq!(second.data, obj(json!({"a": 2})));
    assert_eq!(second.schema_version, "2.0");
    assert_eq!(
        repo.get_experiment_data(5).await.expect("get").as_ref(),
        Some(&second)
    );
    assert_eq!(ctx.design_data(), [second]);
}

#[tokio::test]
async fn design_and_analysis_rows_share_one_id_counter() {
    let ctx = RecordingContext::new();
    let repo = ctx.context().plugin_data_repository().expect("repo");
    let d1 = repo
        .save_experiment_data(1, "d", JsonObject::new(), "1.0")
        .await
        .expect("save");
    let r1 = repo
        .save_analysis_result(1, "a", JsonObject::new())
        .await
        .expect("save");
    let d2 = repo
        .save_experiment_data(2, "d", JsonObject::new(), "1.0")
        .await
        .expect("save");
    let r2 = repo
        .save_analysis_result(1, "b", JsonObject::new())
        .await
        .expect("save");
    let r1_again = repo
        .save_analysis_result(1, "a", obj(json!({"v": 2})))
        .await
        .expect("save");
    assert_eq!([d1.id, r1.id, d2.id, r2.id, r1_again.id], [1, 2, 3, 4, 2]);
    assert_eq!(r1_again.created_at, r1.created_at);
}

#[tokio::test]
async fn writes_under_another_plugin_id_are_refused() {
    let ctx = build(RecordingContext::builder().plugin_id("mine"));
    let repo = ctx.context().plugin_data_repository().expect("repo");
    let design = repo
        .save_experiment_data(1, "theirs", JsonObject::new(), "1.0")
        .await
        .expect_err("foreign design");
    assert_permission(&design, "design_data.self");
    assert_eq!(design.details()["requested_plugin_id"], "theirs");
    assert_eq!(design.details()["own_plugin_id"], "mine");
    let result = repo
        .save_analysis_result(1, "theirs", JsonObject::new())
        .await
        .expect_err("foreign result");
    assert_permission(&result, "analysis_results.self");
    let delete = repo
        .delete_analysis_result(1, "theirs")
        .await
        .expect_err("foreign delete");
    assert_permission(&delete, "analysis_results.self");
    assert!(ctx.design_data().is_empty() && ctx.analysis_results().is_empty());
    assert_eq!(
        methods(&ctx),
        [
            "plugin_data.save_experiment_data",
            "plugin_data.save_analysis_result",
            "plugin_data.delete_analysis_result"
        ],
        "failed calls are recorded"
    );
}

#[tokio::test]
async fn saving_design_over_another_plugins_row_is_an_ownership_conflict() {
    let first = build(RecordingContext::builder().plugin_id("first"));
    first
        .context()
        .plugin_data_repository()
        .expect("repo")
        .save_experiment_data(7, "first", obj(json!({"a": 1})), "1.0")
        .await
        .expect("save");
    let second = first.other_plugin("second", Some(PluginType::ExperimentDesign));
    let repo = second.context().plugin_data_repository().expect("repo");
    let err = repo
        .save_experiment_data(7, "second", JsonObject::new(), "1.0")
        .await
        .expect_err("owned by first");
    assert_eq!(err.status(), StatusCode::CONFLICT);
    assert_eq!(err.code(), "DESIGN_DATA_OWNERSHIP_CONFLICT");
    assert_eq!(
        Value::Object(err.details()),
        json!({
            "experiment_id": 7,
            "current_owner_plugin_id": "first",
            "requested_owner_plugin_id": "second",
            "conflict_field": "plugin_id",
            "operation": "create_or_update",
            "entity": "design_data"
        })
    );
    let delete = repo
        .delete_experiment_data(7)
        .await
        .expect_err("not the owner");
    assert_permission(&delete, "design_data.self");
    assert_eq!(
        first.design_data()[0].data,
        obj(json!({"a": 1})),
        "row unchanged"
    );
    assert_eq!(
        methods(&first),
        ["plugin_data.save_experiment_data"],
        "calls are per plugin"
    );
    assert!(
        first
            .context()
            .plugin_data_repository()
            .expect("repo")
            .delete_experiment_data(7)
            .await
            .expect("owner deletes")
    );
    assert!(!repo.delete_experiment_data(7).await.expect("nothing left"));
}

#[tokio::test]
async fn get_analysis_results_lists_all_plugins_by_id() {
    let ctx = RecordingContext::new();
    let repo = ctx.context().plugin_data_repository().expect("repo");
    for plugin in ["b", "a", "c"] {
        repo.save_analysis_result(3, plugin, obj(json!({"by": plugin})))
            .await
            .expect("save");
    }
    repo.save_analysis_result(4, "a", JsonObject::new())
        .await
        .expect("save");
    let owners: Vec<String> = repo
        .get_analysis_results(3)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.plugin_id)
        .collect();
    assert_eq!(owners, ["b", "a", "c"]);
    assert_eq!(
        repo.get_analysis_result(3, "a")
            .await
            .expect("get")
            .map(|r| r.result),
        Some(obj(json!({"by": "a"})))
    );
    assert!(repo.delete_analysis_result(3, "a").await.expect("delete"));
    assert!(
        !repo
            .delete_analysis_result(3, "a")
            .await
            .expect("delete again")
    );
    assert_eq!(ctx.analysis_results().len(), 3);
}

#[tokio::test]
async fn an_analysis_context_refuses_save_experiment_data() {
    let ctx = build(
        RecordingContext::builder()
            .plugin_id("scorer")
            .plugin_type(PluginType::Analysis),
    );
    let repo = ctx.context().plugin_data_repository().expect("repo");
    let err = repo
        .save_experiment_data(1, "scorer", JsonObject::new(), "1.0")
        .await
        .expect_err("analysis plugins write no design data");
    assert_permission(&err, "design_data.write");
    let err = repo
        .delete_experiment_data(1)
        .await
        .expect_err("nor delete it");
    assert_permission(&err, "design_data.write");
    repo.save_analysis_result(1, "scorer", JsonObject::new())
        .await
        .expect("analysis results are allowed");
    assert!(ctx.design_data().is_empty());
}

#[tokio::test]
async fn a_design_context_refuses_save_analysis_result() {
    let ctx = build(
        RecordingContext::builder()
            .plugin_id("designer")
            .plugin_type(PluginType::ExperimentDesign),
    );
    let repo = ctx.context().plugin_data_repository().expect("repo");
    let err = repo
        .save_analysis_result(1, "designer", JsonObject::new())
        .await
        .expect_err("design plugins write no results");
    assert_permission(&err, "analysis_results.write");
    repo.save_experiment_data(1, "designer", JsonObject::new(), "1.0")
        .await
        .expect("design data is allowed");
    assert!(ctx.analysis_results().is_empty());
}

#[tokio::test]
async fn calls_list_save_experiment_data_after_plugin_save_design() {
    let ctx = build(
        RecordingContext::builder()
            .plugin_id("designer")
            .plugin_type(PluginType::ExperimentDesign),
    );
    let plugin = make_test_plugin(
        TestPluginOptions::default()
            .with_name("designer")
            .with_plugin_type(PluginType::ExperimentDesign),
    )
    .build();
    plugin
        .initialize(Some(ctx.context()))
        .await
        .expect("initialize");
    let saved = plugin
        .save_design(4, obj(json!({"plates": 2})), None)
        .await
        .expect("save")
        .expect("a store");
    assert_eq!(
        ctx.calls(),
        [RecordedCall {
            method: "plugin_data.save_experiment_data".into(),
            args: obj(json!({
                "experiment_id": 4, "plugin_id": "designer",
                "data": {"plates": 2}, "schema_version": "1.0"
            })),
        }]
    );
    assert_eq!(ctx.design_data(), [saved]);
    ctx.clear_calls();
    assert!(ctx.calls().is_empty());
    assert_eq!(ctx.design_data().len(), 1, "clearing calls keeps state");
}

// ----- §5.3 users, §5.4 roles -------------------------------------------------------------------

#[tokio::test]
async fn users_are_read_by_id_and_exact_username_and_listed_by_id() {
    let ctx = build(RecordingContext::builder().users([
        json!({"id": 2, "username": "bob"}),
        json!({"id": 1, "username": "alice", "role": "admin", "email": "a@lab.test"}),
        json!({"id": 3, "username": "carol", "is_active": false}),
    ]));
    let repo = ctx.context().user_repository().expect("repo");
    let all: Vec<i64> = repo
        .list_all(0, 100)
        .await
        .expect("list")
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(all, [1, 2, 3]);
    let page: Vec<i64> = repo
        .list_all(1, 1)
        .await
        .expect("list")
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(page, [2]);
    let bob = repo.get_by_id(2).await.expect("get").expect("bob");
    assert_eq!((bob.role.as_str(), bob.is_active), ("member", true));
    assert_eq!(
        repo.get_by_username("alice")
            .await
            .expect("get")
            .map(|u| u.id),
        Some(1)
    );
    assert_eq!(repo.get_by_username("Alice").await.expect("get"), None);
    assert!(!ctx.users()[2].is_active);
    assert_eq!(
        methods(&ctx),
        [
            "users.list_all",
            "users.list_all",
            "users.get_by_id",
            "users.get_by_username",
            "users.get_by_username"
        ]
    );
}

#[tokio::test]
async fn role_repository_upserts_scopes_and_orders() {
    let ctx = build(RecordingContext::builder().plugin_id("p").plugin_roles([
        json!({"id": 5, "user_id": 1, "plugin_id": "p", "role": "viewer"}),
        json!({"user_id": 2, "plugin_id": "p", "role": "editor"}),
        json!({"id": 2, "user_id": 1, "plugin_id": "other", "role": "admin"}),
    ]));
    let repo = ctx.context().plugin_role_repository().expect("repo");
    let created = repo.set_role("p", 3, "editor").await.expect("set");
    assert_eq!(created.id, 6, "roles continue at max(seeded) + 1");
    let again = repo.set_role("p", 3, "admin").await.expect("set again");
    assert_eq!(
        (again.id, again.created_at),
        (created.id, created.created_at)
    );
    assert_eq!(
        repo.get_role("p", 3).await.expect("get").as_deref(),
        Some("admin")
    );
    let listed: Vec<(i64, i64)> = repo
        .list_plugin_roles("p")
        .await
        .expect("list")
        .iter()
        .map(|r| (r.user_id, r.id))
        .collect();
    assert_eq!(listed, [(1, 5), (2, 0), (3, 6)]);
    let mine: Vec<String> = repo
        .list_user_roles(1)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.plugin_id)
        .collect();
    assert_eq!(mine, ["p"], "restricted to the calling plugin");
    assert!(repo.remove_role("p", 3).await.expect("remove"));
    assert!(!repo.remove_role("p", 3).await.expect("remove again"));
    assert_eq!(ctx.roles().len(), 3);
}

#[tokio::test]
async fn role_repository_refuses_other_plugin_ids() {
    let ctx = build(RecordingContext::builder().plugin_id("p"));
    let repo = ctx.context().plugin_role_repository().expect("repo");
    let errors = [
        repo.get_role("other", 1).await.expect_err("get"),
        repo.set_role("other", 1, "admin")
            .await
            .map(|_| ())
            .expect_err("set"),
        repo.remove_role("other", 1)
            .await
            .map(|_| ())
            .expect_err("remove"),
        repo.list_plugin_roles("other")
            .await
            .map(|_| ())
            .expect_err("list"),
    ];
    for err in &errors {
        assert_permission(err, "plugin_roles.self");
        assert_eq!(err.details()["requested_plugin_id"], "other");
        assert_eq!(err.details()["own_plugin_id"], "p");
    }
    assert!(ctx.roles().is_empty());
}

#[tokio::test]
async fn without_a_plugin_id_list_user_roles_spans_all_plugins() {
    let ctx = build(RecordingContext::builder().plugin_roles([
        json!({"id": 1, "user_id": 1, "plugin_id": "z", "role": "viewer"}),
        json!({"id": 2, "user_id": 1, "plugin_id": "a", "role": "editor"}),
    ]));
    let repo = ctx.context().plugin_role_repository().expect("repo");
    let plugins: Vec<String> = repo
        .list_user_roles(1)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.plugin_id)
        .collect();
    assert_eq!(plugins, ["a", "z"], "ordered by (plugin_id, id)");
}

// ----- §4.4 write_standalone_plugin_module and the test server ----------------------------------

#[test]
fn write_standalone_plugin_module_returns_dir_and_target() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, target) =
        write_standalone_plugin_module(tmp.path(), &StandaloneModuleOptions::default())
            .expect("write");
    assert_eq!(dir, tmp.path());
    assert_eq!(target, "plugin_pkg.dummy_plugin:create_standalone_app");
    let spec_path = tmp.path().join("plugin_pkg").join("dummy_plugin.json");
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(&spec_path).expect("read")).expect("json");
    assert_eq!(
        spec,
        json!({"routes_prefix": "/dummy", "exit_immediately": false, "startup_sleep_seconds": 0.0})
    );
    assert_eq!(module_spec_path(tmp.path(), &target), Some(spec_path));
}

#[test]
fn module_targets_of_other_forms_are_not_specs() {
    let dir = Path::new("/d");
    for target in [
        "plugin_pkg.dummy_plugin",
        "other_pkg.dummy_plugin:create_standalone_app",
        "plugin_pkg.dummy_plugin:create_app",
        "plugin_pkg.../x:create_standalone_app",
    ] {
        assert_eq!(module_spec_path(dir, target), None, "{target}");
    }
}

#[test]
fn write_standalone_plugin_module_rejects_bad_options() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = StandaloneModuleOptions::default();
    let cases = [
        (
            StandaloneModuleOptions {
                module_name: "../x".into(),
                ..base.clone()
            },
            "module_name",
        ),
        (
            StandaloneModuleOptions {
                module_name: "1x".into(),
                ..base.clone()
            },
            "module_name",
        ),
        (
            StandaloneModuleOptions {
                routes_prefix: "dummy".into(),
                ..base.clone()
            },
            "routes_prefix",
        ),
        (
            StandaloneModuleOptions {
                startup_sleep_seconds: -1.0,
                ..base.clone()
            },
            "startup_sleep_seconds",
        ),
        (
            StandaloneModuleOptions {
                startup_sleep_seconds: f64::NAN,
                ..base.clone()
            },
            "startup_sleep_seconds",
        ),
    ];
    for (options, field) in cases {
        let err = write_standalone_plugin_module(tmp.path(), &options).expect_err(field);
        assert_eq!(err.details()["field"], field);
    }
}

/// A running `mint-test-plugin` child, killed on drop.
struct Child {
    process: tokio::process::Child,
    base: String,
}

fn test_server(spec: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mint-test-plugin"));
    cmd.arg("--spec")
        .arg(spec)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env_remove("MINT_PLUGIN_NAME")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Spawns the child and waits for its "listening on" line.
async fn spawn_child(mut cmd: tokio::process::Command) -> Child {
    let mut process = cmd.spawn().expect("spawn mint-test-plugin");
    let stdout = process.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the child reports its address within 30 s")
        .expect("read stdout")
        .expect("a line");
    let base = line
        .strip_prefix("mint-test-plugin listening on ")
        .expect("listening line")
        .to_string();
    Child { process, base }
}

async fn get_json(url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_child_serves_health_echo_and_the_runtime_probe() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_standalone_plugin_module(tmp.path(), &StandaloneModuleOptions::default()).expect("write");
    let spec = tmp.path().join("plugin_pkg/dummy_plugin.json");
    let mut child = spawn_child(test_server(&spec)).await;
    let base = child.base.clone();

    let (status, body) = get_json(&format!("{base}/api/dummy/health"), &[]).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));

    let (status, body) = get_json(
        &format!("{base}/api/dummy/echo"),
        &[
            ("x-mint-user-id", "7"),
            ("x-mint-username", "ada"),
            ("x-mint-user-role", "member"),
            ("x-mint-internal-token", "secret-token"),
            ("authorization", "Bearer abc"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"user_id": "7", "username": "ada", "user_role": "member",
               "internal_token": "secret-token", "authorization": "Bearer abc"})
    );
    let (_, body) = get_json(&format!("{base}/api/dummy/echo"), &[]).await;
    assert_eq!(
        body,
        json!({"user_id": null, "username": null, "user_role": null,
               "internal_token": null, "authorization": null})
    );

    let (status, body) = get_json(&format!("{base}/api/dummy/_mint/runtime"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"name": "dummy_plugin", "configRequiresAdmin": false})
    );
    let (status, body) = get_json(&format!("{base}/api/other/health"), &[]).await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, json!("resource.not_found"))
    );

    child.process.start_kill().expect("kill");
    let _ = child.process.wait().await;
}

#[tokio::test]
async fn the_child_uses_a_custom_prefix_and_the_plugin_name_from_env() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let options = StandaloneModuleOptions {
        module_name: "other_module".into(),
        routes_prefix: "/elsewhere".into(),
        ..Default::default()
    };
    let (dir, target) = write_standalone_plugin_module(tmp.path(), &options).expect("write");
    let spec = module_spec_path(&dir, &target).expect("spec path");
    let mut cmd = test_server(&spec);
    cmd.env("MINT_PLUGIN_NAME", "Dummy Plugin");
    let mut child = spawn_child(cmd).await;
    let (status, _) = get_json(&format!("{}/api/elsewhere/health", child.base), &[]).await;
    assert_eq!(status, 200);
    let (_, body) = get_json(&format!("{}/api/elsewhere/_mint/runtime", child.base), &[]).await;
    assert_eq!(body["name"], "Dummy Plugin");
    child.process.start_kill().expect("kill");
    let _ = child.process.wait().await;
}

#[tokio::test]
async fn exit_immediately_exits_1_with_the_message_on_stderr() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let options = StandaloneModuleOptions {
        exit_immediately: true,
        ..Default::default()
    };
    write_standalone_plugin_module(tmp.path(), &options).expect("write");
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        test_server(&tmp.path().join("plugin_pkg/dummy_plugin.json")).output(),
    )
    .await
    .expect("exits at once")
    .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("intentional immediate exit"),
        "{output:?}"
    );
    assert!(output.stdout.is_empty(), "it never listened");
}

#[tokio::test]
async fn startup_sleep_delays_listening() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let options = StandaloneModuleOptions {
        startup_sleep_seconds: 0.3,
        ..Default::default()
    };
    write_standalone_plugin_module(tmp.path(), &options).expect("write");
    let started = Instant::now();
    let mut child = spawn_child(test_server(
        &tmp.path().join("plugin_pkg/dummy_plugin.json"),
    ))
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    let (status, _) = get_json(&format!("{}/api/dummy/health", child.base), &[]).await;
    assert_eq!(status, 200);
    child.process.start_kill().expect("kill");
    let _ = child.process.wait().await;
}

#[tokio::test]
async fn a_missing_spec_exits_1_and_bad_arguments_exit_2() {
    let output = test_server(Path::new("/nonexistent/plugin_pkg/x.json"))
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Invalid test plugin spec"));
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_mint-test-plugin"))
        .arg("--bogus")
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
}
