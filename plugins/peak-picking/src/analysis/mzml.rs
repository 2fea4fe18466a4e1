//! Reading an mzML file (plain, indexed, or gzip-compressed) into a [`Run`]: the readable
//! spectra with m/z and intensity arrays, retention time in **seconds**, sorted by retention
//! time.
//!
//! Parsing is done by `mzdata` (`MzMLReaderType`, lazily decoded arrays). Three things are done
//! around it, each for a reason found while reading real files:
//!
//! * **Retention-time units.** `mzdata` converts `scan start time` to *minutes* (`s / 60`,
//!   `ms / 60000`) and treats a value without unit as minutes. The spec wants seconds, with a
//!   unitless value taken as seconds, and the file's values kept exactly. So a light pre-scan of
//!   the bytes reads each spectrum's `scan start time` value and unit (UO:0000010 s,
//!   UO:0000031 min, UO:0000028 ms, none → s) and that is what [`Spectrum::rt_seconds`] holds;
//!   `mzdata`'s value is only a cross-check / fallback.
//! * **`<cvParam ...></cvParam>` pairs.** `mzdata` only understands self-closing parameter
//!   tags; written as open/close pairs they are silently skipped (MS level 0, unnamed arrays).
//!   When the pre-scan finds such pairs, the bytes are rewritten to self-closing tags first.
//! * **Panics.** `mzdata` `expect`s on some malformed values (non-numeric MS level, corrupt zlib
//!   streams, ...). Reading runs under `catch_unwind`, and the pre-scan rejects a non-numeric
//!   scan start time before `mzdata` sees it, so bad input is an [`InputError`], never a crash.
//!
//! Intensities are kept as `f64`, which holds both 32- and 64-bit float arrays exactly.

use std::borrow::Cow;
use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use mzdata::io::DetailLevel;
use mzdata::io::mzml::{MzMLParserError, MzMLParserState, MzMLReaderType};
use mzdata::prelude::ByteArrayView;
use mzdata::spectrum::{ArrayType, MultiLayerSpectrum, SignalContinuity};
use serde::Serialize;

use super::InputError;

/// Largest decompressed size accepted for a gzip-compressed upload (bytes).
pub const MAX_DECOMPRESSED_BYTES: u64 = 8 << 30;

/// How a spectrum's signal is represented, from its `profile spectrum` (MS:1000128) /
/// `centroid spectrum` (MS:1000127) parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataMode {
    /// Continuous profile data (needs centroiding before peak lists make sense).
    Profile,
    /// Discrete peak list (already centroided).
    Centroid,
    /// The file does not say.
    Unknown,
}

/// One readable spectrum: it has an MS level and both an m/z and an intensity array.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// Position of the spectrum in the file (0-based document order), before RT sorting.
    pub index: usize,
    /// The spectrum's native id (`id` attribute), e.g. `controllerType=0 controllerNumber=1 scan=1`.
    pub id: String,
    /// MS level (1 = MS1, 2 = MS/MS, ...), always ≥ 1.
    pub ms_level: u8,
    /// Retention time (`scan start time` of the first scan) in **seconds**; 0 when the file gives
    /// none.
    pub rt_seconds: f64,
    /// Profile / centroid / unknown.
    pub mode: DataMode,
    /// m/z values, ascending (sorted on load if the file's were not), all finite.
    pub mz: Vec<f64>,
    /// Intensities (detector counts) paired with [`Spectrum::mz`], exactly as in the file
    /// (32-bit floats are widened losslessly), all finite.
    pub intensity: Vec<f64>,
}

impl Spectrum {
    /// Total ion current of this spectrum: the sum of its intensities (detector counts).
    pub fn tic(&self) -> f64 {
        self.intensity.iter().sum()
    }
}

/// A whole LC-MS run as read from one mzML file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Run {
    /// The readable spectra, sorted by retention time ascending (stable: spectra with equal RT
    /// keep file order), whatever the order in the file.
    pub spectra: Vec<Spectrum>,
    /// Spectra present in the file but left out because they had no MS level or lacked an
    /// m/z or intensity array.
    pub skipped_spectra: usize,
}

