//! The records a plugin exchanges with the platform and the four async repository traits
//! (`spec/context-and-data.md` §5 and §7).
//!
//! Timestamps are UTC; on the wire RFC 3339 with `Z` and microseconds; readers also accept
//! `+00:00`. Optional fields serialize as `null`. Decoding is lenient as §7 says (missing
//! `updated_at` → now, missing `created_at` → `updated_at`, missing payloads → `{}`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{JsonObject, PluginError};

/// The platform's configuration view handed to plugins (secrets removed).
pub type PlatformConfig = JsonObject;

/// Now, truncated to the microsecond precision every store keeps.
pub fn now_utc() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Serde helpers for timestamps: write `2026-05-01T10:00:00.123456Z`, read any RFC 3339 offset.
pub mod timestamp {
    use super::*;

    /// Formats a timestamp the way every MINT writer does.
    pub fn format(ts: &DateTime<Utc>) -> String {
        ts.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }

    /// Serializes with [`format()`].
    pub fn serialize<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(ts))
    }

    /// Deserializes any RFC 3339 timestamp into UTC.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

fn ts_default() -> DateTime<Utc> {
    now_utc()
}

/// One experiment row (context-and-data.md §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Numeric id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The experiment type, e.g. `lcms`.
    pub experiment_type: String,
    /// `planned`, `ongoing` or `completed`.
    pub status: String,
    /// Creation time.
    #[serde(with = "timestamp", default = "ts_default")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "timestamp", default = "ts_default")]
    pub updated_at: DateTime<Utc>,
    /// Creating user's id.
    #[serde(default)]
    pub created_by: Option<i64>,
    /// Parent experiment's id.
    #[serde(default)]
    pub parent_experiment_id: Option<i64>,
    /// Project name.
    #[serde(default)]
    pub project: Option<String>,
    /// Free-text notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Tags object.
    #[serde(default)]
    pub tags: JsonObject,
    /// Custom metadata object.
    #[serde(default)]
    pub custom_metadata: JsonObject,
    /// Start date (`YYYY-MM-DD`).
    #[serde(default)]
    pub start_date: Option<NaiveDate>,
    /// End date (`YYYY-MM-DD`).
    #[serde(default)]
    pub end_date: Option<NaiveDate>,
}

/// The design payload of one experiment; one row per experiment (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignData {
    /// Row id.
    pub id: i64,
    /// The experiment.
    pub experiment_id: i64,
    /// The owning plugin's id.
    pub plugin_id: String,
    /// The payload.
    #[serde(default)]
    pub data: JsonObject,
    /// Payload schema version (default `"1.0"`).
    #[serde(default = "default_schema_version")]
    pub schema_version: String,
    /// Creation time.
    #[serde(with = "timestamp", default = "ts_default")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "timestamp", default = "ts_default")]
    pub updated_at: DateTime<Utc>,
}

fn default_schema_version() -> String {
    "1.0".into()
}

/// Backward-compatible name of [`DesignData`].
pub type PluginExperimentData = DesignData;

/// One plugin's analysis output for one experiment; one row per (experiment, plugin) (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginAnalysisResult {
    /// Row id.
    pub id: i64,
    /// The experiment.
    pub experiment_id: i64,
    /// The plugin that wrote it.
    pub plugin_id: String,
    /// The payload.
    #[serde(default)]
    pub result: JsonObject,
    /// Creation time.
    #[serde(with = "timestamp", default = "ts_default")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "timestamp", default = "ts_default")]
    pub updated_at: DateTime<Utc>,
}

/// A platform user (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Numeric id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Platform role slug (`admin`, `member`, `viewer` or custom).
    pub role: String,
    /// Whether the account may log in.
    pub is_active: bool,
    /// Creation time.
    #[serde(with = "timestamp", default = "ts_default")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "timestamp", default = "ts_default")]
    pub updated_at: DateTime<Utc>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Short name (initials).
    #[serde(default)]
    pub shortname: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
}

/// A user's role within one plugin (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPluginRole {
    /// Row id.
    pub id: i64,
    /// The user.
    pub user_id: i64,
    /// The plugin.
    pub plugin_id: String,
    /// The role, compared exactly (e.g. `editor`).
    pub role: String,
    /// Creation time.
    #[serde(with = "timestamp", default = "ts_default")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "timestamp", default = "ts_default")]
    pub updated_at: DateTime<Utc>,
}

