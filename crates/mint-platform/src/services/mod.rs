//! Logic shared by the platform's REST handlers and the repositories it hands to plugins, so
//! both paths write the same rows in the same transactions and fire the same hooks.
//!
//! [`ApiError`] is the error type of the public REST handlers (`/api/...`, not the internal
//! plugin API): it renders every [`PluginError`] as its usual envelope, except
//! - a before-save veto, which the platform answers itself with 409 `EVENT_VETO`
//!   (`spec/rbac.md` §6, `spec/errors-and-logging.md` §1), and
//! - a `NotFound`, answered as 404 `resource.not_found` with the same message, the public
//!   code of a missing or invisible row (`spec/platform-api.md` §1.1, `spec/rbac.md` §5);
//!
//! and request-validation problems found after extraction (422 `validation.request`,
//! `[{field, message}]` details).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mint_sdk::PluginError;
use mint_sdk::error::RequestProblem;
use mint_sdk::extract::RequestRejection;
use serde_json::Value;

pub mod experiments;

/// An error of a platform route (see the module docs for how each kind is answered).
#[derive(Debug)]
pub enum ApiError {
    /// A domain error, answered with its envelope (`EventVeto` as 409, `NotFound` as
    /// `resource.not_found`).
    Plugin(PluginError),
    /// A request that parsed but breaks a rule of the route (422 `validation.request`).
    Request(RequestRejection),
}

impl ApiError {
    /// A 422 request-validation error for one query or body field.
    ///
    /// `location` is `query`, `body` or `path`; `field` the parameter's name.
    pub fn invalid(location: &str, field: &str, message: impl Into<String>) -> Self {
        Self::Request(RequestRejection::Invalid(vec![RequestProblem {
            field: field.to_string(),
            message: message.into(),
            kind: "value_error".into(),
            loc: vec![Value::String(location.into()), Value::String(field.into())],
        }]))
    }
}

impl From<PluginError> for ApiError {
    fn from(err: PluginError) -> Self {
        Self::Plugin(err)
    }
}

impl From<RequestRejection> for ApiError {
    fn from(err: RequestRejection) -> Self {
        Self::Request(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Plugin(err @ PluginError::EventVeto { .. }) => {
                let mut body = err.envelope(mint_sdk::current_request_id().as_deref());
                if let Some(obj) = body.as_object_mut() {
                    obj.insert("status".into(), StatusCode::CONFLICT.as_u16().into());
                }
                (StatusCode::CONFLICT, axum::Json(body)).into_response()
            }
            Self::Plugin(err @ PluginError::NotFound { .. }) => {
                PluginError::http_message(StatusCode::NOT_FOUND, err.message()).into_response()
            }
            Self::Plugin(err) => err.into_response(),
            Self::Request(rejection) => rejection.into_response(),
        }
    }
}
