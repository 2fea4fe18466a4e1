//! Reading plugin bundles: a `.mint` file (legacy `.mld`, the same ZIP) holding a
//! `manifest.json`, one release binary per target triple under `bin/<triple>/<bin>`, an
//! optional built `frontend/` and a SHA-256 checksum per file (`spec/cli.md` §2.3, "Rust
//! bundle (`format_version` 2)").
//!
//! [`unpack`] parses and validates the manifest ([`BundleManifest`]), refuses unsafe entry
//! names, entries over the [`BundleLimits`] and bundles without a binary for
//! [`HOST_TRIPLE`], verifies every checksum while streaming the entries, and writes what the
//! host installs into an empty directory: `<bin>` (mode 0755), `frontend/…`, `manifest.json`
//! and an optional top-level `LICENSE` / `README.md`. It is synchronous (run it on a blocking
//! thread) and knows nothing about where bundles are installed or how they run: that is
//! [`super::installed`]. Writing bundles (`mint build`) is not here either.
//!
//! A Python bundle (`format_version` 1: wheels) is refused with a message saying it needs a
//! Python host.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use mint_sdk::PluginMetadata;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The target triple this platform binary was compiled for (`x86_64-unknown-linux-gnu`): an
/// installed bundle must list it in `runtime.targets`.
pub const HOST_TRIPLE: &str = env!("MINT_HOST_TRIPLE");

/// The `format_version` of Rust bundles, the only one this host installs.
pub const FORMAT_VERSION: u64 = 2;

/// The manifest's name inside the bundle and in the install directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The frontend directory inside the bundle and in the install directory.
pub const FRONTEND_DIR: &str = "frontend";

/// Top-level files copied into the install directory when the bundle has them.
const DOC_FILES: [&str; 2] = ["LICENSE", "README.md"];

/// Size limits that keep a hostile bundle (a ZIP bomb, millions of entries) from filling the
/// disk or the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleLimits {
    /// Most entries (files and directories) a bundle may have.
    pub max_entries: usize,
    /// Most bytes all entries may hold uncompressed, summed (what is read and hashed, not only
    /// what is written).
    pub max_unpacked_bytes: u64,
    /// Most bytes `manifest.json` may hold.
    pub max_manifest_bytes: u64,
}

impl Default for BundleLimits {
    /// 10 000 entries, 4 GiB unpacked, 1 MiB of manifest.
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_unpacked_bytes: 4 << 30,
            max_manifest_bytes: 1 << 20,
        }
    }
}

/// `manifest.json` of a Rust bundle (cli.md §2.3). Field names are the wire names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u64,
    /// The plugin's metadata (`<bin> metadata --json`) and bundle facts about it.
    pub plugin: BundlePlugin,
    /// How the plugin runs.
    pub runtime: BundleRuntime,
    /// `"frontend/"` when the bundle carries a built frontend, else `null`.
    #[serde(default)]
    pub frontend: Option<String>,
    /// The migrations compiled into the binary (listed only; the plugin applies them).
    #[serde(default)]
    pub migrations: Vec<BundleMigration>,
    /// The SDK the binary was built with: `{"rust": "<mint-sdk version>"}`.
    #[serde(default)]
    pub sdk: Option<BTreeMap<String, String>>,
    /// `path in the bundle` → `"sha256:<hex>"`, for every file but `manifest.json`.
    pub checksums: BTreeMap<String, String>,
}

/// `manifest.plugin`: the plugin's [`PluginMetadata`] plus what the bundler adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundlePlugin {
    /// Name, version, routes prefix, type, capabilities, …
    #[serde(flatten)]
    pub metadata: PluginMetadata,
    /// The MINT versions the plugin needs (a requirement string), when given.
    #[serde(default)]
    pub requires_mint: Option<String>,
    /// Whether the bundle has a frontend.
    #[serde(default)]
    pub has_frontend: bool,
    /// SHA-256 over the sorted frontend files, when there is a frontend.
    #[serde(default)]
    pub frontend_revision: Option<String>,
}

