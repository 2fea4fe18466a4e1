//! Frontend serving: [`SpaStaticFiles`] serves a plugin's built single-page app (the
//! `frontend/dist` a bundler such as Vite writes) under the plugin's mount prefix
//! (`spec/app-testing-export.md` §2, `spec/plugin.md` §6.9).
//!
//! It is not a general static file server: only GET and HEAD, no directory listings, nothing
//! outside the frontend directory, and no part of the `/api` tree. Client-side routes (paths
//! without a file extension) fall back to `index.html`; a missing asset (a path with an
//! extension) is a 404 envelope instead, so a stale bundle fails loudly rather than receiving
//! HTML where it expected JavaScript.
//!
//! Request paths are handled in two steps: a private `AssetPath` parses and validates the path
//! under the mount (percent-decoding each `/`-separated segment **once, before** the traversal
//! checks, so `%2e%2e`, `%2f`, `%5c` and `%00` are caught as what they decode to), then the file
//! system is consulted. Every file about to be served is canonicalized and must lie inside the
//! canonical frontend directory, so a symlink pointing outside is answered 404 like any other
//! traversal (a symlinked frontend directory itself is fine: the root is canonicalized too).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use sha2::{Digest, Sha256};
use tower::{Service, ServiceExt};
use tower_http::services::ServeFile;

use crate::error::PluginError;
use crate::models::RoutesPrefix;

/// The header carrying the frontend's revision on every frontend response (§2).
pub const FRONTEND_REVISION_HEADER: &str = "x-mint-frontend-revision";

/// `Cache-Control` of `index.html`, the SPA fallback and every error answer (§2).
const NO_STORE: &str = "no-store, no-cache, must-revalidate, max-age=0";
/// `Cache-Control` of fingerprinted assets (§2).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of every other file (§2).
const REVALIDATE: &str = "no-cache, must-revalidate";

/// Serves a built single-page app from a directory (`spec/app-testing-export.md` §2).
///
/// Build it with [`SpaStaticFiles::new`], then either mount it with [`router`](Self::router)
/// (which also answers `GET {prefix}` with a 307 to `{prefix}/`) or use it directly as a tower
/// [`Service`] whose request path is the path *under* the mount, as axum's
/// [`Router::nest_service`] passes it. Cloning is cheap (one shared allocation).
///
/// Answers, for a path under the mount:
/// - methods other than GET/HEAD → 405 envelope (with `Allow: GET, HEAD`);
/// - `""` or `/` → `index.html`; a directory holding `index.html` → that file; a regular file
///   → the file, `Content-Type` by extension;
/// - otherwise a last segment with a file extension → 404 envelope `resource.not_found`, and an
///   extensionless path → `index.html` with 200 (SPA fallback);
/// - traversal (`..`, encoded separators, a drive letter, NUL) or a file that resolves outside
///   the directory → 404 envelope; no path yields a 500.
///
/// Every answer carries [`FRONTEND_REVISION_HEADER`] and the `Cache-Control` of §2.
#[derive(Clone)]
pub struct SpaStaticFiles {
    inner: Arc<Inner>,
}

struct Inner {
    /// The canonical frontend directory.
    root: PathBuf,
    /// The canonical path of the root `index.html`.
    index: PathBuf,
    /// `sha256:<hex>` of `index.html` at construction.
    revision: HeaderValue,
}

impl fmt::Debug for SpaStaticFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpaStaticFiles")
            .field("dir", &self.inner.root)
            .field("revision", &self.revision())
            .finish()
    }
}

