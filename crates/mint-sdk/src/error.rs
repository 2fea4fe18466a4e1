//! The SDK's error type, [`PluginError`], and the JSON error envelope every SDK-built app returns.
//!
//! `PluginError` is the Rust form of the Python SDK's `PluginException` family: one variant per
//! exception class, each with a machine `code`, an HTTP status decided by the variant (never by a
//! custom code) and a `details` object assembled from the constructor's named inputs.
//! Source: `spec/errors-and-logging.md` §1–4 and §6.
//!
//! This module is not a logger and does not choose which errors to show: handlers return
//! `Result<_, PluginError>` and the [`IntoResponse`] impl writes the envelope.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// A JSON object (`serde_json::Map`), the shape of `details`, design data and analysis results.
pub type JsonObject = Map<String, Value>;

/// The most characters of a `Validation` `value` kept in `details` before `...` is appended.
const VALUE_MAX_CHARS: usize = 100;

/// Default message of [`PluginError::EventVeto`] and of a veto without a message.
pub const DEFAULT_VETO_MESSAGE: &str = "Operation vetoed by a plugin event handler";

/// Every error a plugin or the SDK reports.
///
/// Build one with the constructor of its variant (`PluginError::validation("…")`) and the
/// `with_*` builders for the optional named inputs; a builder that does not belong to the variant
/// is ignored. [`code`](Self::code), [`status`](Self::status) and [`details`](Self::details)
/// follow `errors-and-logging.md` §1–2; `Display` is the message.
///
/// Returned from an axum handler, it becomes the JSON envelope of §4 with the variant's status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// `PluginException`, the base class: a custom `code` (default `PLUGIN_ERROR`), status 500.
    #[error("{message}")]
    Other {
        /// Human-readable message.
        message: String,
        /// Machine code; never changes the status.
        code: String,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// `ValidationException`: bad input, 400 `VALIDATION_ERROR`.
    #[error("{message}")]
    Validation {
        /// Human-readable message.
        message: String,
        /// The offending input's name (dotted path), skipped when empty.
        field: Option<String>,
        /// The offending value, stored in details as a string of at most 103 chars.
        value: Option<Box<Value>>,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// `PermissionException`: 403 `PERMISSION_DENIED`.
    #[error("{message}")]
    Permission {
        /// Human-readable message.
        message: String,
        /// The permission that was missing, e.g. `experiment:write`.
        required_permission: Option<String>,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// `ConfigurationException`: 500 `CONFIGURATION_ERROR`.
    #[error("{message}")]
    Configuration {
        /// Human-readable message.
        message: String,
        /// The configuration key at fault.
        config_key: Option<String>,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// `RepositoryException`: a storage failure, 500 `REPOSITORY_ERROR`.
    #[error("{message}")]
    Repository {
        /// Human-readable message.
        message: String,
        /// The repository operation, e.g. `save_analysis_result`.
        operation: Option<String>,
        /// The entity kind, e.g. `analysis_result`.
        entity: Option<String>,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// `NotFoundException`: 404 `NOT_FOUND`; details always carry `operation: "get"`.
    #[error("{message}")]
    NotFound {
        /// Human-readable message.
        message: String,
        /// The entity kind.
        entity: Option<String>,
        /// The id that was looked up.
        entity_id: Option<String>,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// `ConflictException`: 409 `CONFLICT`; details always carry `operation: "create_or_update"`.
    #[error("{message}")]
    Conflict {
        /// Human-readable message.
        message: String,
        /// The entity kind.
        entity: Option<String>,
        /// The field whose value conflicts, e.g. `name`.
        conflict_field: Option<String>,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// `PluginLifecycleException`: 500 `LIFECYCLE_ERROR`.
    #[error("{message}")]
    Lifecycle {
        /// Human-readable message.
        message: String,
        /// The lifecycle phase, e.g. `initialize`, `migrate`, `event`.
        phase: Option<String>,
        /// The plugin concerned.
        plugin_name: Option<String>,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// A plugin event handler refused an operation: 422 `EVENT_VETO`.
    #[error("{message}")]
    EventVeto {
        /// Human-readable message.
        message: String,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// The plugin may not act on this experiment type (a permission error): 403
    /// `EXPERIMENT_TYPE_NOT_ALLOWED`.
    #[error("{message}")]
    UnsupportedExperimentType {
        /// Human-readable message.
        message: String,
        /// The experiment's type, when known.
        experiment_type: Option<String>,
        /// The types the plugin accepts.
        allowed: Vec<String>,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// Design data of the experiment belongs to another plugin (a conflict): 409
    /// `DESIGN_DATA_OWNERSHIP_CONFLICT`.
    #[error("Experiment design data is owned by another plugin.")]
    DesignDataOwnershipConflict {
        /// The experiment.
        experiment_id: i64,
        /// The plugin owning the design row.
        current_owner_plugin_id: String,
        /// The plugin that tried to write it.
        requested_owner_plugin_id: String,
    },
    /// SDK and platform speak different internal API versions: 426,
    /// envelope code `plugin.api_version_mismatch`.
    #[error("{message}")]
    PlatformCompatibility {
        /// Human-readable message.
        message: String,
        /// The SDK's internal API version.
        sdk_api_version: Option<String>,
        /// The platform's internal API version.
        platform_api_version: Option<String>,
        /// Caller-supplied details.
        details: Box<JsonObject>,
    },
    /// A plain HTTP error (guards, SDK helpers, unknown routes): code and default message come
    /// from the status table of `errors-and-logging.md` §4.
    #[error("{}", message.as_deref().unwrap_or_else(|| default_message(*status)))]
    Http {
        /// The response status.
        status: StatusCode,
        /// The message; `None` uses the status table's default.
        message: Option<String>,
    },
    /// Anything else: answered as the generic 500 (`internal.error`, message hidden); the cause
    /// chain is logged.
    #[error("{source}")]
    Unexpected {
        /// The hidden cause.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl PluginError {
    /// `PluginException(message)`: code `PLUGIN_ERROR`, status 500.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other {
            message: message.into(),
            code: "PLUGIN_ERROR".into(),
            details: Box::default(),
        }
    }

    /// `ValidationException(message)`: status 400.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation {
            message: message.into(),
            field: None,
            value: None,
            details: Box::default(),
        }
    }

    /// `PermissionException(message)`: status 403.
    pub fn permission(message: impl Into<String>) -> Self {
        Self::Permission {
            message: message.into(),
            required_permission: None,
            details: Box::default(),
        }
    }

    /// `ConfigurationException(message)`: status 500.
    pub fn configuration(message: impl Into<String>) -> Self {
        Self::Configuration {
            message: message.into(),
            config_key: None,
            details: Box::default(),
        }
    }

    /// `RepositoryException(message)`: status 500.
    pub fn repository(message: impl Into<String>) -> Self {
        Self::Repository {
            message: message.into(),
            operation: None,
            entity: None,
            details: Box::default(),
        }
    }

    /// `NotFoundException(message)`: status 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
            entity: None,
            entity_id: None,
            details: Box::default(),
        }
    }

    /// `ConflictException(message)`: status 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            entity: None,
            conflict_field: None,
            details: Box::default(),
        }
    }

    /// `PluginLifecycleException(message)`: status 500.
    pub fn lifecycle(message: impl Into<String>) -> Self {
        Self::Lifecycle {
            message: message.into(),
            phase: None,
            plugin_name: None,
            details: Box::default(),
        }
    }

    /// `EventVetoException`; an empty message uses [`DEFAULT_VETO_MESSAGE`]. Status 422.
    pub fn event_veto(message: impl Into<String>) -> Self {
        let message = message.into();
        Self::EventVeto {
            message: if message.is_empty() {
                DEFAULT_VETO_MESSAGE.into()
            } else {
                message
            },
            details: Box::default(),
        }
    }

    /// `UnsupportedExperimentTypeException` with the default message of §2 rule 5. Status 403.
    pub fn unsupported_experiment_type(
        experiment_type: Option<String>,
        allowed: Vec<String>,
    ) -> Self {
        let list = allowed.join(", ");
        let message = match (&experiment_type, allowed.is_empty()) {
            (_, true) => "Plugin not allowed for any experiment types.".to_string(),
            (Some(t), false) => format!(
                "Plugin not allowed for experiment type '{t}'. Allowed experiment types: {list}."
            ),
            (None, false) => {
                format!(
                    "Plugin not allowed for this experiment type. Allowed experiment types: {list}."
                )
            }
        };
        Self::UnsupportedExperimentType {
            message,
            experiment_type,
            allowed,
            details: Box::default(),
        }
    }

    /// `DesignDataOwnershipConflictException`. Status 409.
    pub fn design_data_ownership_conflict(
        experiment_id: i64,
        current_owner_plugin_id: impl Into<String>,
        requested_owner_plugin_id: impl Into<String>,
    ) -> Self {
        Self::DesignDataOwnershipConflict {
            experiment_id,
            current_owner_plugin_id: current_owner_plugin_id.into(),
            requested_owner_plugin_id: requested_owner_plugin_id.into(),
        }
    }

    /// `PlatformCompatibilityError(message)`. Status 426 over HTTP.
    pub fn platform_compatibility(message: impl Into<String>) -> Self {
        Self::PlatformCompatibility {
            message: message.into(),
            sdk_api_version: None,
            platform_api_version: None,
            details: Box::default(),
        }
    }

    /// A plain HTTP error with the status table's default message.
    pub fn http(status: StatusCode) -> Self {
        Self::Http {
            status,
            message: None,
        }
    }

    /// A plain HTTP error with its own message (kept when non-empty).
    pub fn http_message(status: StatusCode, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Http {
            status,
            message: (!message.is_empty()).then_some(message),
        }
    }

    /// An unexpected failure: answered as the generic 500, the cause logged, never shown.
    pub fn unexpected(
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self::Unexpected {
            source: source.into(),
        }
    }

    /// Sets the machine code of [`PluginError::Other`].
    pub fn with_code(mut self, new_code: impl Into<String>) -> Self {
        if let Self::Other { code, .. } = &mut self {
            *code = new_code.into();
        }
        self
    }

    /// Sets the caller-supplied details (named inputs are applied over them, §2).
    pub fn with_details(mut self, new_details: JsonObject) -> Self {
        if let Some(d) = self.caller_details_mut() {
            *d = new_details;
        }
        self
    }

    /// Sets `field` of [`PluginError::Validation`].
    pub fn with_field(mut self, name: impl Into<String>) -> Self {
        if let Self::Validation { field, .. } = &mut self {
            *field = Some(name.into());
        }
        self
    }

    /// Sets `value` of [`PluginError::Validation`].
    pub fn with_value(mut self, new_value: impl Into<Value>) -> Self {
        if let Self::Validation { value, .. } = &mut self {
            *value = Some(Box::new(new_value.into()));
        }
        self
    }

    /// Sets `required_permission` of [`PluginError::Permission`].
    pub fn with_required_permission(mut self, permission: impl Into<String>) -> Self {
        if let Self::Permission {
            required_permission,
            ..
        } = &mut self
        {
            *required_permission = Some(permission.into());
        }
        self
    }

    /// Sets `config_key` of [`PluginError::Configuration`].
    pub fn with_config_key(mut self, key: impl Into<String>) -> Self {
        if let Self::Configuration { config_key, .. } = &mut self {
            *config_key = Some(key.into());
        }
        self
    }

    /// Sets `operation` of [`PluginError::Repository`].
    pub fn with_operation(mut self, op: impl Into<String>) -> Self {
        if let Self::Repository { operation, .. } = &mut self {
            *operation = Some(op.into());
        }
        self
    }

    /// Sets `entity` of the repository family (Repository, NotFound, Conflict).
    pub fn with_entity(mut self, name: impl Into<String>) -> Self {
        match &mut self {
            Self::Repository { entity, .. }
            | Self::NotFound { entity, .. }
            | Self::Conflict { entity, .. } => *entity = Some(name.into()),
            _ => {}
        }
        self
    }

    /// Sets `entity_id` of [`PluginError::NotFound`].
    pub fn with_entity_id(mut self, id: impl ToString) -> Self {
        if let Self::NotFound { entity_id, .. } = &mut self {
            *entity_id = Some(id.to_string());
        }
        self
    }

    /// Sets `conflict_field` of [`PluginError::Conflict`].
    pub fn with_conflict_field(mut self, name: impl Into<String>) -> Self {
        if let Self::Conflict { conflict_field, .. } = &mut self {
            *conflict_field = Some(name.into());
        }
        self
    }

    /// Sets `phase` of [`PluginError::Lifecycle`].
    pub fn with_phase(mut self, name: impl Into<String>) -> Self {
        if let Self::Lifecycle { phase, .. } = &mut self {
            *phase = Some(name.into());
        }
        self
    }

    /// Sets `plugin_name` of [`PluginError::Lifecycle`].
    pub fn with_plugin_name(mut self, name: impl Into<String>) -> Self {
        if let Self::Lifecycle { plugin_name, .. } = &mut self {
            *plugin_name = Some(name.into());
        }
        self
    }

    /// Sets both versions of [`PluginError::PlatformCompatibility`].
    pub fn with_api_versions(
        mut self,
        sdk: impl Into<String>,
        platform: impl Into<String>,
    ) -> Self {
        if let Self::PlatformCompatibility {
            sdk_api_version,
            platform_api_version,
            ..
        } = &mut self
        {
            *sdk_api_version = Some(sdk.into());
            *platform_api_version = Some(platform.into());
        }
        self
    }

    fn caller_details_mut(&mut self) -> Option<&mut JsonObject> {
        match self {
            Self::Other { details, .. }
            | Self::Validation { details, .. }
            | Self::Permission { details, .. }
            | Self::Configuration { details, .. }
            | Self::Repository { details, .. }
            | Self::NotFound { details, .. }
            | Self::Conflict { details, .. }
            | Self::Lifecycle { details, .. }
            | Self::EventVeto { details, .. }
            | Self::UnsupportedExperimentType { details, .. }
            | Self::PlatformCompatibility { details, .. } => Some(&mut **details),
            Self::DesignDataOwnershipConflict { .. }
            | Self::Http { .. }
            | Self::Unexpected { .. } => None,
        }
    }

    /// The message (`Display`); for [`PluginError::Unexpected`] the generic public message.
    pub fn message(&self) -> String {
        match self {
            Self::Unexpected { .. } => "An unexpected error occurred".into(),
            other => other.to_string(),
        }
    }

    /// The machine code of §1 (`VALIDATION_ERROR`, …; a plain HTTP error's status-table code).
    pub fn code(&self) -> String {
        match self {
            Self::Other { code, .. } => code.clone(),
            Self::Validation { .. } => "VALIDATION_ERROR".into(),
            Self::Permission { .. } => "PERMISSION_DENIED".into(),
            Self::Configuration { .. } => "CONFIGURATION_ERROR".into(),
            Self::Repository { .. } => "REPOSITORY_ERROR".into(),
            Self::NotFound { .. } => "NOT_FOUND".into(),
            Self::Conflict { .. } => "CONFLICT".into(),
            Self::Lifecycle { .. } => "LIFECYCLE_ERROR".into(),
            Self::EventVeto { .. } => "EVENT_VETO".into(),
            Self::UnsupportedExperimentType { .. } => "EXPERIMENT_TYPE_NOT_ALLOWED".into(),
            Self::DesignDataOwnershipConflict { .. } => "DESIGN_DATA_OWNERSHIP_CONFLICT".into(),
            Self::PlatformCompatibility { .. } => "PLATFORM_API_VERSION_MISMATCH".into(),
            Self::Http { status, .. } => default_code(*status).into(),
            Self::Unexpected { .. } => "internal.error".into(),
        }
    }

    /// The plain status of the kind (§1); [`PluginError::PlatformCompatibility`] gives 500 here
    /// and 426 only over HTTP ([`http_status`](Self::http_status)).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::Permission { .. } | Self::UnsupportedExperimentType { .. } => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } | Self::DesignDataOwnershipConflict { .. } => {
                StatusCode::CONFLICT
            }
            Self::EventVeto { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Http { status, .. } => *status,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The status the HTTP handler answers with (426 for a compatibility error).
    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::PlatformCompatibility { .. } => StatusCode::UPGRADE_REQUIRED,
            other => other.status(),
        }
    }

    /// True for Repository, NotFound, Conflict and the ownership conflict.
    pub fn is_repository(&self) -> bool {
        matches!(
            self,
            Self::Repository { .. }
                | Self::NotFound { .. }
                | Self::Conflict { .. }
                | Self::DesignDataOwnershipConflict { .. }
        )
    }

    /// True for Permission and UnsupportedExperimentType.
    pub fn is_permission(&self) -> bool {
        matches!(
            self,
            Self::Permission { .. } | Self::UnsupportedExperimentType { .. }
        )
    }

    /// The `details` object, assembled as §2 says: the caller's details first, then the named
    /// inputs in their documented order, each overwriting a same-named key; empty strings skipped.
    pub fn details(&self) -> JsonObject {
        fn put(map: &mut JsonObject, key: &str, value: &Option<String>) {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                map.insert(key.into(), Value::String(v.into()));
            }
        }
        let mut d = match self {
            Self::DesignDataOwnershipConflict { .. }
            | Self::Http { .. }
            | Self::Unexpected { .. } => JsonObject::new(),
            Self::UnsupportedExperimentType {
                experiment_type,
                allowed,
                details,
                ..
            } => {
                let mut base = JsonObject::new();
                base.insert("experiment_type".into(), json!(experiment_type));
                base.insert("allowed_experiment_types".into(), json!(allowed));
                for (k, v) in details.iter() {
                    base.insert(k.clone(), v.clone());
                }
                return base;
            }
            other => other.clone_caller_details().unwrap_or_default(),
        };
        match self {
            Self::Validation { field, value, .. } => {
                put(&mut d, "field", field);
                if let Some(v) = value.as_ref().filter(|v| !v.is_null()) {
                    d.insert("value".into(), Value::String(truncate_value(v)));
                }
            }
            Self::Permission {
                required_permission,
                ..
            } => put(&mut d, "required_permission", required_permission),
            Self::Configuration { config_key, .. } => put(&mut d, "config_key", config_key),
            Self::Repository {
                operation, entity, ..
            } => {
                put(&mut d, "operation", operation);
                put(&mut d, "entity", entity);
            }
            Self::NotFound {
                entity, entity_id, ..
            } => {
                put(&mut d, "entity_id", entity_id);
                d.insert("operation".into(), "get".into());
                put(&mut d, "entity", entity);
            }
            Self::Conflict {
                entity,
                conflict_field,
                ..
            } => {
                put(&mut d, "conflict_field", conflict_field);
                d.insert("operation".into(), "create_or_update".into());
                put(&mut d, "entity", entity);
            }
            Self::Lifecycle {
                phase, plugin_name, ..
            } => {
                put(&mut d, "phase", phase);
                put(&mut d, "plugin_name", plugin_name);
            }
            Self::PlatformCompatibility {
                sdk_api_version,
                platform_api_version,
                ..
            } => {
                if let Some(v) = sdk_api_version {
                    d.insert("sdk_api_version".into(), v.clone().into());
                }
                if let Some(v) = platform_api_version {
                    d.insert("platform_api_version".into(), v.clone().into());
                }
            }
            Self::DesignDataOwnershipConflict {
                experiment_id,
                current_owner_plugin_id,
                requested_owner_plugin_id,
            } => {
                d.insert("experiment_id".into(), json!(experiment_id));
                d.insert(
                    "current_owner_plugin_id".into(),
                    json!(current_owner_plugin_id),
                );
                d.insert(
                    "requested_owner_plugin_id".into(),
                    json!(requested_owner_plugin_id),
                );
                d.insert("conflict_field".into(), "plugin_id".into());
                d.insert("operation".into(), "create_or_update".into());
                d.insert("entity".into(), "design_data".into());
            }
            _ => {}
        }
        d
    }

    fn clone_caller_details(&self) -> Option<JsonObject> {
        let mut copy = None;
        // `caller_details_mut` needs `&mut`; read the same fields immutably here.
        match self {
            Self::Other { details, .. }
            | Self::Validation { details, .. }
            | Self::Permission { details, .. }
            | Self::Configuration { details, .. }
            | Self::Repository { details, .. }
            | Self::NotFound { details, .. }
            | Self::Conflict { details, .. }
            | Self::Lifecycle { details, .. }
            | Self::EventVeto { details, .. }
            | Self::UnsupportedExperimentType { details, .. }
            | Self::PlatformCompatibility { details, .. } => copy = Some((**details).clone()),
            _ => {}
        }
        copy
    }

    /// The legacy body `{"error": code, "message": message}` plus `details` when non-empty (§3).
    pub fn to_dict(&self) -> Value {
        let mut body = JsonObject::new();
        body.insert("error".into(), self.code().into());
        body.insert("message".into(), self.message().into());
        let details = self.details();
        if !details.is_empty() {
            body.insert("details".into(), Value::Object(details));
        }
        Value::Object(body)
    }

    /// The full HTTP error envelope of §4 for this error, with the given request id.
    pub fn envelope(&self, request_id: Option<&str>) -> Value {
        let status = self.http_status();
        match self {
            Self::Http { .. } => {
                let message = self.message();
                envelope_body(
                    default_code(status),
                    &message,
                    status,
                    request_id,
                    Value::Null,
                    Value::String(message.clone()),
                    None,
                )
            }
            Self::Unexpected { .. } => unexpected_envelope(request_id),
            _ => {
                let details = self.details();
                let code = match self {
                    Self::PlatformCompatibility { .. } => "plugin.api_version_mismatch".into(),
                    _ => self.code(),
                };
                envelope_body(
                    &code,
                    &self.message(),
                    status,
                    request_id,
                    if details.is_empty() {
                        Value::Null
                    } else {
                        Value::Object(details)
                    },
                    self.to_dict(),
                    Some(self.code()),
                )
            }
        }
    }
}

