//! Frontend serving through HTTP (app-testing-export.md §1.2, §2, the "SPA:" checklist lines):
//! the standalone app of a plugin with a frontend built into a temp directory, driven with
//! `tower::ServiceExt::oneshot`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::routing;
use http_body_util::BodyExt;
use mint_sdk::frontend::FRONTEND_REVISION_HEADER;
use mint_sdk::{
    AnalysisPlugin, PluginCore, PluginError, PluginMetadata, SpaStaticFiles, StandaloneOptions,
    create_standalone_app,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

const INDEX_HTML: &str = "<!doctype html><html><body>SPA INDEX</body></html>";
const DOCS_INDEX_HTML: &str = "<!doctype html><p>DOCS INDEX</p>";
const SECRET: &str = "TOP SECRET outside the frontend";
const NO_STORE: &str = "no-store, no-cache, must-revalidate, max-age=0";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache, must-revalidate";

struct SpaPlugin {
    core: PluginCore,
    frontend: Option<PathBuf>,
}

#[async_trait]
impl AnalysisPlugin for SpaPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("spa plugin", "0.1.0", "frontend test", "test", "/p")
    }
    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        vec![(
            Router::new().route("/hello", routing::get(|| async { "hello" })),
            String::new(),
        )]
    }
    fn frontend_dir(&self) -> Option<PathBuf> {
        self.frontend.clone()
    }
}

fn plugin(frontend: Option<PathBuf>) -> Arc<SpaPlugin> {
    Arc::new(SpaPlugin {
        core: PluginCore::new(),
        frontend,
    })
}

/// A temp dir holding `dist/` (the frontend) and, next to it, `secret.txt` (must never leak).
struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let files: &[(&str, &[u8])] = &[
            ("dist/index.html", INDEX_HTML.as_bytes()),
            (
                "dist/logo.svg",
                b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            ),
            ("dist/assets/index-BzX3k9aQ.js", b"console.log('app');"),
            ("dist/assets/logo.svg", b"<svg/>"),
            ("dist/assets/style-Q1w2E3r4.css", b"body{}"),
            ("dist/docs/index.html", DOCS_INDEX_HTML.as_bytes()),
            ("dist/data.json", b"{}"),
            ("dist/module.mjs", b"export {};"),
            ("dist/favicon.ico", b"\0\0\x01\0"),
            ("dist/pic.png", b"\x89PNG"),
            ("dist/font.woff2", b"wOF2"),
            ("dist/app.wasm", b"\0asm"),
            ("dist/robots.txt", b"User-agent: *"),
            ("secret.txt", SECRET.as_bytes()),
        ];
        for (path, content) in files {
            let path = tmp.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, content).expect("write");
        }
        Self { tmp }
    }

    fn dist(&self) -> PathBuf {
        self.tmp.path().join("dist")
    }

    fn router(&self) -> Router {
        router_with(plugin(Some(self.dist())), StandaloneOptions::default())
    }
}

fn router_with(plugin: Arc<SpaPlugin>, options: StandaloneOptions) -> Router {
    create_standalone_app(plugin, options)
        .expect("valid app")
        .router()
}

