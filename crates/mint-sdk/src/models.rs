//! Plugin identity: [`PluginMetadata`], [`PluginCapabilities`], [`PluginType`], the validated
//! [`RoutesPrefix`] and [`derive_slug`]. Source: `spec/plugin.md` §2–4.
//!
//! These are plain values: nothing here touches the network or the database.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::PluginError;

/// What a plugin is: it reads experiments and writes results, or it owns an experiment type.
/// Wire values `"analysis"` and `"experiment_design"` (plugin.md §2); anything else fails to
/// deserialize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginType {
    /// Reads experiments and design data, writes analysis results (the default).
    #[default]
    Analysis,
    /// Owns an experiment type: creates and edits experiments and their design data.
    ExperimentDesign,
}

impl PluginType {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Analysis => "analysis",
            Self::ExperimentDesign => "experiment_design",
        }
    }
}

impl fmt::Display for PluginType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Platform features a plugin needs (plugin.md §3). All default to `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginCapabilities {
    /// Every route of the plugin requires an authenticated user when integrated (401 otherwise).
    pub requires_auth: bool,
    /// The plugin gets a plugin-data repository (design data, analysis results).
    pub requires_database: bool,
    /// The plugin gets an experiment repository.
    pub requires_experiments: bool,
    /// The plugin owns tables and gets a shared DB session scoped to its schema.
    pub requires_shared_database: bool,
    /// UI hint only.
    pub supports_experiment_linking: bool,
}

/// A plugin's identity and capabilities (plugin.md §4). The JSON form uses these field names.
///
/// ```
/// use mint_sdk::{PluginMetadata, PluginType};
/// let meta = PluginMetadata::new("Hello MINT", "0.1.0", "Says hello", "metabolomics", "/hello-mint");
/// assert_eq!(meta.plugin_type, PluginType::Analysis);
/// assert_eq!(meta.schema_version, "1.0");
/// assert!(meta.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginMetadata {
    /// The plugin id, verbatim (may contain spaces and capitals).
    pub name: String,
    /// Free-form, normally semver.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// Domain label, e.g. `"metabolomics"`.
    pub analysis_type: String,
    /// Where the plugin's routes live: `/api{routes_prefix}/…`; see [`RoutesPrefix`].
    pub routes_prefix: String,
    /// Analysis (default) or experiment design.
    #[serde(default)]
    pub plugin_type: PluginType,
    /// Platform features the plugin needs.
    #[serde(default)]
    pub capabilities: PluginCapabilities,
    /// Author, `""` by default.
    #[serde(default)]
    pub author: String,
    /// Homepage URL, `""` by default.
    #[serde(default)]
    pub homepage: String,
    /// Licence, `""` by default.
    #[serde(default)]
    pub license: String,
    /// SVG path data (or a data/HTTPS URL), `""` by default.
    #[serde(default)]
    pub icon: String,
    /// Default schema version of design data written by `save_design`, `"1.0"` by default.
    #[serde(default = "default_schema_version")]
    pub schema_version: String,
    /// Plugin slugs that must be loaded first.
    #[serde(default)]
    pub dependencies: Vec<String>,
}

fn default_schema_version() -> String {
    "1.0".into()
}

impl PluginMetadata {
    /// Metadata with the five required fields and every other field at its default.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
        analysis_type: impl Into<String>,
        routes_prefix: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            analysis_type: analysis_type.into(),
            routes_prefix: routes_prefix.into(),
            plugin_type: PluginType::Analysis,
            capabilities: PluginCapabilities::default(),
            author: String::new(),
            homepage: String::new(),
            license: String::new(),
            icon: String::new(),
            schema_version: default_schema_version(),
            dependencies: Vec::new(),
        }
    }

    /// Sets the plugin type.
    pub fn with_plugin_type(mut self, plugin_type: PluginType) -> Self {
        self.plugin_type = plugin_type;
        self
    }

    /// Sets the capabilities.
    pub fn with_capabilities(mut self, capabilities: PluginCapabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Checks the metadata and returns the first failure as `PluginError::Validation` with its
    /// `field`, in the order name, version, analysis_type, routes_prefix (plugin.md §4).
    pub fn validate(&self) -> Result<(), PluginError> {
        for (field, value) in [
            ("name", &self.name),
            ("version", &self.version),
            ("analysis_type", &self.analysis_type),
        ] {
            if value.trim().is_empty() {
                return Err(PluginError::validation(format!(
                    "Plugin metadata field '{field}' must not be empty"
                ))
                .with_field(field));
            }
        }
        RoutesPrefix::parse(&self.routes_prefix).map_err(|e| {
            PluginError::validation(format!("Invalid routes_prefix: {e}"))
                .with_field("routes_prefix")
                .with_value(self.routes_prefix.clone())
        })?;
        Ok(())
    }
}

