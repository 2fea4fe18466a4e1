//! Lifecycle value types: [`HealthStatus`], [`PluginHealth`] and [`LifecycleHookResult`]
//! (`spec/plugin.md` §5). Plain values with their exact JSON forms.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::error::{DEFAULT_VETO_MESSAGE, JsonObject};

/// A plugin's health. Wire values `"healthy"`, `"degraded"`, `"unhealthy"`, `"unknown"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Works normally (default).
    #[default]
    Healthy,
    /// Works with reduced function.
    Degraded,
    /// Does not work.
    Unhealthy,
    /// Not known (e.g. never checked).
    Unknown,
}

impl HealthStatus {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "unknown",
        }
    }
}

impl std::str::FromStr for HealthStatus {
    type Err = crate::PluginError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(Value::String(s.to_string())).map_err(|_| {
            crate::PluginError::validation(format!("Unknown health status '{s}'"))
                .with_field("health_status")
        })
    }
}

/// A health report (plugin.md §5). JSON: always `status` and `checked_at`; `message` and
/// `details` only when non-empty; `checked_at` is RFC 3339 UTC with microseconds and `+00:00`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginHealth {
    /// The status.
    pub status: HealthStatus,
    /// A human-readable note.
    pub message: Option<String>,
    /// Free-form details.
    pub details: JsonObject,
    /// When the check ran (UTC, microsecond precision).
    pub checked_at: DateTime<Utc>,
}

impl Default for PluginHealth {
    fn default() -> Self {
        Self::new(HealthStatus::Healthy)
    }
}

impl PluginHealth {
    /// A report with `status`, checked now.
    pub fn new(status: HealthStatus) -> Self {
        Self {
            status,
            message: None,
            details: JsonObject::new(),
            checked_at: Utc::now().trunc_subsecs(6),
        }
    }

    /// Sets the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The JSON form (Python `to_dict()`).
    pub fn to_json(&self) -> Value {
        let mut out = JsonObject::new();
        out.insert("status".into(), self.status.as_str().into());
        out.insert(
            "checked_at".into(),
            self.checked_at
                .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
                .to_string()
                .into(),
        );
        if let Some(m) = self.message.as_deref().filter(|m| !m.is_empty()) {
            out.insert("message".into(), m.into());
        }
        if !self.details.is_empty() {
            out.insert("details".into(), Value::Object(self.details.clone()));
        }
        Value::Object(out)
    }
}

impl Serialize for PluginHealth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// The answer of a lifecycle hook such as `on_before_experiment_save` (plugin.md §5).
/// JSON always has `success`, `message` (maybe `null`) and `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleHookResult {
    /// `false` from a before-save hook is a veto.
    pub success: bool,
    /// Why, shown to the user on a veto.
    pub message: Option<String>,
    /// Extra data.
    #[serde(default)]
    pub data: JsonObject,
}

impl Default for LifecycleHookResult {
    fn default() -> Self {
        Self {
            success: true,
            message: None,
            data: JsonObject::new(),
        }
    }
}

impl LifecycleHookResult {
    /// A veto with `message`.
    pub fn veto(message: impl Into<String>) -> Self {
        Self {
            success: false,
            message: Some(message.into()),
            data: JsonObject::new(),
        }
    }

    /// The message a veto reports: `message`, or the default when empty.
    pub fn veto_message(&self) -> String {
        self.message
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| DEFAULT_VETO_MESSAGE.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn health_json_omits_empty_message_and_details() {
        let h = PluginHealth::default();
        let v = h.to_json();
        let keys: Vec<&String> = v
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["status", "checked_at"]);
        assert_eq!(v["status"], "healthy");
        let ts = v["checked_at"].as_str().unwrap_or_default();
        assert!(ts.ends_with("+00:00"), "{ts}");
        assert_eq!(ts.split('.').nth(1).map(|f| f.len()), Some(6 + 6));
        let mut h = PluginHealth::new(HealthStatus::Degraded).with_message("slow");
        h.details.insert("lag_ms".into(), json!(12));
        let v = h.to_json();
        let keys: Vec<&String> = v
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["status", "checked_at", "message", "details"]);
    }

    #[test]
    fn hook_result_default_is_success_with_null_message() {
        assert_eq!(
            json!(LifecycleHookResult::default()),
            json!({"success": true, "message": null, "data": {}})
        );
        assert_eq!(
            LifecycleHookResult::veto("").veto_message(),
            "Operation vetoed by a plugin event handler"
        );
    }

    #[test]
    fn health_status_parses_wire_strings() {
        assert_eq!(
            "degraded".parse::<HealthStatus>().ok(),
            Some(HealthStatus::Degraded)
        );
        assert!("fine".parse::<HealthStatus>().is_err());
    }
}
