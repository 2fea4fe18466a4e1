//! Typed plugin settings: [`SettingsModel`], validation against the model's JSON Schema, the
//! standalone settings file, and the configurable-settings form description
//! (`spec/plugin.md` §6.7).
//!
//! A plugin declares its settings as a Rust type (`Serialize + DeserializeOwned + JsonSchema`)
//! and returns `Some(SettingsModel::of::<MySettings>())` from
//! [`AnalysisPlugin::settings_model`](crate::AnalysisPlugin::settings_model). Values are
//! validated by deserializing them into that type (no lax coercion: `"5"` is not a number) and
//! checking the schema's numeric bounds; the committed value is the type's own serialization.
//!
//! A field is *secret* when its schema carries `"x-mint-secret": true`
//! (`#[schemars(extend("x-mint-secret" = true))]`): GET routes show it as `null` and a PUT that
//! leaves it out (or sends `null`) keeps the stored value.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::{JsonObject, PluginError};

/// File name of the standalone settings file inside the plugin's data directory.
pub const SETTINGS_FILE_NAME: &str = "config.json";

type Normalizer = dyn Fn(&Value) -> Result<Value, PluginError> + Send + Sync;

/// A plugin's settings type, erased: its JSON Schema and a validating normalizer.
///
/// Defaults come from serde (`#[serde(default = "…")]`), bounds from schemars
/// (`#[schemars(range(min = …, max = …))]`), descriptions from doc comments, and secrets from
/// `#[schemars(extend("x-mint-secret" = true))]`. Through the SDK's re-export, tell the derive
/// where schemars lives with `#[schemars(crate = "mint_sdk::schemars")]` (or depend on
/// `schemars = "1"` yourself).
///
/// ```
/// use mint_sdk::schemars::JsonSchema;
/// use mint_sdk::SettingsModel;
/// use serde::{Deserialize, Serialize};
///
/// fn default_max() -> u32 { 96 }
///
/// #[derive(Serialize, Deserialize, JsonSchema)]
/// #[schemars(crate = "mint_sdk::schemars")]
/// struct TrackerSettings {
///     /// Most samples per experiment
///     #[serde(default = "default_max")]
///     #[schemars(range(min = 1, max = 384))]
///     max_samples: u32,
///     /// Token for the LIMS
///     #[serde(default)]
///     #[schemars(extend("x-mint-secret" = true))]
///     lims_token: Option<String>,
/// }
///
/// let model = SettingsModel::of::<TrackerSettings>();
/// assert_eq!(model.defaults().unwrap()["max_samples"], 96);
/// assert!(model.validate(&serde_json::json!({"max_samples": 500})).is_err());
/// assert_eq!(model.secret_keys(), ["lims_token"]);
/// let form = model.configurable_settings();
/// assert_eq!(form[0]["max"], 384);
/// assert_eq!(form[1]["secret"], true);
/// ```
#[derive(Clone)]
pub struct SettingsModel {
    schema: Arc<Value>,
    normalize: Arc<Normalizer>,
}

impl std::fmt::Debug for SettingsModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsModel")
            .field("properties", &self.property_names())
            .finish()
    }
}

impl SettingsModel {
    /// The model of settings type `T`.
    pub fn of<T>() -> Self
    where
        T: Serialize + DeserializeOwned + JsonSchema + 'static,
    {
        let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
        let normalize = |value: &Value| -> Result<Value, PluginError> {
            let typed: T = serde_path_to_error::deserialize(value.clone()).map_err(|err| {
                let path = dotted(err.path());
                let message = err.inner().to_string();
                let field = match message.strip_prefix("missing field `") {
                    Some(rest) => {
                        let name = rest.split('`').next().unwrap_or_default();
                        if path.is_empty() {
                            name.to_string()
                        } else {
                            format!("{path}.{name}")
                        }
                    }
                    None => path,
                };
                PluginError::validation(format!("Invalid settings: {message}")).with_field(field)
            })?;
            serde_json::to_value(&typed)
                .map_err(|e| PluginError::validation(format!("Invalid settings: {e}")))
        };
        Self {
            schema: Arc::new(schema),
            normalize: Arc::new(normalize),
        }
    }

