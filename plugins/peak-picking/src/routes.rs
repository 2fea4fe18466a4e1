//! HTTP routes of the peak-picking plugin (`spec/peak-picking.md` §3–4), under
//! `/api/peak-picking`:
//!
//! - `POST /experiments/{experiment_id}/runs` — analyse an mzML file named by `path` (JSON) or
//!   uploaded (multipart), store the run, answer 201 with it.
//! - `GET /experiments/{experiment_id}/runs` — the run history, oldest first (`[]` when none).
//! - `GET /experiments/{experiment_id}/result` — the latest run (404 when none).
//! - `GET /experiments/{experiment_id}/result.csv` — the latest run's target table as CSV
//!   ([`AnalysisPlugin::export_csv`], overridden by the plugin).
//! - `GET /experiments/{experiment_id}/result/summary` — the latest run as the SDK's generic
//!   summary (`{"metadata", "sections"}`, [`AnalysisPlugin::export_summary`]): run fields as
//!   metadata, the targets as a table section.
//!
//! Every input problem is a 400 `VALIDATION_ERROR` naming the input in `details.field`, and
//! nothing is stored on any error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mint_sdk::extract::{JSON_BODY_LIMIT, Json, Path, RequestRejection, parse_json};
use mint_sdk::repositories::{now_utc, timestamp};
use mint_sdk::serde_json::{Value, json};
use mint_sdk::{AnalysisPlugin, CurrentUser, JsonObject, PluginError, current_request_id};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::analysis::{
    self, CentroidParams, InputError, Target, TargetInput, TargetResult, parse_targets_csv,
    validate_targets,
};
use crate::plugin::PeakPickingPlugin;

/// The plugin's router (mounted by the SDK at `/api/peak-picking`).
pub fn router(plugin: Arc<PeakPickingPlugin>) -> Router {
    Router::new()
        .route(
            "/experiments/{experiment_id}/runs",
            post(post_run).get(get_runs),
        )
        .route("/experiments/{experiment_id}/result", get(get_result))
        .route(
            "/experiments/{experiment_id}/result.csv",
            get(get_result_csv),
        )
        .route(
            "/experiments/{experiment_id}/result/summary",
            get(get_result_summary),
        )
        .with_state(plugin)
}

fn input_error(err: InputError) -> PluginError {
    PluginError::validation(err.message).with_field(err.field)
}

/// The JSON form of a run request.
#[derive(Debug, Deserialize)]
struct RunRequest {
    path: String,
    #[serde(default)]
    targets: Option<Vec<TargetInput>>,
    #[serde(default)]
    centroid: Option<CentroidParams>,
    #[serde(default)]
    run_id: Option<String>,
}

/// The multipart `params` part.
#[derive(Debug, Default, Deserialize)]
struct RunParams {
    #[serde(default)]
    centroid: Option<CentroidParams>,
    #[serde(default)]
    run_id: Option<String>,
}

enum Source {
    Path { resolved: PathBuf, given: String },
    Upload { name: String, bytes: Vec<u8> },
}

struct RunInput {
    source: Source,
    targets: Vec<Target>,
    targets_source: &'static str,
    centroid: CentroidParams,
    run_id: Option<String>,
}

/// A body that could not be parsed: 413 stays 413, everything else is a 400 naming the field
/// (`prefix.field`), as every input error of this plugin.
fn body_rejection(rejection: RequestRejection, prefix: &str) -> Response {
    let problem = match &rejection {
        RequestRejection::TooLarge => return rejection.into_response(),
        RequestRejection::Invalid(problems) => problems.first(),
    };
    let field = match problem.map(|p| p.field.as_str()) {
        None | Some("__root__") => prefix.to_string(),
        Some(f) if prefix == "body" => f.to_string(),
        Some(f) => format!("{prefix}.{f}"),
    };
    let message = problem
        .map(|p| p.message.clone())
        .unwrap_or_else(|| "invalid request body".into());
    PluginError::validation(message)
        .with_field(field)
        .into_response()
}

async fn read_json_input(plugin: &PeakPickingPlugin, req: Request) -> Result<RunInput, Response> {
    let bytes = axum::body::to_bytes(req.into_body(), JSON_BODY_LIMIT)
        .await
        .map_err(|_| RequestRejection::TooLarge.into_response())?;
    let body: RunRequest = parse_json(&bytes).map_err(|r| body_rejection(r, "body"))?;
    let resolved = plugin
        .resolve_data_path(&body.path)
        .map_err(IntoResponse::into_response)?;
    let (targets, targets_source) = match body.targets {
        Some(inputs) => (
            validate_targets(inputs).map_err(|e| input_error(e).into_response())?,
            "json",
        ),
        None => (Vec::new(), "none"),
    };
    Ok(RunInput {
        source: Source::Path {
            resolved,
            given: body.path,
        },
        targets,
        targets_source,
        centroid: body.centroid.unwrap_or_default(),
        run_id: body.run_id,
    })
}

