//! The platform's configuration: sources, precedence, the `MINT_*__*` environment mapping and the
//! typed keys (`spec/platform-config.md`).
//!
//! Loading happens in two steps, as the style guide asks: [`load`] gathers and merges the raw
//! sources into one JSON object (defaults < config file < `.env` < environment < flags), then
//! deserializes it into [`PlatformSettings`], naming the key of any value of the wrong type.
//! Unknown keys are kept (they show in `get_config()`) and reported in
//! [`LoadedConfig::unknown_keys`]. Nothing here touches the database or the network.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Why the configuration cannot be used; `mint serve` prints it and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read or is not one JSON object.
    #[error("config file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The `.env` file cannot be parsed.
    #[error(".env file {path}: {message}")]
    DotEnv {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A value has the wrong type or is not allowed.
    #[error("config key {key}: {message}")]
    Invalid {
        /// The dotted key, e.g. `server.port`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Storage backend of the platform and its in-process plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseMode {
    /// An embedded SQLite file (default).
    #[default]
    Sqlite,
    /// A PostgreSQL server (`database.url`).
    Postgresql,
}

/// `database.pool.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PoolSettings {
    /// Fewest connections kept open (default 1).
    pub min: u32,
    /// Most connections (default 10).
    pub max: u32,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self { min: 1, max: 10 }
    }
}

/// `database.*`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DatabaseSettings {
    /// Backend (default SQLite).
    pub mode: DatabaseMode,
    /// PostgreSQL URL; required with `postgresql`.
    pub url: Option<String>,
    /// The SQLite file (default `<data_dir>/mint.db`).
    pub path: Option<PathBuf>,
    /// Pool bounds.
    pub pool: PoolSettings,
}

/// `auth.loginRateLimit.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginRateLimit {
    /// Throttle failed logins per client IP (default true).
    pub enabled: bool,
    /// Failures within the window before 429 (default 20).
    pub failures: u32,
    /// Sliding window in seconds (default 60).
    pub window_seconds: u64,
}

impl Default for LoginRateLimit {
    fn default() -> Self {
        Self {
            enabled: true,
            failures: 20,
            window_seconds: 60,
        }
    }
}

/// `auth.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthSettings {
    /// HS256 signing key; generated into `<data_dir>/jwt-secret` on the embedded SQLite default.
    pub jwt_secret: Option<String>,
    /// Access-token lifetime in hours (default 24).
    pub jwt_ttl_hours: f64,
    /// Hours after `exp` during which a token can still be refreshed (default 24).
    pub refresh_grace_hours: f64,
    /// Clock leeway in seconds when checking `exp` (default 0).
    pub leeway_seconds: u64,
    /// Password login allowed (default true).
    pub local_login_enabled: bool,
    /// Login throttling.
    pub login_rate_limit: LoginRateLimit,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_ttl_hours: 24.0,
            refresh_grace_hours: 24.0,
            leeway_seconds: 0,
            local_login_enabled: true,
            login_rate_limit: LoginRateLimit::default(),
        }
    }
}

/// `plugins.*`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PluginsSettings {
    /// Per-plugin directories (default `<data_dir>/plugin-data`).
    pub data_dir: Option<PathBuf>,
    /// When non-empty, only these plugins load.
    pub enabled: Vec<String>,
    /// These plugins do not load (wins over `enabled`).
    pub disabled: Vec<String>,
    /// Compiled-in plugins to run isolated anyway.
    pub force_isolated: Vec<String>,
    /// Plugins that must run in-process.
    pub force_shared: Vec<String>,
}

/// `server.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServerSettings {
    /// Listen address (default `127.0.0.1`).
    pub host: String,
    /// Listen port (default 8001; 0 = ephemeral).
    pub port: u16,
    /// Body limit of file-accepting routes in bytes (default 1 GiB).
    pub max_upload_bytes: u64,
    /// Browser origins allowed with credentials (default none: no CORS headers).
    pub cors_origins: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8001,
            max_upload_bytes: 1024 * 1024 * 1024,
            cors_origins: Vec::new(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON lines (default).
    #[default]
    Json,
    /// Human-readable lines.
    Pretty,
}

/// `observability.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObservabilitySettings {
    /// Log threshold (default `info`); `MINT_LOG_LEVEL` wins.
    pub log_level: String,
    /// Log format.
    pub log_format: LogFormat,
}

