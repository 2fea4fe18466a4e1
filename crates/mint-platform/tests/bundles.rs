//! Plugin bundles through real HTTP (platform-api.md §4.5, cli.md §2.3, migrations.md §1):
//! `.mint` files built here with a manifest, a small executable, a frontend and their
//! checksums are uploaded or installed from a path, listed, refused, replaced, uninstalled
//! with their data kept, archived or purged, and still installed after a restart.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{Backend, TestPlatform, postgres_url};
use mint_platform::plugins::bundle::HOST_TRIPLE;
use mint_platform::plugins::storage::{PluginStorage, schema_name};
use mint_sdk::migrations::{
    Column, MigrationError, MigrationOps, MigrationRunner, PluginMigration,
};
use mint_sdk::sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// ----- building bundles -------------------------------------------------------------------------

const BINARY: &[u8] = b"#!/bin/sh\necho demo plugin\n";
const INDEX_HTML: &[u8] = b"<!doctype html><title>demo</title>";
const OTHER_TRIPLE: &str = "riscv64gc-unknown-none-elf";

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A bundle under construction: its manifest and its entries, in order.
struct Bundle {
    manifest: Value,
    entries: Vec<Entry>,
}

enum Entry {
    File(String, Vec<u8>),
    Symlink(String, String),
}

impl Bundle {
    /// `name` `version` at `/name`, with a binary for this host and one other triple and a
    /// frontend, every checksum right.
    fn new(name: &str, version: &str) -> Self {
        let mut bundle = Self {
            manifest: json!({
                "format_version": 2,
                "plugin": {
                    "name": name, "version": version, "description": "A bundled plugin",
                    "requires_mint": ">=0.1", "has_frontend": true,
                    "routes_prefix": format!("/{name}"), "plugin_type": "analysis",
                    "analysis_type": "demo",
                    "capabilities": {"requires_auth": true},
                    "dependencies": [], "schema_version": "1.0",
                },
                "runtime": {"kind": "binary", "entry": name, "targets": {}},
                "frontend": "frontend/",
                "migrations": [{"version": 1, "name": "create_notes"}],
                "sdk": {"rust": "0.1.0"},
                "checksums": {},
            }),
            entries: Vec::new(),
        };
        bundle.binary(HOST_TRIPLE, BINARY);
        bundle.binary(OTHER_TRIPLE, b"not for this host");
        bundle.file("frontend/index.html", INDEX_HTML);
        bundle.file("frontend/assets/app.js", b"console.log('demo')");
        bundle.file("LICENSE", b"Apache-2.0");
        bundle
    }