impl SpaStaticFiles {
    /// Serves `dir`, which must contain `index.html` (§2 "Construction").
    ///
    /// The revision is `"sha256:"` + the lowercase hex SHA-256 of `index.html`, computed here
    /// once: rebuilding the frontend needs a new `SpaStaticFiles` (a restart) to change it.
    ///
    /// Errors: [`PluginError::Configuration`] with `config_key "frontend_dir"`, naming the
    /// missing or unusable path, when `dir` or `<dir>/index.html` does not exist, cannot be
    /// read, or `index.html` resolves outside `dir`.
    pub fn new(dir: impl AsRef<Path>) -> Result<Self, PluginError> {
        let dir = dir.as_ref();
        let config_error =
            |message: String| PluginError::configuration(message).with_config_key("frontend_dir");
        let index_path = dir.join("index.html");
        let root = std::fs::canonicalize(dir).map_err(|e| {
            config_error(format!(
                "Frontend directory {} cannot be used ({e}); it must exist and contain {}",
                dir.display(),
                index_path.display()
            ))
        })?;
        let index = std::fs::canonicalize(&index_path)
            .ok()
            .filter(|p| p.starts_with(&root) && p.is_file())
            .ok_or_else(|| {
                config_error(format!(
                    "Frontend directory has no index.html: {} does not exist",
                    index_path.display()
                ))
            })?;
        let bytes = std::fs::read(&index)
            .map_err(|e| config_error(format!("Cannot read {}: {e}", index_path.display())))?;
        let revision = format!("sha256:{}", lowercase_hex(&Sha256::digest(&bytes)));
        let revision = HeaderValue::from_str(&revision)
            .map_err(|e| config_error(format!("Invalid frontend revision: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                index,
                revision,
            }),
        })
    }

    /// The canonical frontend directory being served.
    pub fn dir(&self) -> &Path {
        &self.inner.root
    }

    /// The revision sent in [`FRONTEND_REVISION_HEADER`]: `sha256:<64 hex digits>`.
    pub fn revision(&self) -> &str {
        self.inner.revision.to_str().unwrap_or_default()
    }

    /// A router serving this frontend at `{prefix}/…` (§1.2, §2), outside `/api`.
    ///
    /// `GET`/`HEAD {prefix}` answer 307 to `{prefix}/` (query kept); other methods there 405.
    /// Merge it into the app's router; the app's layers (request id, envelope) still apply.
    pub fn router(&self, prefix: &RoutesPrefix) -> Router {
        let prefix = prefix.as_str().to_string();
        let redirect = {
            let files = self.clone();
            let target = format!("{prefix}/");
            any(move |req: Request| {
                let files = files.clone();
                let target = target.clone();
                async move { files.redirect_to_slash(req.method(), &target, req.uri().query()) }
            })
        };
        // Mounted by hand rather than with `nest_service`: axum's nested catch-all does not
        // match `{prefix}/` itself, and `{prefix}` must redirect instead of serving.
        let mounted = {
            let files = self.clone();
            let prefix = prefix.clone();
            tower::service_fn(move |req: Request| {
                let files = files.clone();
                let prefix = prefix.clone();
                async move {
                    let under = req
                        .uri()
                        .path()
                        .strip_prefix(prefix.as_str())
                        .map(str::to_string);
                    Ok::<_, Infallible>(match under {
                        Some(path) => files.respond(req.method(), &path, req.headers()).await,
                        None => files.not_found(),
                    })
                }
            })
        };
        Router::new()
            .route(&prefix, redirect)
            .route_service(&format!("{prefix}/"), mounted.clone())
            .route_service(&format!("{prefix}/{{*path}}"), mounted)
    }

    /// Answers one request for `path`, the (still percent-encoded) path under the mount.
    async fn respond(&self, method: &Method, path: &str, headers: &HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return self.method_not_allowed();
        }
        let Ok(asset) = AssetPath::parse(path) else {
            return self.not_found();
        };
        match self.resolve(&asset).await {
            Resolution::Index => {
                self.serve_file(
                    method,
                    headers,
                    &self.inner.index,
                    Path::new("index.html"),
                    NO_STORE,
                )
                .await
            }
            Resolution::Fallback => {
                // Always the full document with 200: validators and ranges are not forwarded.
                self.serve_file(
                    method,
                    &HeaderMap::new(),
                    &self.inner.index,
                    Path::new("index.html"),
                    NO_STORE,
                )
                .await
            }
            Resolution::File { logical, real } => {
                let cache = cache_control(&asset.normalized());
                self.serve_file(method, headers, &real, &logical, cache)
                    .await
            }
            Resolution::NotFound => self.not_found(),
        }
    }

    /// Maps a validated path to what is served (§2 "Path resolution").
    async fn resolve(&self, asset: &AssetPath) -> Resolution {
        if asset.is_root() {
            return Resolution::Index;
        }
        let logical = asset.segments.iter().fold(PathBuf::new(), |p, s| p.join(s));
        let candidate = self.inner.root.join(&logical);
        let found = match tokio::fs::metadata(&candidate).await {
            Ok(meta) if meta.is_file() => Some((logical, candidate)),
            Ok(meta) if meta.is_dir() => {
                let index = candidate.join("index.html");
                match tokio::fs::metadata(&index).await {
                    Ok(meta) if meta.is_file() => Some((logical.join("index.html"), index)),
                    _ => None,
                }
            }
            // Missing, unreadable, or not a regular file (a FIFO must never be opened).
            _ => None,
        };
        let Some((logical, candidate)) = found else {
            return if asset.has_extension() {
                Resolution::NotFound
            } else {
                Resolution::Fallback
            };
        };
        match tokio::fs::canonicalize(&candidate).await {
            Ok(real) if real.starts_with(&self.inner.root) => Resolution::File { logical, real },
            _ => Resolution::NotFound,
        }
    }

    /// Serves `real` with the MIME type of `logical` (the name the browser asked for).
    async fn serve_file(
        &self,
        method: &Method,
        headers: &HeaderMap,
        real: &Path,
        logical: &Path,
        cache: &'static str,
    ) -> Response {
        let mut request = axum::http::Request::new(Body::empty());
        *request.method_mut() = method.clone();
        *request.headers_mut() = headers.clone();
        // mime_guess only yields valid header values, so `new_with_mime` cannot panic here.
        let mime = mime_guess::from_path(logical).first_or_octet_stream();
        let Ok(response) = ServeFile::new_with_mime(real, &mime).oneshot(request).await;
        let status = response.status();
        // The file vanished or became unreadable since it was resolved: still never a 500.
        if status == StatusCode::NOT_FOUND || status.is_server_error() {
            return self.not_found();
        }
        // 412/416 from conditional or range headers: the envelope, keeping `Content-Range`.
        if status.is_client_error() {
            let mut envelope = PluginError::http(status).into_response();
            if let Some(range) = response.headers().get(header::CONTENT_RANGE) {
                envelope
                    .headers_mut()
                    .insert(header::CONTENT_RANGE, range.clone());
            }
            self.stamp(envelope.headers_mut(), NO_STORE);
            return envelope;
        }
        let mut response = response.map(Body::new);
        self.stamp(response.headers_mut(), cache);
        response
    }

    /// `{prefix}` without the slash (§2): 307 to `{prefix}/` for GET/HEAD.
    fn redirect_to_slash(&self, method: &Method, target: &str, query: Option<&str>) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return self.method_not_allowed();
        }
        let location = match query {
            Some(q) => format!("{target}?{q}"),
            None => target.to_string(),
        };
        let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
        let value = HeaderValue::from_str(&location)
            .or_else(|_| HeaderValue::from_str(target))
            .unwrap_or_else(|_| HeaderValue::from_static("/"));
        response.headers_mut().insert(header::LOCATION, value);
        self.stamp(response.headers_mut(), NO_STORE);
        response
    }

    /// The 404 envelope (`resource.not_found`, message `Not Found`, as for any unknown path).
    fn not_found(&self) -> Response {
        let mut response =
            PluginError::http_message(StatusCode::NOT_FOUND, "Not Found").into_response();
        self.stamp(response.headers_mut(), NO_STORE);
        response
    }

    /// The 405 envelope with `Allow: GET, HEAD`.
    fn method_not_allowed(&self) -> Response {
        let mut response =
            PluginError::http_message(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
                .into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        self.stamp(response.headers_mut(), NO_STORE);
        response
    }

    /// Adds the revision and caching headers every frontend answer carries.
    fn stamp(&self, headers: &mut HeaderMap, cache: &'static str) {
        headers.insert(FRONTEND_REVISION_HEADER, self.inner.revision.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        if cache == NO_STORE {
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            headers.insert(header::EXPIRES, HeaderValue::from_static("0"));
        }
    }
}

/// The frontend as a tower service: the request path is the path under the mount (what
/// [`Router::nest_service`] passes on). Use [`SpaStaticFiles::router`] to also get the 307 from
/// `{prefix}`. The request body is never read.
impl<B> Service<axum::http::Request<B>> for SpaStaticFiles {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let (parts, _body) = req.into_parts();
        let files = self.clone();
        Box::pin(async move {
            Ok(files
                .respond(&parts.method, parts.uri.path(), &parts.headers)
                .await)
        })
    }
}

