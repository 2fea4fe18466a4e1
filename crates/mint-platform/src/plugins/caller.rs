//! Who a plugin request runs for. The platform resolves the caller of every request it routes
//! to a plugin and runs the plugin's handler inside a task-local scope holding it, so the
//! repositories handed to the plugin act with **that caller's** visibility and rights
//! (`spec/rbac.md` §5: the rule applies to plugin routes too), not the plugin's own: an
//! anonymous request sees no experiment, a member sees what the REST API shows them. Work a
//! plugin does outside a request (startup, hooks, spawned tasks) has no scope and acts with
//! the plugin's rights (`spec/platform-api.md` §5.3, "background work").

use std::future::Future;

use tokio::task::futures::TaskLocalFuture;

use crate::rbac::Principal;

/// The caller of the plugin request being served.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No valid credentials.
    Anonymous,
    /// An authenticated, active user.
    User(Box<Principal>),
}

tokio::task_local! {
    static CALLER: Caller;
}

/// The caller of the current plugin request; `None` outside one (background work).
pub fn current() -> Option<Caller> {
    CALLER.try_with(Caller::clone).ok()
}

/// `future` run as a request of `caller`.
pub fn scope<F: Future>(caller: Caller, future: F) -> TaskLocalFuture<Caller, F> {
    CALLER.scope(caller, future)
}