    fn name(&self) -> String {
        self.manifest["plugin"]["name"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Adds `bin/<triple>/<entry>` as the binary of `triple`.
    fn binary(&mut self, triple: &str, bytes: &[u8]) -> &mut Self {
        let path = format!("bin/{triple}/{}", self.name());
        self.manifest["runtime"]["targets"][triple] = json!(path);
        self.file(&path, bytes)
    }

    /// Adds a file with its checksum.
    fn file(&mut self, path: &str, bytes: &[u8]) -> &mut Self {
        self.manifest["checksums"][path] = json!(format!("sha256:{}", sha256(bytes)));
        self.raw(path, bytes)
    }

    /// Adds an entry without touching the manifest.
    fn raw(&mut self, path: &str, bytes: &[u8]) -> &mut Self {
        self.entries.push(Entry::File(path.into(), bytes.to_vec()));
        self
    }

    /// Removes an entry (its checksum stays).
    fn without(&mut self, path: &str) -> &mut Self {
        self.entries
            .retain(|e| !matches!(e, Entry::File(p, _) if p == path));
        self
    }

    /// The ZIP: `manifest.json` first, then the entries (deflated, 0755 for binaries).
    fn bytes(&self) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(MANIFEST, options).unwrap();
        zip.write_all(self.manifest.to_string().as_bytes()).unwrap();
        for entry in &self.entries {
            match entry {
                Entry::File(path, bytes) => {
                    let mode = if path.starts_with("bin/") {
                        0o755
                    } else {
                        0o644
                    };
                    zip.start_file(path.as_str(), options.unix_permissions(mode))
                        .unwrap();
                    zip.write_all(bytes).unwrap();
                }
                Entry::Symlink(path, target) => {
                    zip.add_symlink(path.as_str(), target.as_str(), options)
                        .unwrap();
                }
            }
        }
        zip.finish().unwrap().into_inner()
    }
}

const MANIFEST: &str = "manifest.json";

// ----- helpers ----------------------------------------------------------------------------------

async fn upload(tp: &TestPlatform, token: &str, bytes: Vec<u8>, force: bool) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("bundle.mint");
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = tp
        .client
        .post(tp.at(&format!("/api/plugins/upload?force={force}")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn plugins_dir(tp: &TestPlatform) -> PathBuf {
    tp.dir.path().join("plugins")
}

/// Everything under `<data_dir>/plugins`, relative, sorted (files and directories).
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

async fn plugin_list(tp: &TestPlatform, token: &str) -> Value {
    let (status, body) = tp.get("/api/plugins", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn loaded<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["loaded"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
}

fn hello() -> std::sync::Arc<dyn mint_sdk::AnalysisPlugin> {
    std::sync::Arc::new(hello_mint::HelloMintPlugin::new())
}

// ----- install and list -------------------------------------------------------------------------

async fn an_uploaded_bundle_is_installed_and_listed_as_isolated_and_failed(backend: Backend) {
    let tp = TestPlatform::start_with(backend, vec![hello()], |_| {}).await;
    let admin = tp.admin_token().await;

    let (status, result) = upload(&tp, &admin, Bundle::new("demo", "0.1.0").bytes(), false).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["name"], "demo");
    assert_eq!(result["version"], "0.1.0");
    assert_eq!(result["restart_required"], false);
    assert_eq!(result["conflict_detected"], false);
    let message = result["message"].as_str().unwrap();
    assert!(message.contains("Installed demo 0.1.0"), "{message}");
    assert!(message.contains("isolated plugin runtime"), "{message}");

    // On disk: the host's binary as <bin> (0755), the frontend beside it, the manifest.
    let root = plugins_dir(&tp);
    assert_eq!(
        tree(&root),
        [
            "demo",
            "demo/0.1.0",
            "demo/0.1.0/LICENSE",
            "demo/0.1.0/demo",
            "demo/0.1.0/frontend",
            "demo/0.1.0/frontend/assets",
            "demo/0.1.0/frontend/assets/app.js",
            "demo/0.1.0/frontend/index.html",
            "demo/0.1.0/manifest.json",
        ]
    );
    let binary = root.join("demo/0.1.0/demo");
    assert_eq!(std::fs::read(&binary).unwrap(), BINARY);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&binary).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
    assert_eq!(
        std::fs::read(root.join("demo/0.1.0/frontend/index.html")).unwrap(),
        INDEX_HTML
    );

    let list = plugin_list(&tp, &admin).await;
    assert_eq!(
        list["installed"],
        json!([{"package_name": "demo", "version": "0.1.0", "entry_point": "demo"}])
    );
    let demo = loaded(&list, "demo").expect("demo is listed as loaded");
    assert_eq!(demo["mode"], "isolated");
    assert_eq!(demo["lifecycle"], "Failed");
    assert_eq!(demo["status"], "error");
    assert_eq!(demo["enabled"], true);
    assert_eq!(demo["routes_prefix"], "/demo");
    assert_eq!(demo["description"], "A bundled plugin");
    assert_eq!(demo["capabilities"]["requires_auth"], true);
    let error = demo["error"].as_str().unwrap();
    assert!(
        error.contains("isolated plugin runtime") && error.contains("not in this platform build"),
        "{error}"
    );
    let hello_keys: Vec<&String> = loaded(&list, "hello-mint")
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let demo_keys: Vec<&String> = demo.as_object().unwrap().keys().collect();
    assert_eq!(demo_keys, hello_keys, "the same LoadedPlugin shape");

    // Not routed, and the platform says it is degraded.
    let (status, _) = tp.get("/api/demo/anything", Some(&admin)).await;
    assert_eq!(status, 404);
    let (status, health) = tp.get("/api/health", None).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded");
    let entry = health["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "demo")
        .cloned();
    assert_eq!(
        entry,
        Some(
            json!({"name": "demo", "version": "0.1.0", "plugin_type": "analysis",
                    "status": "error", "mode": "isolated"})
        )
    );
    tp.finish().await;
}

#[tokio::test]
async fn an_uploaded_bundle_is_installed_and_listed_as_isolated_and_failed_on_sqlite() {
    an_uploaded_bundle_is_installed_and_listed_as_isolated_and_failed(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_uploaded_bundle_is_installed_and_listed_as_isolated_and_failed_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set");
        return;
    }
    an_uploaded_bundle_is_installed_and_listed_as_isolated_and_failed(Backend::Postgres).await;
}

#[tokio::test]
async fn bundles_this_host_cannot_take_are_refused_and_leave_nothing_on_disk() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a tampered binary",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                let path = format!("bin/{HOST_TRIPLE}/demo");
                b.without(&path).raw(&path, b"#!/bin/sh\nrm -rf /\n");
                b.bytes()
            },
            "Checksum mismatch for bin/",
        ),
        (
            "no binary for this host",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                let path = format!("bin/{HOST_TRIPLE}/demo");
                b.without(&path);
                b.manifest["runtime"]["targets"]
                    .as_object_mut()
                    .unwrap()
                    .remove(HOST_TRIPLE);
                b.manifest["checksums"]
                    .as_object_mut()
                    .unwrap()
                    .remove(&path);
                b.bytes()
            },
            "has no binary for this platform's target",
        ),
        (
            "a Python bundle",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.manifest = json!({
                    "format_version": 1,
                    "plugin": {"name": "demo", "version": "0.1.0", "description": "",
                               "requires_mint": ">=1.2", "has_frontend": false},
                    "wheels": {"main": "demo-0.1.0-py3-none-any.whl", "dependencies": []},
                });
                b.entries.clear();
                b.raw("demo-0.1.0-py3-none-any.whl", b"PK");
                b.bytes()
            },
            "Python bundles need a Python MINT host",
        ),
        (
            "a path traversal entry",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.file("frontend/../../../escaped.txt", b"gotcha");
                b.bytes()
            },
            "path traversal",
        ),
        (
            "a traversal entry outside the checksums",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.raw("../escaped.txt", b"gotcha");
                b.bytes()
            },
            "Unsafe entry in the bundle: '../escaped.txt'",
        ),
        (
            "an absolute entry",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.raw("/tmp/escaped.txt", b"gotcha");
                b.bytes()
            },
            "is an absolute path",
        ),
        (
            "a symlink",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.entries.push(Entry::Symlink(
                    "frontend/passwd".into(),
                    "/etc/passwd".into(),
                ));
                b.bytes()
            },
            "symbolic links are not allowed",
        ),
        (
            "not a ZIP",
            b"this is not a zip archive".to_vec(),
            "not a readable ZIP archive",
        ),
        (
            "no manifest",
            {
                let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
                zip.start_file("README.md", zip::write::SimpleFileOptions::default())
                    .unwrap();
                zip.write_all(b"hi").unwrap();
                zip.finish().unwrap().into_inner()
            },
            "the bundle has no manifest.json",
        ),
        (
            "a file without a checksum",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.raw("frontend/extra.js", b"unlisted");
                b.bytes()
            },
            "frontend/extra.js has no checksum",
        ),
        (
            "a listed file that is missing",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.without("frontend/assets/app.js");
                b.bytes()
            },
            "lacks frontend/assets/app.js",
        ),
        (
            "a frontend without index.html",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.without("frontend/index.html");
                b.manifest["checksums"]
                    .as_object_mut()
                    .unwrap()
                    .remove("frontend/index.html");
                b.bytes()
            },
            "lacks frontend/index.html",
        ),
        (
            "a reserved routes prefix",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.manifest["plugin"]["routes_prefix"] = json!("/api");
                b.bytes()
            },
            "Invalid bundle manifest: plugin: Invalid routes_prefix",
        ),
        (
            "a version that is not a path segment",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.manifest["plugin"]["version"] = json!("../1");
                b.bytes()
            },
            "plugin.version",
        ),
        (
            "a bad checksum format",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.manifest["checksums"]["LICENSE"] = json!("md5:abc");
                b.bytes()
            },
            "checksums.LICENSE",
        ),
        (
            "a runtime that is not a binary",
            {
                let mut b = Bundle::new("demo", "0.1.0");
                b.manifest["runtime"]["kind"] = json!("docker");
                b.bytes()
            },
            "runtime.kind",
        ),
    ];
    for (label, bytes, expected) in cases {
        let (status, result) = upload(&tp, &admin, bytes, true).await;
        assert_eq!(status, 200, "{label}: {result}");
        assert_eq!(result["success"], false, "{label}: {result}");
        let message = result["message"].as_str().unwrap();
        assert!(message.contains(expected), "{label}: {message}");
        assert_eq!(
            tree(&plugins_dir(&tp)),
            Vec::<String>::new(),
            "{label}: nothing left on disk"
        );
    }
    assert!(!tp.dir.path().join("escaped.txt").exists());
    let list = plugin_list(&tp, &admin).await;
    assert_eq!(list["installed"], json!([]));

    // Request-level problems are 422 envelopes.
    let (status, body) = tp
        .post("/api/plugins/upload", Some(&admin), json!({"file": "x"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "validation.request");
    assert_eq!(body["details"][0]["field"], "file");
    let form = reqwest::multipart::Form::new().text("other", "x");
    let response = tp
        .client
        .post(tp.at("/api/plugins/upload"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([{"field": "file", "message": "The multipart body has no part named 'file'"}])
    );
    assert_eq!(tree(&plugins_dir(&tp)), Vec::<String>::new());
    tp.finish().await;
}

#[tokio::test]
async fn an_upload_over_the_size_limit_is_413_even_without_a_content_length() {
    let tp = TestPlatform::start_with(Backend::Sqlite, vec![], |c| {
        c.settings.server.max_upload_bytes = 4096;
    })
    .await;
    let admin = tp.admin_token().await;
    let mut big = Bundle::new("demo", "0.1.0");
    // Incompressible bytes (xorshift), so the ZIP stays larger than the limit.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..20_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    big.file("frontend/noise.bin", &noise);
    let bytes = big.bytes();
    assert!(bytes.len() > 4096);

    // With a Content-Length: refused before the handler runs.
    let (status, body) = upload(&tp, &admin, bytes.clone(), false).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "request.too_large");

    // Chunked: the handler counts the bytes itself.
    let boundary = "bundle-boundary";
    let mut payload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"demo.mint\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    payload.extend_from_slice(&bytes);
    payload.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (status, body) = chunked_post(&tp, "/api/plugins/upload", &admin, boundary, &payload).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("server.maxUploadBytes"), "{body}");
    assert_eq!(tree(&plugins_dir(&tp)), Vec::<String>::new());
    tp.finish().await;
}