/// `manifest.runtime`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRuntime {
    /// Always `"binary"`.
    pub kind: String,
    /// The binary's file name (`<bin>`), installed under this name.
    pub entry: String,
    /// Target triple → path of its binary in the bundle (`bin/<triple>/<bin>`).
    pub targets: BTreeMap<String, String>,
}

/// One entry of `manifest.migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleMigration {
    /// Its version (1, 2, …).
    pub version: u32,
    /// Its name.
    pub name: String,
}

/// Why a bundle was not unpacked. Every variant but [`BundleError::Io`] is a refusal of the
/// bundle itself (the install answers `success:false` with this text); `Io` is the server's
/// own failure to write (a 500).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle file cannot be opened or read.
    #[error("Cannot read the bundle {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The file is not a ZIP archive, or a damaged one.
    #[error("Not a plugin bundle: the file is not a readable ZIP archive ({0})")]
    NotAZip(String),
    /// A Python bundle (`format_version` 1).
    #[error(
        "This is a Python plugin bundle (format_version 1, wheels): Python bundles need a Python \
         MINT host; this Rust platform installs Rust bundles (format_version 2) only"
    )]
    PythonBundle,
    /// A `format_version` this host does not know.
    #[error("Unsupported bundle format_version {0}: this platform installs format_version 2")]
    UnsupportedFormat(String),
    /// `manifest.json` is missing, is not JSON, or a field is wrong (`field: problem`).
    #[error("Invalid bundle manifest: {0}")]
    Manifest(String),
    /// An entry name that could escape the install directory, or is not a plain file.
    #[error("Unsafe entry in the bundle: '{name}' ({reason})")]
    UnsafeEntry {
        /// The entry name as stored.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `runtime.targets` has no binary for this host.
    #[error(
        "The bundle has no binary for this platform's target {host} (it has: {available}); \
         build the plugin for {host} and add its binary under `bin/{host}/`"
    )]
    MissingTarget {
        /// [`HOST_TRIPLE`].
        host: String,
        /// The triples it has, comma-separated.
        available: String,
    },
    /// A file named in the manifest (a checksum, the binary, `frontend/index.html`) is not in
    /// the bundle.
    #[error("The bundle lacks {path}, which its manifest names")]
    MissingFile {
        /// The path in the bundle.
        path: String,
    },
    /// A file without a checksum in the manifest.
    #[error("The bundle file {path} has no checksum in manifest.json")]
    Unlisted {
        /// The path in the bundle.
        path: String,
    },
    /// A file whose SHA-256 differs from the manifest's.
    #[error(
        "Checksum mismatch for {path}: the manifest says sha256:{expected}, the file is sha256:{actual}"
    )]
    ChecksumMismatch {
        /// The path in the bundle.
        path: String,
        /// Hex digest from the manifest.
        expected: String,
        /// Hex digest of the content.
        actual: String,
    },
    /// Over one of the [`BundleLimits`], or an entry larger than its header says.
    #[error("The bundle is too large: {0}")]
    TooLarge(String),
    /// The server could not write the unpacked files.
    #[error("Cannot unpack the bundle into {path}: {source}")]
    Io {
        /// The file or directory being written.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl BundleError {
    /// Whether the bundle is at fault (everything but [`BundleError::Io`]).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Self::Io { .. })
    }
}

/// What [`unpack`] wrote and read.
#[derive(Debug, Clone)]
pub struct UnpackedBundle {
    /// The validated manifest.
    pub manifest: BundleManifest,
    /// The manifest exactly as stored in the bundle.
    pub raw_manifest: Value,
    /// Bytes read and hashed from the bundle, uncompressed.
    pub unpacked_bytes: u64,
}