impl Default for ObservabilitySettings {
    fn default() -> Self {
        Self {
            log_level: "info".into(),
            log_format: LogFormat::Json,
        }
    }
}

/// Every key of platform-config.md §3, typed, with its default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PlatformSettings {
    /// Local development mode (`mint serve --dev`).
    pub dev_mode: bool,
    /// Storage.
    pub database: DatabaseSettings,
    /// Authentication.
    pub auth: AuthSettings,
    /// Plugin loading.
    pub plugins: PluginsSettings,
    /// HTTP server.
    pub server: ServerSettings,
    /// Logging.
    pub observability: ObservabilitySettings,
}

/// Where configuration comes from; everything is explicit so tests need no process state.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// The process environment (`std::env::vars()`).
    pub env: HashMap<String, String>,
    /// The `.env` file to read (normally `./.env`); a missing file is fine.
    pub dotenv_path: Option<PathBuf>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--config`.
    pub config_path: Option<PathBuf>,
    /// `--host`.
    pub host: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--dev`.
    pub dev: bool,
}

impl ConfigSources {
    /// The real process: its environment, `./.env`, and the given flags.
    pub fn from_process() -> Self {
        Self {
            env: std::env::vars().collect(),
            dotenv_path: Some(PathBuf::from(".env")),
            ..Default::default()
        }
    }
}

/// The result of [`load`].
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The data directory (created by the caller when missing).
    pub data_dir: PathBuf,
    /// The config file that was looked for.
    pub config_path: PathBuf,
    /// Whether that file existed.
    pub config_file_found: bool,
    /// The typed keys.
    pub settings: PlatformSettings,
    /// The effective merged object, unknown keys included (filter it before showing it).
    pub effective: Value,
    /// Dotted keys that have no effect (reported once at startup).
    pub unknown_keys: Vec<String>,
}

impl LoadedConfig {
    /// The SQLite file: `database.path` or `<data_dir>/mint.db`.
    pub fn sqlite_path(&self) -> PathBuf {
        self.settings
            .database
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("mint.db"))
    }

    /// Where installed bundles live: `<data_dir>/plugins` (`<name>/<version>/` below it,
    /// platform-config.md §4).
    pub fn installed_plugins_dir(&self) -> PathBuf {
        self.data_dir.join("plugins")
    }

    /// The per-plugin data root: `plugins.dataDir` or `<data_dir>/plugin-data`.
    pub fn plugins_data_dir(&self) -> PathBuf {
        self.settings
            .plugins
            .data_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("plugin-data"))
    }
}

/// `MINT_AUTH__LOGIN_RATE_LIMIT__WINDOW_SECONDS` → `["auth", "loginRateLimit", "windowSeconds"]`;
/// `None` for variables that are not config keys (no `MINT_` prefix or no `__`).
pub fn env_key_path(name: &str) -> Option<Vec<String>> {
    let rest = name.strip_prefix("MINT_")?;
    if !rest.contains("__") {
        return None;
    }
    let segments: Vec<String> = rest.split("__").map(camel_case).collect();
    if segments.iter().any(String::is_empty) {
        return None;
    }
    Some(segments)
}

fn camel_case(segment: &str) -> String {
    let mut out = String::new();
    for (i, word) in segment
        .to_lowercase()
        .split('_')
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        if i == 0 {
            out.push_str(word);
        } else {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    out
}

/// Converts an environment string to the JSON type the key has in `template` (the defaults):
/// booleans `true/false/1/0` (any case), numbers, JSON arrays for lists, strings verbatim.
fn typed_env_value(template: Option<&Value>, key: &str, raw: &str) -> Result<Value, ConfigError> {
    let invalid = |what: &str| ConfigError::Invalid {
        key: key.to_string(),
        message: format!("{what} expected, got {raw:?}"),
    };
    match template {
        Some(Value::Bool(_)) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(invalid("true or false")),
        },
        Some(Value::Number(_)) => serde_json::from_str::<serde_json::Number>(raw.trim())
            .map(Value::Number)
            .map_err(|_| invalid("a number")),
        Some(Value::Array(_)) => match serde_json::from_str::<Value>(raw) {
            Ok(v @ Value::Array(_)) => Ok(v),
            _ => Err(invalid("a JSON array")),
        },
        _ => Ok(Value::String(raw.to_string())),
    }
}

fn lookup<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(root, |v, k| v.get(k))
}

