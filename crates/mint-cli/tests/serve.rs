//! `mint serve` as a user runs it: the real binary, a temp data dir, real HTTP, real signals
//! (cli.md §0 and §2.6, platform-config.md §1–§3).

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "cli-test-password";

/// `mint` with an empty environment (only PATH), run inside `dir` so no `.env` of the
/// repository is read.
fn mint(dir: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("mint"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(dir);
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("mint runs");
    (
        status.code().expect("exited normally"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// A running `mint serve`; killed on drop if the test did not stop it.
struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Served {
    fn start(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mint serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `needle` and returns it.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?}; stderr so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends SIGTERM and waits for the exit code.
    fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mint serve did not stop within {timeout:?}");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_on_port_0_logs_its_url_serves_the_plugins_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut served = Served::start(
        mint(dir.path())
            .env("MINT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(&data),
    );
    let line = served.wait_for("Listening on http://", Duration::from_secs(120));
    let entry: Value = serde_json::from_str(&line).expect("JSON log line");
    assert_eq!(entry["level"], "INFO");
    let url = entry["url"].as_str().expect("url field").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_ne!(url, "http://127.0.0.1:0");
    assert_eq!(entry["message"], format!("Listening on {url}"));

    let client = reqwest::Client::new();
    let response = client
        .get(format!("{url}/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let health: Value = response.json().await.unwrap();
    assert_eq!(health["status"], "healthy", "{health}");
    let mut names: Vec<&str> = health["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["hello-mint", "panel-designer", "peak-picking"]);

    // MINT_ADMIN_PASSWORD seeded the admin; the OpenAPI document is served too.
    let login = client
        .post(format!("{url}/api/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let doc: Value = client
        .get(format!("{url}/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"].get("/api/experiments").is_some());
    assert_eq!(doc["x-mint-plugins"].as_array().map(Vec::len), Some(3));

    assert_eq!(served.terminate(Duration::from_secs(30)), Some(0));
    assert!(data.join("mint.db").exists());
    assert!(data.join("jwt-secret").exists());
    assert!(
        client
            .get(format!("{url}/api/health"))
            .send()
            .await
            .is_err(),
        "the port is closed"
    );
}

#[test]
fn a_generated_admin_password_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for expect_password in [true, false] {
        let mut served = Served::start(
            mint(dir.path())
                .args(["serve", "--port", "0", "--data-dir"])
                .arg(&data),
        );
        served.wait_for("Listening on http://", Duration::from_secs(120));
        let printed = served.seen.iter().any(|l| l.contains("generated password"));
        assert_eq!(printed, expect_password, "{:?}", served.seen);
        assert_eq!(served.terminate(Duration::from_secs(30)), Some(0));
    }
}

#[test]
fn a_malformed_config_file_exits_1_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("custom.json");
    std::fs::write(&file, "{not json").unwrap();
    let (code, stdout, stderr) = run(mint(dir.path())
        .args(["serve", "--port", "0", "--config"])
        .arg(&file));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.starts_with("Error: config file "), "{stderr}");
    assert!(
        stderr.contains("custom.json") && stderr.contains("not valid JSON"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[test]
fn a_wrong_type_exits_1_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"server": {"port": "x"}}"#,
    )
    .unwrap();
    let (code, _, stderr) = run(mint(dir.path()).args(["serve", "--data-dir", "."]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("server.port"), "{stderr}");

    // The same key from the environment.
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let (code, _, stderr) =
        run(mint(dir.path())
            .env("MINT_SERVER__PORT", "eighty")
            .args(["serve", "--data-dir", "."]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("server.port"), "{stderr}");
}

#[test]
fn postgresql_without_a_secret_outside_dev_mode_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"database": {"mode": "postgresql", "url": "postgresql://u:p@127.0.0.1:1/mint"}}"#,
    )
    .unwrap();
    let (code, _, stderr) = run(mint(dir.path()).args(["serve", "--port", "0", "--data-dir", "."]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("auth.jwtSecret"), "{stderr}");
    assert!(!dir.path().join("mint.db").exists());
}

#[test]
fn dev_mode_refuses_a_non_loopback_host() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(mint(dir.path()).args([
        "serve",
        "--dev",
        "--host",
        "0.0.0.0",
        "--port",
        "0",
        "--data-dir",
        ".",
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("server.host"), "{stderr}");
}

#[test]
fn a_busy_port_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) =
        run(mint(dir.path()).args(["serve", "--port", &port, "--data-dir", "."]));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["serve", "--port", "x"][..],
        &["serve", "--port", "70000"],
        &["serve", "--bogus"],
        &["bogus"],
        &[],
    ] {
        let (code, stdout, stderr) = run(mint(dir.path()).args(args));
        assert_eq!(code, 2, "mint {args:?}: {stdout}{stderr}");
    }
}

#[test]
fn version_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(mint(dir.path()).arg("--version"));
    assert_eq!(code, 0);
    assert_eq!(stdout, format!("mint {}\n", env!("CARGO_PKG_VERSION")));
    let (code, stdout, _) = run(mint(dir.path()).arg("-V"));
    assert_eq!((code, stdout.starts_with("mint ")), (0, true));

    let (code, stdout, _) = run(mint(dir.path()).arg("--help"));
    assert_eq!(code, 0);
    assert!(stdout.contains("serve"), "{stdout}");
    let (code, stdout, _) = run(mint(dir.path()).args(["serve", "--help"]));
    assert_eq!(code, 0);
    for flag in ["--config", "--dev", "--host", "--port", "--data-dir"] {
        assert!(stdout.contains(flag), "{flag} in {stdout}");
    }
}