impl BundleManifest {
    /// Parses a manifest: `format_version` first (1 → [`BundleError::PythonBundle`], anything
    /// but 2 → [`BundleError::UnsupportedFormat`]), then the fields, then
    /// [`BundleManifest::validate`].
    ///
    /// Errors: the refusals above and [`BundleError::Manifest`] naming the field.
    pub fn parse(raw: &Value) -> Result<Self, BundleError> {
        let Some(object) = raw.as_object() else {
            return Err(BundleError::Manifest(
                "manifest.json must hold a JSON object".into(),
            ));
        };
        match object.get("format_version") {
            None => {
                return Err(BundleError::Manifest(
                    "format_version: missing (Rust bundles have format_version 2)".into(),
                ));
            }
            Some(v) if v.as_u64() == Some(1) => return Err(BundleError::PythonBundle),
            Some(v) if v.as_u64() == Some(FORMAT_VERSION) => {}
            Some(v) => return Err(BundleError::UnsupportedFormat(v.to_string())),
        }
        let manifest: Self = serde_path_to_error::deserialize(raw).map_err(|e| {
            let path = e.path().to_string();
            BundleError::Manifest(format!("{path}: {}", e.inner()))
        })?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks what the field types cannot: the plugin metadata (plugin.md §4), a version and a
    /// binary name usable as path segments, `runtime.kind`, safe target paths that have
    /// checksums, `frontend`, well-formed checksums and unique migration versions. Does not
    /// look for this host's target (that is [`BundleManifest::host_binary`]).
    ///
    /// Errors: [`BundleError::Manifest`] naming the field.
    pub fn validate(&self) -> Result<(), BundleError> {
        let bad =
            |field: &str, problem: String| BundleError::Manifest(format!("{field}: {problem}"));
        let meta = &self.plugin.metadata;
        meta.validate().map_err(|e| bad("plugin", e.message()))?;
        if meta.name.len() > 128 || !meta.name.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(bad(
                "plugin.name",
                "must have 1 to 128 characters, at least one a letter or digit".into(),
            ));
        }
        if !is_plain_segment(&meta.version, 64, &['.', '+', '-', '_']) {
            return Err(bad(
                "plugin.version",
                format!(
                    "'{}' must be up to 64 letters, digits, '.', '+', '-' or '_', not starting with '.'",
                    meta.version
                ),
            ));
        }
        if self.runtime.kind != "binary" {
            return Err(bad(
                "runtime.kind",
                format!("'{}' is not supported (only \"binary\")", self.runtime.kind),
            ));
        }
        let entry = &self.runtime.entry;
        if !is_plain_segment(entry, 128, &['.', '-', '_'])
            || entry == MANIFEST_FILE
            || entry == FRONTEND_DIR
            || DOC_FILES.contains(&entry.as_str())
        {
            return Err(bad(
                "runtime.entry",
                format!(
                    "'{entry}' must be a plain file name (letters, digits, '.', '-', '_'), not \
                     manifest.json, frontend, LICENSE or README.md"
                ),
            ));
        }
        if self.runtime.targets.is_empty() {
            return Err(bad(
                "runtime.targets",
                "must name at least one target".into(),
            ));
        }
        for (triple, path) in &self.runtime.targets {
            let field = format!("runtime.targets.{triple}");
            if !is_plain_segment(triple, 128, &['.', '-', '_']) {
                return Err(bad(&field, "not a target triple".into()));
            }
            check_entry_name(path).map_err(|reason| bad(&field, format!("'{path}' {reason}")))?;
            if !self.checksums.contains_key(path) {
                return Err(bad(&field, format!("'{path}' has no checksum")));
            }
        }
        match self.frontend.as_deref() {
            None => {}
            Some("frontend/" | "frontend") => {}
            Some(other) => {
                return Err(bad(
                    "frontend",
                    format!("'{other}' must be \"frontend/\" or null"),
                ));
            }
        }
        for (path, sum) in &self.checksums {
            let field = format!("checksums.{path}");
            check_entry_name(path).map_err(|reason| bad(&field, reason.into()))?;
            if path == MANIFEST_FILE {
                return Err(bad(
                    &field,
                    "manifest.json cannot carry its own checksum".into(),
                ));
            }
            parse_checksum(sum)
                .ok_or_else(|| bad(&field, format!("'{sum}' is not \"sha256:<64 hex digits>\"")))?;
        }
        let mut versions = BTreeSet::new();
        for (i, m) in self.migrations.iter().enumerate() {
            if m.version == 0 || !versions.insert(m.version) {
                return Err(bad(
                    &format!("migrations.{i}.version"),
                    format!("{} is 0 or repeated", m.version),
                ));
            }
        }
        Ok(())
    }