/// A multipart POST sent with `Transfer-Encoding: chunked` (no Content-Length) over a raw
/// socket; returns the status and the body text.
async fn chunked_post(
    tp: &TestPlatform,
    path: &str,
    token: &str,
    boundary: &str,
    payload: &[u8],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = tp.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in payload.chunks(1000) {
        let sent = async {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            stream.write_all(chunk).await?;
            stream.write_all(b"\r\n").await
        }
        .await;
        if sent.is_err() {
            break; // the server answered and closed early
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn a_second_install_of_the_same_package_needs_force_and_then_replaces_it() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (_, result) = upload(&tp, &admin, Bundle::new("demo", "0.1.0").bytes(), false).await;
    assert_eq!(result["success"], true, "{result}");

    let (status, body) = upload(&tp, &admin, Bundle::new("demo", "0.2.0").bytes(), false).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "CONFLICT");
    assert_eq!(body["details"]["conflict_detected"], true);
    assert_eq!(body["details"]["installed_version"], "0.1.0");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("already installed; install with force=true"),
        "{body}"
    );
    assert!(plugins_dir(&tp).join("demo/0.1.0/demo").is_file());
    assert!(!plugins_dir(&tp).join("demo/0.2.0").exists());

    let (status, result) = upload(&tp, &admin, Bundle::new("demo", "0.2.0").bytes(), true).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["version"], "0.2.0");
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .contains("(replacing 0.1.0)"),
        "{result}"
    );
    assert!(plugins_dir(&tp).join("demo/0.2.0/demo").is_file());
    assert!(!plugins_dir(&tp).join("demo/0.1.0").exists());

    // The same version again, with force: replaced in place.
    let mut same = Bundle::new("demo", "0.2.0");
    same.file("frontend/extra.html", b"<p>new</p>");
    let (_, result) = upload(&tp, &admin, same.bytes(), true).await;
    assert_eq!(result["success"], true, "{result}");
    assert!(
        plugins_dir(&tp)
            .join("demo/0.2.0/frontend/extra.html")
            .is_file()
    );
    let list = plugin_list(&tp, &admin).await;
    assert_eq!(
        list["installed"],
        json!([{"package_name": "demo", "version": "0.2.0", "entry_point": "demo"}])
    );
    assert_eq!(
        tree(&plugins_dir(&tp))
            .iter()
            .filter(|p| p.starts_with('.'))
            .count(),
        0,
        "no staging directories left"
    );
    tp.finish().await;
}