/// First path segments a plugin may not claim: the platform's own routes and pages.
pub const RESERVED_PREFIX_SEGMENTS: [&str; 15] = [
    "api",
    "auth",
    "experiments",
    "projects",
    "plugins",
    "admin",
    "updates",
    "users",
    "internal",
    "health",
    "instruments",
    "objects",
    "openapi.json",
    "_mint",
    "__mint",
];

/// A validated `routes_prefix` such as `/my-plugin` (plugin.md §4).
///
/// Rules: starts with `/`, longer than one character, no trailing `/`, no `//`, no whitespace,
/// `?` or `#`, and a first segment that is not one of [`RESERVED_PREFIX_SEGMENTS`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoutesPrefix(String);

/// Why a string is not a [`RoutesPrefix`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutesPrefixError {
    /// It does not start with `/`.
    #[error("must start with '/'")]
    MissingLeadingSlash,
    /// It is just `/`.
    #[error("must name a path, not '/'")]
    Root,
    /// It ends with `/`.
    #[error("must not end with '/'")]
    TrailingSlash,
    /// It contains `//`.
    #[error("must not contain '//'")]
    EmptySegment,
    /// It contains whitespace, `?` or `#`.
    #[error("must not contain whitespace, '?' or '#'")]
    ForbiddenCharacter,
    /// Its first segment is reserved by the platform.
    #[error("first segment '{0}' is reserved by the platform")]
    Reserved(String),
}

impl RoutesPrefix {
    /// Validates `value`.
    pub fn parse(value: &str) -> Result<Self, RoutesPrefixError> {
        let Some(rest) = value.strip_prefix('/') else {
            return Err(RoutesPrefixError::MissingLeadingSlash);
        };
        if rest.is_empty() {
            return Err(RoutesPrefixError::Root);
        }
        if rest.ends_with('/') {
            return Err(RoutesPrefixError::TrailingSlash);
        }
        if rest.contains("//") {
            return Err(RoutesPrefixError::EmptySegment);
        }
        if value
            .chars()
            .any(|c| c.is_whitespace() || c == '?' || c == '#')
        {
            return Err(RoutesPrefixError::ForbiddenCharacter);
        }
        let first = rest.split('/').next().unwrap_or_default();
        if RESERVED_PREFIX_SEGMENTS.contains(&first) {
            return Err(RoutesPrefixError::Reserved(first.to_string()));
        }
        Ok(Self(value.to_string()))
    }