fn insert_path(root: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = root;
    for key in parents {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        node = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        map.insert(last.clone(), value);
    }
}

/// Deep-merges `over` into `base` (objects merge, everything else replaces).
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Dotted keys present in `value` but not in `template`.
fn unknown_keys(template: &Value, value: &Value, prefix: &str, out: &mut Vec<String>) {
    if let (Value::Object(t), Value::Object(v)) = (template, value) {
        for (k, child) in v {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match t.get(k) {
                Some(tchild) if tchild.is_object() => unknown_keys(tchild, child, &key, out),
                Some(_) => {}
                // Optional keys default to null in the template; they are known.
                None if known_optional(&key) => {}
                None => out.push(key),
            }
        }
    }
}

fn known_optional(key: &str) -> bool {
    matches!(
        key,
        "database.url" | "database.path" | "auth.jwtSecret" | "plugins.dataDir"
    )
}

fn read_dotenv(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(BTreeMap::new());
        }
        Err(e) => {
            return Err(ConfigError::DotEnv {
                path: path.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    iter.map(|item| {
        item.map_err(|e| ConfigError::DotEnv {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    })
    .collect()
}

/// Gathers, merges and checks the configuration (platform-config.md §1–3).
///
/// Errors: an unreadable or non-object config file, a malformed `.env`, a value of the wrong
/// type (naming its dotted key), `postgresql` without `database.url`, or a plugin in both
/// `forceIsolated` and `forceShared`.
pub fn load(sources: &ConfigSources) -> Result<LoadedConfig, ConfigError> {
    let dotenv = match &sources.dotenv_path {
        Some(p) => read_dotenv(p)?,
        None => BTreeMap::new(),
    };
    // The real environment wins over `.env`; `.env` never overrides it.
    let var = |name: &str| {
        sources
            .env
            .get(name)
            .or_else(|| dotenv.get(name))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let data_dir = sources
        .data_dir
        .clone()
        .or_else(|| var("MINT_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("mint-data"));
    let config_path = sources
        .config_path
        .clone()
        .or_else(|| var("MINT_CONFIG_PATH").map(PathBuf::from))
        .unwrap_or_else(|| data_dir.join("config.json"));

    let template = serde_json::to_value(PlatformSettings::default()).unwrap_or_else(|_| json!({}));
    let mut merged = template.clone();

    let (file_value, found) = match std::fs::read_to_string(&config_path) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Object(_)) => (v, true),
            Ok(_) => {
                return Err(ConfigError::File {
                    path: config_path,
                    message: "must hold one JSON object".into(),
                });
            }
            Err(e) => {
                return Err(ConfigError::File {
                    path: config_path,
                    message: format!("not valid JSON: {e}"),
                });
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (json!({}), false),
        Err(e) => {
            return Err(ConfigError::File {
                path: config_path,
                message: e.to_string(),
            });
        }
    };
    merge(&mut merged, file_value);

    // `.env` config variables rank above the file and below the real environment.
    let environment: BTreeMap<String, String> = sources.env.clone().into_iter().collect();
    for (layer, is_dotenv) in [(&dotenv, true), (&environment, false)] {
        for (name, raw) in layer {
            if is_dotenv && sources.env.contains_key(name) {
                continue;
            }
            let Some(path) = env_key_path(name) else {
                continue;
            };
            let key = path.join(".");
            let value = typed_env_value(lookup(&template, &path), &key, raw)?;
            insert_path(&mut merged, &path, value);
        }
    }

    if let Some(host) = &sources.host {
        insert_path(&mut merged, &["server".into(), "host".into()], json!(host));
    }
    if let Some(port) = sources.port {
        insert_path(&mut merged, &["server".into(), "port".into()], json!(port));
    }
    if sources.dev {
        insert_path(&mut merged, &["devMode".into()], json!(true));
    }

    let settings: PlatformSettings =
        serde_path_to_error::deserialize(merged.clone()).map_err(|e| ConfigError::Invalid {
            key: e.path().to_string(),
            message: e.inner().to_string(),
        })?;

    if settings.database.mode == DatabaseMode::Postgresql
        && !settings.dev_mode
        && settings.database.url.as_deref().is_none_or(str::is_empty)
    {
        return Err(ConfigError::Invalid {
            key: "database.url".into(),
            message: "required when database.mode is postgresql".into(),
        });
    }
    if let Some(both) = settings
        .plugins
        .force_isolated
        .iter()
        .find(|p| settings.plugins.force_shared.contains(p))
    {
        return Err(ConfigError::Invalid {
            key: "plugins.forceIsolated".into(),
            message: format!("plugin {both:?} is also in plugins.forceShared"),
        });
    }

    let mut unknown = Vec::new();
    unknown_keys(&template, &merged, "", &mut unknown);
    Ok(LoadedConfig {
        data_dir,
        config_path,
        config_file_found: found,
        settings,
        effective: merged,
        unknown_keys: unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    struct Dir {
        dir: tempfile::TempDir,
    }

    impl Dir {
        fn new() -> Self {
            Self {
                dir: tempfile::tempdir().expect("tempdir"),
            }
        }
        fn path(&self) -> &Path {
            self.dir.path()
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.path().join(name);
            std::fs::write(&p, text).expect("write");
            p
        }
        fn sources(&self, env: HashMap<String, String>) -> ConfigSources {
            ConfigSources {
                env,
                dotenv_path: Some(self.path().join(".env")),
                data_dir: Some(self.path().to_path_buf()),
                ..Default::default()
            }
        }
    }

    #[test]
    fn env_names_map_to_camel_case_paths() {
        assert_eq!(
            env_key_path("MINT_AUTH__JWT_SECRET"),
            Some(vec!["auth".into(), "jwtSecret".into()])
        );
        assert_eq!(
            env_key_path("MINT_AUTH__LOGIN_RATE_LIMIT__WINDOW_SECONDS"),
            Some(vec![
                "auth".into(),
                "loginRateLimit".into(),
                "windowSeconds".into()
            ])
        );
        for not_a_key in [
            "MINT_URL",
            "MINT_DEV_MODE",
            "MINT_PLUGIN_PORT",
            "OTHER__X",
            "MINT___X",
        ] {
            assert_eq!(env_key_path(not_a_key), None, "{not_a_key}");
        }
    }

    #[test]
    fn defaults_apply_without_any_source() {
        let d = Dir::new();
        let loaded = load(&d.sources(HashMap::new())).expect("defaults");
        assert!(!loaded.config_file_found);
        assert_eq!(loaded.settings, PlatformSettings::default());
        assert_eq!(loaded.settings.server.port, 8001);
        assert_eq!(loaded.sqlite_path(), d.path().join("mint.db"));
        assert_eq!(loaded.plugins_data_dir(), d.path().join("plugin-data"));
        assert!(loaded.unknown_keys.is_empty());
    }

    #[test]
    fn precedence_is_file_then_dotenv_then_environment_then_flags() {
        let d = Dir::new();
        d.write("config.json", r#"{"server": {"port": 9000}}"#);
        d.write(".env", "MINT_SERVER__PORT=9001\n");
        let loaded = load(&d.sources(env(&[("MINT_SERVER__PORT", "9002")]))).expect("load");
        assert_eq!(loaded.settings.server.port, 9002);
        let loaded = load(&d.sources(HashMap::new())).expect("load");
        assert_eq!(loaded.settings.server.port, 9001);
        let mut sources = d.sources(env(&[("MINT_SERVER__PORT", "9002")]));
        sources.port = Some(9003);
        assert_eq!(load(&sources).expect("load").settings.server.port, 9003);
        std::fs::remove_file(d.path().join(".env")).expect("rm");
        assert_eq!(
            load(&d.sources(HashMap::new()))
                .expect("load")
                .settings
                .server
                .port,
            9000
        );
    }

    #[test]
    fn nested_environment_keys_and_non_keys() {
        let d = Dir::new();
        let loaded = load(&d.sources(env(&[
            ("MINT_AUTH__JWT_SECRET", "s3cret"),
            ("MINT_AUTH__LOGIN_RATE_LIMIT__FAILURES", "3"),
            ("MINT_AUTH__LOGIN_RATE_LIMIT__ENABLED", "FALSE"),
            ("MINT_PLUGINS__DISABLED", r#"["hello-mint"]"#),
            ("MINT_URL", "http://x"),
            ("MINT_DEV_MODE", "true"),
        ])))
        .expect("load");
        assert_eq!(loaded.settings.auth.jwt_secret.as_deref(), Some("s3cret"));
        assert_eq!(loaded.settings.auth.login_rate_limit.failures, 3);
        assert!(!loaded.settings.auth.login_rate_limit.enabled);
        assert_eq!(loaded.settings.plugins.disabled, ["hello-mint"]);
        assert!(!loaded.settings.dev_mode, "MINT_DEV_MODE is not a key");
    }

    #[test]
    fn dotenv_selects_the_config_file_but_never_overrides_the_environment() {
        let d = Dir::new();
        let other = d.write("other.json", r#"{"server": {"host": "0.0.0.0"}}"#);
        d.write(
            ".env",
            &format!(
                "MINT_CONFIG_PATH={}\nMINT_AUTH__JWT_SECRET=from-dotenv\n",
                other.display()
            ),
        );
        let loaded = load(&d.sources(env(&[("MINT_AUTH__JWT_SECRET", "from-env")]))).expect("load");
        assert_eq!(loaded.config_path, other);
        assert_eq!(loaded.settings.server.host, "0.0.0.0");
        assert_eq!(loaded.settings.auth.jwt_secret.as_deref(), Some("from-env"));
    }

    #[test]
    fn a_malformed_file_or_a_wrong_type_is_an_error_naming_the_key() {
        let d = Dir::new();
        d.write("config.json", "{not json");
        assert!(matches!(
            load(&d.sources(HashMap::new())),
            Err(ConfigError::File { .. })
        ));
        d.write("config.json", "[1, 2]");
        assert!(matches!(
            load(&d.sources(HashMap::new())),
            Err(ConfigError::File { .. })
        ));
        d.write("config.json", r#"{"server": {"port": "x"}}"#);
        match load(&d.sources(HashMap::new())) {
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "server.port"),
            other => panic!("expected an invalid key, got {other:?}"),
        }
        d.write("config.json", "{}");
        match load(&d.sources(env(&[("MINT_SERVER__PORT", "eighty")]))) {
            Err(e @ ConfigError::Invalid { .. }) => {
                assert!(e.to_string().contains("server.port"), "{e}")
            }
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    #[test]
    fn unknown_keys_are_kept_and_reported() {
        let d = Dir::new();
        d.write(
            "config.json",
            r#"{"auth": {"sso": {"issuer": "x"}}, "marketplace": {"registryUrl": "u"}}"#,
        );
        let loaded = load(&d.sources(HashMap::new())).expect("load");
        assert_eq!(loaded.unknown_keys, ["auth.sso", "marketplace"]);
        assert_eq!(loaded.effective["marketplace"]["registryUrl"], "u");
        let shown = mint_sdk::context::filter_platform_config(&loaded.effective);
        assert_eq!(shown["server"]["port"], 8001);
        assert_eq!(shown["marketplace"]["registryUrl"], "u");
    }

    #[test]
    fn secrets_never_show_in_the_filtered_view() {
        let d = Dir::new();
        d.write(
            "config.json",
            r#"{"auth": {"jwtSecret": "k"}, "database": {"mode": "postgresql", "url": "postgresql://u:p@h/db"}}"#,
        );
        let loaded = load(&d.sources(HashMap::new())).expect("load");
        let shown = mint_sdk::context::filter_platform_config(&loaded.effective);
        assert!(shown["auth"].get("jwtSecret").is_none());
        assert!(shown["database"].get("url").is_none());
        assert_eq!(shown["database"]["mode"], "postgresql");
    }

    #[test]
    fn postgresql_needs_a_url_and_plugin_lists_must_not_overlap() {
        let d = Dir::new();
        d.write("config.json", r#"{"database": {"mode": "postgresql"}}"#);
        match load(&d.sources(HashMap::new())) {
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "database.url"),
            other => panic!("expected database.url, got {other:?}"),
        }
        d.write(
            "config.json",
            r#"{"plugins": {"forceIsolated": ["a"], "forceShared": ["a"]}}"#,
        );
        assert!(matches!(
            load(&d.sources(HashMap::new())),
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn data_dir_comes_from_the_flag_then_the_environment() {
        let d = Dir::new();
        let mut sources = d.sources(env(&[("MINT_DATA_DIR", "/elsewhere")]));
        sources.data_dir = None;
        assert_eq!(
            load(&sources).expect("load").data_dir,
            PathBuf::from("/elsewhere")
        );
        sources.env.clear();
        assert_eq!(
            load(&sources).expect("load").data_dir,
            PathBuf::from("mint-data")
        );
    }
}
