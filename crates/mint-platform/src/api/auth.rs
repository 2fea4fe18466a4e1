//! `/api/auth/*`: login, refresh, verify, logout and the auth configuration
//! (`spec/platform-api.md` §2), with per-IP throttling of failed logins
//! (`spec/platform-config.md` §3 `auth.loginRateLimit`).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::header::{HeaderValue, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::Utc;
use mint_sdk::PluginError;
use mint_sdk::extract::Json;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::verify_password;
use crate::config::LoginRateLimit;
use crate::rbac::{self, Principal};
use crate::state::Platform;
use crate::store;

/// The browser session cookie (HttpOnly, SameSite=Lax); the bearer header wins over it.
pub const COOKIE_NAME: &str = "mint_token";

/// Failed logins per client IP within a sliding window.
#[derive(Debug)]
pub struct LoginLimiter {
    settings: LoginRateLimit,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// A limiter with `auth.loginRateLimit`'s settings.
    pub fn new(settings: &LoginRateLimit) -> Self {
        Self {
            settings: settings.clone(),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.settings.window_seconds)
    }

    /// Whether `ip` has used up its failures within the window.
    pub fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        if !self.settings.enabled {
            return false;
        }
        let Ok(mut map) = self.failures.lock() else {
            return false;
        };
        let window = self.window();
        let Some(list) = map.get_mut(&ip) else {
            return false;
        };
        while list
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            list.pop_front();
        }
        list.len() >= self.settings.failures as usize
    }

    /// Records one failed login of `ip`.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) {
        if !self.settings.enabled {
            return;
        }
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 10_000 {
                let window = self.window();
                map.retain(|_, l| l.back().is_some_and(|t| now.duration_since(*t) < window));
            }
            map.entry(ip).or_default().push_back(now);
        }
    }
}

/// The auth routes.
pub fn routes() -> Router<Arc<Platform>> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/verify", get(verify))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/config", get(config))
}

/// `UserInfo` of platform-api.md §2.
pub fn user_info(user: &mint_sdk::repositories::User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "role": user.role.to_ascii_lowercase(),
        "email": user.email,
        "shortname": user.shortname,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
    })
}

fn session_cookie(platform: &Platform, token: &str, max_age: i64) -> HeaderValue {
    let _ = platform;
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("mint_token=; Path=/; Max-Age=0"))
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

fn client_ip(connect: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    connect
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

async fn login(
    State(platform): State<Arc<Platform>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(body): Json<LoginRequest>,
) -> Result<Response, PluginError> {
    if !platform.config.settings.auth.local_login_enabled {
        return Err(PluginError::http_message(
            StatusCode::FORBIDDEN,
            "Password login is disabled",
        ));
    }
    let ip = client_ip(connect.as_ref().map(|e| &e.0));
    let now = Instant::now();
    if platform.login_limiter.is_blocked(ip, now) {
        return Err(PluginError::http_message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed logins; try again later",
        ));
    }
    let store = &platform.store;
    let row = store
        .one(
            store.connection(),
            &format!(
                "SELECT {}, password_hash FROM users WHERE username = $1 OR \
                 (email IS NOT NULL AND LOWER(email) = LOWER($1)) ORDER BY id LIMIT 1",
                store::USER_COLUMNS
            ),
            [body.username.trim().into()],
        )
        .await?;
    let found = match &row {
        Some(row) => Some((
            store::user_row(row)?,
            store::get_text(row, "password_hash")?,
        )),
        None => None,
    };
    let password_ok = match &found {
        Some((_, hash)) => verify_password(&body.password, hash),
        None => {
            // Same work as a real check, so timing does not reveal unknown usernames.
            let _ = verify_password(&body.password, dummy_hash());
            false
        }
    };
    let Some((user, _)) = found.filter(|_| password_ok) else {
        platform.login_limiter.record_failure(ip, now);
        return Err(rbac::unauthorized("Invalid username or password"));
    };
    if !user.is_active {
        return Err(PluginError::http_message(
            StatusCode::FORBIDDEN,
            "User account is inactive",
        ));
    }
    let issued = platform
        .tokens
        .issue(
            user.id,
            &user.username,
            &user.role.to_ascii_lowercase(),
            Utc::now(),
        )
        .map_err(|e| PluginError::unexpected(e.to_string()))?;
    let body = json!({
        "access_token": issued.token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
        "user": user_info(&user),
    });
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        session_cookie(&platform, &issued.token, issued.expires_in),
    );
    Ok(response)
}