    /// The prefix, e.g. `/my-plugin`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoutesPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Derives a plugin slug from a human name (plugin.md §4, "Slug derivation"):
/// `"mint-plugin-Peak Picking!"` → `peak-picking`. `routes_prefix` is `"/" + slug`.
///
/// Errors (`PluginError::Validation`, field `name`): empty name, no alphanumeric character,
/// starts with a digit, no ASCII letter.
pub fn derive_slug(human_name: &str) -> Result<String, PluginError> {
    let invalid = |msg: &str| {
        PluginError::validation(msg.to_string())
            .with_field("name")
            .with_value(human_name.to_string())
    };
    let mut name = human_name.trim();
    let lower = name.to_ascii_lowercase();
    for prefix in [
        "mint-plugin-",
        "mint_plugin_",
        "mint-plugin_",
        "mint_plugin-",
    ] {
        if lower.starts_with(prefix) {
            name = &name[prefix.len()..];
            break;
        }
    }
    if name.trim().is_empty() {
        return Err(invalid("name cannot be empty"));
    }
    let mut slug = String::new();
    let mut pending_dash = false;
    for c in name.to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c);
        } else {
            pending_dash = true;
        }
    }
    if slug.is_empty() {
        return Err(invalid("name must contain at least one letter or digit"));
    }
    if slug.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(invalid("name must start with a letter"));
    }
    if !slug.chars().any(|c| c.is_ascii_lowercase()) {
        return Err(invalid("name must contain a letter"));
    }
    Ok(slug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plugin_type_uses_the_wire_strings_and_defaults_to_analysis() {
        assert_eq!(json!(PluginType::Analysis), json!("analysis"));
        assert_eq!(
            json!(PluginType::ExperimentDesign),
            json!("experiment_design")
        );
        assert_eq!(PluginType::default(), PluginType::Analysis);
        assert!(serde_json::from_value::<PluginType>(json!("static")).is_err());
    }

    #[test]
    fn capabilities_default_to_all_false() {
        assert_eq!(
            json!(PluginCapabilities::default()),
            json!({"requires_auth": false, "requires_database": false, "requires_experiments": false,
                   "requires_shared_database": false, "supports_experiment_linking": false})
        );
    }

    #[test]
    fn metadata_defaults_and_json_form() {
        let m = PluginMetadata::new("n", "1", "d", "t", "/n");
        let v = json!(m);
        assert_eq!(v["author"], "");
        assert_eq!(v["homepage"], "");
        assert_eq!(v["license"], "");
        assert_eq!(v["icon"], "");
        assert_eq!(v["schema_version"], "1.0");
        assert_eq!(v["dependencies"], json!([]));
        assert_eq!(v["plugin_type"], "analysis");
        assert_eq!(v["capabilities"]["requires_auth"], false);
        let back: PluginMetadata = serde_json::from_value(json!({
            "name": "n", "version": "1", "description": "d", "analysis_type": "t", "routes_prefix": "/n"
        }))
        .expect("minimal metadata decodes");
        assert_eq!(back, m);
    }

    #[test]
    fn routes_prefix_rules() {
        for bad in [
            "my",
            "/",
            "/a/",
            "/a//b",
            "/a b",
            "/auth",
            "/internal/x",
            "/_mint",
            "/openapi.json",
            "/api",
            "/a?b",
            "/a#b",
            "/__mint",
        ] {
            assert!(RoutesPrefix::parse(bad).is_err(), "{bad} must be rejected");
        }
        for good in ["/my-plugin", "/authoring", "/a/b", "/peak-picking"] {
            assert!(RoutesPrefix::parse(good).is_ok(), "{good} must be accepted");
        }
    }

    #[test]
    fn validate_reports_the_first_failing_field_in_order() {
        let mut m = PluginMetadata::new(" ", "", "d", "", "bad");
        let field = |m: &PluginMetadata| match m.validate() {
            Err(PluginError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(field(&m).as_deref(), Some("name"));
        m.name = "n".into();
        assert_eq!(field(&m).as_deref(), Some("version"));
        m.version = "1".into();
        assert_eq!(field(&m).as_deref(), Some("analysis_type"));
        m.analysis_type = "t".into();
        assert_eq!(field(&m).as_deref(), Some("routes_prefix"));
        m.routes_prefix = "/ok".into();
        assert!(m.validate().is_ok());
    }

    #[test]
    fn derive_slug_matches_the_table() {
        for (input, slug) in [
            ("Hello MINT", "hello-mint"),
            ("mint-plugin-Peak Picking!", "peak-picking"),
            ("Zelle_2", "zelle-2"),
            ("MINT_PLUGIN_lc ms v2", "lc-ms-v2"),
        ] {
            assert_eq!(derive_slug(input).ok().as_deref(), Some(slug), "{input}");
        }
        for bad in ["3d-viewer", "---", "", "   ", "mint-plugin-"] {
            assert!(derive_slug(bad).is_err(), "{bad:?} must fail");
        }
    }
}
