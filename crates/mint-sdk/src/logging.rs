//! Structured plugin logging: [`plugin_logger`], the request-id scope and the JSON line format.
//!
//! Every line is one JSON object with `timestamp`, `level` (Python level names), `logger`,
//! `message`, then the automatic fields (`plugin`, `request_id`, `user_id`, `log_scope` fields),
//! then the call's own fields (`spec/errors-and-logging.md` §5 and §8). The request id of the
//! request being served lives in a task-local scope set by the app's request-id layer;
//! [`with_request_id`] and [`log_scope`] set it for background work.
//!
//! This module never redacts: plugins must not log secrets.

use std::fmt::Write as _;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http;
use serde_json::{Map, Value};
use tokio::task::futures::TaskLocalFuture;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

use crate::error::JsonObject;

/// Task-local context of one request or one background job.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub request_id: Option<ScopedId>,
    /// Method, path and query of the request, for error logs (clones are cheap: no text is
    /// copied). Only the path and query, not the whole URI: the scope is moved in and out of
    /// its task-local slot on every poll, so its size is paid per request.
    pub target: Option<(http::Method, http::uri::PathAndQuery)>,
    /// Set once per request, when the user is resolved (before any nested `log_scope`, whose
    /// copy of the scope would keep it to itself).
    pub user_id: std::sync::OnceLock<String>,
    /// The fields of the enclosing [`log_scope`]s; `None` (no map to build) for a plain request.
    pub fields: Option<Box<JsonObject>>,
}

/// A request id as a scope keeps it: a fresh id inline, so choosing one costs no allocation;
/// an inbound header's value sharing the header's bytes; any other id as text.
#[derive(Debug, Clone)]
pub(crate) enum ScopedId {
    /// A fresh id: ASCII (16 lowercase hex digits, see `app::stack`).
    Fresh([u8; 16]),
    /// An inbound `X-Request-ID`, already checked to be visible ASCII.
    Header(http::HeaderValue),
    /// An outer layer's id or [`with_request_id`]'s.
    Text(String),
}

impl ScopedId {
    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Fresh(digits) => std::str::from_utf8(digits).unwrap_or_default(),
            Self::Header(value) => value.to_str().unwrap_or_default(),
            Self::Text(text) => text,
        }
    }
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// The id of the request the current task is serving, `None` outside requests (§8).
pub fn current_request_id() -> Option<String> {
    with_scoped_id(|id| id.as_str().to_owned())
}

/// `f` applied to the id of the request the current task is serving, as the scope keeps it
/// (no copy); `None` outside requests.
pub(crate) fn with_scoped_id<R>(f: impl FnOnce(&ScopedId) -> R) -> Option<R> {
    SCOPE
        .try_with(|s| s.request_id.as_ref().map(f))
        .ok()
        .flatten()
}

/// Method and path of the request being served, for error logs.
pub(crate) fn current_request_target() -> Option<(String, String)> {
    SCOPE
        .try_with(|s| {
            let (method, path) = s.target.as_ref()?;
            Some((method.to_string(), path.path().to_string()))
        })
        .ok()
        .flatten()
}

pub(crate) fn current_scope() -> Option<Scope> {
    SCOPE.try_with(Scope::clone).ok()
}

/// Records the authenticated user of the current request for the `user_id` log field.
pub(crate) fn note_current_user(user_id: &str) {
    let _ = SCOPE.try_with(|s| s.user_id.set(user_id.to_string()));
}

impl Scope {
    /// The scope of one HTTP request.
    pub(crate) fn for_request(
        request_id: ScopedId,
        method: &http::Method,
        uri: &http::Uri,
    ) -> Self {
        Self {
            request_id: Some(request_id),
            // An authority-form target (`CONNECT host:port`) has no path: logged as `/`.
            target: Some((
                method.clone(),
                uri.path_and_query()
                    .cloned()
                    .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
            )),
            ..Default::default()
        }
    }
}

/// `future` run inside `scope` (the app's request service uses it; a nameable type, no boxing).
pub(crate) fn scoped<F: Future>(scope: Scope, future: F) -> TaskLocalFuture<Scope, F> {
    SCOPE.scope(scope, future)
}

/// Runs `future` with `request_id` as [`current_request_id`], keeping the other scope fields.
/// Spawned tasks do not inherit the scope: wrap their futures with this.
pub async fn with_request_id<F: Future>(request_id: impl Into<String>, future: F) -> F::Output {
    let mut scope = current_scope().unwrap_or_default();
    scope.request_id = Some(ScopedId::Text(request_id.into()));
    SCOPE.scope(scope, future).await
}

