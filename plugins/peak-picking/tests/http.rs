//! The peak-picking plugin through HTTP on real mzML files (`spec/peak-picking.md` checklist).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mint_sdk::serde_json::{Value, json};
use mint_sdk::{AnalysisPlugin, StandaloneApp, StandaloneOptions, create_standalone_app};
use peak_picking::{PeakPickingPlugin, PeakPickingSettings};
use tower::ServiceExt;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(name)
}

/// A started standalone app whose data root holds the example files.
struct Harness {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    root: PathBuf,
    plugin: Arc<PeakPickingPlugin>,
    app: StandaloneApp,
    router: Router,
}

async fn harness() -> Harness {
    let root_dir = tempfile::tempdir().expect("tempdir");
    let db_dir = tempfile::tempdir().expect("tempdir");
    let root = root_dir.path().canonicalize().expect("canonical root");
    for f in [
        "HILICNeg15_StdH1.mzML",
        "HILICNeg15_StdH1_targets.csv",
        "small.mzML",
    ] {
        std::fs::copy(example(f), root.join(f)).expect("copy example");
    }
    let plugin = Arc::new(PeakPickingPlugin::new());
    plugin
        .set_settings(PeakPickingSettings {
            data_roots: vec![root.clone()],
            ..Default::default()
        })
        .expect("settings");
    let options = StandaloneOptions {
        data_dir: Some(db_dir.path().to_path_buf()),
        env: Some(Default::default()),
        ..Default::default()
    };
    let app = create_standalone_app(plugin.clone(), options).expect("app");
    app.start().await.expect("start");
    let router = app.router();
    Harness {
        _dirs: (root_dir, db_dir),
        root,
        plugin,
        app,
        router,
    }
}

async fn call(router: &Router, req: Request<Body>) -> (StatusCode, Value, String) {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    (
        status,
        mint_sdk::serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn post_json(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

fn multipart(parts: &[(&str, Option<&str>, Vec<u8>)]) -> Request<Body> {
    let boundary = "mintboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::post("/api/peak-picking/experiments/1/runs")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("request")
}

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/msmint-1.1.2-HILICNeg15_StdH1.json");
    mint_sdk::serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("fixture JSON")
}

fn targets_json() -> Value {
    let csv = std::fs::read_to_string(example("HILICNeg15_StdH1_targets.csv")).expect("targets");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().expect("header").clone();
    let rows: Vec<Value> = reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            let mut o = mint_sdk::JsonObject::new();
            for (h, v) in headers.iter().zip(r.iter()) {
                let value = v
                    .parse::<f64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(v));
                let value = if h == "peak_label" || h == "rt_unit" || h == "target_filename" {
                    Value::from(v)
                } else {
                    value
                };
                o.insert(h.to_string(), value);
            }
            Value::Object(o)
        })
        .collect();
    Value::Array(rows)
}

fn assert_matches_msmint(run: &Value) {
    let expected = fixture();
    let got = run["targets"].as_array().expect("targets");
    let want = expected["results"].as_array().expect("results");
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let label = w["peak_label"].as_str().unwrap_or_default();
        assert_eq!(g["peak_label"], w["peak_label"]);
        assert_eq!(
            g["peak_area"].as_f64(),
            w["peak_area"].as_f64(),
            "{label} area"
        );
        assert_eq!(
            g["peak_max"].as_f64(),
            w["peak_max"].as_f64(),
            "{label} max"
        );
        assert_eq!(
            g["peak_n_datapoints"].as_u64(),
            w["peak_n_datapoints"].as_u64(),
            "{label} n"
        );
        let rt = (g["peak_rt_of_max"].as_f64().unwrap_or(f64::NAN)
            - w["peak_rt_of_max"].as_f64().unwrap_or(0.0))
        .abs();
        assert!(rt <= 0.01, "{label} rt of max differs by {rt}");
    }
}

