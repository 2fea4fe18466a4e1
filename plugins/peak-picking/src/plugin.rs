//! The peak-picking plugin itself: identity, settings (data roots, limits) and the run store
//! (`spec/peak-picking.md` §1, §2, §3 step 7).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use mint_sdk::local_database::plugin_data_dir;
use mint_sdk::serde_json::{Value, json};
use mint_sdk::{
    AnalysisPlugin, JsonObject, PlatformContext, PluginCapabilities, PluginCore, PluginError,
    PluginMetadata, PluginType, auto_json_to_csv,
};
use serde::Deserialize;

use crate::analysis::{TargetResult, results_csv};

/// The plugin id and the owner of its analysis results.
pub const PLUGIN_NAME: &str = "peak-picking";

/// Environment variable overriding the data roots (paths joined with `:`).
pub const DATA_ROOTS_ENV: &str = "PEAK_PICKING_DATA_ROOTS";

/// Settings of spec §2.
#[derive(Debug, Clone, PartialEq)]
pub struct PeakPickingSettings {
    /// The only folders a `path` may point into (canonical, symlinks resolved).
    pub data_roots: Vec<PathBuf>,
    /// Most targets in one run; more is a 400.
    pub max_targets: usize,
    /// Runs kept in the result's `runs` history.
    pub history_limit: usize,
}

impl Default for PeakPickingSettings {
    fn default() -> Self {
        Self {
            data_roots: Vec::new(),
            max_targets: 5_000,
            history_limit: 50,
        }
    }
}