/// Runs `future` with extra fields (e.g. `experiment_id`) attached to every plugin log line.
pub async fn log_scope<F: Future>(fields: JsonObject, future: F) -> F::Output {
    let mut scope = current_scope().unwrap_or_default();
    scope.fields.get_or_insert_default().extend(fields);
    SCOPE.scope(scope, future).await
}

/// A structured logger for one plugin; the Rust form of `get_plugin_logger(name)`.
///
/// Cheap to clone. Events go to `tracing` with target `mint.plugin`; the logger name
/// `mint.plugin.<name>` travels in field `logger`. Format them with [`json_layer`].
#[derive(Debug, Clone)]
pub struct PluginLogger {
    name: Arc<str>,
    logger: Arc<str>,
}

/// Returns the logger of plugin `name` (§8): pass the plugin id, `metadata().name`, so log lines
/// carry the same `plugin` value the platform uses.
///
/// ```
/// use mint_sdk::plugin_logger;
/// let log = plugin_logger("Sample Tracker");
/// let mut fields = mint_sdk::JsonObject::new();
/// fields.insert("experiment_id".into(), 7.into());
/// fields.insert("samples".into(), 12.into());
/// log.info("saved samples", Some(fields));
/// assert_eq!(log.logger_name(), "mint.plugin.Sample Tracker");
/// ```
pub fn plugin_logger(name: &str) -> PluginLogger {
    PluginLogger {
        name: name.into(),
        logger: format!("mint.plugin.{name}").into(),
    }
}

impl PluginLogger {
    /// The logger name, `mint.plugin.<name>`.
    pub fn logger_name(&self) -> &str {
        &self.logger
    }

    /// Logs at DEBUG (suppressed at the default INFO threshold).
    pub fn debug(&self, message: &str, fields: Option<JsonObject>) {
        self.emit(Level::DEBUG, "DEBUG", message, fields);
    }

    /// Logs at INFO.
    pub fn info(&self, message: &str, fields: Option<JsonObject>) {
        self.emit(Level::INFO, "INFO", message, fields);
    }

    /// Logs at WARNING.
    pub fn warning(&self, message: &str, fields: Option<JsonObject>) {
        self.emit(Level::WARN, "WARNING", message, fields);
    }

    /// Logs at ERROR.
    pub fn error(&self, message: &str, fields: Option<JsonObject>) {
        self.emit(Level::ERROR, "ERROR", message, fields);
    }

    /// Logs at CRITICAL (an ERROR event whose `level` prints `CRITICAL`).
    pub fn critical(&self, message: &str, fields: Option<JsonObject>) {
        self.emit(Level::ERROR, "CRITICAL", message, fields);
    }

    /// Logs at ERROR with a `traceback` field: the error and its `source()` chain, one per line.
    pub fn exception(
        &self,
        message: &str,
        error: &(dyn std::error::Error + 'static),
        fields: Option<JsonObject>,
    ) {
        let mut traceback = error.to_string();
        let mut next = error.source();
        while let Some(cause) = next {
            let _ = write!(traceback, "\n{cause}");
            next = cause.source();
        }
        let mut fields = fields.unwrap_or_default();
        fields.insert("traceback".into(), traceback.into());
        self.emit(Level::ERROR, "ERROR", message, Some(fields));
    }

    fn emit(&self, level: Level, level_name: &str, message: &str, fields: Option<JsonObject>) {
        let mut all = JsonObject::new();
        all.insert("plugin".into(), Value::String(self.name.to_string()));
        if let Some(scope) = current_scope() {
            if let Some(id) = &scope.request_id {
                all.insert("request_id".into(), id.as_str().into());
            }
            if let Some(user) = scope.user_id.get() {
                all.insert("user_id".into(), user.clone().into());
            }
            if let Some(scoped) = scope.fields {
                all.extend(*scoped);
            }
        }
        for (k, v) in fields.unwrap_or_default() {
            all.insert(k, v);
        }
        let fields = Value::Object(all).to_string();
        let logger: &str = &self.logger;
        macro_rules! ev {
            ($lvl:expr) => {
                tracing::event!(target: "mint.plugin", $lvl, mint_logger = logger, mint_level = level_name, mint_fields = fields.as_str(), "{}", message)
            };
        }
        match level {
            Level::DEBUG => ev!(Level::DEBUG),
            Level::INFO => ev!(Level::INFO),
            Level::WARN => ev!(Level::WARN),
            Level::ERROR => ev!(Level::ERROR),
            _ => ev!(Level::TRACE),
        }
    }
}

/// Collects an event's fields for the JSON formatter.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    logger: Option<String>,
    level: Option<String>,
    mint_fields: Option<String>,
    other: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_string()),
            "mint_logger" => self.logger = Some(value.to_string()),
            "mint_level" => self.level = Some(value.to_string()),
            "mint_fields" => self.mint_fields = Some(value.to_string()),
            name => {
                self.other.insert(name.into(), value.into());
            }
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.other.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.other.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.other.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.other.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.other.insert(field.name().into(), text.into());
        }
    }
}