#[tokio::test]
async fn a_json_run_on_hilic_matches_msmint_and_is_stored() {
    let h = harness().await;
    let body = json!({"path": "HILICNeg15_StdH1.mzML", "targets": targets_json(), "run_id": "r1"});
    let (status, run, text) = call(
        &h.router,
        post_json("/api/peak-picking/experiments/1/runs", body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(run["run_id"], "r1");
    assert_eq!(run["file"]["name"], "HILICNeg15_StdH1.mzML");
    assert_eq!(
        run["file"]["size_bytes"],
        std::fs::metadata(example("HILICNeg15_StdH1.mzML"))
            .map(|m| m.len())
            .unwrap_or(0)
    );
    assert_eq!(run["file"]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(run["summary"]["spectra"], 1199);
    assert_matches_msmint(&run);
    let (status, latest, _) = call(&h.router, get("/api/peak-picking/experiments/1/result")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(latest, run);
    let stored = h
        .plugin
        .load_analysis(1)
        .await
        .expect("load")
        .expect("stored");
    let runs = stored.result["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    assert!(
        runs[0]["targets"][0].get("eic").is_none(),
        "history drops eic arrays"
    );
    assert!(
        stored.result["latest"]["targets"][0]["eic"]["rt"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    h.app.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_multipart_upload_with_csv_targets_matches_msmint_and_keeps_the_file() {
    let h = harness().await;
    let mzml = std::fs::read(example("HILICNeg15_StdH1.mzML")).expect("mzml");
    let csv = std::fs::read(example("HILICNeg15_StdH1_targets.csv")).expect("csv");
    let params = json!({"run_id": "upload-1", "centroid": {"signal_to_noise": 3.0, "ms_level": 1}})
        .to_string();
    let req = multipart(&[
        ("file", Some("HILICNeg15_StdH1.mzML"), mzml),
        ("targets", Some("targets.csv"), csv),
        ("params", None, params.into_bytes()),
    ]);
    let (status, run, text) = call(&h.router, req).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(run["run_id"], "upload-1");
    assert_matches_msmint(&run);
    let sha = run["file"]["sha256"].as_str().unwrap_or_default();
    let stored = h.root.join("uploads").join(format!("{sha}.mzML"));
    assert!(stored.exists(), "upload kept at {}", stored.display());
    // A rerun can name the stored upload.
    let body = json!({"path": format!("uploads/{sha}.mzML")});
    let (status, _, text) = call(
        &h.router,
        post_json("/api/peak-picking/experiments/1/runs", body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
}

#[tokio::test]
async fn profile_data_is_centroided() {
    let h = harness().await;
    let body = json!({"path": "small.mzML", "centroid": {"signal_to_noise": 3.0, "ms_level": 1}});
    let (status, run, text) = call(
        &h.router,
        post_json("/api/peak-picking/experiments/2/runs", body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(run["centroiding"]["spectra_processed"], 14);
    assert!(run["centroiding"]["total_peaks"].as_u64().unwrap_or(0) > 0);
    assert_eq!(
        run["centroiding"]["top_peaks"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(run["summary"]["data_modes"]["profile"], 14);
}

#[tokio::test]
async fn the_csv_view_round_trips_awkward_labels() {
    let h = harness().await;
    let labels = ["2\"-DEOXY, \"quoted\"", "?-AMINO?", "a,b,c"];
    let targets: Vec<Value> = labels
        .iter()
        .map(|l| json!({"peak_label": l, "mz_mean": 250.094559, "rt_min": 300, "rt_max": 340}))
        .collect();
    let body = json!({"path": "HILICNeg15_StdH1.mzML", "targets": targets});
    let (status, _, text) = call(
        &h.router,
        post_json("/api/peak-picking/experiments/3/runs", body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let resp = h
        .router
        .clone()
        .oneshot(get("/api/peak-picking/experiments/3/result.csv"))
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let mut reader = csv::Reader::from_reader(bytes.as_ref());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header.join(","),
        "peak_label,mz_mean,mz_width,rt_min,rt_max,peak_area,peak_area_top3,peak_max,peak_min,peak_mean,peak_median,peak_rt_of_max,peak_n_datapoints,peak_mass_diff_25pc,peak_mass_diff_50pc,peak_mass_diff_75pc"
    );
    let got: Vec<String> = reader
        .records()
        .map(|r| r.expect("record")[0].to_string())
        .collect();
    assert_eq!(got, labels);
}

#[tokio::test]
async fn the_summary_export_tabulates_the_targets_and_the_csv_export_keeps_the_spec_header() {
    let h = harness().await;
    let targets = targets_json();
    let body = json!({"path": "HILICNeg15_StdH1.mzML", "targets": targets, "run_id": "sum-1"});
    let (status, run, text) = call(
        &h.router,
        post_json("/api/peak-picking/experiments/4/runs", body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");

    let (status, summary, text) = call(
        &h.router,
        get("/api/peak-picking/experiments/4/result/summary"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(summary["metadata"]["run_id"], "sum-1");
    assert_eq!(summary["metadata"]["file.name"], "HILICNeg15_StdH1.mzML");
    let sections = summary["sections"].as_array().expect("sections");
    assert_eq!(
        sections.len(),
        1,
        "only the targets array is a table: {sections:?}"
    );
    let table = &sections[0];
    assert_eq!(table["key"], "targets");
    assert_eq!(table["label"], "Targets");
    assert_eq!(table["type"], "table");
    let want = targets.as_array().expect("targets");
    assert_eq!(table["row_count"], want.len());
    let columns: Vec<&str> = table["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for column in [
        "peak_label",
        "mz_mean",
        "peak_area",
        "peak_max",
        "peak_rt_of_max",
    ] {
        assert!(columns.contains(&column), "{column} in {columns:?}");
    }
    assert!(
        !columns.contains(&"eic"),
        "the EIC object is not a table column"
    );
    let rows = table["rows"].as_array().expect("rows");
    for ((row, target), result) in rows
        .iter()
        .zip(want)
        .zip(run["targets"].as_array().expect("run targets"))
    {
        assert_eq!(row["peak_label"], target["peak_label"]);
        assert_eq!(row["peak_area"], result["peak_area"]);
        assert_eq!(row.as_object().map(|r| r.len()), Some(columns.len()));
    }

    let (status, _, csv) = call(&h.router, get("/api/peak-picking/experiments/4/result.csv")).await;
    assert_eq!(status, StatusCode::OK);
    let mut lines = csv.split("\r\n");
    assert_eq!(
        lines.next(),
        Some(
            "peak_label,mz_mean,mz_width,rt_min,rt_max,peak_area,peak_area_top3,peak_max,peak_min,peak_mean,peak_median,peak_rt_of_max,peak_n_datapoints,peak_mass_diff_25pc,peak_mass_diff_50pc,peak_mass_diff_75pc"
        )
    );
    assert_eq!(lines.filter(|l| !l.is_empty()).count(), want.len());
    h.app.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn missing_results_are_404() {
    let h = harness().await;
    for uri in [
        "/api/peak-picking/experiments/9/result",
        "/api/peak-picking/experiments/9/result.csv",
        "/api/peak-picking/experiments/9/result/summary",
    ] {
        let (status, body, _) = call(&h.router, get(uri)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["code"], "NOT_FOUND");
    }
}

#[tokio::test]
async fn every_input_error_is_a_400_naming_the_field_and_stores_nothing() {
    let h = harness().await;
    std::fs::write(h.root.join("notes.txt"), "hello, not a spectrum").expect("write");
    let ok = json!({"path": "HILICNeg15_StdH1.mzML", "run_id": "good"});
    let (status, _, _) = call(
        &h.router,
        post_json("/api/peak-picking/experiments/5/runs", ok),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let before = h.plugin.load_analysis(5).await.expect("load");

    let t = |extra: Value| {
        let mut base = json!({"peak_label": "X", "mz_mean": 100.0});
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        base
    };
    let cases = vec![
        (json!({"path": "missing.mzML"}), "path"),
        (json!({"path": "notes.txt"}), "path"),
        (json!({"path": "/etc/hostname"}), "path"),
        (json!({"path": "../../../etc/passwd"}), "path"),
        (json!({}), "path"),
        (
            json!({"path": "small.mzML", "targets": [t(json!({})), t(json!({"rt_unit": "h"}))]}),
            "targets[1].rt_unit",
        ),
        (
            json!({"path": "small.mzML", "targets": [t(json!({"mz_mean": -1}))]}),
            "targets[0].mz_mean",
        ),
        (
            json!({"path": "small.mzML", "targets": [t(json!({"peak_label": ""}))]}),
            "targets[0].peak_label",
        ),
        (
            json!({"path": "small.mzML", "targets": [t(json!({"rt_min": 10, "rt_max": 5}))]}),
            "targets[0].rt_min",
        ),
        (
            json!({"path": "small.mzML", "targets": [t(json!({"mz_width": 0}))]}),
            "targets[0].mz_width",
        ),
        (
            json!({"path": "small.mzML", "targets": [t(json!({"intensity_threshold": -1}))]}),
            "targets[0].intensity_threshold",
        ),
        (
            json!({"path": "small.mzML", "centroid": {"signal_to_noise": 0}}),
            "centroid.signal_to_noise",
        ),
    ];
    for (body, field) in cases {
        let (status, resp, text) = call(
            &h.router,
            post_json("/api/peak-picking/experiments/5/runs", body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {text}");
        assert_eq!(resp["code"], "VALIDATION_ERROR", "{body}");
        let got = resp["details"]["field"].as_str().unwrap_or_default();
        assert!(got.starts_with(field), "{body}: field {got}, want {field}");
    }
    // Multipart: missing file, not mzML, bad CSV row.
    let (status, resp, _) = call(&h.router, multipart(&[("params", None, b"{}".to_vec())])).await;
    assert_eq!(
        (status, resp["details"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("file"))
    );
    let (status, resp, _) = call(
        &h.router,
        multipart(&[("file", Some("x.mzML"), b"PK\x03\x04 zip".to_vec())]),
    )
    .await;
    assert_eq!(
        (status, resp["details"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("file"))
    );
    assert!(
        resp["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not an mzML file")
    );
    let bad_csv = b"peak_label,mz_mean,rt_unit\nA,100,s\nB,200,hours\n".to_vec();
    let mzml = std::fs::read(example("small.mzML")).expect("mzml");
    let (status, resp, _) = call(
        &h.router,
        multipart(&[
            ("file", Some("s.mzML"), mzml),
            ("targets", Some("t.csv"), bad_csv),
        ]),
    )
    .await;
    assert_eq!(
        (status, resp["details"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("targets.csv:line 3"))
    );

    let after = h.plugin.load_analysis(5).await.expect("load");
    assert_eq!(before, after, "no error changed the stored result");
    assert!(
        !h.root.join("uploads").exists(),
        "failed uploads are not kept"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlink_out_of_the_data_roots_is_refused() {
    let h = harness().await;
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::copy(example("small.mzML"), outside.path().join("secret.mzML")).expect("copy");
    std::os::unix::fs::symlink(outside.path().join("secret.mzML"), h.root.join("link.mzML"))
        .expect("symlink");
    let (status, resp, _) = call(
        &h.router,
        post_json(
            "/api/peak-picking/experiments/1/runs",
            json!({"path": "link.mzML"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(resp["details"]["field"], "path");
    assert_eq!(resp["message"], "path is outside the data roots");
}

#[tokio::test]
async fn concurrent_runs_are_both_kept_and_retries_are_kept_once() {
    let h = harness().await;
    let a = post_json(
        "/api/peak-picking/experiments/4/runs",
        json!({"path": "small.mzML", "run_id": "a"}),
    );
    let b = post_json(
        "/api/peak-picking/experiments/4/runs",
        json!({"path": "small.mzML", "run_id": "b"}),
    );
    let (ra, rb) = tokio::join!(call(&h.router, a), call(&h.router, b));
    assert_eq!((ra.0, rb.0), (StatusCode::CREATED, StatusCode::CREATED));
    let retry = post_json(
        "/api/peak-picking/experiments/4/runs",
        json!({"path": "small.mzML", "run_id": "a"}),
    );
    assert_eq!(call(&h.router, retry).await.0, StatusCode::CREATED);
    let stored = h
        .plugin
        .load_analysis(4)
        .await
        .expect("load")
        .expect("stored");
    let (status, history, _) = call(&h.router, get("/api/peak-picking/experiments/4/runs")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history, stored.result["runs"]);
    let (_, empty, _) = call(&h.router, get("/api/peak-picking/experiments/404/runs")).await;
    assert_eq!(empty, json!([]));
    let mut ids: Vec<String> = stored.result["runs"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["run_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
}

#[tokio::test]
async fn history_keeps_only_the_last_runs() {
    let h = harness().await;
    let settings = PeakPickingSettings {
        history_limit: 2,
        ..h.plugin.settings()
    };
    h.plugin.set_settings(settings).expect("settings");
    for id in ["1", "2", "3"] {
        let req = post_json(
            "/api/peak-picking/experiments/6/runs",
            json!({"path": "small.mzML", "run_id": id}),
        );
        assert_eq!(call(&h.router, req).await.0, StatusCode::CREATED);
    }
    let stored = h
        .plugin
        .load_analysis(6)
        .await
        .expect("load")
        .expect("stored");
    let ids: Vec<&str> = stored.result["runs"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["run_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["2", "3"]);
    assert_eq!(stored.result["latest"]["run_id"], "3");
}

#[tokio::test]
async fn too_many_targets_is_a_400() {
    let h = harness().await;
    let settings = PeakPickingSettings {
        max_targets: 2,
        ..h.plugin.settings()
    };
    h.plugin.set_settings(settings).expect("settings");
    let targets: Vec<Value> = (0..3)
        .map(|i| json!({"peak_label": format!("t{i}"), "mz_mean": 100.0 + f64::from(i)}))
        .collect();
    let (status, resp, _) = call(
        &h.router,
        post_json(
            "/api/peak-picking/experiments/1/runs",
            json!({"path": "small.mzML", "targets": targets}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(resp["details"]["field"], "targets");
}
