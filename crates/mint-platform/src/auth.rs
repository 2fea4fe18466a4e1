//! Passwords and access tokens (`spec/platform-api.md` §2, `spec/platform-config.md` §3).
//!
//! - Passwords: argon2id PHC strings ([`hash_password`], [`verify_password`]); never our own
//!   crypto.
//! - Tokens: HS256 JWTs with `sub`, `username`, `role`, `iat`, `exp`, `jti`, `typ: "access"`,
//!   pinned to HS256 (any other `alg`, `none` included, is refused). [`TokenIssuer::refreshable`]
//!   accepts a correctly signed token up to `refreshGraceHours` after its `exp`; revoked `jti`s
//!   (logout) are refused until their `exp` passes.
//! - The signing secret: `auth.jwtSecret`, or on the embedded SQLite default a secret generated
//!   once into `<data_dir>/jwt-secret` (mode 0600) and reused ([`load_or_create_secret`]).
//!
//! HTTP routes and the user store live elsewhere; this module is pure logic plus one file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Why a password or token operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// The token is missing, malformed, badly signed, of another algorithm, expired (beyond the
    /// allowed grace) or revoked: answer 401.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The password could not be hashed (e.g. the random source failed).
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The signing secret is unusable (e.g. empty).
    #[error("invalid JWT secret: {0}")]
    InvalidSecret(String),
    /// The signing secret file cannot be read or written.
    #[error("JWT secret file {path}: {message}")]
    SecretFile {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Hashes `password` with argon2id and a fresh random salt, as a PHC string.
///
/// Errors: [`AuthError::Hashing`].
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// True when `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Claims of a MINT access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string.
    pub sub: String,
    /// The username.
    pub username: String,
    /// The platform role slug.
    pub role: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Unique token id (revoked on logout).
    pub jti: String,
    /// Always `access`.
    pub typ: String,
}

/// A freshly issued token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// Lifetime in seconds (`expires_in`).
    pub expires_in: i64,
    /// Its claims.
    pub claims: Claims,
}

/// Issues, verifies, refreshes and revokes access tokens.
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_seconds: i64,
    refresh_grace_seconds: i64,
    leeway_seconds: u64,
    /// Revoked `jti` → its `exp`, pruned as they expire.
    revoked: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("ttl_seconds", &self.ttl_seconds)
            .field("refresh_grace_seconds", &self.refresh_grace_seconds)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// An issuer signing with `secret`; lifetimes from `auth.jwtTtlHours`,
    /// `auth.refreshGraceHours` and `auth.leewaySeconds`.
    ///
    /// Errors: [`AuthError::InvalidSecret`] for an empty or unusable secret.
    pub fn new(
        secret: &[u8],
        ttl_hours: f64,
        refresh_grace_hours: f64,
        leeway_seconds: u64,
    ) -> Result<Self, AuthError> {
        if secret.is_empty() {
            return Err(AuthError::InvalidSecret("the secret is empty".into()));
        }
        let invalid = |e: jsonwebtoken::errors::Error| AuthError::InvalidSecret(e.to_string());
        Ok(Self {
            encoding: EncodingKey::from_secret(secret).map_err(invalid)?,
            decoding: DecodingKey::from_secret(secret).map_err(invalid)?,
            ttl_seconds: (ttl_hours * 3600.0).round() as i64,
            refresh_grace_seconds: (refresh_grace_hours * 3600.0).round() as i64,
            leeway_seconds,
            revoked: Mutex::new(HashMap::new()),
        })
    }

    /// The access-token lifetime in seconds (`expires_in`).
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// Issues a token for a user, valid from `now` for the configured lifetime.
    ///
    /// Errors: [`AuthError::Hashing`] when signing fails (no crypto backend).
    pub fn issue(
        &self,
        user_id: i64,
        username: &str,
        role: &str,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, AuthError> {
        let iat = now.timestamp();
        let jti: u128 = rand::random();
        let claims = Claims {
            sub: user_id.to_string(),
            username: username.to_string(),
            role: role.to_string(),
            iat,
            exp: iat + self.ttl_seconds,
            jti: format!("{jti:032x}"),
            typ: "access".into(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Hashing(format!("cannot sign a token: {e}")))?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl_seconds,
            claims,
        })
    }

    fn decode(&self, token: &str, check_expiry: bool) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = self.leeway_seconds;
        validation.validate_exp = check_expiry;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| AuthError::InvalidToken)?;
        if data.claims.typ != "access" {
            return Err(AuthError::InvalidToken);
        }
        Ok(data.claims)
    }

    fn is_revoked(&self, jti: &str, now: i64) -> bool {
        let Ok(mut revoked) = self.revoked.lock() else {
            return true;
        };
        revoked.retain(|_, exp| *exp + self.refresh_grace_seconds >= now);
        revoked.contains_key(jti)
    }

    /// The claims of a valid, unexpired, unrevoked token.
    ///
    /// Errors: [`AuthError::InvalidToken`].
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, AuthError> {
        let claims = self.decode(token, false)?;
        let now = now.timestamp();
        if claims.exp + self.leeway_seconds as i64 <= now || self.is_revoked(&claims.jti, now) {
            return Err(AuthError::InvalidToken);
        }
        Ok(claims)
    }

    /// Checks a token for refresh: correctly signed, not revoked, and expired at most
    /// `refreshGraceHours` ago. The caller then checks the user is still active and issues a
    /// new token.
    ///
    /// Errors: [`AuthError::InvalidToken`].
    pub fn refreshable(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, AuthError> {
        let claims = self.decode(token, false)?;
        let now = now.timestamp();
        if claims.exp + self.refresh_grace_seconds < now || self.is_revoked(&claims.jti, now) {
            return Err(AuthError::InvalidToken);
        }
        Ok(claims)
    }

    /// Revokes a token's `jti` (logout). An invalid token is ignored: logout never fails.
    pub fn revoke(&self, token: &str) {
        if let Ok(claims) = self.decode(token, false)
            && let Ok(mut revoked) = self.revoked.lock()
        {
            revoked.insert(claims.jti, claims.exp);
        }
    }
}