#[tokio::test]
async fn compiled_in_plugins_and_other_packages_keep_their_names_and_prefixes() {
    let tp = TestPlatform::start(vec![hello()]).await;
    let admin = tp.admin_token().await;
    let (_, result) = upload(&tp, &admin, Bundle::new("demo", "0.1.0").bytes(), false).await;
    assert_eq!(result["success"], true, "{result}");

    let mut same_prefix = Bundle::new("greeter", "1.0.0");
    same_prefix.manifest["plugin"]["routes_prefix"] = json!("/hello-mint");
    let mut same_schema = Bundle::new("hello_mint", "1.0.0");
    same_schema.manifest["plugin"]["routes_prefix"] = json!("/hm");
    let mut taken_by_package = Bundle::new("other", "1.0.0");
    taken_by_package.manifest["plugin"]["routes_prefix"] = json!("/demo");
    for (bundle, expected) in [
        (
            Bundle::new("hello-mint", "9.0.0"),
            "The name 'hello-mint' is taken by the compiled-in plugin 'hello-mint'",
        ),
        (
            same_prefix,
            "The routes prefix /hello-mint is taken by the compiled-in plugin",
        ),
        (
            same_schema,
            "The database schema plugin_hello_mint is taken by the compiled-in plugin",
        ),
        (
            taken_by_package,
            "The routes prefix /demo is taken by the installed package 'demo'",
        ),
    ] {
        let (status, body) = upload(&tp, &admin, bundle.bytes(), true).await;
        assert_eq!(status, 409, "{expected}: {body}");
        assert_eq!(body["details"]["conflict_detected"], true);
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
    let list = plugin_list(&tp, &admin).await;
    assert_eq!(list["installed"].as_array().unwrap().len(), 1);
    assert_eq!(loaded(&list, "hello-mint").unwrap()["status"], "ready");
    assert_eq!(
        tree(&plugins_dir(&tp))
            .iter()
            .filter(|p| !p.starts_with("demo"))
            .count(),
        0
    );
    tp.finish().await;
}

#[tokio::test]
async fn install_takes_a_server_path_and_refuses_urls_and_registry_names() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let source = tempfile::tempdir().unwrap();
    let path = source.path().join("demo-0.1.0.mint");
    std::fs::write(&path, Bundle::new("demo", "0.1.0").bytes()).unwrap();

    let (status, result) = tp
        .post(
            "/api/plugins/install",
            Some(&admin),
            json!({"source": path.to_string_lossy(), "force": false}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert!(plugins_dir(&tp).join("demo/0.1.0/demo").is_file());
    assert!(path.is_file(), "the source bundle is left alone");

    let (status, body) = tp
        .post(
            "/api/plugins/install",
            Some(&admin),
            json!({"source": path.to_string_lossy()}),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    let missing = source.path().join("nope.mint");
    let (status, result) = tp
        .post(
            "/api/plugins/install",
            Some(&admin),
            json!({"source": missing.to_string_lossy()}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], false);
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .starts_with("Cannot read the bundle"),
        "{result}"
    );
    let (status, result) = tp
        .post(
            "/api/plugins/install",
            Some(&admin),
            json!({"source": source.path().to_string_lossy(), "force": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .contains("it is a directory"),
        "{result}"
    );

    for source in [
        "https://example.invalid/demo-0.1.0.mint",
        "git+ssh://host/repo",
        "demo-plugin",
    ] {
        let (status, body) = tp
            .post(
                "/api/plugins/install",
                Some(&admin),
                json!({"source": source}),
            )
            .await;
        assert_eq!(status, 501, "{source}: {body}");
        assert_eq!(body["code"], "feature.not_implemented");
    }
    let (status, body) = tp
        .post(
            "/api/plugins/install",
            Some(&admin),
            json!({"source": "  "}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"]["field"], "source");
    tp.finish().await;
}

#[tokio::test]
async fn the_install_routes_need_plugins_install_and_upgrade_is_501() {
    let tp = TestPlatform::start(vec![]).await;
    let admin = tp.admin_token().await;
    let (_, viewer) = tp.add_user("vera", "viewer").await;
    let (_, member) = tp.add_user("mo", "member").await;
    let (_, result) = upload(&tp, &admin, Bundle::new("demo", "0.1.0").bytes(), false).await;
    assert_eq!(result["success"], true);

    for token in [&viewer, &member] {
        let (status, body) = upload(&tp, token, Bundle::new("x", "0.1.0").bytes(), false).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["message"], "Missing permission: plugins.install");
        let (status, _) = tp
            .post(
                "/api/plugins/install",
                Some(token),
                json!({"source": "/tmp/x.mint"}),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _) = tp.delete("/api/plugins/demo", Some(token)).await;
        assert_eq!(status, 403);
        let (status, _) = tp
            .post("/api/plugins/demo/upgrade", Some(token), json!({}))
            .await;
        assert_eq!(status, 403);
    }
    let (status, body) = tp
        .post(
            "/api/plugins/demo/upgrade?force=true",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, 501, "{body}");
    assert_eq!(body["code"], "feature.not_implemented");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("upload the new bundle with force=true"),
        "{body}"
    );
    let list = plugin_list(&tp, &viewer).await;
    assert_eq!(
        list["installed"].as_array().unwrap().len(),
        1,
        "viewers may read"
    );
    tp.finish().await;
}

// ----- uninstall ----------------------------------------------------------------------------

struct CreateNotes;

#[mint_sdk::async_trait]
impl PluginMigration for CreateNotes {
    fn version(&self) -> u32 {
        1
    }
    fn name(&self) -> &'static str {
        "create_notes"
    }
    fn checksum(&self) -> String {
        "notes-v1".into()
    }
    async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
        ops.create_table("notes", &[Column::integer("id").primary_key()])
            .await
    }
}

/// Gives plugin `name` a `notes` table and a tracking row, where the platform keeps its data.
async fn seed_plugin_data(tp: &TestPlatform, name: &str) {
    let storage = PluginStorage::open(&tp.platform, name).await.unwrap();
    let runner = MigrationRunner::new(storage.connection().clone(), name)
        .unwrap()
        .with_schema(schema_name(name));
    let migrations: Vec<Box<dyn PluginMigration>> = vec![Box::new(CreateNotes)];
    runner.run(&migrations, false).await.unwrap();
    storage.close().await;
}

/// The plugin's tables (sorted) and its tracking rows.
async fn plugin_data(tp: &TestPlatform, backend: Backend, name: &str) -> (Vec<String>, i64) {
    match backend {
        Backend::Postgres => {
            let store = &tp.platform.store;
            let rows = store
                .all(
                    store.connection(),
                    "SELECT table_name::text AS t FROM information_schema.tables \
                     WHERE table_schema = $1 ORDER BY table_name",
                    [schema_name(name).into()],
                )
                .await
                .unwrap();
            let tables = rows
                .iter()
                .map(|r| mint_platform::store::get_text(r, "t").unwrap())
                .collect();
            let tracking = store
                .count(
                    store.connection(),
                    "SELECT COUNT(*) AS n FROM public.plugin_schema_migrations \
                     WHERE plugin_name = $1",
                    [name.into()],
                )
                .await
                .unwrap();
            (tables, tracking)
        }
        Backend::Sqlite => {
            let path = tp.dir.path().join("plugin-data").join(name).join("data.db");
            if !path.exists() {
                return (Vec::new(), 0);
            }
            let url = format!("sqlite://{}?mode=ro", path.display());
            let conn = mint_sdk::sea_orm::Database::connect(&url).await.unwrap();
            let backend = conn.get_database_backend();
            let rows = conn
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' AND name <> '_plugin_migrations' ORDER BY name",
                ))
                .await
                .unwrap();
            let tables = rows
                .iter()
                .map(|r| r.try_get::<String>("", "name").unwrap())
                .collect();
            let tracking = conn
                .query_one_raw(Statement::from_string(
                    backend,
                    format!(
                        "SELECT COUNT(*) AS n FROM _plugin_migrations WHERE plugin_name = '{name}'"
                    ),
                ))
                .await
                .unwrap()
                .and_then(|r| r.try_get::<i64>("", "n").ok())
                .unwrap_or(0);
            conn.close().await.ok();
            (tables, tracking)
        }
    }
}

