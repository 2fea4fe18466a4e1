//! `/api/plugins*` (`spec/platform-api.md` §4.5): the loaded plugins and installed bundles,
//! their stored settings, reload, and bundle installation. Reading needs `plugins.view`,
//! settings need `plugins.configure`, everything that installs, removes or reloads code needs
//! `plugins.install` (rbac.md §1), checked before the body is read.
//!
//! Install side ([`crate::plugins::installed`] does the work):
//! - `POST /api/plugins/install {source, force}`: a URL (`…://…`) or a registry name (no `/`,
//!   not ending `.mint`/`.mld`) → 501 `feature.not_implemented`; anything else is a bundle
//!   path the server reads (relative to its working directory).
//! - `POST /api/plugins/upload?force=` with the multipart part `file`: streamed to a staging
//!   file under `<data_dir>/plugins/`, at most `server.maxUploadBytes` (413 beyond).
//! - Both answer an `InstallResult`: `success:true`, or `success:false` with the reason when
//!   the bundle cannot be installed here (not a ZIP, bad or Python manifest, unsafe entry, no
//!   binary for this host's triple, checksum mismatch, too large, unreadable path). A package
//!   of the same name already installed without `force`, or a name, routes prefix, schema or
//!   data directory taken by a compiled-in plugin or another package (even with `force`),
//!   is a 409 envelope with `details.conflict_detected: true`.
//! - `DELETE /api/plugins/{package_name}?mode=keep|archive|purge` (default keep): an
//!   `InstallResult`; 404 when not installed; 409 for a compiled-in plugin.
//! - `POST /api/plugins/{package_name}/upgrade`: 501 (upgrades need a registry; upload the
//!   new bundle with `force=true` instead). `runtime/external` and `runtime/docker`: 501.

use std::sync::Arc;

use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use mint_sdk::error::{JsonObject, RequestProblem, request_validation_envelope};
use mint_sdk::extract::{Json, Path, Query};
use mint_sdk::{PluginError, SettingsModel};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::plugins::config_store::{self, StoredConfig};
use crate::plugins::installed::{self, InstallResult, Staging, UninstallMode};
use crate::plugins::{Lifecycle, PluginEntry};
use crate::rbac::Principal;
use crate::state::Platform;

/// The plugin routes.
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
        .route("/api/plugins", get(list))
        .route("/api/plugins/install", post(install))
        .route(
            "/api/plugins/upload",
            // The handler counts the bytes against server.maxUploadBytes itself.
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/plugins/config/extra-index-urls",
            get(get_index_urls).put(put_index_urls),
        )
        .route("/api/plugins/snapshots", get(list_snapshots))
        .route("/api/plugins/snapshots/{id}", get(get_snapshot))
        .route(
            "/api/plugins/runtime/external",
            post(not_implemented_install),
        )
        .route("/api/plugins/runtime/docker", post(not_implemented_install))
        .route("/api/plugins/{name}", delete(uninstall))
        .route("/api/plugins/{name}/upgrade", post(upgrade))
        .route("/api/plugins/{name}/reload", post(reload))
        .route(
            "/api/plugins/{name}/config",
            get(get_config).put(put_config).patch(patch_config),
        )
}

async fn list(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
) -> Result<Json<Value>, PluginError> {
    principal.require("plugins.view")?;
    let bundles = platform.plugins.bundles();
    let loaded: Vec<Value> = platform
        .plugins
        .entries()
        .iter()
        .map(|e| e.to_json())
        .chain(bundles.iter().map(|b| b.to_json()))
        .collect();
    let installed: Vec<Value> = bundles.iter().map(|b| b.installed_json()).collect();
    Ok(Json(json!({"loaded": loaded, "installed": installed})))
}

/// 501 `feature.not_implemented`: `<what> is not implemented in this platform build`, then
/// `; <instead>` when there is another way.
fn not_implemented(what: &str, instead: Option<&str>) -> PluginError {
    let instead = instead.map(|i| format!("; {i}")).unwrap_or_default();
    PluginError::http_message(
        StatusCode::NOT_IMPLEMENTED,
        format!("{what} is not implemented in this platform build{instead}"),
    )
}

#[derive(Deserialize)]
struct InstallRequest {
    source: String,
    #[serde(default)]
    force: bool,
}