fn multipart_error(err: axum::extract::multipart::MultipartError, field: &str) -> Response {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return PluginError::http(StatusCode::PAYLOAD_TOO_LARGE).into_response();
    }
    PluginError::validation(format!("could not read the upload: {}", err.body_text()))
        .with_field(field)
        .into_response()
}

async fn read_multipart_input(req: Request) -> Result<RunInput, Response> {
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|e| {
        PluginError::validation(format!("invalid multipart body: {}", e.body_text()))
            .with_field("file")
            .into_response()
    })?;
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut targets: Option<Vec<Target>> = None;
    let mut params = RunParams::default();
    while let Some(part) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, "file"))?
    {
        let name = part.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let file_name = part.file_name().unwrap_or("upload.mzML").to_string();
                let bytes = part.bytes().await.map_err(|e| multipart_error(e, "file"))?;
                file = Some((file_name, bytes.to_vec()));
            }
            "targets" => {
                let bytes = part
                    .bytes()
                    .await
                    .map_err(|e| multipart_error(e, "targets.csv"))?;
                targets =
                    Some(parse_targets_csv(&bytes).map_err(|e| input_error(e).into_response())?);
            }
            "params" => {
                let bytes = part
                    .bytes()
                    .await
                    .map_err(|e| multipart_error(e, "params"))?;
                params = parse_json(&bytes).map_err(|r| body_rejection(r, "params"))?;
            }
            _ => {}
        }
    }
    let Some((name, bytes)) = file else {
        return Err(
            PluginError::validation("an mzML file part named 'file' is required")
                .with_field("file")
                .into_response(),
        );
    };
    let targets_source = if targets.is_some() { "csv" } else { "none" };
    Ok(RunInput {
        source: Source::Upload { name, bytes },
        targets: targets.unwrap_or_default(),
        targets_source,
        centroid: params.centroid.unwrap_or_default(),
        run_id: params.run_id,
    })
}

fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// What the blocking analysis produces.
struct Analysed {
    summary: analysis::Summary,
    centroiding: analysis::CentroidingReport,
    targets: Vec<TargetResult>,
}

fn analyse(
    bytes: &[u8],
    field: &str,
    targets: &[Target],
    centroid: &CentroidParams,
) -> Result<Analysed, InputError> {
    let run = analysis::load_run(bytes, field)?;
    Ok(Analysed {
        summary: analysis::summarize(&run),
        centroiding: analysis::centroid(&run, centroid),
        targets: analysis::extract(&run, targets),
    })
}

