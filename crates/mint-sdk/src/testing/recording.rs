//! [`RecordingContext`]: an in-memory [`PlatformContext`] that behaves like the platform's and
//! records every repository and config call (`spec/app-testing-export.md` §4.3, repository
//! semantics of `spec/context-and-data.md` §3–§5, write policy of `spec/plugin.md` §3).
//!
//! It is not a mock: the four repositories are real in-memory stores with the platform's
//! filters, ordering, upserts, own-plugin checks and ownership conflict, so a plugin test fails
//! where the platform would refuse. It has no database and no shared DB session.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use axum::http::request::Parts;
use serde::Serialize;
use serde_json::{Value, json};

use crate::context::{CurrentUser, PlatformContext, PlatformContextImpl, filter_platform_config};
use crate::error::{JsonObject, PluginError};
use crate::models::PluginType;
use crate::repositories::{
    DesignData, Experiment, ExperimentFilter, ExperimentRepository, ExperimentUpdate,
    NewExperiment, PlatformConfig, PluginAnalysisResult, PluginDataRepository,
    PluginRoleRepository, User, UserPluginRole, UserRepository, analysis_cannot_modify_experiments,
    analysis_cannot_write_design_data, design_cannot_write_analysis_results, foreign_plugin_error,
    now_utc,
};

/// One call a plugin made on a [`RecordingContext`] (§4.3 "Recording").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedCall {
    /// `"<repo>.<fn>"`, repo one of `experiments`, `plugin_data`, `users`, `plugin_roles`,
    /// `config`; e.g. `"plugin_data.save_experiment_data"`. The config calls are
    /// `config.get_config`, `config.get_plugin_config` and `config.set_plugin_config` (the seed's
    /// names of [`PlatformContext::config`], `plugin_config` and `set_plugin_config`).
    pub method: String,
    /// The named arguments; an absent optional argument is `null`.
    pub args: JsonObject,
}

/// A seed value for a [`RecordingContextBuilder`]: a JSON object decoded with the seeding
/// defaults of §4.3, or a ready-made record taken as is.
#[derive(Debug, Clone, PartialEq)]
pub enum Seed<T> {
    /// A JSON object; required keys and defaults depend on the record (see the builder).
    Json(Value),
    /// A record used verbatim.
    Record(T),
}

macro_rules! seed_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Seed<$t> {
            fn from(record: $t) -> Self {
                Seed::Record(record)
            }
        }
        impl From<Value> for Seed<$t> {
            fn from(json: Value) -> Self {
                Seed::Json(json)
            }
        }
    )*};
}
seed_from!(CurrentUser, Experiment, User, UserPluginRole);

/// Builds a [`RecordingContext`] (§4.3 builder options, all optional).
///
/// ```
/// use mint_sdk::PluginType;
/// use mint_sdk::serde_json::json;
/// use mint_sdk::testing::RecordingContext;
///
/// let ctx = RecordingContext::builder()
///     .plugin_id("peak-picking")
///     .plugin_type(PluginType::Analysis)
///     .user(json!({"id": 7, "username": "ada"}))
///     .experiments([json!({"id": 3, "name": "TCA standards", "experiment_type": "lcms"})])
///     .build()?;
/// assert!(ctx.is_authenticated());
/// assert_eq!(ctx.experiments()[0].status, "planned");
/// # Ok::<(), mint_sdk::PluginError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct RecordingContextBuilder {
    user: Option<Seed<CurrentUser>>,
    plugin_id: Option<String>,
    plugin_type: Option<PluginType>,
    experiments: Vec<Seed<Experiment>>,
    users: Vec<Seed<User>>,
    plugin_roles: Vec<Seed<UserPluginRole>>,
    platform_config: Option<Value>,
    plugin_config: Option<Value>,
}

