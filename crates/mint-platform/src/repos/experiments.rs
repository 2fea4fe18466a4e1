//! The experiment and plugin-data repositories of in-process plugins
//! (`spec/context-and-data.md` §5.1–5.2), on the same service as the REST API
//! ([`crate::services::experiments`]), so writes run in one transaction and fire the save hooks.
//!
//! Inside a plugin request the platform routed, every call is further limited to what the
//! request's caller may do ([`crate::plugins::caller`]): experiments the caller cannot see
//! read as absent (and appear in no list), writes need the caller's edit (or delete / create)
//! rights, and an anonymous caller sees nothing and writes nothing. Outside a request (startup,
//! hooks, background tasks) plugins act with their own rights: analysis plugins cannot create, update or
//! delete experiments; experiment-design plugins write design data and analysis plugins write
//! analysis results, each only under their own plugin id; design data owned by another plugin
//! is a 409 `DESIGN_DATA_OWNERSHIP_CONFLICT`. These match the SDK's standalone store
//! (`mint_sdk::local_database::StandaloneDataRepository`).

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use mint_sdk::error::JsonObject;
use mint_sdk::repositories::{
    DesignData, Experiment, ExperimentFilter, ExperimentRepository, ExperimentUpdate,
    NewExperiment, PluginAnalysisResult, PluginDataRepository, analysis_cannot_modify_experiments,
    analysis_cannot_write_design_data, design_cannot_write_analysis_results, foreign_plugin_error,
};
use mint_sdk::{PluginError, PluginMetadata, PluginType};

use crate::plugins::caller::{self, Caller};
use crate::rbac;
use crate::services::experiments::{
    self as svc, Actor, ExperimentPatch, ListQuery, NewExperimentInput, ProjectRef, SortKey, Viewer,
};
use crate::state::Platform;

fn upgrade(platform: &Weak<Platform>) -> Result<Arc<Platform>, PluginError> {
    platform.upgrade().ok_or_else(super::platform_gone)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// What a repository call needs from the request's caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Read,
    Edit,
    Delete,
}

/// Checks the current plugin request's caller (if any) against experiment `id`: `Ok(true)`
/// when allowed (or outside a request), `Ok(false)` when a read should answer "none" (the
/// experiment is invisible or the caller anonymous).
///
/// Errors: `Permission` (403) for a write the caller may not make; `NotFound` for a write on an
/// experiment the caller cannot see.
async fn caller_allows(platform: &Platform, id: i64, need: Need) -> Result<bool, PluginError> {
    let Some(caller) = caller::current() else {
        return Ok(true);
    };
    let permission = match need {
        Need::Read => "experiments.view",
        Need::Edit => "experiments.edit",
        Need::Delete => "experiments.delete",
    };
    let principal = match caller {
        Caller::User(principal) => principal,
        Caller::Anonymous if need == Need::Read => return Ok(false),
        Caller::Anonymous => {
            return Err(PluginError::permission("Authentication required")
                .with_required_permission(permission));
        }
    };
    match rbac::experiment_access(platform, &principal, id).await {
        Ok(access) => {
            let allowed = match need {
                Need::Read => true,
                Need::Edit => access.edit,
                Need::Delete => access.delete,
            };
            if allowed {
                Ok(true)
            } else {
                Err(
                    PluginError::permission(format!("Missing permission: {permission}"))
                        .with_required_permission(permission),
                )
            }
        }
        Err(err) if err.status() == axum::http::StatusCode::NOT_FOUND => {
            if need == Need::Read {
                Ok(false)
            } else {
                Err(svc::experiment_not_found(id))
            }
        }
        Err(err) => Err(err),
    }
}

/// Whose experiments a plugin's list shows: everything outside a request, else the caller's.
fn list_viewer() -> Option<Viewer> {
    match caller::current() {
        None => Some(Viewer::All),
        Some(Caller::Anonymous) => None,
        Some(Caller::User(p)) if p.is_admin() => Some(Viewer::All),
        Some(Caller::User(p)) => Some(Viewer::User {
            id: p.id(),
            sees_unassigned: p.has("experiments.view"),
        }),
    }
}

/// A plugin's experiment create inside a request needs the caller's `experiments.create`.
fn caller_may_create() -> Result<(), PluginError> {
    match caller::current() {
        None => Ok(()),
        Some(Caller::User(p)) if p.has("experiments.create") => Ok(()),
        Some(_) => Err(
            PluginError::permission("Missing permission: experiments.create")
                .with_required_permission("experiments.create"),
        ),
    }
}