/// Stores an upload under `<first root>/uploads/<sha256>.mzML` (temp file + rename) so a later
/// run can name it by path.
fn store_upload(
    root: &std::path::Path,
    sha: &str,
    gz: bool,
    bytes: &[u8],
) -> std::io::Result<PathBuf> {
    let dir = root.join("uploads");
    std::fs::create_dir_all(&dir)?;
    let name = if gz {
        format!("{sha}.mzML.gz")
    } else {
        format!("{sha}.mzML")
    };
    let target = dir.join(name);
    if !target.exists() {
        let tmp = dir.join(format!(".{sha}.{}.partial", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &target)?;
    }
    Ok(target)
}

async fn post_run(
    State(plugin): State<Arc<PeakPickingPlugin>>,
    Path(experiment_id): Path<i64>,
    _user: CurrentUser,
    req: Request,
) -> Response {
    match run_analysis(plugin, experiment_id, req).await {
        Ok(run) => (StatusCode::CREATED, Json(Value::Object(run))).into_response(),
        Err(response) => response,
    }
}

async fn run_analysis(
    plugin: Arc<PeakPickingPlugin>,
    experiment_id: i64,
    req: Request,
) -> Result<JsonObject, Response> {
    plugin
        .check_experiment(experiment_id)
        .await
        .map_err(IntoResponse::into_response)?;
    let input = if is_multipart(&req) {
        read_multipart_input(req).await?
    } else {
        read_json_input(&plugin, req).await?
    };
    input
        .centroid
        .validate()
        .map_err(|e| input_error(e).into_response())?;
    let settings = plugin.settings();
    if input.targets.len() > settings.max_targets {
        return Err(PluginError::validation(format!(
            "{} targets in one run is more than the limit of {}",
            input.targets.len(),
            settings.max_targets
        ))
        .with_field("targets")
        .into_response());
    }
    let started_at = now_utc();
    let clock = Instant::now();
    let (field, file_name, bytes, given_path) = match input.source {
        Source::Path { resolved, given } => {
            let bytes = tokio::fs::read(&resolved).await.map_err(|e| {
                PluginError::validation(format!("cannot read {given}: {e}"))
                    .with_field("path")
                    .into_response()
            })?;
            let name = resolved
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            ("path", name, bytes, Some(given))
        }
        Source::Upload { name, bytes } => ("file", name, bytes, None),
    };
    let bytes = Arc::new(bytes);
    let work = {
        let bytes = bytes.clone();
        let targets = input.targets.clone();
        let centroid = input.centroid;
        tokio::task::spawn_blocking(move || {
            let sha = hex(&Sha256::digest(bytes.as_slice()));
            analyse(&bytes, field, &targets, &centroid).map(|a| (a, sha))
        })
    };
    let (analysed, sha) = work
        .await
        .map_err(|e| PluginError::unexpected(e).into_response())?
        .map_err(|e| input_error(e).into_response())?;
    if given_path.is_none()
        && let Some(root) = settings.data_roots.first()
    {
        let gz = bytes.starts_with(&[0x1f, 0x8b]);
        store_upload(root, &sha, gz, &bytes).map_err(|e| {
            PluginError::repository(format!("could not store the upload: {e}"))
                .with_operation("store_upload")
                .into_response()
        })?;
    }
    let run_id = input
        .run_id
        .filter(|r| !r.trim().is_empty())
        .or_else(current_request_id)
        .unwrap_or_else(|| format!("run-{}", started_at.timestamp_micros()));
    let mut params = JsonObject::new();
    if let Some(p) = given_path {
        params.insert("path".into(), p.into());
    }
    params.insert("centroid".into(), json!(input.centroid));
    params.insert("targets_source".into(), input.targets_source.into());
    params.insert("targets_count".into(), input.targets.len().into());
    let run = json!({
        "run_id": run_id,
        "file": {"name": file_name, "size_bytes": bytes.len(), "sha256": sha},
        "params": params,
        "summary": analysed.summary,
        "centroiding": analysed.centroiding,
        "targets": analysed.targets,
        "started_at": timestamp::format(&started_at),
        "duration_ms": clock.elapsed().as_secs_f64() * 1000.0,
        "plugin_version": env!("CARGO_PKG_VERSION"),
    });
    let Value::Object(run) = run else {
        return Err(PluginError::other("run is not an object").into_response());
    };
    plugin
        .record_run(experiment_id, run.clone())
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(run)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The stored run history (oldest first, without chromatograms); `[]` when none; 404 when the
/// experiment does not exist (or, integrated, the caller cannot see it).
async fn get_runs(
    State(plugin): State<Arc<PeakPickingPlugin>>,
    Path(experiment_id): Path<i64>,
    _user: CurrentUser,
) -> Result<Json<Value>, PluginError> {
    plugin.check_experiment(experiment_id).await?;
    let runs = plugin
        .load_analysis(experiment_id)
        .await?
        .and_then(|r| r.result.get("runs").cloned())
        .unwrap_or_else(|| json!([]));
    Ok(Json(runs))
}

async fn get_result(
    State(plugin): State<Arc<PeakPickingPlugin>>,
    Path(experiment_id): Path<i64>,
    _user: CurrentUser,
) -> Result<Json<Value>, PluginError> {
    Ok(Json(Value::Object(plugin.latest_run(experiment_id).await?)))
}

async fn get_result_csv(
    State(plugin): State<Arc<PeakPickingPlugin>>,
    Path(experiment_id): Path<i64>,
    _user: CurrentUser,
) -> Result<Response, PluginError> {
    let latest = plugin.latest_run(experiment_id).await?;
    let csv = plugin.export_csv(&latest);
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
}

async fn get_result_summary(
    State(plugin): State<Arc<PeakPickingPlugin>>,
    Path(experiment_id): Path<i64>,
    _user: CurrentUser,
) -> Result<Json<Value>, PluginError> {
    let latest = plugin.latest_run(experiment_id).await?;
    Ok(Json(plugin.export_summary(&latest)))
}