impl RecordingContextBuilder {
    /// The current user. JSON: an object with the id under `sub`, `user_id` or `id` (string or
    /// integer), optional `username`, `role` (default `"member"`), `role_id`, `plugin_role`,
    /// `permissions` (array of strings). A `CurrentUser` with an empty role gets `"member"` (§4.3).
    pub fn user(mut self, user: impl Into<Seed<CurrentUser>>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The plugin this context serves: enables the own-plugin checks, the role guard and the
    /// plugin config (§4.3).
    pub fn plugin_id(mut self, plugin_id: impl Into<String>) -> Self {
        self.plugin_id = Some(plugin_id.into());
        self
    }

    /// The plugin's type: enables the write policy of plugin.md §3 (default: no type policy).
    pub fn plugin_type(mut self, plugin_type: PluginType) -> Self {
        self.plugin_type = Some(plugin_type);
        self
    }

    /// Seeds experiments (appended). JSON needs `id`, `name`, `experiment_type`; `status`
    /// defaults to `"planned"`, `tags` and `custom_metadata` to `{}`, timestamps to now (§4.3).
    /// A later seed with the same id replaces an earlier one.
    pub fn experiments<S: Into<Seed<Experiment>>>(
        mut self,
        experiments: impl IntoIterator<Item = S>,
    ) -> Self {
        self.experiments
            .extend(experiments.into_iter().map(Into::into));
        self
    }

    /// Seeds platform users (appended). JSON needs `id`, `username`; `role` defaults to
    /// `"member"`, `is_active` to true, timestamps to now (§4.3).
    pub fn users<S: Into<Seed<User>>>(mut self, users: impl IntoIterator<Item = S>) -> Self {
        self.users.extend(users.into_iter().map(Into::into));
        self
    }

    /// Seeds plugin roles (appended). JSON needs `user_id`, `plugin_id`, `role`; `id` defaults
    /// to 0, timestamps to now (§4.3). A later seed for the same (plugin, user) replaces an
    /// earlier one.
    pub fn plugin_roles<S: Into<Seed<UserPluginRole>>>(
        mut self,
        roles: impl IntoIterator<Item = S>,
    ) -> Self {
        self.plugin_roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// The platform's unfiltered configuration (a JSON object, default `{}`); `config()` returns
    /// it through [`filter_platform_config`] (§4.3).
    pub fn platform_config(mut self, config: Value) -> Self {
        self.platform_config = Some(config);
        self
    }

    /// The plugin's stored settings (a JSON object, default `{}`) (§4.3).
    pub fn plugin_config(mut self, config: Value) -> Self {
        self.plugin_config = Some(config);
        self
    }

    /// Decodes the seeds and builds the context (§4.3).
    ///
    /// Errors: `PluginError::Validation` whose `field` names the bad seed (`user`,
    /// `experiments.2`, `users.0`, `plugin_roles.1`, `platform_config`, `plugin_config`).
    pub fn build(self) -> Result<RecordingContext, PluginError> {
        let user = self.user.map(current_user_seed).transpose()?;
        let mut experiments = BTreeMap::new();
        for (i, seed) in self.experiments.into_iter().enumerate() {
            let e = experiment_seed(seed, i)?;
            experiments.insert(e.id, e);
        }
        let mut users = BTreeMap::new();
        for (i, seed) in self.users.into_iter().enumerate() {
            let u = user_seed(seed, i)?;
            users.insert(u.id, u);
        }
        let mut roles: Vec<UserPluginRole> = Vec::new();
        for (i, seed) in self.plugin_roles.into_iter().enumerate() {
            let r = role_seed(seed, i)?;
            roles.retain(|old| !(old.plugin_id == r.plugin_id && old.user_id == r.user_id));
            roles.push(r);
        }
        let platform_config = object_option(self.platform_config, "platform_config")?;
        let plugin_config = object_option(self.plugin_config, "plugin_config")?;
        let next_experiment_id = experiments.keys().next_back().map_or(1, |max| max + 1);
        let next_role_id = roles.iter().map(|r| r.id).max().map_or(1, |max| max + 1);
        Ok(RecordingContext {
            plugin_id: self.plugin_id,
            plugin_type: self.plugin_type,
            platform_config: Arc::new(Value::Object(platform_config)),
            platform: Arc::new(Mutex::new(Platform {
                user,
                experiments,
                next_experiment_id,
                users,
                design: BTreeMap::new(),
                results: Vec::new(),
                next_data_id: 1,
                roles,
                next_role_id,
            })),
            local: Arc::new(Mutex::new(Local {
                calls: Vec::new(),
                plugin_config,
            })),
        })
    }
}

fn invalid_seed(field: String, what: impl std::fmt::Display) -> PluginError {
    PluginError::validation(format!("Invalid RecordingContext seed '{field}': {what}"))
        .with_field(field)
}

fn object_option(value: Option<Value>, field: &str) -> Result<JsonObject, PluginError> {
    match value {
        None => Ok(JsonObject::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(invalid_seed(field.into(), "must be a JSON object")),
    }
}

/// Decodes `json` (an object) into `T` after inserting `defaults` for absent keys.
fn decode_with_defaults<T: serde::de::DeserializeOwned>(
    json: Value,
    defaults: &[(&str, Value)],
    field: String,
) -> Result<T, PluginError> {
    let Value::Object(mut map) = json else {
        return Err(invalid_seed(field, "must be a JSON object"));
    };
    for (key, value) in defaults {
        if !map.contains_key(*key) {
            map.insert((*key).to_string(), value.clone());
        }
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| invalid_seed(field, e))
}

fn experiment_seed(seed: Seed<Experiment>, index: usize) -> Result<Experiment, PluginError> {
    match seed {
        Seed::Record(e) => Ok(e),
        Seed::Json(json) => decode_with_defaults(
            json,
            &[("status", json!("planned"))],
            format!("experiments.{index}"),
        ),
    }
}

fn user_seed(seed: Seed<User>, index: usize) -> Result<User, PluginError> {
    match seed {
        Seed::Record(u) => Ok(u),
        Seed::Json(json) => decode_with_defaults(
            json,
            &[("role", json!("member")), ("is_active", json!(true))],
            format!("users.{index}"),
        ),
    }
}

fn role_seed(seed: Seed<UserPluginRole>, index: usize) -> Result<UserPluginRole, PluginError> {
    match seed {
        Seed::Record(r) => Ok(r),
        Seed::Json(json) => {
            decode_with_defaults(json, &[("id", json!(0))], format!("plugin_roles.{index}"))
        }
    }
}

fn current_user_seed(seed: Seed<CurrentUser>) -> Result<CurrentUser, PluginError> {
    let mut user = match seed {
        Seed::Record(u) => u,
        Seed::Json(json) => current_user_from_json(&json)?,
    };
    if user.role.is_empty() {
        user.role = "member".into();
    }
    Ok(user)
}

fn current_user_from_json(json: &Value) -> Result<CurrentUser, PluginError> {
    let bad = |what: &str| invalid_seed("user".into(), what);
    let Some(map) = json.as_object() else {
        return Err(bad("must be a JSON object"));
    };
    let user_id = ["sub", "user_id", "id"]
        .iter()
        .find_map(|k| match map.get(*k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| bad("needs a user id under 'sub', 'user_id' or 'id'"))?;
    let text = |key: &str| -> Result<Option<String>, PluginError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("'{key}' must be a string"))),
        }
    };
    let role_id = match map.get("role_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| bad("'role_id' must be an integer"))?,
        ),
    };
    let permissions = match map.get("permissions") {
        None | Some(Value::Null) => BTreeSet::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|p| p.as_str().map(str::to_string))
            .collect::<Option<BTreeSet<_>>>()
            .ok_or_else(|| bad("'permissions' must be an array of strings"))?,
        Some(_) => return Err(bad("'permissions' must be an array of strings")),
    };
    Ok(CurrentUser {
        user_id,
        username: text("username")?,
        role: text("role")?.unwrap_or_else(|| "member".into()),
        role_id,
        plugin_role: text("plugin_role")?,
        permissions,
    })
}