/// `POST /api/plugins/install`: a URL or registry name answers 501; a bundle path is
/// installed.
async fn install(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Json(body): Json<InstallRequest>,
) -> Result<Json<Value>, PluginError> {
    principal.require("plugins.install")?;
    let source = body.source.trim();
    if source.is_empty() {
        return Err(PluginError::validation("source must name a bundle path").with_field("source"));
    }
    if source.contains("://") {
        return Err(not_implemented(
            "Installing from a URL",
            Some("download the bundle and upload it (POST /api/plugins/upload)"),
        ));
    }
    if !source.contains('/') && !source.ends_with(".mint") && !source.ends_with(".mld") {
        return Err(not_implemented(
            "Installing from a package registry",
            Some("upload a .mint bundle (POST /api/plugins/upload)"),
        ));
    }
    let staging = Staging::new(&platform)?;
    let result = installed::install(
        &platform,
        staging,
        std::path::PathBuf::from(source),
        body.force,
        Some(principal.user.id),
    )
    .await?;
    Ok(Json(result.to_json()))
}

#[derive(Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

/// The multipart part that carries the bundle.
const UPLOAD_FIELD: &str = "file";

/// The 422 request-validation envelope (errors-and-logging.md §4) for a problem with the
/// upload's multipart body, located at `file`.
fn upload_problem(message: String) -> Response {
    let problem = RequestProblem {
        field: UPLOAD_FIELD.into(),
        message,
        kind: "value_error".into(),
        loc: vec![Value::from("body"), Value::from(UPLOAD_FIELD)],
    };
    let body = request_validation_envelope(&[problem], mint_sdk::current_request_id().as_deref());
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// `POST /api/plugins/upload?force=`: streams the multipart part `file` into a staging file
/// (at most `server.maxUploadBytes`, else 413), then installs it. A body that is not
/// multipart, cannot be read or has no `file` part is a 422.
async fn upload(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Query(query): Query<ForceQuery>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PluginError> {
    principal.require("plugins.install")?;
    let mut multipart = match multipart {
        Ok(multipart) => multipart,
        Err(err) => {
            return Ok(upload_problem(format!(
                "Expected a multipart/form-data body with the bundle in the part 'file' ({err})"
            )));
        }
    };
    let staging = Staging::new(&platform)?;
    let bundle_path = staging.path().join("upload.mint");
    let limit = platform.config.settings.server.max_upload_bytes;
    let mut received = false;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => return Ok(multipart_failure(err, limit)),
        };
        if field.name() != Some(UPLOAD_FIELD) {
            continue;
        }
        let mut file = tokio::fs::File::create(&bundle_path).await.map_err(|e| {
            PluginError::unexpected(format!("Cannot write {}: {e}", bundle_path.display()))
        })?;
        let mut written: u64 = 0;
        loop {
            let chunk = match field.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(err) => return Ok(multipart_failure(err, limit)),
            };
            written += chunk.len() as u64;
            if written > limit {
                return Err(PluginError::http_message(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The bundle is larger than server.maxUploadBytes ({limit} bytes)"),
                ));
            }
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(|e| {
                    PluginError::unexpected(format!("Cannot write {}: {e}", bundle_path.display()))
                })?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(|e| PluginError::unexpected(format!("Cannot write the upload: {e}")))?;
        received = true;
        break;
    }
    if !received {
        return Ok(upload_problem(
            "The multipart body has no part named 'file'".into(),
        ));
    }
    let result = installed::install(
        &platform,
        staging,
        bundle_path,
        query.force,
        Some(principal.user.id),
    )
    .await?;
    Ok(Json(result.to_json()).into_response())
}

/// A multipart read error: 413 when a body limit stopped it, else 422.
fn multipart_failure(err: axum::extract::multipart::MultipartError, limit: u64) -> Response {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return PluginError::http_message(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The bundle is larger than server.maxUploadBytes ({limit} bytes)"),
        )
        .into_response();
    }
    upload_problem(format!("Cannot read the multipart body: {err}"))
}

#[derive(Deserialize)]
struct UninstallQuery {
    #[serde(default)]
    mode: UninstallMode,
}

