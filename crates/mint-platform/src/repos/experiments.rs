//! Placeholder: the experiments slice implements these against the platform store.

use std::sync::Weak;

use async_trait::async_trait;
use mint_sdk::error::JsonObject;
use mint_sdk::repositories::{
    DesignData, Experiment, ExperimentFilter, ExperimentRepository, ExperimentUpdate,
    NewExperiment, PluginAnalysisResult, PluginDataRepository,
};
use mint_sdk::{PluginError, PluginMetadata, PluginType};

use crate::state::Platform;

fn pending() -> PluginError {
    PluginError::other("not implemented yet")
}

/// Experiments as one plugin sees them.
pub struct PlatformExperimentRepository {
    #[allow(dead_code)]
    platform: Weak<Platform>,
    #[allow(dead_code)]
    plugin_type: PluginType,
}

impl PlatformExperimentRepository {
    /// The repository of `plugin`.
    pub fn new(platform: Weak<Platform>, plugin: &PluginMetadata) -> Self {
        Self {
            platform,
            plugin_type: plugin.plugin_type,
        }
    }
}

#[async_trait]
impl ExperimentRepository for PlatformExperimentRepository {
    async fn get_by_id(&self, _id: i64) -> Result<Option<Experiment>, PluginError> {
        Err(pending())
    }
    async fn list_all(&self, _f: ExperimentFilter) -> Result<(Vec<Experiment>, u64), PluginError> {
        Err(pending())
    }
    async fn create(&self, _e: NewExperiment) -> Result<Experiment, PluginError> {
        Err(pending())
    }
    async fn update(
        &self,
        _id: i64,
        _u: ExperimentUpdate,
    ) -> Result<Option<Experiment>, PluginError> {
        Err(pending())
    }
    async fn delete(&self, _id: i64) -> Result<bool, PluginError> {
        Err(pending())
    }
    async fn has_design_data(&self, _id: i64) -> Result<bool, PluginError> {
        Err(pending())
    }
}

/// Design data and results as one plugin sees them.
pub struct PlatformDataRepository {
    #[allow(dead_code)]
    platform: Weak<Platform>,
    #[allow(dead_code)]
    plugin_id: String,
}

impl PlatformDataRepository {
    /// The repository of `plugin`.
    pub fn new(platform: Weak<Platform>, plugin: &PluginMetadata) -> Self {
        Self {
            platform,
            plugin_id: plugin.name.clone(),
        }
    }
}

#[async_trait]
impl PluginDataRepository for PlatformDataRepository {
    async fn save_experiment_data(
        &self,
        _experiment_id: i64,
        _plugin_id: &str,
        _data: JsonObject,
        _schema_version: &str,
    ) -> Result<DesignData, PluginError> {
        Err(pending())
    }
    async fn get_experiment_data(
        &self,
        _experiment_id: i64,
    ) -> Result<Option<DesignData>, PluginError> {
        Err(pending())
    }
    async fn delete_experiment_data(&self, _experiment_id: i64) -> Result<bool, PluginError> {
        Err(pending())
    }
    async fn save_analysis_result(
        &self,
        _experiment_id: i64,
        _plugin_id: &str,
        _result: JsonObject,
    ) -> Result<PluginAnalysisResult, PluginError> {
        Err(pending())
    }
    async fn get_analysis_result(
        &self,
        _experiment_id: i64,
        _plugin_id: &str,
    ) -> Result<Option<PluginAnalysisResult>, PluginError> {
        Err(pending())
    }
    async fn get_analysis_results(
        &self,
        _experiment_id: i64,
    ) -> Result<Vec<PluginAnalysisResult>, PluginError> {
        Err(pending())
    }
    async fn delete_analysis_result(
        &self,
        _experiment_id: i64,
        _plugin_id: &str,
    ) -> Result<bool, PluginError> {
        Err(pending())
    }
}