/// An in-memory platform context that records every repository and config call (seed
/// `RecordingContext`, app-testing-export.md §4.3).
///
/// Cheap to clone: clones share one state, so a test keeps a handle while the plugin holds
/// [`context()`](Self::context). All four repositories are always available (capabilities are
/// not checked, Python parity) and follow context-and-data.md §5; with a
/// [`plugin_type`](RecordingContextBuilder::plugin_type) the write policy of plugin.md §3 applies
/// with the same `PluginError::Permission` as on the platform.
///
/// ```
/// use mint_sdk::serde_json::json;
/// use mint_sdk::testing::RecordingContext;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mint_sdk::PluginError> {
/// let ctx = RecordingContext::builder().plugin_id("designer").build()?;
/// let repo = ctx.context().plugin_data_repository().expect("always present");
/// let data = json!({"plates": 2}).as_object().cloned().unwrap_or_default();
/// repo.save_experiment_data(1, "designer", data, "1.0").await?;
/// assert_eq!(ctx.calls()[0].method, "plugin_data.save_experiment_data");
/// assert_eq!(ctx.design_data()[0].id, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RecordingContext {
    plugin_id: Option<String>,
    plugin_type: Option<PluginType>,
    platform_config: Arc<Value>,
    /// What every plugin on this in-memory platform sees.
    platform: Arc<Mutex<Platform>>,
    /// What belongs to this plugin's context: its call record and stored settings.
    local: Arc<Mutex<Local>>,
}

struct Platform {
    user: Option<CurrentUser>,
    experiments: BTreeMap<i64, Experiment>,
    next_experiment_id: i64,
    users: BTreeMap<i64, User>,
    /// Design rows by experiment id (one per experiment).
    design: BTreeMap<i64, DesignData>,
    results: Vec<PluginAnalysisResult>,
    /// Design and analysis rows share this counter.
    next_data_id: i64,
    roles: Vec<UserPluginRole>,
    next_role_id: i64,
}

impl Platform {
    fn empty() -> Self {
        Self {
            user: None,
            experiments: BTreeMap::new(),
            next_experiment_id: 1,
            users: BTreeMap::new(),
            design: BTreeMap::new(),
            results: Vec::new(),
            next_data_id: 1,
            roles: Vec::new(),
            next_role_id: 1,
        }
    }
}