#[cfg(feature = "anyhow")]
impl From<anyhow::Error> for PluginError {
    fn from(err: anyhow::Error) -> Self {
        Self::Unexpected { source: err.into() }
    }
}

/// Database errors seen by plugin code (`?` on a sea-orm call): a unique-constraint violation
/// becomes a 409 `Conflict`, anything else a 500 `Repository` error. The driver's text (which
/// may name tables, columns or values) is logged, never put in the response.
impl From<sea_orm::DbErr> for PluginError {
    fn from(err: sea_orm::DbErr) -> Self {
        tracing::warn!(target: "mint.sdk", error = %err, "Database error");
        match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                PluginError::conflict("A record with the same unique value already exists")
            }
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => PluginError::conflict(
                "The record refers to, or is referred to by, another record that does not allow this change",
            ),
            _ => PluginError::repository("Database error"),
        }
    }
}

/// Stores a validation value as text: strings verbatim, other JSON in compact JSON spelling,
/// cut to 100 characters plus `...` (§2 rule 4).
fn truncate_value(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > VALUE_MAX_CHARS {
        let mut cut: String = text.chars().take(VALUE_MAX_CHARS).collect();
        cut.push_str("...");
        cut
    } else {
        text
    }
}

/// The status table's code for a plain HTTP error (`errors-and-logging.md` §4).
pub fn default_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "request.bad_request",
        401 => "auth.unauthorized",
        403 => "auth.forbidden",
        404 => "resource.not_found",
        405 => "request.method_not_allowed",
        409 => "resource.conflict",
        412 => "precondition.failed",
        413 => "request.too_large",
        422 => "validation.error",
        426 => "compatibility.upgrade_required",
        428 => "precondition.required",
        429 => "rate_limit.exceeded",
        500 => "internal.error",
        501 => "feature.not_implemented",
        502 => "plugin.unavailable",
        503 => "service.unavailable",
        504 => "plugin.timeout",
        s if s >= 500 => "internal.error",
        _ => "request.error",
    }
}