/// Filters of [`ExperimentRepository::list_all`]: exact matches combined with AND; `search` is a
/// case-insensitive substring of name or notes; empty strings count as absent (§5.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExperimentFilter {
    /// Rows to skip (default 0).
    pub skip: u64,
    /// Most rows to return (default 100).
    pub limit: u64,
    /// Exact status.
    pub status: Option<String>,
    /// Exact experiment type.
    pub experiment_type: Option<String>,
    /// Exact project.
    pub project: Option<String>,
    /// Exact creator id.
    pub created_by: Option<i64>,
    /// Exact parent id.
    pub parent_experiment_id: Option<i64>,
    /// Substring of name or notes, case-insensitive.
    pub search: Option<String>,
}

impl Default for ExperimentFilter {
    fn default() -> Self {
        Self {
            skip: 0,
            limit: 100,
            status: None,
            experiment_type: None,
            project: None,
            created_by: None,
            parent_experiment_id: None,
            search: None,
        }
    }
}

/// Input of [`ExperimentRepository::create`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NewExperiment {
    /// Display name (required).
    pub name: String,
    /// Experiment type (required).
    pub experiment_type: String,
    /// Creating user.
    #[serde(default)]
    pub created_by: Option<i64>,
    /// Parent experiment.
    #[serde(default)]
    pub parent_experiment_id: Option<i64>,
    /// Project.
    #[serde(default)]
    pub project: Option<String>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Tags (`{}` when absent).
    #[serde(default)]
    pub tags: Option<JsonObject>,
}

/// Input of [`ExperimentRepository::update`]: an absent field is left unchanged.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExperimentUpdate {
    /// New name.
    pub name: Option<String>,
    /// New status.
    pub status: Option<String>,
    /// New type.
    pub experiment_type: Option<String>,
    /// New parent.
    pub parent_experiment_id: Option<i64>,
    /// New project.
    pub project: Option<String>,
    /// New notes.
    pub notes: Option<String>,
    /// Replaces the whole tags object.
    pub tags: Option<JsonObject>,
}

/// Experiments (§5.1). Analysis plugins get a read-only one: `create`, `update` and `delete`
/// fail with `PluginError::Permission` (`experiment:write`).
#[async_trait]
pub trait ExperimentRepository: Send + Sync {
    /// One experiment, `None` when unknown.
    async fn get_by_id(&self, experiment_id: i64) -> Result<Option<Experiment>, PluginError>;
    /// A page of experiments ordered by id, and the total number of matches before paging.
    async fn list_all(
        &self,
        filter: ExperimentFilter,
    ) -> Result<(Vec<Experiment>, u64), PluginError>;
    /// Creates an experiment with status `planned`.
    async fn create(&self, experiment: NewExperiment) -> Result<Experiment, PluginError>;
    /// Changes the given fields; `None` when unknown.
    async fn update(
        &self,
        experiment_id: i64,
        update: ExperimentUpdate,
    ) -> Result<Option<Experiment>, PluginError>;
    /// Deletes; `false` when unknown.
    async fn delete(&self, experiment_id: i64) -> Result<bool, PluginError>;
    /// True iff the experiment exists and has a design row.
    async fn has_design_data(&self, experiment_id: i64) -> Result<bool, PluginError>;
}

/// Design data and analysis results (§5.2). `plugin_id` arguments are the caller's own id;
/// another id on a write fails with `PluginError::Permission`.
#[async_trait]
pub trait PluginDataRepository: Send + Sync {
    /// Upserts the experiment's design row (keeps id and created_at).
    async fn save_experiment_data(
        &self,
        experiment_id: i64,
        plugin_id: &str,
        data: JsonObject,
        schema_version: &str,
    ) -> Result<DesignData, PluginError>;
    /// The experiment's design row, whoever owns it.
    async fn get_experiment_data(
        &self,
        experiment_id: i64,
    ) -> Result<Option<DesignData>, PluginError>;
    /// Deletes the design row; `false` when there was none.
    async fn delete_experiment_data(&self, experiment_id: i64) -> Result<bool, PluginError>;
    /// Upserts the (experiment, plugin) analysis row.
    async fn save_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
        result: JsonObject,
    ) -> Result<PluginAnalysisResult, PluginError>;
    /// The (experiment, plugin) analysis row.
    async fn get_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
    ) -> Result<Option<PluginAnalysisResult>, PluginError>;
    /// Every plugin's analysis row of the experiment, ordered by id.
    async fn get_analysis_results(
        &self,
        experiment_id: i64,
    ) -> Result<Vec<PluginAnalysisResult>, PluginError>;
    /// Deletes the (experiment, plugin) analysis row; `false` when there was none.
    async fn delete_analysis_result(
        &self,
        experiment_id: i64,
        plugin_id: &str,
    ) -> Result<bool, PluginError>;
}