struct Local {
    calls: Vec<RecordedCall>,
    plugin_config: JsonObject,
}

/// Locks `m`; a panic in another test thread must not poison every later call.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl std::fmt::Debug for RecordingContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingContext")
            .field("plugin_id", &self.plugin_id)
            .field("plugin_type", &self.plugin_type)
            .field("calls", &lock(&self.local).calls.len())
            .finish()
    }
}

impl Default for RecordingContext {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordingContext {
    /// A context with no user, no plugin id, no type policy and empty stores (§4.3).
    pub fn new() -> Self {
        Self {
            plugin_id: None,
            plugin_type: None,
            platform_config: Arc::new(Value::Object(JsonObject::new())),
            platform: Arc::new(Mutex::new(Platform::empty())),
            local: Arc::new(Mutex::new(Local {
                calls: Vec::new(),
                plugin_config: JsonObject::new(),
            })),
        }
    }

    /// A builder for the §4.3 options.
    pub fn builder() -> RecordingContextBuilder {
        RecordingContextBuilder::default()
    }

    /// The context of another plugin on the same in-memory platform: it shares the
    /// experiments, users, design data, analysis results, roles, platform config and current
    /// user, and has its own plugin id, type policy, call record and (empty) plugin config. Use
    /// it to put another plugin's data in place, e.g. the design an analysis plugin reads (§4.3).
    pub fn other_plugin(
        &self,
        plugin_id: impl Into<String>,
        plugin_type: Option<PluginType>,
    ) -> RecordingContext {
        RecordingContext {
            plugin_id: Some(plugin_id.into()),
            plugin_type,
            platform_config: self.platform_config.clone(),
            platform: self.platform.clone(),
            local: Arc::new(Mutex::new(Local {
                calls: Vec::new(),
                plugin_config: JsonObject::new(),
            })),
        }
    }

    /// A [`PlatformContext`] over this recording context (sharing its state): bind it into a
    /// plugin or pass it to `initialize` (§4.3).
    pub fn context(&self) -> PlatformContext {
        PlatformContext::new(self.clone())
    }

    /// The plugin id this context serves, if set (§4.3).
    pub fn plugin_id(&self) -> Option<String> {
        self.plugin_id.clone()
    }

    /// The plugin type whose write policy applies, if set (§4.3).
    pub fn plugin_type(&self) -> Option<PluginType> {
        self.plugin_type
    }

    /// True iff a user is set (default: not authenticated) (§4.3).
    pub fn is_authenticated(&self) -> bool {
        lock(&self.platform).user.is_some()
    }

    /// The current user, if any (§4.3).
    pub fn current_user(&self) -> Option<CurrentUser> {
        lock(&self.platform).user.clone()
    }

    /// Sets or clears the current user (an empty role becomes `"member"`) (§4.3).
    pub fn set_current_user(&self, user: Option<CurrentUser>) {
        let user = user.map(|mut u| {
            if u.role.is_empty() {
                u.role = "member".into();
            }
            u
        });
        lock(&self.platform).user = user;
    }

    /// Every call recorded by this context (and its clones) so far, in order, failed ones
    /// included (§4.3).
    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.local).calls.clone()
    }

    /// Forgets the recorded calls (state is kept) (§4.3).
    pub fn clear_calls(&self) {
        lock(&self.local).calls.clear();
    }

    /// Snapshot of the design rows, ordered by id (§4.3).
    pub fn design_data(&self) -> Vec<DesignData> {
        let mut rows: Vec<DesignData> = lock(&self.platform).design.values().cloned().collect();
        rows.sort_by_key(|r| r.id);
        rows
    }

    /// Snapshot of the analysis rows of all plugins, ordered by id (§4.3).
    pub fn analysis_results(&self) -> Vec<PluginAnalysisResult> {
        let mut rows = lock(&self.platform).results.clone();
        rows.sort_by_key(|r| r.id);
        rows
    }

    /// Snapshot of the experiments, ordered by id (§4.3).
    pub fn experiments(&self) -> Vec<Experiment> {
        lock(&self.platform).experiments.values().cloned().collect()
    }

    /// Snapshot of the platform users, ordered by id (§4.3).
    pub fn users(&self) -> Vec<User> {
        lock(&self.platform).users.values().cloned().collect()
    }

    /// Snapshot of the plugin roles of all plugins, ordered by id (§4.3).
    pub fn roles(&self) -> Vec<UserPluginRole> {
        let mut rows = lock(&self.platform).roles.clone();
        rows.sort_by_key(|r| r.id);
        rows
    }

    /// Snapshot of the plugin's stored settings. Not recorded and not checked; the plugin-facing
    /// `PlatformContext::plugin_config` is (§4.3).
    pub fn plugin_config(&self) -> JsonObject {
        lock(&self.local).plugin_config.clone()
    }

    fn record(&self, method: &str, args: Value) {
        let args = match args {
            Value::Object(map) => map,
            _ => JsonObject::new(),
        };
        lock(&self.local).calls.push(RecordedCall {
            method: method.to_string(),
            args,
        });
    }

    fn platform(&self) -> MutexGuard<'_, Platform> {
        lock(&self.platform)
    }
}