fn options_with_frontend(dir: &Path) -> StandaloneOptions {
    StandaloneOptions {
        frontend_dir: Some(dir.to_path_buf()),
        ..Default::default()
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
    json: Value,
}

impl Reply {
    fn header(&self, name: impl header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn assert_no_store(&self) {
        assert_eq!(self.header(header::CACHE_CONTROL), NO_STORE);
        assert_eq!(self.header(header::PRAGMA), "no-cache");
        assert_eq!(self.header(header::EXPIRES), "0");
    }

    fn assert_not_found_envelope(&self) {
        assert_eq!(self.status, StatusCode::NOT_FOUND, "{}", self.text);
        assert_eq!(self.json["code"], "resource.not_found", "{}", self.text);
        assert_eq!(self.json["message"], "Not Found");
        assert_eq!(self.json["status"], 404);
        assert!(
            self.header(header::CONTENT_TYPE)
                .starts_with("application/json")
        );
    }
}

async fn send_req(router: &Router, req: Request<Body>) -> Reply {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

async fn request(router: &Router, method: Method, uri: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    send_req(router, req).await
}

async fn get(router: &Router, uri: &str) -> Reply {
    request(router, Method::GET, uri).await
}

fn expected_revision(dist: &Path) -> String {
    let bytes = std::fs::read(dist.join("index.html")).expect("index");
    let hex: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

// ----- §2 path resolution ------------------------------------------------------------------------

#[tokio::test]
async fn mount_root_serves_index_html_uncached() {
    let fx = Fixture::new();
    let reply = get(&fx.router(), "/p/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text, INDEX_HTML);
    assert!(reply.header(header::CONTENT_TYPE).starts_with("text/html"));
    reply.assert_no_store();
}

#[tokio::test]
async fn prefix_without_trailing_slash_redirects_307_to_the_slash() {
    let fx = Fixture::new();
    let router = fx.router();
    for (method, uri, location) in [
        (Method::GET, "/p", "/p/"),
        (Method::HEAD, "/p", "/p/"),
        (Method::GET, "/p?tab=2", "/p/?tab=2"),
    ] {
        let reply = request(&router, method.clone(), uri).await;
        assert_eq!(
            reply.status,
            StatusCode::TEMPORARY_REDIRECT,
            "{method} {uri}"
        );
        assert_eq!(reply.header(header::LOCATION), location);
    }
}

#[tokio::test]
async fn deep_link_falls_back_to_index_with_no_store_headers() {
    let fx = Fixture::new();
    let reply = get(&fx.router(), "/p/settings/deep").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text, INDEX_HTML);
    assert!(reply.header(header::CONTENT_TYPE).starts_with("text/html"));
    reply.assert_no_store();
}

#[tokio::test]
async fn deep_link_fallback_ignores_conditional_and_range_headers() {
    let fx = Fixture::new();
    let req = Request::get("/p/settings/deep")
        .header(header::RANGE, "bytes=0-3")
        .header(header::IF_MODIFIED_SINCE, "Fri, 01 Jan 2100 00:00:00 GMT")
        .body(Body::empty())
        .expect("request");
    let reply = send_req(&fx.router(), req).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text, INDEX_HTML);
}

#[tokio::test]
async fn directory_without_index_falls_back_to_the_root_index() {
    let fx = Fixture::new();
    let reply = get(&fx.router(), "/p/assets/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text, INDEX_HTML);
    reply.assert_no_store();
}

#[tokio::test]
async fn directory_with_index_serves_its_own_index() {
    let fx = Fixture::new();
    let router = fx.router();
    for uri in ["/p/docs/", "/p/docs", "/p/docs/index.html"] {
        let reply = get(&router, uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.text, DOCS_INDEX_HTML, "{uri}");
        assert!(reply.header(header::CONTENT_TYPE).starts_with("text/html"));
        assert_eq!(reply.header(header::CACHE_CONTROL), REVALIDATE, "{uri}");
    }
}

#[tokio::test]
async fn regular_files_are_served_with_the_mime_type_of_their_extension() {
    let fx = Fixture::new();
    let router = fx.router();
    let rows = [
        ("/p/index.html", "text/html"),
        ("/p/logo.svg", "image/svg+xml"),
        ("/p/assets/index-BzX3k9aQ.js", "text/javascript"),
        ("/p/assets/style-Q1w2E3r4.css", "text/css"),
        ("/p/data.json", "application/json"),
        ("/p/module.mjs", "application/javascript"),
        ("/p/favicon.ico", "image/x-icon"),
        ("/p/pic.png", "image/png"),
        ("/p/font.woff2", "font/woff2"),
        ("/p/app.wasm", "application/wasm"),
        ("/p/robots.txt", "text/plain"),
    ];
    for (uri, mime) in rows {
        let reply = get(&router, uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.header(header::CONTENT_TYPE), mime, "{uri}");
    }
    let reply = get(&router, "/p/robots.txt").await;
    assert_eq!(reply.text, "User-agent: *");
}

#[tokio::test]
async fn missing_asset_with_an_extension_is_a_404_envelope() {
    let fx = Fixture::new();
    let router = fx.router();
    for uri in [
        "/p/assets/x-12345678.js",
        "/p/missing.png",
        "/p/assets/gone.css",
        "/p/docs/nope.html",
    ] {
        let reply = get(&router, uri).await;
        reply.assert_not_found_envelope();
        assert!(
            reply.json["request_id"].is_string(),
            "envelope carries the request id"
        );
        reply.assert_no_store();
    }
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let fx = Fixture::new();
    let router = fx.router();
    let reply = request(&router, Method::HEAD, "/p/assets/index-BzX3k9aQ.js").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_LENGTH), "19");
    assert_eq!(reply.header(header::CACHE_CONTROL), IMMUTABLE);
    assert!(reply.text.is_empty());
    let reply = request(&router, Method::HEAD, "/p/settings/deep").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.assert_no_store();
}

#[tokio::test]
async fn ranges_and_validators_work_on_real_files() {
    let fx = Fixture::new();
    let router = fx.router();
    let ranged = Request::get("/p/robots.txt")
        .header(header::RANGE, "bytes=0-3")
        .body(Body::empty())
        .expect("request");
    let reply = send_req(&router, ranged).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::PARTIAL_CONTENT, "User")
    );
    let unsatisfiable = Request::get("/p/robots.txt")
        .header(header::RANGE, "bytes=9999-")
        .body(Body::empty())
        .expect("request");
    let reply = send_req(&router, unsatisfiable).await;
    assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(reply.json["status"], 416);
    assert!(!reply.header(header::CONTENT_RANGE).is_empty());
    assert!(!reply.header(FRONTEND_REVISION_HEADER).is_empty());
    let first = get(&router, "/p/logo.svg").await;
    let etag = first.header(header::ETAG).to_string();
    assert!(!etag.is_empty(), "files carry a validator for revalidation");
    let revalidate = Request::get("/p/logo.svg")
        .header(header::IF_NONE_MATCH, etag)
        .body(Body::empty())
        .expect("request");
    let reply = send_req(&router, revalidate).await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert_eq!(reply.header(header::CACHE_CONTROL), REVALIDATE);
    assert!(!reply.header(FRONTEND_REVISION_HEADER).is_empty());
}