/// Users, read-only (§5.3).
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// One user by id.
    async fn get_by_id(&self, user_id: i64) -> Result<Option<User>, PluginError>;
    /// One user by exact, case-sensitive username.
    async fn get_by_username(&self, username: &str) -> Result<Option<User>, PluginError>;
    /// A page of users ordered by id (no total).
    async fn list_all(&self, skip: u64, limit: u64) -> Result<Vec<User>, PluginError>;
}

/// Per-plugin user roles, scoped to the calling plugin (§5.4).
#[async_trait]
pub trait PluginRoleRepository: Send + Sync {
    /// The user's role in the plugin.
    async fn get_role(&self, plugin_id: &str, user_id: i64) -> Result<Option<String>, PluginError>;
    /// Upserts the user's role (keeps id and created_at).
    async fn set_role(
        &self,
        plugin_id: &str,
        user_id: i64,
        role: &str,
    ) -> Result<UserPluginRole, PluginError>;
    /// Removes the user's role; `false` when there was none.
    async fn remove_role(&self, plugin_id: &str, user_id: i64) -> Result<bool, PluginError>;
    /// All roles of the plugin, ordered by (user_id, id).
    async fn list_plugin_roles(&self, plugin_id: &str) -> Result<Vec<UserPluginRole>, PluginError>;
    /// The user's roles in the calling plugin, ordered by (plugin_id, id).
    async fn list_user_roles(&self, user_id: i64) -> Result<Vec<UserPluginRole>, PluginError>;
}

/// The permission error for a write under another plugin's id (§5.2, §5.4).
pub fn foreign_plugin_error(required_permission: &str, requested: &str, own: &str) -> PluginError {
    let mut details = JsonObject::new();
    details.insert("requested_plugin_id".into(), requested.into());
    details.insert("own_plugin_id".into(), own.into());
    PluginError::permission(format!(
        "Plugin '{own}' cannot act on data of plugin '{requested}'"
    ))
    .with_required_permission(required_permission)
    .with_details(details)
}

/// The permission error of an analysis plugin writing an experiment (§5.1).
pub fn analysis_cannot_modify_experiments() -> PluginError {
    PluginError::permission("Analysis plugins cannot modify experiments")
        .with_required_permission("experiment:write")
}

/// The permission error of an analysis plugin writing design data (§5.2, plugin.md §3).
pub fn analysis_cannot_write_design_data() -> PluginError {
    PluginError::permission("Analysis plugins cannot write design data")
        .with_required_permission("design_data.write")
}

/// The permission error of an experiment-design plugin writing an analysis result (§5.2,
/// plugin.md §3).
pub fn design_cannot_write_analysis_results() -> PluginError {
    PluginError::permission("Experiment-design plugins cannot write analysis results")
        .with_required_permission("analysis_results.write")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn experiment_json_uses_z_timestamps_dates_and_null_optionals() {
        let ts = DateTime::parse_from_rfc3339("2026-05-01T10:00:00.123456+00:00")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let e = Experiment {
            id: 1,
            name: "n".into(),
            experiment_type: "lcms".into(),
            status: "planned".into(),
            created_at: ts,
            updated_at: ts,
            created_by: None,
            parent_experiment_id: None,
            project: None,
            notes: None,
            tags: JsonObject::new(),
            custom_metadata: JsonObject::new(),
            start_date: NaiveDate::from_ymd_opt(2026, 5, 1),
            end_date: None,
        };
        let v = json!(e);
        assert_eq!(v["created_at"], "2026-05-01T10:00:00.123456Z");
        assert_eq!(v["start_date"], "2026-05-01");
        assert_eq!(v["project"], json!(null));
        assert_eq!(v["end_date"], json!(null));
        let back: Experiment = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, e);
    }

    #[test]
    fn decoding_is_lenient() {
        let d: DesignData = serde_json::from_value(json!({
            "id": 1, "experiment_id": 2, "plugin_id": "p",
            "created_at": "2026-05-01T10:00:00+00:00", "updated_at": "2026-05-01T10:00:00Z",
            "unknown": 1
        }))
        .expect("lenient decode");
        assert_eq!(d.schema_version, "1.0");
        assert!(d.data.is_empty());
        assert_eq!(d.created_at, d.updated_at);
    }

    #[test]
    fn design_data_alias_is_the_same_type() {
        fn same(_: PluginExperimentData) {}
        let d = DesignData {
            id: 1,
            experiment_id: 1,
            plugin_id: "p".into(),
            data: JsonObject::new(),
            schema_version: "1.0".into(),
            created_at: now_utc(),
            updated_at: now_utc(),
        };
        same(d);
    }
}