// ----- the type policy and own-plugin checks (plugin.md §3, context-and-data.md §5) -------------

impl RecordingContext {
    fn experiment_write_allowed(&self) -> Result<(), PluginError> {
        match self.plugin_type {
            Some(PluginType::Analysis) => Err(analysis_cannot_modify_experiments()),
            _ => Ok(()),
        }
    }

    fn design_write_allowed(&self) -> Result<(), PluginError> {
        match self.plugin_type {
            Some(PluginType::Analysis) => Err(analysis_cannot_write_design_data()),
            _ => Ok(()),
        }
    }

    fn analysis_write_allowed(&self) -> Result<(), PluginError> {
        match self.plugin_type {
            Some(PluginType::ExperimentDesign) => Err(design_cannot_write_analysis_results()),
            _ => Ok(()),
        }
    }

    /// `requested` must be this context's plugin id, when one is set.
    fn own_plugin(&self, requested: &str, permission: &str) -> Result<(), PluginError> {
        match &self.plugin_id {
            Some(own) if own != requested => Err(foreign_plugin_error(permission, requested, own)),
            _ => Ok(()),
        }
    }

    fn require_plugin_id(&self) -> Result<&str, PluginError> {
        self.plugin_id.as_deref().ok_or_else(|| {
            PluginError::configuration(
                "RecordingContext has no plugin_id: plugin settings are stored per plugin",
            )
            .with_config_key("plugin_id")
        })
    }
}

fn page<T>(rows: impl Iterator<Item = T>, skip: u64, limit: u64) -> Vec<T> {
    let skip = usize::try_from(skip).unwrap_or(usize::MAX);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    rows.skip(skip).take(limit).collect()
}

fn non_empty(filter: &Option<String>) -> Option<&str> {
    filter.as_deref().filter(|s| !s.is_empty())
}

fn experiment_matches(e: &Experiment, f: &ExperimentFilter) -> bool {
    let exact = |filter: &Option<String>, value: Option<&str>| {
        non_empty(filter).is_none_or(|wanted| value == Some(wanted))
    };
    let search_ok = non_empty(&f.search).is_none_or(|needle| {
        let needle = needle.to_lowercase();
        e.name.to_lowercase().contains(&needle)
            || e.notes
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains(&needle))
    });
    exact(&f.status, Some(&e.status))
        && exact(&f.experiment_type, Some(&e.experiment_type))
        && exact(&f.project, e.project.as_deref())
        && f.created_by.is_none_or(|c| e.created_by == Some(c))
        && f.parent_experiment_id
            .is_none_or(|p| e.parent_experiment_id == Some(p))
        && search_ok
}

// ----- the four repositories --------------------------------------------------------------------

struct Experiments(RecordingContext);
struct PluginData(RecordingContext);
struct Users(RecordingContext);
struct PluginRoles(RecordingContext);

#[async_trait]
impl ExperimentRepository for Experiments {
    async fn get_by_id(&self, experiment_id: i64) -> Result<Option<Experiment>, PluginError> {
        self.0.record(
            "experiments.get_by_id",
            json!({"experiment_id": experiment_id}),
        );
        let st = self.0.platform();
        Ok(st.experiments.get(&experiment_id).cloned())
    }

    async fn list_all(
        &self,
        filter: ExperimentFilter,
    ) -> Result<(Vec<Experiment>, u64), PluginError> {
        self.0.record("experiments.list_all", json!(filter));
        let st = self.0.platform();
        let matching: Vec<&Experiment> = st
            .experiments
            .values()
            .filter(|e| experiment_matches(e, &filter))
            .collect();
        let total = matching.len() as u64;
        let rows = page(matching.into_iter().cloned(), filter.skip, filter.limit);
        Ok((rows, total))
    }

    async fn create(&self, experiment: NewExperiment) -> Result<Experiment, PluginError> {
        self.0.record("experiments.create", json!(experiment));
        let mut st = self.0.platform();
        self.0.experiment_write_allowed()?;
        let now = now_utc();
        let id = st.next_experiment_id;
        st.next_experiment_id += 1;
        let created = Experiment {
            id,
            name: experiment.name,
            experiment_type: experiment.experiment_type,
            status: "planned".into(),
            created_at: now,
            updated_at: now,
            created_by: experiment.created_by,
            parent_experiment_id: experiment.parent_experiment_id,
            project: experiment.project,
            notes: experiment.notes,
            tags: experiment.tags.unwrap_or_default(),
            custom_metadata: JsonObject::new(),
            start_date: None,
            end_date: None,
        };
        st.experiments.insert(id, created.clone());
        Ok(created)
    }