    /// The bundle path of the binary for `triple`.
    ///
    /// Errors: [`BundleError::MissingTarget`] listing the triples the bundle has.
    pub fn host_binary(&self, triple: &str) -> Result<&str, BundleError> {
        self.runtime
            .targets
            .get(triple)
            .map(String::as_str)
            .ok_or_else(|| BundleError::MissingTarget {
                host: triple.to_string(),
                available: self
                    .runtime
                    .targets
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Whether the bundle carries a frontend (`frontend` is set).
    pub fn has_frontend(&self) -> bool {
        self.frontend.is_some()
    }
}

/// Whether `s` is 1..=`max` ASCII letters, digits or `extra` characters, not starting with `.`.
fn is_plain_segment(s: &str, max: usize, extra: &[char]) -> bool {
    !s.is_empty()
        && s.len() <= max
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

/// The lowercase hex digest of a `"sha256:<hex>"` checksum.
fn parse_checksum(text: &str) -> Option<String> {
    let hex = text.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// Refuses entry names that could leave the install directory or confuse it: empty, absolute,
/// backslashes, drive letters, control characters, `.`/`..` or empty segments. A trailing `/`
/// (a directory entry) is allowed.
fn check_entry_name(name: &str) -> Result<(), &'static str> {
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    if trimmed.is_empty() {
        return Err("is empty");
    }
    if name.len() > 1024 {
        return Err("is longer than 1024 bytes");
    }
    if name.starts_with('/') {
        return Err("is an absolute path");
    }
    if name.contains('\\') {
        return Err("contains a backslash");
    }
    if name.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    if name.as_bytes().get(1) == Some(&b':') {
        return Err("starts with a drive letter");
    }
    for segment in trimmed.split('/') {
        match segment {
            "" => return Err("has an empty path segment"),
            "." | ".." => return Err("has a '.' or '..' segment (path traversal)"),
            _ => {}
        }
    }
    Ok(())
}

/// Where a bundle file goes in the install directory, if it is installed at all.
fn install_target(name: &str, binary: &str, entry: &str, frontend: bool) -> Option<PathBuf> {
    if name == binary {
        return Some(PathBuf::from(entry));
    }
    if frontend && name.starts_with("frontend/") {
        return Some(PathBuf::from(name));
    }
    DOC_FILES.contains(&name).then(|| PathBuf::from(name))
}

fn io_error(path: &Path, source: std::io::Error) -> BundleError {
    BundleError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn zip_error(err: zip::result::ZipError) -> BundleError {
    BundleError::NotAZip(err.to_string())
}

/// One entry as listed in the central directory.
struct Listed {
    index: usize,
    name: String,
    size: u64,
}

/// Opens `bundle`, validates it against this host ([`HOST_TRIPLE`]) and `limits`, verifies
/// every checksum and writes the installed files into `dest` (which must exist and be
/// empty): `<runtime.entry>` (mode 0755), `frontend/…` when the manifest has a frontend,
/// `manifest.json` and any top-level `LICENSE` / `README.md`. Binaries of other targets are
/// verified but not written.
///
/// Rules beyond the manifest's own: every file but `manifest.json` must have a checksum and
/// every checksum must name a file; no symlinks, encrypted or duplicate entries; with a
/// frontend, `frontend/index.html` must exist.
///
/// Errors: a refusal ([`BundleError::is_refusal`]) for anything wrong with the bundle, then
/// `dest` may hold a partial tree (the caller removes it); [`BundleError::Io`] when writing
/// fails.
pub fn unpack(
    bundle: &Path,
    dest: &Path,
    limits: &BundleLimits,
) -> Result<UnpackedBundle, BundleError> {
    unpack_for(bundle, dest, limits, HOST_TRIPLE)
}

/// [`unpack`] for another host triple (tests, and a host that knows better).
///
/// Errors: as [`unpack`].
pub fn unpack_for(
    bundle: &Path,
    dest: &Path,
    limits: &BundleLimits,
    host_triple: &str,
) -> Result<UnpackedBundle, BundleError> {
    let unreadable = |e: std::io::Error| BundleError::Unreadable {
        path: bundle.display().to_string(),
        reason: e.to_string(),
    };
    let file = File::open(bundle).map_err(unreadable)?;
    if file.metadata().map_err(unreadable)?.is_dir() {
        return Err(BundleError::Unreadable {
            path: bundle.display().to_string(),
            reason: "it is a directory".into(),
        });
    }
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_error)?;
    if archive.len() > limits.max_entries {
        return Err(BundleError::TooLarge(format!(
            "{} entries, at most {} allowed",
            archive.len(),
            limits.max_entries
        )));
    }

    // The central directory: names, kinds and declared sizes.
    let mut listed = Vec::with_capacity(archive.len());
    let mut seen = BTreeSet::new();
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(zip_error)?;
        let name = entry
            .name()
            .map_err(|_| BundleError::UnsafeEntry {
                name: String::from_utf8_lossy(entry.name_raw()).into_owned(),
                reason: "the name is not valid UTF-8",
            })?
            .into_owned();
        check_entry_name(&name).map_err(|reason| BundleError::UnsafeEntry {
            name: name.clone(),
            reason,
        })?;
        if entry.is_symlink() {
            return Err(BundleError::UnsafeEntry {
                name,
                reason: "symbolic links are not allowed",
            });
        }
        if entry.encrypted() {
            return Err(BundleError::UnsafeEntry {
                name,
                reason: "encrypted entries are not allowed",
            });
        }
        let key = name.trim_end_matches('/').to_string();
        if !seen.insert(key) {
            return Err(BundleError::UnsafeEntry {
                name,
                reason: "the name appears twice",
            });
        }
        if entry.is_dir() {
            continue;
        }
        declared = declared.saturating_add(entry.size());
        listed.push(Listed {
            index,
            name,
            size: entry.size(),
        });
    }
    if declared > limits.max_unpacked_bytes {
        return Err(BundleError::TooLarge(format!(
            "{declared} bytes unpacked, at most {} allowed",
            limits.max_unpacked_bytes
        )));
    }

    // The manifest.
    let manifest_entry = listed
        .iter()
        .find(|e| e.name == MANIFEST_FILE)
        .ok_or_else(|| BundleError::Manifest("the bundle has no manifest.json".into()))?;
    if manifest_entry.size > limits.max_manifest_bytes {
        return Err(BundleError::TooLarge(format!(
            "manifest.json has {} bytes, at most {} allowed",
            manifest_entry.size, limits.max_manifest_bytes
        )));
    }
    let mut manifest_bytes = Vec::new();
    archive
        .by_index(manifest_entry.index)
        .map_err(zip_error)?
        .take(limits.max_manifest_bytes + 1)
        .read_to_end(&mut manifest_bytes)
        .map_err(|e| BundleError::NotAZip(e.to_string()))?;
    if manifest_bytes.len() as u64 > limits.max_manifest_bytes {
        return Err(BundleError::TooLarge(
            "manifest.json is larger than its header says".into(),
        ));
    }
    let raw_manifest: Value = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| BundleError::Manifest(format!("manifest.json is not JSON: {e}")))?;
    let manifest = BundleManifest::parse(&raw_manifest)?;
    let binary = manifest.host_binary(host_triple)?.to_string();
    let frontend = manifest.has_frontend();
    if frontend && !listed.iter().any(|e| e.name == "frontend/index.html") {
        return Err(BundleError::MissingFile {
            path: "frontend/index.html".into(),
        });
    }

    // Every file: hashed against its checksum, and written when it is installed.
    let mut verified = BTreeSet::new();
    let mut unpacked_bytes: u64 = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    for item in listed.iter().filter(|e| e.name != MANIFEST_FILE) {
        let expected = manifest
            .checksums
            .get(&item.name)
            .and_then(|s| parse_checksum(s))
            .ok_or_else(|| BundleError::Unlisted {
                path: item.name.clone(),
            })?;
        let target = install_target(&item.name, &binary, &manifest.runtime.entry, frontend)
            .map(|relative| dest.join(relative));
        let mut out = match &target {
            Some(path) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
                }
                let file = File::options()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .map_err(|e| io_error(path, e))?;
                Some(std::io::BufWriter::new(file))
            }
            None => None,
        };
        let mut reader = archive.by_index(item.index).map_err(zip_error)?;
        let mut hasher = Sha256::new();
        let mut read: u64 = 0;
        loop {
            let n = reader
                .read(&mut buffer)
                .map_err(|e| BundleError::NotAZip(format!("{}: {e}", item.name)))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            if read > item.size {
                return Err(BundleError::TooLarge(format!(
                    "{} holds more bytes than its header says",
                    item.name
                )));
            }
            hasher.update(&buffer[..n]);
            if let (Some(out), Some(path)) = (out.as_mut(), target.as_ref()) {
                out.write_all(&buffer[..n]).map_err(|e| io_error(path, e))?;
            }
        }
        unpacked_bytes += read;
        let actual = hex(&hasher.finalize());
        if actual != expected {
            return Err(BundleError::ChecksumMismatch {
                path: item.name.clone(),
                expected,
                actual,
            });
        }
        if let (Some(out), Some(path)) = (out, target.as_ref()) {
            let file = out
                .into_inner()
                .map_err(|e| io_error(path, e.into_error()))?;
            file.sync_all().map_err(|e| io_error(path, e))?;
        }
        verified.insert(item.name.as_str());
    }
    if let Some(missing) = manifest
        .checksums
        .keys()
        .find(|path| !verified.contains(path.as_str()))
    {
        return Err(BundleError::MissingFile {
            path: missing.clone(),
        });
    }