/// What a validated path resolves to.
enum Resolution {
    /// The root `index.html` (mount root).
    Index,
    /// A regular file inside the directory: the requested name and its canonical location.
    File { logical: PathBuf, real: PathBuf },
    /// A client-side route: the root `index.html` with 200.
    Fallback,
    /// A missing asset, or a file resolving outside the directory.
    NotFound,
}

/// A request path under the mount, percent-decoded and free of traversal: the segments to join
/// onto the frontend directory. Empty and `.` segments are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AssetPath {
    segments: Vec<String>,
}

/// Why a path is refused (answered 404, never a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TraversalAttempt {
    /// A `..` segment, also when spelled `%2e%2e`.
    ParentSegment,
    /// `%2f` or `%5c` (or a raw `\`) inside a segment.
    EncodedSeparator,
    /// A NUL byte (`%00`).
    Nul,
    /// A segment starting with a drive letter, like `C:`.
    DriveLetter,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl AssetPath {
    /// Splits `raw` (the path under the mount, still percent-encoded, no query) on `/` and
    /// decodes each segment once, then refuses traversal (§2).
    fn parse(raw: &str) -> Result<Self, TraversalAttempt> {
        let mut segments = Vec::new();
        for encoded in raw.split('/') {
            let bytes = percent_decode(encoded);
            if bytes.contains(&0) {
                return Err(TraversalAttempt::Nul);
            }
            let segment = String::from_utf8(bytes).map_err(|_| TraversalAttempt::NotUtf8)?;
            match segment.as_str() {
                "" | "." => continue,
                ".." => return Err(TraversalAttempt::ParentSegment),
                _ => {}
            }
            if segment.contains(['/', '\\']) {
                return Err(TraversalAttempt::EncodedSeparator);
            }
            if starts_with_drive_letter(&segment) {
                return Err(TraversalAttempt::DriveLetter);
            }
            segments.push(segment);
        }
        Ok(Self { segments })
    }

    /// The mount root (`""` or `/`).
    fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The normalized path of the caching rule: segments joined by `/`, no leading or trailing
    /// slash (backslashes never get this far: they are refused).
    fn normalized(&self) -> String {
        self.segments.join("/")
    }

    /// Whether the last segment has a file extension (`x.js`, `logo.svg`; not `.env`, `v1.`).
    fn has_extension(&self) -> bool {
        self.segments.last().is_some_and(|last| {
            let name = last.trim_start_matches('.');
            name.rsplit_once('.')
                .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty())
        })
    }
}