    async fn update(
        &self,
        experiment_id: i64,
        update: ExperimentUpdate,
    ) -> Result<Option<Experiment>, PluginError> {
        let mut args = json!({"experiment_id": experiment_id});
        if let (Some(map), Value::Object(fields)) = (args.as_object_mut(), json!(update)) {
            map.extend(fields);
        }
        self.0.record("experiments.update", args);
        self.0.experiment_write_allowed()?;
        let mut st = self.0.platform();
        let Some(e) = st.experiments.get_mut(&experiment_id) else {
            return Ok(None);
        };
        let ExperimentUpdate {
            name,
            status,
            experiment_type,
            parent_experiment_id,
            project,
            notes,
            tags,
        } = update;
        if let Some(v) = name {
            e.name = v;
        }
        if let Some(v) = status {
            e.status = v;
        }
        if let Some(v) = experiment_type {
            e.experiment_type = v;
        }
        if let Some(v) = parent_experiment_id {
            e.parent_experiment_id = Some(v);
        }
        if let Some(v) = project {
            e.project = Some(v);
        }
        if let Some(v) = notes {
            e.notes = Some(v);
        }
        if let Some(v) = tags {
            e.tags = v;
        }
        e.updated_at = now_utc();
        Ok(Some(e.clone()))
    }

    async fn delete(&self, experiment_id: i64) -> Result<bool, PluginError> {
        self.0.record(
            "experiments.delete",
            json!({"experiment_id": experiment_id}),
        );
        let mut st = self.0.platform();
        self.0.experiment_write_allowed()?;
        let existed = st.experiments.remove(&experiment_id).is_some();
        if existed {
            // The platform's foreign keys cascade to the experiment's design and results.
            st.design.remove(&experiment_id);
            st.results.retain(|r| r.experiment_id != experiment_id);
        }
        Ok(existed)
    }

    async fn has_design_data(&self, experiment_id: i64) -> Result<bool, PluginError> {
        self.0.record(
            "experiments.has_design_data",
            json!({"experiment_id": experiment_id}),
        );
        let st = self.0.platform();
        Ok(st.experiments.contains_key(&experiment_id) && st.design.contains_key(&experiment_id))
    }
}

#[async_trait]
impl PluginDataRepository for PluginData {
    async fn save_experiment_data(
        &self,
        experiment_id: i64,
        plugin_id: &str,
        data: JsonObject,
        schema_version: &str,
    ) -> Result<DesignData, PluginError> {
        self.0.record(
            "plugin_data.save_experiment_data",
            json!({
                "experiment_id": experiment_id,
                "plugin_id": plugin_id,
                "data": data,
                "schema_version": schema_version,
            }),
        );
        let mut st = self.0.platform();
        self.0.design_write_allowed()?;
        self.0.own_plugin(plugin_id, "design_data.self")?;
        let now = now_utc();
        if let Some(row) = st.design.get_mut(&experiment_id) {
            if row.plugin_id != plugin_id {
                return Err(PluginError::design_data_ownership_conflict(
                    experiment_id,
                    row.plugin_id.clone(),
                    plugin_id,
                ));
            }
            row.data = data;
            row.schema_version = schema_version.to_string();
            row.updated_at = now;
            return Ok(row.clone());
        }
        let row = DesignData {
            id: st.next_data_id,
            experiment_id,
            plugin_id: plugin_id.to_string(),
            data,
            schema_version: schema_version.to_string(),
            created_at: now,
            updated_at: now,
        };
        st.next_data_id += 1;
        st.design.insert(experiment_id, row.clone());
        Ok(row)
    }

    async fn get_experiment_data(
        &self,
        experiment_id: i64,
    ) -> Result<Option<DesignData>, PluginError> {
        self.0.record(
            "plugin_data.get_experiment_data",
            json!({"experiment_id": experiment_id}),
        );
        let st = self.0.platform();
        Ok(st.design.get(&experiment_id).cloned())
    }

    async fn delete_experiment_data(&self, experiment_id: i64) -> Result<bool, PluginError> {
        self.0.record(
            "plugin_data.delete_experiment_data",
            json!({"experiment_id": experiment_id}),
        );
        let mut st = self.0.platform();
        self.0.design_write_allowed()?;
        let Some(owner) = st.design.get(&experiment_id).map(|r| r.plugin_id.clone()) else {
            return Ok(false);
        };
        self.0.own_plugin(&owner, "design_data.self")?;
        Ok(st.design.remove(&experiment_id).is_some())
    }

