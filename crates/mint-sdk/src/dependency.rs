//! Late-bound services for handlers: [`PluginDependency`], and [`require_context`] /
//! [`RequireContext`] for routes that only make sense on a platform
//! (`spec/app-testing-export.md` §3).
//!
//! A plugin often builds a service (a client, a cache, a model) in `initialize`, after its
//! routers exist. `PluginDependency<T>` is the slot the routers hold: handlers extract the value,
//! or get `503 service.unavailable` (`"<name> not initialized"`) until it is set.

use std::fmt;
use std::sync::{Arc, RwLock};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::context::PlatformContext;
use crate::error::PluginError;
use crate::plugin::BoundPlugin;

/// A named, late-bound slot for a value of type `T`, shared by clones.
///
/// ```
/// use mint_sdk::PluginDependency;
/// let db: PluginDependency<String> = PluginDependency::new("catalog");
/// assert!(db.get().is_err());
/// db.set("ready".to_string());
/// assert_eq!(db.get().ok().as_deref(), Some("ready"));
/// assert_eq!(format!("{db:?}"), "PluginDependency(\"catalog\", set)");
/// ```
pub struct PluginDependency<T> {
    name: Arc<str>,
    slot: Arc<RwLock<Option<T>>>,
}

impl<T> Clone for PluginDependency<T> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            slot: self.slot.clone(),
        }
    }
}

impl<T> Default for PluginDependency<T> {
    /// An empty slot named `service`.
    fn default() -> Self {
        Self::new("service")
    }
}

impl<T> PluginDependency<T> {
    /// An empty slot; `name` appears in the 503 message.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            slot: Arc::new(RwLock::new(None)),
        }
    }

    /// The slot's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Fills (or replaces) the value.
    pub fn set(&self, value: T) {
        if let Ok(mut slot) = self.slot.write() {
            *slot = Some(value);
        }
    }

    /// Empties the slot.
    pub fn reset(&self) {
        if let Ok(mut slot) = self.slot.write() {
            *slot = None;
        }
    }

    /// Whether a value is set.
    pub fn is_set(&self) -> bool {
        self.slot.read().map(|s| s.is_some()).unwrap_or(false)
    }
}

impl<T: Clone> PluginDependency<T> {
    /// The value, or a 503 `"<name> not initialized"` error.
    pub fn get(&self) -> Result<T, PluginError> {
        self.slot
            .read()
            .ok()
            .and_then(|s| s.clone())
            .ok_or_else(|| {
                PluginError::http_message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{} not initialized", self.name),
                )
            })
    }
}

impl<T> fmt::Debug for PluginDependency<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_set() { "set" } else { "empty" };
        write!(f, "PluginDependency({:?}, {state})", &*self.name)
    }
}

/// Extractor: the value of the router state's `PluginDependency<T>`, or 503 when unset.
#[derive(Debug, Clone)]
pub struct Injected<T>(pub T);

impl<S, T> FromRequestParts<S> for Injected<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
    PluginDependency<T>: FromRef<S>,
{
    type Rejection = PluginError;

    async fn from_request_parts(_parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        PluginDependency::<T>::from_ref(state).get().map(Injected)
    }
}

/// The context, or 503 `"Not available in standalone mode"` (seed `require_context`).
pub fn require_context(context: Option<PlatformContext>) -> Result<PlatformContext, PluginError> {
    context.ok_or_else(|| {
        PluginError::http_message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not available in standalone mode",
        )
    })
}

/// Extractor: the serving plugin's bound context, or 503 in standalone mode.
#[derive(Debug, Clone)]
pub struct RequireContext(pub PlatformContext);

impl<S: Send + Sync> FromRequestParts<S> for RequireContext {
    type Rejection = PluginError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = parts
            .extensions
            .get::<BoundPlugin>()
            .and_then(|b| b.plugin.core().context());
        require_context(context).map(RequireContext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_dependency_is_a_503_naming_it() {
        let dep: PluginDependency<u32> = PluginDependency::new("scorer");
        let err = dep.get().expect_err("unset");
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.message(), "scorer not initialized");
        assert_eq!(err.envelope(None)["code"], "service.unavailable");
        assert_eq!(format!("{dep:?}"), "PluginDependency(\"scorer\", empty)");
        let clone = dep.clone();
        dep.set(7);
        assert_eq!(clone.get().ok(), Some(7), "clones share the slot");
        clone.reset();
        assert!(!dep.is_set());
        assert_eq!(PluginDependency::<u8>::default().name(), "service");
    }

    #[tokio::test]
    async fn handlers_extract_the_value_once_it_is_set() {
        use axum::body::Body;
        use axum::http::Request;
        use axum::routing::get;
        use tower::ServiceExt;

        let dep: PluginDependency<String> = PluginDependency::new("greeter");
        let router = axum::Router::new()
            .route("/", get(|Injected(g): Injected<String>| async move { g }))
            .with_state(dep.clone());
        let req = || Request::get("/").body(Body::empty()).expect("request");
        let resp = router.clone().oneshot(req()).await.expect("response");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        dep.set("hello".into());
        let resp = router.oneshot(req()).await.expect("response");
        assert_eq!(resp.status(), StatusCode::OK);
    }

    #[test]
    fn require_context_without_a_platform_is_a_503() {
        let err = require_context(None).expect_err("standalone");
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.message(), "Not available in standalone mode");
    }
}