/// The LC-MS peak-picking analysis plugin.
#[derive(Debug, Default)]
pub struct PeakPickingPlugin {
    core: PluginCore,
    settings: RwLock<PeakPickingSettings>,
    /// One lock per experiment: the result's read-modify-write is serialized per experiment.
    experiment_locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl PeakPickingPlugin {
    /// A new, not yet started plugin with default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current settings.
    pub fn settings(&self) -> PeakPickingSettings {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Replaces the settings (roots are canonicalized; missing roots are created).
    ///
    /// Errors: `Validation` (field `data_roots`) when a root cannot be created or resolved, or
    /// when there is none.
    pub fn set_settings(&self, settings: PeakPickingSettings) -> Result<(), PluginError> {
        if settings.data_roots.is_empty() {
            return Err(
                PluginError::validation("At least one data root is required")
                    .with_field("data_roots"),
            );
        }
        let mut roots = Vec::with_capacity(settings.data_roots.len());
        for root in &settings.data_roots {
            std::fs::create_dir_all(root)
                .and_then(|_| root.canonicalize())
                .map(|r| roots.push(r))
                .map_err(|e| {
                    PluginError::validation(format!(
                        "Data root {} is not usable: {e}",
                        root.display()
                    ))
                    .with_field("data_roots")
                })?;
        }
        if let Ok(mut slot) = self.settings.write() {
            *slot = PeakPickingSettings {
                data_roots: roots,
                ..settings
            };
        }
        Ok(())
    }

    /// The lock serializing result updates of one experiment.
    pub(crate) fn experiment_lock(&self, experiment_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.experiment_locks.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        locks.entry(experiment_id).or_default().clone()
    }

    /// Resolves a user-given `path` (relative to the first root) and checks it lies inside a
    /// data root after following symlinks.
    ///
    /// Errors: `Validation` with field `path`.
    pub fn resolve_data_path(&self, path: &str) -> Result<PathBuf, PluginError> {
        let invalid = |msg: &str| PluginError::validation(msg.to_string()).with_field("path");
        let roots = self.settings().data_roots;
        let first = roots
            .first()
            .ok_or_else(|| invalid("no data roots are configured"))?;
        if path.trim().is_empty() {
            return Err(invalid("path must not be empty"));
        }
        let candidate = Path::new(path);
        let joined = if candidate.is_absolute() {
            candidate.to_path_buf()
        } else {
            first.join(candidate)
        };
        let resolved = joined
            .canonicalize()
            .map_err(|_| invalid(&format!("file not found: {path}")))?;
        if !roots.iter().any(|root| resolved.starts_with(root)) {
            return Err(invalid("path is outside the data roots"));
        }
        if !resolved.is_file() {
            return Err(invalid(&format!("not a file: {path}")));
        }
        Ok(resolved)
    }

    /// Adds `run` to the experiment's stored result (`{"latest": run, "runs": [...]}`) under the
    /// experiment's lock, dropping the oldest runs past `history_limit`. A `run_id` already in
    /// `runs` is not added twice.
    pub async fn record_run(&self, experiment_id: i64, run: JsonObject) -> Result<(), PluginError> {
        let lock = self.experiment_lock(experiment_id);
        let _guard = lock.lock().await;
        let previous = self.load_analysis(experiment_id).await?;
        let mut runs: Vec<Value> = previous
            .as_ref()
            .and_then(|r| r.result.get("runs"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let run_id = run.get("run_id").cloned().unwrap_or(Value::Null);
        if !runs.iter().any(|r| r.get("run_id") == Some(&run_id)) {
            let mut summary = run.clone();
            if let Some(targets) = summary.get_mut("targets").and_then(Value::as_array_mut) {
                for t in targets.iter_mut().filter_map(Value::as_object_mut) {
                    t.remove("eic");
                }
            }
            runs.push(Value::Object(summary));
        }
        let limit = self.settings().history_limit.max(1);
        if runs.len() > limit {
            runs.drain(..runs.len() - limit);
        }
        let mut result = JsonObject::new();
        result.insert("latest".into(), Value::Object(run));
        result.insert("runs".into(), Value::Array(runs));
        let stored = self.save_analysis(experiment_id, result).await?;
        if stored.is_none() {
            return Err(PluginError::configuration(
                "No result store: the platform gave no data repository (requires_database)",
            )
            .with_config_key("requires_database"));
        }
        Ok(())
    }

    /// The latest run of the experiment.
    ///
    /// Errors: `NotFound` when the experiment has no run, or (integrated) does not exist or is
    /// invisible to the request's caller.
    pub async fn latest_run(&self, experiment_id: i64) -> Result<JsonObject, PluginError> {
        self.check_experiment(experiment_id).await?;
        self.load_analysis(experiment_id)
            .await?
            .and_then(|r| r.result.get("latest").and_then(Value::as_object).cloned())
            .ok_or_else(|| {
                PluginError::not_found(format!(
                    "Experiment {experiment_id} has no peak-picking run yet"
                ))
                .with_entity("analysis_result")
                .with_entity_id(experiment_id)
            })
    }

    /// Integrated mode: checks that the experiment exists (404 otherwise).
    pub async fn check_experiment(&self, experiment_id: i64) -> Result<(), PluginError> {
        let Some(repo) = self.context().and_then(|c| c.experiment_repository()) else {
            return Ok(());
        };
        match repo.get_by_id(experiment_id).await? {
            Some(_) => Ok(()),
            None => Err(
                PluginError::not_found(format!("Experiment {experiment_id} not found"))
                    .with_entity("experiment")
                    .with_entity_id(experiment_id),
            ),
        }
    }
}

fn roots_from_env() -> Option<Vec<PathBuf>> {
    let value = std::env::var(DATA_ROOTS_ENV).ok()?;
    let roots: Vec<PathBuf> = value
        .split(':')
        .filter(|p| !p.trim().is_empty())
        .map(PathBuf::from)
        .collect();
    (!roots.is_empty()).then_some(roots)
}

#[mint_sdk::async_trait]
impl AnalysisPlugin for PeakPickingPlugin {
    fn core(&self) -> &PluginCore {
        &self.core
    }

    fn metadata(&self) -> PluginMetadata {
        let mut meta = PluginMetadata::new(
            PLUGIN_NAME,
            env!("CARGO_PKG_VERSION"),
            "LC-MS analysis on mzML: run summary, profile centroiding and ms-mint compatible targeted extraction",
            "metabolomics",
            "/peak-picking",
        )
        .with_plugin_type(PluginType::Analysis)
        .with_capabilities(PluginCapabilities {
            requires_auth: true,
            requires_experiments: true,
            requires_database: true,
            ..Default::default()
        });
        meta.license = "Apache-2.0".into();
        meta
    }

    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        vec![(crate::routes::router(self), String::new())]
    }

    async fn initialize(&self, context: Option<PlatformContext>) -> Result<(), PluginError> {
        let default_roots = match context {
            None => vec![std::env::current_dir().map_err(|e| {
                PluginError::configuration(format!("Cannot read the working directory: {e}"))
            })?],
            Some(_) => vec![plugin_data_dir(PLUGIN_NAME).join("files")],
        };
        let current = self.settings();
        let data_roots = roots_from_env()
            .or_else(|| (!current.data_roots.is_empty()).then(|| current.data_roots.clone()))
            .unwrap_or(default_roots);
        self.set_settings(PeakPickingSettings {
            data_roots,
            ..current
        })
    }

    fn source_dir(&self) -> Option<PathBuf> {
        Some(env!("CARGO_MANIFEST_DIR").into())
    }

    /// A run's target table as `result.csv` (spec §3): the header of
    /// [`RESULTS_CSV_HEADER`](crate::analysis::RESULTS_CSV_HEADER) and one row per target.
    /// Data without `targets` (not a run) gets the SDK's generic CSV; so does a run whose
    /// stored targets no longer read as target results, with a warning in the log.
    fn export_csv(&self, data: &JsonObject) -> String {
        let Some(targets) = data.get("targets") else {
            return auto_json_to_csv(data);
        };
        match Vec::<TargetResult>::deserialize(targets) {
            Ok(targets) => results_csv(&targets),
            Err(e) => {
                tracing::warn!(
                    target: "peak_picking",
                    error = %e,
                    "stored targets are not target results; exporting the generic CSV"
                );
                auto_json_to_csv(data)
            }
        }
    }

    fn manifest(&self) -> Value {
        let mut v = json!(self.metadata());
        if let Some(obj) = v.as_object_mut() {
            obj.insert("migrations".into(), json!([]));
            obj.insert(
                "settings_schema".into(),
                json!({
                    "data_roots": {"type": "array", "items": {"type": "string"}},
                    "max_targets": {"type": "integer", "default": 5000},
                    "history_limit": {"type": "integer", "default": 50}
                }),
            );
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(members) => members,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn export_csv_of_a_run_is_the_target_table() {
        let run = object(json!({
            "run_id": "r1",
            "targets": [{
                "peak_label": "ADENOSINE", "mz_mean": 266.089355, "mz_width": 10.0,
                "rt_min": 384.19, "rt_max": 412.69, "rt": null, "target_filename": null,
                "peak_area": 1200.0, "peak_area_top3": 400.0, "peak_max": 500.0,
                "peak_min": 100.0, "peak_mean": 300.0, "peak_median": 300.0,
                "peak_rt_of_max": 398.5, "peak_n_datapoints": 4,
                "peak_mass_diff_25pc": -1.5, "peak_mass_diff_50pc": 0.25,
                "peak_mass_diff_75pc": 2.0
            }]
        }));
        let csv = PeakPickingPlugin::new().export_csv(&run);
        assert_eq!(
            csv,
            format!(
                "{}\r\nADENOSINE,266.089355,10,384.19,412.69,1200,400,500,100,300,300,398.5,4,-1.5,0.25,2\r\n",
                crate::analysis::RESULTS_CSV_HEADER.join(",")
            )
        );
    }

    #[test]
    fn export_csv_of_data_without_targets_is_the_generic_csv() {
        let data = object(json!({"run_id": "r1", "file": {"name": "a.mzML"}}));
        assert_eq!(
            PeakPickingPlugin::new().export_csv(&data),
            "key,value\r\nrun_id,r1\r\nfile.name,a.mzML\r\n"
        );
    }

    #[test]
    fn export_csv_of_unreadable_targets_falls_back_to_the_generic_csv() {
        let data = object(json!({"targets": [{"peak_label": 7}]}));
        assert_eq!(
            PeakPickingPlugin::new().export_csv(&data),
            "# targets\npeak_label\r\n7\r\n"
        );
    }
}