/// Where [`json_layer`] writes: stderr, or a shared buffer (tests).
#[derive(Clone)]
pub enum LogSink {
    /// Standard error, one line per event.
    Stderr,
    /// An in-memory buffer that tests can read.
    Buffer(Arc<Mutex<Vec<u8>>>),
}

/// The SDK's JSON-lines formatter as a `tracing` layer (`mint dev`, the platform and plugin
/// binaries use it). Plugin events print their logger, level name and fields as §8 says; other
/// events print `logger` = their target and their fields after `message`.
pub fn json_layer<S>(sink: LogSink) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    JsonLayer { sink }
}

struct JsonLayer {
    sink: LogSink,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for JsonLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let level = fields.level.clone().unwrap_or_else(|| {
            match *meta.level() {
                Level::ERROR => "ERROR",
                Level::WARN => "WARNING",
                Level::INFO => "INFO",
                _ => "DEBUG",
            }
            .to_string()
        });
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), level.into());
        line.insert(
            "logger".into(),
            fields
                .logger
                .clone()
                .unwrap_or_else(|| meta.target().replace("::", "."))
                .into(),
        );
        line.insert(
            "message".into(),
            fields.message.clone().unwrap_or_default().into(),
        );
        match fields
            .mint_fields
            .as_deref()
            .map(serde_json::from_str::<Map<String, Value>>)
        {
            Some(Ok(extra)) => line.extend(extra),
            _ => {
                if let Some(id) = current_request_id() {
                    line.insert("request_id".into(), id.into());
                }
                line.extend(fields.other);
            }
        }
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        match &self.sink {
            LogSink::Stderr => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
            LogSink::Buffer(buf) => {
                if let Ok(mut b) = buf.lock() {
                    b.extend_from_slice(text.as_bytes());
                }
            }
        }
    }
}