async fn uninstall_keeps_archives_or_purges_the_plugins_data(backend: Backend) {
    let tp = TestPlatform::start_with(backend, vec![hello()], |_| {}).await;
    let admin = tp.admin_token().await;
    let install = async || {
        let (_, result) = upload(&tp, &admin, Bundle::new("demo", "0.1.0").bytes(), true).await;
        assert_eq!(result["success"], true, "{result}");
        seed_plugin_data(&tp, "demo").await;
    };

    // keep (the default): the files go, the data stays.
    install().await;
    let (status, result) = tp.delete("/api/plugins/demo", Some(&admin)).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true);
    assert_eq!(result["name"], "demo");
    assert_eq!(result["version"], "0.1.0");
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .contains("its data was kept"),
        "{result}"
    );
    assert_eq!(tree(&plugins_dir(&tp)), Vec::<String>::new());
    assert_eq!(
        plugin_data(&tp, backend, "demo").await,
        (vec!["notes".to_string()], 1)
    );
    let list = plugin_list(&tp, &admin).await;
    assert_eq!(list["installed"], json!([]));
    assert!(loaded(&list, "demo").is_none());
    let (status, body) = tp.delete("/api/plugins/demo", Some(&admin)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "resource.not_found");

    // archive: tables renamed archived_<ts>_<table>, tracking rows gone.
    install().await;
    let (status, result) = tp
        .delete("/api/plugins/demo?mode=archive", Some(&admin))
        .await;
    assert_eq!(status, 200, "{result}");
    let (tables, tracking) = plugin_data(&tp, backend, "demo").await;
    assert_eq!(tracking, 0);
    assert_eq!(tables.len(), 1, "{tables:?}");
    let archived = &tables[0];
    assert!(
        archived.starts_with("archived_") && archived.ends_with("_notes"),
        "{archived}"
    );
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .contains(archived.as_str()),
        "{result}"
    );

    // purge: tables dropped (the archived one too), tracking rows and data dir gone.
    install().await;
    let (tables, tracking) = plugin_data(&tp, backend, "demo").await;
    assert_eq!((tables.len(), tracking), (2, 1), "{tables:?}");
    std::fs::create_dir_all(tp.dir.path().join("plugin-data/demo/files")).unwrap();
    let (status, result) = tp
        .delete("/api/plugins/demo?mode=purge", Some(&admin))
        .await;
    assert_eq!(status, 200, "{result}");
    assert!(
        result["message"].as_str().unwrap().contains("purged"),
        "{result}"
    );
    assert_eq!(plugin_data(&tp, backend, "demo").await, (Vec::new(), 0));
    assert!(!tp.dir.path().join("plugin-data/demo").exists());
    if backend == Backend::Postgres {
        let store = &tp.platform.store;
        let schemas = store
            .count(
                store.connection(),
                "SELECT COUNT(*) AS n FROM pg_namespace WHERE nspname = 'plugin_demo'",
                [],
            )
            .await
            .unwrap();
        assert_eq!(schemas, 0);
    }

    // Compiled-in plugins stay; modes are checked.
    let (status, body) = tp.delete("/api/plugins/hello-mint", Some(&admin)).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("compiled into this platform binary"),
        "{body}"
    );
    let (status, body) = tp
        .delete("/api/plugins/demo?mode=shred", Some(&admin))
        .await;
    assert_eq!(status, 422, "{body}");
    let list = plugin_list(&tp, &admin).await;
    assert_eq!(loaded(&list, "hello-mint").unwrap()["status"], "ready");
    tp.finish().await;
}

