//! The run-time mount table: which plugin serves which path prefix (ARCHITECTURE.md "Platform
//! routing", `spec/platform-api.md` §5.2). It is swapped atomically as a whole, so plugins are
//! mounted, reloaded and unmounted while requests are served, and a lookup is a pointer load
//! plus a scan of a short, longest-first list (no allocation).

use std::sync::Arc;

use std::convert::Infallible;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::Request;
use axum::routing::future::RouteFuture;
use futures_util::future::Either;
use mint_sdk::app::{PluginFuture, PluginService};
use tower::Service;

/// One mounted service.
#[derive(Clone)]
pub struct Mount {
    /// The matched prefix: `/api{routes_prefix}` for the API, `{routes_prefix}` for a frontend.
    pub prefix: String,
    /// The plugin's name.
    pub plugin: String,
    /// The index of the plugin's entry in the manager.
    pub entry: usize,
    /// Whether callers must be authenticated and hold `plugins.use` (`requires_auth`, API only).
    pub requires_auth: bool,
    /// What answers the requests under the prefix.
    pub service: MountService,
}

/// The future of [`MountService::serve`].
pub type MountFuture = Either<PluginFuture, RouteFuture<Infallible>>;

/// The service behind a [`Mount`].
#[derive(Clone, Debug)]
pub enum MountService {
    /// A plugin's API routes under `/api{routes_prefix}`.
    Api(PluginService),
    /// A plugin's frontend files under `{routes_prefix}` (a router with full paths).
    Frontend(Router),
}

impl MountService {
    /// Answers `request` (the mount's prefix has matched its path).
    pub fn serve(&self, request: Request) -> MountFuture {
        match self {
            Self::Api(api) => Either::Left(api.serve(request)),
            // A router is always ready: no `poll_ready` before the call.
            Self::Frontend(router) => Either::Right(router.clone().call(request)),
        }
    }
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mount")
            .field("prefix", &self.prefix)
            .field("plugin", &self.plugin)
            .field("requires_auth", &self.requires_auth)
            .finish()
    }
}

impl Mount {
    /// Whether `path` is the prefix itself or lies below it (`{prefix}/…`).
    pub fn matches(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// The table: mounts sorted by prefix length, longest first.
#[derive(Debug, Default)]
pub struct MountTable {
    current: ArcSwap<Vec<Arc<Mount>>>,
}

impl MountTable {
    /// The longest-prefix mount serving `path`, if any.
    pub fn find(&self, path: &str) -> Option<Arc<Mount>> {
        self.current
            .load()
            .iter()
            .find(|m| m.matches(path))
            .cloned()
    }

    /// A snapshot of every mount.
    pub fn snapshot(&self) -> Arc<Vec<Arc<Mount>>> {
        self.current.load_full()
    }

    /// Replaces the mounts of entry `entry` with `mounts` (none = unmount), atomically.
    pub fn replace(&self, entry: usize, mounts: Vec<Mount>) {
        let mounts: Vec<Arc<Mount>> = mounts.into_iter().map(Arc::new).collect();
        self.current.rcu(|old| {
            let mut next: Vec<Arc<Mount>> = old
                .iter()
                .filter(|m| m.entry != entry)
                .cloned()
                .chain(mounts.iter().cloned())
                .collect();
            // Longest first; ties by prefix so the order is deterministic.
            next.sort_by(|a, b| {
                b.prefix
                    .len()
                    .cmp(&a.prefix.len())
                    .then_with(|| a.prefix.cmp(&b.prefix))
            });
            next
        });
    }

    /// Removes every mount.
    pub fn clear(&self) {
        self.current.store(Arc::new(Vec::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(prefix: &str, entry: usize) -> Mount {
        Mount {
            prefix: prefix.into(),
            plugin: format!("p{entry}"),
            entry,
            requires_auth: false,
            service: MountService::Frontend(Router::new()),
        }
    }

    #[test]
    fn longest_prefix_wins_and_only_whole_segments_match() {
        let table = MountTable::default();
        table.replace(0, vec![mount("/api/a", 0)]);
        table.replace(1, vec![mount("/api/a/b", 1), mount("/a/b", 1)]);
        let find = |p: &str| table.find(p).map(|m| m.entry);
        assert_eq!(find("/api/a"), Some(0));
        assert_eq!(find("/api/a/x"), Some(0));
        assert_eq!(find("/api/a/b"), Some(1));
        assert_eq!(find("/api/a/b/c"), Some(1));
        assert_eq!(find("/api/ab"), None);
        assert_eq!(find("/api/a/bc"), Some(0));
        assert_eq!(find("/a/b/"), Some(1));
        table.replace(1, vec![]);
        assert_eq!(find("/api/a/b"), Some(0));
        assert_eq!(find("/a/b"), None);
        table.clear();
        assert_eq!(find("/api/a"), None);
    }
}