fn starts_with_drive_letter(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Decodes `%XX` escapes once; a `%` not followed by two hex digits stays as it is.
fn percent_decode(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex_value(*b)),
                bytes.get(i + 2).and_then(|b| hex_value(*b)),
            )
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn lowercase_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The `Cache-Control` of a served file by its normalized path (§2).
fn cache_control(normalized: &str) -> &'static str {
    if matches!(normalized, "" | "." | "index.html") {
        NO_STORE
    } else if is_fingerprinted(normalized) {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

/// Whether `path` matches `(^|/)[^/]+-[A-Za-z0-9_-]{8,}(\.[A-Za-z0-9]+)+$` (§2), by hand.
///
/// Since `[^/]+` cannot cross a `/` and the pattern is anchored at the end, only the last
/// segment matters, and it must match `^[^/]+-[A-Za-z0-9_-]{8,}(\.[A-Za-z0-9]+)+$`: a non-empty
/// name, `-`, a hash of at least 8 hash characters, then one or more `.alnum` extensions.
fn is_fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default().as_bytes();
    let is_hash_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    // Every position where the extension part `(\.[A-Za-z0-9]+)+` can start, from the right.
    let mut extension_starts = Vec::new();
    let mut end = name.len();
    while let Some(dot) = name[..end].iter().rposition(|&b| b == b'.') {
        let group = &name[dot + 1..end];
        if group.is_empty() || !group.iter().all(u8::is_ascii_alphanumeric) {
            break;
        }
        extension_starts.push(dot);
        end = dot;
    }
    extension_starts.into_iter().any(|ext| {
        // The hash is a run of hash characters ending at `ext`, preceded by a `-` that itself
        // follows a non-empty name; the `-` may lie inside the maximal run.
        let run_start = name[..ext]
            .iter()
            .rposition(|&b| !is_hash_char(b))
            .map_or(0, |i| i + 1);
        (run_start.max(1)..=ext.saturating_sub(9)).any(|dash| name[dash] == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_pattern_matches_the_spec_examples_and_edges() {
        let cases = [
            ("assets/index-BzX3k9aQ.js", true),
            ("assets/logo.svg", false),
            ("app-1234567.js", false),
            ("app-12345678.js", true),
            ("x-12345678.js", true),
            ("vendor-abc_DEF-12.min.js", true),
            ("chunk-12345678.js.map", true),
            ("a.b-12345678.css", true),
            ("deep/dir/name--abcdefgh.woff2", true),
            ("-12345678.js", false),
            ("a/-12345678.js", false),
            ("x-12345678", false),
            ("x-12345678.", false),
            ("x-12345678.j$", false),
            ("x-1234567.8.js", false),
            ("x-12345678.js/", false),
            ("index.html", false),
            ("", false),
        ];
        for (path, expected) in cases {
            assert_eq!(is_fingerprinted(path), expected, "{path:?}");
        }
    }

    #[test]
    fn cache_control_follows_the_normalized_path() {
        let cases = [
            ("", NO_STORE),
            (".", NO_STORE),
            ("index.html", NO_STORE),
            ("assets/index-BzX3k9aQ.js", IMMUTABLE),
            ("logo.svg", REVALIDATE),
            ("docs/index.html", REVALIDATE),
        ];
        for (path, expected) in cases {
            assert_eq!(cache_control(path), expected, "{path:?}");
        }
    }

    #[test]
    fn asset_paths_decode_once_and_refuse_traversal() {
        use TraversalAttempt::*;
        let refused = [
            ("/../secret.txt", ParentSegment),
            ("/a/%2e%2e/secret.txt", ParentSegment),
            ("/%2E%2e/x", ParentSegment),
            ("/..%2fsecret.txt", EncodedSeparator),
            ("/a%2Fb", EncodedSeparator),
            ("/..%5csecret.txt", EncodedSeparator),
            ("/a\\b", EncodedSeparator),
            ("/C:/Windows/win.ini", DriveLetter),
            ("/x/c:secret", DriveLetter),
            ("/index.html%00.js", Nul),
            ("/%ff", NotUtf8),
        ];
        for (raw, why) in refused {
            assert_eq!(AssetPath::parse(raw), Err(why), "{raw:?}");
        }
        let accepted = [
            ("", vec![]),
            ("/", vec![]),
            ("//./a//b/", vec!["a", "b"]),
            ("/a%20b.txt", vec!["a b.txt"]),
            ("/%252e%252e", vec!["%2e%2e"]),
            ("/100%", vec!["100%"]),
            ("/a...b", vec!["a...b"]),
        ];
        for (raw, segments) in accepted {
            let parsed = AssetPath::parse(raw).map(|p| p.segments);
            assert_eq!(
                parsed,
                Ok(segments.iter().map(|s| s.to_string()).collect()),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn extension_is_judged_on_the_last_segment() {
        let cases = [
            ("/x.js", true),
            ("/assets/logo.svg", true),
            ("/settings/deep", false),
            ("/v1.2/settings", false),
            ("/.env", false),
            ("/archive.", false),
            ("/x.js/", true),
            ("/", false),
        ];
        for (raw, expected) in cases {
            let parsed = AssetPath::parse(raw).map(|p| p.has_extension());
            assert_eq!(parsed, Ok(expected), "{raw:?}");
        }
    }

    #[test]
    fn lowercase_hex_spells_every_nibble() {
        assert_eq!(lowercase_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