#[tokio::test]
async fn other_methods_get_a_405_envelope() {
    let fx = Fixture::new();
    let router = fx.router();
    for (method, uri) in [
        (Method::POST, "/p/"),
        (Method::POST, "/p/settings/deep"),
        (Method::PUT, "/p/logo.svg"),
        (Method::DELETE, "/p/assets/index-BzX3k9aQ.js"),
        (Method::POST, "/p"),
    ] {
        let reply = request(&router, method.clone(), uri).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        assert_eq!(reply.json["code"], "request.method_not_allowed");
        assert_eq!(reply.json["message"], "Method Not Allowed");
        assert_eq!(reply.header(header::ALLOW), "GET, HEAD");
    }
}

// ----- §2 caching and revision -------------------------------------------------------------------

#[tokio::test]
async fn fingerprinted_asset_gets_immutable_cache() {
    let fx = Fixture::new();
    let router = fx.router();
    for uri in [
        "/p/assets/index-BzX3k9aQ.js",
        "/p/assets/style-Q1w2E3r4.css",
    ] {
        let reply = get(&router, uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.header(header::CACHE_CONTROL), IMMUTABLE, "{uri}");
        assert!(reply.headers.get(header::PRAGMA).is_none());
        assert!(reply.headers.get(header::EXPIRES).is_none());
    }
}

#[tokio::test]
async fn unfingerprinted_asset_must_revalidate() {
    let fx = Fixture::new();
    let router = fx.router();
    for uri in ["/p/logo.svg", "/p/assets/logo.svg", "/p/data.json"] {
        let reply = get(&router, uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.header(header::CACHE_CONTROL), REVALIDATE, "{uri}");
        assert!(reply.headers.get(header::PRAGMA).is_none());
    }
}

#[tokio::test]
async fn index_html_by_name_is_never_stored() {
    let fx = Fixture::new();
    let reply = get(&fx.router(), "/p/index.html").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.assert_no_store();
}

#[tokio::test]
async fn every_frontend_response_carries_the_revision_header() {
    let fx = Fixture::new();
    let router = fx.router();
    let revision = expected_revision(&fx.dist());
    assert_eq!(revision.len(), "sha256:".len() + 64);
    let cases = [
        (Method::GET, "/p"),
        (Method::GET, "/p/"),
        (Method::GET, "/p/settings/deep"),
        (Method::GET, "/p/assets/index-BzX3k9aQ.js"),
        (Method::GET, "/p/logo.svg"),
        (Method::GET, "/p/docs/"),
        (Method::GET, "/p/assets/x-12345678.js"),
        (Method::GET, "/p/%2e%2e/secret.txt"),
        (Method::HEAD, "/p/"),
        (Method::POST, "/p/"),
        (Method::POST, "/p"),
    ];
    for (method, uri) in cases {
        let reply = request(&router, method.clone(), uri).await;
        assert_eq!(
            reply.header(FRONTEND_REVISION_HEADER),
            revision,
            "{method} {uri} ({})",
            reply.status
        );
        assert!(!reply.header(header::CACHE_CONTROL).is_empty(), "{uri}");
        assert!(!reply.header("x-request-id").is_empty(), "{uri}");
    }
}

