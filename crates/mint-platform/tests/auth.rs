//! Login, tokens, verify, refresh, logout and health through real HTTP (platform-api.md §2, §4.1).

mod common;

use common::{ADMIN_PASSWORD, Backend, TestPlatform, postgres_url};
use serde_json::json;

#[tokio::test]
async fn login_verify_refresh_logout_round_trip() {
    let tp = TestPlatform::start(vec![]).await;
    let (status, body) = tp
        .post(
            "/api/auth/login",
            None,
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["user"]["id"], 1);
    assert_eq!(body["user"]["role"], "admin");
    let token = body["access_token"].as_str().unwrap().to_string();

    let (status, body) = tp.get("/api/auth/verify", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["valid"], true);
    assert_eq!(body["username"], "admin");
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));

    let (status, body) = tp.get("/api/auth/verify", Some("garbage")).await;
    assert_eq!((status, &body["valid"]), (200, &json!(false)));
    assert_eq!(body["user"], serde_json::Value::Null);

    // Refresh and logout take no body and no Content-Type.
    let response = tp
        .client
        .post(tp.at("/api/auth/refresh"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let refreshed: serde_json::Value = response.json().await.unwrap();
    assert!(refreshed["access_token"].as_str().unwrap().len() > 20);

    let response = tp
        .client
        .post(tp.at("/api/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (_, body) = tp.get("/api/auth/verify", Some(&token)).await;
    assert_eq!(body["valid"], false, "a logged-out token is revoked");
    let (status, _) = tp
        .post("/api/auth/refresh", Some(&token), json!(null))
        .await;
    assert_eq!(status, 401, "a revoked token cannot be refreshed");
    tp.finish().await;
}

#[tokio::test]
async fn bad_credentials_give_401_in_the_envelope_and_health_ignores_bad_tokens() {
    let tp = TestPlatform::start(vec![]).await;
    let (status, body) = tp
        .post(
            "/api/auth/login",
            None,
            json!({"username": "admin", "password": "wrong"}),
        )
        .await;
    assert_eq!(status, 401);
    for key in [
        "code",
        "message",
        "status",
        "detail",
        "request_id",
        "details",
    ] {
        assert!(body.get(key).is_some(), "{key} in {body}");
    }
    let (status, body) = tp.get("/api/health", Some("stale.bad.token")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["database"]["mode"], "sqlite");
    let (status, _) = tp.get("/health", None).await;
    assert_eq!(status, 200);
    let (status, _) = tp.get("/api/auth/config", Some("bad")).await;
    assert_eq!(status, 200);
    tp.finish().await;
}

#[tokio::test]
async fn platform_starts_and_logs_in_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set");
        return;
    }
    let tp = TestPlatform::start_with(Backend::Postgres, vec![], |_| {}).await;
    let token = tp.admin_token().await;
    let (status, body) = tp.get("/api/health", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["database"]["mode"], "postgresql");
    tp.finish().await;
}