    async fn save_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
        result: JsonObject,
    ) -> Result<PluginAnalysisResult, PluginError> {
        self.0.record(
            "plugin_data.save_analysis_result",
            json!({"experiment_id": experiment_id, "plugin_id": plugin_id, "result": result}),
        );
        let mut st = self.0.platform();
        self.0.analysis_write_allowed()?;
        self.0.own_plugin(plugin_id, "analysis_results.self")?;
        let now = now_utc();
        if let Some(row) = st
            .results
            .iter_mut()
            .find(|r| r.experiment_id == experiment_id && r.plugin_id == plugin_id)
        {
            row.result = result;
            row.updated_at = now;
            return Ok(row.clone());
        }
        let row = PluginAnalysisResult {
            id: st.next_data_id,
            experiment_id,
            plugin_id: plugin_id.to_string(),
            result,
            created_at: now,
            updated_at: now,
        };
        st.next_data_id += 1;
        st.results.push(row.clone());
        Ok(row)
    }

    async fn get_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
    ) -> Result<Option<PluginAnalysisResult>, PluginError> {
        self.0.record(
            "plugin_data.get_analysis_result",
            json!({"experiment_id": experiment_id, "plugin_id": plugin_id}),
        );
        let st = self.0.platform();
        Ok(st
            .results
            .iter()
            .find(|r| r.experiment_id == experiment_id && r.plugin_id == plugin_id)
            .cloned())
    }

    async fn get_analysis_results(
        &self,
        experiment_id: i64,
    ) -> Result<Vec<PluginAnalysisResult>, PluginError> {
        self.0.record(
            "plugin_data.get_analysis_results",
            json!({"experiment_id": experiment_id}),
        );
        let st = self.0.platform();
        let mut rows: Vec<PluginAnalysisResult> = st
            .results
            .iter()
            .filter(|r| r.experiment_id == experiment_id)
            .cloned()
            .collect();
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    async fn delete_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
    ) -> Result<bool, PluginError> {
        self.0.record(
            "plugin_data.delete_analysis_result",
            json!({"experiment_id": experiment_id, "plugin_id": plugin_id}),
        );
        let mut st = self.0.platform();
        self.0.own_plugin(plugin_id, "analysis_results.self")?;
        let before = st.results.len();
        st.results
            .retain(|r| !(r.experiment_id == experiment_id && r.plugin_id == plugin_id));
        Ok(st.results.len() < before)
    }
}

#[async_trait]
impl UserRepository for Users {
    async fn get_by_id(&self, user_id: i64) -> Result<Option<User>, PluginError> {
        self.0
            .record("users.get_by_id", json!({"user_id": user_id}));
        let st = self.0.platform();
        Ok(st.users.get(&user_id).cloned())
    }

    async fn get_by_username(&self, username: &str) -> Result<Option<User>, PluginError> {
        self.0
            .record("users.get_by_username", json!({"username": username}));
        let st = self.0.platform();
        Ok(st.users.values().find(|u| u.username == username).cloned())
    }

    async fn list_all(&self, skip: u64, limit: u64) -> Result<Vec<User>, PluginError> {
        self.0
            .record("users.list_all", json!({"skip": skip, "limit": limit}));
        let st = self.0.platform();
        Ok(page(st.users.values().cloned(), skip, limit))
    }
}

#[async_trait]
impl PluginRoleRepository for PluginRoles {
    async fn get_role(&self, plugin_id: &str, user_id: i64) -> Result<Option<String>, PluginError> {
        self.0.record(
            "plugin_roles.get_role",
            json!({"plugin_id": plugin_id, "user_id": user_id}),
        );
        let st = self.0.platform();
        self.0.own_plugin(plugin_id, "plugin_roles.self")?;
        Ok(st
            .roles
            .iter()
            .find(|r| r.plugin_id == plugin_id && r.user_id == user_id)
            .map(|r| r.role.clone()))
    }

    async fn set_role(
        &self,
        plugin_id: &str,
        user_id: i64,
        role: &str,
    ) -> Result<UserPluginRole, PluginError> {
        self.0.record(
            "plugin_roles.set_role",
            json!({"plugin_id": plugin_id, "user_id": user_id, "role": role}),
        );
        let mut st = self.0.platform();
        self.0.own_plugin(plugin_id, "plugin_roles.self")?;
        let now = now_utc();
        if let Some(row) = st
            .roles
            .iter_mut()
            .find(|r| r.plugin_id == plugin_id && r.user_id == user_id)
        {
            row.role = role.to_string();
            row.updated_at = now;
            return Ok(row.clone());
        }
        let row = UserPluginRole {
            id: st.next_role_id,
            user_id,
            plugin_id: plugin_id.to_string(),
            role: role.to_string(),
            created_at: now,
            updated_at: now,
        };
        st.next_role_id += 1;
        st.roles.push(row.clone());
        Ok(row)
    }