/// The status table's default message for a plain HTTP error.
pub fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Authentication required",
        403 => "Permission denied",
        404 => "Resource not found",
        405 => "Method not allowed",
        409 => "Resource conflict",
        412 => "Precondition failed",
        413 => "Request too large",
        422 => "Validation error",
        426 => "Upgrade required",
        428 => "Precondition required",
        429 => "Too many requests",
        500 => "Internal server error",
        501 => "Feature not implemented",
        502 => "Plugin unavailable",
        503 => "Service unavailable",
        504 => "Plugin timed out",
        _ => "An error occurred",
    }
}

/// Builds the envelope object with its keys in the documented order.
pub(crate) fn envelope_body(
    code: &str,
    message: &str,
    status: StatusCode,
    request_id: Option<&str>,
    details: Value,
    detail: Value,
    legacy_error: Option<String>,
) -> Value {
    let mut body = JsonObject::new();
    body.insert("code".into(), code.into());
    body.insert("message".into(), message.into());
    body.insert("status".into(), status.as_u16().into());
    body.insert("request_id".into(), json!(request_id));
    body.insert("details".into(), details);
    body.insert("detail".into(), detail);
    if let Some(error) = legacy_error {
        body.insert("error".into(), error.into());
    }
    Value::Object(body)
}