/// Read an mzML file from memory into a [`Run`].
///
/// `bytes` may be plain or indexed mzML, or either compressed with gzip. `field` is the name
/// the caller uses for this input (`"file"` for an upload, `"path"` for a server-side path); it
/// becomes [`InputError::field`] of every error:
/// * `"not an mzML file"` — the content is not (gzipped) mzML;
/// * `"file has no spectra"` — e.g. a chromatogram-only file;
/// * `"no readable spectra"` — every spectrum lacks an MS level or its m/z / intensity arrays;
/// * a message naming the spectrum for malformed content (bad numbers, undecodable arrays,
///   truncated files).
///
/// Retention times are converted to seconds from the file's unit (UO:0000010 s,
/// UO:0000031 min, UO:0000028 ms; unitless → s). Points with a non-finite m/z or intensity
/// are dropped; each spectrum's points are sorted by m/z.
pub fn load_run(bytes: &[u8], field: &str) -> Result<Run, InputError> {
    let decompressed;
    let xml: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        decompressed = gunzip(bytes, field)?;
        &decompressed
    } else {
        bytes
    };
    if !looks_like_mzml(xml) {
        return Err(InputError::new(field, "not an mzML file"));
    }
    let pre = prescan(xml).map_err(|m| InputError::new(field, m))?;
    if pre.spectra.is_empty() {
        return Err(InputError::new(field, "file has no spectra"));
    }
    let normalized;
    let xml: &[u8] = if pre.param_pairs {
        normalized = self_close_param_pairs(xml);
        &normalized
    } else {
        xml
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| read_spectra(xml, &pre, field)));
    let (mut spectra, skipped_spectra) = match outcome {
        Ok(result) => result?,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown error");
            tracing::warn!(error = what, "mzdata panicked while reading an mzML file");
            return Err(InputError::new(
                field,
                format!("the mzML file is malformed and could not be read ({what})"),
            ));
        }
    };
    if spectra.is_empty() {
        return Err(InputError::new(field, "no readable spectra"));
    }
    spectra.sort_by(|a, b| a.rt_seconds.total_cmp(&b.rt_seconds));
    Ok(Run {
        spectra,
        skipped_spectra,
    })
}

fn gunzip(bytes: &[u8], field: &str) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4));
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes).take(MAX_DECOMPRESSED_BYTES + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| InputError::new(field, format!("the gzip data is corrupt: {e}")))?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(InputError::new(
            field,
            format!(
                "the decompressed file is larger than {} GiB",
                MAX_DECOMPRESSED_BYTES >> 30
            ),
        ));
    }
    Ok(out)
}