/// An argon2 hash of a random string, used to spend the same time on unknown usernames.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let secret = format!("{:032x}", rand::random::<u128>());
        crate::auth::hash_password(&secret).unwrap_or_default()
    })
}

fn token_of(headers: &HeaderMap) -> Option<String> {
    let (parts, _) = axum::http::Request::new(()).into_parts();
    let mut parts: Parts = parts;
    parts.headers = headers.clone();
    rbac::request_token(&parts)
}

async fn refresh(
    State(platform): State<Arc<Platform>>,
    headers: HeaderMap,
) -> Result<Response, PluginError> {
    let invalid = || rbac::unauthorized("Invalid or expired token");
    let token = token_of(&headers).ok_or_else(invalid)?;
    let claims = platform
        .tokens
        .refreshable(&token, Utc::now())
        .map_err(|_| invalid())?;
    let id: i64 = claims.sub.parse().map_err(|_| invalid())?;
    let principal = Principal::load(&platform, id).await?.ok_or_else(invalid)?;
    if !principal.user.is_active {
        return Err(invalid());
    }
    let user = principal.user;
    let issued = platform
        .tokens
        .issue(
            user.id,
            &user.username,
            &user.role.to_ascii_lowercase(),
            Utc::now(),
        )
        .map_err(|e| PluginError::unexpected(e.to_string()))?;
    let mut response = axum::Json(json!({
        "access_token": issued.token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
    }))
    .into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        session_cookie(&platform, &issued.token, issued.expires_in),
    );
    Ok(response)
}

async fn verify(
    State(platform): State<Arc<Platform>>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, PluginError> {
    let invalid = json!({"valid": false, "user": null, "username": null, "expires_at": null});
    let Some(token) = token_of(&headers) else {
        return Ok(axum::Json(invalid));
    };
    let Ok(claims) = platform.tokens.verify(&token, Utc::now()) else {
        return Ok(axum::Json(invalid));
    };
    let Ok(id) = claims.sub.parse::<i64>() else {
        return Ok(axum::Json(invalid));
    };
    let Some(principal) = Principal::load(&platform, id).await? else {
        return Ok(axum::Json(invalid));
    };
    if !principal.user.is_active {
        return Ok(axum::Json(invalid));
    }
    let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Ok(axum::Json(json!({
        "valid": true,
        "user": user_info(&principal.user),
        "username": principal.user.username,
        "expires_at": expires_at,
        "token_type": "session",
    })))
}

async fn logout(State(platform): State<Arc<Platform>>, headers: HeaderMap) -> Response {
    if let Some(token) = token_of(&headers) {
        platform.tokens.revoke(&token);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, session_cookie(&platform, "", 0));
    response
}

async fn config(State(platform): State<Arc<Platform>>) -> axum::Json<Value> {
    let auth = &platform.config.settings.auth;
    axum::Json(json!({
        "auth_required": !platform.config.settings.dev_mode,
        "local_login_enabled": auth.local_login_enabled,
        "passkey_enabled": false,
        "registration_enabled": false,
        "sso_enabled": false,
        "token_ttl_seconds": platform.tokens.ttl_seconds(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_after_the_configured_failures_and_forgets_old_ones() {
        let limiter = LoginLimiter::new(&LoginRateLimit {
            enabled: true,
            failures: 3,
            window_seconds: 60,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(!limiter.is_blocked(ip, t0));
            limiter.record_failure(ip, t0);
        }
        assert!(limiter.is_blocked(ip, t0));
        assert!(!limiter.is_blocked("10.0.0.2".parse().unwrap(), t0));
        assert!(!limiter.is_blocked(ip, t0 + Duration::from_secs(61)));
        let off = LoginLimiter::new(&LoginRateLimit {
            enabled: false,
            failures: 1,
            window_seconds: 60,
        });
        off.record_failure(ip, t0);
        off.record_failure(ip, t0);
        assert!(!off.is_blocked(ip, t0));
    }
}