/// The generic 500 body for unexpected errors and panics: the original message is never shown.
pub(crate) fn unexpected_envelope(request_id: Option<&str>) -> Value {
    const MESSAGE: &str = "An unexpected error occurred";
    envelope_body(
        "internal.error",
        MESSAGE,
        StatusCode::INTERNAL_SERVER_ERROR,
        request_id,
        Value::Null,
        MESSAGE.into(),
        None,
    )
}

/// One problem found while extracting a request (body, query or path), §4 "Request validation".
#[derive(Debug, Clone, PartialEq)]
pub struct RequestProblem {
    /// Dotted location without the leading `body`/`query`/`path` segment; `__root__` if none.
    pub field: String,
    /// Human-readable text.
    pub message: String,
    /// Machine type of the problem, e.g. `json_invalid`, `type_error`.
    pub kind: String,
    /// The location with its leading segment, e.g. `["body", "samples", 2, "conc"]`.
    pub loc: Vec<Value>,
}

/// The 422 `validation.request` envelope for request extraction failures.
pub fn request_validation_envelope(problems: &[RequestProblem], request_id: Option<&str>) -> Value {
    let details: Vec<Value> = problems
        .iter()
        .map(|p| json!({"field": p.field, "message": p.message}))
        .collect();
    let detail: Vec<Value> = problems
        .iter()
        .map(|p| json!({"loc": p.loc, "msg": p.message, "type": p.kind}))
        .collect();
    envelope_body(
        "validation.request",
        "Request validation failed",
        StatusCode::UNPROCESSABLE_ENTITY,
        request_id,
        Value::Array(details),
        Value::Array(detail),
        None,
    )
}