/// True when the bytes start like an XML document whose root is `<mzML>` or `<indexedmzML>`.
fn looks_like_mzml(xml: &[u8]) -> bool {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let start = match xml.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(i) => i,
        None => return false,
    };
    if xml[start] != b'<' {
        return false;
    }
    // The root element comes after the XML declaration, comments and processing
    // instructions; find the first element start tag.
    let mut pos = start;
    let limit = xml.len().min(start + (1 << 20));
    while pos < limit {
        let Some(off) = find_byte(&xml[pos..limit], b'<') else {
            return false;
        };
        let rest = &xml[pos + off + 1..];
        if rest.starts_with(b"?") || rest.starts_with(b"!") {
            let end = if rest.starts_with(b"!--") {
                find_sub(rest, b"-->")
            } else {
                find_byte(rest, b'>')
            };
            match end {
                Some(e) => pos = pos + off + 1 + e + 1,
                None => return false,
            }
            continue;
        }
        return is_tag(rest, b"mzML") || is_tag(rest, b"indexedmzML");
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Pre-scan: scan start times (exact value + unit) and cvParam pairs
// ---------------------------------------------------------------------------------------------

/// What the byte-level pre-scan learned about one `<spectrum>` element.
#[derive(Debug, Clone, Default)]
struct PreSpectrum {
    /// `id` attribute (raw, for messages).
    id: String,
    /// Scan start time of the first scan, converted to seconds.
    rt_seconds: Option<f64>,
}

#[derive(Debug, Default)]
struct Prescan {
    /// `<spectrum>` elements in document order.
    spectra: Vec<PreSpectrum>,
    /// The file writes parameters as `<cvParam ...></cvParam>` pairs.
    param_pairs: bool,
}

/// Leaf elements that `mzdata` only understands when self-closing.
const LEAF_TAGS: [&[u8]; 6] = [
    b"cvParam",
    b"userParam",
    b"referenceableParamGroupRef",
    b"softwareRef",
    b"sourceFileRef",
    b"sampleRef",
];

fn prescan(xml: &[u8]) -> Result<Prescan, String> {
    let mut out = Prescan::default();
    let mut in_spectrum = false;
    let mut pos = 0;
    while let Some(off) = find_byte(&xml[pos..], b'<') {
        let start = pos + off;
        let rest = &xml[start + 1..];
        pos = start + 1;
        match rest.first() {
            Some(b'!') => {
                if let Some(skip) = skip_markup(rest) {
                    pos += skip;
                }
            }
            Some(b'/') => {
                let name = &rest[1..];
                if is_tag(name, b"spectrum") {
                    in_spectrum = false;
                } else if !out.param_pairs && LEAF_TAGS.iter().any(|t| is_tag(name, t)) {
                    out.param_pairs = true;
                }
            }
            Some(b's') if is_tag(rest, b"spectrum") => {
                let end = tag_end(rest).unwrap_or(rest.len());
                let id = attributes(&rest[..end])
                    .find(|(k, _)| *k == b"id")
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default();
                out.spectra.push(PreSpectrum {
                    id,
                    rt_seconds: None,
                });
                // A self-closing <spectrum/> has no content.
                in_spectrum = !(end > 0 && rest[end - 1] == b'/');
            }
            Some(b'c') if in_spectrum && is_tag(rest, b"cvParam") => {
                let ordinal = out.spectra.len();
                let Some(current) = out.spectra.last_mut() else {
                    continue;
                };
                if current.rt_seconds.is_some() {
                    continue;
                }
                let end = tag_end(rest).unwrap_or(rest.len());
                let tag = &rest[..end];
                if find_sub(tag, b"MS:1000016").is_none()
                    && find_sub(tag, b"scan start time").is_none()
                {
                    continue;
                }
                if let Some(rt) = scan_start_time(tag, ordinal, &current.id)? {
                    current.rt_seconds = Some(rt);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Parse a `cvParam` tag that may be `scan start time`; returns its value in seconds.
fn scan_start_time(tag: &[u8], ordinal: usize, id: &str) -> Result<Option<f64>, String> {
    let mut accession = None;
    let mut name = None;
    let mut value = None;
    let mut unit_accession = None;
    let mut unit_name = None;
    for (k, v) in attributes(tag) {
        match k {
            b"accession" => accession = Some(v),
            b"name" => name = Some(v),
            b"value" => value = Some(v),
            b"unitAccession" => unit_accession = Some(v),
            b"unitName" => unit_name = Some(v),
            _ => {}
        }
    }
    let is_start_time = match accession {
        Some(acc) => acc == b"MS:1000016",
        None => name == Some(b"scan start time".as_slice()),
    };
    if !is_start_time {
        return Ok(None);
    }
    let which = if id.is_empty() {
        format!("spectrum #{ordinal}")
    } else {
        format!("spectrum \"{id}\"")
    };
    let text = String::from_utf8_lossy(value.unwrap_or_default());
    let number: f64 = text
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| {
            format!(
                "{which}: scan start time \"{}\" is not a number",
                text.trim()
            )
        })?;
    let factor = match (unit_accession, unit_name) {
        (Some(b"UO:0000010"), _) => 1.0,
        (Some(b"UO:0000031"), _) => 60.0,
        (Some(b"UO:0000028"), _) => 1e-3,
        (Some(other), _) if !other.is_empty() => {
            return Err(format!(
                "{which}: scan start time unit {} is not supported (use seconds, minutes or milliseconds)",
                String::from_utf8_lossy(other)
            ));
        }
        (_, Some(b"second")) => 1.0,
        (_, Some(b"minute")) => 60.0,
        (_, Some(b"millisecond")) => 1e-3,
        (_, Some(other)) if !other.is_empty() => {
            return Err(format!(
                "{which}: scan start time unit \"{}\" is not supported (use seconds, minutes or milliseconds)",
                String::from_utf8_lossy(other)
            ));
        }
        // No unit: seconds (spec §3 step 2).
        _ => 1.0,
    };
    // Exact for seconds; one rounding for the other units.
    let seconds = if factor == 1e-3 {
        number / 1000.0
    } else {
        number * factor
    };
    Ok(Some(seconds))
}

/// Rewrite `<cvParam ...></cvParam>` (and the other [`LEAF_TAGS`]) as self-closing tags.
fn self_close_param_pairs(xml: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(xml.len());
    let mut copied = 0;
    let mut pos = 0;
    while let Some(off) = find_byte(&xml[pos..], b'<') {
        let start = pos + off;
        let rest = &xml[start + 1..];
        pos = start + 1;
        if rest.first() == Some(&b'!') {
            if let Some(skip) = skip_markup(rest) {
                pos += skip;
            }
            continue;
        }
        let Some(name) = LEAF_TAGS.iter().find(|t| is_tag(rest, t)) else {
            continue;
        };
        let Some(end) = tag_end(rest) else {
            continue;
        };
        if end > 0 && rest[end - 1] == b'/' {
            continue; // already self-closing
        }
        // `rest[end]` is '>'; look for optional whitespace then `</name` ws* `>`.
        let after = start + 1 + end + 1;
        let mut j = after;
        while j < xml.len() && xml[j].is_ascii_whitespace() {
            j += 1;
        }
        let close = &xml[j..];
        if !(close.starts_with(b"</") && close[2..].starts_with(name)) {
            continue;
        }
        let mut k = j + 2 + name.len();
        while k < xml.len() && xml[k].is_ascii_whitespace() {
            k += 1;
        }
        if xml.get(k) != Some(&b'>') {
            continue;
        }
        // Copy everything up to the '>' of the start tag, then "/>", skip the close tag.
        out.extend_from_slice(&xml[copied..start + 1 + end]);
        out.extend_from_slice(b"/>");
        copied = k + 1;
        pos = copied;
    }
    out.extend_from_slice(&xml[copied..]);
    out
}

/// `rest` starts right after '<'; true if the element name is exactly `name`.
fn is_tag(rest: &[u8], name: &[u8]) -> bool {
    rest.starts_with(name)
        && matches!(
            rest.get(name.len()),
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')
        )
}

/// Index of the '>' closing the tag that `rest` (after '<') starts, skipping quoted values.
fn tag_end(rest: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in rest.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(i),
            None => {}
        }
    }
    None
}

/// For `rest` starting with '!' (after '<'): number of bytes to skip past a comment, CDATA
/// section or declaration.
fn skip_markup(rest: &[u8]) -> Option<usize> {
    let (close, from): (&[u8], usize) = if rest.starts_with(b"!--") {
        (b"-->", 3)
    } else if rest.starts_with(b"![CDATA[") {
        (b"]]>", 8)
    } else {
        (b">", 1)
    };
    find_sub(&rest[from..], close).map(|e| from + e + close.len())
}

/// The `name="value"` pairs of a start tag (`tag` = bytes after '<' up to '>').
fn attributes(tag: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut i = tag
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(tag.len());
    std::iter::from_fn(move || {
        loop {
            while i < tag.len() && tag[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= tag.len() || tag[i] == b'/' || tag[i] == b'>' {
                return None;
            }
            let key_start = i;
            while i < tag.len() && tag[i] != b'=' && !tag[i].is_ascii_whitespace() {
                i += 1;
            }
            let key = &tag[key_start..i];
            while i < tag.len() && tag[i].is_ascii_whitespace() {
                i += 1;
            }
            if tag.get(i) != Some(&b'=') {
                // Attribute without value: malformed, skip it.
                i += 1;
                continue;
            }
            i += 1;
            while i < tag.len() && tag[i].is_ascii_whitespace() {
                i += 1;
            }
            let quote = *tag.get(i)?;
            if quote != b'"' && quote != b'\'' {
                return None;
            }
            i += 1;
            let value_start = i;
            while i < tag.len() && tag[i] != quote {
                i += 1;
            }
            let value = &tag[value_start..i.min(tag.len())];
            i += 1;
            return Some((key, value));
        }
    })
}

/// Position of the first `needle` in `hay`. Word-at-a-time (SWAR) scan: the pre-scan walks
/// the whole file, mostly base64 without any '<', so this is the hot loop of loading.
fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    // Lowest set bit marks the first byte equal to `needle` (little-endian word).
    let hits = |word: u64| {
        let x = word ^ pattern;
        x.wrapping_sub(LO) & !x & HI
    };
    let mut offset = 0;
    let mut chunks = hay.chunks_exact(16);
    for chunk in &mut chunks {
        let (Some(a), Some(b)) = (chunk.first_chunk::<8>(), chunk.last_chunk::<8>()) else {
            break;
        };
        let (ha, hb) = (hits(u64::from_le_bytes(*a)), hits(u64::from_le_bytes(*b)));
        if ha != 0 {
            return Some(offset + (ha.trailing_zeros() / 8) as usize);
        }
        if hb != 0 {
            return Some(offset + 8 + (hb.trailing_zeros() / 8) as usize);
        }
        offset += 16;
    }
    hay[offset..]
        .iter()
        .position(|&b| b == needle)
        .map(|p| offset + p)
}

fn find_sub(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut pos = 0;
    while let Some(off) = find_byte(&hay[pos..hay.len() - needle.len() + 1], first) {
        let at = pos + off;
        if &hay[at..at + needle.len()] == needle {
            return Some(at);
        }
        pos = at + 1;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// mzdata
// ---------------------------------------------------------------------------------------------

fn read_spectra(
    xml: &[u8],
    pre: &Prescan,
    field: &str,
) -> Result<(Vec<Spectrum>, usize), InputError> {
    let mut reader: MzMLReaderType<Cursor<&[u8]>> =
        MzMLReaderType::with_buffer_capacity_and_detail_level(
            Cursor::new(xml),
            1 << 16,
            DetailLevel::Lazy,
        );
    let mut spectra = Vec::with_capacity(pre.spectra.len());
    let mut skipped = 0;
    let mut position = 0usize;
    while reader.state < MzMLParserState::SpectrumListDone {
        let mut raw = MultiLayerSpectrum::default();
        match reader.read_into(&mut raw) {
            Ok(_) if reader.state == MzMLParserState::SpectrumDone => {}
            Ok(_) | Err(MzMLParserError::EOF) => break,
            Err(e) => {
                if position >= pre.spectra.len() {
                    break;
                }
                return Err(InputError::new(
                    field,
                    format!(
                        "the mzML file is malformed at spectrum {} of {}: {e}",
                        position + 1,
                        pre.spectra.len()
                    ),
                ));
            }
        }
        // Exact retention time from the pre-scan when it lines up with mzdata's spectrum.
        let pre_rt = pre.spectra.get(position).and_then(|p| p.rt_seconds);
        match convert(raw, position, pre_rt, field)? {
            Some(s) => spectra.push(s),
            None => skipped += 1,
        }
        position += 1;
    }
    if position < pre.spectra.len() {
        return Err(InputError::new(
            field,
            format!(
                "the mzML file is truncated or malformed: read {position} of {} spectra",
                pre.spectra.len()
            ),
        ));
    }
    Ok((spectra, skipped))
}

/// Turn one mzdata spectrum into a [`Spectrum`]; `None` when it has no MS level or arrays.
fn convert(
    raw: MultiLayerSpectrum,
    position: usize,
    pre_rt: Option<f64>,
    field: &str,
) -> Result<Option<Spectrum>, InputError> {
    let desc = raw.description;
    if desc.ms_level == 0 {
        return Ok(None);
    }
    let Some(arrays) = raw.arrays.as_ref() else {
        return Ok(None);
    };
    let (Some(mz_array), Some(int_array)) = (
        arrays.get(&ArrayType::MZArray),
        arrays.get(&ArrayType::IntensityArray),
    ) else {
        return Ok(None);
    };
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        InputError::new(
            field,
            format!(
                "spectrum \"{}\": the {what} array could not be decoded ({e})",
                desc.id
            ),
        )
    };
    let mz = mz_array.to_f64().map_err(|e| bad("m/z", &e))?;
    let intensity = int_array.to_f64().map_err(|e| bad("intensity", &e))?;
    if mz.len() != intensity.len() {
        return Err(InputError::new(
            field,
            format!(
                "spectrum \"{}\": the m/z array has {} values but the intensity array has {}",
                desc.id,
                mz.len(),
                intensity.len()
            ),
        ));
    }
    let (mz, intensity) = clean_points(mz, intensity);

    // mzdata's start time is in minutes (and a unitless value is passed through as is).
    let mzdata_minutes = desc.acquisition.start_time();
    let rt_seconds = match pre_rt {
        Some(rt) if agrees(rt, mzdata_minutes) => rt,
        Some(rt) => {
            tracing::warn!(
                spectrum = %desc.id,
                prescan_seconds = rt,
                mzdata_minutes,
                "scan start time pre-scan disagrees with mzdata; using mzdata's value"
            );
            mzdata_minutes * 60.0
        }
        None => mzdata_minutes * 60.0,
    };
    let mode = match desc.signal_continuity {
        SignalContinuity::Profile => DataMode::Profile,
        SignalContinuity::Centroid => DataMode::Centroid,
        _ => DataMode::Unknown,
    };
    Ok(Some(Spectrum {
        index: position,
        id: desc.id,
        ms_level: desc.ms_level,
        rt_seconds,
        mode,
        mz,
        intensity,
    }))
}

/// Does the pre-scanned RT (s) agree with mzdata's start time (min, or unitless pass-through)?
fn agrees(seconds: f64, mzdata_value: f64) -> bool {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
    close(seconds, mzdata_value * 60.0) || close(seconds, mzdata_value)
}

/// Drop non-finite points and sort by m/z; copies only when needed.
fn clean_points(mz: Cow<'_, [f64]>, intensity: Cow<'_, [f64]>) -> (Vec<f64>, Vec<f64>) {
    let all_finite = mz.iter().all(|v| v.is_finite()) && intensity.iter().all(|v| v.is_finite());
    let sorted = mz.is_sorted();
    if all_finite && sorted {
        return (mz.into_owned(), intensity.into_owned());
    }
    let mut pairs: Vec<(f64, f64)> = mz
        .iter()
        .zip(intensity.iter())
        .filter(|(m, i)| m.is_finite() && i.is_finite())
        .map(|(&m, &i)| (m, i))
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    pairs.into_iter().unzip()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    pub(crate) const HILIC: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/data/HILICNeg15_StdH1.mzML"
    );
    pub(crate) const SMALL: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/data/small.mzML"
    );
    pub(crate) const THREE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/data/three_test_scans.mzML"
    );
    pub(crate) const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data");

    pub(crate) fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read test data {path}: {e}"))
    }

    fn text(path: &str) -> String {
        String::from_utf8(read(path)).expect("test data is UTF-8")
    }

    /// The HILIC run, loaded once for all tests of the crate.
    pub(crate) fn hilic_run() -> &'static Run {
        static RUN: OnceLock<Run> = OnceLock::new();
        RUN.get_or_init(|| load_run(&read(HILIC), "file").expect("HILIC loads"))
    }

    pub(crate) fn load(path: &str) -> Run {
        load_run(&read(path), "file").unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn err_message(bytes: &[u8]) -> InputError {
        match load_run(bytes, "file") {
            Ok(run) => panic!("expected an error, got {} spectra", run.spectra.len()),
            Err(e) => e,
        }
    }

    /// Rewrite the value and unit of every `scan start time` cvParam with `f`.
    fn rewrite_scan_times(xml: &str, f: impl Fn(&str) -> String) -> String {
        let marker = "name=\"scan start time\"";
        let mut out = String::with_capacity(xml.len());
        let mut rest = xml;
        while let Some(at) = rest.find(marker) {
            let tag_start = rest[..at].rfind('<').expect("tag start");
            let tag_end = at + rest[at..].find("/>").expect("self-closing scan start time");
            out.push_str(&rest[..tag_start]);
            out.push_str(&f(&rest[tag_start..tag_end + 2]));
            rest = &rest[tag_end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
        let key = format!(" {name}=\"");
        let at = tag.find(&key).expect("attribute") + key.len();
        let end = at + tag[at..].find('"').expect("closing quote");
        &tag[at..end]
    }

    fn with_unit(value: String, accession: &str, unit_name: &str) -> String {
        format!(
            "<cvParam cvRef=\"MS\" accession=\"MS:1000016\" name=\"scan start time\" value=\"{value}\" unitCvRef=\"UO\" unitAccession=\"{accession}\" unitName=\"{unit_name}\"/>"
        )
    }

    #[test]
    fn hilic_file_loads_all_centroid_ms1_scans_with_rt_in_seconds() {
        let run = hilic_run();
        assert_eq!(run.spectra.len(), 1199);
        assert_eq!(run.skipped_spectra, 0);
        assert!(run.spectra.iter().all(|s| s.ms_level == 1));
        assert!(run.spectra.iter().all(|s| s.mode == DataMode::Centroid));
        // The file says scan 1 is at 0.203238 s; the value must be kept exactly.
        let first = &run.spectra[0];
        assert_eq!(first.id, "controllerType=0 controllerNumber=1 scan=1");
        assert_eq!(first.rt_seconds, 0.203238);
        // The last scan start time in the file (seconds), kept exactly.
        let xml = text(HILIC);
        let at = xml.rfind("name=\"scan start time\"").expect("scan time");
        let tag_start = xml[..at].rfind('<').expect("tag");
        let tag_end = at + xml[at..].find("/>").expect("end");
        let last_value: f64 = attr(&xml[tag_start..tag_end], "value")
            .parse()
            .expect("number");
        let last = run.spectra.last().expect("spectra");
        assert_eq!(last.rt_seconds, last_value);
        assert!(
            last.rt_seconds > 700.0 && last.rt_seconds < 730.0,
            "about 12 min"
        );
        assert!(
            run.spectra
                .windows(2)
                .all(|w| w[0].rt_seconds <= w[1].rt_seconds)
        );
        assert!(run.spectra.iter().all(|s| s.mz.is_sorted()));
        assert!(run.spectra.iter().all(|s| s.mz.len() == s.intensity.len()));
        // First spectrum: defaultArrayLength="1248"; intensities are 32-bit floats, kept
        // exactly; the base peak is the file's "base peak m/z" 100.9339134 with
        // "base peak intensity" 4.1090308e06.
        assert_eq!(first.mz.len(), 1248);
        assert!(first.intensity.iter().all(|&v| f64::from(v as f32) == v));
        let k = (0..first.mz.len())
            .max_by(|&a, &b| first.intensity[a].total_cmp(&first.intensity[b]))
            .expect("points");
        assert!((first.mz[k] - 100.9339134).abs() < 1e-6, "{}", first.mz[k]);
        assert!(
            (first.intensity[k] - 4.1090308e6).abs() < 1.0,
            "{}",
            first.intensity[k]
        );
    }

    #[test]
    fn minute_unit_files_are_converted_to_seconds() {
        // small.mzML writes scan start time in minutes (UO:0000031).
        let xml = text(SMALL);
        let first_value: f64 = {
            let at = xml.find("name=\"scan start time\"").expect("has scan time");
            let tag_start = xml[..at].rfind('<').expect("tag");
            let tag_end = at + xml[at..].find("/>").expect("end");
            attr(&xml[tag_start..tag_end], "value")
                .parse()
                .expect("number")
        };
        let run = load(SMALL);
        let by_index = run
            .spectra
            .iter()
            .find(|s| s.index == 0)
            .expect("first spectrum");
        assert_eq!(by_index.rt_seconds, first_value * 60.0);
        assert_eq!(run.spectra.len(), 48);
    }

    #[test]
    fn rt_unit_seconds_minutes_milliseconds_and_unitless_give_the_same_rts() {
        let xml = text(HILIC);
        let reference = hilic_run();
        let variants: Vec<(&str, String)> = vec![
            (
                "min",
                rewrite_scan_times(&xml, |tag| {
                    let v: f64 = attr(tag, "value").parse().expect("number");
                    with_unit(format!("{}", v / 60.0), "UO:0000031", "minute")
                }),
            ),
            (
                "ms",
                rewrite_scan_times(&xml, |tag| {
                    let v: f64 = attr(tag, "value").parse().expect("number");
                    with_unit(format!("{}", v * 1000.0), "UO:0000028", "millisecond")
                }),
            ),
            (
                "unitless",
                rewrite_scan_times(&xml, |tag| {
                    format!(
                        "<cvParam cvRef=\"MS\" accession=\"MS:1000016\" name=\"scan start time\" value=\"{}\"/>",
                        attr(tag, "value")
                    )
                }),
            ),
        ];
        for (unit, variant) in variants {
            assert_ne!(variant, xml, "{unit}: rewrite changed nothing");
            let run = load_run(variant.as_bytes(), "file").expect(unit);
            assert_eq!(run.spectra.len(), reference.spectra.len(), "{unit}");
            for (a, b) in run.spectra.iter().zip(&reference.spectra) {
                assert_eq!(a.id, b.id, "{unit}");
                assert!(
                    (a.rt_seconds - b.rt_seconds).abs() <= 1e-9 * b.rt_seconds.max(1.0),
                    "{unit}: {} vs {}",
                    a.rt_seconds,
                    b.rt_seconds
                );
                assert_eq!(a.intensity, b.intensity, "{unit}");
            }
        }
    }

    #[test]
    fn spectra_out_of_file_order_are_sorted_by_rt() {
        // Reverse the order of the <spectrum> elements of small.mzML.
        let xml = text(SMALL);
        let list_start = xml.find("<spectrum ").expect("first spectrum");
        let list_end = xml.find("</spectrumList>").expect("list end");
        let body = &xml[list_start..list_end];
        let mut blocks: Vec<&str> = body
            .split_inclusive("</spectrum>")
            .filter(|b| b.contains("<spectrum "))
            .collect();
        assert_eq!(blocks.len(), 48);
        blocks.reverse();
        let reversed = format!(
            "{}{}\n      {}",
            &xml[..list_start],
            blocks.concat(),
            &xml[list_end..]
        );
        let sorted = load(SMALL);
        let shuffled = load_run(reversed.as_bytes(), "file").expect("reversed file loads");
        assert_eq!(shuffled.spectra.len(), sorted.spectra.len());
        for (a, b) in shuffled.spectra.iter().zip(&sorted.spectra) {
            assert_eq!(a.id, b.id);
            assert_eq!(a.rt_seconds, b.rt_seconds);
            assert_eq!(a.mz, b.mz);
            assert_eq!(a.intensity, b.intensity);
            assert_eq!(a.index, 47 - b.index, "index is the position in the file");
        }
    }

    #[test]
    fn gzip_compressed_mzml_reads_like_the_plain_file() {
        use std::io::Write;
        let plain = read(THREE);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&plain).expect("gzip");
        let gz = enc.finish().expect("gzip");
        assert_eq!(load_run(&gz, "file").expect("gz loads"), load(THREE));
    }

    #[test]
    fn param_pairs_instead_of_self_closing_tags_read_like_the_original() {
        let xml = text(THREE);
        let mut paired = String::with_capacity(xml.len() + 10_000);
        let mut rest = xml.as_str();
        let mut n = 0;
        while let Some(at) = rest.find("<cvParam ") {
            let end = at + rest[at..].find("/>").expect("self-closing");
            paired.push_str(&rest[..end]);
            paired.push_str("></cvParam>");
            rest = &rest[end + 2..];
            n += 1;
        }
        paired.push_str(rest);
        assert!(n > 30, "only {n} cvParams rewritten");

        let original = load(THREE);
        let from_pairs = load_run(paired.as_bytes(), "file").expect("pairs are read");
        assert_eq!(from_pairs, original);
        assert!(
            from_pairs
                .spectra
                .iter()
                .all(|s| s.ms_level >= 1 && !s.mz.is_empty())
        );
        assert!(
            from_pairs
                .spectra
                .iter()
                .all(|s| s.mode == DataMode::Profile)
        );

        // Whitespace between the tags is fine too.
        let spaced = paired.replace("></cvParam>", ">\n   </cvParam >");
        assert_eq!(
            load_run(spaced.as_bytes(), "file").expect("spaced"),
            original
        );
    }

    #[test]
    fn plain_mzdata_misreads_param_pairs_so_normalisation_is_needed() {
        // Documents the mzdata behaviour that the rewrite works around.
        let xml = text(THREE).replace("\"/>", "\"></cvParam>");
        let mut reader: MzMLReaderType<Cursor<&[u8]>> =
            MzMLReaderType::new(Cursor::new(xml.as_bytes()));
        let mut raw = MultiLayerSpectrum::default();
        reader.read_into(&mut raw).expect("reads something");
        assert_eq!(raw.description.ms_level, 0);
    }

    #[test]
    fn garbage_and_empty_input_is_not_an_mzml_file() {
        for bytes in [
            &b""[..],
            b"   \n",
            b"hello world",
            b"\x00\x01\x02\x03binary",
            b"<?xml version=\"1.0\"?><html><body/></html>",
            b"peak_label,mz_mean\nA,100\n",
            b"{\"json\": true}",
        ] {
            let e = err_message(bytes);
            assert_eq!(e.field, "file");
            assert_eq!(
                e.message,
                "not an mzML file",
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // mzXML is XML but not mzML.
        let e = err_message(b"<?xml version=\"1.0\"?>\n<mzXML xmlns=\"x\"><msRun/></mzXML>");
        assert_eq!(e.message, "not an mzML file");
        // The field name is the caller's.
        assert_eq!(load_run(b"nope", "path").expect_err("error").field, "path");
    }

    #[test]
    fn corrupt_gzip_is_a_clear_error() {
        let e = err_message(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]);
        assert_eq!(e.field, "file");
        assert!(e.message.contains("gzip"), "{}", e.message);
    }

    #[test]
    fn chromatogram_only_file_has_no_spectra() {
        let xml = text(THREE);
        let start = xml.find("<spectrumList").expect("list");
        let end = xml.find("</spectrumList>").expect("end") + "</spectrumList>".len();
        let chrom_only = format!("{}{}", &xml[..start], &xml[end..]);
        assert!(chrom_only.contains("<chromatogram "));
        let e = err_message(chrom_only.as_bytes());
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("file", "file has no spectra")
        );

        let empty_list = format!(
            "{}<spectrumList count=\"0\"></spectrumList>{}",
            &xml[..start],
            &xml[end..]
        );
        let e = err_message(empty_list.as_bytes());
        assert_eq!(e.message, "file has no spectra");
    }

    #[test]
    fn spectra_without_ms_level_or_arrays_are_no_readable_spectra() {
        let xml = text(THREE);
        let no_level = xml
            .replace("name=\"ms level\"", "name=\"something else\"")
            .replace("MS:1000511", "MS:0000000");
        let e = err_message(no_level.as_bytes());
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("file", "no readable spectra")
        );

        let mut no_arrays = String::new();
        let mut rest = xml.as_str();
        while let Some(at) = rest.find("<binaryDataArrayList") {
            let end = at
                + rest[at..].find("</binaryDataArrayList>").expect("end")
                + "</binaryDataArrayList>".len();
            no_arrays.push_str(&rest[..at]);
            rest = &rest[end..];
        }
        no_arrays.push_str(rest);
        let e = err_message(no_arrays.as_bytes());
        assert_eq!(e.message, "no readable spectra");
    }

    #[test]
    fn truncated_file_is_an_error_not_a_shorter_run() {
        let bytes = read(SMALL);
        let cut = &bytes[..bytes.len() / 2];
        let e = err_message(cut);
        assert_eq!(e.field, "file");
        assert!(
            e.message.contains("truncated") || e.message.contains("malformed"),
            "{}",
            e.message
        );
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        let xml = text(THREE);
        // Non-numeric scan start time (mzdata itself would panic on this).
        let bad_time = rewrite_scan_times(&xml, |_| {
            "<cvParam cvRef=\"MS\" accession=\"MS:1000016\" name=\"scan start time\" value=\"soon\" unitAccession=\"UO:0000031\"/>".to_string()
        });
        let e = err_message(bad_time.as_bytes());
        assert!(
            e.message
                .contains("scan start time \"soon\" is not a number"),
            "{}",
            e.message
        );

        // Unknown time unit.
        let bad_unit = rewrite_scan_times(&xml, |_| {
            "<cvParam cvRef=\"MS\" accession=\"MS:1000016\" name=\"scan start time\" value=\"1\" unitAccession=\"UO:0000033\" unitName=\"day\"/>".to_string()
        });
        let e = err_message(bad_unit.as_bytes());
        assert!(e.message.contains("not supported"), "{}", e.message);

        // Non-numeric MS level (mzdata `expect`s on it).
        let bad_level = xml.replace(
            "name=\"ms level\" value=\"1\"",
            "name=\"ms level\" value=\"one\"",
        );
        assert_ne!(bad_level, xml);
        let e = err_message(bad_level.as_bytes());
        assert_eq!(e.field, "file");

        // Corrupt base64 / zlib in a binary array.
        let start = xml.find("<binary>").expect("binary") + "<binary>".len();
        let corrupt = format!("{}!!!!{}", &xml[..start], &xml[start + 4..]);
        let e = err_message(corrupt.as_bytes());
        assert!(
            e.message.contains("could not be decoded") || e.message.contains("malformed"),
            "{}",
            e.message
        );
    }

    #[test]
    fn all_example_files_load() {
        for name in [
            "testdata.mzml",
            "peakpicker_tutorial_2.mzML",
            "small.mzML",
            "three_test_scans.mzML",
        ] {
            let path = format!("{EXAMPLES}/{name}");
            let run = load_run(&read(&path), "file").unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!run.spectra.is_empty(), "{name}");
            assert!(run.spectra.iter().all(|s| s.ms_level >= 1), "{name}");
        }
    }

    #[test]
    fn find_byte_agrees_with_a_plain_search() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for start in 0..40 {
            for needle in [0u8, 1, b'<', 0x80, 0xff, 200, 250] {
                let hay = &data[start..];
                assert_eq!(
                    find_byte(hay, needle),
                    hay.iter().position(|&b| b == needle),
                    "start {start} needle {needle}"
                );
            }
        }
        assert_eq!(find_byte(b"", b'<'), None);
        assert_eq!(find_byte(b"aaaaaaaaaaaaaaaaaaaaaaaaa<", b'<'), Some(25));
        assert_eq!(find_byte(b"\x80\x80\x80<", b'<'), Some(3));
    }

    #[test]
    fn param_pair_rewrite_leaves_other_elements_alone() {
        let xml = b"<a><cvParam x=\"1>2\"></cvParam><cvParam y=\"2\"/><userParam z='3'>\n</userParam><binary></binary><cvParam q=\"1\">text</cvParam></a>";
        let out = self_close_param_pairs(xml);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "<a><cvParam x=\"1>2\"/><cvParam y=\"2\"/><userParam z='3'/><binary></binary><cvParam q=\"1\">text</cvParam></a>"
        );
    }
}