#[test]
fn revision_is_sha256_of_index_html_computed_at_construction() {
    let fx = Fixture::new();
    let files = SpaStaticFiles::new(fx.dist()).expect("valid frontend");
    assert_eq!(files.revision(), expected_revision(&fx.dist()));
    std::fs::write(fx.dist().join("index.html"), "changed").expect("write");
    assert_ne!(files.revision(), expected_revision(&fx.dist()));
}

// ----- §2 traversal ------------------------------------------------------------------------------

#[tokio::test]
async fn traversal_attempts_are_404_and_never_leak_a_file_outside() {
    let fx = Fixture::new();
    let router = fx.router();
    let attempts = [
        "/p/../secret.txt",
        "/p/assets/../../secret.txt",
        "/p/%2e%2e/secret.txt",
        "/p/%2E%2e/secret.txt",
        "/p/assets/%2e%2e/%2e%2e/secret.txt",
        "/p/..%2fsecret.txt",
        "/p/%2e%2e%2fsecret.txt",
        "/p/assets%2f..%2f..%2fsecret.txt",
        "/p/..%5csecret.txt",
        "/p/%5c..%5csecret.txt",
        "/p/C:/secret.txt",
        "/p/C:%5csecret.txt",
        "/p/c:",
        "/p/index.html%00",
        "/p/%00",
        "/p/index.html%00.js",
        "/p/..",
        "/p/%2e%2e",
    ];
    for uri in attempts {
        let reply = get(&router, uri).await;
        reply.assert_not_found_envelope();
        assert!(!reply.text.contains(SECRET), "{uri} leaked the secret");
        reply.assert_no_store();
    }
}

#[tokio::test]
async fn odd_paths_never_give_a_500_nor_a_file_outside() {
    let fx = Fixture::new();
    let router = fx.router();
    let odd = [
        "/p//secret.txt",
        "/p///../secret.txt",
        "/p/%252e%252e/secret.txt",
        "/p/%ff%fe",
        "/p/100%",
        "/p/%zz",
        "/p/./././",
        "/p/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z",
        "/p/secret.txt",
        "/p/%2fetc%2fpasswd",
        "/p//etc/passwd",
    ];
    for uri in odd {
        let reply = get(&router, uri).await;
        assert!(
            reply.status == StatusCode::OK || reply.status == StatusCode::NOT_FOUND,
            "{uri}: {}",
            reply.status
        );
        assert!(!reply.text.contains(SECRET), "{uri} leaked the secret");
        assert!(!reply.text.contains("root:"), "{uri} leaked /etc/passwd");
        if reply.status == StatusCode::OK {
            assert_eq!(reply.text, INDEX_HTML, "{uri}: only the SPA fallback");
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_pointing_outside_are_not_served() {
    let fx = Fixture::new();
    let dist = fx.dist();
    let outside = fx.tmp.path().join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(outside.join("leak.js"), SECRET).expect("write");
    std::fs::write(outside.join("index.html"), SECRET).expect("write");
    std::os::unix::fs::symlink(fx.tmp.path().join("secret.txt"), dist.join("leak.txt"))
        .expect("symlink");
    std::os::unix::fs::symlink(&outside, dist.join("linked")).expect("symlink");
    let router = fx.router();
    for uri in ["/p/leak.txt", "/p/linked/leak.js", "/p/linked/index.html"] {
        let reply = get(&router, uri).await;
        reply.assert_not_found_envelope();
        assert!(!reply.text.contains(SECRET), "{uri} leaked the secret");
    }
    // A directory symlinked from outside does not lend its index.html either.
    let reply = get(&router, "/p/linked/").await;
    reply.assert_not_found_envelope();
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_inside_the_directory_are_served() {
    let fx = Fixture::new();
    let dist = fx.dist();
    std::os::unix::fs::symlink(
        dist.join("assets/index-BzX3k9aQ.js"),
        dist.join("latest.js"),
    )
    .expect("symlink");
    let reply = get(&fx.router(), "/p/latest.js").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text, "console.log('app');");
    assert_eq!(reply.header(header::CONTENT_TYPE), "text/javascript");
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_frontend_directory_is_served() {
    let fx = Fixture::new();
    let link = fx.tmp.path().join("dist-link");
    std::os::unix::fs::symlink(fx.dist(), &link).expect("symlink");
    let router = router_with(plugin(Some(link)), StandaloneOptions::default());
    let reply = get(&router, "/p/logo.svg").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[cfg(unix)]
#[tokio::test]
async fn a_fifo_is_never_opened() {
    let fx = Fixture::new();
    let fifo = fx.dist().join("pipe.js");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        println!("skipped: mkfifo not available");
        return;
    }
    let router = fx.router();
    let reply = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        get(&router, "/p/pipe.js"),
    )
    .await
    .expect("answered without blocking on the FIFO");
    reply.assert_not_found_envelope();
}

// ----- construction and wiring (§1, §1.2, §2) ----------------------------------------------------

#[test]
fn missing_index_html_fails_construction() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = SpaStaticFiles::new(tmp.path()).expect_err("no index.html");
    let PluginError::Configuration { .. } = &err else {
        panic!("expected a configuration error, got {err:?}");
    };
    assert_eq!(err.details()["config_key"], "frontend_dir");
    let missing = tmp.path().join("index.html");
    assert!(
        err.message().contains(&missing.display().to_string()),
        "{}",
        err.message()
    );
}

#[test]
fn a_missing_frontend_directory_fails_construction() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("no-such-dist");
    let err = SpaStaticFiles::new(&missing).expect_err("no directory");
    assert_eq!(err.details()["config_key"], "frontend_dir");
    assert!(err.message().contains(&missing.display().to_string()));
}

#[test]
fn create_standalone_app_validates_the_frontend_dir_eagerly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let from_option = create_standalone_app(plugin(None), options_with_frontend(tmp.path()));
    assert!(matches!(
        from_option,
        Err(PluginError::Configuration { .. })
    ));
    let from_plugin = create_standalone_app(
        plugin(Some(tmp.path().to_path_buf())),
        StandaloneOptions::default(),
    );
    assert!(matches!(
        from_plugin,
        Err(PluginError::Configuration { .. })
    ));
}