    async fn remove_role(&self, plugin_id: &str, user_id: i64) -> Result<bool, PluginError> {
        self.0.record(
            "plugin_roles.remove_role",
            json!({"plugin_id": plugin_id, "user_id": user_id}),
        );
        let mut st = self.0.platform();
        self.0.own_plugin(plugin_id, "plugin_roles.self")?;
        let before = st.roles.len();
        st.roles
            .retain(|r| !(r.plugin_id == plugin_id && r.user_id == user_id));
        Ok(st.roles.len() < before)
    }

    async fn list_plugin_roles(&self, plugin_id: &str) -> Result<Vec<UserPluginRole>, PluginError> {
        self.0.record(
            "plugin_roles.list_plugin_roles",
            json!({"plugin_id": plugin_id}),
        );
        let st = self.0.platform();
        self.0.own_plugin(plugin_id, "plugin_roles.self")?;
        let mut rows: Vec<UserPluginRole> = st
            .roles
            .iter()
            .filter(|r| r.plugin_id == plugin_id)
            .cloned()
            .collect();
        rows.sort_by_key(|r| (r.user_id, r.id));
        Ok(rows)
    }

    async fn list_user_roles(&self, user_id: i64) -> Result<Vec<UserPluginRole>, PluginError> {
        self.0
            .record("plugin_roles.list_user_roles", json!({"user_id": user_id}));
        let st = self.0.platform();
        let own = self.0.plugin_id.as_deref();
        let mut rows: Vec<UserPluginRole> = st
            .roles
            .iter()
            .filter(|r| r.user_id == user_id && own.is_none_or(|p| r.plugin_id == p))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (&a.plugin_id, a.id).cmp(&(&b.plugin_id, b.id)));
        Ok(rows)
    }
}

#[async_trait]
impl PlatformContextImpl for RecordingContext {
    fn plugin_id(&self) -> Option<String> {
        self.plugin_id.clone()
    }

    fn is_authenticated(&self) -> bool {
        self.platform().user.is_some()
    }

    /// The user set on the context, whatever the request carries.
    async fn resolve_user(&self, _parts: &Parts) -> Result<Option<CurrentUser>, PluginError> {
        Ok(self.platform().user.clone())
    }

    fn user_repository(&self) -> Option<Arc<dyn UserRepository>> {
        Some(Arc::new(Users(self.clone())))
    }

    fn experiment_repository(&self) -> Option<Arc<dyn ExperimentRepository>> {
        Some(Arc::new(Experiments(self.clone())))
    }

    fn plugin_data_repository(&self) -> Option<Arc<dyn PluginDataRepository>> {
        Some(Arc::new(PluginData(self.clone())))
    }

    fn plugin_role_repository(&self) -> Option<Arc<dyn PluginRoleRepository>> {
        Some(Arc::new(PluginRoles(self.clone())))
    }

    fn config(&self) -> PlatformConfig {
        self.record("config.get_config", json!({}));
        match filter_platform_config(&self.platform_config) {
            Value::Object(map) => map,
            _ => PlatformConfig::new(),
        }
    }

    async fn plugin_config(&self) -> Result<JsonObject, PluginError> {
        self.record("config.get_plugin_config", json!({}));
        self.require_plugin_id()?;
        Ok(lock(&self.local).plugin_config.clone())
    }

    /// Each owned key takes the value in `settings`, or is removed when `settings` lacks it;
    /// other stored keys are left alone and keys of `settings` outside `owned_keys` ignored.
    async fn set_plugin_config(
        &self,
        settings: JsonObject,
        owned_keys: Vec<String>,
    ) -> Result<(), PluginError> {
        self.record(
            "config.set_plugin_config",
            json!({"settings": settings, "owned_keys": owned_keys}),
        );
        self.require_plugin_id()?;
        let stored = &mut lock(&self.local).plugin_config;
        for key in owned_keys {
            match settings.get(&key) {
                Some(value) => {
                    stored.insert(key, value.clone());
                }
                None => {
                    stored.shift_remove(&key);
                }
            }
        }
        Ok(())
    }

    async fn shared_db_session(&self) -> Result<sea_orm::DatabaseTransaction, PluginError> {
        Err(PluginError::configuration(
            "RecordingContext provides no shared database session; \
             test table code against setup_standalone_db() instead",
        )
        .with_config_key("requires_shared_database"))
    }
}
