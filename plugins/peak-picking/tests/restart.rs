//! A stored result survives a restart of the standalone plugin process (spec checklist): the
//! real binary, a real socket, the real SQLite file.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_peak-picking");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn spawn(port: u16, data_dir: &Path) -> Child {
    let roots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data");
    let mut child = Command::new(BIN)
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .env("PEAK_PICKING_DATA_ROOTS", roots)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("plugin exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("plugin did not listen on {port}");
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "clean stop, got {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("plugin did not stop on SIGTERM");
}

#[tokio::test]
async fn a_result_survives_a_process_restart() {
    let data = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();

    let port = free_port();
    let child = spawn(port, data.path());
    let url = format!("http://127.0.0.1:{port}/api/peak-picking/experiments/11");
    let resp = client
        .post(format!("{url}/runs"))
        .json(&json!({"path": "HILICNeg15_StdH1.mzML", "run_id": "before-restart",
                      "targets": [{"peak_label": "ADENOSINE", "mz_mean": 266.089355, "rt_min": 384.18971, "rt_max": 412.68971}]}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 201);
    assert!(resp.headers().contains_key("x-request-id"));
    let posted: Value = resp.json().await.expect("json");
    stop(child);

    let port = free_port();
    let child = spawn(port, data.path());
    let url = format!("http://127.0.0.1:{port}/api/peak-picking/experiments/11");
    let resp = client
        .get(format!("{url}/result"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 200);
    let latest: Value = resp.json().await.expect("json");
    assert_eq!(latest, posted);
    assert_eq!(latest["targets"][0]["peak_area"], 2430255145.0);
    stop(child);
}
