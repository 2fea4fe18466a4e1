//! Drop-in replacements for axum's `Json`, `Query` and `Path` whose rejections are the 422
//! `validation.request` envelope with dotted field paths (`samples.2.conc`), never axum's plain
//! text 400/415 (`spec/errors-and-logging.md` §4, "Request validation").
//!
//! [`Json`] also caps the body at [`JSON_BODY_LIMIT`] (2 MiB); a larger body is the 413
//! `request.too_large` envelope before the handler runs.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{PluginError, RequestProblem, json_response, request_validation_envelope};
use crate::logging::current_request_id;

/// The most bytes a JSON request body may have.
pub const JSON_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Why a request could not be extracted.
#[derive(Debug)]
pub enum RequestRejection {
    /// 422 with one entry per problem.
    Invalid(Vec<RequestProblem>),
    /// 413: the body exceeds the limit.
    TooLarge,
}

impl RequestRejection {
    fn one(location: &str, segments: Vec<Value>, message: String, kind: &str) -> Self {
        let field = if segments.is_empty() {
            "__root__".to_string()
        } else {
            segments
                .iter()
                .map(|s| match s {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
        };
        let mut loc = vec![Value::String(location.into())];
        loc.extend(segments);
        Self::Invalid(vec![RequestProblem {
            field,
            message,
            kind: kind.into(),
            loc,
        }])
    }

    /// The problems (empty for `TooLarge`).
    pub fn problems(&self) -> &[RequestProblem] {
        match self {
            Self::Invalid(p) => p,
            Self::TooLarge => &[],
        }
    }
}

impl IntoResponse for RequestRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(problems) => json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &request_validation_envelope(&problems, current_request_id().as_deref()),
            ),
            Self::TooLarge => PluginError::http(StatusCode::PAYLOAD_TOO_LARGE).into_response(),
        }
    }
}

/// Turns a serde_path_to_error path into location segments, adding the missing field's name
/// for "missing field" errors so the location points at the field itself.
fn segments_of(path: &serde_path_to_error::Path, message: &str) -> Vec<Value> {
    use serde_path_to_error::Segment;
    let mut out: Vec<Value> = path
        .iter()
        .filter_map(|seg| match seg {
            Segment::Seq { index } => Some(Value::from(*index)),
            Segment::Map { key } => Some(Value::String(key.clone())),
            Segment::Enum { variant } => Some(Value::String(variant.clone())),
            Segment::Unknown => None,
        })
        .collect();
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(name) = rest.split('`').next()
    {
        out.push(Value::String(name.to_string()));
    }
    out
}

fn classify(message: &str) -> &'static str {
    if message.starts_with("missing field") {
        "missing"
    } else if message.starts_with("unknown field") {
        "extra_forbidden"
    } else {
        "type_error"
    }
}

/// Parses `bytes` as JSON into `T`, reporting the failing location as a request problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RequestRejection> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => {
            de.end().map_err(|e| {
                RequestRejection::one("body", vec![], format!("Invalid JSON: {e}"), "json_invalid")
            })?;
            Ok(v)
        }
        Err(err) => {
            let inner = err.inner();
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                return Err(RequestRejection::one(
                    "body",
                    vec![],
                    format!("Invalid JSON: {inner}"),
                    "json_invalid",
                ));
            }
            let message = inner.to_string();
            let text = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            Err(RequestRejection::one(
                "body",
                segments_of(err.path(), &text),
                text.clone(),
                classify(&text),
            ))
        }
    }
}

/// A JSON body (request) or JSON response, like `axum::Json`, with the SDK's rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = RequestRejection;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), JSON_BODY_LIMIT)
            .await
            .map_err(|_| RequestRejection::TooLarge)?;
        parse_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query-string parameters, like `axum::extract::Query`, with the SDK's rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = RequestRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| {
                let text = err.inner().to_string();
                RequestRejection::one(
                    "query",
                    segments_of(err.path(), &text),
                    text.clone(),
                    classify(&text),
                )
            })
    }
}

/// Path parameters, like `axum::extract::Path`, with the SDK's rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = RequestRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        let err = match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => return Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => e,
            Err(other) => {
                return Err(RequestRejection::one(
                    "path",
                    vec![],
                    other.body_text(),
                    "type_error",
                ));
            }
        };
        // The parameter names of the matched route, to name the one at fault.
        let names: Vec<String> = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map(|raw| raw.iter().map(|(k, _)| k.to_string()).collect())
            .unwrap_or_default();
        let described =
            |value: &str, expected: &str| format!("'{value}' is not {}", describe_type(expected));
        let (key, message) = match err.kind() {
            ErrorKind::ParseErrorAtKey {
                key,
                value,
                expected_type,
            } => (Some(key.clone()), described(value, expected_type)),
            ErrorKind::ParseErrorAtIndex {
                index,
                value,
                expected_type,
            } => (names.get(*index).cloned(), described(value, expected_type)),
            ErrorKind::ParseError {
                value,
                expected_type,
            } => (
                (names.len() == 1).then(|| names[0].clone()),
                described(value, expected_type),
            ),
            ErrorKind::InvalidUtf8InPathParam { key } => {
                (Some(key.clone()), "is not valid UTF-8".to_string())
            }
            ErrorKind::DeserializeError { key, message, .. } => {
                (Some(key.clone()), message.clone())
            }
            _ => (None, err.body_text()),
        };
        Err(RequestRejection::one(
            "path",
            key.into_iter().map(Value::String).collect(),
            message,
            "type_error",
        ))
    }
}

/// A Rust type name in words a user understands (`i64` → "an integer").
fn describe_type(rust_type: &str) -> &'static str {
    let base = rust_type.rsplit("::").next().unwrap_or(rust_type);
    match base {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128"
        | "usize" => "an integer",
        "f32" | "f64" => "a number",
        "bool" => "true or false",
        "Uuid" => "a UUID",
        _ => "a valid value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        conc: f64,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        samples: Vec<Sample>,
    }

    #[test]
    fn a_wrong_type_deep_inside_gives_its_dotted_path() {
        let err = parse_json::<Body>(
            br#"{"name":"x","samples":[{"conc":1},{"conc":2},{"conc":"high"}]}"#,
        )
        .expect_err("wrong type");
        assert_eq!(err.problems()[0].field, "samples.2.conc");
        assert_eq!(err.problems()[0].loc[0], "body");
    }

    #[test]
    fn a_missing_field_points_at_the_field() {
        let err = parse_json::<Body>(br#"{"samples":[]}"#).expect_err("missing");
        assert_eq!(err.problems()[0].field, "name");
        assert_eq!(err.problems()[0].kind, "missing");
    }

    #[test]
    fn malformed_json_is_a_root_problem() {
        let err = parse_json::<Body>(b"{not json").expect_err("syntax");
        assert_eq!(err.problems()[0].field, "__root__");
        assert_eq!(err.problems()[0].kind, "json_invalid");
    }
}