/// `DELETE /api/plugins/{package_name}?mode=keep|archive|purge`.
async fn uninstall(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(name): Path<String>,
    Query(query): Query<UninstallQuery>,
) -> Result<Json<Value>, PluginError> {
    principal.require("plugins.install")?;
    let result: InstallResult = installed::uninstall(&platform, &name, query.mode).await?;
    Ok(Json(result.to_json()))
}

/// `POST /api/plugins/{package_name}/upgrade`: there is no package registry to upgrade from.
async fn upgrade(principal: Principal) -> Result<Response, PluginError> {
    principal.require("plugins.install")?;
    Err(not_implemented(
        "Upgrading from a package registry",
        Some("upload the new bundle with force=true (POST /api/plugins/upload?force=true)"),
    ))
}

/// The external and docker runtimes: 501 after the permission check.
async fn not_implemented_install(principal: Principal) -> Result<Response, PluginError> {
    principal.require("plugins.install")?;
    Err(not_implemented(
        "Registering external and docker plugin runtimes",
        None,
    ))
}

async fn get_index_urls(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
) -> Result<Json<Value>, PluginError> {
    principal.require("plugins.view")?;
    Ok(Json(json!({"urls": platform.plugins.extra_index_urls()})))
}

#[derive(Deserialize)]
struct IndexUrls {
    urls: Vec<String>,
}

async fn put_index_urls(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Json(body): Json<IndexUrls>,
) -> Result<Json<Value>, PluginError> {
    principal.require("plugins.install")?;
    let mut urls = Vec::with_capacity(body.urls.len());
    for (i, url) in body.urls.iter().enumerate() {
        let url = url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
            return Err(PluginError::validation("Each URL must be an http(s) URL")
                .with_field(format!("urls.{i}")));
        }
        if !urls.iter().any(|u| u == url) {
            urls.push(url.to_string());
        }
    }
    platform.plugins.set_extra_index_urls(urls.clone());
    Ok(Json(json!({"urls": urls})))
}

async fn list_snapshots(principal: Principal) -> Result<Json<Value>, PluginError> {
    principal.require("plugins.view")?;
    Ok(Json(json!([])))
}

async fn get_snapshot(
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, PluginError> {
    principal.require("plugins.view")?;
    Err(crate::api::not_found(format!("Snapshot {id} not found")))
}

/// `POST /api/plugins/{name}/reload` (Rust extension): re-runs migrate → initialize → mount;
/// answers the plugin's `LoadedPlugin`, whatever phase it ended in.
async fn reload(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, PluginError> {
    principal.require("plugins.install")?;
    let entry = platform.plugins.reload(&name).await?;
    Ok(Json(entry.to_json()))
}

// ----- settings -------------------------------------------------------------------------------

fn entry_of<'a>(platform: &'a Platform, name: &str) -> Result<&'a Arc<PluginEntry>, PluginError> {
    platform
        .plugins
        .find(name)
        .ok_or_else(|| crate::api::not_found(format!("Plugin '{name}' not found")))
}

fn settings_model_of(entry: &PluginEntry) -> Option<SettingsModel> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        entry.plugin.settings_model()
    }))
    .ok()
    .flatten()
}