    let manifest_path = dest.join(MANIFEST_FILE);
    std::fs::write(&manifest_path, &manifest_bytes).map_err(|e| io_error(&manifest_path, e))?;
    let binary_path = dest.join(&manifest.runtime.entry);
    set_executable(&binary_path)?;
    Ok(UnpackedBundle {
        manifest,
        raw_manifest,
        unpacked_bytes,
    })
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<(), BundleError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io_error(path, e))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> Result<(), BundleError> {
    Ok(())
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_that_could_escape_are_refused() {
        for (name, ok) in [
            ("bin/x86_64-unknown-linux-gnu/demo", true),
            ("frontend/", true),
            ("frontend/assets/app.js", true),
            ("../evil", false),
            ("frontend/../../evil", false),
            ("/etc/passwd", false),
            ("frontend\\..\\evil", false),
            ("C:/evil", false),
            ("a//b", false),
            ("./a", false),
            ("", false),
            ("a\nb", false),
        ] {
            assert_eq!(check_entry_name(name).is_ok(), ok, "{name:?}");
        }
    }

    #[test]
    fn checksums_must_be_sha256_hex() {
        let hex64 = "ab".repeat(32);
        assert_eq!(
            parse_checksum(&format!("sha256:{hex64}")),
            Some(hex64.clone())
        );
        assert_eq!(
            parse_checksum(&format!("sha256:{}", hex64.to_uppercase())),
            Some(hex64.clone())
        );
        assert_eq!(parse_checksum(&format!("md5:{hex64}")), None);
        assert_eq!(parse_checksum("sha256:abc"), None);
        assert_eq!(parse_checksum(&format!("sha256:{}", "zz".repeat(32))), None);
    }

    #[test]
    fn the_host_triple_is_a_full_triple() {
        assert!(HOST_TRIPLE.split('-').count() >= 3, "{HOST_TRIPLE}");
        assert!(
            HOST_TRIPLE.starts_with(std::env::consts::ARCH),
            "{HOST_TRIPLE}"
        );
    }

    #[test]
    fn format_versions_other_than_2_are_refused_with_their_reason() {
        let python = serde_json::json!({"format_version": 1, "plugin": {}, "wheels": {}});
        assert!(matches!(
            BundleManifest::parse(&python),
            Err(BundleError::PythonBundle)
        ));
        let future = serde_json::json!({"format_version": 3});
        assert!(matches!(
            BundleManifest::parse(&future),
            Err(BundleError::UnsupportedFormat(v)) if v == "3"
        ));
        let missing = serde_json::json!({"plugin": {}});
        assert!(matches!(
            BundleManifest::parse(&missing),
            Err(BundleError::Manifest(m)) if m.starts_with("format_version")
        ));
    }
}