#[tokio::test]
async fn frontend_dir_option_beats_the_plugins_frontend_dir() {
    let fx = Fixture::new();
    let other = tempfile::tempdir().expect("tempdir");
    std::fs::write(other.path().join("index.html"), "OTHER INDEX").expect("write");
    let router = router_with(plugin(Some(fx.dist())), options_with_frontend(other.path()));
    assert_eq!(get(&router, "/p/").await.text, "OTHER INDEX");
    let router = router_with(plugin(None), options_with_frontend(&fx.dist()));
    assert_eq!(get(&router, "/p/").await.text, INDEX_HTML);
}

#[tokio::test]
async fn without_a_frontend_the_prefix_is_an_unknown_path() {
    let router = router_with(plugin(None), StandaloneOptions::default());
    for uri in ["/p", "/p/", "/p/settings/deep"] {
        get(&router, uri).await.assert_not_found_envelope();
    }
}

#[tokio::test]
async fn api_routes_are_untouched_by_the_frontend() {
    let fx = Fixture::new();
    let router = fx.router();
    let reply = get(&router, "/api/p/hello").await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, "hello")
    );
    assert!(reply.headers.get(FRONTEND_REVISION_HEADER).is_none());
    let reply = get(&router, "/api/p/nope").await;
    reply.assert_not_found_envelope();
    assert!(reply.headers.get(FRONTEND_REVISION_HEADER).is_none());
    let reply = get(&router, "/pp/").await;
    reply.assert_not_found_envelope();
    assert!(reply.headers.get(FRONTEND_REVISION_HEADER).is_none());
}

#[tokio::test]
async fn spa_static_files_is_a_service_over_the_path_under_the_mount() {
    let fx = Fixture::new();
    let files = SpaStaticFiles::new(fx.dist()).expect("valid frontend");
    let nested = Router::new().nest_service("/ui", files.clone());
    let reply = get(&nested, "/ui/settings/deep").await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, INDEX_HTML)
    );
    let reply = get(&nested, "/ui/assets/index-BzX3k9aQ.js").await;
    assert_eq!(reply.header(header::CACHE_CONTROL), IMMUTABLE);
    let direct = files
        .oneshot(
            Request::get("/assets/x-12345678.js")
                .body(())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(direct.status(), StatusCode::NOT_FOUND);
}