/// The level filter: `default` (normally `info`), overridden by env `MINT_LOG_LEVEL`
/// (case-insensitive `debug`, `info`, `warning`, `error`, `critical`).
pub fn level_filter(default: &str) -> EnvFilter {
    let wanted = std::env::var("MINT_LOG_LEVEL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
        .to_ascii_lowercase();
    let level = match wanted.trim() {
        "debug" => "debug",
        "warning" | "warn" => "warn",
        "error" | "critical" => "error",
        "trace" => "trace",
        "info" => "info",
        other => {
            eprintln!(
                "warning: MINT_LOG_LEVEL '{other}' is not one of debug, info, warning, error, critical; using info"
            );
            "info"
        }
    };
    // Keep noisy dependency internals at warn unless debugging the SDK itself.
    EnvFilter::new(format!(
        "{level},sqlx=warn,sea_orm=warn,hyper=warn,tower_http=warn"
    ))
}

/// Installs the JSON-lines formatter on stderr as the global subscriber (idempotent: a second
/// call, or a subscriber already set by the host, is left alone).
pub fn init_json_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::registry()
        .with(json_layer(LogSink::Stderr).with_filter(level_filter("info")));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// An OpenTelemetry layer (feature `otel`): every `tracing` span — the SDK opens one named
/// `request` per HTTP request (at DEBUG level, target `mint.sdk.request`), with `method`,
/// `path` and `request_id` — goes to `tracer`. Add this layer without a level filter (or with
/// one that admits DEBUG for `mint.sdk.request`) to receive the request spans.
/// Build the tracer from your `opentelemetry_sdk` tracer provider and exporter.
#[cfg(feature = "otel")]
pub fn otel_layer<S, T>(tracer: T) -> tracing_opentelemetry::OpenTelemetryLayer<S, T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    tracing_opentelemetry::layer().with_tracer(tracer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tracing_subscriber::layer::SubscriberExt as _;

    fn capture(f: impl FnOnce()) -> Vec<Value> {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry()
            .with(json_layer(LogSink::Buffer(buf.clone())).with_filter(EnvFilter::new("info")));
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buf.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }

    #[test]
    fn a_line_is_json_with_the_documented_keys_in_order() {
        let lines = capture(|| plugin_logger("demo").info("hello", None));
        assert_eq!(lines.len(), 1);
        let keys: Vec<&String> = lines[0]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["timestamp", "level", "logger", "message", "plugin"]);
        assert_eq!(lines[0]["logger"], "mint.plugin.demo");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["plugin"], "demo");
        assert!(
            lines[0]["timestamp"]
                .as_str()
                .unwrap_or_default()
                .ends_with('Z')
        );
        assert!(lines[0].get("request_id").is_none());
    }

    #[test]
    fn call_fields_override_auto_fields_and_keep_their_types() {
        let lines = capture(|| {
            let mut f = JsonObject::new();
            f.insert("plugin".into(), "x".into());
            f.insert("n".into(), json!(3));
            plugin_logger("demo").info("m", Some(f));
        });
        assert_eq!(lines[0]["plugin"], "x");
        assert_eq!(lines[0]["n"], 3);
    }

    #[test]
    fn level_names_follow_python_and_debug_is_off_by_default() {
        let lines = capture(|| {
            let log = plugin_logger("demo");
            log.debug("d", None);
            log.warning("w", None);
            log.critical("c", None);
        });
        let levels: Vec<&str> = lines.iter().filter_map(|l| l["level"].as_str()).collect();
        assert_eq!(levels, ["WARNING", "CRITICAL"]);
    }

    #[test]
    fn exception_adds_the_source_chain_as_traceback() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer failed")]
        struct Outer(#[source] std::io::Error);
        let err = Outer(std::io::Error::other("disk full"));
        let lines = capture(|| plugin_logger("demo").exception("boom", &err, None));
        assert_eq!(lines[0]["level"], "ERROR");
        assert_eq!(lines[0]["traceback"], "outer failed\ndisk full");
    }

    #[tokio::test]
    async fn the_resolved_user_is_attached_to_lines_of_its_request() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry()
            .with(json_layer(LogSink::Buffer(buf.clone())).with_filter(EnvFilter::new("info")));
        let _guard = tracing::subscriber::set_default(subscriber);
        let scope = Scope {
            request_id: Some(ScopedId::Text("r7".into())),
            ..Default::default()
        };
        scoped(scope, async {
            note_current_user("42");
            plugin_logger("demo").info("as a user", None);
        })
        .await;
        let text =
            String::from_utf8_lossy(&buf.lock().map(|b| b.clone()).unwrap_or_default()).to_string();
        let line: Value = serde_json::from_str(text.trim()).unwrap_or_default();
        assert_eq!(line["user_id"], "42");
        assert_eq!(line["request_id"], "r7");
    }

    #[tokio::test]
    async fn request_id_is_scoped_to_the_task() {
        assert_eq!(current_request_id(), None);
        let inside = with_request_id("r1", async { current_request_id() }).await;
        assert_eq!(inside.as_deref(), Some("r1"));
        assert_eq!(current_request_id(), None);
    }

    #[tokio::test]
    async fn lines_inside_a_scope_carry_its_request_id_and_fields() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry()
            .with(json_layer(LogSink::Buffer(buf.clone())).with_filter(EnvFilter::new("info")));
        let _guard = tracing::subscriber::set_default(subscriber);
        let mut fields = JsonObject::new();
        fields.insert("experiment_id".into(), json!(7));
        with_request_id(
            "abc",
            log_scope(fields, async {
                plugin_logger("demo").info("inside", None);
            }),
        )
        .await;
        let text =
            String::from_utf8_lossy(&buf.lock().map(|b| b.clone()).unwrap_or_default()).to_string();
        let line: Value = serde_json::from_str(text.trim()).unwrap_or_default();
        assert_eq!(line["request_id"], "abc");
        assert_eq!(line["experiment_id"], 7);
    }
}

#[cfg(all(test, feature = "otel"))]
mod otel_tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Debug, Clone, Default)]
    struct Collect(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Collect {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            if let Ok(mut spans) = self.0.lock() {
                spans.extend(batch);
            }
            Ok(())
        }
    }

    #[test]
    fn spans_reach_the_opentelemetry_tracer() {
        let exporter = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber =
            tracing_subscriber::registry().with(super::otel_layer(provider.tracer("mint-test")));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                method = "GET",
                path = "/api/x",
                request_id = "r1"
            );
            let _entered = span.enter();
        });
        let _ = provider.force_flush();
        let spans = exporter.0.lock().map(|s| s.clone()).unwrap_or_default();
        let names: Vec<String> = spans.iter().map(|s| s.name.to_string()).collect();
        assert_eq!(names, ["request"]);
        assert!(
            spans[0]
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "request_id")
        );
    }
}