/// `{plugin, config, revision}` with secret fields shown as `null`, and an `ETag`.
fn config_response(entry: &PluginEntry, stored: &StoredConfig) -> Response {
    let secrets = settings_model_of(entry)
        .map(|m| m.secret_keys())
        .unwrap_or_default();
    let shown = mint_sdk::settings::mask_secrets(&stored.config, &secrets);
    let revision = stored.revision.to_string();
    let mut response = Json(json!({
        "plugin": entry.name(),
        "config": shown,
        "revision": revision,
    }))
    .into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

async fn get_config(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Response, PluginError> {
    principal.require("plugins.view")?;
    let entry = entry_of(&platform, &name)?;
    let stored = config_store::load(&platform.store, entry.name()).await?;
    Ok(config_response(entry, &stored))
}

#[derive(Deserialize)]
struct ConfigBody {
    config: JsonObject,
}

/// The 422 of invalid settings: the offending field, never the submitted value.
fn invalid_settings(err: &PluginError) -> Response {
    let field = match err {
        PluginError::Validation { field, .. } => field.clone(),
        _ => None,
    }
    .unwrap_or_else(|| "__root__".into());
    let mut loc = vec![Value::from("body"), Value::from("config")];
    loc.extend(field.split('.').map(Value::from));
    let message = format!("Invalid plugin settings: {field}");
    let body = json!({
        "code": "validation.error",
        "message": message,
        "status": 422,
        "detail": [{"type": "value_error", "loc": loc, "msg": "Invalid value"}],
        "request_id": mint_sdk::current_request_id(),
        "details": [{"field": format!("config.{field}"), "message": "Invalid value"}],
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// Why a settings write was refused before anything was stored.
enum Refusal {
    /// The settings do not fit the plugin's model (422).
    Invalid(PluginError),
    /// Anything else (stale revision, database).
    Other(PluginError),
}

impl From<PluginError> for Refusal {
    fn from(err: PluginError) -> Self {
        Self::Other(err)
    }
}

/// Validates `next` against the plugin's settings model (when it has one): secret fields
/// absent or `null` keep `current`'s value; model fields are stored normalized, other keys
/// (e.g. `allowed_experiment_types`) as sent.
fn checked_settings(
    model: Option<&SettingsModel>,
    current: &JsonObject,
    mut next: JsonObject,
) -> Result<JsonObject, PluginError> {
    let Some(model) = model else {
        return Ok(next);
    };
    for key in model.secret_keys() {
        if next.get(&key).is_none_or(Value::is_null) {
            match current.get(&key) {
                Some(old) => next.insert(key, old.clone()),
                None => next.shift_remove(&key),
            };
        }
    }
    let normalized = model.validate(&Value::Object(next.clone()))?;
    for (key, value) in normalized {
        next.insert(key, value);
    }
    Ok(next)
}

/// Stores the settings `change` computes (under the row lock, all or nothing), then hands
/// them to the running plugin (`apply_settings`).
async fn write_config(
    platform: &Platform,
    entry: &PluginEntry,
    change: impl FnOnce(&StoredConfig) -> Result<JsonObject, Refusal>,
) -> Result<Response, PluginError> {
    let model = settings_model_of(entry);
    let result = config_store::update(&platform.store, entry.name(), |current| {
        let next = change(current)?;
        checked_settings(model.as_ref(), &current.config, next).map_err(Refusal::Invalid)
    })
    .await;
    let stored = match result {
        Ok(stored) => stored,
        Err(Refusal::Invalid(err)) => return Ok(invalid_settings(&err)),
        Err(Refusal::Other(err)) => return Err(err),
    };
    if entry.phase() == Lifecycle::Ready
        && let Err(err) = entry
            .plugin
            .apply_settings(&Value::Object(stored.config.clone()))
    {
        tracing::warn!(plugin = %entry.name(), error = %err, "stored settings were not applied");
    }
    Ok(config_response(entry, &stored))
}

/// The revision an `If-Match` header names (`"3"`, `W/"3"`, `3`; `*` matches any).
fn if_match(headers: &HeaderMap) -> Result<Option<String>, PluginError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Err(PluginError::http_message(
            StatusCode::PRECONDITION_REQUIRED,
            "If-Match with the config revision is required",
        ));
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let text = text.strip_prefix("W/").unwrap_or(text);
    Ok(Some(text.trim_matches('"').to_string()))
}

async fn put_config(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(body): Json<ConfigBody>,
) -> Result<Response, PluginError> {
    principal.require("plugins.configure")?;
    let entry = entry_of(&platform, &name)?;
    let expected = if_match(&headers)?;
    write_config(&platform, entry, |current| {
        if let Some(expected) = expected
            && expected != current.revision.to_string()
        {
            return Err(Refusal::Other(PluginError::http_message(
                StatusCode::PRECONDITION_FAILED,
                format!(
                    "The config changed meanwhile: revision {} is current, not {expected}",
                    current.revision
                ),
            )));
        }
        Ok(body.config)
    })
    .await
}

async fn patch_config(
    State(platform): State<Arc<Platform>>,
    principal: Principal,
    Path(name): Path<String>,
    Json(body): Json<ConfigBody>,
) -> Result<Response, PluginError> {
    principal.require("plugins.configure")?;
    let entry = entry_of(&platform, &name)?;
    write_config(&platform, entry, |current| {
        let mut next = current.config.clone();
        for (key, value) in body.config {
            next.insert(key, value);
        }
        Ok(next)
    })
    .await
}
