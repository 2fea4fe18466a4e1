//! The running platform: configuration, storage, token issuer, login limiter and plugin
//! manager, shared by every route as `State<Arc<Platform>>`.

use std::sync::Arc;
use std::time::Instant;

use mint_sdk::{AnalysisPlugin, PluginError};

use crate::auth::{self, TokenIssuer};
use crate::config::{DatabaseMode, LoadedConfig};
use crate::plugins::PluginManager;
use crate::rbac;
use crate::store::{self, Store};

/// The platform's version as reported by `/api/health` and `/api/internal/platform`.
pub const PLATFORM_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything a route handler needs.
#[derive(Debug)]
pub struct Platform {
    /// The loaded configuration.
    pub config: LoadedConfig,
    /// The platform database.
    pub store: Store,
    /// Signs and checks access tokens.
    pub tokens: TokenIssuer,
    /// Failed-login throttling per client IP.
    pub login_limiter: crate::api::auth::LoginLimiter,
    /// The plugins and their mounts.
    pub plugins: PluginManager,
    /// New on every start (`/api/health` `boot_id`).
    pub boot_id: String,
    /// When this process started.
    pub started_at: Instant,
}

/// Start-up options that are not configuration keys.
#[derive(Debug, Default, Clone)]
pub struct StartOptions {
    /// `MINT_ADMIN_PASSWORD`: the seeded admin's password on first start; generated (and
    /// printed once to stderr) when `None`.
    pub admin_password: Option<String>,
}

/// Why the platform cannot start; `mint serve` prints it and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration cannot be used (names the key).
    #[error("{0}")]
    Config(String),
    /// The database cannot be opened or migrated.
    #[error("database: {0}")]
    Database(String),
}

impl Platform {
    /// Opens and migrates the database, seeds the system roles and the admin user, prepares
    /// the JWT secret (platform-config.md §3 `auth.jwtSecret`) and registers `plugins` (they
    /// are loaded by [`PluginManager::load_all`], which `start` calls last).
    ///
    /// Errors: [`StartError::Config`] for a missing secret on PostgreSQL outside dev mode or an
    /// unusable secret file; [`StartError::Database`] when storage fails.
    pub async fn start(
        config: LoadedConfig,
        plugins: Vec<Arc<dyn AnalysisPlugin>>,
        options: StartOptions,
    ) -> Result<Arc<Self>, StartError> {
        let settings = &config.settings;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            StartError::Config(format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let embedded = settings.dev_mode || settings.database.mode == DatabaseMode::Sqlite;
        let secret = match settings.auth.jwt_secret.clone().filter(|s| !s.is_empty()) {
            Some(secret) => secret,
            None if embedded => auth::load_or_create_secret(&config.data_dir)
                .map_err(|e| StartError::Config(format!("auth.jwtSecret: {e}")))?,
            None => {
                return Err(StartError::Config(
                    "auth.jwtSecret is required with database.mode postgresql outside dev mode \
                     (set MINT_AUTH__JWT_SECRET)"
                        .into(),
                ));
            }
        };
        let tokens = TokenIssuer::new(
            secret.as_bytes(),
            settings.auth.jwt_ttl_hours,
            settings.auth.refresh_grace_hours,
            settings.auth.leeway_seconds,
        )
        .map_err(|e| StartError::Config(format!("auth.jwtSecret: {e}")))?;
        let store = Store::connect(&config)
            .await
            .map_err(|e| StartError::Database(e.message()))?;
        store
            .migrate()
            .await
            .map_err(|e| StartError::Database(e.message()))?;
        seed(&store, options.admin_password.as_deref())
            .await
            .map_err(|e| StartError::Database(e.message()))?;
        let limiter = crate::api::auth::LoginLimiter::new(&settings.auth.login_rate_limit);
        let platform = Arc::new(Self {
            plugins: PluginManager::new(plugins, &config),
            config,
            store,
            tokens,
            login_limiter: limiter,
            boot_id: format!("{:016x}", rand::random::<u64>()),
            started_at: Instant::now(),
        });
        platform.plugins.load_all(&platform).await;
        Ok(platform)
    }

    /// Shuts every plugin down, then closes the database.
    pub async fn shutdown(&self) {
        self.plugins.shutdown_all().await;
        self.store.close().await;
    }
}

/// Inserts the three system roles when missing and, when there are no users, the admin
/// (id 1, username `admin`, role `admin`).
async fn seed(store: &Store, admin_password: Option<&str>) -> Result<(), PluginError> {
    let conn = store.connection();
    for (slug, name, permissions) in rbac::system_roles() {
        let present = store
            .count(
                conn,
                "SELECT COUNT(*) AS n FROM roles WHERE slug = $1",
                [slug.into()],
            )
            .await?;
        if present == 0 {
            store
                .exec(
                    conn,
                    "INSERT INTO roles (name, slug, permissions, is_system) VALUES ($1, $2, $3, 1)",
                    [
                        name.into(),
                        slug.into(),
                        store::json_text(&permissions).into(),
                    ],
                )
                .await?;
        }
    }
    let users = store
        .count(conn, "SELECT COUNT(*) AS n FROM users", [])
        .await?;
    if users > 0 && admin_password.is_some_and(|p| !p.is_empty()) {
        tracing::info!(
            "MINT_ADMIN_PASSWORD is ignored: the users exist already (change a password with \
             PATCH /api/admin/users/{{id}})"
        );
    }
    if users == 0 {
        let (password, generated) = match admin_password.filter(|p| !p.is_empty()) {
            Some(p) => (p.to_string(), false),
            None => {
                let bytes: [u8; 12] = rand::random();
                let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                (text, true)
            }
        };
        let hash = auth::hash_password(&password)
            .map_err(|e| PluginError::repository(format!("Cannot hash the admin password: {e}")))?;
        let now = store::now_text();
        store
            .exec(
                conn,
                "INSERT INTO users (id, username, email, password_hash, role, is_active, \
                 created_at, updated_at) VALUES (1, 'admin', NULL, $1, 'admin', 1, $2, $2)",
                [hash.into(), now.into()],
            )
            .await?;
        if store.mode() == DatabaseMode::Postgresql {
            // The explicit id 1 does not advance the sequence.
            store
                .exec(
                    conn,
                    "SELECT setval(pg_get_serial_sequence('users', 'id'), \
                     (SELECT MAX(id) FROM users))",
                    [],
                )
                .await?;
        }
        if generated {
            eprintln!(
                "mint: created the admin user 'admin' with the generated password {password} \
                 (shown once; set MINT_ADMIN_PASSWORD to choose it)"
            );
        }
        tracing::info!("seeded the admin user");
    }
    Ok(())
}