/// Experiments as one plugin sees them: every experiment is readable; only
/// experiment-design plugins write.
pub struct PlatformExperimentRepository {
    platform: Weak<Platform>,
    plugin_id: String,
    plugin_type: PluginType,
}

impl PlatformExperimentRepository {
    /// The repository of `plugin`.
    pub fn new(platform: Weak<Platform>, plugin: &PluginMetadata) -> Self {
        Self {
            platform,
            plugin_id: plugin.name.clone(),
            plugin_type: plugin.plugin_type,
        }
    }

    fn actor(&self) -> Actor {
        Actor::Plugin {
            plugin_id: self.plugin_id.clone(),
        }
    }

    fn check_writer(&self) -> Result<(), PluginError> {
        if self.plugin_type == PluginType::Analysis {
            return Err(analysis_cannot_modify_experiments());
        }
        Ok(())
    }

    /// Refuses a type outside the plugin's `allowed_experiment_types` setting, if it has one.
    async fn check_type_allowed(
        &self,
        platform: &Platform,
        experiment_type: &str,
    ) -> Result<(), PluginError> {
        if let Some(allowed) = svc::allowed_experiment_types(platform, &self.plugin_id).await?
            && !allowed.iter().any(|t| t == experiment_type)
        {
            return Err(PluginError::unsupported_experiment_type(
                Some(experiment_type.to_string()),
                allowed,
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl ExperimentRepository for PlatformExperimentRepository {
    async fn get_by_id(&self, experiment_id: i64) -> Result<Option<Experiment>, PluginError> {
        let platform = upgrade(&self.platform)?;
        if !caller_allows(&platform, experiment_id, Need::Read).await? {
            return Ok(None);
        }
        Ok(svc::get(&platform, experiment_id)
            .await?
            .map(svc::ExperimentView::into_experiment))
    }

    async fn list_all(
        &self,
        filter: ExperimentFilter,
    ) -> Result<(Vec<Experiment>, u64), PluginError> {
        let platform = upgrade(&self.platform)?;
        let Some(viewer) = list_viewer() else {
            return Ok((Vec::new(), 0));
        };
        let query = ListQuery {
            skip: filter.skip,
            limit: filter.limit,
            status: non_empty(filter.status),
            experiment_type: non_empty(filter.experiment_type),
            project: non_empty(filter.project),
            created_by: filter.created_by,
            parent_experiment_id: filter.parent_experiment_id,
            search: non_empty(filter.search),
            search_code: false,
            sort: SortKey::Id,
            descending: false,
            viewer,
            ..ListQuery::default()
        };
        let (items, total) = svc::list(&platform, &query).await?;
        Ok((
            items
                .into_iter()
                .map(svc::ExperimentView::into_experiment)
                .collect(),
            total,
        ))
    }

    async fn create(&self, experiment: NewExperiment) -> Result<Experiment, PluginError> {
        self.check_writer()?;
        let platform = upgrade(&self.platform)?;
        caller_may_create()?;
        let experiment_type = if experiment.experiment_type.trim().is_empty() {
            svc::DEFAULT_EXPERIMENT_TYPE.to_string()
        } else {
            experiment.experiment_type.trim().to_string()
        };
        self.check_type_allowed(&platform, &experiment_type).await?;
        let input = NewExperimentInput {
            name: experiment.name,
            experiment_type: Some(experiment_type),
            project: non_empty(experiment.project).map(ProjectRef::Name),
            parent_experiment_id: experiment.parent_experiment_id,
            notes: experiment.notes,
            tags: experiment.tags,
            custom_metadata: None,
            start_date: None,
            end_date: None,
            created_by: experiment.created_by,
        };
        Ok(svc::create(&platform, &self.actor(), input)
            .await?
            .into_experiment())
    }

    async fn update(
        &self,
        experiment_id: i64,
        update: ExperimentUpdate,
    ) -> Result<Option<Experiment>, PluginError> {
        self.check_writer()?;
        let platform = upgrade(&self.platform)?;
        caller_allows(&platform, experiment_id, Need::Edit).await?;
        // An absent (or empty) argument leaves the field alone; nothing is cleared.
        let patch = ExperimentPatch {
            name: update.name,
            status: update.status,
            experiment_type: non_empty(update.experiment_type),
            project: non_empty(update.project).map(|name| Some(ProjectRef::Name(name))),
            parent_experiment_id: update.parent_experiment_id.map(Some),
            notes: update.notes.map(Some),
            tags: update.tags,
            ..ExperimentPatch::default()
        };
        Ok(svc::update(&platform, &self.actor(), experiment_id, patch)
            .await?
            .map(svc::ExperimentView::into_experiment))
    }

    async fn delete(&self, experiment_id: i64) -> Result<bool, PluginError> {
        self.check_writer()?;
        let platform = upgrade(&self.platform)?;
        caller_allows(&platform, experiment_id, Need::Delete).await?;
        svc::delete(&platform, experiment_id).await
    }

    async fn has_design_data(&self, experiment_id: i64) -> Result<bool, PluginError> {
        let platform = upgrade(&self.platform)?;
        if !caller_allows(&platform, experiment_id, Need::Read).await? {
            return Ok(false);
        }
        Ok(svc::get_design(&platform, experiment_id).await?.is_some())
    }
}

/// Design data and analysis results as one plugin sees them: everything is readable; writes
/// follow the plugin's type and go only under its own id.
pub struct PlatformDataRepository {
    platform: Weak<Platform>,
    plugin_id: String,
    plugin_type: PluginType,
}

impl PlatformDataRepository {
    /// The repository of `plugin`.
    pub fn new(platform: Weak<Platform>, plugin: &PluginMetadata) -> Self {
        Self {
            platform,
            plugin_id: plugin.name.clone(),
            plugin_type: plugin.plugin_type,
        }
    }

    fn check_owner(&self, requested: &str, permission: &str) -> Result<(), PluginError> {
        if requested != self.plugin_id {
            return Err(foreign_plugin_error(permission, requested, &self.plugin_id));
        }
        Ok(())
    }
}

#[async_trait]
impl PluginDataRepository for PlatformDataRepository {
    async fn save_experiment_data(
        &self,
        experiment_id: i64,
        plugin_id: &str,
        data: JsonObject,
        schema_version: &str,
    ) -> Result<DesignData, PluginError> {
        if self.plugin_type != PluginType::ExperimentDesign {
            return Err(analysis_cannot_write_design_data());
        }
        self.check_owner(plugin_id, "design_data.self")?;
        let platform = upgrade(&self.platform)?;
        caller_allows(&platform, experiment_id, Need::Edit).await?;
        svc::save_design(&platform, experiment_id, plugin_id, data, schema_version).await
    }

    async fn get_experiment_data(
        &self,
        experiment_id: i64,
    ) -> Result<Option<DesignData>, PluginError> {
        let platform = upgrade(&self.platform)?;
        if !caller_allows(&platform, experiment_id, Need::Read).await? {
            return Ok(None);
        }
        svc::get_design(&platform, experiment_id).await
    }

    async fn delete_experiment_data(&self, experiment_id: i64) -> Result<bool, PluginError> {
        if self.plugin_type != PluginType::ExperimentDesign {
            return Err(analysis_cannot_write_design_data());
        }
        let platform = upgrade(&self.platform)?;
        caller_allows(&platform, experiment_id, Need::Edit).await?;
        svc::delete_design(&platform, experiment_id, Some(&self.plugin_id)).await
    }

    async fn save_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
        result: JsonObject,
    ) -> Result<PluginAnalysisResult, PluginError> {
        if self.plugin_type != PluginType::Analysis {
            return Err(design_cannot_write_analysis_results());
        }
        self.check_owner(plugin_id, "analysis_results.self")?;
        let platform = upgrade(&self.platform)?;
        caller_allows(&platform, experiment_id, Need::Edit).await?;
        svc::save_result(&platform, experiment_id, plugin_id, result).await
    }

    async fn get_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
    ) -> Result<Option<PluginAnalysisResult>, PluginError> {
        let platform = upgrade(&self.platform)?;
        if !caller_allows(&platform, experiment_id, Need::Read).await? {
            return Ok(None);
        }
        svc::get_result(&platform, experiment_id, plugin_id).await
    }

    async fn get_analysis_results(
        &self,
        experiment_id: i64,
    ) -> Result<Vec<PluginAnalysisResult>, PluginError> {
        let platform = upgrade(&self.platform)?;
        if !caller_allows(&platform, experiment_id, Need::Read).await? {
            return Ok(Vec::new());
        }
        svc::list_results(&platform, experiment_id).await
    }

    async fn delete_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
    ) -> Result<bool, PluginError> {
        self.check_owner(plugin_id, "analysis_results.self")?;
        let platform = upgrade(&self.platform)?;
        caller_allows(&platform, experiment_id, Need::Edit).await?;
        svc::delete_result(&platform, experiment_id, plugin_id).await
    }
}