/// Reads `<data_dir>/jwt-secret`, or creates it with 32 random bytes (hex) and mode 0600.
///
/// Errors: [`AuthError::SecretFile`] when the file cannot be read or written, or is empty.
pub fn load_or_create_secret(data_dir: &Path) -> Result<String, AuthError> {
    let path = data_dir.join("jwt-secret");
    let fail = |message: String| AuthError::SecretFile {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => return Err(fail("the file is empty".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    std::fs::create_dir_all(data_dir).map_err(|e| fail(e.to_string()))?;
    let bytes: [u8; 32] = rand::random();
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = data_dir.join(format!(".jwt-secret.{}.tmp", std::process::id()));
    std::fs::write(&tmp, format!("{secret}\n")).map_err(|e| fail(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| fail(e.to_string()))?;
    }
    std::fs::rename(&tmp, &path).map_err(|e| fail(e.to_string()))?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(b"test-secret-of-enough-length-123", 24.0, 24.0, 0).expect("issuer")
    }

    #[test]
    fn passwords_hash_with_a_salt_and_verify() {
        let a = hash_password("correct horse").expect("hash");
        let b = hash_password("correct horse").expect("hash");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "fresh salt each time");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong", &a));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn a_token_carries_the_claims_and_verifies_until_it_expires() {
        let t = issuer();
        let now = Utc::now();
        let issued = t.issue(7, "ada", "member", now).expect("issue");
        assert_eq!(issued.expires_in, 86_400);
        let claims = t.verify(&issued.token, now).expect("valid");
        assert_eq!(
            (
                claims.sub.as_str(),
                claims.username.as_str(),
                claims.role.as_str()
            ),
            ("7", "ada", "member")
        );
        assert_eq!(claims.typ, "access");
        assert_eq!(claims.jti.len(), 32);
        assert!(t.verify(&issued.token, now + Duration::hours(25)).is_err());
    }

    #[test]
    fn refresh_accepts_expired_tokens_within_the_grace_only() {
        let t = issuer();
        let now = Utc::now();
        let issued = t.issue(1, "admin", "admin", now).expect("issue");
        assert!(
            t.refreshable(&issued.token, now + Duration::hours(30))
                .is_ok()
        );
        assert!(
            t.refreshable(&issued.token, now + Duration::hours(49))
                .is_err()
        );
    }

    #[test]
    fn logout_revokes_the_token_for_verify_and_refresh() {
        let t = issuer();
        let now = Utc::now();
        let issued = t.issue(1, "admin", "admin", now).expect("issue");
        let other = t.issue(1, "admin", "admin", now).expect("issue");
        t.revoke(&issued.token);
        t.revoke("garbage");
        assert_eq!(t.verify(&issued.token, now), Err(AuthError::InvalidToken));
        assert!(t.refreshable(&issued.token, now).is_err());
        assert!(
            t.verify(&other.token, now).is_ok(),
            "only that jti is revoked"
        );
    }

    #[test]
    fn other_secrets_algorithms_and_tampering_are_refused() {
        let t = issuer();
        let now = Utc::now();
        let issued = t.issue(1, "a", "member", now).expect("issue");
        let other =
            TokenIssuer::new(b"another-secret-another-secret-xx", 24.0, 24.0, 0).expect("issuer");
        assert!(TokenIssuer::new(b"", 24.0, 24.0, 0).is_err());
        assert!(other.verify(&issued.token, now).is_err());
        // alg "none": header {"alg":"none","typ":"JWT"}, same payload, no signature.
        let payload = issued.token.split('.').nth(1).unwrap_or_default();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert!(t.verify(&none, now).is_err());
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &issued.claims,
            &EncodingKey::from_secret(b"test-secret-of-enough-length-123").expect("key"),
        )
        .expect("sign");
        assert!(t.verify(&hs512, now).is_err(), "HS256 is pinned");
        let mut tampered = issued.token.clone();
        tampered.push('x');
        assert!(t.verify(&tampered, now).is_err());
    }

    #[test]
    fn the_secret_file_is_created_once_with_mode_0600_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create_secret(dir.path()).expect("create");
        assert_eq!(first.len(), 64);
        let second = load_or_create_secret(dir.path()).expect("reuse");
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("jwt-secret"))
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            assert_eq!(mode, 0o600);
        }
    }
}
