//! The `hello-mint` binary's argv contract (app-testing-export.md §1.8), run as a real process.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hello-mint");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something accepts connections on the port, or the child exits.
fn wait_listening(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn terminate(child: &mut Child) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn metadata_json_prints_the_manifest_and_exits_0() {
    let out = Command::new(BIN)
        .args(["metadata", "--json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(manifest["name"], "hello-mint");
    assert_eq!(manifest["routes_prefix"], "/hello-mint");
    assert_eq!(manifest["plugin_type"], "analysis");
    assert_eq!(manifest["capabilities"]["requires_experiments"], true);
    assert_eq!(manifest["migrations"], serde_json::json!([]));
}

#[test]
fn version_and_help_name_the_plugin() {
    let out = Command::new(BIN).arg("--version").output().expect("runs");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("hello-mint {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(BIN).arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("MINT_PLUGIN_PORT") && help.contains("MINT_LOG_LEVEL"),
        "{help}"
    );
}

#[test]
fn metadata_into_a_closed_pipe_does_not_panic() {
    let mut child = Command::new(BIN)
        .args(["metadata", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("waits");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn an_unknown_subcommand_is_a_usage_error_with_exit_2() {
    let out = Command::new(BIN).arg("frobnicate").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
}

#[test]
fn port_flag_beats_the_environment_and_sigterm_stops_cleanly() {
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let env_port = free_port();
    let mut child = Command::new(BIN)
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(data.path())
        .env("MINT_PLUGIN_PORT", env_port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    assert!(
        wait_listening(&mut child, port),
        "serves on the --port port"
    );
    assert!(TcpStream::connect(("127.0.0.1", env_port)).is_err());
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    use std::io::Write;
    stream
        .write_all(b"GET /api/hello-mint/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("writes");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reads");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(r#"{"status":"ok"}"#));
    assert!(reply.to_ascii_lowercase().contains("x-request-id:"));
    assert_eq!(terminate(&mut child), Some(0));
    assert!(data.path().join("data.db").exists());
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let first = stderr.lines().next().unwrap_or_default();
    let line: serde_json::Value = serde_json::from_str(first).expect("logs are JSON lines");
    assert_eq!(line["level"], "INFO");
}

#[test]
fn an_unusable_port_fails_with_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let data = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(data.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cannot listen"));
}

/// GET `path` on the local port; the whole reply (head and body).
fn http_get(port: u16, path: &str) -> String {
    use std::io::Write;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("writes");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reads");
    reply
}

/// Serves with `args` and `env`, then returns the reply to `GET /hello-mint/`.
fn frontend_root_reply(args: &[&std::ffi::OsStr], env: &[(&str, &std::ffi::OsStr)]) -> String {
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(data.path())
        .args(args)
        .env_remove("MINT_PLUGIN_FRONTEND_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawns");
    assert!(wait_listening(&mut child, port), "serves");
    let reply = http_get(port, "/hello-mint/");
    assert_eq!(terminate(&mut child), Some(0));
    reply
}

fn frontend(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.html"), text).expect("write");
    dir
}

#[test]
fn frontend_dir_flag_beats_the_environment() {
    let flag = frontend("FROM FLAG");
    let env = frontend("FROM ENV");
    let reply = frontend_root_reply(
        &["--frontend-dir".as_ref(), flag.path().as_os_str()],
        &[("MINT_PLUGIN_FRONTEND_DIR", env.path().as_os_str())],
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("FROM FLAG"), "{reply}");
    let reply = frontend_root_reply(&[], &[("MINT_PLUGIN_FRONTEND_DIR", env.path().as_os_str())]);
    assert!(reply.ends_with("FROM ENV"), "{reply}");
}

#[test]
fn without_frontend_dir_the_plugin_serves_no_frontend() {
    // hello-mint ships no frontend/dist; an empty variable counts as unset.
    for env in [&[][..], &[("MINT_PLUGIN_FRONTEND_DIR", "".as_ref())][..]] {
        let reply = frontend_root_reply(&[], env);
        assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    }
}

#[test]
fn a_frontend_dir_without_index_html_fails_with_exit_1() {
    let empty = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["--port", &free_port().to_string(), "--data-dir"])
        .arg(data.path())
        .arg("--frontend-dir")
        .arg(empty.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("index.html"), "{stderr}");
}