    /// The model's JSON Schema.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    fn properties(&self) -> Option<&Map<String, Value>> {
        self.schema.get("properties").and_then(Value::as_object)
    }

    /// The model's property names in declaration order.
    pub fn property_names(&self) -> Vec<String> {
        self.properties()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The names of the secret properties (`"x-mint-secret": true`).
    pub fn secret_keys(&self) -> Vec<String> {
        self.properties()
            .map(|p| {
                p.iter()
                    .filter(|(_, s)| s.get("x-mint-secret") == Some(&Value::Bool(true)))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Validates `value` and returns its normalized form (§6.7): wrong types, missing required
    /// fields and numbers outside the schema's bounds are `PluginError::Validation` with
    /// `field` = the offending key path.
    pub fn validate(&self, value: &Value) -> Result<JsonObject, PluginError> {
        if !value.is_object() {
            return Err(
                PluginError::validation("Settings must be a JSON object").with_field("__root__")
            );
        }
        let normalized = (self.normalize)(value)?;
        if let Some(props) = self.properties() {
            for (key, schema) in props {
                if let Some(v) = normalized.get(key) {
                    check_bounds(key, schema, v)?;
                }
            }
        }
        match normalized {
            Value::Object(map) => Ok(map),
            _ => Err(PluginError::validation(
                "Settings must serialize to a JSON object",
            )),
        }
    }

    /// The model's defaults (deserializing `{}`); a Validation error when fields are required.
    pub fn defaults(&self) -> Result<JsonObject, PluginError> {
        self.validate(&json!({}))
    }

    /// The form description of §6.7 (`get_configurable_settings`): one entry per property in
    /// declaration order with `key`, `label`, `type`, `description`, then `required: true` or
    /// `default`, then `min`/`max` from inclusive bounds.
    pub fn configurable_settings(&self) -> Vec<JsonObject> {
        let required: Vec<&str> = self
            .schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(props) = self.properties() else {
            return Vec::new();
        };
        props
            .iter()
            .map(|(key, schema)| {
                let mut entry = JsonObject::new();
                entry.insert("key".into(), key.clone().into());
                let label = schema
                    .get("title")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| crate::export::humanize_key(key));
                entry.insert("label".into(), label.into());
                entry.insert("type".into(), form_type(schema).into());
                entry.insert(
                    "description".into(),
                    schema
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                );
                if required.contains(&key.as_str()) {
                    entry.insert("required".into(), true.into());
                } else if let Some(d) = schema.get("default").filter(|d| !d.is_null()) {
                    entry.insert("default".into(), d.clone());
                }
                if let Some(min) = schema.get("minimum") {
                    entry.insert("min".into(), min.clone());
                }
                if let Some(max) = schema.get("maximum") {
                    entry.insert("max".into(), max.clone());
                }
                if schema.get("x-mint-secret") == Some(&Value::Bool(true)) {
                    entry.insert("secret".into(), true.into());
                }
                entry
            })
            .collect()
    }
}

fn dotted(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|seg| match seg {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The JSON types a property schema allows (`type` as string or list, or `anyOf` members).
fn schema_types(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match schema.get("type") {
        Some(Value::String(t)) => out.push(t.clone()),
        Some(Value::Array(ts)) => {
            out.extend(ts.iter().filter_map(Value::as_str).map(str::to_string))
        }
        _ => {}
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(members) = schema.get(key).and_then(Value::as_array) {
            for m in members {
                out.extend(schema_types(m));
            }
        }
    }
    out
}

fn form_type(schema: &Value) -> &'static str {
    let types: Vec<String> = schema_types(schema)
        .into_iter()
        .filter(|t| t != "null")
        .collect();
    match types.as_slice() {
        [t] if t == "boolean" => "boolean",
        [t] if t == "integer" || t == "number" => "number",
        _ => "string",
    }
}

fn check_bounds(key: &str, schema: &Value, value: &Value) -> Result<(), PluginError> {
    let Some(x) = value.as_f64() else {
        return Ok(());
    };
    let bound = |name: &str| schema.get(name).and_then(Value::as_f64);
    let out_of_range = |rule: String| {
        Err(
            PluginError::validation(format!("Invalid settings: {key} must be {rule}"))
                .with_field(key)
                .with_value(value.clone()),
        )
    };
    if let Some(min) = bound("minimum").filter(|m| x < *m) {
        return out_of_range(format!(">= {min}"));
    }
    if let Some(max) = bound("maximum").filter(|m| x > *m) {
        return out_of_range(format!("<= {max}"));
    }
    if let Some(min) = bound("exclusiveMinimum").filter(|m| x <= *m) {
        return out_of_range(format!("> {min}"));
    }
    if let Some(max) = bound("exclusiveMaximum").filter(|m| x >= *m) {
        return out_of_range(format!("< {max}"));
    }
    Ok(())
}

/// Replaces secret keys' values with `null` (for GET routes and logs).
pub fn mask_secrets(settings: &JsonObject, secret_keys: &[String]) -> JsonObject {
    let mut out = settings.clone();
    for key in secret_keys {
        if let Some(v) = out.get_mut(key) {
            *v = Value::Null;
        }
    }
    out
}

/// Reads the standalone settings file: a missing file is `{}`; anything but a JSON object is a
/// `Configuration` error.
pub fn read_settings_file(path: &Path) -> Result<JsonObject, PluginError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(JsonObject::new()),
        Err(e) => {
            return Err(PluginError::configuration(format!(
                "Cannot read settings file {}: {e}",
                path.display()
            ))
            .with_config_key("settings_path"));
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(PluginError::configuration(format!(
            "Settings file {} does not hold a JSON object",
            path.display()
        ))
        .with_config_key("settings_path")),
        Err(e) => Err(PluginError::configuration(format!(
            "Settings file {} is not valid JSON: {e}",
            path.display()
        ))
        .with_config_key("settings_path")),
    }
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Writes the standalone settings file atomically (temp file + rename): pretty-printed with a
/// 2-space indent, sorted keys, a trailing newline, mode 0600 on POSIX.
pub fn write_settings_file(path: &Path, settings: &JsonObject) -> Result<(), PluginError> {
    let fail = |what: &str, e: std::io::Error| {
        PluginError::configuration(format!(
            "Cannot {what} settings file {}: {e}",
            path.display()
        ))
        .with_config_key("settings_path")
    };
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).map_err(|e| fail("create the directory of the", e))?;
    let mut text = serde_json::to_string_pretty(&sorted(&Value::Object(settings.clone())))
        .map_err(|e| PluginError::configuration(format!("Cannot encode settings: {e}")))?;
    text.push('\n');
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, text).map_err(|e| fail("write the", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| fail("protect the", e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail("replace the", e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn default_threshold() -> f64 {
        0.05
    }
    fn yes() -> bool {
        true
    }

    #[derive(Debug, Serialize, Deserialize, JsonSchema)]
    struct Example {
        /// Cutoff
        #[serde(default = "default_threshold")]
        #[schemars(range(min = 0, max = 1))]
        threshold: f64,
        #[serde(default = "yes")]
        enabled: bool,
        api_url: String,
        #[serde(default)]
        label: Option<String>,
    }

    #[test]
    fn configurable_settings_match_the_documented_example() {
        let got: Vec<Value> = SettingsModel::of::<Example>()
            .configurable_settings()
            .into_iter()
            .map(Value::Object)
            .collect();
        let want = json!([
            {"key":"threshold","label":"Threshold","type":"number","description":"Cutoff","default":0.05,"min":0,"max":1},
            {"key":"enabled","label":"Enabled","type":"boolean","description":"","default":true},
            {"key":"api_url","label":"Api Url","type":"string","description":"","required":true},
            {"key":"label","label":"Label","type":"string","description":""}
        ]);
        assert_eq!(Value::Array(got).to_string(), want.to_string());
    }

    #[test]
    fn validation_rejects_wrong_types_and_out_of_range_numbers() {
        let model = SettingsModel::of::<Example>();
        let field = |v: Value| match model.validate(&v) {
            Err(PluginError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(
            field(json!({"api_url": "x", "threshold": "0.5"})).as_deref(),
            Some("threshold")
        );
        assert_eq!(
            field(json!({"api_url": "x", "threshold": 1.5})).as_deref(),
            Some("threshold")
        );
        assert_eq!(field(json!({"threshold": 0.5})).as_deref(), Some("api_url"));
        let ok = model
            .validate(&json!({"api_url": "x", "threshold": 1, "extra": 1}))
            .expect("valid");
        assert_eq!(ok["threshold"], json!(1.0));
        assert!(ok.get("extra").is_none(), "unknown keys are dropped");
        assert_eq!(ok["enabled"], true);
    }

    #[test]
    fn settings_file_is_sorted_indented_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p").join("config.json");
        let mut s = JsonObject::new();
        s.insert("zeta".into(), json!(1));
        s.insert("alpha".into(), json!({"b": 2, "a": 1}));
        write_settings_file(&path, &s).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "{\n  \"alpha\": {\n    \"a\": 1,\n    \"b\": 2\n  },\n  \"zeta\": 1\n}\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            assert_eq!(mode, 0o600);
        }
        assert_eq!(read_settings_file(&path).expect("read back")["zeta"], 1);
        assert!(
            read_settings_file(&dir.path().join("missing.json"))
                .expect("missing")
                .is_empty()
        );
        std::fs::write(&path, "[1]").expect("write");
        assert!(read_settings_file(&path).is_err());
    }
}