#[tokio::test]
async fn uninstall_keeps_archives_or_purges_the_plugins_data_on_sqlite() {
    uninstall_keeps_archives_or_purges_the_plugins_data(Backend::Sqlite).await;
}

#[tokio::test]
async fn uninstall_keeps_archives_or_purges_the_plugins_data_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set");
        return;
    }
    uninstall_keeps_archives_or_purges_the_plugins_data(Backend::Postgres).await;
}

// ----- restarts -----------------------------------------------------------------------------

async fn installed_bundles_survive_a_restart(backend: Backend) {
    let tp = TestPlatform::start_with(backend, vec![], |_| {}).await;
    let admin = tp.admin_token().await;
    for name in ["demo", "second", "third"] {
        let (_, result) = upload(&tp, &admin, Bundle::new(name, "1.0.0").bytes(), false).await;
        assert_eq!(result["success"], true, "{result}");
    }
    // A crash mid-install leaves a staging directory; a lost binary stays lost.
    std::fs::create_dir_all(plugins_dir(&tp).join(".staging-0123456789abcdef/unpacked")).unwrap();
    std::fs::remove_file(plugins_dir(&tp).join("third/1.0.0/third")).unwrap();

    let tp = tp
        .restart(vec![], |c| {
            c.settings.plugins.disabled = vec!["second".into()];
        })
        .await;
    let admin = tp.admin_token().await;
    let list = plugin_list(&tp, &admin).await;
    assert_eq!(
        list["installed"],
        json!([
            {"package_name": "demo", "version": "1.0.0", "entry_point": "demo"},
            {"package_name": "second", "version": "1.0.0", "entry_point": "second"},
            {"package_name": "third", "version": "1.0.0", "entry_point": "third"},
        ])
    );
    let demo = loaded(&list, "demo").unwrap();
    assert_eq!(
        (&demo["lifecycle"], &demo["mode"]),
        (&json!("Failed"), &json!("isolated"))
    );
    assert!(
        demo["error"]
            .as_str()
            .unwrap()
            .contains("isolated plugin runtime")
    );
    let second = loaded(&list, "second").unwrap();
    assert_eq!(
        (&second["status"], &second["lifecycle"], &second["enabled"]),
        (&json!("disabled"), &json!("Registered"), &json!(false))
    );
    let third = loaded(&list, "third").unwrap();
    assert!(
        third["error"]
            .as_str()
            .unwrap()
            .contains("is missing; reinstall"),
        "{third}"
    );
    assert!(!plugins_dir(&tp).join(".staging-0123456789abcdef").exists());

    // forceShared cannot apply to a bundle.
    let tp = tp
        .restart(vec![], |c| {
            c.settings.plugins.force_shared = vec!["demo".into()];
        })
        .await;
    let admin = tp.admin_token().await;
    let list = plugin_list(&tp, &admin).await;
    let error = loaded(&list, "demo").unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("plugins.forceShared") && error.contains("only available as a bundle"),
        "{error}"
    );
    let (status, _) = tp.delete("/api/plugins/demo", Some(&admin)).await;
    assert_eq!(status, 200);

    // Uninstalls persist too.
    let tp = tp.restart(vec![], |_| {}).await;
    let admin = tp.admin_token().await;
    let list = plugin_list(&tp, &admin).await;
    let names: Vec<&Value> = list["installed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["package_name"])
        .collect();
    assert_eq!(names, [&json!("second"), &json!("third")]);
    tp.finish().await;
}

#[tokio::test]
async fn installed_bundles_survive_a_restart_on_sqlite() {
    installed_bundles_survive_a_restart(Backend::Sqlite).await;
}

#[tokio::test]
async fn installed_bundles_survive_a_restart_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("skipped: MINT_TEST_DATABASE_URL is not set");
        return;
    }
    installed_bundles_survive_a_restart(Backend::Postgres).await;
}