/// Writes an envelope as a JSON response with the given status.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl IntoResponse for PluginError {
    fn into_response(self) -> Response {
        let request_id = crate::logging::current_request_id();
        if let Self::Unexpected { source } = &self {
            let mut chain = source.to_string();
            let mut next = source.source();
            while let Some(cause) = next {
                chain.push_str("\ncaused by: ");
                chain.push_str(&cause.to_string());
                next = cause.source();
            }
            let (method, path) = crate::logging::current_request_target().unwrap_or_default();
            tracing::error!(target: "mint.sdk", error = %chain, "Unhandled error [{method} {path}]");
        }
        json_response(self.http_status(), &self.envelope(request_id.as_deref()))
    }
}

/// What [`decode_error_envelope`] reads out of an error body (§6).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DecodedError {
    /// The machine code, when the body names one.
    pub code: Option<String>,
    /// The message, `""` when none.
    pub message: String,
    /// The request id, when present.
    pub request_id: Option<String>,
    /// The details value (`null` when none).
    pub details: Value,
}

/// Decodes any error body a MINT server may send: the versioned envelope, the legacy
/// `{"detail": {"error", "message", "details"}}` form and bare strings. Never fails (§6).
pub fn decode_error_envelope(body: &Value) -> DecodedError {
    let Some(obj) = body.as_object() else {
        return DecodedError::default();
    };
    let nested = obj.get("detail").and_then(Value::as_object);
    let inner = nested.unwrap_or(obj);
    let non_empty = |m: &JsonObject, k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let versioned = obj.get("status").is_some_and(Value::is_number)
        && non_empty(obj, "code").is_some()
        && non_empty(obj, "message").is_some();
    let code = if versioned {
        non_empty(obj, "code")
    } else {
        non_empty(inner, "error")
            .or_else(|| non_empty(inner, "code"))
            .or_else(|| non_empty(obj, "code"))
    };
    let message = if versioned {
        non_empty(obj, "message")
    } else {
        non_empty(inner, "message")
            .or_else(|| non_empty(obj, "message"))
            .or_else(|| non_empty(obj, "detail"))
    }
    .unwrap_or_default();
    let request_id = obj
        .get("request_id")
        .and_then(Value::as_str)
        .or_else(|| inner.get("request_id").and_then(Value::as_str))
        .map(str::to_string);
    let mut details = obj.get("details").cloned().unwrap_or(Value::Null);
    if details.is_null() && nested.is_some() {
        details = inner.get("details").cloned().unwrap_or(Value::Null);
    }
    DecodedError {
        code,
        message,
        request_id,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn each_variant_has_its_code_and_status() {
        let cases: Vec<(PluginError, &str, u16)> = vec![
            (PluginError::other("x"), "PLUGIN_ERROR", 500),
            (PluginError::validation("x"), "VALIDATION_ERROR", 400),
            (PluginError::permission("x"), "PERMISSION_DENIED", 403),
            (PluginError::configuration("x"), "CONFIGURATION_ERROR", 500),
            (PluginError::repository("x"), "REPOSITORY_ERROR", 500),
            (PluginError::not_found("x"), "NOT_FOUND", 404),
            (PluginError::conflict("x"), "CONFLICT", 409),
            (PluginError::lifecycle("x"), "LIFECYCLE_ERROR", 500),
            (PluginError::event_veto(""), "EVENT_VETO", 422),
            (
                PluginError::unsupported_experiment_type(None, vec![]),
                "EXPERIMENT_TYPE_NOT_ALLOWED",
                403,
            ),
            (
                PluginError::design_data_ownership_conflict(1, "a", "b"),
                "DESIGN_DATA_OWNERSHIP_CONFLICT",
                409,
            ),
            (
                PluginError::platform_compatibility("x"),
                "PLATFORM_API_VERSION_MISMATCH",
                500,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status().as_u16(), status, "{code}");
        }
        assert_eq!(
            PluginError::platform_compatibility("x")
                .http_status()
                .as_u16(),
            426
        );
    }

    #[test]
    fn custom_code_never_changes_the_status() {
        let err = PluginError::other("slow").with_code("UPSTREAM_TIMEOUT");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.envelope(None)["code"], "UPSTREAM_TIMEOUT");
    }

    #[test]
    fn not_found_and_conflict_always_carry_their_operation() {
        assert_eq!(
            Value::Object(PluginError::not_found("nf").details()),
            json!({"operation": "get"})
        );
        let nf = PluginError::not_found("nf")
            .with_entity("panel")
            .with_entity_id("7");
        assert_eq!(
            serde_json::to_string(&nf.details()).unwrap_or_default(),
            r#"{"entity_id":"7","operation":"get","entity":"panel"}"#
        );
        let c = PluginError::conflict("c")
            .with_entity("panel")
            .with_conflict_field("name")
            .with_details(obj(json!({"x": 1})));
        assert_eq!(
            serde_json::to_string(&c.details()).unwrap_or_default(),
            r#"{"x":1,"conflict_field":"name","operation":"create_or_update","entity":"panel"}"#
        );
        assert!(PluginError::repository("r").details().is_empty());
    }

    #[test]
    fn named_inputs_overwrite_caller_details_in_place() {
        let err = PluginError::validation("bad")
            .with_details(obj(json!({"field": "old", "extra": true})))
            .with_field("new");
        assert_eq!(
            serde_json::to_string(&err.details()).unwrap_or_default(),
            r#"{"field":"new","extra":true}"#
        );
    }

    #[test]
    fn validation_value_is_cut_to_100_chars_without_splitting_characters() {
        let err = PluginError::validation("bad")
            .with_field("x")
            .with_value("a".repeat(150));
        let v = err.details()["value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(v, format!("{}...", "a".repeat(100)));
        let err = PluginError::validation("bad").with_value("é".repeat(120));
        let v = err.details()["value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(v.chars().count(), 103);
        assert!(v.starts_with(&"é".repeat(100)));
    }

    #[test]
    fn validation_keeps_falsy_values_and_skips_empty_field() {
        let err = PluginError::validation("bad").with_field("").with_value(0);
        assert_eq!(Value::Object(err.details()), json!({"value": "0"}));
        let err = PluginError::validation("bad").with_value(true);
        assert_eq!(Value::Object(err.details()), json!({"value": "true"}));
        let err = PluginError::validation("bad").with_value(json!([1, "a"]));
        assert_eq!(Value::Object(err.details()), json!({"value": "[1,\"a\"]"}));
    }

    #[test]
    fn to_dict_omits_empty_details() {
        assert_eq!(
            PluginError::repository("r").to_dict(),
            json!({"error": "REPOSITORY_ERROR", "message": "r"})
        );
    }

    #[test]
    fn envelope_has_all_seven_keys_in_order() {
        let err = PluginError::validation("Replicates must be between 1 and 12")
            .with_field("replicates")
            .with_value(20);
        let body = err.envelope(Some("3f2a9c0d1e4b5a67"));
        assert_eq!(
            body.to_string(),
            r#"{"code":"VALIDATION_ERROR","message":"Replicates must be between 1 and 12","status":400,"request_id":"3f2a9c0d1e4b5a67","details":{"field":"replicates","value":"20"},"detail":{"error":"VALIDATION_ERROR","message":"Replicates must be between 1 and 12","details":{"field":"replicates","value":"20"}},"error":"VALIDATION_ERROR"}"#
        );
        let body = PluginError::repository("r").envelope(None);
        assert_eq!(body["details"], Value::Null);
    }

    #[test]
    fn compatibility_error_envelope_uses_the_dotted_code() {
        let body = PluginError::platform_compatibility("old")
            .with_api_versions("1", "2")
            .envelope(None);
        assert_eq!(body["status"], 426);
        assert_eq!(body["code"], "plugin.api_version_mismatch");
        assert_eq!(body["error"], "PLATFORM_API_VERSION_MISMATCH");
        assert_eq!(
            body["details"],
            json!({"sdk_api_version": "1", "platform_api_version": "2"})
        );
    }

    #[test]
    fn unsupported_experiment_type_has_three_default_messages() {
        let a = PluginError::unsupported_experiment_type(
            Some("proteomics".into()),
            vec!["oncology".into(), "metabolomics".into()],
        );
        assert_eq!(
            a.message(),
            "Plugin not allowed for experiment type 'proteomics'. Allowed experiment types: oncology, metabolomics."
        );
        let b = PluginError::unsupported_experiment_type(None, vec!["oncology".into()]);
        assert_eq!(
            b.message(),
            "Plugin not allowed for this experiment type. Allowed experiment types: oncology."
        );
        let c = PluginError::unsupported_experiment_type(Some("x".into()), vec![]);
        assert_eq!(c.message(), "Plugin not allowed for any experiment types.");
        assert_eq!(
            Value::Object(a.details()),
            json!({"experiment_type": "proteomics", "allowed_experiment_types": ["oncology", "metabolomics"]})
        );
    }

    #[test]
    fn ownership_conflict_details_name_both_plugins() {
        let err = PluginError::design_data_ownership_conflict(4, "a", "b");
        assert_eq!(
            serde_json::to_string(&err.details()).unwrap_or_default(),
            r#"{"experiment_id":4,"current_owner_plugin_id":"a","requested_owner_plugin_id":"b","conflict_field":"plugin_id","operation":"create_or_update","entity":"design_data"}"#
        );
        assert!(err.is_repository());
    }

    #[test]
    fn plain_http_errors_use_the_status_table() {
        for (status, code) in [
            (412, "precondition.failed"),
            (426, "compatibility.upgrade_required"),
            (428, "precondition.required"),
            (502, "plugin.unavailable"),
            (504, "plugin.timeout"),
            (418, "request.error"),
            (599, "internal.error"),
        ] {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
            let body = PluginError::http(status).envelope(None);
            assert_eq!(body["code"], code);
            assert_eq!(body["message"], default_message(status));
            assert!(body.get("error").is_none());
        }
        let body =
            PluginError::http_message(StatusCode::FORBIDDEN, "Requires plugin role: editor, admin")
                .envelope(Some("r"));
        assert_eq!(body["code"], "auth.forbidden");
        assert_eq!(body["message"], "Requires plugin role: editor, admin");
        assert_eq!(body["detail"], "Requires plugin role: editor, admin");
    }

    #[test]
    fn unexpected_errors_hide_their_message() {
        let err = PluginError::unexpected("database password is hunter2");
        let body = err.envelope(Some("r1"));
        assert_eq!(body["code"], "internal.error");
        assert_eq!(body["message"], "An unexpected error occurred");
        assert!(!body.to_string().contains("hunter2"));
    }

    #[cfg(feature = "anyhow")]
    #[test]
    fn anyhow_errors_become_the_hidden_500() {
        fn fails() -> Result<(), PluginError> {
            Err(anyhow::anyhow!("disk quota for /secret exceeded"))?;
            Ok(())
        }
        let err = fails().expect_err("fails");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = err.envelope(None);
        assert_eq!(body["code"], "internal.error");
        assert!(!body.to_string().contains("secret"));
    }

    #[test]
    fn database_errors_hide_the_driver_text() {
        let err: PluginError = sea_orm::DbErr::Custom("relation secret_table".into()).into();
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.envelope(None).to_string().contains("secret_table"));
    }

    #[test]
    fn decode_handles_every_body_form() {
        let versioned = PluginError::not_found("gone").envelope(Some("r9"));
        let d = decode_error_envelope(&versioned);
        assert_eq!(d.code.as_deref(), Some("NOT_FOUND"));
        assert_eq!(d.message, "gone");
        assert_eq!(d.request_id.as_deref(), Some("r9"));
        assert_eq!(d.details, json!({"operation": "get"}));

        let d = decode_error_envelope(&json!({"detail": "nope"}));
        assert_eq!(
            d,
            DecodedError {
                code: None,
                message: "nope".into(),
                request_id: None,
                details: Value::Null
            }
        );
        let d = decode_error_envelope(
            &json!({"detail": {"error": "NOT_FOUND", "message": "x", "details": {"a": 1}}}),
        );
        assert_eq!(d.code.as_deref(), Some("NOT_FOUND"));
        assert_eq!(d.message, "x");
        assert_eq!(d.details, json!({"a": 1}));
        assert_eq!(
            decode_error_envelope(&json!("text")),
            DecodedError::default()
        );
        assert_eq!(decode_error_envelope(&json!([1])), DecodedError::default());
    }
}
